import NIOCore
import Testing

@testable import ArgusHTTP

/// Deterministic randomized robustness tests of the strict HTTP/1.1 parsers: ~20,000 inputs per
/// parser, made by mutating valid heads and chunked bodies and by random bytes, each fed whole and
/// split at random points. A crash kills the test process; everything else is an assertion:
/// whole and split feeding agree (accept/reject, error, parsed fields), accepted requests are
/// unambiguous, and a parser never consumes more than the head. Same seed, same inputs, every run.
@Suite("Parser robustness")
struct ParserRobustnessTests {
    static let iterations = 20_000

    // MARK: - Request heads

    @Test func requestHeadParserIsConsistentAndStrict() {
        var rng = SplitMix64(seed: 0xA7605_0001)
        var accepted = 0
        for index in 0..<Self.iterations {
            let input = Corpus.makeInput(from: Corpus.requests, index: index, rng: &rng)
            let whole = RequestDriver.run(input, pieces: [input.count])
            if case .accepted = whole.outcome { accepted += 1 }
            checkRequestInvariants(whole, input: input, index: index)
            for pieces in Corpus.splits(of: input.count, index: index, rng: &rng) {
                let split = RequestDriver.run(input, pieces: pieces)
                checkRequestInvariants(split, input: input, index: index)
                #expect(split.outcome == whole.outcome, "input #\(index) \(Corpus.show(input)) split \(pieces)")
            }
        }
        // The mutations must leave enough valid heads for the field comparisons to mean something.
        #expect(accepted > Self.iterations / 20, "only \(accepted) accepted")
    }

    private func checkRequestInvariants(_ run: RequestDriver.Run, input: [UInt8], index: Int) {
        guard case .accepted(let summary) = run.outcome, let head = run.head else { return }
        let context = "input #\(index) \(Corpus.show(input))"
        let length = head.bytes.readableBytes
        let leading = run.consumed - length
        // Consumed exactly: optional leading CRLFs, then the head up to and including its empty line.
        #expect(run.consumed <= run.fed, "\(context)")
        #expect(leading >= 0 && leading % 2 == 0, "\(context)")
        if leading >= 0 && run.consumed <= input.count {
            #expect(input[0..<leading].elementsEqual(Array(repeating: [ASCII.cr, ASCII.lf], count: leading / 2).joined()), "\(context)")
            let bytes = Array(head.bytes.readableBytesView)
            #expect(bytes.elementsEqual(input[leading..<run.consumed]), "\(context)")
            #expect(Corpus.firstEmptyLineEnd(bytes) == bytes.count, "head does not end at its first empty line: \(context)")
        }
        // Every range points inside the head.
        let ranges = [head.method, head.target, head.path, head.query, head.host]
            + head.fields.flatMap { [$0.nameStart..<($0.nameStart + $0.nameLength), $0.valueStart..<($0.valueStart + $0.valueLength)] }
        #expect(ranges.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= length }, "\(context)")
        // No smuggling ambiguity.
        let names = head.fields.map(\.name)
        #expect(!(names.contains(.contentLength) && names.contains(.transferEncoding)), "CL and TE both accepted: \(context)")
        #expect(names.filter { $0 == .contentLength }.count <= 1, "\(context)")
        #expect(names.filter { $0 == .host }.count <= 1, "\(context)")
        #expect(!names.contains(.transferEncoding) || summary.framing == .chunked, "\(context)")
        #expect(!(summary.minorVersion == 0 && names.contains(.transferEncoding)), "\(context)")
        #expect(summary.minorVersion == 0 || names.contains(.host) || summary.target.lowercased().hasPrefix("http"), "\(context)")
        for field in head.fields {
            let value = head.bytes.readableBytesView.dropFirst(field.valueStart).prefix(field.valueLength)
            #expect(!value.contains { $0 < 32 && $0 != ASCII.tab || $0 == 127 }, "control byte in a value: \(context)")
            let name = head.bytes.readableBytesView.dropFirst(field.nameStart).prefix(field.nameLength)
            #expect(!name.isEmpty && name.allSatisfy { ASCII.isToken($0) }, "\(context)")
        }
    }

    /// Whether a request line is too long must not depend on where the reads split the head.
    @Test func requestLineLimitDoesNotDependOnSplitPoints() {
        let limit = 32
        let parser = RequestHeadParser(maxRequestLineLength: limit, maxHeadLength: 1024)
        for lineLength in (limit - 2)...(limit + 2) {
            let path = "/" + String(repeating: "a", count: lineLength - "GET / HTTP/1.1".count)
            let input = Array("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
            let whole = RequestDriver.run(input, pieces: [input.count], parser: parser)
            #expect(lineLength > limit ? whole.outcome == .rejected(.uriTooLong) : whole.outcome != .rejected(.uriTooLong))
            for cut in 1..<input.count {
                let split = RequestDriver.run(input, pieces: [cut, input.count - cut], parser: parser)
                #expect(split.outcome == whole.outcome, "line of \(lineLength) bytes, limit \(limit), split after \(cut) bytes")
            }
        }
    }

    // MARK: - Response heads

    @Test(arguments: [false, true])
    func responseHeadParserIsConsistentAndStrict(requestWasHEAD: Bool) {
        var rng = SplitMix64(seed: requestWasHEAD ? 0xA7605_0003 : 0xA7605_0002)
        var accepted = 0
        for index in 0..<Self.iterations {
            let input = Corpus.makeInput(from: Corpus.responses, index: index, rng: &rng)
            let whole = ResponseDriver.run(input, pieces: [input.count], requestWasHEAD: requestWasHEAD)
            if case .accepted = whole.final { accepted += 1 }
            checkResponseInvariants(whole, input: input, index: index, requestWasHEAD: requestWasHEAD)
            for pieces in Corpus.splits(of: input.count, index: index, rng: &rng) {
                let split = ResponseDriver.run(input, pieces: pieces, requestWasHEAD: requestWasHEAD)
                #expect(split == whole, "input #\(index) \(Corpus.show(input)) split \(pieces)")
            }
        }
        #expect(accepted > Self.iterations / 20, "only \(accepted) accepted")
    }

    private func checkResponseInvariants(_ run: ResponseDriver.Run, input: [UInt8], index: Int, requestWasHEAD: Bool) {
        let context = "input #\(index) \(Corpus.show(input))"
        #expect(run.consumed <= input.count, "\(context)")
        guard case .accepted(let summary) = run.final else { return }
        // Consumed up to the end of the final head, not a byte further.
        guard summary.length >= 4, summary.length <= run.consumed else {
            Issue.record("head of \(summary.length) bytes, \(run.consumed) consumed: \(context)")
            return
        }
        let head = Array(input[(run.consumed - summary.length)..<run.consumed])
        #expect(Corpus.firstEmptyLineEnd(head) == head.count, "\(context)")
        #expect(summary.status >= 200 || summary.status == 101, "\(context)")
        #expect(!summary.fields.contains { $0.hasPrefix("\(HeaderName.contentLength.rawValue)|") }
            || !summary.fields.contains { $0.hasPrefix("\(HeaderName.transferEncoding.rawValue)|") }, "\(context)")
        if requestWasHEAD || [101, 204, 304].contains(summary.status) {
            #expect(summary.framing == .none, "\(context)")
        }
        if summary.framing == .untilClose { #expect(!summary.keepAlive, "\(context)") }
    }

    // MARK: - Chunked bodies

    @Test func chunkedDecoderIsConsistent() {
        var rng = SplitMix64(seed: 0xA7605_0004)
        var completed = 0
        for index in 0..<Self.iterations {
            let input = Corpus.makeInput(from: Corpus.chunked, index: index, rng: &rng)
            let whole = ChunkedDriver.run(input, pieces: [input.count])
            if whole.complete { completed += 1 }
            #expect(whole.payload.count + whole.leftover.count <= input.count, "input #\(index) \(Corpus.show(input))")
            #expect(!(whole.complete && whole.error != nil), "input #\(index) \(Corpus.show(input))")
            for pieces in Corpus.splits(of: input.count, index: index, rng: &rng) {
                let split = ChunkedDriver.run(input, pieces: pieces)
                #expect(split == whole, "input #\(index) \(Corpus.show(input)) split \(pieces)")
            }
        }
        #expect(completed > Self.iterations / 20, "only \(completed) complete")
    }
}

// MARK: - Deterministic generator

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence on every platform.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

// MARK: - Inputs

enum Corpus {
    static let requests: [[UInt8]] = [
        "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "POST /api/v1/items?x=1&y=2 HTTP/1.1\r\nHost: api.example.com:8080\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: keep-alive, X-Trace\r\nX-Trace: 1\r\n\r\n{\"a\":\"hello\"}",
        "PUT http://target.example:81/p/q?z HTTP/1.1\r\nHost: other\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HEAD /x HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: t/1.0\r\n\r\n",
        "\r\nDELETE /a%20b HTTP/1.1\r\nHost: [::1]:9\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n",
        "GET /search?q=a:b HTTP/1.1\r\nhost:h\r\nCONTENT-LENGTH:0\r\nX-Empty:\r\nAccept: */*\t\r\n\r\n",
    ].map { Array($0.utf8) }

    static let responses: [[UInt8]] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nbody",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nDate: Mon\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n",
    ].map { Array($0.utf8) }

    static let chunked: [[UInt8]] = [
        "5\r\nhello\r\n0\r\n\r\n",
        "5;a=b\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT",
        "1a; ext=\"q\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
        "0\r\n\r\n",
        "000003\r\nabc\r\n0;x\r\nT: v\r\nU: w\r\n\r\nGET / HTTP/1.1\r\n",
        "2\t;x\r\n\r\n\r\n1\r\n\0\r\n0\r\n\r\n",
    ].map { Array($0.utf8) }

    /// Fragments that make interesting insertions: framing bytes and the headers that decide framing.
    static let fragments: [[UInt8]] = [
        "\r\n", "\r", "\n", "\0", " ", ":", "\t", ";", ",", "0", "-1", "+1", "ffffffffffffffff", "999999999999999999999",
        "\r\n\r\n", "Content-Length: 5\r\n", "Content-Length: 0\r\n", "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n", "Host: h\r\n", "Host: [::1\r\n", "Connection: close, keep-alive, X\r\n",
        "Expect: 100-continue\r\n", " folded\r\n", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "http://", "[", "]", "?", "/",
        "\u{7F}", "\u{FF}", "0\r\n\r\n",
    ].map { Array($0.utf8) }

    static let headerLines: [[UInt8]] = [
        "Content-Length: 5\r\n", "Content-Length: 0\r\n", "content-length:  7 \r\n", "Content-Length: 1, 1\r\n",
        "Content-Length: +5\r\n", "Transfer-Encoding: chunked\r\n", "transfer-encoding: CHUNKED\r\n",
        "Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding : chunked\r\n", "Transfer-Encoding:\tchunked\t\r\n",
        "Host: h\r\n", "Host: h:80\r\n", "Connection: close\r\n", "Connection: keep-alive, Upgrade, X-A\r\n",
        "Expect: 100-continue\r\n", "Expect: nope\r\n", " obs-fold\r\n", "X-Nul: a\0b\r\n",
    ].map { Array($0.utf8) }

    /// Input number `index`: mostly mutated seeds, some pure random bytes, some random soup of fragments.
    static func makeInput(from seeds: [[UInt8]], index: Int, rng: inout SplitMix64) -> [UInt8] {
        switch index % 20 {
        case 0:
            return (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1:
            return (0..<rng.below(12)).flatMap { _ in
                rng.chance(50) ? fragments[rng.below(fragments.count)] : seeds[rng.below(seeds.count)].prefix(rng.below(20)).map { $0 }
            }
        default:
            var bytes = seeds[index % seeds.count]
            for _ in 0...rng.below(4) { mutate(&bytes, rng: &rng) }
            return bytes
        }
    }

    static func mutate(_ bytes: inout [UInt8], rng: inout SplitMix64) {
        let position = rng.below(bytes.count + 1)
        switch rng.below(12) {
        case 0 where !bytes.isEmpty:  // flip one bit
            bytes[min(position, bytes.count - 1)] ^= 1 << UInt8(rng.below(8))
        case 1 where !bytes.isEmpty:  // replace a byte
            bytes[min(position, bytes.count - 1)] = UInt8(truncatingIfNeeded: rng.next())
        case 2:  // insert a random byte
            bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
        case 3:  // insert a framing byte
            bytes.insert([ASCII.cr, ASCII.lf, 0, ASCII.space, ASCII.colon, ASCII.tab][rng.below(6)], at: position)
        case 4 where !bytes.isEmpty:  // delete one or a few bytes
            bytes.removeSubrange(min(position, bytes.count - 1)..<min(bytes.count, position + 1 + rng.below(3)))
        case 5:  // insert a fragment
            bytes.insert(contentsOf: fragments[rng.below(fragments.count)], at: position)
        case 6, 7:  // duplicate, delete or swap whole lines
            var lines = splitLines(bytes)
            guard lines.count > 1 else { return }
            let a = rng.below(lines.count)
            let b = rng.below(lines.count)
            switch rng.below(3) {
            case 0: lines.insert(lines[a], at: b)
            case 1: lines.remove(at: a)
            default: lines.swapAt(a, b)
            }
            bytes = Array(lines.joined())
        case 8:  // truncate
            bytes.removeSubrange(position...)
        case 10:  // insert a whole header line, mostly ones that decide framing
            var lines = splitLines(bytes)
            let line = headerLines[rng.below(headerLines.count)][...]
            lines.insert(line, at: lines.isEmpty ? 0 : 1 + rng.below(lines.count))  // after the start line
            bytes = Array(lines.joined())
        case 9 where !bytes.isEmpty:  // change a digit: sizes, lengths, status codes, versions
            let digits = bytes.indices.filter { bytes[$0] >= 48 && bytes[$0] <= 57 }
            guard !digits.isEmpty else { return }
            bytes[digits[rng.below(digits.count)]] = [48, 49, 53, 57, 65, 70, 97][rng.below(7)]
        default:  // flip the case of a letter (header names are case-insensitive, versions are not)
            let letters = bytes.indices.filter { (65...90).contains(bytes[$0]) || (97...122).contains(bytes[$0]) }
            guard !letters.isEmpty else { return }
            bytes[letters[rng.below(letters.count)]] ^= 0x20
        }
    }

    /// Lines including their line ending (the last one may have none).
    static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == ASCII.lf {
            lines.append(bytes[start...i])
            start = i + 1
        }
        if start < bytes.count { lines.append(bytes[start...]) }
        return lines
    }

    /// Ways to feed `count` bytes in pieces: a few random split points, and byte by byte now and then.
    static func splits(of count: Int, index: Int, rng: inout SplitMix64) -> [[Int]] {
        guard count > 1 else { return [] }
        var result: [[Int]] = []
        for _ in 0..<2 {
            let cuts = Set((0..<(1 + rng.below(3))).map { _ in 1 + rng.below(count - 1) }).sorted()
            result.append(zip(cuts + [count], [0] + cuts).map { $0 - $1 })
        }
        if index % 50 == 0 { result.append(Array(repeating: 1, count: count)) }
        return result
    }

    /// The index just past the first CRLF CRLF, or nil.
    static func firstEmptyLineEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count
        where bytes[i] == ASCII.lf && bytes[i - 1] == ASCII.cr && bytes[i - 2] == ASCII.lf && bytes[i - 3] == ASCII.cr {
            return i + 1
        }
        return nil
    }

    static func show(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).debugDescription
    }
}

// MARK: - Drivers: feed an input in pieces, summarise what the parser made of it

enum Outcome<Summary: Equatable>: Equatable {
    case needMore
    case accepted(Summary)
    case rejected(HTTPParseError)
}

/// Header fields as comparable text: `kind|name|value`.
private func describeFields(_ fields: [HeaderField], _ string: (Range<Int>) -> String) -> [String] {
    fields.map { "\($0.name.rawValue)|\(string($0.nameStart..<($0.nameStart + $0.nameLength)))|\(string($0.valueStart..<($0.valueStart + $0.valueLength)))" }
}

enum RequestDriver {
    struct Summary: Equatable {
        var consumed: Int
        var method, target, path, query, host: String
        var minorVersion: Int
        var hostPort: Int?
        var fields: [String]
        var framing: BodyFraming
        var keepAlive, expectContinue: Bool
        var nominated: [String]
    }

    struct Run {
        var outcome: Outcome<Summary>
        var head: RequestHead?
        /// Bytes the parser moved past (leading empty lines and the head).
        var consumed: Int
        /// Bytes written into the buffer so far.
        var fed: Int
    }

    static func run(_ input: [UInt8], pieces: [Int], parser: RequestHeadParser = RequestHeadParser()) -> Run {
        var parser = parser
        var buffer = ByteBuffer()
        var fed = 0
        for size in pieces {
            buffer.writeBytes(input[fed..<(fed + size)])
            fed += size
            switch parser.parse(&buffer) {
            case .needMore:
                continue
            case .error(let error):
                return Run(outcome: .rejected(error), consumed: buffer.readerIndex, fed: fed)
            case .head(let head):
                let summary = Summary(
                    consumed: buffer.readerIndex, method: head.string(head.method), target: head.string(head.target),
                    path: head.string(head.path), query: head.string(head.query), host: head.hostString,
                    minorVersion: head.minorVersion, hostPort: head.hostPort, fields: describeFields(head.fields, head.string),
                    framing: head.framing, keepAlive: head.keepAlive, expectContinue: head.expectContinue,
                    nominated: head.connectionNominated
                )
                return Run(outcome: .accepted(summary), head: head, consumed: buffer.readerIndex, fed: fed)
            }
        }
        return Run(outcome: .needMore, consumed: buffer.readerIndex, fed: fed)
    }
}

enum ResponseDriver {
    struct Summary: Equatable {
        var status, minorVersion, length: Int
        var fields: [String]
        var framing: BodyFraming
        var keepAlive: Bool
        var nominated: [String]
    }

    struct Run: Equatable {
        /// 1xx responses skipped before the final one, with the bytes consumed after each.
        var informational: [Int]
        var final: Outcome<Summary>
        var consumed: Int
    }

    static func run(_ input: [UInt8], pieces: [Int], requestWasHEAD: Bool) -> Run {
        var parser = ResponseHeadParser()
        var buffer = ByteBuffer()
        var informational: [Int] = []
        var fed = 0
        for size in pieces {
            buffer.writeBytes(input[fed..<(fed + size)])
            fed += size
            parsing: while true {
                switch parser.parse(&buffer, requestWasHEAD: requestWasHEAD) {
                case .needMore:
                    break parsing
                case .informational(let status):
                    informational += [status, buffer.readerIndex]
                case .error(let error):
                    return Run(informational: informational, final: .rejected(error), consumed: buffer.readerIndex)
                case .head(let head):
                    let summary = Summary(
                        status: head.status, minorVersion: head.minorVersion, length: head.bytes.readableBytes,
                        fields: describeFields(head.fields, head.string), framing: head.framing,
                        keepAlive: head.keepAlive, nominated: head.connectionNominated
                    )
                    return Run(informational: informational, final: .accepted(summary), consumed: buffer.readerIndex)
                }
            }
        }
        return Run(informational: informational, final: .needMore, consumed: buffer.readerIndex)
    }
}

enum ChunkedDriver {
    struct Run: Equatable {
        var payload: [UInt8]
        var complete: Bool
        var error: HTTPParseError?
        var leftover: [UInt8]
    }

    static func run(_ input: [UInt8], pieces: [Int]) -> Run {
        var decoder = ChunkedDecoder()
        var buffer = ByteBuffer()
        var payload: [UInt8] = []
        var fed = 0
        for size in pieces {
            buffer.writeBytes(input[fed..<(fed + size)])
            fed += size
            if decoder.isComplete { continue }
            do {
                try decoder.decode(&buffer) { payload += $0.readableBytesView }
            } catch {
                // What is left is the unread rest of the input, however it was split.
                return Run(payload: payload, complete: decoder.isComplete, error: error, leftover: Array(buffer.readableBytesView) + input[fed...])
            }
        }
        return Run(payload: payload, complete: decoder.isComplete, error: nil, leftover: Array(buffer.readableBytesView))
    }
}
