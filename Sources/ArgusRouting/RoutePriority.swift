import ArgusConfig

/// Kong's `traditional_compatible` priority of a (virtual) route, most significant component first
/// (kong-compat §2, `kong.router.transform.get_priority`). Higher wins.
struct RoutePriority: Sendable, Comparable {
    /// Number of non-empty fields among methods, hosts, headers, paths, snis.
    let matchWeight: Int
    /// The route has hosts and none of them contains `*`.
    let plainHostsOnly: Bool
    /// Number of header names, capped at 255.
    let headerCount: Int
    /// The (virtual) route's paths are regexes.
    let hasRegexPath: Bool
    /// `regex_priority`, only counted for regex paths (0 otherwise).
    let regexPriority: Int
    /// Length of the (virtual) route's prefix paths, 0 for regex or path-less routes.
    let prefixLength: Int

    static let maxHeaderCount = 255

    init(route: Route, path: PathCondition) {
        var weight = 0
        if !(route.methods ?? []).isEmpty { weight += 1 }
        if !(route.hosts ?? []).isEmpty { weight += 1 }
        if !(route.headers ?? [:]).isEmpty { weight += 1 }
        if !(route.snis ?? []).isEmpty { weight += 1 }
        if case .none = path {} else { weight += 1 }
        matchWeight = weight
        if let hosts = route.hosts, !hosts.isEmpty {
            plainHostsOnly = !hosts.contains { $0.utf8.contains(.asterisk) }
        } else {
            plainHostsOnly = false
        }
        headerCount = min(route.headers?.count ?? 0, Self.maxHeaderCount)
        switch path {
        case .none:
            hasRegexPath = false
            regexPriority = 0
            prefixLength = 0
        case .prefixes(let prefixes):
            hasRegexPath = false
            regexPriority = 0
            prefixLength = prefixes.first?.utf8.count ?? 0
        case .regexes:
            hasRegexPath = true
            regexPriority = route.regexPriority
            prefixLength = 0
        }
    }

    static func < (lhs: RoutePriority, rhs: RoutePriority) -> Bool {
        if lhs.matchWeight != rhs.matchWeight { return lhs.matchWeight < rhs.matchWeight }
        if lhs.plainHostsOnly != rhs.plainHostsOnly { return !lhs.plainHostsOnly }
        if lhs.headerCount != rhs.headerCount { return lhs.headerCount < rhs.headerCount }
        if lhs.hasRegexPath != rhs.hasRegexPath { return !lhs.hasRegexPath }
        if lhs.regexPriority != rhs.regexPriority { return lhs.regexPriority < rhs.regexPriority }
        return lhs.prefixLength < rhs.prefixLength
    }
}
