import ArgusApp
import ArgusConfig
import Foundation
import Testing

/// Upstream targets named in DNS, against a real dnsmasq on loopback: SRV records supply ports
/// and weights, A records addresses, a name that does not resolve is `dns_error`, and a changed
/// record is picked up once its TTL runs out.
@Suite("DNS discovery of upstream targets", .enabled(if: DNSServer.available))
struct DNSDiscoveryTests {
    /// A service host that is a name (no upstream of that name) is resolved by the same DNS client
    /// as targets (the system's resolver does not know these names): A records, an SRV record's
    /// port, and Kong's 503 for a name that does not resolve.
    @Test func serviceHostsAreResolvedByArgusDNS() async throws {
        let b1 = RawBackend.ok(body: "a-record"), b2 = RawBackend.ok(body: "srv-record")
        let p1 = try await b1.start(), p2 = try await b2.start()
        let dns = try DNSServer(records: [
            "--host-record=api.argus.test,127.0.0.1",
            "--srv-host=srvapi.argus.test,api.argus.test,\(p2),0,10",
        ])
        defer { dns.stop() }
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: a
                url: http://api.argus.test:\(p1)
                routes: [{name: a, paths: ["/a"]}]
              - name: srv
                url: http://srvapi.argus.test:80
                routes: [{name: srv, paths: ["/srv"]}]
              - name: missing
                url: http://missing.argus.test:80
                routes: [{name: missing, paths: ["/missing"]}]
            """) { $0.dnsResolver = .init(host: "127.0.0.1", port: dns.port) }
        defer { Task { await gw.stop(); await b1.stop(); await b2.stop() } }
        let a = try #require(try await gw.request("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(a.status == 200 && a.bodyString == "a-record")
        #expect(b1.requests.first?.contains("Host: api.argus.test:\(p1)\r\n") == true, "the Host is the service's name, not its address")
        let srv = try #require(try await gw.request("GET /srv HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(srv.status == 200 && srv.bodyString == "srv-record")
        let missing = try #require(try await gw.request("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(missing.status == 503 && missing.bodyString.contains("name resolution failed"))
    }

    @Test func srvAndARecordsAndDNSErrors() async throws {
        let b1 = RawBackend.ok(body: "one"), b2 = RawBackend.ok(body: "two"), b3 = RawBackend.ok(body: "three")
        let p1 = try await b1.start(), p2 = try await b2.start(), p3 = try await b3.start()
        let dns = try DNSServer(records: [
            "--host-record=web.argus.test,127.0.0.1",
            "--srv-host=pool.argus.test,web.argus.test,\(p1),0,10",
            "--srv-host=pool.argus.test,web.argus.test,\(p2),0,30",
        ])
        defer { dns.stop() }
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                host: named
                routes: [{name: main, paths: ["/"]}]
            upstreams:
              - name: named
                targets:
                  - {target: "pool.argus.test:80", weight: 100}
                  - {target: "web.argus.test:\(p3)", weight: 100}
                  - {target: "missing.argus.test:80", weight: 100}
            plugins:
              - name: prometheus
                config: {upstream_health_metrics: true}
            """) { $0.dnsResolver = .init(host: "127.0.0.1", port: dns.port) }
        defer { Task { await gw.stop(); await b1.stop(); await b2.stop(); await b3.stop() } }
        var counts: [String: Int] = [:]
        for _ in 0..<400 {
            let r = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(r.status == 200)
            counts[r.bodyString, default: 0] += 1
        }
        // target weights 100 + 100 (the missing one has none); pool's 100 split 10:30 by SRV weight
        #expect(abs((counts["one"] ?? 0) - 50) <= 4 && abs((counts["two"] ?? 0) - 150) <= 4 && abs((counts["three"] ?? 0) - 200) <= 4,
                "\(counts)")
        let health = try #require(try await gw.request("GET /upstreams/named/health HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort))
        let parsed = try ConfigLoader.parseValue(text: health.bodyString)
        let data = try #require(parsed?["data"]?.arrayValue)
        var byTarget: [String: JSONValue] = [:]
        for item in data { if let target = item["target"]?.stringValue { byTarget[target] = item } }
        #expect(byTarget["missing.argus.test:80"]?["health"] == JSONValue.string("DNS_ERROR"))
        #expect(byTarget["pool.argus.test:80"]?["data"]?["dns"] == JSONValue.string("SRV"))
        #expect(byTarget["pool.argus.test:80"]?["data"]?["addresses"]?.arrayValue?.count == 2)
        let metrics = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.statusPort)).bodyString
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("kong_upstream_target_health{") && $0.contains("missing.argus.test:80") && $0.contains("state=\"dns_error\"") }
        #expect(line?.hasSuffix(" 1") == true, "dns_error on /metrics: \(line ?? "none")")
        // a name that did not resolve has no address (Kong's exporter)
        #expect(line?.contains("address=\"\"") == true, "no address for dns_error: \(line ?? "none")")
    }

    @Test func aChangedRecordIsFollowedAfterItsTTL() async throws {
        let first = RawBackend.ok(body: "first"), second = RawBackend.ok(body: "second")
        let port = try await first.start()
        _ = try await second.start(port: port, host: "127.0.0.2")
        let dns = try DNSServer(records: [], hosts: "127.0.0.1 moving.argus.test\n")
        defer { dns.stop() }
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                host: moving
                routes: [{name: main, paths: ["/"]}]
            upstreams:
              - name: moving
                targets: [{target: "moving.argus.test:\(port)"}]
            """) { $0.dnsResolver = .init(host: "127.0.0.1", port: dns.port) }
        defer { Task { await gw.stop(); await first.stop(); await second.stop() } }
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.bodyString == "first")
        // The upstream Host is the target's name, not the address it resolved to (Kong's upstream_host).
        #expect(first.requests.last?.contains("\r\nHost: moving.argus.test:\(port)\r\n") == true, "\(first.requests.last ?? "")")
        try dns.setHosts("127.0.0.2 moving.argus.test\n")
        var moved = false
        for _ in 0..<40 where !moved {
            try await Task.sleep(for: .milliseconds(200))
            moved = try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.bodyString == "second"
        }
        #expect(moved, "the new address is used once the 1 s TTL ran out")
    }
}
