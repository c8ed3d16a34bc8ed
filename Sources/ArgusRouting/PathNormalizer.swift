/// Kong's normalisation of the request path before routing (`kong.tools.uri.normalize(path, true)`).
public enum PathNormalizer {
    /// Kong's normalisation of the request path before matching: percent-decode unreserved characters only
    /// (keep others encoded, upper-case the hex of those kept), resolve dot-segments, merge duplicate slashes.
    /// Returns nil for a path that is not origin-form or has invalid percent-encoding (the proxy answers 400).
    ///
    /// Precisely, as Kong: every `%XX` whose byte is not one of the RFC 3986 reserved characters
    /// `!*'();:@&=+$,/?%#[]` is decoded (unreserved ones, and also "other" bytes such as space or
    /// UTF-8 sequences, which `UpstreamPath.escape` re-encodes on the way out); reserved ones stay
    /// encoded with upper-case hex (`%2f` → `%2F`). Decoding happens once, before dot-segment removal,
    /// so `%2E%2E` acts as `..`. Percent-encoded bytes that would not form valid UTF-8 stay encoded
    /// (Swift strings cannot hold them; Kong would pass the raw bytes).
    public static func normalize(_ rawPath: Substring) -> String? {
        let utf8 = rawPath.utf8
        guard utf8.first == .slash else { return nil }
        var needsWork = false
        var previous: UInt8 = 0
        for byte in utf8 {
            if byte == .percent || byte == .dot || (byte == .slash && previous == .slash) {
                needsWork = true
                break
            }
            previous = byte
        }
        if !needsWork { return String(rawPath) }

        guard var decoded = percentDecode(utf8, decodeNonASCII: true) else { return nil }
        if String(validating: decoded, as: UTF8.self) == nil {
            // A decoded byte sequence is not UTF-8: keep the bytes >= 0x80 percent-encoded.
            guard let asciiOnly = percentDecode(utf8, decodeNonASCII: false) else { return nil }
            decoded = asciiOnly
        }
        return String(decoding: removeDotSegments(decoded), as: UTF8.self)
    }

    /// Single-pass decoding of `%XX` triplets; nil when a `%` is not followed by two hex digits.
    private static func percentDecode(_ input: Substring.UTF8View, decodeNonASCII: Bool) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = input.startIndex
        while index != input.endIndex {
            let byte = input[index]
            input.formIndex(after: &index)
            guard byte == .percent else {
                output.append(byte)
                continue
            }
            guard index != input.endIndex, let high = hexValue(input[index]) else { return nil }
            input.formIndex(after: &index)
            guard index != input.endIndex, let low = hexValue(input[index]) else { return nil }
            input.formIndex(after: &index)
            let value = high << 4 | low
            if isReserved(value) || (value >= 0x80 && !decodeNonASCII) {
                output.append(.percent)
                output.append(hexDigit(high))
                output.append(hexDigit(low))
            } else {
                output.append(value)
            }
        }
        return output
    }

    /// Kong's dot-segment removal with slash merging. The input starts with `/`, and so does every
    /// remainder the loop looks at; the output is the concatenation of the kept `/segment`s.
    private static func removeDotSegments(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var segmentStarts: [Int] = []
        let count = input.count
        var index = 0

        func at(_ offset: Int) -> UInt8 {
            index + offset < count ? input[index + offset] : 0
        }
        func popSegment() {
            if let start = segmentStarts.popLast() { output.removeSubrange(start...) }
        }

        while index < count {
            let remaining = count - index
            if remaining == 2 && at(1) == .dot {  // "/." → "/"
                segmentStarts.append(output.count)
                output.append(.slash)
                break
            } else if remaining == 3 && at(1) == .dot && at(2) == .dot {  // "/.." → "/" after popping
                popSegment()
                segmentStarts.append(output.count)
                output.append(.slash)
                break
            } else if at(1) == .dot && at(2) == .slash {  // "/./"
                index += 2
            } else if at(1) == .dot && at(2) == .dot && at(3) == .slash {  // "/../"
                index += 3
                popSegment()
            } else if at(1) == .slash {  // "//"
                index += 1
            } else {
                var end = index + 1
                while end < count && input[end] != .slash { end += 1 }
                segmentStarts.append(output.count)
                output.append(contentsOf: input[index..<end])
                index = end
            }
        }
        return output
    }

    /// RFC 3986 reserved characters, plus `%` itself: Kong never decodes these.
    static func isReserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "*"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "&"), UInt8(ascii: "="),
            UInt8(ascii: "+"), UInt8(ascii: "$"), UInt8(ascii: ","), UInt8(ascii: "/"), UInt8(ascii: "?"),
            UInt8(ascii: "%"), UInt8(ascii: "#"), UInt8(ascii: "["), UInt8(ascii: "]"):
            return true
        default:
            return false
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Upper-case hex digit for a value 0...15.
    static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }
}

extension UInt8 {
    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")
    static let percent = UInt8(ascii: "%")
    static let asterisk = UInt8(ascii: "*")
    static let colon = UInt8(ascii: ":")
}
