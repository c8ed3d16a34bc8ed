import ArgusConfig

/// One Admin API request, its body already read (bounded by the listener).
public struct AdminRequest: Sendable {
    public var method: String
    /// The path as sent (percent-encoded segments are decoded by the router).
    public var path: String
    /// The query string without `?`.
    public var query: String
    public var contentType: String
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", contentType: String = "", body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.contentType = contentType
        self.body = body
    }

    /// The path's segments, percent-decoded: `/services/a%20b/routes` → `services`, `a b`, `routes`.
    var segments: [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map { FormDecoder.percentDecode(Array($0.utf8)[...]) }
    }

    /// The query arguments; a repeated name's first value, as Kong takes `?tags=a&tags=b` (a
    /// name Kong refuses when repeated is checked with ``repeatedArguments``).
    var arguments: [String: String] {
        var out: [String: String] = [:]
        for (name, value) in FormDecoder.urlEncodedPairs(Array(query.utf8)) where out[name] == nil {
            out[name] = value.stringValue ?? ""
        }
        return out
    }

    /// Names given more than once in the query.
    var repeatedArguments: Set<String> {
        var seen: Set<String> = [], repeated: Set<String> = []
        for (name, _) in FormDecoder.urlEncodedPairs(Array(query.utf8)) where !seen.insert(name).inserted { repeated.insert(name) }
        return repeated
    }
}
