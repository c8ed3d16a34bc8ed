import ArgusConfig
import ArgusDNS
import ArgusTransport
import Testing

@testable import ArgusSnapshot

/// Snapshots compiled from real kong.yml text, without a gateway: plans, access steps, balancers.
@Suite struct SnapshotTests {
    func snapshot(_ yaml: String, resolved: [String: ResolvedName] = [:]) throws -> ConfigSnapshot {
        ConfigSnapshot(config: try ConfigLoader.parse(text: "_format_version: \"3.0\"\n" + yaml, file: "kong.yml"), resolved: resolved)
    }

    /// Adding a fourth target moves about a quarter of the keys, never most of them.
    @Test func addingATargetRemapsFewKeys() {
        let three = HashRing(targets: ["a:1", "b:1", "c:1"], weights: [100, 100, 100], slots: 10_000)
        let four = HashRing(targets: ["a:1", "b:1", "c:1", "d:1"], weights: [100, 100, 100, 100], slots: 10_000)
        var moved = 0
        var load = [0, 0, 0, 0]
        for k in 0..<10_000 {
            let key = "key-\(k)"
            let before = three.owners[three.index(for: key)!]
            let after = four.owners[four.index(for: key)!]
            load[after] += 1
            if before != after {
                moved += 1
                #expect(after == 3, "a key only ever moves to the new target")
            }
        }
        #expect(moved <= 3_000, "\(moved) of 10000 keys moved")
        #expect(moved >= 1_500)
        #expect(load.allSatisfy { $0 > 1_500 }, "\(load)")
    }


    /// A service host DNS resolved: its addresses taken in turn (Kong's round robin), an SRV port
    /// used, the Host and TLS server name still the name; a name that failed answers 503.
    @Test func aServiceHostResolvedByDNSIsTakenInTurnUnderItsName() throws {
        let snapshot = try snapshot("""
            services:
              - {name: api, url: "https://api.example.test:8443"}
              - {name: srv, url: "http://srv.example.test:80"}
              - {name: gone, url: "http://gone.example.test"}
              - {name: plain, url: "http://10.1.2.3:81"}
            """, resolved: [
                "api.example.test": ResolvedName(addresses: [.init(ip: "10.0.0.1", port: nil, weight: 10), .init(ip: "10.0.0.2", port: nil, weight: 10)], ttl: 30),
                "srv.example.test": ResolvedName(addresses: [.init(ip: "10.0.0.3", port: 9000, weight: 10)], ttl: 30),
                "gone.example.test": ResolvedName(addresses: [], ttl: 5),
            ])
        let api = snapshot.services[0]
        let picks = (0..<4).map { _ in api.nextDirectTarget() }
        #expect(Set(picks.map(\.host)) == ["10.0.0.1", "10.0.0.2"] && picks[0] != picks[1] && picks[0] == picks[2])
        #expect(picks.allSatisfy { $0.port == 8443 })
        #expect(api.hostHeader(for: picks[0]) == "api.example.test:8443")
        #expect(api.tls(hostHeader: api.hostHeader(for: picks[0]))?.serverName == "api.example.test")
        #expect(snapshot.services[1].nextDirectTarget() == PoolKey(host: "10.0.0.3", port: 9000))
        #expect(snapshot.services[2].nameResolutionFailed)
        #expect(snapshot.services[3].nextDirectTarget() == PoolKey(host: "10.1.2.3", port: 81) && !snapshot.services[3].nameResolutionFailed)
    }

    /// The access steps of a route come out in Kong's order (descending plugin priority),
    /// whatever the order of the file.
    @Test func accessStepsRunInKongsPriorityOrder() throws {
        let snapshot = try snapshot("""
            services:
              - name: s
                url: http://127.0.0.1:9
                routes:
                  - name: r
                    paths: ["/"]
                    plugins:
                      - {name: proxy-cache, config: {strategy: memory}}
                      - {name: rate-limiting, config: {minute: 5}}
                      - {name: acl, config: {allow: [a]}}
                      - {name: key-auth}
                      - {name: cors}
                      - {name: correlation-id}
            """)
        #expect(snapshot.routes[0].access.map(\.name) == ["correlation-id", "cors", "key-auth", "acl", "rate-limiting", "proxy-cache"])
        #expect(snapshot.routes[0].authenticates && snapshot.routes[0].editsUpstream)
    }
}
