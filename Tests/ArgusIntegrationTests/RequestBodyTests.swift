import ArgusApp
import ArgusConfig
import ArgusProxy
import Foundation
import Testing

@Suite("request bodies read whole: request-transformer's body operations, key-auth's key_in_body")
struct RequestBodyTests {
    static func gateway(_ port: Int, plugins: String, consumers: String = "", limit: Int? = nil) async throws -> GatewayHarness {
        try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            \(consumers)
            plugins:
            \(plugins)
            """) { settings in
            if let limit { settings.proxy.maxBufferedBodySize = limit }
        }
    }

    static let transformer = """
          - name: request-transformer
            config:
              remove: {body: [secret]}
              rename: {body: ["old:fresh"]}
              replace: {body: ["status:$(headers['x-status'])"]}
              add: {body: ["new:v", "keep:ignored"]}
              append: {body: ["tags:t2"]}
        """

    func post(_ gw: GatewayHarness, type: String, body: String, extra: String = "") async throws -> RawClient.Response {
        try #require(try await gw.request(
            "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"))
    }

    func sentHead(_ backend: RawBackend) -> String { backend.requests.last ?? "" }

    @Test func jsonBodies() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: Self.transformer)
        defer { Task { await gw.stop(); await backend.stop() } }
        let response = try await post(
            gw, type: "application/json", body: #"{"secret":"s","old":1,"status":"a","tags":"t1","keep":true}"#, extra: "X-Status: done\r\n")
        #expect(response.status == 200)
        let text = try #require(backend.bodyTexts.last)
        let sent = try ConfigLoader.parseValue(text: text)
        #expect(sent == .object([
            "fresh": .int(1), "status": .string("done"), "tags": .array([.string("t1"), .string("t2")]), "keep": .bool(true),
            "new": .string("v"),
        ]))
        #expect(sentHead(backend).contains("Content-Length: \(backend.bodyTexts.last!.utf8.count)"))
        // a chunked JSON body is read whole and sent with a Content-Length
        let chunked = try #require(try await gw.request(
            "POST /c HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n4\r\n\"b\"}\r\n0\r\n\r\n"))
        #expect(chunked.status == 200)
        #expect(!sentHead(backend).lowercased().contains("transfer-encoding"))
        #expect(try ConfigLoader.parseValue(text: backend.bodyTexts.last!) == .object([
            "a": .string("b"), "new": .string("v"), "keep": .string("ignored"), "tags": .string("t2"),
        ]))
        // not JSON though it says so: sent as it came
        _ = try await post(gw, type: "application/json", body: "{not json")
        #expect(backend.bodyTexts.last == "{not json")
    }

    @Test func formAndMultipartBodies() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: Self.transformer)
        defer { Task { await gw.stop(); await backend.stop() } }
        _ = try await post(gw, type: "application/x-www-form-urlencoded", body: "secret=s&old=1&status=a&tags=t1&x=a+b%21")
        #expect(backend.bodyTexts.last == "fresh=1&status=&tags=t1&x=a%20b%21&new=v&keep=ignored&tags=t2")
        let multipart = "--B\r\nContent-Disposition: form-data; name=\"old\"\r\n\r\n1\r\n"
            + "--B\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\ns\r\n--B--\r\n"
        _ = try await post(gw, type: "multipart/form-data; boundary=B", body: multipart)
        let sent = try #require(backend.bodyTexts.last)
        #expect(sent.contains("name=\"fresh\"\r\n\r\n1\r\n") && !sent.contains("name=\"secret\""))
        // Kong's multipart transform has no `append` (RTs:1607-1623): `tags:t2` is not added
        #expect(sent.contains("name=\"new\"\r\n\r\nv\r\n") && !sent.contains("name=\"tags\"") && sent.hasSuffix("--B--\r\n"))
        // other content types stream through untouched
        _ = try await post(gw, type: "text/plain", body: "secret=s")
        #expect(backend.bodyTexts.last == "secret=s")
    }

    /// Kong's `36-request-transformer/02-access_spec.lua` cases on methods and empty bodies.
    @Test func methodChangesAndEmptyBodiesAsKong() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes:
                  - name: to-get
                    paths: ["/to-get"]
                    plugins: [{name: request-transformer, config: {http_method: GET}}]
                  - name: to-post
                    paths: ["/to-post"]
                    plugins:
                      - name: request-transformer
                        config: {http_method: POST, add: {headers: ["Content-Type:application/json"], body: ["body:somecontent"]}}
                  - name: remove-only
                    paths: ["/remove-only"]
                    plugins: [{name: request-transformer, config: {remove: {body: [toremoveform]}}}]
                  - name: multipart-add
                    paths: ["/multipart-add"]
                    plugins: [{name: request-transformer, config: {add: {body: ["p1:v1"]}}}]
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        // RTs:552-569: POST→GET copies the form's fields into the query (sorted, as Kong's set_query writes it)
        let form = "name=marco&a=3"
        _ = try await gw.request(
            "POST /to-get?hello=world HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(form.utf8.count)\r\n\r\n\(form)")
        #expect(sentHead(backend).hasPrefix("GET /?a=3&hello=world&name=marco HTTP/1.1\r\n"))
        // RTs:570-585: GET→POST with add.body and an added Content-Type: the body is made
        _ = try await gw.request("GET /to-post HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(sentHead(backend).hasPrefix("POST / HTTP/1.1\r\n") && sentHead(backend).contains("Content-Length: 22\r\n"), "\(sentHead(backend))")
        #expect(backend.bodyTexts.last == #"{"body":"somecontent"}"#)
        // RTs:671-686: an empty POST with only removals keeps Content-Length: 0
        _ = try await gw.request("POST /remove-only HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n")
        #expect(sentHead(backend).contains("Content-Length: 0\r\n") && backend.bodyTexts.last == "")
        // RTs:1364-1378: an empty multipart body gets the added field, with the request's boundary
        _ = try await gw.request(
            "POST /multipart-add HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=8fd84e9444e3946c\r\nContent-Length: 0\r\n\r\n")
        #expect(backend.bodyTexts.last == "--8fd84e9444e3946c\r\nContent-Disposition: form-data; name=\"p1\"\r\n\r\nv1\r\n--8fd84e9444e3946c--\r\n")
    }

    @Test func keyInBody() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(
            port, plugins: "  - name: key-auth\n    config: {key_in_body: true, hide_credentials: true}",
            consumers: "consumers:\n  - username: kim\n    keyauth_credentials: [{key: body-key}]")
        defer { Task { await gw.stop(); await backend.stop() } }
        let form = try await post(gw, type: "application/x-www-form-urlencoded", body: "apikey=body-key&x=1")
        #expect(form.status == 200)
        #expect(backend.bodyTexts.last == "x=1" && sentHead(backend).contains("X-Consumer-Username: kim"))
        let json = try await post(gw, type: "application/json", body: #"{"apikey":"body-key","y":2}"#)
        #expect(json.status == 200 && backend.bodyTexts.last == #"{"y":2}"#)
        #expect(try await post(gw, type: "application/json", body: #"{"apikey":"wrong"}"#).status == 401)
        #expect(try await post(gw, type: "application/json", body: #"{"y":1}"#).status == 401)
        // the connection stays usable after a rejected request whose body was read
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            + "GET / HTTP/1.1\r\nHost: x\r\napikey: body-key\r\n\r\n")
        #expect(try await client.readResponse(isHEAD: false)?.status == 401)
        #expect(try await client.readResponse(isHEAD: false)?.status == 200)
        await client.close()
        // the same when the body (and the next request behind it) arrives after the head:
        // the request that follows the answered one is served without waiting for more bytes
        let split = try await RawClient(port: gw.proxyPort)
        try await split.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
        try await Task.sleep(for: .milliseconds(100))
        try await split.send("{}GET / HTTP/1.1\r\nHost: x\r\napikey: body-key\r\n\r\n")
        #expect(try await split.readResponse(isHEAD: false)?.status == 401)
        #expect(try await split.readResponse(isHEAD: false)?.status == 200)
        await split.close()
    }

    @Test func bodiesOverTheLimitGet413() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: Self.transformer, limit: 1000)
        defer { Task { await gw.stop(); await backend.stop() } }
        let big = "{\"a\":\"" + String(repeating: "x", count: 2000) + "\"}"
        #expect(try await post(gw, type: "application/json", body: big).status == 413)
        let chunk = String(repeating: "y", count: 600)
        let chunked = try #require(try await gw.request(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n"))
        #expect(chunked.status == 413)
        #expect(backend.requests.isEmpty)
    }

    @Test func responseTransformerJSONBodies() async throws {
        let json = #"{"a":1,"secret":"x","old":true,"list":[1]}"#
        let backend = RawBackend { head in
            if head.contains("/chunked") {
                return RawBackend.Reply(bytes: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "\(String(json.utf8.count, radix: 16))\r\n\(json)\r\n0\r\n\r\n")
            }
            let type = head.contains("/text") ? "text/plain" : "application/json; charset=utf-8"
            return RawBackend.Reply(bytes: "HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nContent-Length: \(json.utf8.count)\r\nX-Old: 1\r\n\r\n\(json)")
        }
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: response-transformer
                config:
                  remove: {json: [secret], headers: [x-old]}
                  rename: {json: ["old:renamed"]}
                  replace: {json: ["a:2"], json_types: [number]}
                  add: {json: ["flag:true", "name:bob"], json_types: [boolean, string]}
                  append: {json: ["list:2", "tags:x"], json_types: [number]}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        let expected: JSONValue = .object([
            "a": .int(2), "renamed": .bool(true), "flag": .bool(true), "name": .string("bob"),
            "list": .array([.int(1), .int(2)]), "tags": .array([.string("x")]),
        ])
        for path in ["/plain", "/chunked"] {
            let response = try #require(try await gw.request("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(response.status == 200, "\(path)")
            #expect(try ConfigLoader.parseValue(text: response.bodyString) == expected, "\(path): \(response.bodyString)")
            #expect(response.header("Content-Length") == String(response.body.count) && response.header("Transfer-Encoding") == nil)
            #expect(response.header("X-Old") == nil)
        }
        let text = try #require(try await gw.request("GET /text HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(text.bodyString == json)
    }
}
