import ArgusLoop
import NIOCore

/// nginx's answer to plain HTTP on a TLS port (its error 497, sent as 400 with its own page, as
/// Kong sends it: Kong has no error page for 497), then the connection closes.
enum PlainHTTPAnswer {
    static let body = """
        <html>\r
        <head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r
        <body>\r
        <center><h1>400 Bad Request</h1></center>\r
        <center>The plain HTTP request was sent to HTTPS port</center>\r
        </body>\r
        </html>\r

        """

    static func response(serverToken: String, date: String) -> String {
        "HTTP/1.1 400 Bad Request\r\nDate: \(date)\r\nContent-Type: text/html\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\nServer: \(serverToken)\r\n\r\n" + body
    }

    static func send(on tcp: TCPConnection, serverToken: String, date: String) {
        // the rest of what the client sends is not read; the connection closes once the answer is
        // out (the delegate first: the FIN may go out at once)
        tcp.delegate = ClosingDelegate()
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        buffer.writeString(response(serverToken: serverToken, date: date))
        tcp.write(buffer)
        tcp.shutdownOutput()
    }

    /// Closes the connection once its output is shut (the answer written) or the peer goes away.
    private final class ClosingDelegate: TCPConnectionDelegate {
        func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {}
        func connectionReadComplete(_ connection: TCPConnection) {}
        func connectionReadEnded(_ connection: TCPConnection) { connection.close() }
        func connectionBecameWritable(_ connection: TCPConnection) {}
        func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {}
        func connectionOutputShut(_ connection: TCPConnection) { connection.close() }
    }
}
