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
            return .json(200, .object(["fields": .array(list), "entity_checks": .array(entityChecks(schema.name))]))
        default:
            return .notFound
        }
    }

    /// A plugin's entity checks as Kong's `schema_to_jsonable` writes them (its `schema.lua`'s
    /// `entity_checks`, functions left out); `[]` for the plugins that have none.
    static func entityChecks(_ plugin: String) -> [JSONValue] {
        func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
        func required(if field: String, is value: String, then other: String) -> JSONValue {
            .object(["conditional": .object([
                "if_field": .string(field), "if_match": .object(["eq": .string(value)]),
                "then_field": .string(other), "then_match": .object(["required": .bool(true)]),
            ])])
        }
        switch plugin {
        case "rate-limiting":
            return [
                .object(["at_least_one_of": strings(["config.second", "config.minute", "config.hour", "config.day", "config.month", "config.year"])]),
                required(if: "config.policy", is: "redis", then: "config.redis.host"),
                required(if: "config.policy", is: "redis", then: "config.redis.port"),
                required(if: "config.policy", is: "redis", then: "config.redis.timeout"),
                required(if: "config.limit_by", is: "header", then: "config.header_name"),
                required(if: "config.limit_by", is: "path", then: "config.path"),
            ]
        case "acl":
            return [
                .object(["only_one_of": strings(["config.allow", "config.deny"])]),
                .object(["at_least_one_of": strings(["config.allow", "config.deny"])]),
            ]
        case "ip-restriction":
            return [.object(["at_least_one_of": strings(["config.allow", "config.deny"])])]
        case "jwt":
            return [.object(["conditional": .object([
                "if_field": .string("config.maximum_expiration"), "if_match": .object(["gt": .int(0)]),
                "then_field": .string("config.claims_to_verify"), "then_match": .object(["contains": .string("exp")]),
            ])])]
        case "proxy-cache":
            return [.object(["custom_entity_check": .object(["field_sources": strings(["config"])])])]
        default:
            return []
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
