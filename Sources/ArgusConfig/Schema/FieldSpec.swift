/// A field of a Kong-style schema: its type, default and validations. Plugins describe their
/// `config` record with these (see `PluginSchema`); the loader uses them for entity fields and the
/// upstream healthchecks tree. `SchemaValidator` applies them with Kong's messages and rules:
/// absent fields get their default, records are filled in recursively, strings must be non-empty
/// unless `lenMin` says otherwise, and only the first failing validation of a field is reported.
public struct FieldSpec: Sendable {
    public indirect enum Kind: Sendable {
        case string
        case integer
        case number
        case boolean
        /// Any JSON value, unchecked.
        case any
        case array(FieldSpec)
        /// An array whose duplicates are dropped (first occurrence kept).
        case set(FieldSpec)
        case map(keys: FieldSpec, values: FieldSpec)
        case record([SchemaField], checks: [RecordCheck])
    }

    public var kind: Kind
    public var required: Bool
    /// Used when the field is absent (not when it is an explicit null).
    public var defaultValue: JSONValue?
    public var oneOf: [JSONValue]?
    public var between: ClosedRange<Double>?
    public var greaterThan: Double?
    public var lenMin: Int?
    public var lenMax: Int?
    public var startsWith: String?
    /// Extra checks run after the built-in ones, in order; each returns an error message or nil.
    public var validators: [@Sendable (JSONValue) -> String?]

    public init(
        _ kind: Kind, required: Bool = false, default defaultValue: JSONValue? = nil, oneOf: [JSONValue]? = nil,
        between: ClosedRange<Double>? = nil, greaterThan: Double? = nil, lenMin: Int? = nil, lenMax: Int? = nil,
        startsWith: String? = nil, validators: [@Sendable (JSONValue) -> String?] = []
    ) {
        self.kind = kind
        self.required = required
        self.defaultValue = defaultValue
        self.oneOf = oneOf
        self.between = between
        self.greaterThan = greaterThan
        self.lenMin = lenMin
        self.lenMax = lenMax
        self.startsWith = startsWith
        self.validators = validators
    }
}
