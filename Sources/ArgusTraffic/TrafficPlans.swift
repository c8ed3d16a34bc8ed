import ArgusPluginKit
import ArgusConfig
import ArgusHTTP
import Foundation

/// Kong's correlation-id: a request without the header gets one, generated as configured; the
/// upstream sees it, the client too with `echo_downstream`, and the log record carries it.
public final class CorrelationIDPlan: Sendable {
    public enum Generator: Sendable { case uuid, uuidCounter, tracker }

    public let headerName: String
    let lowercasedName: [UInt8]
    public let generator: Generator
    public let echoDownstream: Bool

    public init(config: JSONValue) {
        headerName = config["header_name"]?.stringValue ?? "Kong-Request-ID"
        lowercasedName = Array(headerName.lowercased().utf8)
        switch config["generator"]?.stringValue {
        case "uuid": generator = .uuid
        case "tracker": generator = .tracker
        default: generator = .uuidCounter
        }
        echoDownstream = config["echo_downstream"]?.boolValue ?? false
    }

    /// The id the request already carries, if any (Kong keeps an incoming one).
    public func existing(_ head: RequestHead) -> String? {
        guard let range = head.valueRange(forLowercasedName: lowercasedName).first, !range.isEmpty else { return nil }
        return head.string(range)
    }
}

/// The per-event-loop state of correlation-id's generators.
public struct CorrelationIDGenerator: Sendable {
    /// `uuid#counter`'s prefix: one UUID per worker (event loop), as Kong has one per nginx worker.
    let workerID = UUID().uuidString.lowercased()
    var counter: UInt64 = 0

    public init() {}

    /// A new id. `tracker` needs the connection's figures: Kong's
    /// `<server_addr>-<server_port>-<pid>-<connection>-<connection_requests>-<epoch seconds.ms>`.
    public mutating func next(
        _ generator: CorrelationIDPlan.Generator, serverAddress: String, serverPort: Int, connection: UInt64,
        connectionRequests: Int, nowMs: Int64
    ) -> String {
        switch generator {
        case .uuid:
            return UUID().uuidString.lowercased()
        case .uuidCounter:
            counter &+= 1
            return "\(workerID)#\(counter)"
        case .tracker:
            let seconds = nowMs / 1000, millis = nowMs % 1000
            let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
            return "\(serverAddress)-\(serverPort)-\(getpid())-\(connection)-\(connectionRequests)-\(seconds).\(fraction)"
        }
    }
}

/// Kong's request-size-limiting: a declared body larger than allowed is refused before anything
/// reaches the upstream; a chunked body is counted as it streams (``allowedBytes``) and refused
/// the moment it passes the limit.
public final class RequestSizeLimitPlan: Sendable {
    public let allowedBytes: Int
    let requireContentLength: Bool

    public init(config: JSONValue) {
        let size = config["allowed_payload_size"]?.intValue ?? 128
        switch config["size_unit"]?.stringValue {
        case "bytes": allowedBytes = size
        case "kilobytes": allowedBytes = size << 10
        default: allowedBytes = size << 20
        }
        requireContentLength = config["require_content_length"]?.boolValue ?? false
    }

    public static let tooLarge = "Request size limit exceeded"

    /// The refusal for this head, or nil (a chunked body is checked as it streams).
    public func check(_ head: RequestHead) -> AccessRejection? {
        switch head.framing {
        case .length(let n):
            guard n > allowedBytes else { return nil }
            return AccessRejection(status: head.expectContinue ? 417 : 413, message: Self.tooLarge, reason: 1)
        case .chunked:
            return requireContentLength ? AccessRejection(status: 411, message: "A valid Content-Length header is required", reason: 2) : nil
        default:
            // As Kong: with require_content_length, any request without the header (a GET too).
            return requireContentLength ? AccessRejection(status: 411, message: "A valid Content-Length header is required", reason: 2) : nil
        }
    }
}
