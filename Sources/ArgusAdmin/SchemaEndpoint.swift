import ArgusConfig

/// `GET /schemas/{entity}` and `GET /schemas/plugins/{name}`: the schemas Argus validates with,
/// in the shape of Kong's (`{"fields": [{"name": {"type": …, "required": …, "default": …}}]}`).
enum SchemaEndpoint {
    static func respond(_ request: AdminRequest, segments: [String]) -> AdminResponse? {
        guard request.method == "GET" || request.method == "HEAD" else { return .methodNotAllowed(allow: AdminResponse.readOnly) }
        switch segments.count {
        case 1:
            guard let kind = EntityKind.collection(segments[0]) ?? EntityKind.named(segments[0]) else {
                return .message(404, "No entity named '\(segments[0])'")
            }
            return .json(200, .object(["fields": fields(EntitySchemas.fields(of: kind.name))]))
        case 2 where segments[0] == "plugins":
            guard let schema = PluginRegistry.schema(named: segments[1]) else {
                return .message(404, "No plugin named '\(segments[1])'")
            }
            var config: JSONValue = .object(["type": .string("record"), "required": .bool(true)])
            if let spec = schema.configSpec { config = describe(spec) }
            let protocols = JSONValue.object([
                "type": .string("set"), "required": .bool(true),
                "default": .array(schema.protocols.map(JSONValue.string)),
                "elements": .object(["type": .string("string"), "one_of": .array(schema.acceptedProtocols.map(JSONValue.string))]),
            ])
            var list: [JSONValue] = []
            if !schema.allowsConsumerScope { list.append(.object(["consumer": .object(["type": .string("foreign"), "eq": .null])])) }
            list.append(.object(["protocols": protocols]))
            list.append(.object(["config": config]))
            return .json(200, .object(["fields": .array(list)]))
        default:
            return .notFound
        }
    }

    static func fields(_ list: [SchemaField]) -> JSONValue {
        .array(list.map { .object([$0.name: describe($0.spec)]) })
    }

    static func describe(_ spec: FieldSpec) -> JSONValue {
        var out: [String: JSONValue] = [:]
        switch spec.kind {
        case .string: out["type"] = .string("string")
        case .integer: out["type"] = .string("integer")
        case .number: out["type"] = .string("number")
        case .boolean: out["type"] = .string("boolean")
        case .any: out["type"] = .string("any")
        case .array(let element):
            out["type"] = .string("array")
            out["elements"] = describe(element)
        case .set(let element):
            out["type"] = .string("set")
            out["elements"] = describe(element)
        case .map(let keys, let values):
            out["type"] = .string("map")
            out["keys"] = describe(keys)
            out["values"] = describe(values)
        case .record(let fields, _):
            out["type"] = .string("record")
            out["fields"] = self.fields(fields)
        }
        if spec.required { out["required"] = .bool(true) }
        if let value = spec.defaultValue { out["default"] = value }
        if let oneOf = spec.oneOf { out["one_of"] = .array(oneOf) }
        if let range = spec.between {
            out["between"] = .array([number(range.lowerBound), number(range.upperBound)])
        }
        if let gt = spec.greaterThan { out["gt"] = number(gt) }
        if let min = spec.lenMin { out["len_min"] = .int(min) }
        if let max = spec.lenMax { out["len_max"] = .int(max) }
        if let prefix = spec.startsWith { out["starts_with"] = .string(prefix) }
        return .object(out)
    }

    private static func number(_ d: Double) -> JSONValue {
        d == d.rounded() && abs(d) < 9e15 ? .int(Int(d)) : .double(d)
    }
}
