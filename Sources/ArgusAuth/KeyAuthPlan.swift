import ArgusPluginKit
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import NIOCore

/// Kong's key-auth (kong-compat §5.2), compiled for a snapshot: the key is looked up per key name
/// in the headers, then the query, then (`key_in_body`) the JSON, form or multipart body; the credential is found by the key's digest and confirmed in
/// constant time.
public final class KeyAuthPlan: Sendable {
    public let keyNames: [String]
    let lowercasedKeyNames: [String]
    let keyNameBytes: [[UInt8]]
    public let keyInHeader: Bool
    public let keyInQuery: Bool
    public let keyInBody: Bool
    public let hideCredentials: Bool
    public let anonymous: String?
    public let runOnPreflight: Bool
    /// `WWW-Authenticate` on every 401: `Key`, or `Key realm="<realm>"`.
    let challenge: String

    public init(config: JSONValue) {
        keyNames = config["key_names"]?.arrayValue?.compactMap(\.stringValue) ?? ["apikey"]
        // As header names, `_` and `-` are one (nginx's $http_x_y, which Kong reads, is the header x-y)
        lowercasedKeyNames = keyNames.map { String($0.lowercased().map { $0 == "_" ? "-" : $0 }) }
        keyNameBytes = lowercasedKeyNames.map { Array($0.utf8) }
        keyInHeader = config["key_in_header"]?.boolValue ?? true
        keyInQuery = config["key_in_query"]?.boolValue ?? true
        keyInBody = config["key_in_body"]?.boolValue ?? false
        hideCredentials = config["hide_credentials"]?.boolValue ?? false
        anonymous = config["anonymous"]?.stringValue
        runOnPreflight = config["run_on_preflight"]?.boolValue ?? true
        challenge = config["realm"]?.stringValue.map { "Key realm=\"\($0)\"" } ?? "Key"
    }

    /// Whether the request body must be read first (`key_in_body`, and a body of a kind it reads).
    public func needsBody(_ head: RequestHead) -> Bool {
        keyInBody && head.framing != .none && RequestBody.kind(contentType: head.values(forLowercasedName: "content-type").first) != nil
    }

    /// Authenticates the request, or says why not; `edits` gets what `hide_credentials` removes.
    /// `body` is the parsed request body when `key_in_body` needed it.
    public func authenticate(
        _ head: RequestHead, directory: ConsumerDirectory, alreadyAuthenticated: Bool, edits: inout CredentialEdits,
        body: RequestBody? = nil
    ) -> AuthOutcome {
        if !runOnPreflight && head.methodString == "OPTIONS" { return .skipped }
        // With `anonymous`, plugins are alternatives: one that already authenticated is enough.
        if anonymous != nil && alreadyAuthenticated { return .skipped }
        let outcome = authenticateKey(head, directory: directory, edits: &edits, body: body)
        guard case .rejected = outcome, let anonymous else { return outcome }
        return directory.anonymous(anonymous)
    }

    private func authenticateKey(
        _ head: RequestHead, directory: ConsumerDirectory, edits: inout CredentialEdits, body: RequestBody?
    ) -> AuthOutcome {
        var query: QueryString?
        for (i, name) in keyNames.enumerated() {
            // The usual case, a key in a header: looked up and hashed in place, no String.
            if keyInHeader {
                let found = head.valueRange(forLowercasedName: keyNameBytes[i])
                if found.count > 1 { return reject("Duplicate API key found", reason: 3) }
                if let range = found.first {
                    hide(i, &edits)
                    guard !range.isEmpty else { return reject("No API key found in request", reason: 1) }
                    let identity = head.bytes.withUnsafeReadableBytes { directory.keyAuth(bytes: UnsafeRawBufferPointer(rebasing: $0[range])) }
                    return identity.map { .authenticated($0) } ?? reject("Unauthorized", reason: 2)
                }
            }
            if keyInQuery {
                if query == nil { query = QueryString(head.string(head.query)[...]) }
                let found = query!.first(named: name)
                if found.count > 1 { return reject("Duplicate API key found", reason: 3) }
                if let key = found.value {
                    hide(i, &edits)
                    guard !key.isEmpty else { return reject("No API key found in request", reason: 1) }
                    return directory.keyAuth(key).map { .authenticated($0) } ?? reject("Unauthorized", reason: 2)
                }
            }
            if keyInBody, let body {
                let found = body.field(name)
                if found.count > 1 { return reject("Duplicate API key found", reason: 3) }
                if let key = found.value {
                    if hideCredentials { edits.body.append(name) }
                    guard !key.isEmpty else { return reject("No API key found in request", reason: 1) }
                    return directory.keyAuth(key).map { .authenticated($0) } ?? reject("Unauthorized", reason: 2)
                }
            }
        }
        return reject("No API key found in request", reason: 1)
    }

    /// `hide_credentials`: the key goes from the headers and the query, whichever carried it.
    private func hide(_ i: Int, _ edits: inout CredentialEdits) {
        guard hideCredentials else { return }
        edits.headers.append(lowercasedKeyNames[i])
        edits.query.append(keyNames[i])
    }

    private func reject(_ message: String, reason: UInt8) -> AuthOutcome {
        .rejected(AccessRejection(status: 401, message: message, headers: [("WWW-Authenticate", challenge)], reason: reason))
    }
}
