import ArgusCompression
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - The system's gzip, through a temporary file and popen

private enum Shell {
    /// A fresh path under /tmp (tests run in parallel).
    static func temporaryPath(_ tag: String) -> String {
        "/tmp/argus-gzip-test-\(getpid())-\(tag)-\(UInt64.random(in: 0...UInt64.max))"
    }

    static func write(_ bytes: [UInt8], to path: String) -> Bool {
        guard let file = fopen(path, "wb") else { return false }
        defer { fclose(file) }
        if bytes.isEmpty { return true }
        return bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) } == bytes.count
    }

    /// The standard output of `/bin/sh -c command`, nil if it could not run or exited non-zero.
    static func output(of command: String) -> [UInt8]? {
        guard let pipe = popen(command, "r") else { return nil }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBufferPointer { fread($0.baseAddress, 1, $0.count, pipe) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[..<n])
        }
        return pclose(pipe) == 0 ? out : nil
    }

    /// `bytes` decompressed by `gzip -dc`.
    static func gunzip(_ bytes: [UInt8]) -> [UInt8]? {
        let path = temporaryPath("in.gz")
        defer { unlink(path) }
        guard write(bytes, to: path) else { return nil }
        return output(of: "/bin/gzip -dc < '\(path)'")
    }

    /// `bytes` compressed by `gzip -c`.
    static func gzip(_ bytes: [UInt8]) -> [UInt8]? {
        let path = temporaryPath("in")
        defer { unlink(path) }
        guard write(bytes, to: path) else { return nil }
        return output(of: "/bin/gzip -c < '\(path)'")
    }
}

/// Deterministic bytes that do not compress (xorshift).
private func noise(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var out: [UInt8] = []
    out.reserveCapacity(count)
    for _ in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        out.append(UInt8(truncatingIfNeeded: state >> 24))
    }
    return out
}

/// ID1, ID2 and CM (8: deflate) of every gzip member (RFC 1952 §2.3.1).
private let gzipMagic: [UInt8] = [0x1F, 0x8B, 0x08]

/// RFC 1952's ISIZE: the input length modulo 2^32, little-endian, in the last four bytes.
private func trailerSize(_ gzip: [UInt8]) -> UInt32? {
    guard gzip.count >= 18 else { return nil }
    return gzip.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
}

@Suite struct GzipTests {
    static let text = Array(
        """
        # HELP argus_requests_total Requests by service, route and status.
        # TYPE argus_requests_total counter
        argus_requests_total{service="api",route="main",code="200"} 1027
        argus_requests_total{service="api",route="main",code="404"} 3
        ünïcødé and every byte value follow
        """.utf8) + (0...255).map { UInt8($0) }

    @Test func systemGzipDecompressesWhatTheModuleCompresses() throws {
        for level: Int32 in [1, 6, 9] {
            let compressed = try #require(Gzip.compress(Self.text, level: level))
            let back = try #require(Shell.gunzip(compressed), "gzip -dc failed at level \(level)")
            #expect(back == Self.text)
        }
    }

    @Test func theModuleDecompressesWhatSystemGzipCompresses() throws {
        let compressed = try #require(Shell.gzip(Self.text))
        #expect(Gzip.decompress(compressed) == Self.text)
    }

    @Test func largeInputsRoundTripAcrossManyOutputChunks() throws {
        // Incompressible and bigger than decompress's 64 KiB chunk several times over.
        let input = noise(300_000)
        let compressed = try #require(Gzip.compress(input))
        #expect(Gzip.decompress(compressed) == input)
        #expect(Shell.gunzip(compressed) == input)
        #expect(trailerSize(compressed) == UInt32(input.count))
    }

    @Test func emptyInput() throws {
        let compressed = try #require(Gzip.compress([]))
        #expect(Array(compressed.prefix(3)) == gzipMagic)
        #expect(trailerSize(compressed) == UInt32(0))
        #expect(Gzip.decompress(compressed) == [UInt8]())
        #expect(Shell.gunzip(compressed) == [UInt8]())
        // Empty bytes are not a gzip stream.
        #expect(Gzip.decompress([]) == nil)
    }

    @Test func repetitiveInputCompressesWell() throws {
        let line = Array("argus_requests_total{service=\"api\",code=\"200\"} 1\n".utf8)
        var input: [UInt8] = []
        for _ in 0..<20_000 { input += line }
        let compressed = try #require(Gzip.compress(input))
        #expect(compressed.count * 50 < input.count, "\(input.count) bytes became \(compressed.count)")
        #expect(Gzip.decompress(compressed) == input)
        // A higher level is no worse.
        let best = try #require(Gzip.compress(input, level: 9))
        #expect(best.count <= compressed.count)
        #expect(Gzip.decompress(best) == input)
    }

    @Test func outputIsAGzipMemberWithItsHeaderAndTrailer() throws {
        let compressed = try #require(Gzip.compress(Self.text))
        // ID1 ID2, CM = 8 (deflate), then a 10-byte header in all.
        #expect(compressed.count > 18)
        #expect(Array(compressed.prefix(3)) == gzipMagic)
        #expect(trailerSize(compressed) == UInt32(Self.text.count))
    }

    @Test func anInvalidLevelFailsRatherThanGuessing() {
        #expect(Gzip.compress(Self.text, level: 42) == nil)
        #expect(Gzip.compress(Self.text, level: -7) == nil)
    }

    @Test func decompressRejectsWhatIsNotValidGzip() throws {
        let compressed = try #require(Gzip.compress(Self.text))
        // Not gzip at all.
        #expect(Gzip.decompress(Array("plain text, not gzip".utf8)) == nil)
        // Truncated: the trailer (CRC-32 and size) is missing.
        #expect(Gzip.decompress(Array(compressed.dropLast(8))) == nil)
        #expect(Gzip.decompress(Array(compressed.prefix(10))) == nil)
        // A wrong CRC-32.
        var corrupted = compressed
        corrupted[corrupted.count - 8] ^= 0xFF
        #expect(Gzip.decompress(corrupted) == nil)
    }
}
