import Yams

/// A YAML (or JSON) syntax error, with the line and column where the parser gave up.
struct SyntaxError: Error, Sendable {
    var message: String
}

/// Turns YAML or JSON text into a `DocNode` tree. JSON is read as JSON (`JSONReader`); YAML by
/// Yams with YAML 1.1 core rules like Kong's loader (`true/yes/on`, `~`/`null`, ints, floats;
/// quoted scalars are strings).
enum NodeReader {
    /// Returns nil for an empty document. Text that is JSON is read by `JSONReader` (JSON's own
    /// escapes, e.g. surrogate pairs); anything else, or JSON-looking text that is not valid JSON,
    /// by the YAML parser.
    static func read(_ text: String) throws(SyntaxError) -> DocNode? {
        if let first = text.utf8.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }),
           first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
           let node = try? JSONReader.read(text) {
            return node
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw SyntaxError(message: describe(error))
        } catch {
            throw SyntaxError(message: "invalid YAML: \(error)")
        }
        return root.map(convert)
    }

    private static func describe(_ error: YamlError) -> String {
        func located(_ problem: String, _ context: YamlError.Context?, _ mark: Mark) -> String {
            var text = "invalid YAML at line \(mark.line), column \(mark.column): \(problem)"
            if let context {
                text += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return text
        }
        switch error {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return located(problem, context, mark)
        case let .reader(problem, offset, _, yaml):
            if let offset {
                let prefix = yaml.prefix(offset)
                let line = prefix.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                let column = prefix.count - (prefix.lastIndex(of: "\n").map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
                return "invalid YAML at line \(line), column \(column): \(problem)"
            }
            return "invalid YAML: \(problem)"
        default:
            return "invalid YAML: \(error)"
        }
    }

    private static func position(_ mark: Mark?) -> Position {
        mark.map { Position(line: $0.line, column: $0.column) } ?? .start
    }

    private static func convert(_ node: Node) -> DocNode {
        switch node {
        case .scalar(let scalar):
            return DocNode(scalarValue(scalar, tag: node.tag.description), at: position(scalar.mark))
        case .sequence(let sequence):
            return DocNode(.array(sequence.map(convert)), at: position(sequence.mark))
        case .mapping(let mapping):
            var entries: [(key: String, value: DocNode)] = []
            var merged: [(key: String, value: DocNode)] = []
            for (key, value) in mapping {
                if case .scalar(let k) = key, k.string == "<<", key.tag.description == Tag.Name.merge.rawValue {
                    // YAML merge key: bring in the entries of the aliased mapping(s)
                    let sources = value.sequence.map(Array.init) ?? [value]
                    for source in sources {
                        if let fields = convert(source).objectEntries { merged.append(contentsOf: fields) }
                    }
                    continue
                }
                entries.append((key: keyText(key), value: convert(value)))
            }
            let explicit = Set(entries.map(\.key))
            let fromMerge = merged.filter { !explicit.contains($0.key) }
            return DocNode(.object(fromMerge + entries), at: position(mapping.mark))
        }
    }

    private static func keyText(_ key: Node) -> String {
        switch key {
        case .scalar(let scalar): return scalar.string
        default: return String(describing: key.any)
        }
    }

    private static func scalarValue(_ scalar: Node.Scalar, tag: String) -> DocNode.Value {
        switch tag {
        case Tag.Name.null.rawValue:
            return .null
        case Tag.Name.bool.rawValue:
            return Bool.construct(from: scalar).map { .bool($0) } ?? .string(scalar.string)
        case Tag.Name.int.rawValue:
            if let i = Int.construct(from: scalar) { return .int(i) }
            if let d = Double.construct(from: scalar) { return .double(d) }
            return .string(scalar.string)
        case Tag.Name.float.rawValue:
            return Double.construct(from: scalar).map { .double($0) } ?? .string(scalar.string)
        default:
            return .string(scalar.string)
        }
    }
}
