/// One schema violation inside a document: where (`plugins[0].config.minute`) and what, in Kong's
/// words (`value should be between 0 and 65535`). The loader turns these into `ConfigError`s.
public struct FieldError: Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is; the Admin API answers each with Kong's own error body.
    public enum Category: Sendable, Equatable {
        /// A field or entity check failed (Kong's `schema violation`).
        case schema
        /// A foreign key names no entity (Kong's `foreign key violation`).
        case reference(entity: String, written: String)
        /// A unique field repeats another entity's value (Kong's `unique constraint violation`).
        case unique(field: String, value: String)
    }

    public var path: String
    public var message: String
    public var category: Category

    public init(path: String, message: String, category: Category = .schema) {
        self.path = path
        self.message = message
        self.category = category
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
