import ArgusConfig
import ArgusEvents
import ArgusHTTP

/// Kong's key-auth (kong-compat §5.2), compiled for a snapshot: the key is looked up per key name
/// in the headers, then the query; the credential is found by the key's digest and confirmed in
/// constant time.
public final class KeyAuthPlan: Sendable {
    public let keyNames: [String]
    let lowercasedKeyNames: [String]
    public let keyInHeader: Bool
    public let keyInQuery: Bool
    public let hideCredentials: Bool
    public let anonymous: String?
    public let runOnPreflight: Bool
    /// `WWW-Authenticate` on every 401: `Key`, or `Key realm="<realm>"`.
    let challenge: String

    public init(config: JSONValue) {
        keyNames = config["key_names"]?.arrayValue?.compactMap(\.stringValue) ?? ["apikey"]
        lowercasedKeyNames = keyNames.map { $0.lowercased() }
        keyInHeader = config["key_in_header"]?.boolValue ?? true
        keyInQuery = config["key_in_query"]?.boolValue ?? true
        hideCredentials = config["hide_credentials"]?.boolValue ?? false
        anonymous = config["anonymous"]?.stringValue
        runOnPreflight = config["run_on_preflight"]?.boolValue ?? true
        challenge = config["realm"]?.stringValue.map { "Key realm=\"\($0)\"" } ?? "Key"
    }

    /// Authenticates the request, or says why not; `edits` gets what `hide_credentials` removes.
    public func authenticate(
        _ head: RequestHead, directory: ConsumerDirectory, alreadyAuthenticated: Bool, edits: inout CredentialEdits
    ) -> AuthOutcome {
        if !runOnPreflight && head.methodString == "OPTIONS" { return .skipped }
        // With `anonymous`, plugins are alternatives: one that already authenticated is enough.
        if anonymous != nil && alreadyAuthenticated { return .skipped }
        let outcome = authenticateKey(head, directory: directory, edits: &edits)
        guard case .rejected = outcome, let anonymous else { return outcome }
        guard let consumer = directory.consumer(idOrUsername: anonymous) else {
            return .rejected(AccessRejection(
                status: 500, message: "anonymous consumer \(anonymous) is configured but doesn't exist", reason: AccessReason.misconfigured))
        }
        return .anonymous(consumer: consumer)
    }

    private func authenticateKey(_ head: RequestHead, directory: ConsumerDirectory, edits: inout CredentialEdits) -> AuthOutcome {
        let query = QueryString(head.string(head.query)[...])
        var key: String?
        for (i, name) in keyNames.enumerated() {
            var values: [String] = []
            if keyInHeader { values = head.values(forLowercasedName: lowercasedKeyNames[i]) }
            if values.isEmpty && keyInQuery { values = query.values(named: name) }
            if values.count > 1 { return reject("Duplicate API key found", reason: 3) }
            if let value = values.first {
                key = value
                if hideCredentials {
                    edits.headers.append(lowercasedKeyNames[i])
                    edits.query.append(name)
                }
                break
            }
        }
        guard let key, !key.isEmpty else { return reject("No API key found in request", reason: 1) }
        guard let identity = directory.keyAuth(key) else { return reject("Unauthorized", reason: 2) }
        return .authenticated(identity)
    }

    private func reject(_ message: String, reason: UInt8) -> AuthOutcome {
        .rejected(AccessRejection(status: 401, message: message, headers: [("WWW-Authenticate", challenge)], reason: reason))
    }
}
