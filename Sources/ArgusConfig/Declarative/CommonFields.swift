/// Fields every entity has.
enum CommonFields {
    static let id = SchemaField("id", Typedefs.uuid)
    static let createdAt = SchemaField("created_at", Typedefs.timestamp)
    static let updatedAt = SchemaField("updated_at", Typedefs.timestamp)
    static let tags = SchemaField("tags", Typedefs.tags)

    static func strings(_ value: JSONValue?) -> [String]? {
        guard case .array(let items)? = value else { return nil }
        return items.compactMap(\.stringValue)
    }
}
