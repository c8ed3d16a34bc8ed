import ArgusConfig
import ArgusHTTP

/// Kong's response-transformer for response headers: remove → rename → replace → add → append,
/// applied to the upstream's response head. Headers no operation names pass through as bytes.
public final class ResponseTransformerPlan: Sendable {
    typealias Pair = (name: String, value: String)

    let remove: [String]
    let rename: [Pair], replace: [Pair], add: [Pair], append: [Pair]
    /// Lower-cased names of every header an operation touches.
    public let touched: [String]

    public init(config: JSONValue) {
        func list(_ section: String) -> [String] { config[section]?["headers"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        func pairs(_ section: String) -> [Pair] {
            list(section).compactMap { entry in
                guard let colon = entry.firstIndex(of: ":") else { return nil }
                return (String(entry[..<colon]), String(entry[entry.index(after: colon)...]))
            }
        }
        remove = list("remove").map { $0.lowercased() }
        rename = pairs("rename")
        replace = pairs("replace")
        add = pairs("add")
        append = pairs("append")
        var touched = Set(remove)
        for pair in rename { touched.insert(pair.name.lowercased()); touched.insert(pair.value.lowercased()) }
        for pair in replace + add + append { touched.insert(pair.name.lowercased()) }
        // Framing is Argus's to write.
        touched.subtract(["content-length", "transfer-encoding", "connection"])
        self.touched = touched.sorted()
    }

    /// The header lines that replace the touched headers of `head` (`Name: value\r\n`).
    public func lines(for head: ResponseHead) -> String {
        var headers: [(name: String, value: String)] = []
        for name in touched {
            for value in head.values(forLowercasedName: name) { headers.append((name, value)) }
        }
        func has(_ name: String) -> Bool { headers.contains { $0.name.lowercased() == name.lowercased() } }
        func drop(_ name: String) { headers.removeAll { $0.name.lowercased() == name.lowercased() } }
        for name in remove { drop(name) }
        for (old, new) in rename where has(old) {
            let values = headers.filter { $0.name.lowercased() == old.lowercased() }.map(\.value)
            drop(old)
            drop(new)
            for value in values { headers.append((new, value)) }
        }
        for (name, value) in replace where has(name) {
            drop(name)
            headers.append((name, value))
        }
        for (name, value) in add where !has(name) { headers.append((name, value)) }
        for (name, value) in append { headers.append((name, value)) }
        return headers.filter { touched.contains($0.name.lowercased()) }.map { "\($0.name): \($0.value)\r\n" }.joined()
    }
}
