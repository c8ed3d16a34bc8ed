import ArgusConfig
import ArgusHTTP
import ArgusPluginKit
import NIOCore
import Testing

@testable import ArgusTraffic

func head(_ raw: String) throws -> RequestHead {
    var parser = RequestHeadParser(maxRequestLineLength: 8192, maxHeadLength: 32768)
    var bytes = ByteBuffer(string: raw)
    guard case .head(let head) = parser.parse(&bytes) else { throw ParseFailure() }
    return head
}

struct ParseFailure: Error {}

func config(_ text: String) throws -> JSONValue {
    try #require(try ConfigLoader.parseValue(text: text))
}

@Suite struct RequestSizeLimitPlanTests {
    @Test func aDeclaredBodyOverTheLimitIsRefusedBeforeAnythingIsRead() throws {
        let plan = RequestSizeLimitPlan(config: try config("{allowed_payload_size: 10, size_unit: bytes}"))
        #expect(plan.allowedBytes == 10)
        #expect(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")) == nil)
        let refused = try #require(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")))
        #expect(refused.status == 413 && refused.message == "Request size limit exceeded")
        // a client waiting for 100 Continue is told 417, as Kong does
        let expecting = try #require(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")))
        #expect(expecting.status == 417)
        // a chunked body is counted as it streams
        #expect(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")) == nil)
    }

    @Test func unitsAndRequiredLength() throws {
        #expect(RequestSizeLimitPlan(config: try config("{allowed_payload_size: 2, size_unit: kilobytes}")).allowedBytes == 2048)
        #expect(RequestSizeLimitPlan(config: try config("{}")).allowedBytes == 128 << 20)
        let strict = RequestSizeLimitPlan(config: try config("{require_content_length: true}"))
        #expect(strict.check(try head("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))?.status == 411)
        #expect(strict.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n")) == nil)
    }
}

@Suite struct CorrelationIDTests {
    @Test func uuidCounterIsOneWorkerUUIDAndACounter() throws {
        var generator = CorrelationIDGenerator()
        let plan = CorrelationIDPlan(config: try config("{}"))
        #expect(plan.headerName == "Kong-Request-ID" && plan.generator == .uuidCounter && !plan.echoDownstream)
        let first = generator.next(.uuidCounter, serverAddress: "", serverPort: 0, connection: 0, connectionRequests: 0, nowMs: 0)
        let second = generator.next(.uuidCounter, serverAddress: "", serverPort: 0, connection: 0, connectionRequests: 0, nowMs: 0)
        #expect(first.hasSuffix("#1") && second.hasSuffix("#2"))
        #expect(first.dropLast(2) == second.dropLast(2) && first.count == 36 + 2)
    }

    @Test func trackerCarriesTheConnectionsFigures() {
        var generator = CorrelationIDGenerator()
        let id = generator.next(.tracker, serverAddress: "10.0.0.1", serverPort: 8000, connection: 7, connectionRequests: 3, nowMs: 1_700_000_000_005)
        #expect(id.hasPrefix("10.0.0.1-8000-") && id.hasSuffix("-7-3-1700000000.005"))
    }

    @Test func anIncomingIDIsKept() throws {
        let plan = CorrelationIDPlan(config: try config("{header_name: X-Trace}"))
        #expect(plan.existing(try head("GET / HTTP/1.1\r\nHost: x\r\nX-Trace: abc\r\n\r\n")) == "abc")
        #expect(plan.existing(try head("GET / HTTP/1.1\r\nHost: x\r\nX-Trace:\r\n\r\n")) == nil)
    }
}

@Suite struct CORSPlanTests {
    @Test func aPreflightIsAnOPTIONSWithOriginAndRequestedMethod() throws {
        let plan = CORSPlan(config: try config("{origins: [\"https://app.example\"], methods: [GET, PUT], max_age: 60}"))
        let preflight = try head("OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n")
        #expect(plan.isPreflight(preflight))
        #expect(!plan.isPreflight(try head("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n")))
        let headers = Dictionary(plan.preflightHeaders(preflight), uniquingKeysWith: { a, _ in a })
        #expect(headers["Access-Control-Allow-Origin"] == "https://app.example")
        #expect(headers["Access-Control-Allow-Methods"] == "GET,PUT" && headers["Access-Control-Max-Age"] == "60")
    }

    @Test func anOriginNotAllowedGetsNoAllowOrigin() throws {
        let plan = CORSPlan(config: try config("{origins: [\"https://app.example\", \"https://admin.example\"]}"))
        let other = plan.responseHeaders(try head("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n"))
        #expect(!other.contains { $0.0 == "Access-Control-Allow-Origin" })
        let allowed = plan.responseHeaders(try head("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://admin.example\r\n\r\n"))
        #expect(allowed.contains { $0.0 == "Access-Control-Allow-Origin" && $0.1 == "https://admin.example" })
    }

    /// The lines `writeResponseHeaders` adds to an actual response, as a text.
    static func lines(_ plan: CORSPlan, origin: String?) throws -> String {
        var out = ByteBuffer()
        let request = "GET / HTTP/1.1\r\nHost: x\r\n" + (origin.map { "Origin: \($0)\r\n" } ?? "") + "\r\n"
        plan.writeResponseHeaders(try head(request), into: &out)
        return String(buffer: out)
    }

    // Kong's cors spec (`13-cors/01-access_spec.lua`) and handler: the cases issue 23 names.
    @Test func credentialsWithAllowAllAndNoOriginSendNoAllowCredentials() throws {
        let plan = CORSPlan(config: try config("{origins: [\"*\"], credentials: true}"))
        #expect(try Self.lines(plan, origin: nil) == "Access-Control-Allow-Origin: *\r\n")
        #expect(try Self.lines(plan, origin: "http://www.example.net:3000")
            == "Access-Control-Allow-Origin: http://www.example.net:3000\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n")
    }

    @Test func aStarAmongSeveralOriginsAllowsAll() throws {
        let plan = CORSPlan(config: try config("{origins: [foo.bar, \"*\"]}"))
        #expect(try Self.lines(plan, origin: "http://www.example.net").hasPrefix("Access-Control-Allow-Origin: *\r\n"))
        let preflight = try head("OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://www.example.net\r\nAccess-Control-Request-Method: GET\r\n\r\n")
        #expect(plan.preflightHeaders(preflight).contains { $0 == ("Access-Control-Allow-Origin", "*") })
        #expect(!plan.preflightHeaders(preflight).contains { $0.0 == "Access-Control-Allow-Credentials" })
        // no Origin: nothing matches, the upstream's value is cleared
        #expect(try !Self.lines(plan, origin: nil).contains("Access-Control-Allow-Origin"))
    }

    @Test func anOriginWithoutSchemeMatchesOnlyThatText() throws {
        let plan = CORSPlan(config: try config("{origins: [example.test, example.org]}"))
        #expect(try Self.lines(plan, origin: "example.test").contains("Access-Control-Allow-Origin: example.test\r\n"))
        #expect(try !Self.lines(plan, origin: "http://example.test").contains("Access-Control-Allow-Origin"))
        #expect(try !Self.lines(plan, origin: "https://example.test").contains("Access-Control-Allow-Origin"))
    }

    @Test func anEmptyOriginCountsAsNone() throws {
        let plan = CORSPlan(config: try config("{origins: [\"http://my-site.test\", \"http://other.test\"], credentials: true}"))
        let empty = try Self.lines(plan, origin: "")
        #expect(!empty.contains("Access-Control-Allow-Origin") && empty.contains("Access-Control-Allow-Credentials: true"))
        #expect(!plan.isPreflight(try head("OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: \r\nAccess-Control-Request-Method: GET\r\n\r\n")))
    }

    /// Kong's cors9: a regex entry is matched against an Origin without a scheme too.
    @Test func aRegexMatchesASchemelessOrigin() throws {
        let plan = CORSPlan(config: try config(#"{origins: ['.*\.?example(?:-foo)?.test']}"#))
        for origin in ["example.test", "www.example.test", "example-foo.test", "www.example-foo.test"] {
            #expect(try Self.lines(plan, origin: origin).contains("Access-Control-Allow-Origin: \(origin)\r\n"), "\(origin)")
        }
        #expect(try !Self.lines(plan, origin: "www.example-fo0.test").contains("Access-Control-Allow-Origin"))
        #expect(plan.ownedResponseHeaders == ["access-control-allow-origin"])
        let credentialed = CORSPlan(config: try config("{origins: [a.test], credentials: true, exposed_headers: [x-a]}"))
        #expect(credentialed.ownedResponseHeaders
            == ["access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"])
    }

    @Test func credentialsAreAnnouncedForAListEvenWhenTheOriginIsRefused() throws {
        // `origins={"a.xxx.test","allowed-domain.test"}, credentials=true`: ACAC stays, ACAO goes
        let plan = CORSPlan(config: try config("{origins: [a.xxx.test, allowed-domain.test], credentials: true}"))
        let refused = try Self.lines(plan, origin: "disallowed-domain.test")
        #expect(!refused.contains("Access-Control-Allow-Origin") && refused.contains("Access-Control-Allow-Credentials: true"))
        #expect(try Self.lines(plan, origin: "allowed-domain.test").contains("Access-Control-Allow-Origin: allowed-domain.test"))
    }
}

/// request-transformer templates: the cases of Kong's `36-request-transformer/02-access_spec.lua`
/// that need no Lua, rendered from the request.
@Suite struct TransformerTemplateRenderTests {
    let captures = ["0": "/requests/user1/foo/user2/bar", "1": "foo", "2": "bar", "user1": "foo", "user2": "bar"]

    func rewrite(_ configText: String, _ raw: String, captures: [String: String]? = nil) throws -> RequestTransformerPlan.Rewrite {
        RequestTransformerPlan(config: try config(configText)).rewrite(try head(raw), captures: captures ?? self.captures)
    }

    @Test func uriCapturesQueryParamsAndHeaders() throws {
        let r = try rewrite(
            #"{add: {querystring: ["uri_param1:$(uri_captures.user1)", "uri_param2:$(headers.host)"], headers: ["x-test-header:$(query_params.q1)"]}, remove: {querystring: [q1]}}"#,
            "GET /requests/user1/foo/user2/bar?q1=20 HTTP/1.1\r\nHost: test15.test\r\n\r\n")
        #expect(r.query == "uri_param1=foo&uri_param2=test15.test")
        #expect(r.headerLines.contains("x-test-header: 20\r\n"))
    }

    @Test func replaceURIWithCapturesByNameAndIndex() throws {
        let named = try rewrite(#"{replace: {uri: "/requests/user2/$(uri_captures.user2)/user1/$(uri_captures.user1)"}}"#, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(named.uri == "/requests/user2/bar/user1/foo")
        let whole = try rewrite(#"{replace: {uri: "/requests$(uri_captures[0])"}}"#, "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                captures: ["0": "/user1/foo/user2/bar"])
        #expect(whole.uri == "/requests/user1/foo/user2/bar")
    }

    @Test func aDefaultForAMissingCaptureAndALiteralDollar() throws {
        let r = try rewrite(
            #"{add: {querystring: ["uri_param1:$(uri_captures.user1 or 'default1')", "uri_param2:$(uri_captures[\"user2\"] or 'default2')", "q3:$('$(uri_captures.user1)')"]}}"#,
            "GET /requests/?q1=20 HTTP/1.1\r\nHost: x\r\n\r\n", captures: [:])
        #expect(r.query == "q1=20&q3=%24%28uri_captures.user1%29&uri_param1=default1&uri_param2=default2")
    }

    @Test func headersByBracketAndUnderscoreNames() throws {
        let r = try rewrite(
            #"{add: {headers: ["x-a:$(headers['x-remove-header'])", "x-b:$(headers.x_remove_header)", "x-c:$(headers[\"X-Missing\"])"]}}"#,
            "GET / HTTP/1.1\r\nHost: x\r\nX-Remove-Header: its a test\r\n\r\n")
        #expect(r.headerLines.contains("x-a: its a test\r\n") && r.headerLines.contains("x-b: its a test\r\n"))
        #expect(r.headerLines.contains("x-c: \r\n"))
    }
}
