import ArgusApp
import ArgusConfig
import Foundation
import Testing

@Suite("correlation-id, cors and request-size-limiting through a real gateway")
struct TrafficPluginTests {
    static func gateway(_ port: Int, plugins: String) async throws -> GatewayHarness {
        try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            plugins:
            \(plugins)
            """)
    }

    func sent(_ backend: RawBackend) -> [String] { backend.requests.last?.components(separatedBy: "\r\n") ?? [] }

    @Test func correlationIDIsGeneratedKeptEchoedAndLogged() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let directory = NSTemporaryDirectory() + "argus-correlation-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gw = try await Self.gateway(port, plugins: """
              - name: correlation-id
                config: {echo_downstream: true}
              - name: file-log
                config: {path: \(directory)/access.log}
            """)
        let first = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        let id = try #require(first.header("Kong-Request-ID"))
        #expect(id.hasSuffix("#1") && id.count == 38)
        #expect(sent(backend).contains("Kong-Request-ID: \(id)"))
        let second = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(second.header("Kong-Request-ID") == String(id.dropLast()) + "2")
        // An incoming id is kept as it is.
        let kept = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nkong-request-id: mine-42\r\n\r\n"))
        #expect(kept.header("Kong-Request-ID") == "mine-42")
        #expect(sent(backend).contains("kong-request-id: mine-42"))
        #expect(sent(backend).filter { $0.lowercased().hasPrefix("kong-request-id") }.count == 1)
        await gw.stop()
        let records = try String(contentsOfFile: directory + "/access.log", encoding: .utf8).split(separator: "\n")
            .map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(records.map { $0["correlation_id"] as? String } == [id, String(id.dropLast()) + "2", "mine-42"])
        await backend.stop()
    }

    @Test func correlationIDGenerators() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: correlation-id
                config: {header_name: X-Trace, generator: tracker, echo_downstream: true}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        let tracker = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.header("X-Trace"))
        let parts = tracker.split(separator: "-")
        #expect(parts.count == 6 && parts[0] == "127.0.0.1" && parts[1] == Substring(String(gw.proxyPort)))
        #expect(parts[4] == "1" && parts[5].contains("."))
        let uuid = try await Self.gateway(port, plugins: "  - name: correlation-id\n    config: {generator: uuid}")
        defer { Task { await uuid.stop() } }
        _ = try await uuid.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let line = try #require(sent(backend).first { $0.hasPrefix("Kong-Request-ID: ") })
        #expect(UUID(uuidString: String(line.dropFirst("Kong-Request-ID: ".count))) != nil)
    }

    @Test func corsPreflightAndActualRequests() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: cors
                config:
                  origins: ["https://app.example.com", "https://.*\\\\.example\\\\.org"]
                  methods: [GET, POST]
                  headers: [X-Token]
                  exposed_headers: [X-Total]
                  max_age: 600
                  credentials: true
            """)
        defer { Task { await gw.stop(); await backend.stop() } }

        let preflight = try #require(try await gw.request(
            "OPTIONS /items HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n\r\n"))
        #expect(preflight.status == 200 && preflight.bodyString.isEmpty)
        #expect(preflight.header("Access-Control-Allow-Origin") == "https://app.example.com")
        #expect(preflight.header("Vary") == "Origin")
        #expect(preflight.header("Access-Control-Allow-Credentials") == "true")
        #expect(preflight.header("Access-Control-Allow-Methods") == "GET,POST")
        #expect(preflight.header("Access-Control-Allow-Headers") == "X-Token")
        #expect(preflight.header("Access-Control-Max-Age") == "600")
        #expect(backend.requests.isEmpty)

        let regex = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://shop.example.org\r\n\r\n"))
        #expect(regex.status == 200 && regex.header("Access-Control-Allow-Origin") == "https://shop.example.org")
        #expect(regex.header("Access-Control-Expose-Headers") == "X-Total")
        #expect(regex.header("Access-Control-Allow-Credentials") == "true")
        let foreign = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example.net\r\n\r\n"))
        #expect(foreign.status == 200 && foreign.header("Access-Control-Allow-Origin") == nil && foreign.header("Vary") == "Origin")
        #expect(backend.requests.count == 2)
    }

    @Test func corsDefaultsAndPreflightContinue() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let any = try await Self.gateway(port, plugins: "  - name: cors")
        defer { Task { await any.stop(); await backend.stop() } }
        let p = try #require(try await any.request(
            "OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: X-A, X-B\r\n\r\n"))
        #expect(p.header("Access-Control-Allow-Origin") == "*")
        #expect(p.header("Access-Control-Allow-Headers") == "X-A, X-B")
        #expect(p.header("Access-Control-Allow-Methods") == "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT")

        let through = try await Self.gateway(port, plugins: "  - name: cors\n    config: {preflight_continue: true}")
        defer { Task { await through.stop() } }
        #expect(try await through.request(
            "OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\nAccess-Control-Request-Method: PUT\r\n\r\n")?.status == 200)
        #expect(backend.requests.count == 1)
    }

    /// Kong's cors owns Access-Control-Allow-Origin: an upstream's `*` is replaced by the allowed
    /// origin, and removed when the origin is not allowed (credentials still announced).
    @Test func corsOwnsTheUpstreamsAllowOrigin() async throws {
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 2\r\n\r\nok") }
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: "  - name: cors\n    config: {origins: [a.xxx.test, allowed-domain.test], credentials: true}")
        defer { Task { await gw.stop(); await backend.stop() } }
        let allowed = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: allowed-domain.test\r\n\r\n"))
        #expect(allowed.headers("Access-Control-Allow-Origin") == ["allowed-domain.test"])
        #expect(allowed.header("Access-Control-Allow-Credentials") == "true")
        let refused = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: disallowed-domain.test\r\n\r\n"))
        #expect(refused.headers("Access-Control-Allow-Origin").isEmpty)
        #expect(refused.header("Access-Control-Allow-Credentials") == "true")
    }

    /// Kong's header_filter runs on its own errors: cors and correlation-id headers are on a 502.
    @Test func corsAndCorrelationHeadersOnGatewayErrors() async throws {
        let gw = try await Self.gateway(1, plugins: """
              - name: cors
                config: {origins: [example.test], exposed_headers: [x-auth-token]}
              - name: correlation-id
                config: {echo_downstream: true}
            """)
        defer { Task { await gw.stop() } }
        let failed = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nOrigin: example.test\r\n\r\n"))
        #expect(failed.status == 502)
        #expect(failed.header("Access-Control-Allow-Origin") == "example.test" && failed.header("Access-Control-Expose-Headers") == "x-auth-token")
        #expect(failed.header("Kong-Request-ID") != nil)
    }

    /// Kong's request-termination (`spec/03-plugins/14-request-termination`): the default
    /// answer, a raw body with its content type, a trigger, echo; checked after the other plugins.
    @Test func requestTermination() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        defer { Task { await backend.stop() } }
        let plain = try await Self.gateway(port, plugins: "  - name: request-termination")
        defer { Task { await plain.stop() } }
        let down = try #require(try await plain.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(down.status == 503 && down.bodyString == #"{"message":"Service unavailable"}"#)
        #expect(down.header("Content-Type") == "application/json; charset=utf-8")

        let raw = try await Self.gateway(port, plugins: """
              - name: request-termination
                config: {status_code: 418, body: "<h1>teapot</h1>", content_type: text/html, trigger: x-maintenance}
            """)
        defer { Task { await raw.stop() } }
        #expect(try await raw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)  // no trigger: proxied
        let triggered = try #require(try await raw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Maintenance: 1\r\n\r\n"))
        #expect(triggered.status == 418 && triggered.bodyString == "<h1>teapot</h1>" && triggered.header("Content-Type") == "text/html")
        #expect(try await raw.request("GET /?x-maintenance HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 418)

        let echo = try await Self.gateway(port, plugins: "  - name: request-termination\n    config: {status_code: 200, echo: true}")
        defer { Task { await echo.stop() } }
        let echoed = try #require(try await echo.request("POST /a/b?x=1&flag HTTP/1.1\r\nHost: x\r\nX-Debug: yes\r\nContent-Length: 0\r\n\r\n"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(echoed.bodyString.utf8)) as? [String: Any])
        let request = try #require(json["request"] as? [String: Any])
        #expect(echoed.status == 200 && request["method"] as? String == "POST" && request["path"] as? String == "/a/b")
        #expect((request["headers"] as? [String: Any])?["x-debug"] as? String == "yes")
        #expect((request["query"] as? [String: Any])?["x"] as? String == "1" && (request["query"] as? [String: Any])?["flag"] as? Bool == true)
        #expect((json["matched_route"] as? [String: Any])?["name"] as? String == "main")
        #expect(backend.requests.count == 1)
    }

    @Test func requestSizeLimiting() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: "  - name: request-size-limiting\n    config: {allowed_payload_size: 10, size_unit: bytes}")
        defer { Task { await gw.stop(); await backend.stop() } }

        let big = try #require(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"))
        #expect(big.status == 413)
        let id = try #require(big.header("X-Kong-Request-Id"))
        #expect(big.bodyString == "{\n  \"message\":\"Request size limit exceeded\",\n  \"request_id\":\"\(id)\"\n}")
        #expect(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")?.status == 417)
        #expect(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")?.status == 200)
        #expect(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")?.status == 200)
        // A chunked body is counted as it streams: past the limit, 413 and the connection closes.
        let chunked = try #require(try await gw.request(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n"))
        #expect(chunked.status == 413 && chunked.header("Connection") == "close")
        // (The upstream may have seen the head and the first chunk before the limit was passed.)
        #expect(backend.requests.count <= 3)

        let strict = try await Self.gateway(port, plugins: "  - name: request-size-limiting\n    config: {require_content_length: true}")
        defer { Task { await strict.stop() } }
        let r = try #require(try await strict.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 411 && r.bodyString.contains("A valid Content-Length header is required"))
    }

    /// request-transformer on headers, the query, the URI (with a capture) and the method, in
    /// Kong's order: remove, rename, replace, add, append.
    @Test func requestTransformerRewritesTheUpstreamRequest() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: items, paths: ["~/items/(?<id>\\\\d+)$"]}]
            plugins:
              - name: request-transformer
                config:
                  http_method: POST
                  remove: {headers: [x-remove], querystring: [drop]}
                  rename: {headers: ["x-old:x-new"], querystring: ["a:b"]}
                  replace: {headers: ["x-rep:replaced-$(query_params.q)", "host:rewritten.test"], uri: "/new/$(uri_captures.id)"}
                  add: {headers: ["x-added:1", "x-rep:not-added"], querystring: ["added:yes"]}
                  append: {headers: ["x-multi:two"]}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        let r = try #require(try await gw.request(
            "GET /items/42?drop=1&a=7&q=z HTTP/1.1\r\nHost: x\r\nX-Remove: gone\r\nX-Old: v\r\nX-Rep: orig\r\nX-Multi: one\r\nX-Keep: k\r\n\r\n"))
        #expect(r.status == 200)
        let lines = sent(backend)
        #expect(lines[0] == "POST /new/42?added=yes&b=7&q=z HTTP/1.1")
        #expect(lines.contains("Host: rewritten.test"))
        #expect(!lines.contains { $0.lowercased().hasPrefix("x-remove") || $0.lowercased().hasPrefix("x-old") })
        #expect(lines.contains("x-new: v"))
        #expect(lines.contains("x-rep: replaced-z") && !lines.contains("X-Rep: orig") && !lines.contains { $0.hasSuffix("not-added") })
        #expect(lines.contains("x-added: 1"))
        #expect(lines.contains("x-multi: one") && lines.contains("x-multi: two"))
        #expect(lines.contains("X-Keep: k"))
    }

    @Test func responseTransformerRewritesResponseHeaders() async throws {
        let backend = RawBackend { _ in
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Secret: s\r\nX-Old: v\r\nX-Rep: orig\r\nX-Multi: one\r\nX-Keep: k\r\n\r\nok")
        }
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: response-transformer
                config:
                  remove: {headers: [x-secret]}
                  rename: {headers: ["x-old:x-new"]}
                  replace: {headers: ["x-rep:replaced", "x-absent:no"]}
                  add: {headers: ["x-added:1", "x-rep:not-added"]}
                  append: {headers: ["x-multi:two"]}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        let r = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 200 && r.bodyString == "ok")
        #expect(r.header("X-Secret") == nil && r.header("X-Old") == nil && r.header("X-New") == "v")
        #expect(r.headers("X-Rep") == ["replaced"] && r.header("X-Absent") == nil)
        #expect(r.header("X-Added") == "1")
        #expect(r.headers("X-Multi") == ["one", "two"])
        #expect(r.header("X-Keep") == "k")
        #expect(AccessSchemaTestsShim.refused("{name: response-transformer, config: {add: {json: [\"novalue\"]}}}"))
        #expect(!AccessSchemaTestsShim.refused("{name: response-transformer, config: {add: {json: [\"a:1\"]}}}"))
    }
}

/// Whether a plugin entry is refused when the config is loaded.
enum AccessSchemaTestsShim {
    static func refused(_ plugin: String) -> Bool {
        (try? ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [\(plugin)]", file: "k.yml")) == nil
    }
}
