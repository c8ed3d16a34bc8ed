import ArgusConfig
import ArgusRedis
import NIOCore

/// One `response-ratelimiting` instance, compiled for a config snapshot: its named limits, the
/// upstream header that spends them, whom it counts (`limit_by`), where (`local`, `redis`), and
/// Kong's counter keys.
///
/// Kong's flow, which the data path follows: the access phase reads each limit's usage (and with
/// `block_on_first_violation` refuses a request when one is spent); the upstream's response
/// names what it spent (`X-Kong-Limit: video=1, image=2`), which sets the `X-RateLimit-*`
/// headers and, for a limit already spent, turns the response into a 429; the increments are
/// counted after the response (here: by ``ResponseLimitCounter``, a consumer of the event ring).
public final class ResponseRateLimitPlan: Sendable {
    public struct Limit: Sendable {
        public let name: String
        /// The configured windows, shortest first.
        public let windows: [(period: RateLimitPeriod, limit: Int64)]
        /// `X-RateLimit-Remaining-<name>: `, and per window the whole
        /// `X-RateLimit-Limit-<name>-<period>: <limit>\r\n` line and
        /// `X-RateLimit-Remaining-<name>-<period>: `, as bytes made once per snapshot.
        let remainingHeader: [UInt8]
        let windowHeaders: [(limitLine: [UInt8], remaining: [UInt8])]

        init(name: String, windows: [(period: RateLimitPeriod, limit: Int64)]) {
            self.name = name
            self.windows = windows
            remainingHeader = Array("X-RateLimit-Remaining-\(name): ".utf8)
            windowHeaders = windows.map {
                (Array("X-RateLimit-Limit-\(name)-\($0.period.name): \($0.limit)\r\n".utf8),
                 Array("X-RateLimit-Remaining-\(name)-\($0.period.name): ".utf8))
            }
        }
    }

    /// By name, in name order (Kong iterates a Lua table; an order is chosen here).
    public let limits: [Limit]
    /// `header_name`, lower-cased.
    public let headerName: String
    /// What the client's response head leaves out: `header_name`.
    public let dropped: [String]
    public let limitBy: RateLimitSettings.LimitBy
    public let policy: RateLimitSettings.Policy
    public let faultTolerant: Bool
    public let blockOnFirstViolation: Bool
    public let hideClientHeaders: Bool
    public let redis: RedisEndpoint?
    /// The instance's index in `config.plugins`.
    public let pluginIndex: Int16
    /// Kong's counter scope: `<route id>:<service id>` (the null UUID for a missing one).
    public let scope: String

    public init(plugin: Plugin, index: Int) {
        let settings = RateLimitSettings(config: plugin.config)
        var limits: [Limit] = []
        if case .object(let fields)? = plugin.config["limits"] {
            for name in fields.keys.sorted() {
                var windows: [(RateLimitPeriod, Int64)] = []
                for period in RateLimitPeriod.allCases {
                    if let value = fields[name]?[period.name]?.doubleValue, value > 0 {
                        windows.append((period, Int64(min(value.rounded(.up), 9e15))))
                    }
                }
                limits.append(Limit(name: name, windows: windows))
            }
        }
        self.limits = limits
        headerName = (plugin.config["header_name"]?.stringValue ?? "x-kong-limit").lowercased()
        dropped = [headerName]
        limitBy = settings.limitBy
        policy = settings.policy
        faultTolerant = settings.faultTolerant
        blockOnFirstViolation = plugin.config["block_on_first_violation"]?.boolValue ?? false
        hideClientHeaders = settings.hideClientHeaders
        redis = settings.redis
        pluginIndex = Int16(clamping: index)
        scope = (plugin.routeID ?? RateLimitPlan.nullUUID) + ":" + (plugin.serviceID ?? RateLimitPlan.nullUUID)
    }

    /// Kong's identifier: the consumer (or its credential), the credential, or the client's
    /// address, which is also what any unresolved choice falls back to.
    public func identifier(consumerID: String?, credentialID: String?, clientIP: String) -> String {
        switch limitBy {
        case .consumer: return consumerID ?? credentialID ?? clientIP
        case .credential: return credentialID ?? clientIP
        default: return clientIP
        }
    }

    /// Kong's key of one window of one limit:
    /// `response-ratelimit:<route>:<service>:<identifier>:<window start ms>:<name>:<period>`.
    public func key(identifier: String, limit: Int, period: RateLimitPeriod, nowMs: Int64) -> String {
        "response-ratelimit:\(scope):\(identifier):\(period.windowStart(ms: nowMs)):\(limits[limit].name):\(period.name)"
    }

    /// Every window's key, limit by limit (the order of ``Usage/remaining``).
    public func keys(identifier: String, nowMs: Int64) -> [String] {
        limits.indices.flatMap { i in limits[i].windows.map { key(identifier: identifier, limit: i, period: $0.period, nowMs: nowMs) } }
    }

    /// What the access phase read: each window's quota left (limit minus what was spent), in the
    /// order of ``keys(identifier:nowMs:)``.
    public struct Usage: Sendable {
        public var remaining: [Int64]

        public init(remaining: [Int64]) { self.remaining = remaining }
    }

    /// The usage from the spent counts (in the order of ``keys(identifier:nowMs:)``).
    public func usage(spent: [Int64]) -> Usage {
        var remaining: [Int64] = []
        var k = 0
        for limit in limits {
            for window in limit.windows {
                remaining.append(window.limit - (k < spent.count ? spent[k] : 0))
                k += 1
            }
        }
        return Usage(remaining: remaining)
    }

    /// The limit that refuses the request under `block_on_first_violation` (one of its windows has
    /// nothing left), nil when it goes on.
    public func refusal(_ usage: Usage) -> String? {
        guard blockOnFirstViolation else { return nil }
        var k = 0
        for limit in limits {
            for _ in limit.windows {
                if usage.remaining[k] <= 0 { return limit.name }
                k += 1
            }
        }
        return nil
    }

    /// The access phase's header lines (`X-RateLimit-Remaining-<name>`: the least left of its
    /// windows, sent whatever `hide_client_headers` says, as Kong does), written into `out`.
    public func writeAccessHeaders(_ usage: Usage, into out: inout ByteBuffer) {
        var k = 0
        for limit in limits where !limit.windows.isEmpty {
            var least = Int64.max
            for _ in limit.windows {
                least = min(least, usage.remaining[k])
                k += 1
            }
            out.writeBytes(limit.remainingHeader)
            Self.writeDecimal(least, into: &out)
        }
    }

    /// The increments the upstream's header names (Kong's `parse_header`: `name=n` items separated
    /// by commas, names of configured limits only, values Lua's `tonumber`), by limit index.
    public func increments(_ header: String?) -> [(limit: Int, value: Int64)] {
        guard let header else { return [] }
        var out: [(Int, Int64)] = []
        for item in header.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingSpaces
            guard let index = limits.firstIndex(where: { $0.name == name }) else { continue }
            guard let number = Double(parts[1].trimmingSpaces), number.isFinite else {
                out.removeAll { $0.0 == index }  // Kong's `tonumber` gives nil: the limit has no increment
                continue
            }
            let value = Int64(max(min(number, 9e15), -9e15))
            if let k = out.firstIndex(where: { $0.0 == index }) { out[k].1 = value } else { out.append((index, value)) }
        }
        return out
    }

    /// The response's part (Kong's header_filter): `X-RateLimit-Limit-<name>-<period>` and
    /// `X-RateLimit-Remaining-<name>-<period>` (what is left after this response's spending)
    /// unless `hide_client_headers`, written into `out`; returns whether the response is refused
    /// (a limit it spends was already spent).
    public func writeResponseHeaders(_ usage: Usage, increments: [(limit: Int, value: Int64)], into out: inout ByteBuffer) -> Bool {
        var stop = false
        var k = 0
        for (i, limit) in limits.enumerated() {
            let spent = increments.first { $0.limit == i }?.value ?? 0
            for header in limit.windowHeaders {
                let remaining = usage.remaining[k]
                if !hideClientHeaders {
                    out.writeBytes(header.limitLine)
                    out.writeBytes(header.remaining)
                    Self.writeDecimal(max(0, remaining - spent), into: &out)
                }
                if spent > 0, remaining <= 0 { stop = true }
                k += 1
            }
        }
        return stop
    }

    /// An integer's digits and the line's end.
    static func writeDecimal(_ value: Int64, into out: inout ByteBuffer) {
        if value < 0 { out.writeInteger(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = 0
            repeat {
                digits[19 - n] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[(20 - n)...]))
        }
        out.writeStaticString("\r\n")
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (Kong's `strip`).
    var trimmingSpaces: String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
