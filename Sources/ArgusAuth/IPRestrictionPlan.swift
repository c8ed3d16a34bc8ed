import ArgusPluginKit
import ArgusConfig

/// Kong's ip-restriction: the client's address against `deny` first, then `allow`.
public final class IPRestrictionPlan: Sendable {
    let allow: CIDRSet?
    let deny: CIDRSet?
    let status: Int
    let message: String?

    public init(config: JSONValue) {
        allow = config["allow"]?.arrayValue.flatMap { CIDRSet(entries: $0.compactMap(\.stringValue)) }
        deny = config["deny"]?.arrayValue.flatMap { CIDRSet(entries: $0.compactMap(\.stringValue)) }
        status = config["status"]?.intValue ?? 403
        message = config["message"]?.stringValue
    }

    /// nil when the address may pass.
    /// - Parameters:
    ///   - address: the client's address, 4 or 16 network-order bytes.
    ///   - text: the same address as text, for the default message.
    public func check(address: [UInt8], text: String) -> AccessRejection? {
        var blocked = false
        if let deny, deny.contains(address) { blocked = true }
        if !blocked, let allow, !allow.contains(address) { blocked = true }
        guard blocked else { return nil }
        return AccessRejection(status: status, message: message ?? "IP address not allowed: \(text)", reason: 1)
    }
}
