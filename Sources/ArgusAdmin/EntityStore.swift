import ArgusConfig
import Crypto
import Foundation

/// The Admin API's source of truth: the running configuration, changed one entity at a time.
/// Every write is validated by the same loader as a `kong.yml` (the whole entity set with the
/// change applied), made durable in the database when there is one, then published to the proxy
/// as a new snapshot, all before the API answers. Writes are serialised; reads see the last
/// published configuration.
public actor EntityStore {
    public enum Mode: Sendable {
        /// Entities live in the embedded SQLite database (no `--config`).
        case database(EntityDatabase)
        /// DB-less, like Kong with `declarative_config`: CRUD writes are refused, `POST /config` replaces all.
        case declarative
    }

    public private(set) var config: DeclarativeConfig
    public nonisolated let mode: Mode
    private let publish: @Sendable (DeclarativeConfig) -> Void
    private let clock: @Sendable () -> Double
    private var writing = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(
        config: DeclarativeConfig, mode: Mode, configurationHash: String? = nil,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        publish: @escaping @Sendable (DeclarativeConfig) -> Void
    ) {
        self.config = config
        self.mode = mode
        self.configurationHash = configurationHash
        self.clock = clock
        self.publish = publish
    }

    public nonisolated var isDeclarative: Bool {
        if case .declarative = mode { return true }
        return false
    }

    // MARK: - Reading

    func entities(_ kind: EntityKind) -> [JSONValue] {
        let all = EntityJSON.entities(kind.name, in: config)
        if kind == .plugins { return all.map(LegacyRedisFields.presented) }
        guard kind == .keyAuths else { return all }
        let now = Int(clock())
        return all.compactMap { Self.presented($0, now: now) }
    }

    /// A key-auth credential as Kong shows it: `ttl` as the seconds left (floored, as Kong's
    /// database computes them), nil (not shown at all) once expired.
    static func presented(_ entity: JSONValue, now: Int) -> JSONValue? {
        guard case .object(var fields) = entity, let expiresAt = fields["ttl"]?.intValue, expiresAt > 0 else { return entity }
        guard expiresAt > now else { return nil }
        fields["ttl"] = .int(max(0, expiresAt - now - 1))
        return .object(fields)
    }

    /// Kong's ttl cleanup, run with every write: expired key-auth credentials leave the
    /// configuration (their keys are free again).
    static func dropExpiredKeys(_ root: inout [String: JSONValue], now: Int) {
        guard let keys = root["keyauth_credentials"]?.arrayValue else { return }
        let kept = keys.filter { key in
            guard let expiresAt = key["ttl"]?.intValue, expiresAt > 0 else { return true }
            return expiresAt > now
        }
        if kept.count != keys.count { root["keyauth_credentials"] = .array(kept) }
    }

    /// A key-auth credential's stored expiry (Unix seconds), as the configuration has it.
    func storedExpiry(_ id: String) -> JSONValue? {
        config.credentials.first { $0.id == id }?.fields["ttl"]
    }

    /// The entity `reference` names (its id, or its endpoint key), optionally only among those whose
    /// foreign key `parent.field` is `parent.id`.
    func find(_ kind: EntityKind, _ reference: String, parent: (field: String, id: String)? = nil) -> JSONValue? {
        Self.find(kind, reference, in: entities(kind), parent: parent)
    }

    static func find(_ kind: EntityKind, _ reference: String, in items: [JSONValue], parent: (field: String, id: String)?) -> JSONValue? {
        let candidates = items.filter { item in
            guard let parent else { return true }
            return item[parent.field]?["id"]?.stringValue == parent.id
        }
        if isUUID(reference), let hit = candidates.first(where: { $0["id"]?.stringValue == reference.lowercased() }) { return hit }
        guard let key = kind.endpointKey else { return nil }
        if let hit = candidates.first(where: { $0[key]?.stringValue == reference }) { return hit }
        // a target named without its port has Kong's default port 8000
        if kind == .targets, !reference.contains(":") || reference.hasSuffix("]") {
            return candidates.first { $0[key]?.stringValue == reference + ":8000" }
        }
        return nil
    }

    static func isUUID(_ s: String) -> Bool { NameRules.isUUID(s) }

    // MARK: - Writing

    /// Validates and stores `candidate` (a whole entity input with its id and timestamps),
    /// replacing the entity with the same id if there is one. Answers with `status` and the stored
    /// entity, or Kong's error.
    func save(_ kind: EntityKind, _ candidate: JSONValue, status: Int, hashPassword: Bool = false) async -> AdminResponse {
        await lock()
        defer { unlock() }
        guard case .object(var fields) = candidate, let id = fields["id"]?.stringValue else { return .notFound }
        // foreign keys: by id or endpoint key, stored as {id}
        for (field, target) in kind.foreignKeys.sorted(by: { $0.key < $1.key }) {
            guard let value = fields[field], !value.isNull, let targetKind = EntityKind.named(target) else { continue }
            let reference: String?
            var byKey: (name: String, value: String)?
            switch value {
            case .string(let s):
                reference = s
            case .object(let o):
                if let id = o["id"], !id.isNull {
                    reference = id.stringValue
                } else if let key = targetKind.endpointKey, let keyed = o[key]?.stringValue, !keyed.isEmpty {
                    reference = keyed
                    byKey = (key, keyed)
                } else {
                    // Kong: a reference without its primary key is checked as a partial entity of its
                    // type first (`{"protocol": "foo"}`: that field's error), then `missing primary key`
                    let partial = EntitySchemas.partialErrors(of: target, o, path: field)
                    if !partial.isEmpty { return AdminErrors.schemaViolation(partial.map { ($0.path, $0.message) }) }
                    return AdminErrors.missingPrimaryKey(field: field)
                }
            default:
                reference = nil
            }
            guard let reference else { continue }  // the loader reports the malformed value
            guard let parent = find(targetKind, reference) else {
                if let byKey { return AdminErrors.foreignKeyUnresolved(field: field, key: byKey.name, value: byKey.value, entity: target) }
                let written = value.stringValue.map { "{id=\"\($0)\"}" } ?? AdminErrors.luaLiteral(value)
                let fields: JSONValue = value.stringValue.map { .object([field: .object(["id": .string($0)])]) } ?? .object([field: value])
                return AdminErrors.foreignKey(entity: target, written: written, fields: fields)
            }
            fields[field] = .object(["id": parent["id"] ?? .null])
        }
        if hashPassword, let password = fields["password"]?.stringValue, let consumer = fields["consumer"]?["id"]?.stringValue {
            let digest = Insecure.SHA1.hash(data: Array((password + consumer).utf8))
            fields["password"] = .string(digest.hexString)
        }
        guard case .object(var root) = EntityJSON.document(config) else { return .notFound }
        Self.dropExpiredKeys(&root, now: Int(clock()))
        var items = root[kind.name]?.arrayValue ?? []
        items.removeAll { $0["id"]?.stringValue == id }
        let path = "\(kind.name)[\(items.count)]"
        items.append(.object(fields))
        root[kind.name] = .array(items)
        let result = ConfigLoader.build(document: .object(root), now: clock())
        guard let next = result.config else { return Self.describe(result.errors, candidatePath: path, kind: kind, fields: fields) }
        if let failure = await commit(next) { return failure }
        guard let stored = Self.find(kind, id, in: EntityJSON.entities(kind.name, in: next), parent: nil) else { return .notFound }
        switch kind {
        case .keyAuths: return .json(status, Self.presented(stored, now: Int(clock())) ?? stored)
        case .plugins: return .json(status, LegacyRedisFields.presented(stored))
        default: return .json(status, stored)
        }
    }

    /// Saves a certificate (`record`, with its id and timestamps) and, when `snis` is given, makes
    /// exactly those names point at it (names kept keep their SNI entity; the others are deleted).
    func saveCertificate(_ record: [String: JSONValue], snis: [String]?, status: Int, now: Int) async -> AdminResponse {
        await lock()
        defer { unlock() }
        guard let id = record["id"]?.stringValue, case .object(var root) = EntityJSON.document(config) else { return .notFound }
        Self.dropExpiredKeys(&root, now: Int(clock()))
        var certificates = root["certificates"]?.arrayValue ?? []
        certificates.removeAll { $0["id"]?.stringValue == id }
        let path = "certificates[\(certificates.count)]"
        certificates.append(.object(record))
        root["certificates"] = .array(certificates)
        if let snis {
            let all = root["snis"]?.arrayValue ?? []
            let mine = all.filter { $0["certificate"]?["id"]?.stringValue == id }
            var kept = all.filter { $0["certificate"]?["id"]?.stringValue != id }
            for name in snis {
                var sni: [String: JSONValue] = ["name": .string(name), "certificate": .object(["id": .string(id)])]
                if case .object(let previous)? = mine.first(where: { $0["name"]?.stringValue == name }) {
                    sni = previous
                } else {
                    sni["id"] = .string(UUID().uuidString.lowercased())
                    sni["created_at"] = .int(now)
                    sni["updated_at"] = .int(now)
                }
                kept.append(.object(sni))
            }
            root["snis"] = .array(kept)
        }
        let result = ConfigLoader.build(document: .object(root), now: clock())
        guard let next = result.config else {
            return Self.describe(result.errors, candidatePath: path, kind: .certificates, fields: record)
        }
        if let failure = await commit(next) { return failure }
        guard let stored = Self.find(.certificates, id, in: EntityJSON.entities("certificates", in: next), parent: nil) else { return .notFound }
        return .json(status, stored)
    }

    /// Deletes the entity and what cascades from it (plugins of a route, credentials of a
    /// consumer, targets of an upstream…); refuses a service that routes still use.
    func delete(_ kind: EntityKind, id: String) async -> AdminResponse {
        await lock()
        defer { unlock() }
        // Services list CA certificates by id (an array, not a foreign key): Kong refuses to delete
        // one that is still listed, naming the first service that does.
        if kind.name == EntityKind.caCertificates.name,
           let service = config.services.first(where: { $0.caCertificates?.contains(id) == true }) {
            return AdminErrors.referencedByOthers("ca certificate \(id) is still referenced by services (id = \(service.id))")
        }
        var removing: [String: Set<String>] = [:]
        var queue: [(EntityKind, String)] = [(kind, id)]
        while let (k, entityID) = queue.popLast() {
            guard removing[k.name, default: []].insert(entityID).inserted else { continue }
            for dependent in k.dependents {
                // every child, expired keys included (they go with their consumer)
                let children = EntityJSON.entities(dependent.kind.name, in: config)
                    .filter { $0[dependent.field]?["id"]?.stringValue == entityID }
                if dependent.restrict, !children.isEmpty {
                    return AdminErrors.restrictedDelete(child: dependent.kind.name, parent: k.name)
                }
                for child in children { if let cid = child["id"]?.stringValue { queue.append((dependent.kind, cid)) } }
            }
        }
        guard case .object(var root) = EntityJSON.document(config) else { return .noContent }
        Self.dropExpiredKeys(&root, now: Int(clock()))
        for (name, ids) in removing {
            root[name] = .array((root[name]?.arrayValue ?? []).filter { !ids.contains($0["id"]?.stringValue ?? "") })
        }
        let result = ConfigLoader.build(document: .object(root), now: clock())
        guard let next = result.config else {
            return AdminErrors.schemaViolation(result.errors.map { (path: $0.path, message: $0.message) })
        }
        if let failure = await commit(next) { return failure }
        return .noContent
    }

    /// Replaces the whole configuration (`POST /config`); `hash` identifies the document loaded.
    func replaceAll(with next: DeclarativeConfig, hash: String) async -> AdminResponse? {
        await lock()
        defer { unlock() }
        if let failure = await commit(next) { return failure }
        configurationHash = hash
        return nil
    }

    /// The MD5 of the last declarative document loaded (Kong's `configuration_hash`).
    public private(set) var configurationHash: String?

    /// Takes a configuration already applied elsewhere (a SIGHUP reload of the file).
    public func adopt(_ next: DeclarativeConfig, hash: String) async {
        await lock()
        defer { unlock() }
        config = next
        configurationHash = hash
    }

    /// `GET /status`'s `database.reachable`: the database answers a query.
    public func databaseReachable() async -> Bool {
        guard case .database(let database) = mode else { return false }
        return await database.ping()
    }

    /// Makes `next` durable (database mode), then current and published. Returns an error response when it can not.
    private func commit(_ next: DeclarativeConfig) async -> AdminResponse? {
        if case .database(let database) = mode {
            let before = Self.rows(config)
            let after = Self.rows(next)
            var upserts: [EntityDatabase.Row] = []
            for (key, text) in after where before[key] != text {
                upserts.append(EntityDatabase.Row(kind: key.kind, id: key.id, body: text))
            }
            let deletes = before.keys.filter { after[$0] == nil }.map { EntityDatabase.Row(kind: $0.kind, id: $0.id, body: "") }
            do {
                try await database.apply(upserts: upserts, deletes: deletes)
            } catch {
                return .message(500, "An unexpected error occurred")
            }
        }
        config = next
        publish(next)
        return nil
    }

    struct RowKey: Hashable { var kind: String; var id: String }

    static func rows(_ config: DeclarativeConfig) -> [RowKey: String] {
        var rows: [RowKey: String] = [:]
        for kind in EntityJSON.kinds {
            for entity in EntityJSON.entities(kind, in: config) {
                guard let id = entity["id"]?.stringValue else { continue }
                rows[RowKey(kind: kind, id: id)] = JSONText.encode(EntityJSON.declarative(entity))
            }
        }
        return rows
    }

    /// Kong's answer for a rejected write: schema violations first, then a dangling foreign
    /// key, then a uniqueness violation.
    static func describe(_ errors: [FieldError], candidatePath: String, kind: EntityKind, fields: [String: JSONValue]) -> AdminResponse {
        func relative(_ path: String) -> String? {
            if path == candidatePath { return "" }
            for separator in [".", "["] where path.hasPrefix(candidatePath + separator) {
                let rest = path.dropFirst(candidatePath.count)
                return separator == "." ? String(rest.dropFirst()) : String(rest)
            }
            return nil
        }
        var schema: [(path: String, message: String)] = []
        var reference: (entity: String, written: String)?
        var unique: (field: String, value: String)?
        for error in errors {
            switch error.category {
            case .schema:
                schema.append((path: relative(error.path) ?? error.path, message: error.message))
            case .reference(let entity, let written):
                reference = reference ?? (entity, written)
            case .unique(let field, let value):
                if relative(error.path) != nil { unique = unique ?? (field, value) }
            }
        }
        if !schema.isEmpty { return AdminErrors.schemaViolation(schema) }
        if let reference { return AdminErrors.foreignKey(entity: reference.entity, written: "{id=\"\(reference.written)\"}") }
        if let unique {
            if unique.field == "id" { return AdminErrors.primaryKey(unique.value) }
            switch kind.name {
            case "plugins" where unique.field == "name":
                return AdminErrors.unique(["name", "route", "service", "consumer"].map { ($0, fields[$0] ?? .null) })
            case "acls":
                return AdminErrors.unique([("consumer", fields["consumer"] ?? .null), ("group", .string(unique.value))])
            case "targets":
                return AdminErrors.unique([("target", .string(unique.value)), ("upstream", fields["upstream"] ?? .null)])
            default:
                return AdminErrors.unique([(unique.field, .string(unique.value))])
            }
        }
        return AdminErrors.schemaViolation(errors.map { (path: $0.path, message: $0.message) })
    }

    // MARK: - Serialising writes (the actor is re-entered while the database writes)

    private func lock() async {
        if !writing {
            writing = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func unlock() {
        if waiters.isEmpty {
            writing = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
