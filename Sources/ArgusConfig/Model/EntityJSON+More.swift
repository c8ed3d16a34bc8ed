extension EntityJSON {
    private static func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    private static func strings(_ list: [String]?) -> JSONValue { list.map { .array($0.map(JSONValue.string)) } ?? .null }
    private static func foreign(_ id: String?) -> JSONValue { id.map { .object(["id": .string($0)]) } ?? .null }

    public static func plugin(_ p: Plugin) -> JSONValue {
        .object([
            "id": .string(p.id), "created_at": .int(p.createdAt), "updated_at": .int(p.updatedAt), "name": .string(p.name),
            "instance_name": optional(p.instanceName), "route": foreign(p.routeID), "service": foreign(p.serviceID),
            "consumer": foreign(p.consumerID), "config": configShowingNulls(p), "protocols": .array(p.protocols.map(JSONValue.string)),
            "enabled": .bool(p.enabled), "tags": strings(p.tags), "ws_id": .string(defaultWorkspaceID),
        ])
    }

    public static func caCertificate(_ c: CACertificate) -> JSONValue {
        .object([
            "id": .string(c.id), "created_at": .int(c.createdAt), "updated_at": .int(c.updatedAt), "cert": .string(c.cert),
            "cert_digest": .string(c.certDigest), "tags": strings(c.tags),
        ])
    }

    /// A certificate as Kong shows it: with `snis`, the names pointing at it (sorted).
    public static func certificate(_ c: Certificate, snis: [SNI]) -> JSONValue {
        .object([
            "id": .string(c.id), "created_at": .int(c.createdAt), "updated_at": .int(c.updatedAt), "cert": .string(c.cert),
            "key": .string(c.key), "cert_alt": optional(c.certAlt), "key_alt": optional(c.keyAlt), "tags": strings(c.tags),
            "snis": .array(snis.filter { $0.certificateID == c.id }.map(\.name).sorted().map(JSONValue.string)),
            "ws_id": .string(defaultWorkspaceID),
        ])
    }

    public static func sni(_ s: SNI) -> JSONValue {
        .object([
            "id": .string(s.id), "created_at": .int(s.createdAt), "updated_at": .int(s.updatedAt), "name": .string(s.name),
            "certificate": foreign(s.certificateID), "tags": strings(s.tags), "ws_id": .string(defaultWorkspaceID),
        ])
    }

    /// A plugin's config as Kong shows it: every field of its schema, those without a value `null`
    /// (the stored config leaves them out).
    static func configShowingNulls(_ p: Plugin) -> JSONValue {
        guard let spec = PluginRegistry.schema(named: p.name)?.configSpec else { return p.config }
        return fillingNulls(p.config, spec)
    }

    private static func fillingNulls(_ value: JSONValue, _ spec: FieldSpec) -> JSONValue {
        switch (spec.kind, value) {
        case (.record(let fields, _), .object(var object)):
            for field in fields {
                object[field.name] = object[field.name].map { fillingNulls($0, field.spec) } ?? .null
            }
            return .object(object)
        case (.array(let element), .array(let items)), (.set(let element), .array(let items)):
            return .array(items.map { fillingNulls($0, element) })
        case (.map(_, let values), .object(let object)):
            return .object(object.mapValues { fillingNulls($0, values) })
        default:
            return value
        }
    }

    public static func upstream(_ u: Upstream) -> JSONValue {
        .object([
            "id": .string(u.id), "created_at": .int(u.createdAt), "updated_at": .int(u.updatedAt), "name": .string(u.name),
            "algorithm": .string(u.algorithm), "hash_on": .string(u.hashOn), "hash_fallback": .string(u.hashFallback),
            "hash_on_header": optional(u.hashOnHeader), "hash_fallback_header": optional(u.hashFallbackHeader),
            "hash_on_cookie": optional(u.hashOnCookie), "hash_on_cookie_path": .string(u.hashOnCookiePath),
            "hash_on_query_arg": optional(u.hashOnQueryArg), "hash_fallback_query_arg": optional(u.hashFallbackQueryArg),
            "hash_on_uri_capture": optional(u.hashOnURICapture), "hash_fallback_uri_capture": optional(u.hashFallbackURICapture),
            "slots": .int(u.slots), "healthchecks": u.healthchecks, "tags": strings(u.tags), "host_header": optional(u.hostHeader),
            "client_certificate": foreign(u.clientCertificateID), "use_srv_name": .bool(u.useSrvName), "ws_id": .string(defaultWorkspaceID),
        ])
    }

    public static func target(_ t: Target) -> JSONValue {
        .object([
            "id": .string(t.id), "created_at": .double(t.createdAt), "updated_at": .double(t.updatedAt),
            "upstream": foreign(t.upstreamID), "target": .string(t.target), "weight": .int(t.weight), "tags": strings(t.tags),
            "ws_id": .string(defaultWorkspaceID),
        ])
    }

    /// A credential (key-auth key, jwt secret, acl group, basic-auth user) with Kong's fields; unset
    /// optional fields of its kind are `null`.
    public static func credential(_ c: Credential) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(c.id), "created_at": .int(c.createdAt), "consumer": foreign(c.consumerID), "tags": strings(c.tags),
            "ws_id": .string(defaultWorkspaceID),
        ]
        for field in EntitySchemas.fields(of: c.kind) where fields[field.name] == nil {
            fields[field.name] = c.fields[field.name] ?? .null
        }
        return .object(fields)
    }

    /// The entities of `kind` (a declarative key: `services`, `keyauth_credentials`…) as Kong shows them.
    public static func entities(_ kind: String, in config: DeclarativeConfig) -> [JSONValue] {
        switch kind {
        case "services": return config.services.map(service)
        case "routes": return config.routes.map(route)
        case "consumers": return config.consumers.map(consumer)
        case "plugins": return config.plugins.map(plugin)
        case "upstreams": return config.upstreams.map(upstream)
        case "targets": return config.targets.map(target)
        case "ca_certificates": return config.caCertificates.map(caCertificate)
        case "certificates": return config.certificates.map { certificate($0, snis: config.snis) }
        case "snis": return config.snis.map(sni)
        default: return config.credentials.filter { $0.kind == kind }.map(credential)
        }
    }

    /// Every entity type of a declarative document, parents before children.
    public static let kinds = [
        "ca_certificates", "certificates", "snis", "services", "routes", "consumers", "upstreams", "targets", "plugins",
        "keyauth_credentials", "jwt_secrets", "acls", "basicauth_credentials",
    ]

    /// The whole configuration as a flat declarative document (foreign keys as `{id: …}`, each
    /// list ordered by id), which loads back into the same configuration. `_transform` is false: basic-auth passwords are
    /// already hashed.
    public static func document(_ config: DeclarativeConfig) -> JSONValue {
        var root: [String: JSONValue] = ["_format_version": .string("3.0"), "_transform": .bool(false)]
        for kind in kinds {
            let items = entities(kind, in: config).map(declarative)
                .sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
            if !items.isEmpty { root[kind] = .array(items) }
        }
        return .object(root)
    }

    /// An entity as shown by the Admin API, made fit for a declarative document (no `ws_id`).
    public static func declarative(_ entity: JSONValue) -> JSONValue {
        guard case .object(var fields) = entity else { return entity }
        fields["ws_id"] = nil
        // a certificate's names are its SNI entities, listed on their own
        if fields["cert"] != nil, fields["key"] != nil { fields["snis"] = nil }
        return .object(fields)
    }
}
