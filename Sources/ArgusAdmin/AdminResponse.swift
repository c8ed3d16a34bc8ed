import ArgusConfig

/// What the Admin API answers: a status and a JSON body (none for 204 and 304).
public struct AdminResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var headers: [(String, String)]
    public var contentType: String

    public init(status: Int, body: [UInt8], headers: [(String, String)] = [], contentType: String = "application/json; charset=utf-8") {
        self.status = status
        self.body = body
        self.headers = headers
        self.contentType = contentType
    }

    static func json(_ status: Int, _ value: JSONValue) -> AdminResponse {
        AdminResponse(status: status, body: Array(JSONText.encode(value).utf8))
    }

    static func message(_ status: Int, _ text: String) -> AdminResponse {
        json(status, .object(["message": .string(text)]))
    }

    static let noContent = AdminResponse(status: 204, body: [])
    static let notFound = message(404, "Not found")
    /// 405 with the `Allow` header RFC 9110 asks for.
    static func methodNotAllowed(allow: String) -> AdminResponse {
        var response = message(405, "Method not allowed")
        response.headers.append(("Allow", allow))
        return response
    }

    static let readOnly = "GET, HEAD"



    /// Kong's coded errors (`kong/db/errors.lua`): `{code, name, message[, fields]}`.
    /// `options`: Kong's table for errors about query or DAO options (`invalid options`, code 11).
    static func coded(
        _ status: Int, code: Int, name: String, message: String, fields: JSONValue? = nil, options: JSONValue? = nil
    ) -> AdminResponse {
        var body: [String: JSONValue] = ["code": .int(code), "name": .string(name), "message": .string(message)]
        if let fields { body["fields"] = fields }
        if let options { body["options"] = options }
        return json(status, .object(body))
    }
}

/// Kong's error bodies for the Admin API, by the codes of `kong/db/errors.lua`.
enum AdminErrors {
    /// 400 `schema violation`: `fields` holds each message at its path (`config.minute`), entity
    /// checks under `@entity`.
    static func schemaViolation(_ given: [(path: String, message: String)]) -> AdminResponse {
        let unordered = given.map(shorthand)
        // Kong's order: the entity checks, then the fields by name
        let errors = unordered.filter { $0.path.isEmpty } + unordered.filter { !$0.path.isEmpty }.sorted { $0.path < $1.path }
        var fields: JSONValue = .object([:])
        var entity: [JSONValue] = []
        for error in errors {
            if error.path.isEmpty {
                entity.append(.string(error.message))
            } else {
                fields = placing(.string(error.message), at: components(error.path)[...], in: fields)
            }
        }
        if !entity.isEmpty, case .object(var map) = fields {
            map["@entity"] = .array(entity)
            fields = .object(map)
        }
        let parts = errors.map { $0.path.isEmpty ? $0.message : "\(kongPath($0.path)): \($0.message)" }
        let message = errors.count == 1
            ? "schema violation (\(parts[0]))" : "\(errors.count) schema violations (\(parts.joined(separator: "; ")))"
        return .coded(400, code: 2, name: "schema violation", message: message, fields: fields)
    }

    /// An error of a field a service's `url` set (`url: host: required field missing`, as
    /// `argus config validate` says it) at that field, as Kong reports it (`host: required field missing`).
    static func shorthand(_ error: (path: String, message: String)) -> (path: String, message: String) {
        guard error.path == "url" || error.path.hasSuffix(".url") else { return error }
        for field in ["host", "port", "protocol", "path"] where error.message.hasPrefix(field + ": ") {
            return (String(error.path.dropLast(3)) + field, String(error.message.dropFirst(field.count + 2)))
        }
        return error
    }

    /// `fields`: the reference as written, at its field (Kong's `{"service": {"id": "…"}}`).
    /// A path as Kong's messages write it: array positions counted from 1 after a dot
    /// (`protocols[0]` is `protocols.1`, `config.headers[2]` is `config.headers.3`).
    static func kongPath(_ path: String) -> String {
        var out = ""
        var index = ""
        var inBrackets = false
        for character in path {
            switch character {
            case "[" where !inBrackets:
                inBrackets = true
                index = ""
            case "]" where inBrackets:
                inBrackets = false
                out += "." + (Int(index).map { String($0 + 1) } ?? index)
            default:
                if inBrackets { index.append(character) } else { out.append(character) }
            }
        }
        return out
    }

    static func foreignKey(entity: String, written: String, fields: JSONValue = .object([:])) -> AdminResponse {
        .coded(
            400, code: 4, name: "foreign key violation",
            message: "the foreign key '\(written)' does not reference an existing '\(entity)' entity.",
            fields: fields)
    }

    /// Code 13: a reference by endpoint key (`{"service": {"name": "x"}}`) that names nothing.
    static func foreignKeyUnresolved(field: String, key: String, value: String, entity: String) -> AdminResponse {
        let detail = "the foreign key cannot be resolved with '{\(key)=\"\(value)\"}' for an existing '\(entity)' entity"
        return .coded(
            400, code: 13, name: "foreign keys unresolved", message: "foreign key unresolved (\(field).\(key): \(detail))",
            fields: .object([field: .object([key: .string(detail)])]))
    }

    /// A reference without its primary key: Kong's schema violation `missing primary key`.
    static func missingPrimaryKey(field: String) -> AdminResponse {
        .coded(
            400, code: 2, name: "schema violation", message: "schema violation (\(field).id: missing primary key)",
            fields: .object([field: .object(["id": .string("missing primary key")])]))
    }

    static func restrictedDelete(child: String, parent: String) -> AdminResponse {
        .coded(
            400, code: 4, name: "foreign key violation",
            message: "an existing '\(child)' entity references this '\(parent)' entity", fields: .object([:]))
    }

    /// 400 `referenced by others` (Kong's code 19): e.g. a CA certificate a service still lists.
    static func referencedByOthers(_ message: String) -> AdminResponse {
        .coded(400, code: 19, name: "referenced by others", message: message)
    }

    /// 409 `unique constraint violation` on `{name="svc"}`.
    static func unique(_ values: [(String, JSONValue)]) -> AdminResponse {
        let text = values.sorted { $0.0 < $1.0 }.map { "\($0.0)=\(luaLiteral($0.1))" }.joined(separator: ",")
        return .coded(
            409, code: 5, name: "unique constraint violation", message: "UNIQUE violation detected on '{\(text)}'",
            fields: .object(Dictionary(values, uniquingKeysWith: { a, _ in a })))
    }

    static func primaryKey(_ id: String) -> AdminResponse {
        .coded(
            409, code: 3, name: "primary key violation", message: "primary key violation on key '{id=\"\(id)\"}'",
            fields: .object(["id": .string(id)]))
    }

    static func invalidPrimaryKey(_ message: String) -> AdminResponse {
        .coded(400, code: 1, name: "invalid primary key", message: message)
    }

    static func operationUnsupported(_ verb: String, _ entity: String) -> AdminResponse {
        .coded(
            405, code: 12, name: "operation unsupported",
            message: "cannot \(verb) '\(entity)' entities when not using a database")
    }

    /// A value the way Kong's messages print it (`"x"`, `{id="…"}`, `null`).
    static func luaLiteral(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return "\"\(s)\""
        case .null: return "null"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { "\($0)=\(luaLiteral(fields[$0]!))" }.joined(separator: ",") + "}"
        default: return JSONText.encode(value)
        }
    }

    enum Component { case key(String), index(Int) }

    /// `config.limits[2].x` → key config, key limits, index 2, key x.
    static func components(_ path: String) -> [Component] {
        var out: [Component] = []
        for part in path.split(separator: ".") {
            var rest = Substring(part)
            if let open = rest.firstIndex(of: "[") {
                if open > rest.startIndex { out.append(.key(String(rest[..<open]))) }
                rest = rest[open...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    if let i = Int(rest[rest.index(after: rest.startIndex)..<close]) { out.append(.index(i)) }
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                out.append(.key(String(rest)))
            }
        }
        return out
    }

    private static func placing(_ value: JSONValue, at path: ArraySlice<Component>, in node: JSONValue) -> JSONValue {
        guard let first = path.first else { return node == .object([:]) || node.isNull ? value : node }
        switch first {
        case .key(let key):
            var fields: [String: JSONValue] = [:]
            if case .object(let existing) = node { fields = existing }
            fields[key] = placing(value, at: path.dropFirst(), in: fields[key] ?? .null)
            return .object(fields)
        case .index(let i):
            var items: [JSONValue] = []
            if case .array(let existing) = node { items = existing }
            while items.count <= i { items.append(.null) }
            items[i] = placing(value, at: path.dropFirst(), in: items[i])
            return .array(items)
        }
    }
}
