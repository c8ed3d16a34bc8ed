#if canImport(Glibc)
import Glibc
#endif

/// The lines of a raw HTTP head: the start line and `name: value` fields, as offsets into the bytes
/// (already validated by the proxy's parser; a truncated last line is dropped). Valid while the
/// bytes it was made from are.
struct HeadLines {
    struct Field {
        var nameStart: Int32
        var nameEnd: Int32
        var valueStart: Int32
        var valueEnd: Int32
    }

    let raw: UnsafeRawBufferPointer
    var startLine: Range<Int> = 0..<0
    var fields: [Field] = []

    init(_ raw: UnsafeRawBufferPointer, reusing storage: [Field] = []) {
        self.raw = raw
        fields = storage
        fields.removeAll(keepingCapacity: true)
        fields.reserveCapacity(24)
        var start = 0, i = 0, first = true
        let n = raw.count
        guard let base = raw.baseAddress else { return }
        while i + 1 < n {
            guard let cr = memchr(base + i, 13, n - i) else { break }
            i = base.distance(to: UnsafeRawPointer(cr))
            guard i + 1 < n else { break }
            guard raw[i + 1] == 10 else { i += 1; continue }
            let line = start..<i
            start = i + 2
            i += 2
            if first {
                startLine = line
                first = false
                continue
            }
            if line.isEmpty { break }
            var colon = line.lowerBound
            while colon < line.upperBound && raw[colon] != UInt8(ascii: ":") { colon += 1 }
            guard colon < line.upperBound else { continue }
            var lower = colon + 1, upper = line.upperBound
            while lower < upper, raw[lower] == 32 || raw[lower] == 9 { lower += 1 }
            while upper > lower, raw[upper - 1] == 32 || raw[upper - 1] == 9 { upper -= 1 }
            fields.append(Field(nameStart: Int32(line.lowerBound), nameEnd: Int32(colon), valueStart: Int32(lower), valueEnd: Int32(upper)))
        }
    }

    func name(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: raw[Int(fields[i].nameStart)..<Int(fields[i].nameEnd)])
    }

    func value(_ i: Int, limit: Int) -> UnsafeRawBufferPointer {
        let start = Int(fields[i].valueStart), end = Int(fields[i].valueEnd)
        return UnsafeRawBufferPointer(rebasing: raw[start..<(end - start > limit ? start + limit : end)])
    }

    /// Whether two header names are equal, ASCII case ignored.
    static func sameName(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] {
            let x = a[i] | 0x20
            guard x == b[i] | 0x20, x >= 97 && x <= 122 else { return false }
        }
        return true
    }

    /// Whether a header name equals a lower-case literal, ASCII case ignored.
    static func sameName(_ a: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        lowercased.withUTF8Buffer { sameName(a, UnsafeRawBufferPointer($0)) }
    }

    /// The second word of the start line (a request's target).
    var requestTarget: UnsafeRawBufferPointer {
        let line = raw[startLine]
        guard let a = line.firstIndex(of: 32) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let rest = line[(a + 1)...]
        return UnsafeRawBufferPointer(rebasing: rest[..<(rest.firstIndex(of: 32) ?? rest.endIndex)])
    }

    var method: UnsafeRawBufferPointer {
        let line = raw[startLine]
        return UnsafeRawBufferPointer(rebasing: line[..<(line.firstIndex(of: 32) ?? line.endIndex)])
    }

    /// The first value of a header (name compared without case).
    func first(_ lowercasedName: StaticString) -> UnsafeRawBufferPointer? {
        for i in fields.indices where Self.sameName(name(i), lowercasedName) {
            return value(i, limit: Int.max)
        }
        return nil
    }
}
