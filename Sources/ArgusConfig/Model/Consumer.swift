/// A Kong Consumer (kong-compat §1.3). At least one of `username` / `customID` is set.
public struct Consumer: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var username: String?
    public var customID: String?
    public var tags: [String]?

    public init(id: String, createdAt: Int = 0, updatedAt: Int = 0, username: String? = nil, customID: String? = nil, tags: [String]? = nil) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.username = username
        self.customID = customID
        self.tags = tags
    }
}

/// A credential entity owned by a consumer (`keyauth_credentials`, `jwt_secrets`, `acls`,
/// `basicauth_credentials`). Fields other than the ids stay in `fields` for the plugin that reads them.
public struct Credential: Sendable, Equatable {
    /// The declarative key, e.g. `keyauth_credentials`.
    public var kind: String
    public var id: String
    public var createdAt: Int
    public var consumerID: String
    public var fields: [String: JSONValue]
    public var tags: [String]?

    public init(kind: String, id: String, createdAt: Int = 0, consumerID: String, fields: [String: JSONValue], tags: [String]? = nil) {
        self.kind = kind
        self.id = id
        self.createdAt = createdAt
        self.consumerID = consumerID
        self.fields = fields
        self.tags = tags
    }
}
