/// Kong's `response-ratelimiting` plugin (3.9's schema): named limits (`limits.<name>.<period>`)
/// that the upstream's responses spend (`X-Kong-Limit: video=1`), `limit_by`, the `local` and
/// `redis` policies (the nested `redis` record and the deprecated flat `redis_*` fields, as
/// rate-limiting), `block_on_first_violation`, `hide_client_headers`.
public enum ResponseRateLimitingPluginSchema {
    /// One limit's windows: at least one, a longer one never allowing fewer than a shorter one.
    static let limit = FieldSpec.record(
        RateLimitingPluginSchema.periods.map { SchemaField($0, .number(greaterThan: 0)) },
        checks: [.atLeastOneOf(RateLimitingPluginSchema.periods)])

    static let limits = FieldSpec(.map(keys: .string(required: true), values: limit), required: true, validators: [{ value in
        guard case .object(let fields) = value else { return nil }
        if fields.isEmpty { return KongMessage.lenMin(1) }
        // Kong's `validate_periods_order`, reported on the map (its message starts lower-case)
        for name in fields.keys.sorted() {
            guard case .object(let record)? = fields[name] else { continue }
            if let error = RateLimitingPluginSchema.periodOrder(record, "").first {
                return "t" + error.message.dropFirst()
            }
        }
        return nil
    }])

    static let spec = FieldSpec.record(
        [
            SchemaField("header_name", .string(default: "x-kong-limit")),
            SchemaField("limit_by", .string(default: "consumer", oneOf: ["consumer", "credential", "ip"])),
            SchemaField("policy", .string(default: "local", oneOf: ["local", "cluster", "redis"])),
            SchemaField("fault_tolerant", .boolean(required: true, default: true)),
            SchemaField("redis", RateLimitingPluginSchema.redis),
            SchemaField("block_on_first_violation", .boolean(required: true, default: false)),
            SchemaField("hide_client_headers", .boolean(required: true, default: false)),
            SchemaField("limits", limits),
        ],
        checks: [
            RecordCheck { record, path in
                switch record["policy"]?.stringValue {
                case "redis" where !RecordCheck.isNonEmpty(record["redis"]?["host"]):
                    return [FieldError(path: path + ".redis.host", message: KongMessage.required)]
                case "cluster":
                    // Kong offers `cluster` only with a database; Argus keeps shared counters in Redis
                    return [FieldError(
                        path: path + ".policy",
                        message: "[response-ratelimiting] 'cluster' policy is not supported: use 'local' or 'redis'")]
                default:
                    return []
                }
            },
        ])

    public static let schema = PluginSchema(name: "response-ratelimiting", priority: 900, configSpec: spec) { config, path, errors in
        SchemaValidator.validate(RateLimitingPluginSchema.movingFlatRedisFields(config), spec, path: path, errors: &errors) ?? config
    }
}
