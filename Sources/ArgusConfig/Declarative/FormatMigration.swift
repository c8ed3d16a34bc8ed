/// Migration of `_format_version` 1.1 / 2.1 files to 3.0 (`kong/db/declarative/migrations/route_path.lua`):
/// route paths (top-level and nested in services) that look like regexes get the `~` prefix;
/// plain paths are normalised.
enum FormatMigration {
    static func migrate(_ root: DocNode) -> DocNode {
        var root = root
        root = mapArray(root, key: "routes", migrateRoute)
        root = mapArray(root, key: "services") { service in mapArray(service, key: "routes", migrateRoute) }
        return root
    }

    private static func migrateRoute(_ route: DocNode) -> DocNode {
        mapArray(route, key: "paths") { path in
            guard let text = path.stringValue else { return path }
            return DocNode(.string(URINormalizer.migrateLegacyPath(text)), at: path.position)
        }
    }

    /// Applies `transform` to each item of the array under `key` of a mapping (others untouched).
    private static func mapArray(_ node: DocNode, key: String, _ transform: (DocNode) -> DocNode) -> DocNode {
        guard case .object(let entries) = node.value else { return node }
        let mapped = entries.map { entry -> (key: String, value: DocNode) in
            guard entry.key == key, case .array(let items) = entry.value.value else { return entry }
            return (key: entry.key, value: DocNode(.array(items.map(transform)), at: entry.value.position))
        }
        return DocNode(.object(mapped), at: node.position)
    }
}
