/// The entity an entity is nested under (`routes` inside a service, `targets` inside an upstream…).
struct ParentLink: Sendable {
    /// The child's foreign key field, e.g. `service`.
    var field: String
    /// The parent's entity name, e.g. `services`.
    var entity: String
    var id: String
}

/// A foreign key as the file wrote it.
enum Reference: Sendable, Equatable {
    /// Nested under the parent: its id.
    case parent(String)
    /// Top level, `service: my-svc`: the parent's endpoint key (name, username) or id.
    case key(String)
    /// `service: {id: …}`.
    case id(String)
    /// `service: {name: …}` (accepted by Argus in addition to Kong's forms).
    case name(String)

    /// The value this reference contributes to a Kong cache key.
    var cacheKeyPart: String {
        switch self {
        case .parent(let s), .key(let s), .id(let s), .name(let s): return s
        }
    }
}

struct PendingReference: Sendable {
    var field: String
    /// The referenced entity type, e.g. `services`.
    var entity: String
    var reference: Reference
    /// The value as written, for error messages.
    var written: JSONValue
    /// Where to report a dangling reference.
    var path: String
}

/// An entity read from the file, waiting for its references to be resolved.
struct Pending<Model: Sendable>: Sendable {
    var model: Model
    var path: String
    var references: [String: PendingReference]
}

/// The parts of an entity mapping: plain fields for its schema, nested child arrays, references.
struct EntityInput {
    var path: String
    var fields: [String: JSONValue] = [:]
    var children: [(key: String, node: DocNode)] = []
    var references: [String: PendingReference] = [:]

    func has(_ field: String) -> Bool {
        if let value = fields[field] { return !value.isNull }
        return false
    }
}
