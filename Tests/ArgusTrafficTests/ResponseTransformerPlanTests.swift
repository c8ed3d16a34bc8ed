import ArgusConfig
import ArgusHTTP
import NIOCore
import Testing

@testable import ArgusTraffic

/// response-transformer cases from Kong 3.9's specs (`15-response-transformer/01-header_transformer_spec.lua`,
/// `02-body_transformer_spec.lua`, `03-api_spec`/`04-filter_spec`).
@Suite struct ResponseTransformerPlanTests {
    func responseHead(_ raw: String) throws -> ResponseHead {
        var parser = ResponseHeadParser()
        var bytes = ByteBuffer(string: raw)
        guard case .head(let head) = parser.parse(&bytes, requestWasHEAD: false) else { throw ParseFailure() }
        return head
    }

    func transformed(_ configText: String, _ body: String) throws -> JSONValue? {
        let plan = ResponseTransformerPlan(config: try config(configText))
        guard let bytes = plan.transformJSON(ByteBuffer(string: body)) else { return nil }
        return try ConfigLoader.parseValue(text: String(decoding: bytes, as: UTF8.self))
    }

    /// `is_json_body` (HTs:63-74): `application/json` and `application/…+json`, parameters allowed.
    @Test func jsonMediaTypesAsKongTellsThem() {
        for type in ["application/json", "application/json; charset=utf-8", "application/problem+json; charset=utf-8",
                     "application/vnd.api+json", "Application/JSON", "application/x-www-form-urlencoded, application/json"] {
            #expect(ResponseTransformerPlan.isJSON(type), "\(type)")
        }
        for type in ["text/json", "application/x-json", "application/*", "*/*", "application/x-www-form-urlencoded",
                     "application/json;", "application/json; charset"] {
            #expect(!ResponseTransformerPlan.isJSON(type), "\(type)")
        }
    }

    /// HTs:262-285: a `remove.headers` entry `h1:v1` removes `h1` by name.
    @Test func removeEntriesWithAValueRemoveByName() throws {
        let plan = ResponseTransformerPlan(config: try config(
            #"{remove: {headers: ["h1:v1"]}, replace: {headers: ["h2:v3"]}, add: {headers: ["h3:v3"]}, append: {headers: ["h3:v4"]}}"#))
        let head = try responseHead("HTTP/1.1 200 OK\r\nh1: other\r\nh2: v2\r\nContent-Length: 0\r\n\r\n")
        #expect(plan.touched.contains("h1"))
        #expect(plan.lines(for: head) == "h2: v3\r\nh3: v3\r\nh3: v4\r\n")
    }

    /// BTs:19-30 and 203-229, RFs:108-121: a quoted value keeps its quotes, with or without `json_types`.
    @Test func quotedValuesKeepTheirQuotes() throws {
        #expect(try transformed(#"{add: {json: ["p4:\"v1\""], json_types: [string]}}"#, #"{"p2":"v1"}"#)?["p4"] == .string("\"v1\""))
        #expect(try transformed(#"{replace: {json: ["p2:\"v2\""]}}"#, #"{"p2":"v1"}"#)?["p2"] == .string("\"v2\""))
        #expect(try transformed(#"{replace: {json: ["url:\"wot\"", "headers:/hello/world"]}}"#, #"{"url":"u","headers":{"a":1}}"#)
            == .object(["url": .string("\"wot\""), "headers": .string("/hello/world")]))
    }

    /// `json_value` casts: a `number` that is not one is no value (the entry is skipped), a
    /// `boolean` is true only for `true`; without `json_types` everything is a string.
    @Test func typedValuesAsKongCastsThem() throws {
        let body = #"{"a":1}"#
        #expect(try transformed(#"{add: {json: ["n:\"5\"", "m:7", "b:\"true\"", "s:5"], json_types: [number, number, boolean]}}"#, body)
            == .object(["a": .int(1), "m": .int(7), "b": .bool(false), "s": .string("5")]))
    }

    /// Lua truthiness: `add` fills a field that is false, `replace` leaves one that is false.
    @Test func addAndReplaceFollowLuaTruthiness() throws {
        #expect(try transformed(#"{add: {json: ["f:x"]}, replace: {json: ["g:y"]}}"#, #"{"f":false,"g":false}"#)
            == .object(["f": .string("x"), "g": .bool(false)]))
    }
}
