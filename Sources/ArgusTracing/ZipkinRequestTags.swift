/// The `zipkin` plugin's request tags: a header (`Zipkin-Tags` unless `tags_header` says otherwise)
/// of `name=value` items separated by `;`, each added to the request span, as Kong's
/// `request_tags.parse` reads it (the pattern `^%s*(%S+)%s*=%s*(.*%S)%s*$`: a name without
/// spaces, a value that may hold them; empty items between semicolons are skipped, unreadable
/// ones reported and the rest kept).
public enum ZipkinRequestTags {
    /// The tags of every value of the header in order (a later name replaces an earlier one), and
    /// the items that could not be read.
    public static func parse(_ values: [String]) -> (tags: [(name: String, value: String)], unreadable: [String]) {
        var tags: [(name: String, value: String)] = []
        var unreadable: [String] = []
        for value in values {
            for item in value.split(separator: ";", omittingEmptySubsequences: true) {
                guard let (name, text) = parseItem(Array(item.utf8)) else {
                    unreadable.append(String(item))
                    continue
                }
                if let k = tags.firstIndex(where: { $0.name == name }) { tags[k].value = text } else { tags.append((name, text)) }
            }
        }
        return (tags, unreadable)
    }

    /// Kong's message for unreadable items.
    public static func message(_ unreadable: [String]) -> String {
        "Could not parse the following Zipkin tags: " + unreadable.joined(separator: ", ")
    }

    /// Lua's `%s`: space, \t, \n, \v, \f, \r.
    static func isSpace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) }

    /// One item by the pattern, with Lua's backtracking: the name is the longest run of non-space
    /// bytes after which (spaces,) `=`, (spaces and) a value with a non-space byte follow.
    static func parseItem(_ s: [UInt8]) -> (String, String)? {
        var start = 0
        while start < s.count, isSpace(s[start]) { start += 1 }
        var tokenEnd = start
        while tokenEnd < s.count, !isSpace(s[tokenEnd]) { tokenEnd += 1 }
        // the value after the `=` at `equals`: from its first to its last non-space byte
        func value(after equals: Int) -> String? {
            var lower = equals + 1, upper = s.count
            while lower < upper, isSpace(s[lower]) { lower += 1 }
            while upper > lower, isSpace(s[upper - 1]) { upper -= 1 }
            return lower < upper ? String(decoding: s[lower..<upper], as: UTF8.self) : nil
        }
        var end = tokenEnd
        while end > start {
            var equals = end
            if end == tokenEnd {
                while equals < s.count, isSpace(s[equals]) { equals += 1 }
            }
            if equals < s.count, s[equals] == UInt8(ascii: "="), let text = value(after: equals) {
                return (String(decoding: s[start..<end], as: UTF8.self), text)
            }
            end -= 1
        }
        return nil
    }
}
