import NIOCore

/// Encodes commands as RESP arrays of bulk strings.
public enum RESPCommand {
    /// Appends `*N\r\n$len\r\narg\r\n…` for `arguments` to `out`.
    public static func write(_ arguments: [String], into out: inout ByteBuffer) {
        out.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            out.writeString("$\(argument.utf8.count)\r\n")
            out.writeString(argument)
            out.writeStaticString("\r\n")
        }
    }

    public static func encode(_ arguments: [String]) -> ByteBuffer {
        var out = ByteBuffer()
        write(arguments, into: &out)
        return out
    }
}
