import ArgusConfig
import Testing
@testable import ArgusRouting

@Suite struct UpstreamPathTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let servicePath: String?
        let routePath: String
        let strip: Bool
        let request: String
        let expected: String
        var testDescription: String { "\(servicePath ?? "nil") \(routePath) strip=\(strip) \(request) → \(expected)" }
    }

    /// kong-compat §2 table, one group per row of the table.
    static let rows: [Row] = [
        // service path ends with `/`, strip_path=true
        Row(servicePath: "/", routePath: "/foo", strip: true, request: "/foo", expected: "/"),
        Row(servicePath: "/", routePath: "/foo", strip: true, request: "/foo/", expected: "/"),
        Row(servicePath: "/api/", routePath: "/foo", strip: true, request: "/foo", expected: "/api"),
        Row(servicePath: "/api/", routePath: "/foo/", strip: true, request: "/foo/", expected: "/api/"),
        Row(servicePath: "/api/", routePath: "/foo", strip: true, request: "/foo/bar", expected: "/api/bar"),
        Row(servicePath: "/api/", routePath: "/foo", strip: true, request: "/foobar", expected: "/api/bar"),
        Row(servicePath: "/api/", routePath: "/foo", strip: true, request: "/foo/", expected: "/api/"),
        // service path ends with `/`, strip_path=false
        Row(servicePath: "/api/", routePath: "/foo", strip: false, request: "/foo/bar", expected: "/api/foo/bar"),
        Row(servicePath: "/", routePath: "/foo", strip: false, request: "/foo", expected: "/foo"),
        Row(servicePath: nil, routePath: "/foo", strip: false, request: "/foo/bar/", expected: "/foo/bar/"),
        // service path does not end with `/`, strip_path=true (the `/api` + `/foo` examples)
        Row(servicePath: "/api", routePath: "/foo", strip: true, request: "/foo/bar", expected: "/api/bar"),
        Row(servicePath: "/api", routePath: "/foo", strip: true, request: "/foo", expected: "/api"),
        Row(servicePath: "/api", routePath: "/foo", strip: true, request: "/foobar", expected: "/api/bar"),
        Row(servicePath: "/api", routePath: "/foo", strip: true, request: "/foo/", expected: "/api/"),
        Row(servicePath: "/api", routePath: "/foo/", strip: true, request: "/foo/", expected: "/api/"),
        Row(servicePath: "/api", routePath: "/", strip: true, request: "/", expected: "/api"),
        // service path does not end with `/`, strip_path=false
        Row(servicePath: "/api", routePath: "/", strip: false, request: "/", expected: "/api"),
        Row(servicePath: "/api", routePath: "/foo", strip: false, request: "/foo/bar", expected: "/api/foo/bar"),
        Row(servicePath: "/api", routePath: "/foo", strip: false, request: "/foo", expected: "/api/foo"),
        // Kong's sanitize_uri_postfix on the remainder
        Row(servicePath: "/api", routePath: "/foo", strip: true, request: "/foo./x", expected: "/api/x"),
        Row(servicePath: "/api", routePath: "/foo", strip: true, request: "/foo..", expected: "/api"),
    ]

    @Test(arguments: rows)
    func joinTable(row: Row) {
        let joined = UpstreamPath.join(
            servicePath: row.servicePath, requestPath: row.request, matchedPrefix: Substring(row.routePath),
            stripPath: row.strip
        )
        #expect(joined == row.expected)
    }

    @Test(arguments: rows)
    func routerAppliesTheTable(row: Row) {
        let service = Service(id: "svc", host: "u", path: row.servicePath)
        let router = makeRouter([makeRoute("r", paths: [row.routePath], stripPath: row.strip)], services: [service])
        #expect(router.match(row.request)?.upstreamPath == row.expected)
    }

    @Test func routeWithoutPathsStripsOnlyTheLeadingSlash() {
        #expect(UpstreamPath.join(servicePath: "/api", requestPath: "/x/y", matchedPrefix: nil, stripPath: true) == "/api/x/y")
        #expect(UpstreamPath.join(servicePath: nil, requestPath: "/x/y", matchedPrefix: nil, stripPath: true) == "/x/y")
        #expect(UpstreamPath.join(servicePath: "/api/", requestPath: "/", matchedPrefix: nil, stripPath: true) == "/api/")
    }

    @Test(arguments: [
        ("/plain/path-_.~", "/plain/path-_.~"),
        ("/a b", "/a%20b"),
        ("/café", "/caf%C3%A9"),
        ("/a%2Fb", "/a%2Fb"),
        ("/q\"<>\\^`{|}", "/q%22%3C%3E%5C%5E%60%7B%7C%7D"),
        ("/!#$&'()*+,:;=?@[]", "/!#$&'()*+,:;=?@[]"),
    ])
    func escapesLikeKong(path: String, expected: String) {
        #expect(UpstreamPath.escape(path) == expected)
    }
}
