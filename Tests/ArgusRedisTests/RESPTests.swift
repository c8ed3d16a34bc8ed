import ArgusRedis
import NIOCore
import Testing

// The parser's basics (each type once, a cut-at-every-byte array, a list of malformed inputs,
// one encoded command, the digest of "return 1") are in ArgusRateLimitTests/RESPParserTests.
// These cover the rest: encoding in depth, exact errors and limits, nesting, values split
// across reads, RedisScript and RedisEndpoint.

private func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

@Suite struct RESPEncodingTests {
    @Test func encodesEdgeCaseArguments() {
        #expect(String(buffer: RESPCommand.encode([])) == "*0\r\n")
        #expect(String(buffer: RESPCommand.encode(["PING"])) == "*1\r\n$4\r\nPING\r\n")
        #expect(String(buffer: RESPCommand.encode(["SET", "k", ""])) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")
        // Lengths are UTF-8 bytes, not characters.
        #expect(String(buffer: RESPCommand.encode(["ECHO", "🙂"])) == "*2\r\n$4\r\nECHO\r\n$4\r\n🙂\r\n")
        // CR, LF and `$`/`*` inside an argument are data: bulk strings are length-prefixed.
        #expect(String(buffer: RESPCommand.encode(["SET", "a\r\n*1\r\n$3"])) == "*2\r\n$3\r\nSET\r\n$9\r\na\r\n*1\r\n$3\r\n")
    }

    @Test func writeAppendsSoCommandsCanBePipelined() throws {
        var out = ByteBuffer(string: "leading")
        out.moveReaderIndex(forwardBy: 7)
        RESPCommand.write(["AUTH", "secret"], into: &out)
        RESPCommand.write(["SELECT", "2"], into: &out)
        #expect(String(buffer: out) == "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n")
        var expected = RESPCommand.encode(["AUTH", "secret"])
        var second = RESPCommand.encode(["SELECT", "2"])
        expected.writeBuffer(&second)
        #expect(out == expected)
    }

    @Test func anEncodedCommandParsesBackToItsArguments() throws {
        let parser = RESPParser()
        let commands: [[String]] = [
            [], [""], ["GET", "key"], ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "ratelimit:x", "60"],
            ["SET", "line\r\nbreak", "välue 🙂", String(repeating: "x", count: 10_000)],
        ]
        var pipeline = ByteBuffer()
        for command in commands { RESPCommand.write(command, into: &pipeline) }
        for command in commands {
            let parsed = try parser.parse(&pipeline)
            let value = try #require(parsed)
            let expected: RESPValue = .array(command.map(bulk))
            #expect(value == expected)
            #expect(value.array?.compactMap(\.string) == command)
        }
        #expect(pipeline.readableBytes == 0)
    }
}

@Suite struct RESPParsingTests {
    let parser = RESPParser()

    func parseAll(_ text: String) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try parser.parse(&buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0, "left over: \(String(buffer: buffer))")
        return values
    }

    func parseError(_ text: String, _ parser: RESPParser = RESPParser()) -> RESPParser.ParseError? {
        var buffer = ByteBuffer(string: text)
        do {
            _ = try parser.parse(&buffer)
            return nil
        } catch let error as RESPParser.ParseError {
            return error
        } catch {
            return nil
        }
    }

    @Test func scalarsAtTheirEdges() throws {
        let values = try parseAll(
            "+\r\n" + ":-42\r\n" + ":0\r\n" + ":9223372036854775807\r\n" + ":-9223372036854775808\r\n"
                + "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" + "$0\r\n\r\n"
                + "$7\r\na\r\nb\r\n:\r\n" + "+QUEUED\r\n")
        let expected: [RESPValue] = [
            .simpleString(""), .integer(-42), .integer(0), .integer(.max), .integer(.min),
            .error("WRONGTYPE Operation against a key holding the wrong kind of value"), bulk(""),
            bulk("a\r\nb\r\n:"), .simpleString("QUEUED"),
        ]
        #expect(values == expected)
    }

    @Test func nestedArraysWithNullsAndErrorsInside() throws {
        let text = "*4\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n*-1\r\n$-1\r\n-ERR inner\r\n*0\r\n"
        let values = try parseAll(text)
        let expected: [RESPValue] = [
            .array([.array([.integer(1), .array([bulk("x")])]), .array(nil), .bulkString(nil), .error("ERR inner")]),
            .array([]),
        ]
        #expect(values == expected)
        let first = try #require(values.first?.array)
        #expect(first.count == 4 && first[1].array == nil && first[2].string == nil)
    }

    @Test func nestedValuesSplitAtEveryByteWaitWithoutConsuming() throws {
        let whole = "*3\r\n*2\r\n:-7\r\n$4\r\na\r\nb\r\n$-1\r\n-ERR x\r\n+next\r\n"
        let bytes = Array(whole.utf8)
        let expected: RESPValue = .array([.array([.integer(-7), bulk("a\r\nb")]), .bulkString(nil), .error("ERR x")])
        let firstLength = whole.utf8.count - "+next\r\n".utf8.count
        for cut in 0..<firstLength {
            var buffer = ByteBuffer(bytes: bytes.prefix(cut))
            #expect(try parser.parse(&buffer) == nil, "cut at \(cut)")
            #expect(buffer.readableBytes == cut)
            // The rest arriving later completes it.
            var rest = ByteBuffer(bytes: bytes.dropFirst(cut))
            buffer.writeBuffer(&rest)
            #expect(try parser.parse(&buffer) == expected, "cut at \(cut)")
            #expect(try parser.parse(&buffer) == .simpleString("next"))
        }
    }

    @Test func aValueAfterACompleteOneWaitsForItsOwnBytes() throws {
        var buffer = ByteBuffer(string: ":1\r\n$5\r\nhel")
        #expect(try parser.parse(&buffer) == .integer(1))
        #expect(try parser.parse(&buffer) == nil)
        #expect(String(buffer: buffer) == "$5\r\nhel")
        buffer.writeString("lo\r")
        #expect(try parser.parse(&buffer) == nil)
        buffer.writeString("\n")
        #expect(try parser.parse(&buffer) == bulk("hello"))
        // A CR whose LF has not arrived is a wait, not an error.
        var line = ByteBuffer(string: "+OK\r")
        #expect(try parser.parse(&line) == nil)
    }

    @Test func valueAccessors() throws {
        #expect(RESPValue.integer(12).int == 12 && RESPValue.integer(12).string == "12")
        #expect(bulk("34").int == 34 && bulk("x").int == nil && bulk("x").string == "x")
        #expect(RESPValue.simpleString("56").int == 56)
        #expect(RESPValue.error("ERR").string == nil && RESPValue.error("1").int == nil)
        #expect(RESPValue.bulkString(nil).string == nil && RESPValue.array(nil).array == nil)
        #expect(RESPValue.array([]).array?.isEmpty == true && RESPValue.integer(1).array == nil)
    }

    @Test func badPrefixesNameTheByte() {
        // RESP3 types are not RESP2.
        for prefix in ["%", "_", "#", ",", "(", "!", "=", "|", "~", ">", "a", " "] {
            let byte = prefix.utf8.first!
            #expect(parseError(prefix + "1\r\n") == .unknownType(byte), "prefix \(prefix)")
        }
        // Inside an array too.
        #expect(parseError("*2\r\n:1\r\n%0\r\n") == .unknownType(UInt8(ascii: "%")))
    }

    @Test func badIntegersAndLengths() {
        #expect(parseError(":\r\n") == .badInteger)
        #expect(parseError(":1.5\r\n") == .badInteger)
        #expect(parseError(": 1\r\n") == .badInteger)
        #expect(parseError(":9223372036854775808\r\n") == .badInteger)
        #expect(parseError("$\r\n") == .badInteger)
        #expect(parseError("$1x\r\n") == .badInteger)
        #expect(parseError("*999999999999999999999\r\n") == .badInteger)
        #expect(parseError("$-3\r\n") == .badLength)
        #expect(parseError("*-2\r\n") == .badLength)
        // A line break that is not CRLF.
        #expect(parseError("+OK\r\r\n") == .missingTerminator)
        #expect(parseError("$2\r\nab\n\r") == .missingTerminator)
        #expect(parseError("*1\r\n$1\r\nxyz\r\n") == .missingTerminator)
    }

    @Test func hugeLengthsAreRefusedBeforeAnyBodyArrives() throws {
        // Nothing but the header: a parser that waited (or allocated) would return nil here.
        #expect(parseError("$67108865\r\n") == .tooLarge)
        #expect(parseError("$9223372036854775807\r\n") == .tooLarge)
        #expect(parseError("*1048577\r\n") == .tooLarge)
        #expect(parseError("*9223372036854775807\r\n") == .tooLarge)
        // At the limits it waits for the rest.
        var bulkAtLimit = ByteBuffer(string: "$67108864\r\n")
        #expect(try parser.parse(&bulkAtLimit) == nil)
        var arrayAtLimit = ByteBuffer(string: "*1048576\r\n")
        #expect(try parser.parse(&arrayAtLimit) == nil)

        let small = RESPParser(maxBulkLength: 4, maxArrayLength: 2, maxDepth: 8)
        #expect(parseError("$5\r\nhello\r\n", small) == .tooLarge)
        #expect(parseError("*3\r\n", small) == .tooLarge)
        #expect(parseError("*1\r\n*3\r\n", small) == .tooLarge)
        var fits = ByteBuffer(string: "*2\r\n$4\r\nabcd\r\n$0\r\n\r\n")
        let fitting: RESPValue = .array([bulk("abcd"), bulk("")])
        #expect(try small.parse(&fits) == fitting)
    }

    @Test func nestingIsBoundedByMaxDepth() throws {
        func nested(_ depth: Int) -> String { String(repeating: "*1\r\n", count: depth) + ":1\r\n" }
        func value(_ depth: Int) -> RESPValue {
            (0..<depth).reduce(RESPValue.integer(1)) { inner, _ in .array([inner]) }
        }
        // The default allows 8 levels of arrays around a value.
        var eight = ByteBuffer(string: nested(8))
        #expect(try parser.parse(&eight) == value(8))
        #expect(parseError(nested(9)) == .tooDeep)
        // Refused as soon as the depth is reached, even before the innermost value arrives.
        #expect(parseError(String(repeating: "*1\r\n", count: 9)) == .tooDeep)
        #expect(parseError(String(repeating: "*1\r\n", count: 100_000)) == .tooDeep)

        let shallow = RESPParser(maxDepth: 1)
        var one = ByteBuffer(string: nested(1))
        #expect(try shallow.parse(&one) == value(1))
        #expect(parseError(nested(2), shallow) == .tooDeep)
        // Null and empty arrays do not nest deeper.
        var flat = ByteBuffer(string: "*2\r\n*-1\r\n*0\r\n")
        let nulls: RESPValue = .array([.array(nil), .array([])])
        #expect(try shallow.parse(&flat) == nulls)
    }

    @Test func aLongLineWaitsUpToALimitThenFails() throws {
        var pending = ByteBuffer(string: "+" + String(repeating: "a", count: 4096))
        #expect(try parser.parse(&pending) == nil)
        #expect(parseError("-" + String(repeating: "e", count: 4097)) == .missingTerminator)
        #expect(parseError("$" + String(repeating: "1", count: 5000)) == .missingTerminator)
    }

    @Test func afterAnErrorTheBufferIsLeftAsItWas() {
        var buffer = ByteBuffer(string: "*2\r\n:1\r\n?\r\n")
        #expect(throws: RESPParser.ParseError.unknownType(UInt8(ascii: "?"))) { try parser.parse(&buffer) }
        #expect(buffer.readableBytes == 11)
    }
}

@Suite struct RedisScriptAndEndpointTests {
    @Test func scriptDigestsMatchSha1sum() {
        // printf %s '…' | sha1sum
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        let get = RedisScript("return redis.call('GET', KEYS[1])")
        #expect(get.sha1 == "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f")
        #expect(get.source == "return redis.call('GET', KEYS[1])")
        // The digest is of the UTF-8 bytes.
        #expect(RedisScript("return 'é'").sha1 == "6832e39b721242dbb406e4bf358bfebb712064d7")
    }

    @Test func descriptionNeverShowsCredentials() {
        let endpoint = RedisEndpoint(host: "cache.internal", port: 6380, username: "argus", password: "s3cr3t-Pa55", database: 2)
        #expect(endpoint.description == "redis://cache.internal:6380/2")
        #expect("\(endpoint)" == "redis://cache.internal:6380/2")
        let reflected = String(reflecting: endpoint)
        #expect(!reflected.contains("s3cr3t-Pa55") && !reflected.contains("argus"))

        var tls = endpoint
        tls.tls = true
        #expect(tls.description == "rediss://cache.internal:6380/2")
        #expect(!tls.description.contains("s3cr3t"))
    }

    @Test func endpointDefaultsAndPoolFloor() {
        let endpoint = RedisEndpoint(host: "localhost")
        #expect(endpoint.port == 6379 && endpoint.database == 0 && endpoint.timeoutMilliseconds == 2000)
        #expect(endpoint.password == nil && endpoint.username == nil && !endpoint.tls && endpoint.poolSize == 4)
        #expect(endpoint.description == "redis://localhost:6379/0")
        #expect(RedisEndpoint(host: "localhost", poolSize: 0).poolSize == 1)
        #expect(RedisEndpoint(host: "localhost", poolSize: -3).poolSize == 1)
        // Clients are kept per endpoint: a changed password is another endpoint.
        #expect(RedisEndpoint(host: "h", password: "a") != RedisEndpoint(host: "h", password: "b"))
    }

    @Test func errorDescriptions() {
        #expect(RedisError.server("ERR unknown command").description == "redis: ERR unknown command")
        #expect(RedisError.timeout.description == "redis: timeout")
        #expect(RedisError.unexpectedReply("+OK").description == "redis: unexpected reply +OK")
    }
}
