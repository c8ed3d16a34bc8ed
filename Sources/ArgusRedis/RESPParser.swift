import NIOCore

/// An incremental RESP2 reply parser. It takes one complete value off the front of a buffer, or
/// leaves the buffer untouched when the value is not complete yet. Sizes and nesting are bounded,
/// so a broken or hostile server cannot make it allocate without limit or recurse deeply.
public struct RESPParser: Sendable {
    public enum ParseError: Error, Equatable {
        case unknownType(UInt8)
        case badLength
        case badInteger
        case tooLarge
        case tooDeep
        case missingTerminator
    }

    public var maxBulkLength: Int
    public var maxArrayLength: Int
    public var maxDepth: Int

    public init(maxBulkLength: Int = 64 << 20, maxArrayLength: Int = 1 << 20, maxDepth: Int = 8) {
        self.maxBulkLength = maxBulkLength
        self.maxArrayLength = maxArrayLength
        self.maxDepth = maxDepth
    }

    /// The first complete value in `buffer` (consumed), or nil when more bytes are needed.
    public func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var index = buffer.readerIndex
        guard let value = try value(buffer, &index, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: index)
        return value
    }

    private func value(_ buffer: ByteBuffer, _ index: inout Int, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw ParseError.tooDeep }
        guard let type = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        guard let line = try self.line(buffer, from: index + 1) else { return nil }
        let next = line.upperBound + 2
        switch type {
        case UInt8(ascii: "+"):
            index = next
            return .simpleString(buffer.getString(at: line.lowerBound, length: line.count) ?? "")
        case UInt8(ascii: "-"):
            index = next
            return .error(buffer.getString(at: line.lowerBound, length: line.count) ?? "")
        case UInt8(ascii: ":"):
            index = next
            return .integer(try integer(buffer, line))
        case UInt8(ascii: "$"):
            let length = try integer(buffer, line)
            if length == -1 {
                index = next
                return .bulkString(nil)
            }
            guard length >= 0 else { throw ParseError.badLength }
            guard length <= maxBulkLength else { throw ParseError.tooLarge }
            let n = Int(length)
            guard buffer.writerIndex - next >= n + 2 else { return nil }
            guard buffer.getInteger(at: next + n, as: UInt16.self) == 0x0D0A else { throw ParseError.missingTerminator }
            index = next + n + 2
            return .bulkString(buffer.getSlice(at: next, length: n))
        case UInt8(ascii: "*"):
            let count = try integer(buffer, line)
            if count == -1 {
                index = next
                return .array(nil)
            }
            guard count >= 0 else { throw ParseError.badLength }
            guard count <= maxArrayLength else { throw ParseError.tooLarge }
            var cursor = next
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(count), 1024))
            for _ in 0..<count {
                guard let element = try value(buffer, &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            index = cursor
            return .array(elements)
        default:
            throw ParseError.unknownType(type)
        }
    }

    /// The range of the line starting at `start`, up to (not including) its CRLF; nil if no CRLF yet.
    private func line(_ buffer: ByteBuffer, from start: Int) throws -> Range<Int>? {
        let end = buffer.writerIndex
        guard start <= end else { return nil }
        let view = buffer.viewBytes(at: start, length: end - start) ?? ByteBufferView()
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            // A line longer than any sane header of a reply is an error, not a wait.
            if end - start > 4096 { throw ParseError.missingTerminator }
            return nil
        }
        guard cr + 1 < end else { return nil }
        guard buffer.getInteger(at: cr + 1, as: UInt8.self) == UInt8(ascii: "\n") else { throw ParseError.missingTerminator }
        return start..<cr
    }

    private func integer(_ buffer: ByteBuffer, _ line: Range<Int>) throws -> Int64 {
        guard !line.isEmpty, line.count <= 20, let text = buffer.getString(at: line.lowerBound, length: line.count),
              let value = Int64(text)
        else { throw ParseError.badInteger }
        return value
    }
}
