import ArgusConfig
import Foundation

/// Kong's `syslog` plugin's choices for one record, and its RFC 5424 frame: the severity by the
/// response's status class, sent only when it is at or above `log_level` (Kong's
/// `send_to_syslog`), with the plugin's facility, the app name `kong` (Kong's sender name), this
/// process's id, and Kong's record as the message.
struct SyslogFraming: Sendable {
    let logLevel: Int
    let successful: Int, clientErrors: Int, serverErrors: Int
    let facility: Int
    let hostname: String
    let processID: Int32
    /// loggly: `[key@41058 tag="…"]` as structured data, seconds in the timestamp, no process id.
    let logglyData: String?

    init(config: JSONValue, hostname: String = ProcessInfo.processInfo.hostName, processID: Int32 = getpid(), loggly: Bool = false) {
        func severity(_ field: String) -> Int { SyslogPluginSchema.code(ofSeverity: config[field]?.stringValue ?? "info") }
        logLevel = severity("log_level")
        successful = severity("successful_severity")
        clientErrors = severity("client_errors_severity")
        serverErrors = severity("server_errors_severity")
        facility = loggly ? 1 : SyslogPluginSchema.code(ofFacility: config["facility"]?.stringValue ?? "user")
        self.hostname = hostname.isEmpty ? "-" : String(hostname.prefix(255).map { $0.isASCII && $0 != " " ? $0 : "-" })
        self.processID = processID
        if loggly {
            let tags = (config["tags"]?.arrayValue ?? [.string("kong")]).compactMap(\.stringValue).map { "tag=\"\($0)\"" }
            logglyData = "[\(config["key"]?.stringValue ?? "")@41058 " + tags.joined(separator: " ") + "]"
        } else {
            logglyData = nil
        }
    }

    /// Kong's `loggly` plugin: the syslog plugin's severities (facility user), its frame
    /// `<PRI>1 TS HOST kong - - [KEY@41058 tag="…"] {record}` (`kong/plugins/loggly/handler.lua`).
    init(loggly config: JSONValue) {
        self.init(config: config, loggly: true)
    }

    /// The severity for a response status, or nil when it is below `log_level` (not sent).
    func severity(forStatus status: Int) -> Int? {
        let severity = status >= 500 ? serverErrors : status >= 400 ? clientErrors : successful
        return severity <= logLevel ? severity : nil
    }

    /// `<PRI>1 TIMESTAMP HOSTNAME kong PROCID - - MSG`.
    func frame(_ record: UnsafeRawBufferPointer, severity: Int, at date: Date) -> [UInt8] {
        var out: [UInt8]
        if let logglyData {
            out = Array("<\(facility * 8 + severity)>1 \(Self.timestamp(date, fraction: false)) \(hostname) kong - - \(logglyData) ".utf8)
        } else {
            out = Array("<\(facility * 8 + severity)>1 \(Self.timestamp(date)) \(hostname) kong \(processID) - - ".utf8)
        }
        out.append(contentsOf: record)
        return out
    }

    static func timestamp(_ date: Date, fraction: Bool = true) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(millis % 1000)
        let digits = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        let whole = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        return fraction ? "\(whole).\(digits)Z" : "\(whole)Z"
    }
}
