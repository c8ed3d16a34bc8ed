import ArgusPluginKit
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import Foundation

/// Kong's basic-auth: `Proxy-Authorization`, then `Authorization`, carrying
/// `Basic base64(username:password)`; the password is checked against Kong's stored
/// sha1(password .. consumer id) in constant time.
public final class BasicAuthPlan: Sendable {
    public let hideCredentials: Bool
    public let anonymous: String?
    let challenge: String

    public init(config: JSONValue) {
        hideCredentials = config["hide_credentials"]?.boolValue ?? false
        anonymous = config["anonymous"]?.stringValue
        challenge = "Basic realm=\"\(config["realm"]?.stringValue ?? "service")\""
    }

    public func authenticate(
        _ head: RequestHead, directory: ConsumerDirectory, alreadyAuthenticated: Bool, edits: inout CredentialEdits
    ) -> AuthOutcome {
        if anonymous != nil && alreadyAuthenticated { return .skipped }
        let outcome = check(head, directory: directory, edits: &edits)
        guard case .rejected = outcome, let anonymous else { return outcome }
        return directory.anonymous(anonymous)
    }

    private func check(_ head: RequestHead, directory: ConsumerDirectory, edits: inout CredentialEdits) -> AuthOutcome {
        let proxyAuthorization = head.values(forLowercasedName: "proxy-authorization").first
        let authorization = head.values(forLowercasedName: "authorization").first
        guard proxyAuthorization != nil || authorization != nil else { return reject(reason: 1) }
        var identity: ConsumerDirectory.Identity?
        for value in [proxyAuthorization, authorization] {
            guard let value, let (username, password) = Self.credentials(value) else { continue }
            if let found = directory.basicAuth(username: username, password: password) {
                identity = found
                break
            }
        }
        guard let identity else { return reject(reason: 2) }
        if hideCredentials { edits.headers += ["authorization", "proxy-authorization"] }
        return .authenticated(identity)
    }

    /// `Basic <base64 of username:password>` (the scheme in any case).
    static func credentials(_ value: String) -> (String, String)? {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let decoded = String(data: data, encoding: .utf8),
              let colon = decoded.firstIndex(of: ":")
        else { return nil }
        return (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
    }

    private func reject(reason: UInt8) -> AuthOutcome {
        .rejected(AccessRejection(status: 401, message: "Unauthorized", headers: [("WWW-Authenticate", challenge)], reason: reason))
    }
}
