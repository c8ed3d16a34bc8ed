import ArgusConfig
import Foundation
import Logging
import Synchronization
import Testing
@testable import ArgusAdmin

/// Issue 23's silent failures in the Admin API, as Kong's specs have them: duplicate targets
/// (`08-targets_routes_spec.lua`), `PUT` on a target, `/consumers?custom_id=`
/// (`03-consumers_routes_spec.lua`), key-auth `ttl` (`09-key-auth/01-api_spec.lua`).
@Suite struct KongConformanceAdminTests {
    let admin = AdminAPITests()

    /// A store whose clock the test moves.
    final class Clock: Sendable {
        let now = Mutex(1_700_000_000.5)
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
        var value: Double { now.withLock { $0 } }
    }

    func withMovingClock(_ body: (AdminAPITests.Fixture, Clock) async throws -> Void) async throws {
        let file = NSTemporaryDirectory() + "argus-admin-\(UUID().uuidString).db"
        let database = try await EntityDatabase.open(path: file, logger: Logger(label: "test"))
        let clock = Clock()
        let config = try #require(ConfigLoader.build(document: try await database.document(), now: clock.value).config)
        let store = EntityStore(config: config, mode: .database(database), clock: { clock.value }) { _ in }
        let fixture = AdminAPITests.Fixture(
            api: AdminAPI(store: store, clock: { clock.value }), database: database, published: AdminAPITests.Published(), path: file)
        do {
            try await body(fixture, clock)
        } catch {
            await database.close()
            throw error
        }
        await database.close()
    }

    @Test func aDuplicateTargetIs409AndPutKeepsWhatItDoesNotSay() async throws {
        try await admin.withFixture { f in
            let (_, upstream) = await admin.call(f, "POST", "/upstreams", json: #"{"name": "pool"}"#)
            let uid = upstream["id"]?.stringValue ?? ""
            let (s1, target) = await admin.call(f, "POST", "/upstreams/pool/targets", json: #"{"target": "single-target.test:8080", "weight": 1}"#)
            #expect(s1 == 201)
            let (s2, duplicate) = await admin.call(f, "POST", "/upstreams/pool/targets", json: #"{"target": "single-target.test:8080", "weight": 100}"#)
            #expect(s2 == 409)
            #expect(duplicate["message"]?.stringValue
                == "UNIQUE violation detected on '{target=\"single-target.test:8080\",upstream={id=\"\(uid)\"}}'")
            #expect(duplicate["fields"]?["upstream"]?["id"]?.stringValue == uid)
            // without a port Kong's default 8000 is filled in first
            let (s3, _) = await admin.call(f, "POST", "/upstreams/pool/targets", json: #"{"target": "h.test"}"#)
            let (s4, _) = await admin.call(f, "POST", "/upstreams/pool/targets", json: #"{"target": "h.test:8000"}"#)
            #expect(s3 == 201 && s4 == 409)
            // PUT is PATCH: the weight stays, a missing target is 404
            let id = target["id"]?.stringValue ?? ""
            let (s5, moved) = await admin.call(f, "PUT", "/upstreams/pool/targets/\(id)", json: #"{"target": "single-target.test:8081"}"#)
            #expect(s5 == 200 && moved["weight"] == .int(1) && moved["target"]?.stringValue == "single-target.test:8081")
            let (s6, _) = await admin.call(f, "PUT", "/upstreams/pool/targets/nowhere.test:1", json: #"{"weight": 5}"#)
            #expect(s6 == 404)
            let (_, list) = await admin.call(f, "GET", "/upstreams/pool/targets")
            #expect(list["data"]?.arrayValue?.count == 2)
        }
    }

    @Test func consumersByCustomID() async throws {
        try await admin.withFixture { f in
            _ = await admin.call(f, "POST", "/consumers", json: #"{"username": "a", "custom_id": "c-1"}"#)
            _ = await admin.call(f, "POST", "/consumers", json: #"{"username": "b", "custom_id": "c-2"}"#)
            let (s1, one) = await admin.call(f, "GET", "/consumers?custom_id=c-2")
            #expect(s1 == 200 && one["data"]?.arrayValue?.map { $0["username"] } == [.string("b")] && one["next"] == .null)
            #expect(one["offset"] == nil)
            let (s2, none) = await admin.call(f, "GET", "/consumers?custom_id=nobody")
            #expect(s2 == 200 && none == .object(["data": .array([]), "next": .null]))
            let (s3, empty) = await admin.call(f, "GET", "/consumers?custom_id=")
            #expect(s3 == 400 && empty == .object(["message": .string("custom_id must be an unempty string")]))
            // repeated, it is a list to Kong (refused); a repeated `tags` takes its first value
            let (s4, _) = await admin.call(f, "GET", "/consumers?custom_id=c-1&custom_id=c-2")
            #expect(s4 == 400)
            _ = await admin.call(f, "POST", "/consumers", json: #"{"username": "t", "tags": ["x"]}"#)
            let (s5, tagged) = await admin.call(f, "GET", "/consumers?tags=x&tags=nothing")
            #expect(s5 == 200 && tagged["data"]?.arrayValue?.map { $0["username"] } == [.string("t")])
        }
    }

    @Test func aKeyWithATTLExpires() async throws {
        try await withMovingClock { f, clock in
            _ = await admin.call(f, "POST", "/consumers", json: #"{"username": "bob"}"#)
            let (s1, created) = await admin.call(f, "POST", "/consumers/bob/key-auth", json: #"{"key": "k1", "ttl": 10}"#)
            #expect(s1 == 201 && created["ttl"] == .int(9))  // the seconds left, floored, as Kong shows them
            let id = created["id"]?.stringValue ?? ""
            let (_, forever) = await admin.call(f, "POST", "/consumers/bob/key-auth", json: #"{"key": "k2"}"#)
            #expect(forever["ttl"] == .null)
            clock.advance(5)
            let (_, later) = await admin.call(f, "GET", "/consumers/bob/key-auth/\(id)")
            #expect(later["ttl"] == .int(4))
            // PATCH without ttl keeps the expiry
            let (_, patched) = await admin.call(f, "PATCH", "/consumers/bob/key-auth/\(id)", json: #"{"tags": ["t"]}"#)
            #expect(patched["ttl"] == .int(4))
            clock.advance(6)
            let (s2, _) = await admin.call(f, "GET", "/consumers/bob/key-auth/\(id)")
            #expect(s2 == 404)
            let (_, list) = await admin.call(f, "GET", "/consumers/bob/key-auth")
            #expect(list["data"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["k2"])
            let (s3, refused) = await admin.call(f, "POST", "/consumers/bob/key-auth", json: #"{"ttl": -1}"#)
            #expect(s3 == 400 && refused["message"]?.stringValue == "invalid option (ttl: must be an integer between 0 and 100000000)")
            #expect(refused["code"] == .int(11) && refused["options"]?["ttl"] != nil)
            // Kong's ttl cleanup: the expired key's value is free again, and its consumer can be deleted
            let (s4, again) = await admin.call(f, "POST", "/consumers/bob/key-auth", json: #"{"key": "k1"}"#)
            #expect(s4 == 201 && again["key"]?.stringValue == "k1")
            // PUT without a ttl: the key no longer expires
            let (_, expiring) = await admin.call(f, "POST", "/consumers/bob/key-auth", json: #"{"key": "k3", "ttl": 100}"#)
            let (_, replaced) = await admin.call(f, "PUT", "/consumers/bob/key-auth/\(expiring["id"]?.stringValue ?? "")", json: #"{"key": "k3"}"#)
            #expect(replaced["ttl"] == .null)
            let (_, short) = await admin.call(f, "POST", "/consumers/bob/key-auth", json: #"{"key": "k4", "ttl": 1}"#)
            #expect(short["ttl"] == .int(0))
            clock.advance(2)
            let (s5, _) = await admin.call(f, "DELETE", "/consumers/bob")
            #expect(s5 == 204)
        }
    }

    /// `?tags=`: the cases of Kong's `14-tags_spec.lua`.
    @Test func tagFilters() async throws {
        try await admin.withFixture { f in
            for i in 1...2 {
                let (s, consumer) = await admin.call(
                    f, "POST", "/consumers", json: #"{"username": "c\#(i)", "tags": ["corp_ a", "consumer_ \#(i)", "🦍"]}"#)
                #expect(s == 201)
                _ = await admin.call(f, "POST", "/consumers/\(consumer["id"]?.stringValue ?? "")/plugins",
                                     json: #"{"name": "file-log", "config": {"path": "/tmp/argus-tags-\#(i).log"}, "tags": ["corp_ a", "consumer_ \#(i)"]}"#)
            }
            func count(_ query: String) async -> (Int, Int?) {
                let (status, body) = await admin.call(f, "GET", query)
                return (status, body["data"]?.arrayValue?.count)
            }
            #expect(await count("/consumers?tags=corp_%20a") == (200, 2))
            #expect(await count("/consumers?tags=%F0%9F%A6%8D") == (200, 2))
            #expect(await count("/consumers?tags=corp_%20a,consumer_%201") == (200, 1))
            #expect(await count("/consumers?tags=consumer_%202/consumer_%201") == (200, 2))
            #expect(await count("/consumers?tags=''") == (200, 0))
            let (s1, empty) = await admin.call(f, "GET", "/consumers?tags=")
            #expect(s1 == 400 && empty["message"]?.stringValue == "invalid option (tags: cannot be null)")
            #expect(empty["code"] == .int(11) && empty["options"]?["tags"]?.stringValue == "cannot be null")
            for mixed in ["consumer_%203,consumer_%202/consumer_%201", "consumer_%203/consumer_%202,consumer_%201", "a,,b"] {
                let (s, body) = await admin.call(f, "GET", "/consumers?tags=\(mixed)")
                #expect(s == 400 && body["message"]?.stringValue == "invalid option (tags: invalid filter syntax)", "\(mixed)")
            }
            let (s4, notUTF8) = await admin.call(f, "GET", "/consumers?tags=%FF")
            #expect(s4 == 400 && notUTF8["message"]?.stringValue == "invalid option (tags: invalid filter syntax)")
            #expect(await count("/consumers?tags=corp_%20a,") == (200, 0))  // `a,`: the tags `a` and ``, which nothing has
            let (s2, many) = await admin.call(f, "GET", "/consumers?tags=a,b,c,d,e,f")
            #expect(s2 == 400 && many["message"]?.stringValue == "invalid option (tags: cannot query more than 5 tags)")
            // a nested list checks the syntax but is paged by its parent: the filter is ignored
            #expect(await count("/consumers/c1/plugins?tags=consumer_%202") == (200, 1))
            let (s3, _) = await admin.call(f, "GET", "/consumers/c1/plugins?tags=")
            #expect(s3 == 400)
            // /tags ignores it
            #expect(await count("/tags?tags=invalid@tag") == (200, 10))
            #expect(await count("/tags/corp_%20a?tags=not_a_tag") == (200, 4))
            // the next link carries the filter, before the size
            let (_, page) = await admin.call(f, "GET", "/consumers?tags=corp_%20a&size=1")
            #expect(page["next"]?.stringValue?.hasSuffix("&tags=corp_%20a&size=1") == true)
        }
    }
}
