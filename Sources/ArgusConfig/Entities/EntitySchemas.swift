/// The field schemas of each entity type (declarative key → fields), for callers that read
/// entity input by type before validation: the Admin API turns form values (`port=8080`,
/// `paths[]=/a`) into the types these name.
public enum EntitySchemas {
    public static func fields(of kind: String) -> [SchemaField] {
        switch kind {
        case "services": return DeclarativeBuilder.serviceFields
        case "routes": return RouteValidator.fields
        case "consumers": return DeclarativeBuilder.consumerFields
        case "upstreams": return DeclarativeBuilder.upstreamFields
        case "targets": return DeclarativeBuilder.targetFields
        case "ca_certificates": return DeclarativeBuilder.caCertificateFields
        case "certificates": return DeclarativeBuilder.certificateFields + [SchemaField("snis", .array(of: .string()))]
        case "snis": return DeclarativeBuilder.sniFields
        case "plugins": return DeclarativeBuilder.pluginFields(protocols: KongConstants.httpProtocols)
        default:
            return [CommonFields.id, CommonFields.createdAt] + (DeclarativeBuilder.credentialFields[kind] ?? []) + [CommonFields.tags]
        }
    }

    /// The errors of the fields `record` has, checked by the schema of `kind` without requiring
    /// the others (Kong's `validate(value, false)` of a foreign reference without its primary
    /// key): paths under `path` (`service.protocol`).
    public static func partialErrors(of kind: String, _ record: [String: JSONValue], path: String) -> [FieldError] {
        let present = fields(of: kind).filter { record[$0.name] != nil }
        var errors: [FieldError] = []
        _ = SchemaValidator.validateRecord(record, present, path: path, errors: &errors)
        return errors
    }
}
