import ArgusHTTP2
import NIOCore
import NIOHPACK
import Testing

@Suite struct ResponseTranslatorTests {
    /// What the translator emitted, as text: `H[endStream] name: value, ...` and `D[endStream] bytes`.
    func translate(_ pieces: [String], head: Bool = false, finish: Bool = false) throws -> [String] {
        var translator = ResponseTranslator(requestWasHEAD: head)
        var out: [String] = []
        let emit: (ResponseTranslator.Part) -> Void = { part in
            switch part {
            case .headers(let headers, let end):
                out.append("H\(end ? "!" : "") " + headers.map { "\($0.name): \($0.value)" }.joined(separator: ", "))
            case .headBlock(var block, let end):
                var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
                let headers = (try? decoder.decodeHeaders(from: &block)) ?? [:]
                out.append("H\(end ? "!" : "") " + headers.map { "\($0.name): \($0.value)" }.joined(separator: ", "))
            case .data(let data, let end):
                out.append("D\(end ? "!" : "") " + String(buffer: data))
            }
        }
        for piece in pieces { try translator.feed(ByteBuffer(string: piece), emit: emit) }
        if finish { try translator.finish(emit: emit) }
        return out
    }

    @Test func lengthBodyEndsTheStreamWithItsLastByte() throws {
        let out = try translate(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-A: 1\r\n\r\nhel", "lo"])
        #expect(out == ["H :status: 200, content-length: 5, x-a: 1", "D hel", "D! lo"])
    }

    @Test func headAndBodyInOneWriteAndNameCase() throws {
        let out = try translate(["HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno"])
        #expect(out == ["H :status: 404, content-type: text/plain, content-length: 2", "D! no"])
    }

    @Test func headSplitAcrossWrites() throws {
        let out = try translate(["HTTP/1.1 200 OK\r\nConte", "nt-Length: 1\r\n", "\r\nx"])
        #expect(out == ["H :status: 200, content-length: 1", "D! x"])
    }

    @Test func aHeadEndCutAnywhereIsFound() throws {
        let whole = "HTTP/1.1 200 OK\r\nVia: 1.1 kong\r\nContent-Length: 1\r\n\r\nx"
        for cut in 1..<whole.utf8.count {
            let bytes = Array(whole.utf8)
            let pieces = [String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)]
            #expect(try translate(pieces) == ["H :status: 200, via: 1.1 kong, content-length: 1", "D! x"], "cut at \(cut)")
        }
    }

    @Test func headsItCanNotReadAreRefused() {
        var translator = ResponseTranslator(requestWasHEAD: false, maxHeadLength: 64)
        #expect(throws: ResponseTranslator.Untranslatable.self) {
            try translator.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")) { _ in }
        }
        var small = ResponseTranslator(requestWasHEAD: false, maxHeadLength: 64)
        #expect(throws: ResponseTranslator.Untranslatable.self) {
            try small.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nx-long: " + String(repeating: "v", count: 80))) { _ in }
        }
        var switching = ResponseTranslator(requestWasHEAD: false)
        #expect(throws: ResponseTranslator.Untranslatable.self) {
            try switching.feed(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")) { _ in }
        }
        var badLength = ResponseTranslator(requestWasHEAD: false)
        #expect(throws: ResponseTranslator.Untranslatable.self) {
            try badLength.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n")) { _ in }
        }
    }

    @Test func chunkedBodyLosesItsFraming() throws {
        let out = try translate(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "3\r\nabc\r\n0\r\n\r\n"])
        #expect(out == ["H :status: 200", "D hello", "D abc", "D! "])
    }

    @Test func noBodyResponsesEndOnTheirHeaders() throws {
        #expect(try translate(["HTTP/1.1 204 No Content\r\nX: y\r\n\r\n"]) == ["H! :status: 204, x: y"])
        #expect(try translate(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"], head: true) == ["H! :status: 200, content-length: 10"])
        #expect(try translate(["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]) == ["H! :status: 200, content-length: 0"])
    }

    @Test func interimResponsesAreTheirOwnHeaders() throws {
        let out = try translate(["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"])
        #expect(out == ["H :status: 100", "H :status: 201, content-length: 2", "D! ok"])
    }

    @Test func closeDelimitedBodyEndsAtFinish() throws {
        let out = try translate(["HTTP/1.0 200 OK\r\n\r\nabc"], finish: true)
        #expect(out == ["H :status: 200", "D abc", "D! "])
    }

    @Test func anIncompleteResponseCanNotFinish() {
        #expect(throws: ResponseTranslator.Untranslatable.self) {
            try translate(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], finish: true)
        }
        #expect(throws: ResponseTranslator.Untranslatable.self) { try translate(["HTTP/1.1 200 OK\r\n"], finish: true) }
        #expect(throws: ResponseTranslator.Untranslatable.self) { try translate(["NOT HTTP\r\n\r\n"]) }
    }

    @Test func connectionSpecificFieldsAreDropped() throws {
        let out = try translate([
            "HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
        ])
        #expect(out == ["H! :status: 200, content-length: 0"])
    }
}
