/// Memory the log exporter reuses for every record it builds: the JSON writer and the two heads'
/// field tables. `@unchecked Sendable`: used by one thread at a time (the log exporter's, which
/// owns it); handing it to that thread is the only crossing, and nothing in it is locked.
public final class LogScratch: @unchecked Sendable {
    var writer = JSONWriter(capacity: 8192)
    private var spareFields: [[HeadLines.Field]] = []

    public init() {}

    func takeFields() -> [HeadLines.Field] { spareFields.popLast() ?? [] }
    func giveBack(_ fields: [HeadLines.Field]) { spareFields.append(fields) }
}
