import ArgusRedis
import NIOCore
import Testing

@Suite struct RESPParserTests {
    let parser = RESPParser()

    @Test func parsesEveryType() throws {
        var buffer = ByteBuffer(string: "+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n*-1\r\n")
        #expect(try parser.parse(&buffer) == .simpleString("OK"))
        #expect(try parser.parse(&buffer) == .error("ERR bad"))
        #expect(try parser.parse(&buffer) == .integer(42))
        #expect(try parser.parse(&buffer) == .bulkString(ByteBuffer(string: "hello")))
        #expect(try parser.parse(&buffer) == .bulkString(nil))
        #expect(try parser.parse(&buffer) == .array([.integer(1), .bulkString(ByteBuffer())]))
        #expect(try parser.parse(&buffer) == .array(nil))
        #expect(try parser.parse(&buffer) == nil)
    }

    @Test func waitsForIncompleteValuesWithoutConsuming() throws {
        let whole = "*3\r\n:1\r\n$3\r\nabc\r\n+x\r\n"
        for cut in 0..<whole.utf8.count {
            var buffer = ByteBuffer(bytes: Array(whole.utf8).prefix(cut))
            #expect(try parser.parse(&buffer) == nil)
            #expect(buffer.readableBytes == cut)
        }
        var buffer = ByteBuffer(string: whole)
        #expect(try parser.parse(&buffer) == .array([.integer(1), .bulkString(ByteBuffer(string: "abc")), .simpleString("x")]))
        #expect(buffer.readableBytes == 0)
    }

    @Test func rejectsMalformedAndHostileInput() {
        let bad = ["?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*-5\r\n", ":1\rX", "$99999999999\r\n",
                   String(repeating: "*1\r\n", count: 20) + ":1\r\n", "+" + String(repeating: "a", count: 5000)]
        for text in bad {
            var buffer = ByteBuffer(string: text)
            #expect(throws: RESPParser.ParseError.self, "\(text.prefix(20))") { try parser.parse(&buffer) }
        }
    }

    @Test func encodesCommandsAsBulkStringArrays() {
        #expect(String(buffer: RESPCommand.encode(["SET", "k", "välue"])) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n")
    }

    @Test func scriptDigestIsSHA1() {
        #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }
}
