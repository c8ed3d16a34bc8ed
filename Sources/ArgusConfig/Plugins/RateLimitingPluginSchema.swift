/// Kong's `rate-limiting` plugin (kong-compat §5.1): the six calendar windows, `limit_by`, the
/// `local` and `redis` policies (with Kong 3.6's nested `redis` record and the deprecated flat
/// `redis_*` aliases), plus Argus's own `algorithm` (`fixed`, Kong's, or `sliding`).
public enum RateLimitingPluginSchema {
    public static let periods = ["second", "minute", "hour", "day", "month", "year"]

    /// Kong ≤ 3.5's flat fields and the nested field each one now sets.
    public static let flatRedisAliases: [(flat: String, nested: String)] = [
        ("redis_host", "host"), ("redis_port", "port"), ("redis_password", "password"), ("redis_username", "username"),
        ("redis_ssl", "ssl"), ("redis_ssl_verify", "ssl_verify"), ("redis_server_name", "server_name"),
        ("redis_timeout", "timeout"), ("redis_database", "database"),
    ]

    static let redis = FieldSpec.record([
        SchemaField("host", Typedefs.host),
        SchemaField("port", .integer(default: 6379, between: 0...65535)),
        SchemaField("timeout", .integer(default: 2000, between: 0...2_147_483_646)),
        SchemaField("connect_timeout", .integer(between: 0...2_147_483_646)),
        SchemaField("send_timeout", .integer(between: 0...2_147_483_646)),
        SchemaField("read_timeout", .integer(between: 0...2_147_483_646)),
        SchemaField("username", .string()),
        SchemaField("password", .string(lenMin: 0)),
        SchemaField("database", .integer(default: 0)),
        SchemaField("ssl", .boolean(default: false)),
        SchemaField("ssl_verify", .boolean(default: false)),
        SchemaField("server_name", Typedefs.sni),
        SchemaField("keepalive_pool_size", .integer(default: 256, between: 1...2_147_483_646)),
        SchemaField("keepalive_backlog", .integer(between: 0...2_147_483_646)),
    ])

    static let spec = FieldSpec.record(
        periods.map { SchemaField($0, .number(greaterThan: 0)) } + [
            SchemaField("limit_by", .string(default: "consumer", oneOf: ["consumer", "credential", "ip", "service", "header", "path"])),
            SchemaField("header_name", Typedefs.headerName),
            SchemaField("path", Typedefs.path),
            SchemaField("policy", .string(default: "local", oneOf: ["local", "cluster", "redis"], lenMin: 0)),
            SchemaField("fault_tolerant", .boolean(required: true, default: true)),
            SchemaField("redis", redis),
            SchemaField("hide_client_headers", .boolean(required: true, default: false)),
            SchemaField("error_code", .number(default: 429, greaterThan: 0)),
            SchemaField("error_message", .string(default: "API rate limit exceeded")),
            SchemaField("sync_rate", .number(required: true, default: -1)),
            SchemaField("algorithm", .string(default: "fixed", oneOf: ["fixed", "sliding"])),
        ],
        checks: [
            .configAtLeastOneOf(periods),
            RecordCheck { record, path in periodOrder(record, path) },
            RecordCheck { record, path in
                var errors: [FieldError] = []
                let limitBy = record["limit_by"]?.stringValue
                if limitBy == "header", !RecordCheck.isNonEmpty(record["header_name"]) {
                    errors.append(FieldError(path: path + ".header_name", message: KongMessage.required))
                }
                if limitBy == "path", !RecordCheck.isNonEmpty(record["path"]) {
                    errors.append(FieldError(path: path + ".path", message: KongMessage.required))
                }
                switch record["policy"]?.stringValue {
                case "redis":
                    if !RecordCheck.isNonEmpty(record["redis"]?["host"]) {
                        errors.append(FieldError(path: path + ".redis.host", message: KongMessage.required))
                    }
                case "cluster":
                    // Kong refuses `cluster` without a database; Argus keeps counters in Redis, never a home-made cluster.
                    errors.append(FieldError(
                        path: path + ".policy",
                        message: "[rate-limiting] 'cluster' policy is not supported: use 'local' or 'redis'"))
                default:
                    break
                }
                if let rate = record["sync_rate"]?.doubleValue, rate != -1, rate < 0.02 {
                    errors.append(FieldError(path: path + ".sync_rate", message: "value must be -1 or at least 0.02"))
                }
                return errors
            },
        ])

    public static let schema = PluginSchema(name: "rate-limiting", priority: 910, configSpec: spec) { config, path, errors in
        SchemaValidator.validate(movingFlatRedisFields(config), spec, path: path, errors: &errors) ?? config
    }

    /// Kong's message for limits out of order: a longer window may not allow fewer requests.
    static func periodOrder(_ record: [String: JSONValue], _ path: String) -> [FieldError] {
        for (i, shorter) in periods.enumerated() {
            guard let v1 = record[shorter]?.doubleValue else { continue }
            for longer in periods[(i + 1)...] {
                if let v2 = record[longer]?.doubleValue, v2 < v1 {
                    let message = "The limit for \(longer)(\(oneDecimal(v2))) cannot be lower than the limit for \(shorter)(\(oneDecimal(v1)))"
                    return [FieldError(path: path, message: message)]
                }
            }
        }
        return []
    }

    static func oneDecimal(_ v: Double) -> String {
        let tenths = (v * 10).rounded()
        let whole = Int(tenths / 10)
        return "\(whole).\(abs(Int(tenths) % 10))"
    }

    /// The deprecated flat `redis_*` fields become the nested record's fields (Kong's shorthands);
    /// a nested value given as well wins.
    static func movingFlatRedisFields(_ config: JSONValue) -> JSONValue {
        guard case .object(var fields) = config, flatRedisAliases.contains(where: { fields[$0.flat] != nil }) else { return config }
        var redis: [String: JSONValue] = [:]
        if case .object(let nested)? = fields["redis"] { redis = nested }
        for (flat, nested) in flatRedisAliases {
            guard let value = fields.removeValue(forKey: flat) else { continue }
            if case .null = value { continue }
            if redis[nested] == nil || redis[nested]?.isNull == true { redis[nested] = value }
        }
        fields["redis"] = .object(redis)
        return .object(fields)
    }
}
