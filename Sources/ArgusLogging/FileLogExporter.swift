import ArgusConfig
import ArgusEvents
import ArgusStatistics
import Logging
import NIOConcurrencyHelpers
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The `file-log` plugin's files: every record ``LogExporter`` routes to an instance is appended
/// as one JSON line to the instance's `path`.
///
/// Records are queued by ``append(_:plugin:)`` and written by ``flush()`` (after every batch of
/// events), one `write` per file per batch, from the exporter's task: never on an event loop,
/// never a partial line. A failed write keeps its lines for the next batch (up to
/// `maxPendingBytes` per file; past that new records are dropped and counted). Rotation: see
/// ``LogFile``; SIGUSR1 (``reopenAll()``) forces the check at once.
public final class FileLogExporter: ReportsStatistics {
    private let logger: Logger
    /// Pending bytes per file beyond which new records are dropped (and counted).
    public let maxPendingBytes: Int
    private let state = NIOLockedValueBox(State())
    private let forceReopen = Atomic<Bool>(false)

    struct Instance: Sendable {
        var path: String
        var reopen: Bool
        var rotateMaxBytes: Int?
        var rotateKeep: Int

        init(_ plugin: Plugin) {
            path = plugin.config["path"]?.stringValue ?? ""
            reopen = plugin.config["reopen"]?.boolValue ?? false
            rotateMaxBytes = plugin.config["rotate_max_bytes"]?.intValue
            rotateKeep = plugin.config["rotate_keep"]?.intValue ?? 5
        }
    }

    struct Counters: Sendable {
        var written: UInt64 = 0
        var dropped: UInt64 = 0
        var withoutDetail: UInt64 = 0
        var writeErrors: UInt64 = 0
    }

    struct Pending: Sendable {
        var bytes: [UInt8] = []
        var records = 0
        var instance: Instance
    }

    struct State: Sendable {
        var pending: [String: Pending] = [:]
        var counters: [String: Counters] = [:]
    }

    public init(maxPendingBytes: Int = 64 << 20, logger: Logger) {
        self.maxPendingBytes = maxPendingBytes
        self.logger = logger
    }

    /// Queues `lines` (`records` JSON objects, each ending in a newline) for the file of a
    /// `file-log` instance. `withoutDetail`: how many were built from the event alone.
    func append(lines: [UInt8], records: Int, instance: Instance, withoutDetail: Int) {
        state.withLockedValue { state in
            if withoutDetail > 0 { state.counters[instance.path, default: Counters()].withoutDetail += UInt64(withoutDetail) }
            var pending = state.pending.removeValue(forKey: instance.path) ?? Pending(instance: instance)
            if pending.bytes.count >= maxPendingBytes {
                state.counters[instance.path, default: Counters()].dropped += UInt64(records)
            } else {
                if pending.bytes.isEmpty { pending.bytes = lines } else { pending.bytes += lines }
                pending.records += records
                pending.instance = instance
            }
            state.pending[instance.path] = pending
        }
    }

    /// Files by path; touched only from the runner's task (afterBatch/finish).
    private let files = NIOLockedValueBox<[String: LogFile]>([:])

    /// Writes what is queued.
    func flush() {
        write()
    }

    func finish() {
        write()
        files.withLockedValue { files in
            for file in files.values { file.shut() }
            files.removeAll()
        }
    }

    /// Makes every file check for rotation at its next write (SIGUSR1).
    public func reopenAll() {
        forceReopen.store(true, ordering: .releasing)
    }

    private func write() {
        let batches = state.withLockedValue { state -> [String: Pending] in
            let taken = state.pending
            state.pending.removeAll(keepingCapacity: true)
            return taken
        }
        let force = forceReopen.exchange(false, ordering: .acquiringAndReleasing)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nanos = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        var results: [(String, Pending, Int, LogFile.Failure?)] = []
        files.withLockedValue { files in
            for (path, var pending) in batches where !pending.bytes.isEmpty {
                let file = files[path] ?? LogFile(path: path)
                files[path] = file
                file.checkRotation(now: nanos, force: force || pending.instance.reopen)
                file.rotateIfNeeded(adding: pending.bytes.count, maxBytes: pending.instance.rotateMaxBytes, keep: pending.instance.rotateKeep)
                let records = pending.records
                do {
                    try file.append(&pending.bytes)
                    results.append((path, pending, records, nil))
                } catch {
                    results.append((path, pending, records, (error as? LogFile.Failure) ?? LogFile.Failure(operation: "write \(path)", code: EIO)))
                }
            }
        }
        state.withLockedValue { state in
            for (path, pending, records, failure) in results {
                if let failure {
                    state.counters[path, default: Counters()].writeErrors += 1
                    logger.error("file-log: cannot write, keeping the lines for the next try", metadata: ["error": "\(failure)"])
                    // Keep what was not written in front of what arrived meanwhile.
                    var merged = pending
                    if let newer = state.pending[path] {
                        merged.bytes += newer.bytes
                        merged.records += newer.records
                    }
                    state.pending[path] = merged
                } else {
                    state.counters[path, default: Counters()].written += UInt64(records)
                }
            }
        }
    }

    public func statistics() -> [ExporterStatistic] {
        let counters = state.withLockedValue { state in
            state.counters.map { ($0.key, $0.value, state.pending[$0.key]?.bytes.count ?? 0) }
        }.sorted { $0.0 < $1.0 }
        var out: [ExporterStatistic] = []
        for (path, c, pending) in counters {
            let labels = [ExporterStatistic.Label("sink", "file-log"), .init("instance", path), .init("destination", path)]
            func counter(_ outcome: String, _ value: UInt64) {
                out.append(.init(family: "argus_log_records_total", kind: .counter, help: "Log records by sink and outcome",
                                 labels: labels + [.init("outcome", outcome)], value: Double(value)))
            }
            counter("written", c.written)
            counter("dropped", c.dropped)
            counter("without_detail", c.withoutDetail)
            out.append(.init(family: "argus_log_write_errors_total", kind: .counter, help: "Failed writes to a log destination",
                             labels: labels, value: Double(c.writeErrors)))
            out.append(.init(family: "argus_log_queue_bytes", kind: .gauge, help: "Bytes of log records waiting to be written",
                             labels: labels, value: Double(pending)))
        }
        return out
    }
}
