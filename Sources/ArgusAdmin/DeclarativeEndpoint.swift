import ArgusConfig
import Crypto

/// `GET /config` (the whole configuration as a declarative document that loads back into the
/// same configuration) and `POST /config` (replace everything; Kong's DB-less endpoint, also
/// accepted with the database: the stored entities are replaced in one transaction).
struct DeclarativeEndpoint {
    let store: EntityStore

    func respond(_ request: AdminRequest) async -> AdminResponse {
        switch request.method {
        case "GET", "HEAD":
            let document = EntityJSON.document(await store.config)
            return .json(200, .object(["config": .string(JSONText.encode(document))]))
        case "POST":
            return await post(request)
        default:
            return .methodNotAllowed(allow: "GET, HEAD, POST")
        }
    }

    private func post(_ request: AdminRequest) async -> AdminResponse {
        // the document itself (JSON or YAML), or a form/JSON field `config` holding it as text
        var text = String(decoding: request.body, as: UTF8.self)
        var flatten = request.arguments["flatten_errors"].map(Self.truthy) ?? false
        let type = request.contentType.lowercased()
        if type.hasPrefix("application/x-www-form-urlencoded") || type.hasPrefix("multipart/form-data") {
            guard let body = try? AdminBody.decode(request.body, contentType: request.contentType),
                  let config = body.value["config"]?.stringValue
            else { return .message(400, "expected a declarative configuration") }
            text = config
        } else if let value = try? ConfigLoader.parseValue(text: text) {
            if let config = value["config"]?.stringValue, value["_format_version"] == nil {
                text = config
            } else if case .object(var document) = value, let flag = document.removeValue(forKey: "flatten_errors") {
                // a parameter, not a part of the configuration (Kong takes it from the body too)
                flatten = flag.boolValue ?? (flag.intValue == 1 || flag.stringValue.map(Self.truthy) == true)
                text = JSONText.encode(.object(document))
            }
        }
        let hash = Insecure.MD5.hash(data: Array(text.utf8)).hexString
        if request.arguments["check_hash"] == "1", await store.configurationHash == hash {
            return AdminResponse(status: 304, body: [])
        }
        let config: DeclarativeConfig
        do {
            config = try ConfigLoader.parse(text: text, file: "POST /config")
        } catch {
            return Self.invalid(error.errors, flatten: flatten, input: try? ConfigLoader.parseValue(text: text))
        }
        if let failure = await store.replaceAll(with: config, hash: hash) { return failure }
        // Kong's 201: every entity type, its entities keyed by id, without `ws_id`
        // (`declarative.sanitize_output`; `15-off_spec.lua`)
        var body: [String: JSONValue] = [:]
        for kind in EntityJSON.kinds {
            var byID: [String: JSONValue] = [:]
            for case .object(var entity) in EntityJSON.entities(kind, in: config) {
                guard let id = entity["id"]?.stringValue else { continue }
                entity["ws_id"] = nil
                byID[id] = .object(entity)
            }
            body[kind] = .object(byID)
        }
        return .json(201, .object(body))
    }

    /// Kong's `flatten_errors` values that turn it on.
    static func truthy(_ text: String) -> Bool {
        ["true", "1", "on", "yes"].contains(text.lowercased())
    }

    /// Kong's 400 for an invalid declarative document (code 14), errors nested by path; with
    /// `flatten`, the errors of entities in `flattened_errors` (``FlattenedErrors``) and only the
    /// rest in `fields` and the message.
    static func invalid(_ errors: [ConfigError], flatten: Bool, input: JSONValue? = nil) -> AdminResponse {
        var remaining = errors
        var flattened: [JSONValue] = []
        if flatten {
            let kong = errors.map { error in
                let (path, message) = AdminErrors.shorthand((error.path, error.message))
                return ConfigError(file: error.file, path: path, message: message)
            }
            (flattened, remaining) = FlattenedErrors.flatten(kong, input: input)
        }
        var fields: JSONValue = .object([:])
        if !remaining.isEmpty {
            let violations = AdminErrors.schemaViolation(remaining.map { (path: $0.path, message: $0.message) })
            if let value = try? ConfigLoader.parseValue(text: String(decoding: violations.body, as: UTF8.self)), let f = value["fields"] {
                fields = f
            }
        }
        let message = flatten
            ? "declarative config is invalid: " + FlattenedErrors.leftoverText(remaining)
            : "declarative config is invalid: " + errors.map { $0.path.isEmpty ? $0.message : "\($0.path): \($0.message)" }.joined(separator: "; ")
        var body: [String: JSONValue] = [
            "code": .int(14), "name": .string("invalid declarative configuration"), "message": .string(message), "fields": fields,
        ]
        if flatten { body["flattened_errors"] = .array(flattened) }
        return .json(400, .object(body))
    }
}
