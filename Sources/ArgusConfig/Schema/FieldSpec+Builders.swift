/// Shorthands for the common field types, e.g.
/// `SchemaField("minute", .number(greaterThan: 0))`, `SchemaField("policy", .string(default: "local", oneOf: ["local", "redis"]))`.
extension FieldSpec {
    public static func string(
        required: Bool = false, default value: String? = nil, oneOf: [String]? = nil, lenMin: Int? = nil,
        lenMax: Int? = nil, startsWith: String? = nil, validators: [@Sendable (JSONValue) -> String?] = []
    ) -> FieldSpec {
        FieldSpec(
            .string, required: required, default: value.map(JSONValue.string), oneOf: oneOf?.map(JSONValue.string),
            lenMin: lenMin, lenMax: lenMax, startsWith: startsWith, validators: validators)
    }

    public static func integer(
        required: Bool = false, default value: Int? = nil, oneOf: [Int]? = nil, between: ClosedRange<Int>? = nil,
        greaterThan: Int? = nil, validators: [@Sendable (JSONValue) -> String?] = []
    ) -> FieldSpec {
        FieldSpec(
            .integer, required: required, default: value.map(JSONValue.int), oneOf: oneOf?.map(JSONValue.int),
            between: between.map { Double($0.lowerBound)...Double($0.upperBound) }, greaterThan: greaterThan.map(Double.init),
            validators: validators)
    }

    public static func number(
        required: Bool = false, default value: Double? = nil, between: ClosedRange<Double>? = nil,
        greaterThan: Double? = nil, validators: [@Sendable (JSONValue) -> String?] = []
    ) -> FieldSpec {
        FieldSpec(
            .number, required: required, default: value.map(JSONValue.double), between: between,
            greaterThan: greaterThan, validators: validators)
    }

    public static func boolean(
        required: Bool = false, default value: Bool? = nil, validators: [@Sendable (JSONValue) -> String?] = []
    ) -> FieldSpec {
        FieldSpec(.boolean, required: required, default: value.map(JSONValue.bool), validators: validators)
    }

    public static func array(
        of element: FieldSpec, required: Bool = false, default value: [JSONValue]? = nil, lenMin: Int? = nil,
        lenMax: Int? = nil
    ) -> FieldSpec {
        FieldSpec(.array(element), required: required, default: value.map(JSONValue.array), lenMin: lenMin, lenMax: lenMax)
    }

    public static func set(
        of element: FieldSpec, required: Bool = false, default value: [JSONValue]? = nil, lenMin: Int? = nil,
        lenMax: Int? = nil
    ) -> FieldSpec {
        FieldSpec(.set(element), required: required, default: value.map(JSONValue.array), lenMin: lenMin, lenMax: lenMax)
    }

    public static func map(keys: FieldSpec, values: FieldSpec, required: Bool = false) -> FieldSpec {
        FieldSpec(.map(keys: keys, values: values), required: required)
    }

    public static func record(_ fields: [SchemaField], checks: [RecordCheck] = [], required: Bool = false) -> FieldSpec {
        FieldSpec(.record(fields, checks: checks), required: required)
    }

    public static var any: FieldSpec { FieldSpec(.any) }
}
