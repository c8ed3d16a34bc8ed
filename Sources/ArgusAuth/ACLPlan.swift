import ArgusPluginKit
import ArgusConfig

/// Kong's acl: the authenticated (or anonymous) consumer's groups against `allow` or `deny`.
public final class ACLPlan: Sendable {
    public let allow: [String]?
    public let deny: [String]?
    public let hideGroupsHeader: Bool

    public init(config: JSONValue) {
        allow = config["allow"]?.arrayValue?.compactMap(\.stringValue)
        deny = config["deny"]?.arrayValue?.compactMap(\.stringValue)
        hideGroupsHeader = config["hide_groups_header"]?.boolValue ?? false
    }

    public enum Verdict: Sendable, Equatable {
        /// Allowed; whether the consumer's `X-Consumer-Groups` goes upstream
        /// (``ConsumerDirectory/groupsLines``).
        case allowed(sendGroups: Bool)
        case rejected(AccessRejection)
    }

    /// - Parameter consumer: the consumer's index, -1 when no plugin identified one.
    /// - Parameter hasCredential: the consumer authenticated with a credential (not the anonymous one).
    public func check(consumer: Int32, directory: ConsumerDirectory, hasCredential: Bool = true) -> Verdict {
        guard consumer >= 0 && Int(consumer) < directory.groups.count else {
            return .rejected(AccessRejection(status: 401, message: "Unauthorized", reason: 1))
        }
        let groups = directory.groups[Int(consumer)]
        // Kong: a consumer without groups on an allow list is 403 with a credential, 401 without
        // one (the anonymous consumer)
        if groups.isEmpty, allow != nil, !hasCredential {
            return .rejected(AccessRejection(status: 401, message: "Unauthorized", reason: 1))
        }
        let permitted: Bool
        if let allow {
            permitted = groups.contains { allow.contains($0) }
        } else if let deny {
            permitted = !groups.contains { deny.contains($0) }
        } else {
            permitted = true
        }
        guard permitted else { return .rejected(AccessRejection(status: 403, message: "You cannot consume this service", reason: 2)) }
        return .allowed(sendGroups: !hideGroupsHeader && !groups.isEmpty)
    }
}
