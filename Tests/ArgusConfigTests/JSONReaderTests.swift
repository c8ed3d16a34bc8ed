import Testing
@testable import ArgusConfig

@Suite struct JSONReaderTests {
    func read(_ text: String) throws -> JSONValue? {
        try JSONReader.read(text)?.json
    }

    @Test func surrogatePairsAndEscapes() throws {
        // what Python's json.dumps writes for an emoji: a surrogate pair YAML would refuse
        #expect(try read(#"{"name": "\ud83d\ude00 \u00e9\n\"q\" \/"}"#)?["name"] == .string("😀 é\n\"q\" /"))
        #expect(try read(#"["\udb99", "\udc00x"]"#) == .array([.string("\u{FFFD}"), .string("\u{FFFD}x")]))
    }

    @Test func scalarsKeepTheirJSONTypes() throws {
        let value = try read(#"{"a": 1, "b": -2.5, "c": 1e3, "d": true, "e": null, "f": "yes", "g": 12345678901234567890}"#)
        #expect(value?["a"] == .int(1) && value?["b"] == .double(-2.5) && value?["c"] == .double(1000))
        #expect(value?["d"] == .bool(true) && value?["e"] == .null && value?["f"] == .string("yes"))
        #expect(value?["g"] == .double(Double("12345678901234567890")!))
    }

    @Test func malformedInputIsRejectedWithAPosition() throws {
        for bad in ["{\"a\": }", "[1, 2", "{\"a\" 1}", "\"\u{01}\"", "01", "[1] x", "{\"a\": tru}", "\"\\x\""] {
            #expect(throws: JSONReader.Failure.self, "\(bad)") { try JSONReader.read(bad) }
        }
        #expect(throws: JSONReader.Failure.self) { try JSONReader.read(String(repeating: "[", count: 10_000)) }
        #expect(try JSONReader.read("  \n ") == nil)
    }

    @Test func documentsInJSONLoadThroughTheSameValidation() throws {
        let config = try ConfigLoader.parse(
            text: #"{"_format_version": "3.0", "services": [{"name": "caf\u00e9-\ud83d\ude00", "url": "http://a.internal"}]}"#,
            file: "kong.json")
        #expect(config.services.first?.name == "café-😀")
    }
}
