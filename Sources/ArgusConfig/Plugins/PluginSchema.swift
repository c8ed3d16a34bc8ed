/// What Argus knows about one plugin it implements: its name, its handler priority (execution
/// order, Kong's PRIORITY), whether it may be scoped to a consumer, the protocols it supports, and
/// how to validate its `config` record and fill in defaults.
public struct PluginSchema: Sendable {
    public typealias Validate = @Sendable (_ config: JSONValue, _ path: String, _ errors: inout [FieldError]) -> JSONValue

    public let name: String
    public let priority: Int
    /// false for plugins Kong forbids on consumers (key-auth, jwt, acl, cors, …): a `consumer`
    /// on such an instance is rejected with `value must be null`.
    public let allowsConsumerScope: Bool
    /// The default of the instance's `protocols`.
    public let protocols: [String]
    /// Accepted values of `protocols`: the default's, or every protocol Kong knows for the plugins
    /// whose schema says `typedefs.protocols` (the log plugins, prometheus, proxy-cache,
    /// request-transformer, ip-restriction); an instance for stream protocols only is inert.
    public let acceptedProtocols: [String]
    /// Validates `config` (always a record; `{}` when the file has none), appending errors with
    /// paths under `path` (e.g. `plugins[0].config.minute`), and returns it with defaults filled in.
    public let validate: Validate
    /// The plugin logs requests: the data path records the request's details (raw heads, upstream
    /// target, tries) for the requests an instance applies to.
    public let recordsRequestDetail: Bool
    /// The `config` record's schema when it has one: the Admin API reads form values by it
    /// (`config.minute=5` is the integer 5) and `/schemas/plugins/{name}` shows it.
    public let configSpec: FieldSpec?

    public init(
        name: String, priority: Int, allowsConsumerScope: Bool = true,
        protocols: [String] = ["grpc", "grpcs", "http", "https"], acceptsStreamProtocols: Bool = false,
        recordsRequestDetail: Bool = false, configSpec: FieldSpec? = nil, validate: @escaping Validate
    ) {
        self.name = name
        self.priority = priority
        self.allowsConsumerScope = allowsConsumerScope
        self.protocols = protocols
        self.acceptedProtocols = acceptsStreamProtocols ? KongConstants.protocols : protocols
        self.recordsRequestDetail = recordsRequestDetail
        self.configSpec = configSpec
        self.validate = validate
    }

    /// A plugin whose `config` is described by a record schema: fields with Kong semantics
    /// (defaults, `required field missing`, `unknown field`, ranges…) plus record-level checks.
    public init(
        name: String, priority: Int, allowsConsumerScope: Bool = true,
        protocols: [String] = ["grpc", "grpcs", "http", "https"], acceptsStreamProtocols: Bool = false,
        recordsRequestDetail: Bool = false, config fields: [SchemaField], checks: [RecordCheck] = []
    ) {
        let spec = FieldSpec.record(fields, checks: checks)
        self.init(
            name: name, priority: priority, allowsConsumerScope: allowsConsumerScope, protocols: protocols,
            acceptsStreamProtocols: acceptsStreamProtocols, recordsRequestDetail: recordsRequestDetail, configSpec: spec
        ) {
            config, path, errors in
            SchemaValidator.validate(config, spec, path: path, errors: &errors) ?? config
        }
    }
}
