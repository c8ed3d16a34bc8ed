/// Services (kong-compat §1.1, `kong/db/schema/entities/services.lua`), with the `url` shorthand.
extension DeclarativeBuilder {
    static let serviceTimeout = FieldSpec.integer(default: 60000, between: 1...2_147_483_646)

    static let serviceFields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("name", Typedefs.utf8Name),
        SchemaField("retries", .integer(default: 5, between: 0...32767)),
        SchemaField("protocol", .string(required: true, default: "http", oneOf: KongConstants.protocols)),
        SchemaField("host", FieldSpec(.string, required: true, validators: Typedefs.host.validators)),
        SchemaField("port", .integer(required: true, default: 80, between: 0...65535)),
        SchemaField("path", Typedefs.path),
        SchemaField("connect_timeout", serviceTimeout),
        SchemaField("write_timeout", serviceTimeout),
        SchemaField("read_timeout", serviceTimeout),
        CommonFields.tags,
        SchemaField("tls_verify", .boolean()),
        SchemaField("tls_verify_depth", .integer(between: 0...64)),
        SchemaField("ca_certificates", .array(of: Typedefs.uuid)),
        SchemaField("enabled", .boolean(required: true, default: true)),
    ]

    /// Kong's conditional entity checks, reported on the field that must be null.
    static let serviceChecks: [RecordCheck] = [
        RecordCheck { record, path in
            guard let proto = record["protocol"]?.stringValue else { return [] }
            var errors: [FieldError] = []
            if ["tcp", "tls", "udp", "grpc", "grpcs"].contains(proto), RecordCheck.isNonEmpty(record["path"]) {
                errors.append(FieldError(path: DocPath.join(path, "path"), message: KongMessage.mustBeNull))
            }
            if !["https", "tls"].contains(proto) {
                for field in ["tls_verify", "tls_verify_depth", "ca_certificates"] where !(record[field]?.isNull ?? true) {
                    errors.append(FieldError(path: DocPath.join(path, field), message: KongMessage.mustBeNull))
                }
            }
            return errors
        },
    ]

    func decodeService(_ node: DocNode, path: String) {
        guard var input = readEntity(
            node, path: path, children: ["routes", "plugins"], foreign: ["client_certificate": "certificates"], parent: nil)
        else { return }
        let urlPath = DocPath.join(path, "url")
        var fromURL: Set<String> = []
        let url = input.fields.removeValue(forKey: "url")
        if let url, !url.isNull {
            if let text = url.stringValue {
                let conflicting = ["host", "port", "protocol", "path"].filter { input.has($0) }
                if conflicting.isEmpty {
                    for (key, value) in ServiceURL.expand(text) {
                        input.fields[key] = value
                        fromURL.insert(key)
                    }
                } else {
                    issues.add(urlPath, "only one or none of these fields must be set: " + KongMessage.quoted(["url"] + conflicting))
                }
            } else {
                issues.add(urlPath, KongMessage.string)
            }
        }
        var errors: [FieldError] = []
        let fields = SchemaValidator.validateRecord(input.fields, Self.serviceFields, path: path, errors: &errors)
        if errors.isEmpty {
            for check in Self.serviceChecks { errors.append(contentsOf: check.run(fields, path)) }
        }
        // Accepted by Kong's schema, but not proxied by Argus yet: refused rather than answered 502 later
        if errors.isEmpty, let proto = fields["protocol"]?.stringValue, !["http", "https", "grpc", "grpcs"].contains(proto) {
            errors.append(FieldError(
                path: DocPath.join(path, "protocol"),
                message: "Argus can not proxy '\(proto)' services yet (only http, https, grpc and grpcs)"))
        }
        // errors in fields that came from `url` are reported on `url`; a bad `url` does not also
        // make `host` missing
        let hostPath = DocPath.join(path, "host")
        if let url, !url.isNull, fromURL.isEmpty {
            errors.removeAll { $0.path == hostPath && $0.message == KongMessage.required }
        }
        issues.add(errors.map { error in
            guard let field = fromURL.first(where: { error.path == DocPath.join(path, $0) }) else { return error }
            return FieldError(path: urlPath, message: "\(field): \(error.message)")
        })
        let name = fields["name"]?.stringValue
        let id = entityID(fields, entity: "services", key: name, path: path)
        let service = Service(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"), name: name,
            protocol: fields["protocol"]?.stringValue ?? "http", host: fields["host"]?.stringValue ?? "",
            port: fields["port"]?.intValue ?? 80, path: fields["path"]?.stringValue,
            retries: fields["retries"]?.intValue ?? 5, connectTimeout: fields["connect_timeout"]?.intValue ?? 60000,
            writeTimeout: fields["write_timeout"]?.intValue ?? 60000, readTimeout: fields["read_timeout"]?.intValue ?? 60000,
            tags: CommonFields.strings(fields["tags"]), tlsVerify: fields["tls_verify"]?.boolValue,
            tlsVerifyDepth: fields["tls_verify_depth"]?.intValue, caCertificates: CommonFields.strings(fields["ca_certificates"]),
            enabled: fields["enabled"]?.boolValue ?? true)
        services.append(Pending(model: service, path: path, references: input.references))
        decodeChildren(input, parent: ParentLink(field: "service", entity: "services", id: id))
    }
}
