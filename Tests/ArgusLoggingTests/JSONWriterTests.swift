import Foundation
import Testing

@testable import ArgusLogging

@Suite("log record JSON")
struct JSONWriterTests {
    /// Decodes `bytes` (one JSON value) with Foundation's parser.
    private func parse(_ bytes: [UInt8]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    @Test func everyByteAtEveryOffsetGivesValidJSONWithTheSameText() throws {
        // The fast path looks at eight bytes at a time: put each byte value at each position of
        // such a word, and after it, so that every branch of the escaping is taken.
        for byte in 0...255 {
            for offset in 0..<17 {
                let input = [UInt8](repeating: UInt8(ascii: "a"), count: offset) + [UInt8(byte)] + Array("z\"q\\".utf8)
                var w = JSONWriter()
                input.withUnsafeBytes { w.string(bytes: $0) }
                let decoded = try #require(try parse(w.bytes) as? String, "byte \(byte) at \(offset)")
                #expect(decoded == String(decoding: input, as: UTF8.self), "byte \(byte) at \(offset)")
            }
        }
    }

    @Test func headerNamesAreLowerCasedEveryByteAtEveryOffset() throws {
        // The word-at-a-time path: each byte value at each position of a word, next to the
        // letters' neighbours ('@' before 'A', '[' after 'Z', '`' before 'a', '{' after 'z').
        for byte in 0...255 {
            for offset in 0..<17 {
                let input = [UInt8](repeating: UInt8(ascii: "X"), count: offset) + [UInt8(byte)] + Array("@AZ[`az{-Q".utf8)
                var w = JSONWriter()
                w.openObject()
                input.withUnsafeBytes { w.key(lowercasing: $0) }
                w.integer(1)
                w.closeObject()
                let object = try #require(try parse(w.bytes) as? [String: Any], "byte \(byte) at \(offset)")
                let expected = String(decoding: input.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
                #expect(object.keys.first == expected, "byte \(byte) at \(offset)")
            }
        }
    }

    @Test func nameKeysIgnoreCaseOnly() {
        func key(_ s: String) -> UInt64 { Array(s.utf8).withUnsafeBytes { LogSerializer.nameKey($0) } }
        #expect(key("X-Forwarded-For") == key("x-forwarded-for"))
        #expect(key("Accept") != key("Accept-Encoding"))
        #expect(key("a") != key("b"))
    }

    @Test func multiByteUTF8IsKeptAndInvalidBytesBecomeReplacementCharacters() throws {
        let text = "naïve – 日本語 😀 done, plus a long ASCII tail to cross word boundaries"
        var w = JSONWriter()
        w.string(text: text)
        #expect(try parse(w.bytes) as? String == text)
        var bad = JSONWriter()
        bad.string(bytes: [0x41, 0xFF, 0x42, 0xC3])
        #expect(try parse(bad.bytes) as? String == "A\u{FFFD}B\u{FFFD}")
    }

    @Test func headerNamesAreLowerCasedAndRepeatsBecomeArrays() throws {
        let head = Array(("GET /a?x=1&y&x=%41+b HTTP/1.1\r\nHost: h.test:8000\r\nX-Trace: one\r\nAuthorization: Basic c2VjcmV0\r\n"
            + "x-trace: two\r\nPROXY-Authorization: k\r\nContent-Type: text/plain\r\n\r\n").utf8)
        try head.withUnsafeBytes { raw in
            let lines = HeadLines(raw)
            #expect(lines.fields.count == 6)
            #expect(String(decoding: lines.requestTarget, as: UTF8.self) == "/a?x=1&y&x=%41+b")
            #expect(lines.first("host").map { String(decoding: $0, as: UTF8.self) } == "h.test:8000")
            var w = JSONWriter()
            LogSerializer().writeQuery(lines.requestTarget, into: &w)
            let query = try #require(try parse(w.bytes) as? [String: Any])
            #expect(query["x"] as? [String] == ["1", "A b"])
            #expect(query["y"] as? Bool == true)
        }
    }

    private func query(_ target: String, max: Int = 100) throws -> [String: Any] {
        var serializer = LogSerializer()
        serializer.maxQueryArgs = max
        var w = JSONWriter()
        Array(target.utf8).withUnsafeBytes { serializer.writeQuery($0, into: &w) }
        return try #require(try parse(w.bytes) as? [String: Any])
    }

    @Test func queryNamesAreComparedDecodedAndValuesDecodedWhole() throws {
        let q = try query("/p?a%62=1&ab=2&n=%C3%A9t%C3%A9&q=%22quoted%22&&=skipped&e=&flag")
        #expect(q["ab"] as? [String] == ["1", "2"])
        #expect(q["n"] as? String == "été")
        #expect(q["q"] as? String == "\"quoted\"")
        #expect(q["e"] as? String == "")
        #expect(q["flag"] as? Bool == true)
        #expect(q.count == 5)
        #expect(try query("/p").isEmpty && query("/p?").isEmpty)
    }

    @Test func atMostMaxQueryArgsAreKept() throws {
        let many = (0..<150).map { "k\($0)=v" }.joined(separator: "&")
        let q = try query("/p?" + many)
        #expect(q.count == 100)
        #expect(q["k99"] as? String == "v" && q["k100"] == nil)
        #expect(try query("/p?a=1&a=2&a=3", max: 2)["a"] as? [String] == ["1", "2"])
        // Parts without a name count toward the cap, as in Kong (ngx_lua counts every part).
        #expect(try query("/p?" + String(repeating: "&", count: 100) + "a=1").isEmpty)
        #expect(try query("/p?=x&b=2", max: 2)["b"] as? String == "2")
        #expect(try query("/p?a=1", max: -1).isEmpty)
    }
}
