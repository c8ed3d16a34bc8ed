import ArgusConfig
import ArgusRouting

/// Router lookups at growing route counts: the cost must not grow with the number of plain
/// prefix/host routes. Prints ns per lookup (median of several runs).
enum RouterBench {
    struct NoHeaders: RouterHeaders {
        func values(forLowercasedName name: String) -> [String] { [] }
    }

    /// `count` routes `/api/<i>` over 40 plain hosts (every 25th a wildcard host, every 50th host-less),
    /// plus `regexCount` regex routes.
    static func config(routes count: Int, regexCount: Int = 0) -> DeclarativeConfig {
        let service = Service(id: "00000000-0000-4000-8000-000000000001", name: "s", host: "127.0.0.1", port: 9000)
        var routes: [Route] = []
        for i in 0..<count {
            let id = "00000000-0000-4000-8000-\(String(repeating: "0", count: 12 - String(i).count))\(i)"
            let hosts: [String]? = i % 50 == 0 ? nil : (i % 25 == 0 ? ["*.w\(i % 40).example.com"] : ["h\(i % 40).example.com"])
            routes.append(Route(id: id, hosts: hosts, paths: ["/api/\(i)"], serviceID: service.id))
        }
        for j in 0..<regexCount {
            routes.append(Route(id: "10000000-0000-4000-8000-\(String(repeating: "0", count: 12 - String(j).count))\(j)",
                paths: ["~/re\(j)/(?<id>\\d+)$"], serviceID: service.id))
        }
        return DeclarativeConfig(services: [service], routes: routes)
    }

    static func run() {
        print("router lookups (release build; ns per lookup, median of 5 runs of 200,000 lookups, half of them matching)")
        print("| routes | regex routes | ns/lookup | build ms |")
        print("|---:|---:|---:|---:|")
        for (count, regex) in [(10, 0), (1_000, 0), (10_000, 0), (10_000, 20)] {
            let clock = ContinuousClock()
            let config = config(routes: count, regexCount: regex)
            var router: Router?
            let build = clock.measure { router = Router(config: config) }
            let r = router!
            let requests: [RouterRequest] = (0..<1024).map { k in
                let i = (k * 7919) % count
                let hit = k % 2 == 0
                return RouterRequest(
                    method: "GET", host: "h\(i % 40).example.com", port: 8000,
                    path: hit ? "/api/\(i)/items" : "/missing/\(k)")
            }
            var samples: [Double] = []
            var matched = 0
            for _ in 0..<5 {
                let n = 200_000
                let elapsed = clock.measure {
                    for k in 0..<n where r.match(requests[k & 1023], headers: NoHeaders()) != nil { matched += 1 }
                }
                samples.append(Double(elapsed.components.attoseconds) / 1e9 / Double(n) + Double(elapsed.components.seconds) * 1e9 / Double(n))
            }
            samples.sort()
            let buildMs = Double(build.components.attoseconds) / 1e15 + Double(build.components.seconds) * 1000
            print("| \(count) | \(regex) | \(Int(samples[2])) | \(Int(buildMs)) |")
            if matched == 0 { print("(no lookup matched: benchmark is broken)") }
        }
    }
}
