/// Splits and validates `host[:port]` from a Host header or an absolute-form authority (RFC 9110 §7.2).
enum HostValue {
    static func split(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTPParseError) -> (Range<Int>, Int?) {
        guard !range.isEmpty else { throw .invalidHost }
        var hostEnd = range.upperBound
        if raw[range.lowerBound] == UInt8(ascii: "[") {
            // IP-literal: hex digits, colons and dots inside brackets.
            var i = range.lowerBound + 1
            while i < range.upperBound && raw[i] != UInt8(ascii: "]") {
                let byte = raw[i]
                guard ASCII.hexValue(byte) >= 0 || byte == ASCII.colon || byte == UInt8(ascii: ".") else {
                    throw .invalidHost
                }
                i += 1
            }
            guard i < range.upperBound else { throw .invalidHost }
            hostEnd = i + 1
        } else {
            var i = range.lowerBound
            while i < range.upperBound && raw[i] != ASCII.colon {
                guard isRegName[Int(raw[i])] else { throw .invalidHost }
                i += 1
            }
            hostEnd = i
            guard hostEnd > range.lowerBound else { throw .invalidHost }
        }
        if hostEnd == range.upperBound { return (range.lowerBound..<hostEnd, nil) }
        guard raw[hostEnd] == ASCII.colon else { throw .invalidHost }
        let digits = (hostEnd + 1)..<range.upperBound
        if digits.isEmpty { return (range.lowerBound..<hostEnd, nil) }
        guard digits.count <= 5 else { throw .invalidHost }
        var port = 0
        for i in digits {
            let digit = Int(raw[i]) - 48
            guard digit >= 0 && digit <= 9 else { throw .invalidHost }
            port = port * 10 + digit
        }
        guard port <= 65535 else { throw .invalidHost }
        return (range.lowerBound..<hostEnd, port)
    }

    /// reg-name: unreserved / pct-encoded / sub-delims (RFC 3986 §3.2.2).
    private static let isRegName: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = true }
        for char in "-._~%!$&'()*+,;=".utf8 { table[Int(char)] = true }
        return table
    }()
}
