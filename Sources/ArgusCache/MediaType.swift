import ArgusConfig

/// A media type (`type/subtype; name=value`), matched the way Kong's proxy-cache matches
/// `content_type`: type and subtype equal (a `*` in the configured one matches anything) and
/// exactly the same parameters, so `application/json; charset=utf-8` does not match
/// `application/json`.
public struct MediaType: Sendable, Equatable {
    public var type: String
    public var subtype: String
    public var parameters: [String: String]

    /// nil when `text` is not `type/subtype` followed by `; name=value` parameters: as in Kong's
    /// grammar, an entry with a trailing `;` or a parameter without `=` matches nothing.
    public init?(_ text: String) {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        guard let main = parts.first else { return nil }
        let names = main.split(separator: "/", omittingEmptySubsequences: false)
        guard names.count == 2 else { return nil }
        type = names[0].trimmed().lowercased()
        subtype = names[1].trimmed().lowercased()
        guard !type.isEmpty, !subtype.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, !pair[0].trimmed().isEmpty, !pair[1].trimmed().isEmpty else { return nil }
            var value = pair[1].trimmed()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            parameters[pair[0].trimmed().lowercased()] = value.lowercased()
        }
        self.parameters = parameters
    }

    /// Whether a response of type `actual` matches this configured type.
    public func matches(_ actual: MediaType) -> Bool {
        (type == "*" || type == actual.type) && (subtype == "*" || subtype == actual.subtype) && parameters == actual.parameters
    }
}
