/// The virtual routes bucketed by host: one bucket per exact host name, one for routes with a
/// wildcard host (their hosts are re-checked on lookup), one for routes without hosts.
struct RouteIndex: Sendable {
    private(set) var exactHosts: [String: PathIndex] = [:]
    private(set) var wildcardHosts = PathIndex()
    private(set) var anyHost = PathIndex()

    /// `routes` must be in rank order.
    init(_ routes: [VirtualRoute]) {
        for (position, route) in routes.enumerated() {
            let entries = route.hosts.entries
            if entries.isEmpty {
                anyHost.add(route: position, port: nil, path: route.path)
                continue
            }
            var seenEntries: [HostEntry] = []
            for entry in entries where !seenEntries.contains(entry) {
                seenEntries.append(entry)
                if !entry.isWildcard {
                    exactHosts[entry.value, default: PathIndex()].add(route: position, port: entry.port, path: route.path)
                }
            }
            if entries.contains(where: \.isWildcard) {
                wildcardHosts.add(route: position, port: nil, path: route.path)
            }
        }
    }
}
