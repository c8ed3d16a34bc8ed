import ArgusConfig
import Testing
@testable import ArgusRouting

/// 10,000 prefix+host routes, checked against a brute-force reference of the same semantics.
@Suite struct RouterScaleTests {
    static let hostCount = 40

    /// Plain-host routes `/api/<i>` on host `h<i % 40>.example.com`, every 10th also with a second
    /// prefix; every 50th route is host-less instead, every 25th uses a wildcard host.
    static func routes(count: Int) -> [Route] {
        (0..<count).map { i in
            let digits = String(i)
            let id = String(repeating: "0", count: 8 - digits.count) + digits + "-route"
            let paths = i % 10 == 0 ? ["/api/\(i)", "/alt/\(i)/deeper"] : ["/api/\(i)"]
            if i % 50 == 0 { return makeRoute(id, paths: paths) }
            if i % 25 == 0 { return makeRoute(id, paths: paths, hosts: ["*.w\(i % hostCount).example.com"]) }
            return makeRoute(id, paths: paths, hosts: ["h\(i % hostCount).example.com"])
        }
    }

    /// A route reduced to what the reference needs.
    struct ReferenceRoute {
        let id: String
        let prefixes: [[UInt8]]
        /// The host entry's bytes without the leading `*` of a wildcard; nil for host-less routes.
        let host: [UInt8]?
        let isWildcard: Bool

        init(_ route: Route) {
            id = route.id
            prefixes = (route.paths ?? []).map { Array($0.utf8) }
            let entry = route.hosts?.first ?? ""
            isWildcard = entry.hasPrefix("*")
            host = route.hosts == nil ? nil : Array(entry.utf8.dropFirst(isWildcard ? 1 : 0))
        }
    }

    /// The winner by §2 for these shapes, by brute force: plain host > wildcard host (same weight)
    /// > host-less (weight 1); then longest prefix; then greatest id.
    static func reference(_ routes: [ReferenceRoute], host: String, path: String) -> String? {
        let pathBytes = Array(path.utf8)
        let hostBytes = Array(host.utf8)
        var best: (rank: (Int, Int, Int), id: String)?
        for route in routes {
            var rank = (0, 0, 0)
            if let entry = route.host {
                let matches = route.isWildcard ? hostBytes.reversed().starts(with: entry.reversed()) : hostBytes == entry
                guard matches else { continue }
                rank = (1, route.isWildcard ? 0 : 1, 0)
            }
            var length = -1
            for prefix in route.prefixes where prefix.count > length && pathBytes.starts(with: prefix) {
                length = prefix.count
            }
            guard length >= 0 else { continue }
            rank.2 = length
            if let current = best, current.rank > rank || (current.rank == rank && current.id > route.id) { continue }
            best = (rank, route.id)
        }
        return best?.id
    }

    @Test func tenThousandRoutesMatchLikeTheReference() {
        let routes = Self.routes(count: 10_000)
        let router = makeRouter(routes)
        let referenceRoutes = routes.map(ReferenceRoute.init)
        #expect(router.routeCount == 10_000)
        var checked = 0
        var mismatches: [String] = []
        for i in stride(from: 0, to: 10_000, by: 41) {
            let requests = [
                ("h\(i % Self.hostCount).example.com", "/api/\(i)/x"),
                ("h\((i + 1) % Self.hostCount).example.com", "/api/\(i)"),
                ("a.w\(i % Self.hostCount).example.com", "/api/\(i)"),
                ("unknown.example.net", "/api/\(i)/y"),
                ("h\(i % Self.hostCount).example.com", "/alt/\(i - i % 10)/deeper/z"),
                ("h\(i % Self.hostCount).example.com", "/nothing/\(i)"),
            ]
            for (host, path) in requests {
                let expected = Self.reference(referenceRoutes, host: host, path: path)
                let actual = router.matchedID(path, host: host)
                if actual != expected { mismatches.append("\(host)\(path): \(actual ?? "nil") ≠ \(expected ?? "nil")") }
                checked += 1
            }
        }
        #expect(checked > 1_400)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func eachPlainRouteIsFoundOnItsOwnHost() {
        let routes = Self.routes(count: 10_000)
        let router = makeRouter(routes)
        var misses = 0
        for i in 0..<10_000 where i % 50 != 0 && i % 25 != 0 {
            if router.matchedID("/api/\(i)/leaf", host: "h\(i % Self.hostCount).example.com") != routes[i].id { misses += 1 }
        }
        #expect(misses == 0)
    }
}
