import NIOCore

/// One open stream of a ``ServerConnectionMachine``: which sides have ended, both flow-control
/// windows, the request's declared and received body length, and what the response could not
/// send yet for want of window (in order: DATA, then trailers or a reset behind it).
final class ServerStreamState {
    enum Pending {
        case data(ByteBuffer, endStream: Bool)
        /// An HPACK-encoded header block.
        case headers(ByteBuffer, endStream: Bool)
    }

    let id: Int
    /// The client sent END_STREAM.
    var remoteEnded: Bool
    /// END_STREAM was written (not only queued).
    var localEnded = false
    /// What this side may still send on the stream.
    var sendWindow: Int
    /// What the client may still send on the stream.
    var receiveWindow: Int
    let declaredLength: Int?
    var receivedLength = 0
    var pending: [Pending] = []
    /// DATA bytes in `pending`.
    var pendingBytes = 0
    /// A reset was asked for behind pending output (sent once it is out).
    var resetAfterPending: HTTP2ErrorCodeValue?

    init(id: Int, remoteEnded: Bool, sendWindow: Int, receiveWindow: Int, declaredLength: Int?) {
        self.id = id
        self.remoteEnded = remoteEnded
        self.sendWindow = sendWindow
        self.receiveWindow = receiveWindow
        self.declaredLength = declaredLength
    }

    var isDone: Bool { localEnded && remoteEnded && pending.isEmpty }

    /// Forgets what waited (the stream was reset); returns the DATA bytes it held.
    func dropPending() -> Int {
        let bytes = pendingBytes
        pending = []
        pendingBytes = 0
        return bytes
    }
}

/// An error code of RFC 9113 §7 as it goes on the wire.
typealias HTTP2ErrorCodeValue = UInt32

enum ErrorCodes {
    static let noError: UInt32 = 0x0
    static let protocolError: UInt32 = 0x1
    static let internalError: UInt32 = 0x2
    static let flowControlError: UInt32 = 0x3
    static let streamClosed: UInt32 = 0x5
    static let frameSizeError: UInt32 = 0x6
    static let refusedStream: UInt32 = 0x7
    static let compressionError: UInt32 = 0x9
    static let enhanceYourCalm: UInt32 = 0xB
}
