import NIOCore

/// A RESP2 reply.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// nil is the null bulk string (`$-1`).
    case bulkString(ByteBuffer?)
    /// nil is the null array (`*-1`).
    case array([RESPValue]?)

    public var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulkString(let b?): return Int64(String(buffer: b))
        case .simpleString(let s): return Int64(s)
        default: return nil
        }
    }

    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let b?): return String(buffer: b)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let a?) = self { return a }
        return nil
    }
}
