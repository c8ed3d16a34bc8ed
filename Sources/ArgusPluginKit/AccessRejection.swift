/// An access-phase plugin's answer to a request that must not reach the upstream: Kong's status,
/// message and headers, plus a small reason code for events and metrics.
public struct AccessRejection: Sendable, Equatable {
    public var status: Int
    public var message: String
    public var headers: [(String, String)]
    /// Why, in the plugin's terms (see each plan's `Reason`).
    public var reason: UInt8
    /// A JSON body sent as it is (Kong's `kong.response.exit`: no request id, no content
    /// negotiation); nil for Kong's `kong.response.error` bodies.
    public var exitBody: String?

    public init(status: Int, message: String, headers: [(String, String)] = [], reason: UInt8, exitBody: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.reason = reason
        self.exitBody = exitBody
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.status == b.status && a.message == b.message && a.reason == b.reason && a.exitBody == b.exitBody
            && a.headers.map { "\($0.0): \($0.1)" } == b.headers.map { "\($0.0): \($0.1)" }
    }
}
