import ArgusConfig
import Foundation

/// Kong's `POST /config?flatten_errors=1` format (`kong/db/errors.lua`
/// `declarative_config_flattened`), which decK and the Kong Ingress Controller read: one entry
/// per entity with errors — its type (singular), id, name and tags when valid, the entity as it
/// was sent (child collections taken out, the parent referenced by id), and its errors, each a
/// field error (a dotted path, array positions from 1) or an entity error. Errors of nested
/// entities (a route in a service, a credential in a consumer) are entries of their own, before
/// their parent's. What belongs to no entity (`_format_version`, an unknown top-level key) stays
/// in `fields`.
enum FlattenedErrors {
    /// The entity collections of a declarative document (top level, or nested under a parent).
    static let collections: Set<String> = [
        "services", "routes", "consumers", "plugins", "upstreams", "targets", "certificates", "ca_certificates", "snis",
        "vaults", "keyauth_credentials", "basicauth_credentials", "jwt_secrets", "acls", "hmacauth_credentials",
        "oauth2_credentials",
    ]

    /// Messages of Kong's entity checks, which it reports on the entity (`@entity`) wherever
    /// Argus reports them on a field.
    static let entityCheckPrefixes = [
        "at least one of these fields must be non-empty", "only one of these fields", "failed conditional validation",
        "must set one of", "these sets are mutually exclusive", "uniqueness violation", "all or none of these fields",
        "exactly one of these fields",
    ]

    enum Segment: Hashable {
        case name(String)
        case index(Int)
    }

    struct Entry {
        var entityPath: [Segment]
        var type: String
        var errors: [JSONValue] = []
    }

    /// The flattened entries, and the errors that belong to no entity.
    static func flatten(_ errors: [ConfigError], input: JSONValue?) -> (entries: [JSONValue], leftover: [ConfigError]) {
        var entries: [[Segment]: Entry] = [:]
        var leftover: [ConfigError] = []
        for error in errors {
            let segments = parse(error.path)
            guard let (entityPath, type) = entity(in: segments) else {
                leftover.append(error)
                continue
            }
            let rest = Array(segments[entityPath.count...])
            var entry = entries[entityPath] ?? Entry(entityPath: entityPath, type: type)
            if rest.isEmpty || entityCheckPrefixes.contains(where: error.message.hasPrefix) {
                entry.errors.append(.object(["type": .string("entity"), "message": .string(error.message)]))
            } else {
                entry.errors.append(.object(["type": .string("field"), "field": .string(field(rest)), "message": .string(error.message)]))
            }
            entries[entityPath] = entry
        }
        let ordered = entries.values.sorted { precedes($0.entityPath, $1.entityPath) }
        return (ordered.map { render($0, input: input) }, leftover)
    }

    /// `services[0].routes[1].protocols[0]` → name, index, name, index, name, index.
    static func parse(_ path: String) -> [Segment] {
        var out: [Segment] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: true) {
            var name = Substring(part)
            var indexes: [Int] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "["), let n = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                indexes.insert(n, at: 0)
                name = name[..<open]
            }
            if !name.isEmpty { out.append(.name(String(name))) }
            out += indexes.map(Segment.index)
        }
        return out
    }

    /// The innermost entity a path lies in (its segments, and its singular type), if any.
    static func entity(in segments: [Segment]) -> ([Segment], String)? {
        var found: ([Segment], String)?
        var i = 0
        while i < segments.count {
            if case .name(let name) = segments[i] {
                if collections.contains(name), i + 1 < segments.count, case .index = segments[i + 1] {
                    found = (Array(segments[...(i + 1)]), singular(name))
                    i += 2
                    continue
                }
                // a service's or upstream's client certificate, given inline
                if name == "client_certificate", found != nil, i + 1 < segments.count {
                    found = (Array(segments[...i]), "certificate")
                }
            }
            i += 1
        }
        return found
    }

    static func singular(_ collection: String) -> String {
        collection.hasSuffix("s") ? String(collection.dropLast()) : collection
    }

    /// A field path as Kong writes it: dots, array positions counted from 1.
    static func field(_ segments: [Segment]) -> String {
        segments.map { segment in
            switch segment {
            case .name(let name): return name
            case .index(let n): return String(n + 1)
            }
        }.joined(separator: ".")
    }

    /// Kong's order: sections by name, entities by position, a child before its parent.
    static func precedes(_ a: [Segment], _ b: [Segment]) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            switch (x, y) {
            case (.name(let p), .name(let q)): return p < q
            case (.index(let p), .index(let q)): return p < q
            case (.index, .name): return true
            case (.name, .index): return false
            }
        }
        return a.count > b.count
    }

    private static func render(_ entry: Entry, input: JSONValue?) -> JSONValue {
        var object: [String: JSONValue] = ["entity_type": .string(entry.type), "errors": .array(entry.errors)]
        guard var entity = value(at: entry.entityPath, in: input)?.objectValue else {
            object["entity"] = .object([:])
            return .object(object)
        }
        // child collections are entries of their own; an inline foreign entity is its id
        for (key, value) in entity {
            if collections.contains(key), value.arrayValue != nil || value.objectValue != nil { entity[key] = nil }
            if key == "client_certificate", let inline = value.objectValue {
                entity[key] = uuid(inline["id"]).map { .object(["id": .string($0)]) }
            }
        }
        // the parent, by id, when it has a valid one (Kong's only reference to the parent)
        if entry.entityPath.count >= 4, case .name(let section) = entry.entityPath[entry.entityPath.count - 4],
           let parent = value(at: Array(entry.entityPath.dropLast(2)), in: input)?.objectValue, let id = uuid(parent["id"]) {
            let key = singular(section)
            if entity[key] == nil { entity[key] = .object(["id": .string(id)]) }
        }
        if let name = entity["name"]?.stringValue, !name.isEmpty { object["entity_name"] = .string(name) }
        if let id = uuid(entity["id"]) { object["entity_id"] = .string(id) }
        if let tags = entity["tags"]?.arrayValue, tags.allSatisfy({ $0.stringValue != nil }) { object["entity_tags"] = .array(tags) }
        object["entity"] = .object(entity)
        return .object(object)
    }

    private static func uuid(_ value: JSONValue?) -> String? {
        guard let text = value?.stringValue, UUID(uuidString: text) != nil else { return nil }
        return text
    }

    private static func value(at segments: [Segment], in input: JSONValue?) -> JSONValue? {
        var current = input
        for segment in segments {
            switch segment {
            case .name(let name): current = current?.objectValue?[name]
            case .index(let n):
                guard let items = current?.arrayValue, items.indices.contains(n) else { return nil }
                current = items[n]
            }
        }
        return current
    }

    /// Kong's message for what is left: penlight's one-line `{key="value"}`, keys sorted.
    static func leftoverText(_ errors: [ConfigError]) -> String {
        let parts = errors.sorted { $0.path < $1.path }.map { error in
            "\(error.path.isEmpty ? "@entity" : AdminErrors.kongPath(error.path))=\"\(error.message)\""
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}
