import ArgusConfig

/// The path condition of a virtual route.
enum PathCondition: Sendable {
    /// The route has no paths: any path.
    case none
    /// Prefix paths, all of the same length (any may match).
    case prefixes([String])
    /// Regex paths (`~` removed, `^` prepended), tried in order; the first that matches wins.
    case regexes([CompiledRegex])
}

/// A route as the router evaluates it. A route with several paths becomes several virtual routes
/// (Kong's `split_routes_and_services_by_path`): one for all its regex paths and one per distinct
/// prefix length, each with its own priority.
struct VirtualRoute: Sendable {
    let routeIndex: Int
    let routeID: String
    let priority: RoutePriority
    /// Accepted methods; empty = any.
    let methods: [String]
    let hosts: HostMatcher
    let headers: [HeaderCondition]
    /// Accepted SNIs (a trailing `.` removed); empty = any. Only checked for TLS requests.
    let snis: [String]
    let path: PathCondition

    /// The virtual routes of `route`, or nil when one of its regexes does not compile.
    static func make(route: Route, routeIndex: Int) -> [VirtualRoute]? {
        var headers: [HeaderCondition] = []
        for name in (route.headers ?? [:]).keys.sorted() {
            guard let condition = HeaderCondition(name: name, values: route.headers?[name] ?? []) else { return nil }
            headers.append(condition)
        }
        guard let conditions = pathConditions(route.paths ?? []) else { return nil }
        let hosts = HostMatcher(route.hosts ?? [])
        let snis = (route.snis ?? []).map { sni in
            sni.utf8.count > 1 && sni.utf8.last == .dot ? String(sni.dropLast()) : sni
        }
        return conditions.map { path in
            VirtualRoute(
                routeIndex: routeIndex, routeID: route.id, priority: RoutePriority(route: route, path: path),
                methods: route.methods ?? [], hosts: hosts, headers: headers, snis: snis, path: path
            )
        }
    }

    /// Groups paths into one regex group (first, as Kong sorts regex paths first) and one group per
    /// distinct prefix length, each keeping the configured order.
    static func pathConditions(_ paths: [String]) -> [PathCondition]? {
        if paths.isEmpty { return [.none] }
        var regexes: [CompiledRegex] = []
        var prefixGroups: [[String]] = []
        var groupOfLength: [Int: Int] = [:]
        for path in paths {
            if path.utf8.first == UInt8(ascii: "~") {
                guard let regex = CompiledRegex("^" + path.dropFirst()) else { return nil }
                regexes.append(regex)
            } else if let group = groupOfLength[path.utf8.count] {
                prefixGroups[group].append(path)
            } else {
                groupOfLength[path.utf8.count] = prefixGroups.count
                prefixGroups.append([path])
            }
        }
        var conditions: [PathCondition] = regexes.isEmpty ? [] : [.regexes(regexes)]
        conditions += prefixGroups.map { .prefixes($0) }
        return conditions
    }

    /// Every condition but the path (and, for exact-host buckets, the host, which the index
    /// already checked).
    @inline(__always)
    func matchesNonPathFields(_ request: RouterRequest, headers requestHeaders: some RouterHeaders, checkHosts: Bool) -> Bool {
        if !methods.isEmpty && !methods.contains(request.method) { return false }
        if checkHosts && !hosts.matches(host: request.host, port: request.port) { return false }
        if !snis.isEmpty, let sni = request.sni, !snis.contains(sni) { return false }
        for header in headers where !header.matches(requestHeaders.values(forLowercasedName: header.name)) {
            return false
        }
        return true
    }
}
