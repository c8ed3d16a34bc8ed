import Testing
@testable import ArgusRouting

@Suite struct PathNormalizerTests {
    @Test(arguments: [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b/"),
        // dot segments
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/..", "/"),
        ("/../a", "/a"),
        ("/a/b/../../..", "/"),
        ("/.hidden/..x/...", "/.hidden/..x/..."),
        // duplicate slashes
        ("//a//b//", "/a/b/"),
        ("///", "/"),
        ("/a/.//b", "/a/b"),
        // percent-decoding: unreserved and "other" bytes decoded, reserved kept with upper-case hex
        ("/%41%62c", "/Abc"),
        ("/%7e%2D%5f%2e", "/~-_."),
        ("/a%2Fb", "/a%2Fb"),
        ("/a%2fb", "/a%2Fb"),
        ("/%3f%23%25%3a%40", "/%3F%23%25%3A%40"),
        ("/%2525", "/%2525"),
        ("/foo%20bar", "/foo bar"),
        ("/caf%C3%A9", "/café"),
        ("/%FF%FE", "/%FF%FE"),
        ("/%2E%2E/a", "/a"),
        ("/a/%2e/b", "/a/b"),
        ("/plain-path_123~", "/plain-path_123~"),
    ])
    func normalises(raw: String, expected: String) {
        #expect(PathNormalizer.normalize(Substring(raw)) == expected)
    }

    @Test(arguments: ["/a%zz", "/a%2", "/a%", "/%g0", "", "a/b", "*", "http://x/y"])
    func rejects(raw: String) {
        #expect(PathNormalizer.normalize(Substring(raw)) == nil)
    }

    @Test func acceptsSubstringsOfALargerString() {
        let target = "/a//b/../c?x=1"
        let path = target[..<target.firstIndex(of: "?")!]
        #expect(PathNormalizer.normalize(path) == "/a/c")
    }
}
