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
