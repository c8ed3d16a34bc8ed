import ArgusConfig
import Testing

@testable import ArgusPluginKit

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
