/// Paths inside a document, written the way users read them: `services[2].routes[0].paths[1]`,
/// `plugins[0].config.minute`.
enum DocPath {
    enum Component: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// `base` + `.key` (no dot when `base` is empty).
    static func join(_ base: String, _ key: String) -> String {
        base.isEmpty ? key : "\(base).\(key)"
    }

    /// `base` + `[index]`.
    static func join(_ base: String, index: Int) -> String {
        "\(base)[\(index)]"
    }

    /// Splits a path back into components (best effort: keys containing dots come back split).
    static func components(_ path: String) -> [Component] {
        var result: [Component] = []
        var current = ""
        var chars = path[...]
        func flush() {
            if !current.isEmpty { result.append(.key(current)) }
            current = ""
        }
        while let c = chars.first {
            chars = chars.dropFirst()
            switch c {
            case ".":
                flush()
            case "[":
                if let close = chars.firstIndex(of: "]"), let i = Int(chars[..<close]) {
                    flush()
                    result.append(.index(i))
                    chars = chars[chars.index(after: close)...]
                } else {
                    current.append(c)
                }
            default:
                current.append(c)
            }
        }
        flush()
        return result
    }
}
