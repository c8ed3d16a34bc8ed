import NIOCore
import NIOHPACK

/// Encodes the gateway's header blocks (responses, trailers) with HPACK (RFC 7541) the way nginx
/// does: names from the static table where it has them, values as literals without indexing
/// (never indexed for cookies and credentials, §7.1.3), no Huffman coding and no dynamic table.
/// The peer's decoder therefore keeps no state for this side, so SETTINGS_HEADER_TABLE_SIZE
/// needs no answer, and a block costs one pass with no table lookups beyond a dictionary of
/// names. (NIOHPACK's encoder, with Huffman and its dynamic table, took a tenth of the CPU of an
/// HTTP/2 request in `bench/h2-bench.sh`; what it saved was bytes on loopback.) Pure.
enum HeaderBlockEncoder {
    /// Appends the block for `headers` to `buffer`.
    static func encode(_ headers: HPACKHeaders, into buffer: inout ByteBuffer) {
        for (name, value, indexing) in headers {
            if name == ":status", let index = statusIndex(value) {
                writeInteger(index, prefixBits: 7, flags: 0x80, into: &buffer)  // indexed field
                continue
            }
            let neverIndexed = indexing == .neverIndexed || sensitive.contains(name)
            let flags: UInt8 = neverIndexed ? 0x10 : 0x00
            if let index = staticNames[name] {
                writeInteger(index, prefixBits: 4, flags: flags, into: &buffer)
            } else {
                buffer.writeInteger(flags)
                writeString(name, into: &buffer)
            }
            writeString(value, into: &buffer)
        }
    }

    // MARK: - From HTTP/1.1 bytes

    /// `:status`, from the static table when it has the code.
    static func writeStatus(_ status: Int, into buffer: inout ByteBuffer) {
        switch status {
        case 200: buffer.writeInteger(UInt8(0x80 | 8))
        case 204: buffer.writeInteger(UInt8(0x80 | 9))
        case 206: buffer.writeInteger(UInt8(0x80 | 10))
        case 304: buffer.writeInteger(UInt8(0x80 | 11))
        case 400: buffer.writeInteger(UInt8(0x80 | 12))
        case 404: buffer.writeInteger(UInt8(0x80 | 13))
        case 500: buffer.writeInteger(UInt8(0x80 | 14))
        default:
            buffer.writeInteger(UInt8(8))  // literal without indexing, name :status
            let digits = String(status)
            writeString(digits, into: &buffer)
        }
    }

    /// One field of an HTTP/1.1 head, its name in any case (written in lower case), straight from
    /// the head's bytes: no String is made, and the field is written in one pass over its bytes.
    static func writeField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        let index = staticIndex(name)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: name.count + value.count + 12) { out in
            var at = 0
            if let index {
                put(index, prefixBits: 4, flags: sensitiveIndices.contains(index) ? 0x10 : 0x00, out, &at)
            } else {
                out[at] = 0
                at += 1
                put(name.count, prefixBits: 7, flags: 0, out, &at)
                for byte in name {
                    out[at] = lowered(byte)
                    at += 1
                }
            }
            put(value.count, prefixBits: 7, flags: 0, out, &at)
            if let source = value.baseAddress, value.count > 0 {
                (out.baseAddress! + at).copyMemory(from: source, byteCount: value.count)
                at += value.count
            }
            return at
        }
    }

    /// An integer with an N-bit prefix (RFC 7541 §5.1), at `at` of `out` (room made by the caller).
    @inline(__always)
    static func put(_ value: Int, prefixBits: Int, flags: UInt8, _ out: UnsafeMutableRawBufferPointer, _ at: inout Int) {
        let max = (1 << prefixBits) - 1
        if value < max {
            out[at] = flags | UInt8(value)
            at += 1
            return
        }
        out[at] = flags | UInt8(max)
        at += 1
        var rest = value - max
        while rest >= 128 {
            out[at] = UInt8(rest & 0x7F) | 0x80
            at += 1
            rest >>= 7
        }
        out[at] = UInt8(rest)
        at += 1
    }

    /// The same, for a name already a String (a request's fields, a response's trailers).
    static func isConnectionSpecific(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isConnectionSpecific(UnsafeRawBufferPointer($0)) }
    }

    /// An HTTP/1.1 field an HTTP/2 message must not carry (RFC 9113 §8.2.2), in any case.
    static func isConnectionSpecific(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 7: return equalsLowered(name, "upgrade")
        case 10: return equalsLowered(name, "connection") || equalsLowered(name, "keep-alive")
        case 16: return equalsLowered(name, "proxy-connection")
        case 17: return equalsLowered(name, "transfer-encoding")
        default: return false
        }
    }

    /// The static table's index of a name in any case.
    static func staticIndex(_ name: UnsafeRawBufferPointer) -> Int? {
        guard name.count < namesByLength.count else { return nil }
        for (candidate, index) in namesByLength[name.count] where equalsLowered(name, candidate) { return index }
        return nil
    }

    @inline(__always) static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    static func equalsLowered(_ name: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount else { return false }
        let expected = lower.utf8Start
        for i in 0..<name.count where lowered(name[i]) != expected[i] { return false }
        return true
    }

    /// Authorization, cookie, proxy-authorization, set-cookie: never indexed.
    static let sensitiveIndices: Set<Int> = [23, 32, 49, 55]

    /// The static table's regular names by length, each with its index (the pseudo-headers are
    /// not fields of an HTTP/1.1 head).
    static let namesByLength: [[(StaticString, Int)]] = {
        let names: [(StaticString, Int)] = [
            ("accept-charset", 15), ("accept-encoding", 16), ("accept-language", 17), ("accept-ranges", 18), ("accept", 19),
            ("access-control-allow-origin", 20), ("age", 21), ("allow", 22), ("authorization", 23), ("cache-control", 24),
            ("content-disposition", 25), ("content-encoding", 26), ("content-language", 27), ("content-length", 28),
            ("content-location", 29), ("content-range", 30), ("content-type", 31), ("cookie", 32), ("date", 33), ("etag", 34),
            ("expect", 35), ("expires", 36), ("from", 37), ("host", 38), ("if-match", 39), ("if-modified-since", 40),
            ("if-none-match", 41), ("if-range", 42), ("if-unmodified-since", 43), ("last-modified", 44), ("link", 45),
            ("location", 46), ("max-forwards", 47), ("proxy-authenticate", 48), ("proxy-authorization", 49), ("range", 50),
            ("referer", 51), ("refresh", 52), ("retry-after", 53), ("server", 54), ("set-cookie", 55),
            ("strict-transport-security", 56), ("transfer-encoding", 57), ("user-agent", 58), ("vary", 59), ("via", 60),
            ("www-authenticate", 61),
        ]
        var out = [[(StaticString, Int)]](repeating: [], count: 28)
        for (name, index) in names { out[name.utf8CodeUnitCount].append((name, index)) }
        return out
    }()

    // MARK: - Primitives

    /// An integer with an N-bit prefix (RFC 7541 §5.1).
    static func writeInteger(_ value: Int, prefixBits: Int, flags: UInt8, into buffer: inout ByteBuffer) {
        let max = (1 << prefixBits) - 1
        if value < max {
            buffer.writeInteger(flags | UInt8(value))
            return
        }
        buffer.writeInteger(flags | UInt8(max))
        var rest = value - max
        while rest >= 128 {
            buffer.writeInteger(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }

    /// A string literal, not Huffman-coded (§5.2).
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        writeInteger(string.utf8.count, prefixBits: 7, flags: 0, into: &buffer)
        buffer.writeString(string)
    }

    /// The static table's entries for whole `:status` fields (indices 8–14).
    static func statusIndex(_ value: String) -> Int? {
        switch value {
        case "200": return 8
        case "204": return 9
        case "206": return 10
        case "304": return 11
        case "400": return 12
        case "404": return 13
        case "500": return 14
        default: return nil
        }
    }

    /// Fields sent as never indexed whatever their indexing hint says.
    static let sensitive: Set<String> = ["set-cookie", "cookie", "authorization", "proxy-authorization"]

    /// The static table's names (RFC 7541 Appendix A), each at its first index.
    static let staticNames: [String: Int] = {
        let names = [
            ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status",
            ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language",
            "accept-ranges", "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
            "content-disposition", "content-encoding", "content-language", "content-length", "content-location",
            "content-range", "content-type", "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match",
            "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location",
            "max-forwards", "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after",
            "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via",
            "www-authenticate",
        ]
        var out: [String: Int] = [:]
        for (offset, name) in names.enumerated() where out[name] == nil { out[name] = offset + 1 }
        return out
    }()
}
