import Crypto

/// SHA-256 of a secret as four words: the key under which a credential is found, so that the
/// lookup never compares the secret itself byte by byte (the bytes are then compared in constant
/// time, see ``ConstantTime``).
struct SecretDigest: Hashable, Sendable {
    var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ secret: String) {
        self = Array(secret.utf8).withUnsafeBytes { SecretDigest(bytes: $0) }
    }

    init(bytes: UnsafeRawBufferPointer) {
        let digest = SHA256.hash(data: bytes)
        (a, b, c, d) = digest.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }
}

/// Kong's basic-auth password form: lower-case hex of sha1(text).
enum SHA1Hex {
    static func digest(_ text: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for byte in Insecure.SHA1.hash(data: Array(text.utf8)) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
