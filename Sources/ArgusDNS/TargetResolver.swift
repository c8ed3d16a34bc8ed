import Foundation
import NIOCore

/// An upstream target's name resolved: its addresses (from SRV records, with their ports and
/// weights, else from A records), or `failed` (Kong's `dns_error`: no such name, no records, or
/// no answer).
public struct ResolvedName: Sendable, Equatable {
    public struct Address: Sendable, Equatable, Hashable {
        public var ip: String
        /// The SRV record's port; nil for an A record (the target's own port applies).
        public var port: Int?
        public var weight: Int

        public init(ip: String, port: Int? = nil, weight: Int) {
            self.ip = ip
            self.port = port
            self.weight = weight
        }
    }

    public var addresses: [Address]
    public var ttl: UInt32
    public var failed: Bool { addresses.isEmpty }

    public init(addresses: [Address], ttl: UInt32) {
        self.addresses = addresses
        self.ttl = ttl
    }
}

/// Resolves target names the way Kong's DNS client does by default: the hosts file first
/// (`dns_hostsfile`), then (`dns_order`) SRV, then A: an SRV answer gives the addresses of its
/// targets (from the additional section, else an A query each) with the SRV ports and weights;
/// otherwise A records (CNAMEs followed by the server).
public struct TargetResolver: Sendable {
    public let client: DNSClient
    /// Lower-cased names → IPv4 addresses, from the hosts file.
    let hosts: [String: [String]]

    public init(client: DNSClient, hostsFile: String = "/etc/hosts") {
        self.client = client
        self.hosts = Self.readHosts((try? String(contentsOfFile: hostsFile, encoding: .utf8)) ?? "")
    }

    /// `address name [alias…]` lines (comments dropped); IPv4 addresses only.
    static func readHosts(_ text: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                .split(whereSeparator: { $0 == " " || $0 == "\t" }) ?? []
            guard fields.count >= 2 else { continue }
            let ip = String(fields[0])
            let parts = ip.split(separator: ".")
            guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { continue }
            for name in fields.dropFirst() { out[name.lowercased(), default: []].append(ip) }
        }
        return out
    }

    public func resolve(_ name: String) -> EventLoopFuture<ResolvedName> {
        let loop = client.eventLoop
        if let ips = hosts[name.lowercased()] {
            return loop.makeSucceededFuture(ResolvedName(addresses: ips.map { .init(ip: $0, port: nil, weight: 1) }, ttl: 60))
        }
        return client.query(name, .srv).flatMap { response -> EventLoopFuture<ResolvedName> in
            let services = response.answers.compactMap { record -> (port: UInt16, weight: UInt16, target: String, ttl: UInt32)? in
                if case .srv(_, let weight, let port, let target) = record.data { return (port, weight, target, record.ttl) }
                return nil
            }
            guard response.rcode == 0, !services.isEmpty else { return self.addresses(name) }
            let lookups = services.map { service -> EventLoopFuture<[ResolvedName.Address]> in
                let known = response.additional.compactMap { record -> String? in
                    guard record.name.lowercased() == service.target.lowercased(), case .a(let ip) = record.data else { return nil }
                    return ip.map(String.init).joined(separator: ".")
                }
                let ips = known.isEmpty ? self.addresses(service.target).map { $0.addresses.map(\.ip) } : loop.makeSucceededFuture(known)
                return ips.map { list in
                    list.map { ResolvedName.Address(ip: $0, port: Int(service.port), weight: Int(service.weight)) }
                }.recover { _ in [] }
            }
            return EventLoopFuture.whenAllSucceed(lookups, on: loop).map { lists in
                ResolvedName(addresses: lists.flatMap { $0 }, ttl: services.map(\.ttl).min() ?? 0)
            }
        }.flatMapError { _ in self.addresses(name) }
    }

    /// A records of `name` (nil port, weight 1 each).
    func addresses(_ name: String) -> EventLoopFuture<ResolvedName> {
        client.query(name, .a).map { response in
            var ttl = UInt32.max
            let addresses = response.answers.compactMap { record -> ResolvedName.Address? in
                guard case .a(let ip) = record.data else { return nil }
                ttl = min(ttl, record.ttl)
                return ResolvedName.Address(ip: ip.map(String.init).joined(separator: "."), port: nil, weight: 1)
            }
            return ResolvedName(addresses: response.rcode == 0 ? addresses : [], ttl: addresses.isEmpty ? 0 : ttl)
        }.recover { _ in ResolvedName(addresses: [], ttl: 0) }
    }
}
