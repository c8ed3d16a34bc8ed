/// Upstreams (kong-compat §1.5) and their targets (§1.6).
extension DeclarativeBuilder {
    static let hashOnValues = ["none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"]

    static func upstreamName(_ name: String) -> String? {
        switch HostRules.normalize(name) {
        case .failure: return "Invalid name ('\(name)'); must be a valid hostname"
        case .success(let p) where p.kind != .name: return "Invalid name ('\(name)'); no ip addresses allowed"
        case .success(let p) where p.port != nil: return "Invalid name ('\(name)'); no port allowed"
        case .success: return nil
        }
    }

    static let upstreamFields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("name", .string(required: true, validators: [Typedefs.string(upstreamName)])),
        SchemaField("algorithm", .string(default: "round-robin", oneOf: ["consistent-hashing", "least-connections", "round-robin", "latency"])),
        SchemaField("hash_on", .string(default: "none", oneOf: hashOnValues)),
        SchemaField("hash_fallback", .string(default: "none", oneOf: hashOnValues)),
        SchemaField("hash_on_header", Typedefs.headerName),
        SchemaField("hash_fallback_header", Typedefs.headerName),
        SchemaField("hash_on_cookie", .string(validators: [Typedefs.string(NameRules.cookieName)])),
        SchemaField("hash_on_cookie_path", FieldSpec(.string, default: .string("/"), startsWith: "/", validators: PathRules.servicePathValidators)),
        SchemaField("hash_on_query_arg", .string()),
        SchemaField("hash_fallback_query_arg", .string()),
        SchemaField("hash_on_uri_capture", .string()),
        SchemaField("hash_fallback_uri_capture", .string()),
        SchemaField("slots", .integer(default: 10000, between: 10...65536)),
        SchemaField("healthchecks", HealthchecksDefaults.spec),
        CommonFields.tags,
        SchemaField("host_header", .string(validators: [Typedefs.string(HostRules.validateHostWithOptionalPort)])),
        SchemaField("use_srv_name", .boolean(default: false)),
    ]

    static let upstreamChecks: [RecordCheck] = {
        func on(_ value: String) -> @Sendable (JSONValue) -> Bool { { $0.stringValue == value } }
        let all = hashOnValues
        return [
            .requires("hash_on_header", when: "hash_on", on("header")),
            .requires("hash_fallback_header", when: "hash_fallback", on("header")),
            .requires("hash_on_cookie", when: "hash_on", on("cookie")),
            .requires("hash_on_cookie", when: "hash_fallback", on("cookie")),
            .requires("hash_on_query_arg", when: "hash_on", on("query_arg")),
            .requires("hash_fallback_query_arg", when: "hash_fallback", on("query_arg")),
            .requires("hash_on_uri_capture", when: "hash_on", on("uri_capture")),
            .requires("hash_fallback_uri_capture", when: "hash_fallback", on("uri_capture")),
            .restricts("hash_fallback", to: ["none"], when: "hash_on", on("none")),
            .restricts("hash_fallback", to: ["none"], when: "hash_on", on("cookie")),
            .restricts("hash_fallback", to: all.filter { $0 != "consumer" }, when: "hash_on", on("consumer")),
            .restricts("hash_fallback", to: all.filter { $0 != "ip" }, when: "hash_on", on("ip")),
            .restricts("hash_fallback", to: all.filter { $0 != "path" }, when: "hash_on", on("path")),
            .distinct(["hash_on_header", "hash_fallback_header"]),
            .distinct(["hash_on_query_arg", "hash_fallback_query_arg"]),
            .distinct(["hash_on_uri_capture", "hash_fallback_uri_capture"]),
        ]
    }()

    /// Kong's upstream shorthands: `least-connections`/`latency` drop `hash_on`; a given `hash_on`
    /// forces the algorithm (`none` → round-robin, anything else → consistent-hashing).
    static func applyHashShorthands(_ fields: inout [String: JSONValue]) {
        if let algorithm = fields["algorithm"]?.stringValue, ["least-connections", "latency"].contains(algorithm) {
            fields["hash_on"] = nil
        } else if let hashOn = fields["hash_on"]?.stringValue {
            fields["algorithm"] = .string(hashOn == "none" ? "round-robin" : "consistent-hashing")
        }
    }

    func decodeUpstream(_ node: DocNode, path: String) {
        guard var input = readEntity(
            node, path: path, children: ["targets"], foreign: ["client_certificate": "certificates"], parent: nil)
        else { return }
        Self.applyHashShorthands(&input.fields)
        let fields = validateFields(input, Self.upstreamFields, checks: Self.upstreamChecks)
        let name = fields["name"]?.stringValue ?? ""
        let id = entityID(fields, entity: "upstreams", key: fields["name"]?.stringValue, path: path)
        func string(_ key: String) -> String? { fields[key]?.stringValue }
        let upstream = Upstream(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"), name: name,
            algorithm: string("algorithm") ?? "round-robin", hashOn: string("hash_on") ?? "none",
            hashFallback: string("hash_fallback") ?? "none", hashOnHeader: string("hash_on_header"),
            hashFallbackHeader: string("hash_fallback_header"), hashOnCookie: string("hash_on_cookie"),
            hashOnCookiePath: string("hash_on_cookie_path") ?? "/", hashOnQueryArg: string("hash_on_query_arg"),
            hashFallbackQueryArg: string("hash_fallback_query_arg"), hashOnURICapture: string("hash_on_uri_capture"),
            hashFallbackURICapture: string("hash_fallback_uri_capture"), slots: fields["slots"]?.intValue ?? 10000,
            healthchecks: fields["healthchecks"] ?? HealthchecksDefaults.defaults, hostHeader: string("host_header"),
            useSrvName: fields["use_srv_name"]?.boolValue ?? false, tags: CommonFields.strings(fields["tags"]))
        upstreams.append(Pending(model: upstream, path: path, references: input.references))
        decodeChildren(input, parent: ParentLink(field: "upstream", entity: "upstreams", id: id))
    }

    static func targetAddress(_ target: String) -> String? {
        if case .failure = HostRules.normalize(target) {
            return "Invalid target ('\(target)'); not a valid hostname or ip address"
        }
        return nil
    }

    static let targetFields: [SchemaField] = [
        CommonFields.id,
        SchemaField("created_at", .number(validators: [{ ($0.doubleValue ?? 0) > 0 ? nil : KongMessage.timestamp }])),
        SchemaField("updated_at", .number(validators: [{ ($0.doubleValue ?? 0) > 0 ? nil : KongMessage.timestamp }])),
        SchemaField("target", .string(required: true, validators: [Typedefs.string(targetAddress)])),
        SchemaField("weight", .integer(default: 100, between: 0...65535)),
        CommonFields.tags,
    ]

    func decodeTarget(_ node: DocNode, path: String, parent: ParentLink?) {
        guard let input = readEntity(node, path: path, foreign: ["upstream": "upstreams"], parent: parent) else { return }
        let fields = validateFields(input, Self.targetFields)
        if input.references["upstream"] == nil {
            issues.add(DocPath.join(path, "upstream"), KongMessage.required)
        }
        let written = fields["target"]?.stringValue
        let parsed = written.flatMap { try? HostRules.normalize($0).get() }
        let key = written.flatMap { target in
            input.references["upstream"].map { EntityIDs.cacheKey("targets", [$0.reference.cacheKeyPart, target]) }
        }
        let id = entityID(fields, entity: "targets", key: key, path: path)
        let target = Target(
            id: id, createdAt: fields["created_at"]?.doubleValue ?? nowTargetSeconds,
            updatedAt: fields["updated_at"]?.doubleValue ?? nowTargetSeconds, upstreamID: "",
            target: parsed.map { HostRules.format($0, defaultPort: 8000) } ?? (written ?? ""),
            host: parsed?.host ?? "", port: parsed?.port ?? 8000, weight: fields["weight"]?.intValue ?? 100,
            tags: CommonFields.strings(fields["tags"]))
        targets.append(Pending(model: target, path: path, references: input.references))
    }
}
