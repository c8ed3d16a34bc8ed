import ArgusConfig
import Testing
@testable import ArgusRouting

/// What a match carries for the proxy: upstream path, stripped prefix, captures.
@Suite struct RouterUpstreamTests {
    @Test func regexStripRemovesTheWholeMatchAndExposesCaptures() throws {
        let router = makeRouter([makeRoute("r", paths: ["~/users/(?<id>\\d+)"])])
        let match = try #require(router.match("/users/42/orders"))
        #expect(match.upstreamPath == "/orders")
        #expect(match.strippedPrefix == "/users/42")
        #expect(match.captures == ["0": "/users/42", "1": "42", "id": "42"])
    }

    @Test func pythonStyleNamedGroupsAndUnmatchedGroups() throws {
        let router = makeRouter([makeRoute("r", paths: ["~/(?P<kind>a|b)(/(x))?"], stripPath: false)])
        let match = try #require(router.match("/b/y"))
        #expect(match.captures == ["0": "/b", "1": "b", "kind": "b"])
        #expect(match.upstreamPath == "/b/y")
        #expect(match.strippedPrefix == nil)
    }

    @Test func regexWithoutGroupsHasNoCaptures() throws {
        let match = try #require(makeRouter([makeRoute("r", paths: ["~/v\\d+"])]).match("/v2/x"))
        #expect(match.captures.isEmpty)
        #expect(match.upstreamPath == "/x")
    }

    @Test func firstMatchingRegexOfARouteProvidesTheMatch() throws {
        let router = makeRouter([makeRoute("r", paths: ["~/a/(?<first>\\d+)", "~/a/(?<second>\\w+)"])])
        #expect(try #require(router.match("/a/7")).captures["first"] == "7")
        #expect(try #require(router.match("/a/z")).captures["second"] == "z")
    }

    @Test(arguments: [
        (["/foo"], true, "/foo/bar", "/foo" as String?),
        (["/foo"], false, "/foo/bar", nil),
        (["/"], true, "/foo/bar", nil),
        (nil, true, "/foo/bar", nil),
    ] as [([String]?, Bool, String, String?)])
    func strippedPrefix(paths: [String]?, strip: Bool, request: String, expected: String?) {
        let router = makeRouter([makeRoute("r", paths: paths, hosts: ["example.com"], stripPath: strip)])
        #expect(router.match(request)?.strippedPrefix == expected)
    }

    @Test func prefixStripUsesTheRoutePathNotTheRequestSegment() throws {
        let service = Service(id: "svc", host: "u", path: "/api")
        let router = makeRouter([makeRoute("r", paths: ["/foo"])], services: [service])
        let match = try #require(router.match("/foobar"))
        #expect(match.upstreamPath == "/api/bar")
        #expect(match.strippedPrefix == "/foo")
    }

    @Test(arguments: [
        ("/files/a%20b", "/files/a%20b"),
        ("/files/a%2Fb", "/files/a%2Fb"),
        ("/files/caf%c3%a9", "/files/caf%C3%A9"),
        ("/files/%41", "/files/A"),
        ("/files/x/../y", "/files/y"),
    ])
    func upstreamPathIsEscapedLikeKong(request: String, expected: String) {
        let router = makeRouter([makeRoute("r", paths: ["/files"], stripPath: false)])
        #expect(router.match(request)?.upstreamPath == expected)
    }

    @Test func queryStringIsNotPartOfTheMatch() {
        let router = makeRouter([makeRoute("r", paths: ["/search"], stripPath: false)])
        let raw = "/search/x?q=1&r=/other"
        let path = raw[..<raw.firstIndex(of: "?")!]
        let normalized = PathNormalizer.normalize(path)
        #expect(normalized == "/search/x")
        let match = router.match(RouterRequest(method: "GET", host: "h", port: 80, path: normalized!), headers: [String: [String]]())
        #expect(match?.upstreamPath == "/search/x")
    }

    @Test func concurrentLookupsShareOneRouter() async {
        let router = makeRouter([makeRoute("regex", paths: ["~/r/(?<n>\\d+)"]), makeRoute("prefix", paths: ["/p"])])
        let failures = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var failures = 0
                    for i in 0..<500 {
                        if router.match("/r/\(i + worker)")?.captures["n"] != String(i + worker) { failures += 1 }
                        if router.matchedID("/p/\(i)") != "prefix" { failures += 1 }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}
