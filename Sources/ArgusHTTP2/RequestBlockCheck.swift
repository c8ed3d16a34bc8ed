import NIOHPACK

/// The checks RFC 9113 §8.1–8.3 asks of a request's header block (and of trailers) before the
/// request is taken: pseudo-header fields first, each once, only the request ones, the required
/// ones present; names in lower case and made of token characters; no connection-specific field;
/// `te` only as `trailers`; no NUL, CR or LF in a value; one `content-length`, a number. A block
/// that fails is a malformed request: the stream is reset with PROTOCOL_ERROR. Pure.
enum RequestBlockCheck {
    typealias Malformed = RequestSynthesizer.Malformed

    /// Checks a request's block; returns its `content-length`, if it has one.
    static func request(_ headers: HPACKHeaders) throws(Malformed) -> Int? {
        var seen: UInt8 = 0  // bits: method, scheme, path, authority
        var regular = false
        var method: String?
        var contentLength: Int?
        for (name, value, _) in headers {
            if name.utf8.first == UInt8(ascii: ":") {
                guard !regular else { throw Malformed(reason: "pseudo-header \(name) after a regular field") }
                let bit: UInt8
                switch name {
                case ":method":
                    bit = 1
                    method = value
                case ":scheme": bit = 2
                case ":path": bit = 4
                case ":authority": bit = 8
                default: throw Malformed(reason: "pseudo-header \(name) is not a request's")
                }
                guard seen & bit == 0 else { throw Malformed(reason: "\(name) twice") }
                seen |= bit
            } else {
                regular = true
                try field(name, value)
                if name == "content-length" {
                    guard let length = digits(value), contentLength == nil || contentLength == length else {
                        throw Malformed(reason: "invalid content-length")
                    }
                    contentLength = length
                }
            }
            guard isValue(value) else { throw Malformed(reason: "invalid value of \(name)") }
        }
        if method == "CONNECT" {
            guard seen == 1 | 8 else { throw Malformed(reason: "CONNECT takes :authority and no :scheme or :path") }
        } else {
            guard seen & 7 == 7 else { throw Malformed(reason: "missing :method, :scheme or :path") }
        }
        return contentLength
    }

    /// Checks a trailer block: regular fields only.
    static func trailers(_ headers: HPACKHeaders) throws(Malformed) {
        for (name, value, _) in headers {
            guard name.utf8.first != UInt8(ascii: ":") else { throw Malformed(reason: "pseudo-header \(name) in trailers") }
            try field(name, value)
            guard isValue(value) else { throw Malformed(reason: "invalid value of \(name)") }
        }
    }

    private static func field(_ name: String, _ value: String) throws(Malformed) {
        guard isName(name) else { throw Malformed(reason: "invalid field name") }
        if HeaderBlockEncoder.isConnectionSpecific(name) { throw Malformed(reason: "connection-specific field \(name)") }
        if name == "te" && value != "trailers" { throw Malformed(reason: "te other than trailers") }
    }

    /// A content-length: 1*DIGIT (no sign, no spaces: what the HTTP/1.1 side receives is what was checked).
    static func digits(_ value: String) -> Int? {
        guard !value.isEmpty, value.utf8.count <= 18 else { return nil }
        var n = 0
        for byte in value.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return n
    }

    /// A field name: token characters, none of them upper case (§8.2.1).
    static func isName(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
                UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "^"), UInt8(ascii: "`"), UInt8(ascii: "|"),
                UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// A field value: no NUL, CR or LF (§8.2.1).
    static func isValue(_ value: String) -> Bool {
        RequestSynthesizer.isFieldValue(value)
    }
}
