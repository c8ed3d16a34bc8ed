import ArgusPluginKit
import ArgusEvents

/// What an authentication plugin decided.
public enum AuthOutcome: Sendable, Equatable {
    /// The plugin does not apply (a preflight it skips, or already authenticated with `anonymous` set).
    case skipped
    case authenticated(ConsumerDirectory.Identity)
    /// Authentication failed and the instance's `anonymous` consumer stands in.
    case anonymous(consumer: Int32)
    case rejected(AccessRejection)
}

/// What an authentication plugin asks to be removed from the upstream request (`hide_credentials`).
public struct CredentialEdits: Sendable, Equatable {
    /// Lower-cased header names.
    public var headers: [String] = []
    /// Query argument names.
    public var query: [String] = []
    /// Body field names (key-auth's `key_in_body`).
    public var body: [String] = []

    public init() {}

    public var isEmpty: Bool { headers.isEmpty && query.isEmpty && body.isEmpty }
}

extension AccessReason {
    static let misconfigured: UInt8 = 15
}

extension ConsumerDirectory {
    /// The outcome for an authentication plugin whose `anonymous` consumer stands in after a failed
    /// authentication; Kong's 500 when that consumer does not exist.
    func anonymous(_ idOrUsername: String) -> AuthOutcome {
        guard let consumer = consumer(idOrUsername: idOrUsername) else {
            return .rejected(AccessRejection(
                status: 500, message: "anonymous consumer \(idOrUsername) is configured but doesn't exist", reason: AccessReason.misconfigured))
        }
        return .anonymous(consumer: consumer)
    }
}
