#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of IPv4/IPv6 addresses and CIDR blocks (kong.conf `trusted_ips`, ip-restriction's
/// `allow` and `deny`), matched against an address's network-order bytes.
public struct CIDRSet: Sendable, Equatable {
    struct Block: Sendable, Equatable {
        var bytes: [UInt8]
        var prefix: Int
    }

    private var blocks: [Block] = []

    public init() {}

    /// Parses entries such as `10.0.0.0/8`, `127.0.0.1`, `::1`, `2001:db8::/32`.
    /// - Returns: nil naming nothing when an entry is not an address or block (see ``invalidEntry(in:)``).
    public init?(entries: [String]) {
        for entry in entries {
            guard let block = Self.block(entry) else { return nil }
            blocks.append(block)
        }
    }

    /// The first entry that is not an address or CIDR block.
    public static func invalidEntry(in entries: [String]) -> String? {
        entries.first { block($0) == nil }
    }

    static func block(_ entry: String) -> Block? {
        let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = IPAddressParser.parse(String(parts[0])) else { return nil }
        var prefix = bytes.count * 8
        if parts.count == 2 {
            guard let p = Int(parts[1]), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), p >= 0, p <= bytes.count * 8 else {
                return nil
            }
            prefix = p
        }
        return Block(bytes: bytes, prefix: prefix)
    }

    public var isEmpty: Bool { blocks.isEmpty }

    /// Whether `address` (4 or 16 network-order bytes) is in one of the blocks. An IPv4 address
    /// mapped into IPv6 (`::ffff:a.b.c.d`) matches IPv4 blocks too.
    public func contains(_ address: [UInt8]) -> Bool {
        guard !blocks.isEmpty else { return false }
        let mapped = address.count == 16 && address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF
        let v4 = mapped ? Array(address[12..<16]) : nil
        return blocks.contains { block in
            if block.bytes.count == 4, let v4 { return Self.matches(block, v4) }
            return block.bytes.count == address.count && Self.matches(block, address)
        }
    }

    private static func matches(_ block: Block, _ address: [UInt8]) -> Bool {
        var bits = block.prefix
        var i = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if (block.bytes[i] & mask) != (address[i] & mask) { return false }
            bits -= 8
            i += 1
        }
        return true
    }
}

/// Parses textual IPv4/IPv6 addresses into network-order bytes, through inet_pton.
public enum IPAddressParser {
    public static func parse(_ text: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, text, &v6) == 1 { return v6 }
        return nil
    }
}
