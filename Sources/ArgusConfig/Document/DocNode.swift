/// Where a node starts in the source text (1-based). Errors are listed in this order.
struct Position: Sendable, Comparable {
    var line: Int
    var column: Int

    static let start = Position(line: 0, column: 0)

    static func < (lhs: Position, rhs: Position) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One node of a parsed YAML or JSON document. Mappings keep their keys in the order written
/// (a repeated key keeps its last value, as Kong's YAML loader does).
struct DocNode: Sendable {
    enum Value: Sendable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
        case array([DocNode])
        case object([(key: String, value: DocNode)])
    }

    var value: Value
    var position: Position

    init(_ value: Value, at position: Position = .start) {
        self.value = value
        self.position = position
    }

    /// A node for a decoded JSON value (no positions; object keys in sorted order).
    init(json: JSONValue) {
        switch json {
        case .null: self.init(.null)
        case .bool(let b): self.init(.bool(b))
        case .int(let i): self.init(.int(i))
        case .double(let d): self.init(.double(d))
        case .string(let s): self.init(.string(s))
        case .array(let items): self.init(.array(items.map(DocNode.init(json:))))
        case .object(let fields): self.init(.object(fields.keys.sorted().map { (key: $0, value: DocNode(json: fields[$0]!)) }))
        }
    }

    /// The value for `key` in a mapping (the last one when the key is repeated).
    subscript(key: String) -> DocNode? {
        guard case .object(let entries) = value else { return nil }
        return entries.last(where: { $0.key == key })?.value
    }

    var objectEntries: [(key: String, value: DocNode)]? {
        if case .object(let entries) = value { return entries }
        return nil
    }

    var arrayItems: [DocNode]? {
        if case .array(let items) = value { return items }
        return nil
    }

    var stringValue: String? {
        if case .string(let s) = value { return s }
        return nil
    }

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The mapping's distinct keys in first-seen order, each with its last value.
    var uniqueEntries: [(key: String, value: DocNode)] {
        guard let entries = objectEntries else { return [] }
        var seen = Set<String>()
        var keys: [String] = []
        for entry in entries where seen.insert(entry.key).inserted { keys.append(entry.key) }
        return keys.compactMap { key in self[key].map { (key: key, value: $0) } }
    }

    /// The node as a plain JSON value (positions dropped).
    var json: JSONValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let items): return .array(items.map(\.json))
        case .object:
            var fields: [String: JSONValue] = [:]
            for entry in uniqueEntries { fields[entry.key] = entry.value.json }
            return .object(fields)
        }
    }

    /// The position of the node at `path` (relative to this node), or of its deepest existing
    /// ancestor. Used only to order error messages as they appear in the file.
    func position(of path: [DocPath.Component]) -> Position {
        var node = self
        var best = position
        for component in path {
            switch component {
            case .index(let i):
                guard let items = node.arrayItems, items.indices.contains(i) else { return best }
                node = items[i]
            case .key(let k):
                guard let child = node[k] else { return best }
                node = child
            }
            best = node.position
        }
        return best
    }
}
