import ArgusConfig
import Testing
@testable import ArgusAdmin

@Suite struct FormTests {
    func form(_ text: String) -> JSONValue {
        FormDecoder.decode(FormDecoder.urlEncodedPairs(Array(text.utf8)))
    }

    @Test func dottedNamesNestRecords() {
        let value = form("name=rate-limiting&config.minute=5&config.redis.host=r%201&config.policy=redis")
        #expect(value["config"]?["minute"] == .string("5"))
        #expect(value["config"]?["redis"]?["host"] == .string("r 1"))
        #expect(value["name"] == .string("rate-limiting"))
    }

    @Test func bracketsMakeArrays() {
        let value = form("paths[]=/a&paths[]=/b&hosts[2]=y.com&hosts[1]=x.com&methods=GET&methods=POST&headers.x-v[]=1")
        #expect(value["paths"] == .array([.string("/a"), .string("/b")]))
        #expect(value["hosts"] == .array([.string("x.com"), .string("y.com")]))
        #expect(value["methods"] == .array([.string("GET"), .string("POST")]))
        #expect(value["headers"]?["x-v"] == .array([.string("1")]))
    }

    @Test func plusIsASpaceAndBareNamesAreTrue() {
        let value = form("tags[]=a+b&enabled")
        #expect(value["tags"] == .array([.string("a b")]))
        #expect(value["enabled"] == .bool(true))
    }

    @Test func inferenceFollowsTheSchema() {
        let value = FormInference.entity(
            form("name=cors&config.origins=*&config.methods=GET,POST,PUT&config.max_age=3600&config.credentials=true&config.headers="),
            kind: "plugins")
        #expect(value["config"]?["methods"] == .array([.string("GET"), .string("POST"), .string("PUT")]))
        #expect(value["config"]?["origins"] == .array([.string("*")]))
        #expect(value["config"]?["max_age"] == .int(3600))
        #expect(value["config"]?["credentials"] == .bool(true))
        #expect(value["config"]?["headers"] == .null)
    }

    @Test func inferenceOfEntityFields() {
        let service = FormInference.entity(form("name=s&port=8080&retries=x&enabled=false&tags=a,b"), kind: "services")
        #expect(service["port"] == .int(8080))
        #expect(service["retries"] == .string("x"))  // left for the validator to reject
        #expect(service["enabled"] == .bool(false))
        #expect(service["tags"] == .array([.string("a"), .string("b")]))
        let upstream = FormInference.entity(form("name=u&healthchecks.active.healthy.interval=5&healthchecks.threshold=25.5"), kind: "upstreams")
        #expect(upstream["healthchecks"]?["active"]?["healthy"]?["interval"] == .int(5))
        #expect(upstream["healthchecks"]?["threshold"] == .double(25.5))
        // rate-limiting's schema, for its config
        let plugin = FormInference.entity(form("name=rate-limiting&config.minute=5&config.fault_tolerant=false"), kind: "plugins")
        #expect(plugin["config"]?["minute"] == .int(5))
        #expect(plugin["config"]?["fault_tolerant"] == .bool(false))
    }

    @Test func multipartParts() throws {
        let body = Array((
            "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nsvc\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"config\"; filename=\"kong.yml\"\r\nContent-Type: application/octet-stream\r\n\r\nline1\r\nline2\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\nContent-Type: application/json\r\n\r\n[\"a\",\"b\"]\r\n"
            + "--XyZ--\r\n").utf8)
        #expect(MultipartParser.boundary(contentType: "multipart/form-data; boundary=XyZ") == "XyZ")
        let pairs = try MultipartParser.pairs(body, boundary: "XyZ")
        #expect(pairs.map(\.name) == ["name", "config", "tags"])
        #expect(pairs[0].value == .string("svc"))
        #expect(pairs[1].value == .string("line1\r\nline2"))
        #expect(pairs[2].value == .array([.string("a"), .string("b")]))
        #expect(throws: MultipartParser.Failure.self) { try MultipartParser.pairs(Array("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx".utf8), boundary: "XyZ") }
    }

    @Test func bodiesByContentType() throws {
        #expect(try AdminBody.decode(Array("{\"a\": 1}".utf8), contentType: "application/json").value["a"] == .int(1))
        #expect(try AdminBody.decode(Array("a=1".utf8), contentType: "").isForm)
        #expect(throws: AdminBody.Failure.self) { try AdminBody.decode(Array("{bad".utf8), contentType: "application/json") }
        #expect(throws: AdminBody.Failure.self) { try AdminBody.decode(Array("[1]".utf8), contentType: "application/json") }
        #expect(try AdminBody.decode([], contentType: "application/json").value == .object([:]))
    }

    @Test func schemaViolationBodiesNestFields() {
        let response = AdminErrors.schemaViolation([
            (path: "config.minute", message: "expected a number"), (path: "paths[1]", message: "should start with: /"),
            (path: "", message: "at least one of these fields must be non-empty: 'custom_id', 'username'"),
        ])
        let body = try? ConfigLoader.parseValue(text: String(decoding: response.body, as: UTF8.self))
        #expect(response.status == 400)
        #expect(body?["code"] == .int(2))
        #expect(body?["fields"]?["config"]?["minute"] == .string("expected a number"))
        #expect(body?["fields"]?["paths"] == .array([.null, .string("should start with: /")]))
        #expect(body?["fields"]?["@entity"]?.arrayValue?.count == 1)
        #expect(body?["message"]?.stringValue == "3 schema violations (at least one of these fields must be non-empty: 'custom_id', 'username'; config.minute: expected a number; paths.2: should start with: /)")
    }
}
