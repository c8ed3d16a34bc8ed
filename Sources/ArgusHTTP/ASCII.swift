/// Byte classes of RFC 9110/9112 used by the parsers, as 256-entry lookup tables.
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58
    static let semicolon: UInt8 = 59

    /// `tchar` of RFC 9110 §5.6.2.
    static let isToken: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = true }
        for char in "!#$%&'*+-.^_`|~".utf8 { table[Int(char)] = true }
        return table
    }()

    /// Bytes allowed inside a field value: HTAB, SP, VCHAR, obs-text (no NUL, CR, LF, other controls, DEL).
    static let isFieldValue: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        table[9] = true
        for byte in 32...126 { table[byte] = true }
        for byte in 128...255 { table[byte] = true }
        return table
    }()

    /// Bytes allowed in a request-target: VCHAR and obs-text, no SP or controls.
    static let isTarget: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in 33...126 { table[byte] = true }
        for byte in 128...255 { table[byte] = true }
        return table
    }()

    static let hexValue: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, byte) in (UInt8(ascii: "0")...UInt8(ascii: "9")).enumerated() { table[Int(byte)] = Int8(i) }
        for (i, byte) in (UInt8(ascii: "a")...UInt8(ascii: "f")).enumerated() { table[Int(byte)] = Int8(10 + i) }
        for (i, byte) in (UInt8(ascii: "A")...UInt8(ascii: "F")).enumerated() { table[Int(byte)] = Int8(10 + i) }
        return table
    }()

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
    }

    /// Case-insensitive comparison of `length` bytes at `start` with a lower-case ASCII literal.
    @inline(__always)
    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ literal: StaticString) -> Bool {
        guard literal.utf8CodeUnitCount == length else { return false }
        let lit = literal.utf8Start
        for i in 0..<length where lower(bytes[start + i]) != lit[i] {
            return false
        }
        return true
    }
}
