import ArgusConfig
import ArgusHTTP
import Foundation

/// Kong's Admin API over the entity store (kong-compat §3.2): the collections, the entities by id
/// or endpoint key, the nested forms (`/services/{s}/routes`, `/consumers/{c}/key-auth`…),
/// `/config`, `/plugins/enabled` and `/schemas`. `respond` returns nil for paths it does not
/// serve, so the listener can answer them (node info, status, health, metrics).
public struct AdminAPI: Sendable {
    public let store: EntityStore
    private let clock: @Sendable () -> Double

    func clockNow() -> Double { clock() }

    public init(store: EntityStore, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.store = store
        self.clock = clock
    }

    public func respond(_ request: AdminRequest) async -> AdminResponse? {
        let segments = request.segments
        guard let first = segments.first else { return nil }
        if let refused = Self.unsupportedMediaType(request, yamlAllowed: first == "config" && segments.count == 1) { return refused }
        switch first {
        case "config" where segments.count == 1:
            return await DeclarativeEndpoint(store: store).respond(request)
        case "schemas":
            return SchemaEndpoint.respond(request, segments: Array(segments.dropFirst()))
        case "tags" where segments.count <= 2:
            guard request.method == "GET" || request.method == "HEAD" else { return .methodNotAllowed(allow: AdminResponse.readOnly) }
            return await tags(request, tag: segments.count == 2 ? segments[1] : nil)
        case "endpoints" where segments.count == 1:
            guard request.method == "GET" || request.method == "HEAD" else { return .methodNotAllowed(allow: AdminResponse.readOnly) }
            return .json(200, .object(["data": .array(Self.endpoints.map(JSONValue.string)), "next": .null]))
        case "plugins" where segments.count == 2 && segments[1] == "enabled":
            guard request.method == "GET" || request.method == "HEAD" else { return .methodNotAllowed(allow: AdminResponse.readOnly) }
            return .json(200, .object(["enabled_plugins": .array(PluginRegistry.names.map(JSONValue.string))]))
        case "certificates":
            if let answer = await certificates(request, segments: segments) { return answer }
        case "snis" where segments.count == 3 && segments[2] == "certificate":
            return .notFound
        default:
            break
        }
        guard let kind = EntityKind.collection(first) else { return nil }
        switch segments.count {
        case 1:
            return await collection(kind, request: request, parent: nil, basePath: "/\(kind.collection)")
        case 2:
            return await entity(kind, segments[1], request: request, parent: nil)
        case 3, 4:
            guard let parent = await store.find(kind, segments[1]), let parentID = parent["id"]?.stringValue else {
                // let the listener answer health endpoints for unknown upstreams its own way
                return kind == .upstreams && segments[2] == "health" && segments.count == 3 ? nil : .notFound
            }
            if let nested = EntityKind.nested(parent: kind, segment: segments[2]) {
                let scope = (field: nested.field, id: parentID)
                if segments.count == 3 {
                    return await collection(nested.kind, request: request, parent: scope, basePath: "/" + segments.joined(separator: "/"))
                }
                if nested.kind == .targets, segments[3] == "all" {
                    guard request.method == "GET" || request.method == "HEAD" else { return .methodNotAllowed(allow: AdminResponse.readOnly) }
                    return await Pagination.page(
                        store.entities(.targets).filter { $0["upstream"]?["id"]?.stringValue == parentID },
                        request: request, basePath: "/" + segments.joined(separator: "/"), tags: .checkOnly, order: .newestFirst)
                }
                return await entity(nested.kind, segments[3], request: request, parent: scope)
            }
            // `/routes/{r}/service`, `/plugins/{p}/consumer`, `/key-auths/{k}/consumer`: the entity the parent references
            if segments.count == 3, let target = kind.foreignKeys[segments[2]], let targetKind = EntityKind.named(target) {
                return await foreignEntity(targetKind, field: segments[2], of: kind, parent, request: request)
            }
            return nil
        default:
            return nil
        }
    }

    /// `GET /tags[/{tag}]`: every tagged entity as `{entity_name, entity_id, tag}`, paginated.
    private func tags(_ request: AdminRequest, tag: String?) async -> AdminResponse {
        var rows: [JSONValue] = []
        for kind in EntityKind.all {
            for entity in await store.entities(kind) {
                guard let id = entity["id"]?.stringValue else { continue }
                for name in entity["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [] where tag == nil || name == tag {
                    // the row's id orders the pages: one row per (entity, tag)
                    rows.append(.object([
                        "id": .string(id + ":" + name), "entity_name": .string(kind.name), "entity_id": .string(id), "tag": .string(name),
                    ]))
                }
            }
        }
        let page = Pagination.page(rows, request: request, basePath: "/tags" + (tag.map { "/" + PercentEncoding.encode($0) } ?? ""), tags: .ignore)
        guard case .object(var body)? = try? ConfigLoader.parseValue(text: String(decoding: page.body, as: UTF8.self)),
              page.status == 200, case .array(let data)? = body["data"]
        else { return page }
        body["data"] = .array(data.map { row in
            guard case .object(var fields) = row else { return row }
            fields["id"] = nil
            return .object(fields)
        })
        return .json(200, .object(body))
    }

    /// `GET /endpoints`: the Admin API's routes, as Kong lists them.
    static let endpoints: [String] = {
        var list = ["/", "/status", "/metrics", "/config", "/endpoints", "/tags", "/tags/{tags}", "/plugins/enabled", "/schemas/{name}",
                    "/schemas/plugins/{name}", "/proxy-cache", "/proxy-cache/{cache_key}", "/upstreams/{upstreams}/health",
                    "/upstreams/{upstreams}/targets/all", "/upstreams/{upstreams}/targets/{targets}/healthy",
                    "/upstreams/{upstreams}/targets/{targets}/unhealthy"]
        for kind in EntityKind.all where kind != .targets {
            list += ["/\(kind.collection)", "/\(kind.collection)/{\(kind.collection)}"]
        }
        list += ["/services/{services}/routes", "/services/{services}/plugins", "/routes/{routes}/plugins", "/consumers/{consumers}/plugins",
                 "/upstreams/{upstreams}/targets", "/upstreams/{upstreams}/targets/{targets}", "/consumers/{consumers}/key-auth",
                 "/consumers/{consumers}/jwt", "/consumers/{consumers}/acls", "/consumers/{consumers}/basic-auth"]
        return list.sorted()
    }()

    // MARK: - Collections

    private func collection(
        _ kind: EntityKind, request: AdminRequest, parent: (field: String, id: String)?, basePath: String
    ) async -> AdminResponse {
        switch request.method {
        case "GET", "HEAD":
            var items = await store.entities(kind)
            if let parent { items = items.filter { $0[parent.field]?["id"]?.stringValue == parent.id } }
            // Kong's `/consumers?custom_id=`: the one consumer with that custom_id (or none), unpaginated
            if kind == .consumers, let customID = request.arguments["custom_id"] {
                // (repeated, it is a list to Kong: refused as an empty one is)
                guard !customID.isEmpty, !request.repeatedArguments.contains("custom_id") else {
                    return .message(400, "custom_id must be an unempty string")
                }
                let found = items.filter { $0["custom_id"]?.stringValue == customID }
                return .json(200, .object(["data": .array(found), "next": .null]))
            }
            return Pagination.page(
                items, request: request, basePath: basePath, tags: parent.map { _ in .checkOnly } ?? .apply,
                order: kind == .targets ? .newestFirst : .byID)
        case "POST":
            if store.isDeclarative { return AdminErrors.operationUnsupported("create", kind.name) }
            let body: AdminBody
            do { body = try decodeBody(request) } catch { return error.response }
            guard case .object(var fields) = input(body, kind: kind, existing: nil) else { return .notFound }
            if let parent { fields[parent.field] = .object(["id": .string(parent.id)]) }
            if let id = fields["id"]?.stringValue, EntityStore.isUUID(id) {
                fields["id"] = .string(id.lowercased())
                if await store.find(kind, id) != nil { return AdminErrors.primaryKey(id.lowercased()) }
            } else if fields["id"] == nil || fields["id"]?.isNull == true {
                fields["id"] = .string(UUID().uuidString.lowercased())
            }
            stamp(&fields, kind: kind, createdAt: nil)
            if kind == .keyAuths, let refused = expiry(&fields, given: fields["ttl"]) { return refused }
            return await store.save(kind, .object(fields), status: 201, hashPassword: kind == .basicAuths)
        default:
            return .methodNotAllowed(allow: "GET, HEAD, POST")
        }
    }

    // MARK: - One entity

    func entity(
        _ kind: EntityKind, _ reference: String, request: AdminRequest, parent: (field: String, id: String)?, allowPUT: Bool = true
    ) async -> AdminResponse {
        let existing = await store.find(kind, reference, parent: parent)
        switch request.method {
        case "GET", "HEAD":
            return existing.map { .json(200, $0) } ?? .notFound
        case "DELETE":
            if store.isDeclarative { return AdminErrors.operationUnsupported("delete", kind.name) }
            // (Kong: deleting what is not there is done, unless asked through a parent that does not have it)
            guard let id = existing?["id"]?.stringValue else { return parent == nil ? .noContent : .notFound }
            return await store.delete(kind, id: id)
        case let method where method == "PATCH" || (method == "PUT" && kind == .targets):
            // Kong's PUT on a target is its PATCH: unset fields are kept, a missing target is 404
            if store.isDeclarative { return AdminErrors.operationUnsupported("update", kind.name) }
            guard let existing, let id = existing["id"]?.stringValue else { return .notFound }
            let body: AdminBody
            do { body = try decodeBody(request) } catch { return error.response }
            guard case .object(var patch) = input(body, kind: kind, existing: existing),
                  case .object(var fields) = EntityJSON.declarative(existing)
            else { return .notFound }
            if kind == .services, let url = patch["url"], !url.isNull {
                for field in ["protocol", "host", "port", "path"] where patch[field] == nil { fields[field] = nil }
            }
            patch["id"] = nil
            if let parent { patch[parent.field] = .object(["id": .string(parent.id)]) }
            let legacy = kind == .plugins && LegacyRedisFields.applies(to: .object(fields))
            if legacy { fields["config"] = LegacyRedisFields.stripped(fields["config"]) }
            fields = Self.merge(fields, patch)
            if legacy { fields["config"] = LegacyRedisFields.applyingPatch(fields["config"], patch: patch["config"]) }
            fields["id"] = .string(id)
            stamp(&fields, kind: kind, createdAt: existing["created_at"])
            if kind == .keyAuths {
                // a new ttl counts from now; without one the key keeps its expiry
                if patch["ttl"] != nil {
                    if let refused = expiry(&fields, given: patch["ttl"]) { return refused }
                } else {
                    fields["ttl"] = await store.storedExpiry(id) ?? .null
                }
            }
            return await store.save(kind, .object(fields), status: 200, hashPassword: kind == .basicAuths && patch["password"] != nil)
        case "PUT" where allowPUT:
            if store.isDeclarative { return AdminErrors.operationUnsupported("create or update", kind.name) }
            let body: AdminBody
            do { body = try decodeBody(request) } catch { return error.response }
            guard case .object(var fields) = input(body, kind: kind, existing: existing) else { return .notFound }
            if let parent { fields[parent.field] = .object(["id": .string(parent.id)]) }
            if EntityStore.isUUID(reference) {
                if let given = fields["id"]?.stringValue, given.lowercased() != reference.lowercased() {
                    return AdminErrors.schemaViolation([(path: "id", message: "must match the id in the URL")])
                }
                fields["id"] = .string(existing?["id"]?.stringValue ?? reference.lowercased())
            } else {
                guard let key = kind.endpointKey else { return .notFound }
                if fields[key] == nil { fields[key] = .string(reference) }
                fields["id"] = .string(existing?["id"]?.stringValue ?? UUID().uuidString.lowercased())
            }
            stamp(&fields, kind: kind, createdAt: existing?["created_at"])
            // PUT replaces: without a ttl the key no longer expires
            if kind == .keyAuths, let refused = expiry(&fields, given: fields["ttl"]) { return refused }
            return await store.save(kind, .object(fields), status: 200, hashPassword: kind == .basicAuths)
        default:
            return .methodNotAllowed(allow: allowPUT ? "GET, HEAD, PATCH, PUT, DELETE" : "GET, HEAD, PATCH, DELETE")
        }
    }

    // MARK: - Helpers

    /// A key-auth credential's `ttl` as the Admin API takes it (seconds from now, 0–100000000; 0
    /// or none: never), stored as the Unix time it expires (Kong's declarative form). Kong's 400
    /// for another value.
    private func expiry(_ fields: inout [String: JSONValue], given: JSONValue?) -> AdminResponse? {
        let limit = 100_000_000
        switch given {
        case nil, .null?:
            fields["ttl"] = .null
        case .int(let seconds)? where (0...limit).contains(seconds):
            fields["ttl"] = seconds == 0 ? .null : .int(Int(clock()) + seconds)
        default:
            let message = "must be an integer between 0 and \(limit)"
            return .coded(400, code: 11, name: "invalid options", message: "invalid option (ttl: \(message))",
                          options: .object(["ttl": .string(message)]))
        }
        return nil
    }

    /// The request body, or Kong's 400 for one that does not parse.
    func decodeBody(_ request: AdminRequest) throws(AdminResponseError) -> AdminBody {
        do {
            return try AdminBody.decode(request.body, contentType: request.contentType)
        } catch {
            switch error {
            case .badJSON: throw AdminResponseError(.message(400, "Cannot parse JSON body"))
            case .notAnObject: throw AdminResponseError(.message(400, "Cannot parse JSON body: expected an object"))
            case .badMultipart(let reason): throw AdminResponseError(.message(400, reason))
            }
        }
    }

    /// The body as entity input: form values typed by the schema; timestamps are the store's.
    func input(_ body: AdminBody, kind: EntityKind, existing: JSONValue?) -> JSONValue {
        var value = body.value
        if body.isForm {
            value = FormInference.entity(value, kind: kind.name, pluginName: existing?["name"]?.stringValue)
        }
        guard case .object(var fields) = value else { return value }
        fields["created_at"] = nil
        fields["updated_at"] = nil
        fields["ws_id"] = nil
        return .object(fields)
    }

    private func stamp(_ fields: inout [String: JSONValue], kind: EntityKind, createdAt: JSONValue?) {
        let now = clock()
        if kind == .targets {
            let seconds = JSONValue.double((now * 1000).rounded(.down) / 1000)
            fields["created_at"] = createdAt ?? seconds
            fields["updated_at"] = seconds
        } else if ["services", "routes", "consumers", "plugins", "upstreams"].contains(kind.name) {
            fields["created_at"] = createdAt ?? .int(Int(now))
            fields["updated_at"] = .int(Int(now))
        } else {
            fields["created_at"] = createdAt ?? .int(Int(now))
        }
    }

    /// A partial update: records (`config`, `healthchecks` and their sub-records) merge field by
    /// field, everything else is replaced.
    static func merge(_ base: [String: JSONValue], _ patch: [String: JSONValue], depth: Int = 0) -> [String: JSONValue] {
        var out = base
        for (key, value) in patch {
            if case .object(let sub) = value, case .object(let current)? = base[key],
               depth > 0 || key == "config" || key == "healthchecks" {
                out[key] = .object(merge(current, sub, depth: depth + 1))
            } else {
                out[key] = value
            }
        }
        return out
    }
}

/// A ready error answer carried through `Result`.
struct AdminResponseError: Error {
    var response: AdminResponse
    init(_ response: AdminResponse) { self.response = response }
}
