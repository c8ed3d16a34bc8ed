import Foundation

/// Consumers and their credentials (kong-compat §1.3; the credential DAOs of key-auth, jwt, acl
/// and basic-auth).
extension DeclarativeBuilder {
    static let consumerFields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("username", .string()),
        SchemaField("custom_id", .string()),
        CommonFields.tags,
    ]

    static let jwtAlgorithms = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA",
    ]

    /// Fields of each credential kind, besides `id`, `created_at`, `consumer` and `tags`.
    static let credentialFields: [String: [SchemaField]] = [
        "keyauth_credentials": [
            SchemaField("key", .string()),
            // When the key expires, as a Unix time (Kong's declarative form; the Admin API takes
            // seconds from now and shows the seconds left). 0 or null: never.
            SchemaField("ttl", .integer(between: 0...Int(Int32.max))),
        ],
        "jwt_secrets": [
            SchemaField("key", .string()),
            SchemaField("secret", .string()),
            SchemaField("rsa_public_key", .string()),
            SchemaField("algorithm", .string(default: "HS256", oneOf: jwtAlgorithms)),
        ],
        "acls": [SchemaField("group", .string(required: true))],
        "basicauth_credentials": [
            SchemaField("username", .string(required: true)),
            SchemaField("password", .string(required: true)),
        ],
    ]

    static let credentialChecks: [String: [RecordCheck]] = [
        "jwt_secrets": [
            .requires("rsa_public_key", when: "algorithm") { !($0.stringValue?.hasPrefix("HS") ?? true) },
            // Kong verifies EdDSA with Ed25519 and Ed448 keys (OpenSSL); swift-crypto has no Ed448:
            // such a key is refused here rather than failing every request with `Invalid key/secret`
            RecordCheck { record, path in
                guard record["algorithm"]?.stringValue == "EdDSA", let pem = record["rsa_public_key"]?.stringValue,
                      DeclarativeBuilder.isEd448PublicKey(pem)
                else { return [] }
                return [FieldError(
                    path: DocPath.join(path, "rsa_public_key"),
                    message: "Ed448 keys are not supported by Argus (EdDSA with an Ed25519 key is)")]
            },
        ],
    ]

    /// An Ed448 `-----BEGIN PUBLIC KEY-----` (SPKI with the id-Ed448 OID, 1.3.101.113).
    static func isEd448PublicKey(_ pem: String) -> Bool {
        let body = pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: String(body)).map(Array.init), der.count >= 12 else { return false }
        return Array(der[0..<12]) == [0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x71, 0x03, 0x3A, 0x00]
    }

    func decodeConsumer(_ node: DocNode, path: String) {
        guard let input = readEntity(node, path: path, children: ["plugins"] + Self.credentialKinds, parent: nil) else { return }
        let fields = validateFields(input, Self.consumerFields, checks: [.atLeastOneOf(["custom_id", "username"])])
        let username = fields["username"]?.stringValue
        let customID = fields["custom_id"]?.stringValue
        let key = username ?? customID.map { "argus:custom_id:\($0)" }
        let id = entityID(fields, entity: "consumers", key: key, path: path)
        let consumer = Consumer(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"),
            username: username, customID: customID, tags: CommonFields.strings(fields["tags"]))
        consumers.append(Pending(model: consumer, path: path, references: input.references))
        decodeChildren(input, parent: ParentLink(field: "consumer", entity: "consumers", id: id))
    }

    func decodeCredential(kind: String, _ node: DocNode, path: String, parent: ParentLink?) {
        guard let input = readEntity(node, path: path, foreign: ["consumer": "consumers"], parent: parent) else { return }
        let specific = Self.credentialFields[kind] ?? []
        var fields = validateFields(
            input, [CommonFields.id, CommonFields.createdAt] + specific + [CommonFields.tags],
            checks: Self.credentialChecks[kind] ?? [])
        if input.references["consumer"] == nil {
            issues.add(DocPath.join(path, "consumer"), KongMessage.required)
        }
        let consumerPart = input.references["consumer"]?.reference.cacheKeyPart
        let key: String?
        switch kind {
        case "acls":
            key = consumerPart.flatMap { c in fields["group"]?.stringValue.map { EntityIDs.cacheKey(kind, [c, $0]) } }
        case "basicauth_credentials":
            key = fields["username"]?.stringValue.map { EntityIDs.cacheKey(kind, [$0]) }
        default:
            key = nil
        }
        let id = entityID(fields, entity: kind, key: key, path: path)
        // Kong generates these when absent or null (`auto = true`): random, as Kong does
        if kind == "keyauth_credentials" || kind == "jwt_secrets", fields["key"]?.isNull ?? true { fields["key"] = .string(Self.randomToken()) }
        if kind == "jwt_secrets", fields["secret"]?.isNull ?? true { fields["secret"] = .string(Self.randomToken()) }
        let createdAt = timestamp(fields, "created_at")
        let tags = CommonFields.strings(fields["tags"])
        for name in ["id", "created_at", "tags"] { fields[name] = nil }
        let credential = Credential(kind: kind, id: id, createdAt: createdAt, consumerID: "", fields: fields, tags: tags)
        credentials.append(Pending(model: credential, path: path, references: input.references))
    }

    /// 32 random hex digits, like Kong's `random_string()`.
    static func randomToken() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }
}
