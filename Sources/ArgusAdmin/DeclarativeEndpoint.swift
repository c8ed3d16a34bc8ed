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
        let type = request.contentType.lowercased()
        if type.hasPrefix("application/x-www-form-urlencoded") || type.hasPrefix("multipart/form-data") {
            guard let body = try? AdminBody.decode(request.body, contentType: request.contentType),
                  let config = body.value["config"]?.stringValue
            else { return .message(400, "expected a declarative configuration") }
            text = config
        } else if let value = try? ConfigLoader.parseValue(text: text), let config = value["config"]?.stringValue,
                  value["_format_version"] == nil {
            text = config
        }
        let hash = Insecure.MD5.hash(data: Array(text.utf8)).hexString
        if request.arguments["check_hash"] == "1", await store.configurationHash == hash {
            return AdminResponse(status: 304, body: [])
        }
        let config: DeclarativeConfig
        do {
            config = try ConfigLoader.parse(text: text, file: "POST /config")
        } catch {
            return Self.invalid(error.errors, flatten: request.arguments["flatten_errors"] == "1")
        }
        if let failure = await store.replaceAll(with: config, hash: hash) { return failure }
        var body: [String: JSONValue] = [:]
        for kind in EntityJSON.kinds {
            body[kind] = .array(EntityJSON.entities(kind, in: config))
        }
        return .json(201, .object(body))
    }

    /// Kong's 400 for an invalid declarative document (code 14), errors nested by path.
    static func invalid(_ errors: [ConfigError], flatten: Bool) -> AdminResponse {
        let violations = AdminErrors.schemaViolation(errors.map { (path: $0.path, message: $0.message) })
        var fields: JSONValue = .object([:])
        if let value = try? ConfigLoader.parseValue(text: String(decoding: violations.body, as: UTF8.self)), let f = value["fields"] {
            fields = f
        }
        let message = "declarative config is invalid: " + errors.map { $0.path.isEmpty ? $0.message : "\($0.path): \($0.message)" }.joined(separator: "; ")
        var body: [String: JSONValue] = [
            "code": .int(14), "name": .string("invalid declarative configuration"), "message": .string(message), "fields": fields,
        ]
        if flatten {
            body["flattened_errors"] = .array(errors.map { .object(["path": .string($0.path), "message": .string($0.message)]) })
        }
        return .json(400, .object(body))
    }
}
