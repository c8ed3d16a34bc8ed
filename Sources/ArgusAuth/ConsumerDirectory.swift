import Glibc
import ArgusPluginKit
import ArgusConfig

/// The consumers of one config snapshot and their credentials, indexed for the authentication
/// plugins: a key-auth key or a basic-auth username finds its consumer in O(1); a consumer's ACL
/// groups are a list lookup. Built once per snapshot.
public final class ConsumerDirectory: Sendable {
    /// An authenticated caller: the consumer's index in `config.consumers` and the credential used.
    public struct Identity: Sendable, Equatable {
        public var consumer: Int32
        public var credentialID: String
        /// What `X-Credential-Identifier` shows: the credential's id (the jwt secret's key for jwt).
        public var identifier: String
        /// `X-Credential-Identifier: <identifier>\r\n`, rendered once.
        public var identifierLine: [UInt8]

        public init(consumer: Int32, credentialID: String, identifier: String? = nil) {
            self.consumer = consumer
            self.credentialID = credentialID
            self.identifier = identifier ?? credentialID
            identifierLine = Array("X-Credential-Identifier: \(identifier ?? credentialID)\r\n".utf8)
        }
    }

    struct BasicCredential: Sendable {
        var identity: Identity
        /// Kong's stored form: hex sha1(password .. consumer id).
        var passwordHash: [UInt8]
        var consumerID: String
    }

    public let consumers: [Consumer]
    private let keys: [SecretDigest: (key: [UInt8], identity: Identity, expiresAt: Int?)]
    private let basic: [String: BasicCredential]
    /// A consumer's jwt secret (Kong's `jwt_secrets`).
    public struct JWTSecret: Sendable {
        public var identity: Identity
        public var algorithm: String
        public var secret: String?
        public var publicKey: String?
    }

    private let jwt: [String: JWTSecret]
    /// Per consumer index, its ACL groups in config order.
    public let groups: [[String]]
    /// Per consumer index, its `X-Consumer-ID`, `X-Consumer-Custom-ID` and `X-Consumer-Username`
    /// lines, rendered once.
    public let consumerLines: [[UInt8]]
    /// Per consumer index, `X-Consumer-Groups: a, b\r\n` (empty without groups).
    public let groupsLines: [[UInt8]]
    private let byID: [String: Int32]
    private let byUsername: [String: Int32]

    public init(config: DeclarativeConfig) {
        consumers = config.consumers
        var byID: [String: Int32] = [:]
        var byUsername: [String: Int32] = [:]
        for (i, consumer) in config.consumers.enumerated() {
            byID[consumer.id] = Int32(i)
            if let username = consumer.username { byUsername[username] = Int32(i) }
        }
        var keys: [SecretDigest: (key: [UInt8], identity: Identity, expiresAt: Int?)] = [:]
        var basic: [String: BasicCredential] = [:]
        var groups = Array(repeating: [String](), count: config.consumers.count)
        var jwt: [String: JWTSecret] = [:]
        for credential in config.credentials {
            guard let consumer = byID[credential.consumerID] else { continue }
            let identity = Identity(consumer: consumer, credentialID: credential.id)
            switch credential.kind {
            case "keyauth_credentials":
                if let key = credential.fields["key"]?.stringValue {
                    // `ttl`: when the key expires (Unix seconds); 0 or none: never
                    let ttl = credential.fields["ttl"]?.intValue ?? 0
                    keys[SecretDigest(key)] = (Array(key.utf8), identity, ttl > 0 ? ttl : nil)
                }
            case "basicauth_credentials":
                if let username = credential.fields["username"]?.stringValue, let hash = credential.fields["password"]?.stringValue {
                    // basic-auth's X-Credential-Identifier is the username (Kong)
                    basic[username] = BasicCredential(
                        identity: Identity(consumer: consumer, credentialID: credential.id, identifier: username),
                        passwordHash: Array(hash.utf8), consumerID: credential.consumerID)
                }
            case "jwt_secrets":
                if let key = credential.fields["key"]?.stringValue {
                    jwt[key] = JWTSecret(
                        identity: Identity(consumer: consumer, credentialID: credential.id, identifier: key),
                        algorithm: credential.fields["algorithm"]?.stringValue ?? "HS256",
                        secret: credential.fields["secret"]?.stringValue, publicKey: credential.fields["rsa_public_key"]?.stringValue)
                }
            case "acls":
                if let group = credential.fields["group"]?.stringValue { groups[Int(consumer)].append(group) }
            default:
                break
            }
        }
        self.keys = keys
        self.basic = basic
        self.groups = groups
        self.jwt = jwt
        consumerLines = config.consumers.map { consumer in
            var text = "X-Consumer-ID: \(consumer.id)\r\n"
            if let customID = consumer.customID { text += "X-Consumer-Custom-ID: \(customID)\r\n" }
            if let username = consumer.username { text += "X-Consumer-Username: \(username)\r\n" }
            return Array(text.utf8)
        }
        groupsLines = groups.map { $0.isEmpty ? [] : Array("X-Consumer-Groups: \($0.joined(separator: ", "))\r\n".utf8) }
        self.byID = byID
        self.byUsername = byUsername
    }

    /// The key-auth credential with this key: found by the key's digest, confirmed in constant time.
    public func keyAuth(_ key: String) -> Identity? {
        Array(key.utf8).withUnsafeBytes { keyAuth(bytes: $0) }
    }

    /// As ``keyAuth(_:)``, from the key's bytes (no String).
    public func keyAuth(bytes key: UnsafeRawBufferPointer) -> Identity? {
        guard let found = keys[SecretDigest(bytes: key)], ConstantTime.equal(found.key, key) else { return nil }
        // an expired key is no key (Kong's database hides it): 401 Unauthorized
        if let expiresAt = found.expiresAt, time(nil) >= expiresAt { return nil }
        return found.identity
    }

    /// The basic-auth credential for `username` when `password` is right (compared in constant time).
    public func basicAuth(username: String, password: String) -> Identity? {
        guard let credential = basic[username] else { return nil }
        let given = Array(SHA1Hex.digest(password + credential.consumerID).utf8)
        return ConstantTime.equal(given, credential.passwordHash) ? credential.identity : nil
    }

    /// The jwt secret whose `key` a token names.
    public func jwtSecret(_ key: String) -> JWTSecret? { jwt[key] }

    /// A consumer by id or username (Kong's `anonymous` accepts either).
    public func consumer(idOrUsername: String) -> Int32? {
        byID[idOrUsername] ?? byUsername[idOrUsername]
    }
}

/// Comparison whose time does not depend on where the inputs differ.
public enum ConstantTime {
    public static func equal<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
