import ArgusConfig
import ArgusHTTP

/// Kong's form-argument decoding (`kong/api/arguments.lua`): `config.minute=5` becomes
/// `{"config": {"minute": "5"}}`, `paths[]=/a&paths[]=/b` an array, `paths[2]=/b` a given
/// position, a repeated plain name an array. Values stay strings here; `FormInference` gives them
/// the types the entity's schema names.
enum FormDecoder {
    enum Step: Equatable {
        case key(String)
        /// `[]`: append.
        case append
        /// `[n]`, 1-based as in Kong.
        case index(Int)
    }

    /// Decodes name/value pairs in the order received.
    static func decode(_ pairs: [(name: String, value: JSONValue)]) -> JSONValue {
        var root: JSONValue = .object([:])
        for (name, value) in pairs {
            root = insert(root, steps(of: name), value)
        }
        return root
    }

    /// `a.b[]` → key a, key b, append. A name starting or ending with `.` is taken literally, as Kong does.
    static func steps(of name: String) -> [Step] {
        if name.hasPrefix(".") || name.hasSuffix(".") { return [.key(name)] }
        var steps: [Step] = []
        for part in name.split(separator: ".", omittingEmptySubsequences: false) {
            var base = Substring(part)
            var suffixes: [Step] = []
            // trailing [..] groups, innermost last
            while base.hasSuffix("]"), let open = base.lastIndex(of: "["), open > base.startIndex {
                let inside = base[base.index(after: open)..<base.index(before: base.endIndex)]
                if inside.isEmpty {
                    suffixes.insert(.append, at: 0)
                } else if let n = Int(inside), n >= 1, n <= 10_000 {
                    suffixes.insert(.index(n), at: 0)
                } else {
                    break
                }
                base = base[..<open]
            }
            steps.append(.key(String(base)))
            steps.append(contentsOf: suffixes)
        }
        return steps
    }

    private static func insert(_ node: JSONValue?, _ steps: ArraySlice<Step>, _ value: JSONValue) -> JSONValue {
        guard let step = steps.first else {
            // a repeated name collects its values in an array
            switch node {
            case nil, .null?: return value
            case .array(var items)?:
                items.append(value)
                return .array(items)
            case let existing?:
                return .array([existing, value])
            }
        }
        let rest = steps.dropFirst()
        switch step {
        case .key(let key):
            var fields: [String: JSONValue] = [:]
            if case .object(let existing)? = node { fields = existing }
            fields[key] = insert(fields[key], rest, value)
            return .object(fields)
        case .append:
            var items: [JSONValue] = []
            if case .array(let existing)? = node { items = existing } else if let node, !node.isNull { items = [node] }
            items.append(insert(nil, rest, value))
            return .array(items)
        case .index(let n):
            var items: [JSONValue] = []
            if case .array(let existing)? = node { items = existing } else if let node, !node.isNull { items = [node] }
            while items.count < n { items.append(.null) }
            items[n - 1] = insert(items[n - 1].isNull ? nil : items[n - 1], rest, value)
            return .array(items)
        }
    }

    private static func insert(_ node: JSONValue?, _ steps: [Step], _ value: JSONValue) -> JSONValue {
        insert(node, steps[...], value)
    }

    /// `application/x-www-form-urlencoded` (also a query string): `+` is a space, `%XX` a byte.
    static func urlEncodedPairs(_ text: some Collection<UInt8>) -> [(name: String, value: JSONValue)] {
        var pairs: [(name: String, value: JSONValue)] = []
        for part in text.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let bytes = Array(part)
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                pairs.append((percentDecode(bytes[..<eq]), .string(percentDecode(bytes[(eq + 1)...]))))
            } else {
                // Kong (ngx.req.get_post_args) gives a bare name the value true
                pairs.append((percentDecode(bytes[...]), .bool(true)))
            }
        }
        return pairs
    }

    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> String {
        PercentEncoding.decode(bytes: bytes)
    }
}
