import Crypto

/// Name-based UUIDs (RFC 4122 version 5: SHA-1 of namespace bytes + name), lower-case.
enum UUIDv5 {
    static func make(namespace: String, name: String) -> String {
        var input = bytes(of: namespace)
        input.append(contentsOf: Array(name.utf8))
        var digest = Array(Insecure.SHA1.hash(data: input)).prefix(16).map { $0 }
        digest[6] = (digest[6] & 0x0F) | 0x50
        digest[8] = (digest[8] & 0x3F) | 0x80
        return format(digest)
    }

    /// The 16 bytes of a textual UUID (assumed valid).
    static func bytes(of uuid: String) -> [UInt8] {
        let hex = Array(uuid.utf8.filter { $0 != UInt8(ascii: "-") })
        var out: [UInt8] = []
        var i = 0
        while i + 1 < hex.count {
            out.append(UInt8(String(decoding: hex[i...(i + 1)], as: UTF8.self), radix: 16) ?? 0)
            i += 2
        }
        return out
    }

    static func format(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { b in String(b, radix: 16).count == 1 ? "0" + String(b, radix: 16) : String(b, radix: 16) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }
}
