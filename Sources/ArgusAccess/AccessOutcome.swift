import ArgusEvents

/// An access-phase plugin's answer to a request that must not reach the upstream: Kong's status,
/// message and headers, plus a small reason code for events and metrics.
public struct AccessRejection: Sendable, Equatable {
    public var status: Int
    public var message: String
    public var headers: [(String, String)]
    /// Why, in the plugin's terms (see each plan's `Reason`).
    public var reason: UInt8
    /// A JSON body sent as it is (Kong's `kong.response.exit`: no request id, no content
    /// negotiation); nil for Kong's `kong.response.error` bodies.
    public var exitBody: String?

    public init(status: Int, message: String, headers: [(String, String)] = [], reason: UInt8, exitBody: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.reason = reason
        self.exitBody = exitBody
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.status == b.status && a.message == b.message && a.reason == b.reason && a.exitBody == b.exitBody
            && a.headers.map { "\($0.0): \($0.1)" } == b.headers.map { "\($0.0): \($0.1)" }
    }
}

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
