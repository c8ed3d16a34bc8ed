import ArgusConfig
import Testing
@testable import ArgusRouting

/// Every component of the traditional_compatible priority (kong-compat §2), most significant first.
@Suite struct RouterPrecedenceTests {
    @Test func moreMatchFieldsWinOverALongerPrefix() {
        let router = makeRouter([
            makeRoute("a-weight2", paths: ["/"], methods: ["GET"]),
            makeRoute("b-weight1", paths: ["/foo/bar/long"]),
        ])
        #expect(router.matchedID("/foo/bar/long") == "a-weight2")
        #expect(router.matchedID("/foo/bar/long", method: "POST") == "b-weight1")
    }

    @Test(arguments: [
        makeRoute("fields", paths: ["/"], hosts: ["example.com"]),
        makeRoute("fields", paths: ["/"], headers: ["x-a": ["1"]]),
        makeRoute("fields", paths: ["/"], snis: ["example.com"]),
        makeRoute("fields", hosts: ["example.com"], methods: ["GET"]),
    ])
    func everyFieldCountsInTheMatchWeight(twoFields: Route) {
        let router = makeRouter([twoFields, makeRoute("one-field", paths: ["/x/very/long/prefix"])])
        #expect(router.matchedID("/x/very/long/prefix", headers: ["x-a": ["1"]]) == "fields")
    }

    @Test func plainHostsBeatWildcardHosts() {
        let router = makeRouter([
            makeRoute("wildcard", paths: ["/long/path/here"], hosts: ["*.example.com"]),
            makeRoute("plain", paths: ["/"], hosts: ["api.example.com"]),
            makeRoute("mixed", paths: ["/long/path/here/too"], hosts: ["api.example.com", "*.example.org"]),
        ])
        #expect(router.matchedID("/long/path/here/too", host: "api.example.com") == "plain")
        #expect(router.matchedID("/long/path/here", host: "www.example.com") == "wildcard")
        #expect(router.matchedID("/long/path/here/too", host: "www.example.org") == "mixed")
    }

    @Test func moreHeaderNamesWin() {
        let router = makeRouter([
            makeRoute("two-headers", paths: ["/"], headers: ["x-a": ["1"], "x-b": ["2"]]),
            makeRoute("one-header", paths: ["/long/prefix"], headers: ["x-a": ["1"]]),
        ])
        #expect(router.matchedID("/long/prefix", headers: ["x-a": ["1"], "x-b": ["2"]]) == "two-headers")
        #expect(router.matchedID("/long/prefix", headers: ["x-a": ["1"]]) == "one-header")
    }

    @Test func regexPathsOutrankPrefixPathsWhateverTheirLength() {
        let router = makeRouter([
            makeRoute("prefix", paths: ["/foo/bar/baz"]),
            makeRoute("regex", paths: ["~/fo+"]),
        ])
        #expect(router.matchedID("/foo/bar/baz") == "regex")
        #expect(router.matchedID("/bar") == nil)
    }

    @Test func regexPriorityOrdersRegexRoutes() {
        let low = makeRoute("low", paths: ["~/a/b"], regexPriority: 1)
        let high = makeRoute("high", paths: ["~/a"], regexPriority: 10)
        #expect(makeRouter([low, high]).matchedID("/a/b") == "high")
        let negative = makeRoute("negative", paths: ["~/a"], regexPriority: -5)
        #expect(makeRouter([low, negative]).matchedID("/a/b") == "low")
    }

    @Test func regexPriorityIsIgnoredForPrefixPaths() {
        let router = makeRouter([
            makeRoute("short", paths: ["/a"], regexPriority: 100),
            makeRoute("long", paths: ["/a/b"]),
        ])
        #expect(router.matchedID("/a/b/c") == "long")
    }

    @Test(arguments: [("/a/b/c", "long"), ("/a/b", "long"), ("/a/x", "short"), ("/ab", "short"), ("/b", nil)])
    func longerPrefixWins(path: String, expected: String?) {
        let router = makeRouter([makeRoute("short", paths: ["/a"]), makeRoute("long", paths: ["/a/b"])])
        #expect(router.matchedID(path) == expected)
    }

    @Test func tiesGoToTheGreatestRouteID() {
        let a = makeRoute("aaaa", paths: ["/same"])
        let b = makeRoute("bbbb", paths: ["/same"])
        #expect(makeRouter([a, b]).matchedID("/same") == "bbbb")
        #expect(makeRouter([b, a]).matchedID("/same") == "bbbb")
    }

    @Test(arguments: [
        ("/abc/def/g", "multi"),  // its 8-byte prefix beats "/abc"
        ("/abcz", "single"),  // "/abc" (4) beats multi's "/a" (2): the long path does not lend its length
        ("/ab", "multi"),
        ("/x1", "multi"),  // its regex virtual route
        ("/zzz", nil),
    ])
    func multiPathRoutesBecomeVirtualRoutes(path: String, expected: String?) {
        let router = makeRouter([
            makeRoute("multi", paths: ["/a", "/abc/def", "~/x\\d"]),
            makeRoute("single", paths: ["/abc"]),
        ])
        #expect(router.matchedID(path) == expected)
        #expect(router.routeCount == 2)
        #expect(router.virtualRoutes.count == 4)
    }

    @Test func regexVirtualRouteOfAMultiPathRouteOutranksItsPrefixes() {
        let router = makeRouter([makeRoute("multi", paths: ["/items/special", "~/items/(?<id>\\d+)"])])
        let match = router.match("/items/42")
        #expect(match?.captures["id"] == "42")
        #expect(router.match("/items/special")?.captures.isEmpty == true)
    }
}
