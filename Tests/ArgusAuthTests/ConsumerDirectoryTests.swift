import Foundation
import ArgusConfig
import Testing
@testable import ArgusAuth

@Suite struct ConsumerDirectoryTests {
    static let config = try! ConfigLoader.parse(text: """
        _format_version: "3.0"
        consumers:
          - username: alice
            keyauth_credentials: [{key: k1}]
            basicauth_credentials: [{username: al, password: pw}]
            acls: [{group: g1}, {group: g2}]
        """, file: "k.yml")

    /// key-auth `ttl` (Kong's declarative form: the Unix time the key expires): an expired key
    /// authenticates no one (Kong's 401 `Unauthorized`); 0 never expires.
    @Test func anExpiredKeyIsNoKey() throws {
        let now = Int(Date().timeIntervalSince1970)
        let config = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            consumers:
              - username: alice
                keyauth_credentials: [{key: gone, ttl: \(now - 10)}, {key: live, ttl: \(now + 3600)}, {key: forever, ttl: 0}]
            """, file: "k.yml")
        let d = ConsumerDirectory(config: config)
        #expect(d.keyAuth("gone") == nil)
        #expect(d.keyAuth("live")?.consumer == 0)
        #expect(d.keyAuth("forever")?.consumer == 0)
    }

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
