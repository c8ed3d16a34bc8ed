import ArgusConfig

/// The directives of `Cache-Control` header values (RFC 9111 §5.2), as proxy-cache reads them:
/// names lower-cased, a numeric argument kept as a number.
public struct CacheControl: Sendable, Equatable {
    public var directives: [String: String] = [:]

    public init(_ values: [String]) {
        for value in values {
            for part in value.split(separator: ",") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard let rawName = pair.first else { continue }
                let name = rawName.trimmed().lowercased()
                guard !name.isEmpty else { continue }
                var argument = pair.count == 2 ? pair[1].trimmed() : ""
                if argument.count >= 2, argument.hasPrefix("\""), argument.hasSuffix("\"") {
                    argument = String(argument.dropFirst().dropLast())
                }
                directives[name] = argument
            }
        }
    }

    public func has(_ name: String) -> Bool { directives[name] != nil }

    /// A directive's numeric argument (`max-age=60`); nil when absent or not a delta-seconds
    /// (RFC 9111 §1.2.2: digits only; `nan`, `inf`, `1e9` or `0x10` are not ages).
    public func seconds(_ name: String) -> Double? {
        guard let text = directives[name], !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Double(text)
    }

    /// How long a response may be served (RFC 9111 §4.2.1): `s-maxage`, else `max-age`, else
    /// `Expires` minus now; never negative.
    public func freshness(expires: String?, now: Double) -> Double {
        if let age = seconds("s-maxage") ?? seconds("max-age") { return max(age, 0) }
        if let expires, let at = HTTPDateParser.seconds(expires) { return max(at - now, 0) }
        return 0
    }
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `Expires` takes; other forms count as
/// already expired, as RFC 9111 §5.3 says of invalid dates.
enum HTTPDateParser {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func seconds(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let month = months.firstIndex(of: parts[2].lowercased()),
              let year = Int(parts[3])
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3 else { return nil }
        // days from civil (Howard Hinnant)
        let y = month + 1 <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = month + 1
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
    }
}
