/// A named field of a record.
public struct SchemaField: Sendable {
    public var name: String
    public var spec: FieldSpec

    public init(_ name: String, _ spec: FieldSpec) {
        self.name = name
        self.spec = spec
    }
}
