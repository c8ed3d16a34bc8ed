import ArgusSnapshot
import NIOCore

/// When a client connection's one timer must fire, and what has expired when it does: a single
/// decision tree for the client's idle, header and body timeouts and the exchange's upstream
/// write and read timeouts (time without progress, as nginx counts them). Pure: the connection
/// describes where it is (`View`); the answer is the earliest deadline and what it means.
struct TimeoutPolicy {
    /// nginx's `keepalive_timeout`, `client_body_timeout` and `send_timeout` (one setting).
    let clientTimeout: TimeAmount
    /// nginx's `client_header_timeout`: a head must be whole this long after its first byte.
    let headerTimeout: TimeAmount

    enum Expiry: Equatable {
        /// An idle keep-alive connection: closed quietly.
        case idle
        /// A head still incomplete however active the client (slowloris): 408, then close.
        case headerTimeout
        /// The client stopped sending a body the gateway waits for (a plugin reads it whole, or
        /// it streams upstream): 408, then close.
        case clientBodyTimeout
        /// The client stopped sending a body the gateway only drops: closed.
        case discardTimeout
        /// The client does not read the response (nginx `send_timeout`): closed.
        case sendTimeout
        /// The upstream does not take the request: 504.
        case upstreamWriteTimeout
        /// The upstream sends nothing: another try, or 504.
        case upstreamReadTimeout
    }

    struct Deadline: Equatable {
        var at: NIODeadline
        var expiry: Expiry
    }

    /// What an exchange with an upstream is waiting for, once its head is sent.
    struct ExchangeTimes: Equatable {
        /// Since when the upstream does not take the request's bytes.
        var writeBlockedSince: NIODeadline?
        var writeTimeout: TimeAmount
        /// The whole request body was sent.
        var requestComplete: Bool
        /// The client's last bytes (for a body still being uploaded).
        var clientActivity: NIODeadline
        /// Since when the client does not take the response's bytes.
        var clientBlockedSince: NIODeadline?
        /// The upstream's last progress (head sent, request complete, bytes read).
        var upstreamActivity: NIODeadline
        var readTimeout: TimeAmount
    }

    /// Where the connection is, as far as time goes.
    enum View: Equatable {
        /// Between requests, or part of a head in (`headStartedAt`).
        case waitingForHead(lastActivity: NIODeadline, headStartedAt: NIODeadline?)
        /// Reading a body a plugin needs whole.
        case readingBody(lastActivity: NIODeadline)
        /// Dropping the body of a request the gateway answered.
        case discarding(lastActivity: NIODeadline)
        /// Talking to the upstream.
        case exchanging(ExchangeTimes)
        /// Nothing to time here: the access phase waits for a store with its own timeout, a
        /// connect has the connector's; a closed connection has nothing left.
        case untimed
    }

    func deadline(_ view: View) -> Deadline? {
        switch view {
        case .waitingForHead(let last, let started):
            let idle = Deadline(at: last + clientTimeout, expiry: .idle)
            guard let started else { return idle }
            let header = Deadline(at: started + headerTimeout, expiry: .headerTimeout)
            return header.at <= idle.at ? header : idle
        case .readingBody(let last):
            return Deadline(at: last + clientTimeout, expiry: .clientBodyTimeout)
        case .discarding(let last):
            return Deadline(at: last + clientTimeout, expiry: .discardTimeout)
        case .exchanging(let times):
            if let blocked = times.writeBlockedSince {
                return Deadline(at: blocked + times.writeTimeout, expiry: .upstreamWriteTimeout)
            }
            // Uploading: the client must keep sending (nginx client_body_timeout).
            if !times.requestComplete { return Deadline(at: times.clientActivity + clientTimeout, expiry: .clientBodyTimeout) }
            // Downloading to a client that does not read (nginx send_timeout).
            if let blocked = times.clientBlockedSince { return Deadline(at: blocked + clientTimeout, expiry: .sendTimeout) }
            return Deadline(at: times.upstreamActivity + times.readTimeout, expiry: .upstreamReadTimeout)
        case .untimed:
            return nil
        }
    }

    /// What expired at `now`, if anything, and otherwise when to look again.
    func evaluate(_ view: View, now: NIODeadline) -> (expired: Expiry?, next: NIODeadline?) {
        guard let deadline = deadline(view) else { return (nil, nil) }
        if now >= deadline.at { return (deadline.expiry, nil) }
        return (nil, deadline.at)
    }
}
