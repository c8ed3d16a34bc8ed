/// Entities as Kong shows them (Admin API responses, the log serializer's `service`, `route` and
/// `consumer`): Kong's field names, `null` for an unset optional field.
public enum EntityJSON {
    private static func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    private static func strings(_ list: [String]?) -> JSONValue { list.map { .array($0.map(JSONValue.string)) } ?? .null }

    public static func service(_ s: Service) -> JSONValue {
        .object([
            "id": .string(s.id), "created_at": .int(s.createdAt), "updated_at": .int(s.updatedAt), "name": optional(s.name),
            "protocol": .string(s.protocol), "host": .string(s.host), "port": .int(s.port), "path": optional(s.path),
            "retries": .int(s.retries), "connect_timeout": .int(s.connectTimeout), "write_timeout": .int(s.writeTimeout),
            "read_timeout": .int(s.readTimeout), "tags": strings(s.tags), "tls_verify": s.tlsVerify.map(JSONValue.bool) ?? .null,
            "tls_verify_depth": s.tlsVerifyDepth.map(JSONValue.int) ?? .null, "enabled": .bool(s.enabled),
            "client_certificate": s.clientCertificateID.map { .object(["id": .string($0)]) } ?? .null, "ca_certificates": strings(s.caCertificates), "ws_id": .string(defaultWorkspaceID),
        ])
    }

    public static func route(_ r: Route) -> JSONValue {
        var headers: JSONValue = .null
        if let h = r.headers { headers = .object(h.mapValues { .array($0.map(JSONValue.string)) }) }
        return .object([
            "id": .string(r.id), "created_at": .int(r.createdAt), "updated_at": .int(r.updatedAt), "name": optional(r.name),
            "protocols": .array(r.protocols.map(JSONValue.string)), "methods": strings(r.methods), "hosts": strings(r.hosts),
            "paths": strings(r.paths), "headers": headers, "snis": strings(r.snis), "sources": .null, "destinations": .null,
            "strip_path": .bool(r.stripPath), "preserve_host": .bool(r.preserveHost), "regex_priority": .int(r.regexPriority),
            "path_handling": .string(r.pathHandling), "https_redirect_status_code": .int(r.httpsRedirectStatusCode),
            "request_buffering": .bool(r.requestBuffering), "response_buffering": .bool(r.responseBuffering),
            "service": r.serviceID.map { .object(["id": .string($0)]) } ?? .null, "tags": strings(r.tags),
            "ws_id": .string(defaultWorkspaceID),
        ])
    }

    public static func consumer(_ c: Consumer) -> JSONValue {
        .object([
            "id": .string(c.id), "created_at": .int(c.createdAt), "updated_at": .int(c.updatedAt),
            "username": optional(c.username), "custom_id": optional(c.customID), "tags": strings(c.tags),
        ])
    }
}

extension EntityJSON {
    /// The id of Argus's one workspace, `default` (Kong's `ws_id`, the log serializer's
    /// `workspace`): a fixed UUIDv5, so it is the same on every node and across restarts.
    public static let defaultWorkspaceID = UUIDv5.make(namespace: EntityIDs.entitiesNamespace, name: "workspaces:default")
}
