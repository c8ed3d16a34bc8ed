import Testing
@testable import ArgusDNS

@Suite struct DNSMessageTests {
    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    @Test func queriesAreEncoded() throws {
        let bytes = try #require(DNSMessage.query(id: 0x1234, name: "pool.argus.test", type: .srv))
        #expect(Array(bytes[0..<12]) == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(Array(bytes[12...]) == Self.name("pool.argus.test") + [0, 33, 0, 1])
        #expect(DNSMessage.query(id: 1, name: String(repeating: "a", count: 64) + ".test", type: .a) == nil)
    }

    @Test func srvAnswersWithCompressedNames() throws {
        var bytes: [UInt8] = [0xBE, 0xEF, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 1]
        bytes += Self.name("pool.test") + [0, 33, 0, 1]
        // answer 1: pool.test (pointer to 12) SRV 0 10 8001 web.test
        let target = Self.name("web.test")
        bytes += [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 30, 0, UInt8(6 + target.count), 0, 0, 0, 10, 0x1F, 0x41]
        let webOffset = bytes.count
        bytes += target
        // answer 2: SRV 0 30 8002, the target a pointer to the first one's
        bytes += [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 20, 0, 8, 0, 0, 0, 30, 0x1F, 0x42, 0xC0, UInt8(webOffset)]
        // additional: web.test A 127.0.0.1
        bytes += [0xC0, UInt8(webOffset), 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]
        let response = try #require(DNSMessage.parse(bytes))
        #expect(response.id == 0xBEEF && response.rcode == 0)
        #expect(response.answers.map(\.data) == [
            .srv(priority: 0, weight: 10, port: 8001, target: "web.test"), .srv(priority: 0, weight: 30, port: 8002, target: "web.test"),
        ])
        #expect(response.answers.map(\.ttl) == [30, 20])
        #expect(response.additional.first?.name == "web.test" && response.additional.first?.data == .a([127, 0, 0, 1]))
    }

    @Test func brokenResponsesAreRejected() {
        let header: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0]
        // a pointer loop
        #expect(DNSMessage.parse(header + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]) == nil)
        // rdata past the end
        #expect(DNSMessage.parse(header + [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2]) == nil)
        // a query, not a response
        #expect(DNSMessage.parse([0, 1, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
        #expect(DNSMessage.parse([1, 2, 3]) == nil)
        // NXDOMAIN
        #expect(DNSMessage.parse([0, 1, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0])?.rcode == 3)
    }
}

@Suite struct HostsFileTests {
    @Test func hostsLinesGiveIPv4AddressesByName() {
        let hosts = TargetResolver.readHosts("127.0.0.1 localhost api.local  # loopback\n::1 localhost ip6-localhost\n# 10.0.0.9 gone\n10.0.0.2\tAPI.local\n")
        #expect(hosts["localhost"] == ["127.0.0.1"])
        #expect(hosts["api.local"] == ["127.0.0.1", "10.0.0.2"])
        #expect(hosts["gone"] == nil && hosts["ip6-localhost"] == nil)
    }
}
