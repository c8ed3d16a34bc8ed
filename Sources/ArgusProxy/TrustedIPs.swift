import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The peers whose X-Forwarded-* / X-Real-IP headers are trusted (kong.conf `trusted_ips`).
public struct TrustedIPs: Sendable, Equatable {
    private var blocks = CIDRSet()

    public init() {}

    /// Parses a comma-separated list such as `10.0.0.0/8, 127.0.0.1, ::1, 0.0.0.0/0`.
    /// - Throws: `TrustedIPsError` naming the first entry that is not an address or CIDR block.
    public init(parsing list: String) throws {
        let entries = list.split(separator: ",").map { String($0).trimming(" ") }.filter { !$0.isEmpty }
        guard let set = CIDRSet(entries: entries) else {
            throw TrustedIPsError(entry: CIDRSet.invalidEntry(in: entries) ?? list)
        }
        self.blocks = set
    }

    public var isEmpty: Bool { blocks.isEmpty }

    public func contains(bytes: [UInt8]) -> Bool {
        !blocks.isEmpty && blocks.contains(bytes)
    }

    public func contains(_ address: SocketAddress?) -> Bool {
        guard !blocks.isEmpty, let text = address?.ipAddress, let bytes = IPAddressParser.parse(text) else { return false }
        return blocks.contains(bytes)
    }
}

public struct TrustedIPsError: Error, CustomStringConvertible {
    public var entry: String
    public var description: String { "invalid trusted_ips entry '\(entry)': expected an IP address or CIDR block" }
}

