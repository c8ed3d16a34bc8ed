import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of IPv4/IPv6 addresses and CIDR blocks (kong.conf `trusted_ips`).
public struct TrustedIPs: Sendable, Equatable {
    struct Block: Sendable, Equatable {
        var bytes: [UInt8]
        var prefix: Int
    }

    private var blocks: [Block] = []

    public init() {}

    /// Parses a comma-separated list such as `10.0.0.0/8, 127.0.0.1, ::1, 0.0.0.0/0`.
    /// - Throws: `TrustedIPsError` naming the first entry that is not an address or CIDR block.
    public init(parsing list: String) throws {
        for raw in list.split(separator: ",") {
            let entry = raw.trimmingCharacters(in: " ")
            if entry.isEmpty { continue }
            let parts = entry.split(separator: "/", maxSplits: 1)
            guard let bytes = IPAddressParser.parse(String(parts[0])) else { throw TrustedIPsError(entry: entry) }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let p = Int(parts[1]), p >= 0, p <= bytes.count * 8 else { throw TrustedIPsError(entry: entry) }
                prefix = p
            }
            blocks.append(Block(bytes: bytes, prefix: prefix))
        }
    }

    public var isEmpty: Bool { blocks.isEmpty }

    public func contains(_ address: SocketAddress?) -> Bool {
        guard !blocks.isEmpty, let address else { return false }
        guard let text = address.ipAddress, let bytes = IPAddressParser.parse(text) else { return false }
        return blocks.contains { block in
            guard block.bytes.count == bytes.count else { return false }
            var bits = block.prefix
            var i = 0
            while bits > 0 {
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if (block.bytes[i] & mask) != (bytes[i] & mask) { return false }
                bits -= 8
                i += 1
            }
            return true
        }
    }
}

public struct TrustedIPsError: Error, CustomStringConvertible {
    public var entry: String
    public var description: String { "invalid trusted_ips entry '\(entry)': expected an IP address or CIDR block" }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

/// Parses textual IPv4/IPv6 addresses into network-order bytes, through inet_pton.
enum IPAddressParser {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, text, &v6) == 1 { return v6 }
        return nil
    }
}
