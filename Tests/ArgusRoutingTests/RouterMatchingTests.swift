import ArgusConfig
import Testing
@testable import ArgusRouting

@Suite struct RouterMatchingTests {
    @Test(arguments: [
        ("*.example.com", "api.example.com", 8000, true),
        ("*.example.com", "a.b.example.com", 8000, true),
        ("*.example.com", "example.com", 8000, false),
        ("*.example.com", "api.example.org", 8000, false),
        ("example.*", "example.com", 8000, true),
        ("example.*", "example.co.uk", 8000, true),
        ("example.*", "www.example.com", 8000, false),
        ("example.com", "example.com", 8000, true),
        ("example.com", "Example.com", 8000, false),
        ("example.com", "www.example.com", 8000, false),
        ("example.com:8443", "example.com", 8443, true),
        ("example.com:8443", "example.com", 8000, false),
        ("*.example.com:8443", "api.example.com", 8443, true),
        ("*.example.com:8443", "api.example.com", 8000, false),
        ("example.*:8443", "example.net", 8443, true),
        ("example.*:8443", "example.net", 80, false),
    ])
    func hosts(entry: String, host: String, port: Int, matches: Bool) {
        let router = makeRouter([makeRoute("r", hosts: [entry])])
        #expect((router.matchedID("/", host: host, port: port) == "r") == matches)
    }

    @Test func anyHostEntryMayMatch() {
        let router = makeRouter([makeRoute("r", hosts: ["a.com:9000", "b.com", "*.c.com"])])
        #expect(router.matchedID("/", host: "a.com", port: 9000) == "r")
        #expect(router.matchedID("/", host: "a.com", port: 8000) == nil)
        #expect(router.matchedID("/", host: "b.com") == "r")
        #expect(router.matchedID("/", host: "x.c.com") == "r")
        #expect(router.matchedID("/", host: "d.com") == nil)
    }

    @Test(arguments: [
        (["x-version": ["v1"]], ["x-version": ["V1"]], true),
        (["x-version": ["v1"]], ["x-version": ["v2"]], false),
        (["x-version": ["v1"]], [:], false),
        (["x-version": ["V1"]], ["x-version": ["v1"]], true),
        (["x-version": ["v1", "v2"]], ["x-version": ["v2"]], true),
        (["x-version": ["v1"]], ["x-version": ["other", "v1"]], true),
        (["x-version": ["v1"]], ["x-version": ["v1x"]], false),
        (["x-a": ["1"], "x-b": ["2"]], ["x-a": ["1"], "x-b": ["2"]], true),
        (["x-a": ["1"], "x-b": ["2"]], ["x-a": ["1"]], false),
        (["x-client": ["~*^mobile-\\d+$"]], ["x-client": ["Mobile-12"]], true),
        (["x-client": ["~*^mobile-\\d+$"]], ["x-client": ["desktop"]], false),
        (["user-agent": ["~*bot"]], ["user-agent": ["GoogleBot/2.1"]], true),
        (["x-client": ["web", "~*^app"]], ["x-client": ["APP-ios"]], true),
        (["x_version": ["v1"]], ["x-version": ["v1"]], true),
    ] as [([String: [String]], [String: [String]], Bool)])
    func headers(condition: [String: [String]], sent: [String: [String]], matches: Bool) {
        let router = makeRouter([makeRoute("r", paths: ["/"], headers: condition)])
        #expect((router.matchedID("/", headers: sent) == "r") == matches)
    }

    @Test(arguments: [("GET", true), ("POST", true), ("DELETE", false), ("get", false)])
    func methods(method: String, matches: Bool) {
        let router = makeRouter([makeRoute("r", methods: ["GET", "POST"])])
        #expect((router.matchedID("/anything", method: method) == "r") == matches)
    }

    @Test func snisOnlyConstrainTLSRequests() {
        let router = makeRouter([makeRoute("r", paths: ["/"], snis: ["secure.example.com."])])
        #expect(router.matchedID("/") == "r")
        #expect(router.matchedID("/", sni: "secure.example.com") == "r")
        #expect(router.matchedID("/", sni: "other.example.com") == nil)
    }

    @Test func prefixPathsArePlainStringPrefixes() {
        let router = makeRouter([makeRoute("r", paths: ["/foo"])])
        #expect(router.matchedID("/foo") == "r")
        #expect(router.matchedID("/foo/x") == "r")
        #expect(router.matchedID("/foobar") == "r")
        #expect(router.matchedID("/fo") == nil)
        #expect(router.matchedID("/x/foo") == nil)
        #expect(router.matchedID("/FOO") == nil)
    }

    @Test func prefixesMatchTheNormalisedPath() {
        let router = makeRouter([makeRoute("r", paths: ["/api/v1"])])
        #expect(router.matchedID("/api//v1/x") == "r")
        #expect(router.matchedID("/api/v2/../v1") == "r")
        #expect(router.matchedID("/%61pi/v1") == "r")
        #expect(router.matchedID("/api%2Fv1") == nil)
    }

    @Test func regexPathsAreAnchoredAtTheStartOnly() {
        let router = makeRouter([makeRoute("r", paths: ["~/users/\\d+"])])
        #expect(router.matchedID("/users/42") == "r")
        #expect(router.matchedID("/users/42/orders") == "r")
        #expect(router.matchedID("/v1/users/42") == nil)
        #expect(router.matchedID("/users/x") == nil)
    }

    @Test func routesOfADisabledServiceAreSkipped() {
        let services = [Service(id: "on", host: "a"), Service(id: "off", host: "b", enabled: false)]
        let router = makeRouter(
            [makeRoute("disabled", paths: ["/x/long"], serviceID: "off"), makeRoute("enabled", paths: ["/x"], serviceID: "on")],
            services: services
        )
        #expect(router.matchedID("/x/long") == "enabled")
        #expect(router.routeCount == 1)
    }

    @Test func routeWithoutServiceStillMatches() {
        let router = makeRouter([makeRoute("orphan", paths: ["/o"], serviceID: nil)])
        let match = router.match("/o/p")
        #expect(match?.route.id == "orphan")
        #expect(match?.service == nil)
        #expect(match?.serviceIndex == nil)
        #expect(match?.upstreamPath == "/p")
    }

    @Test func serviceAndIndexesAreReported() {
        let services = [Service(id: "s0", host: "a"), Service(id: "s1", host: "b", path: "/base")]
        let router = makeRouter([makeRoute("r0", paths: ["/zero"], serviceID: "s0"), makeRoute("r1", paths: ["/one"], serviceID: "s1")], services: services)
        let match = router.match("/one/two")
        #expect(match?.routeIndex == 1)
        #expect(match?.serviceIndex == 1)
        #expect(match?.service?.host == "b")
        #expect(match?.upstreamPath == "/base/two")
    }

    @Test(arguments: [["tcp", "tls"], ["tls_passthrough"]])
    func streamRoutesAreSkipped(protocols: [String]) {
        let router = makeRouter([makeRoute("r", paths: ["/"], protocols: protocols)])
        #expect(router.matchedID("/") == nil)
        #expect(router.routeCount == 0)
    }

    /// Kong's router matches gRPC routes as HTTP ones (`grpc` as `http`, `grpcs` as `https`);
    /// the proxy then checks that the request is gRPC over HTTP/2.
    @Test(arguments: [["grpc"], ["grpcs"], ["grpc", "grpcs"]])
    func grpcRoutesMatchLikeHTTPOnes(protocols: [String]) {
        let router = makeRouter([makeRoute("r", paths: ["/pkg.Service/"], protocols: protocols)])
        #expect(router.matchedID("/pkg.Service/Method") == "r")
        #expect(router.routeCount == 1)
    }

    @Test func httpsOnlyRoutesStillMatchSoTheProxyCanRedirect() {
        let router = makeRouter([makeRoute("r", paths: ["/"], protocols: ["https"])])
        #expect(router.matchedID("/") == "r")
    }

    @Test func routesWithInvalidRegexesAreSkipped() {
        let router = makeRouter([
            makeRoute("bad-path", paths: ["~/(unclosed"]),
            makeRoute("bad-header", paths: ["/"], headers: ["x": ["~*(["]]),
            makeRoute("good", paths: ["/"]),
        ])
        #expect(router.routeCount == 1)
        #expect(router.matchedID("/x", headers: ["x": ["a"]]) == "good")
    }

    @Test func emptyConfigurationMatchesNothing() {
        let router = Router(config: .empty)
        #expect(router.routeCount == 0)
        #expect(router.matchedID("/") == nil)
    }
}
