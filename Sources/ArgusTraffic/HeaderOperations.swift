import ArgusPluginKit
import ArgusConfig

/// The header operations both transformers share, in Kong's order: remove → rename → replace →
/// add → append. `replace` changes only a header that is present (and `Host`, when asked),
/// `add` only one that is absent, `append` adds another value.
struct HeaderOperations: Sendable {
    typealias Pair = (name: String, value: String)

    let remove: [String]
    let rename: [Pair], replace: [Pair], add: [Pair], append: [Pair]
    /// Lower-cased names of every header an operation touches.
    let touched: Set<String>

    /// Reads `remove`, `rename`, `replace`, `add` and `append` lists named `field` from `config`.
    init(config: JSONValue, field: String) {
        func list(_ section: String) -> [String] { config[section]?[field]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        func pairs(_ section: String) -> [Pair] {
            list(section).compactMap { entry in
                guard let colon = entry.firstIndex(of: ":") else { return nil }
                // Kong's `^([^:]+):*(.-)$`: the colons after the name all go
                return (String(entry[..<colon]), String(entry[entry.index(after: colon)...].drop { $0 == ":" }))
            }
        }
        // a `name:value` entry removes by name (Kong reads the value and ignores it)
        remove = list("remove").map { String($0.prefix { $0 != ":" }).lowercased() }
        rename = pairs("rename")
        replace = pairs("replace")
        add = pairs("add")
        append = pairs("append")
        var touched = Set(remove)
        for pair in rename { touched.insert(pair.name.lowercased()); touched.insert(pair.value.lowercased()) }
        for pair in replace + add + append { touched.insert(pair.name.lowercased()) }
        self.touched = touched
    }

    /// Applies the operations to `headers` (the touched headers of a message, in order).
    /// - Parameters:
    ///   - render: turns a configured value into the value to set (templates).
    ///   - alwaysReplaceable: a lower-cased name `replace` sets even when absent (`host`).
    func apply(to headers: inout [(name: String, value: String)], render: (String) -> String, alwaysReplaceable: String? = nil) {
        func has(_ name: String) -> Bool { headers.contains { $0.name.lowercased() == name.lowercased() } }
        func drop(_ name: String) { headers.removeAll { $0.name.lowercased() == name.lowercased() } }
        for name in remove { drop(name) }
        for (old, new) in rename where has(old) {
            let values = headers.filter { $0.name.lowercased() == old.lowercased() }.map(\.value)
            drop(old)
            drop(new)
            for value in values { headers.append((new, value)) }
        }
        for (name, value) in replace where has(name) || name.lowercased() == alwaysReplaceable {
            drop(name)
            headers.append((name, render(value)))
        }
        for (name, value) in add where !has(name) { headers.append((name, render(value))) }
        for (name, value) in append { headers.append((name, render(value))) }
    }
}
