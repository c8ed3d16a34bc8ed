import ArgusPluginKit
import Crypto

/// A keyed 128-bit digest of a secret (two SipHash values with the process's random seed): the
/// key under which a credential is found, so that the lookup never compares the secret itself
/// byte by byte, and an attacker can not compute the digests to probe with (the bytes are then
/// compared in constant time, see ``ConstantTime``). SipHash costs tens of nanoseconds where
/// SHA-256 cost hundreds; collisions only cost a failed comparison.
struct SecretDigest: Hashable, Sendable {
    var a: Int, b: Int

    init(_ secret: String) {
        self = Array(secret.utf8).withUnsafeBytes { SecretDigest(bytes: $0) }
    }

    init(bytes: UnsafeRawBufferPointer) {
        var first = Hasher()
        first.combine(bytes: bytes)
        var second = Hasher()
        second.combine(0x5EC2_E7)
        second.combine(bytes: bytes)
        a = first.finalize()
        b = second.finalize()
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
