import ArgusConfig
import Testing
@testable import ArgusAuth
@testable import ArgusPluginKit
@testable import ArgusTraffic

@Suite struct QueryStringTests {
    @Test func findsDecodesAndCounts() {
        let q = QueryString("?a=1&apikey=k%2B1&b&apikey=2&x+y=z%20w"[...])
        #expect(q.first(named: "apikey").value == "k+1" && q.first(named: "apikey").count == 2)
        #expect(q.first(named: "b").value == "" && q.first(named: "b").count == 1)
        #expect(q.first(named: "x y").value == "z w")
        #expect(q.first(named: "none").value == nil && q.first(named: "none").count == 0)
        #expect(q.values(named: "apikey") == ["k+1", "2"])
        #expect(q.removing(["apikey"]) == "a=1&b&x+y=z%20w")
        #expect(QueryString(""[...]).first(named: "a").count == 0)
    }
}

@Suite struct CIDRSetTests {
    @Test func matchesV4V6AndMappedAddresses() throws {
        let set = try #require(CIDRSet(entries: ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]))
        #expect(set.contains(IPAddressParser.parse("10.200.3.4")!))
        #expect(!set.contains(IPAddressParser.parse("11.0.0.1")!))
        #expect(set.contains(IPAddressParser.parse("192.168.1.7")!))
        #expect(!set.contains(IPAddressParser.parse("192.168.1.8")!))
        #expect(set.contains(IPAddressParser.parse("2001:db8:1::5")!))
        #expect(set.contains(IPAddressParser.parse("::ffff:10.1.1.1")!))  // IPv4-mapped
        #expect(!set.contains(IPAddressParser.parse("2001:db9::1")!))
        #expect(CIDRSet(entries: ["10.0.0.0/33"]) == nil && CIDRSet.invalidEntry(in: ["1.2.3.4", "x"]) == "x")
        #expect(try #require(CIDRSet(entries: ["0.0.0.0/0"])).contains([1, 2, 3, 4]))
    }
}

@Suite struct ConsumerDirectoryTests {
    static let config = try! ConfigLoader.parse(text: """
        _format_version: "3.0"
        consumers:
          - username: alice
            keyauth_credentials: [{key: k1}]
            basicauth_credentials: [{username: al, password: pw}]
            acls: [{group: g1}, {group: g2}]
        """, file: "k.yml")

    @Test func indexesCredentials() {
        let d = ConsumerDirectory(config: Self.config)
        #expect(d.keyAuth("k1")?.consumer == 0)
        #expect(d.keyAuth("k2") == nil && d.keyAuth("k") == nil && d.keyAuth("k11") == nil)
        #expect(d.basicAuth(username: "al", password: "pw")?.consumer == 0)
        #expect(d.basicAuth(username: "al", password: "pW") == nil)
        #expect(d.groups[0] == ["g1", "g2"])
        #expect(String(decoding: d.groupsLines[0], as: UTF8.self) == "X-Consumer-Groups: g1, g2\r\n")
        #expect(d.consumer(idOrUsername: "alice") == 0 && d.consumer(idOrUsername: Self.config.consumers[0].id) == 0)
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]) && !ConstantTime.equal([1, 2, 3], [1, 2, 4]) && !ConstantTime.equal([1], [1, 2]))
    }
}
