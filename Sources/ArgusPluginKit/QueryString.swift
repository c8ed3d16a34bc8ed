import ArgusHTTP

/// A request's query string (without the `?`), read the way Kong's `kong.request.get_query()`
/// does: `&`-separated `name=value` pairs, percent-decoded, `+` as a space.
public struct QueryString: Sendable {
    public let raw: Substring

    public init(_ raw: Substring) {
        self.raw = raw.first == "?" ? raw.dropFirst() : raw
    }

    /// The decoded values of every argument named `name` (a name alone counts as an empty value).
    public func values(named name: String) -> [String] {
        guard !raw.isEmpty else { return [] }
        var found: [String] = []
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if Self.decode(parts[0]) == name { found.append(parts.count == 2 ? Self.decode(parts[1]) : "") }
        }
        return found
    }

    /// The first argument named `name` (its value decoded) and how many arguments have that name,
    /// reading the bytes without building a String per argument.
    public func first(named name: String) -> (value: String?, count: Int) {
        let wanted = Array(name.utf8)
        var count = 0
        var value: String?
        var utf8 = raw.utf8[...]
        while !utf8.isEmpty {
            let end = utf8.firstIndex(of: UInt8(ascii: "&")) ?? utf8.endIndex
            let pair = utf8[utf8.startIndex..<end]
            utf8 = end == utf8.endIndex ? utf8[end...] : utf8[utf8.index(after: end)...]
            guard !pair.isEmpty else { continue }
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let namePart = pair[pair.startIndex..<(equals ?? pair.endIndex)]
            let plain = !namePart.contains(UInt8(ascii: "%")) && !namePart.contains(UInt8(ascii: "+"))
            let matches = plain ? namePart.elementsEqual(wanted) : Self.decode(Substring(namePart)) == name
            guard matches else { continue }
            count += 1
            if value == nil {
                value = equals.map { Self.decode(Substring(pair[pair.index(after: $0)...])) } ?? ""
            }
        }
        return (value, count)
    }

    /// The query without the arguments named in `names`, as raw text ("" when none is left).
    public func removing(_ names: [String]) -> String {
        raw.split(separator: "&", omittingEmptySubsequences: true).filter { pair in
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return !names.contains(Self.decode(name))
        }.joined(separator: "&")
    }

    public static func decode(_ text: Substring) -> String { PercentEncoding.decode(text) }
}
