/// Plugin instances (kong-compat §1.4): global, or scoped by service/route/consumer (nested or
/// referenced). The name must be a plugin Argus implements; `config` is validated by its schema.
extension DeclarativeBuilder {
    static func pluginFields(protocols: [String], accepted: [String]? = nil) -> [SchemaField] {
        [
            CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
            SchemaField("name", .string(required: true)),
            SchemaField("instance_name", Typedefs.utf8Name),
            SchemaField("protocols", FieldSpec(
                .set(.string(oneOf: accepted ?? protocols)), required: true, default: .array(protocols.map(JSONValue.string)))),
            SchemaField("enabled", .boolean(required: true, default: true)),
            CommonFields.tags,
        ]
    }

    func decodePlugin(_ node: DocNode, path: String, parent: ParentLink?) {
        guard var input = readEntity(
            node, path: path, foreign: ["route": "routes", "service": "services", "consumer": "consumers"], parent: parent)
        else { return }
        let rawConfig = input.fields.removeValue(forKey: "config")
        let name = input.fields["name"]?.stringValue
        let schema = name.flatMap { plugins[$0] }
        let fields = validateFields(
            input, Self.pluginFields(protocols: schema?.protocols ?? KongConstants.httpProtocols, accepted: schema?.acceptedProtocols))
        let configPath = DocPath.join(path, "config")
        var config = rawConfig ?? .object([:])
        if let name, schema == nil, !name.isEmpty {
            issues.add(DocPath.join(path, "name"), "plugin '\(name)' not enabled; add it to the 'plugins' configuration property")
        }
        if let schema {
            if config.isNull { config = .object([:]) }
            if case .object = config {
                var errors: [FieldError] = []
                config = schema.validate(config, configPath, &errors)
                issues.add(errors)
            } else {
                issues.add(configPath, KongMessage.record)
            }
            if !schema.allowsConsumerScope, input.references["consumer"] != nil {
                issues.add(DocPath.join(path, "consumer"), KongMessage.mustBeNull)
            }
        }
        let key = name.map {
            EntityIDs.cacheKey("plugins", [$0, cacheKeyPart(input, "route"), cacheKeyPart(input, "service"), cacheKeyPart(input, "consumer")])
        }
        let id = entityID(fields, entity: "plugins", key: key, path: path)
        let plugin = Plugin(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"),
            name: name ?? "", instanceName: fields["instance_name"]?.stringValue, config: config,
            protocols: CommonFields.strings(fields["protocols"]) ?? KongConstants.httpProtocols,
            enabled: fields["enabled"]?.boolValue ?? true, tags: CommonFields.strings(fields["tags"]))
        pluginEntries.append(Pending(model: plugin, path: path, references: input.references))
    }
}
