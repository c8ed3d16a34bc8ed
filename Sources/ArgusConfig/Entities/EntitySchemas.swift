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
}
