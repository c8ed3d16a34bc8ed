/// Every problem found while reading one file. Errors are reported in the order they appear in
/// the document (by the position of the node their path names), ties in the order found.
final class Issues {
    private(set) var errors: [FieldError] = []

    var isEmpty: Bool { errors.isEmpty }
    var count: Int { errors.count }

    func add(_ path: String, _ message: String, _ category: FieldError.Category = .schema) {
        errors.append(FieldError(path: path, message: message, category: category))
    }

    func add(_ list: [FieldError]) {
        errors.append(contentsOf: list)
    }

    /// Whether something was reported at `path` or below it.
    func has(under path: String) -> Bool {
        errors.contains { $0.path == path || $0.path.hasPrefix(path + ".") || $0.path.hasPrefix(path + "[") }
    }

    func configErrors(file: String, root: DocNode?) -> [ConfigError] {
        let ordered = errors.enumerated().map { offset, error in
            (position: root?.position(of: DocPath.components(error.path)) ?? .start, offset: offset, error: error)
        }
        return ordered
            .sorted { ($0.position, $0.offset) < ($1.position, $1.offset) }
            .map { ConfigError(file: file, path: $0.error.path, message: $0.error.message) }
    }
}
