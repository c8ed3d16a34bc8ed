/// Field specs built from Kong's typedefs, shared by the entity schemas.
enum Typedefs {
    static func string(_ check: @escaping @Sendable (String) -> String?) -> @Sendable (JSONValue) -> String? {
        { value in value.stringValue.flatMap(check) }
    }

    static let uuid = FieldSpec.string(validators: [string { NameRules.isUUID($0) ? nil : KongMessage.uuid }])
    static let timestamp = FieldSpec.integer(validators: [{ ($0.intValue ?? 0) > 0 ? nil : KongMessage.timestamp }])
    static let utf8Name = FieldSpec.string(validators: [string(NameRules.utf8Name)])
    static let tags = FieldSpec.set(of: .string(validators: [string(NameRules.tag)]))
    static let headerName = FieldSpec.string(validators: [string(NameRules.headerName)])
    static let host = FieldSpec.string(validators: [string(HostRules.validateHost)])
    static let sni = FieldSpec.string(validators: [string(HostRules.validateSNI)])
    static let port = FieldSpec.integer(between: 0...65535)
    static let path = FieldSpec.string(startsWith: "/", validators: PathRules.servicePathValidators)
    static let protocol_ = FieldSpec.string(oneOf: KongConstants.protocols)
    static let headers = FieldSpec.map(keys: headerName, values: .array(of: .string()))
}
