import ArgusConfig

/// rate-limiting's deprecated flat `redis_*` fields as Kong 3.9's Admin API keeps them (its
/// schema's shorthand fields with `replaced_with`): every answer shows them, mirroring the nested
/// `redis` record (`null` where it has no value), and a PATCH that names one sets the nested field
/// it stands for. The stored configuration has the nested record only.
enum LegacyRedisFields {
    static func applies(to plugin: JSONValue) -> Bool {
        plugin["name"]?.stringValue == "rate-limiting"
    }

    /// The plugin as an answer shows it: the flat fields beside the nested record.
    static func presented(_ plugin: JSONValue) -> JSONValue {
        guard applies(to: plugin), case .object(var fields) = plugin, case .object(var config)? = fields["config"] else { return plugin }
        let redis = config["redis"]?.objectValue ?? [:]
        for (flat, nested) in RateLimitingPluginSchema.flatRedisAliases { config[flat] = redis[nested] ?? .null }
        fields["config"] = .object(config)
        return .object(fields)
    }

    /// A stored plugin's config with the shown flat fields taken out (they are copies).
    static func stripped(_ config: JSONValue?) -> JSONValue? {
        guard case .object(var fields)? = config else { return config }
        for (flat, _) in RateLimitingPluginSchema.flatRedisAliases { fields[flat] = nil }
        return .object(fields)
    }

    /// `merged` (a PATCH applied) with the flat fields the PATCH named written into the nested
    /// record: a value the request gives explicitly wins over the stored one.
    static func applyingPatch(_ merged: JSONValue?, patch: JSONValue?) -> JSONValue? {
        guard case .object(var config)? = merged, case .object(let given)? = patch else { return merged }
        var redis = config["redis"]?.objectValue ?? [:]
        for (flat, nested) in RateLimitingPluginSchema.flatRedisAliases {
            if let value = given[flat], !value.isNull { redis[nested] = value }
            config[flat] = nil
        }
        config["redis"] = .object(redis)
        return .object(config)
    }
}
