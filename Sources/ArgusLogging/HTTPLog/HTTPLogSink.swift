import ArgusCompression
import ArgusEvents
import ArgusStatistics
import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// One http-log instance: its queue, its sender, its disk spool.
///
/// Records are queued in memory while the endpoint is healthy. The sender takes up to
/// `max_batch_size` records (waiting up to `max_coalescing_delay` for a full batch) and POSTs one
/// JSON object (batch size 1) or a JSON array. A failure (no connection, a timeout, a status ≥ 300)
/// is retried after `initial_retry_delay`, doubling up to `max_retry_delay`, for as long as it
/// takes: unlike Kong, Argus does not give up after `max_retry_time`. From the first failure on,
/// the memory queue is written to the spool and new records go there too (so a crash during an
/// outage loses at most the batch in flight); the sender replays the spool in order, and when it
/// is empty new records are queued in memory again. A full memory queue (`max_entries`,
/// `max_bytes`) spills to the spool the same way. Records are dropped only when the spool is full
/// (`spool_max_bytes`): each one is counted and the drops are logged.
final class HTTPLogSink: Sendable {
    let id: String
    /// Where and how batches go: the instance's current config (an Admin API change or a reload
    /// replaces it; records already queued go with the new one, they belong to the instance).
    var endpoint: HTTPLogEndpoint { current.withLockedValue { $0 } }
    private let current: NIOLockedValueBox<HTTPLogEndpoint>
    /// For `https://` endpoints (plain `http://` ones go through ``BatchPoster``).
    let client: HTTPClient
    let logger: Logger
    let state: NIOLockedValueBox<State>
    private let spoolDirectory: String
    /// The sender's waits (coalescing, backoff); ``stop(grace:)`` cuts them short.
    private let pause = Nap()

    struct Record: Sendable {
        var bytes: [UInt8]
        var enqueuedAt: UInt64
    }

    struct Counters: Sendable {
        var sent: UInt64 = 0
        var failedBatches: UInt64 = 0
        var retries: UInt64 = 0
        var dropped: UInt64 = 0
        var sendSeconds: Double = 0
        var sends: UInt64 = 0
        /// Connections opened to the endpoint (kept alive between batches).
        var connects: UInt64 = 0
    }

    /// `@unchecked Sendable`: `Spool` (file handles, not Sendable) is used only while the box's
    /// lock is held.
    struct State: @unchecked Sendable {
        var memory: [Record] = []
        var memoryHead = 0
        var memoryBytes = 0
        var spool: Spool?
        var spoolError: String?
        /// New records go to the spool (it holds records older than anything new).
        var spooling = false
        var counters = Counters()
        var stopping = false
        /// When a stopping sender gives up delivering and leaves the rest in the spool.
        var stopDeadline: ContinuousClock.Instant?
        var lastDropLog: UInt64 = 0
        var droppedSinceLog: UInt64 = 0

        var memoryCount: Int { memory.count - memoryHead }
    }

    /// Takes the instance's new config (its spool keeps the size it was opened with).
    func update(_ endpoint: HTTPLogEndpoint) {
        current.withLockedValue { $0 = endpoint }
    }

    init(id: String, endpoint: HTTPLogEndpoint, client: HTTPClient, spoolDirectory: String, logger: Logger) {
        self.id = id
        self.current = NIOLockedValueBox(endpoint)
        self.client = client
        self.logger = logger
        self.spoolDirectory = spoolDirectory
        var initial = State()
        do {
            let spool = try Spool(directory: spoolDirectory, maxBytes: endpoint.spoolMaxBytes)
            if !spool.isEmpty {
                initial.spooling = true
                logger.notice("\(endpoint.sinkName): replaying the spool", metadata: [
                    "endpoint": "\(endpoint.display)", "records": "\(spool.records)", "bytes": "\(spool.bytes)"])
            }
            initial.spool = spool
        } catch {
            initial.spoolError = "\(error)"
            logger.error("\(endpoint.sinkName): no spool, records will be dropped while the endpoint is down", metadata: ["error": "\(error)"])
        }
        state = NIOLockedValueBox(initial)
    }

    static func nowMillis() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return UInt64(t.tv_sec) * 1000 + UInt64(t.tv_nsec) / 1_000_000
    }

    /// Queues records, in order (never blocks on the network).
    func enqueue(_ records: [[UInt8]]) {
        let now = Self.nowMillis()
        // The limits read once (the endpoint is a locked copy: not per record).
        let maxEntries = endpoint.maxEntries
        let maxBytes = endpoint.maxBytes ?? .max
        state.withLockedValue { state in
            var i = 0
            while i < records.count, !state.spooling {
                let bytes = records[i]
                let full = state.memoryCount >= maxEntries || state.memoryBytes + bytes.count > maxBytes
                if full {
                    spillMemory(&state)
                    break
                }
                state.memory.append(Record(bytes: bytes, enqueuedAt: now))
                state.memoryBytes += bytes.count
                i += 1
            }
            if i < records.count { spool(records[i...].lazy.map { ($0, now) }, &state) }
        }
    }

    /// Moves the memory queue, in order, to the spool; from now on new records go there too.
    private func spillMemory(_ state: inout State) {
        state.spooling = true
        let pending = state.memory[state.memoryHead...]
        state.memory.removeAll()
        state.memoryHead = 0
        state.memoryBytes = 0
        spool(pending.lazy.map { ($0.bytes, $0.enqueuedAt) }, &state)
        state.spool?.sync()
    }

    /// Appends records to the spool (one write per segment); those it cannot take are dropped and counted.
    private func spool<C: Collection>(_ records: C, _ state: inout State) where C.Element == ([UInt8], UInt64) {
        var stored = 0
        if let spool = state.spool {
            let result = spool.append(contentsOf: records)
            stored = result.stored
            if let error = result.error { state.spoolError = "\(error)" }
        }
        if stored < records.count { dropped(records.count - stored, &state) }
    }

    /// Counts records the spool could not take, and says so in the log at most once a second.
    private func dropped(_ count: Int, _ state: inout State) {
        state.counters.dropped += UInt64(count)
        state.droppedSinceLog += UInt64(count)
        let now = Self.nowMillis()
        if now - state.lastDropLog >= 1000 {
            logger.error("\(endpoint.sinkName): spool full or unavailable, dropping records", metadata: [
                "endpoint": "\(endpoint.display)", "dropped": "\(state.droppedSinceLog)",
                "spool_max_bytes": "\(endpoint.spoolMaxBytes)", "error": "\(state.spoolError ?? "")"])
            state.lastDropLog = now
            state.droppedSinceLog = 0
        }
    }

    private enum Source { case memory, spool(Spool.Position) }

    private enum Next {
        case batch(records: [Record], source: Source)
        /// A partial batch in memory, younger than `max_coalescing_delay`: look again after this.
        case coalesce(Duration)
        case nothing
    }

    /// The next batch: from memory while not spooling, else from the spool. A partial one from
    /// memory waits (`coalescing`) until the oldest record is `max_coalescing_delay` old; nothing is
    /// copied out until it goes.
    private func nextBatch(coalescing: Bool) -> Next {
        let endpoint = self.endpoint
        return state.withLockedValue { state in
            if state.memoryCount > 0 {
                let n = min(endpoint.maxBatchSize, state.memoryCount)
                if coalescing && n < endpoint.maxBatchSize {
                    let age = Duration.milliseconds(Int64(Self.nowMillis()) - Int64(state.memory[state.memoryHead].enqueuedAt))
                    if age < endpoint.maxCoalescingDelay { return .coalesce(min(endpoint.maxCoalescingDelay - age, .milliseconds(5))) }
                }
                return .batch(records: Array(state.memory[state.memoryHead..<(state.memoryHead + n)]), source: .memory)
            }
            guard let spool = state.spool, !spool.isEmpty else {
                state.spooling = false
                return .nothing
            }
            spool.sync()
            let frames = spool.peek(max: endpoint.maxBatchSize)
            guard let last = frames.last else { return .nothing }
            return .batch(records: frames.map { Record(bytes: $0.record, enqueuedAt: $0.enqueuedAt) }, source: .spool(last.next))
        }
    }

    /// Sends until stopped, on a thread of its own (the sends block on the network, never a
    /// loop's or the concurrency pool's thread). At stop, what is still in memory goes to the spool.
    func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let name = "argus-" + endpoint.sinkName  // argus-http-log, argus-opentelem…
            Thread {
                ThreadName.set(name)
                self.sendLoop()
                done.resume()
            }.start()
        }
    }

    private func sendLoop() {
        var retryDelay = endpoint.initialRetryDelay
        var poster: BatchPoster?
        loop: while true {
            let (stopping, deadline) = state.withLockedValue { ($0.stopping, $0.stopDeadline) }
            if let deadline, ContinuousClock.now >= deadline { break }
            let batch: (records: [Record], source: Source)
            switch nextBatch(coalescing: !stopping) {
            case .nothing:
                if stopping { break loop }
                pause.sleep(for: .milliseconds(5))
                continue
            case .coalesce(let wait):
                pause.sleep(for: wait)
                continue
            case .batch(let records, let source):
                batch = (records, source)
            }
            let started = ContinuousClock.now
            let ok = send(batch.records, over: &poster)
            let elapsed = ContinuousClock.now - started
            if ok {
                retryDelay = endpoint.initialRetryDelay
                state.withLockedValue { state in
                    switch batch.source {
                    case .memory:
                        state.memoryHead += batch.records.count
                        state.memoryBytes -= batch.records.reduce(0) { $0 + $1.bytes.count }
                        if state.memoryHead > 4096 && state.memoryHead * 2 > state.memory.count {
                            state.memory.removeFirst(state.memoryHead)
                            state.memoryHead = 0
                        }
                    case .spool(let next):
                        state.spool?.advance(to: next, count: batch.records.count)
                    }
                    state.counters.sent += UInt64(batch.records.count)
                    state.counters.sends += 1
                    state.counters.sendSeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                }
            } else {
                state.withLockedValue { state in
                    state.counters.failedBatches += 1
                    state.counters.retries += 1
                    if !state.spooling && state.spool != nil { spillMemory(&state) }
                }
                if stopping { break }
                pause.sleep(for: retryDelay)
                retryDelay = min(retryDelay * 2, endpoint.maxRetryDelay)
            }
        }
        state.withLockedValue { state in
            if state.memoryCount > 0 && state.spool != nil { spillMemory(&state) }
            state.spool?.sync()
        }
    }

    /// Asks ``run()`` to finish: it keeps delivering for up to `grace` (no retry after a failure),
    /// then leaves what is left in the spool, where the next start replays it.
    func stop(grace: Duration) {
        state.withLockedValue { state in
            state.stopping = true
            state.stopDeadline = .now + grace
        }
        pause.wake()
    }

    func statistics() -> [ExporterStatistic] {
        let (counters, queued, spoolBytes, spoolRecords, oldest) = state.withLockedValue { state in
            let oldestMemory = state.memoryCount > 0 ? state.memory[state.memoryHead].enqueuedAt : nil
            let oldestSpool = state.spool?.oldestEnqueuedAt
            let oldest = [oldestMemory, oldestSpool].compactMap { $0 }.min()
            return (state.counters, state.memoryCount, state.spool?.bytes ?? 0, state.spool?.records ?? 0, oldest)
        }
        let labels = [ExporterStatistic.Label("sink", endpoint.sinkName), .init("instance", id), .init("destination", endpoint.display)]
        func record(_ outcome: String, _ value: UInt64) -> ExporterStatistic {
            .init(family: "argus_log_records_total", kind: .counter, help: "Log records by sink and outcome",
                  labels: labels + [.init("outcome", outcome)], value: Double(value))
        }
        let age = oldest.map { Double(Self.nowMillis() &- $0) / 1000 } ?? 0
        return [
            record("sent", counters.sent), record("dropped", counters.dropped),
            .init(family: "argus_log_batches_failed_total", kind: .counter, help: "Log batches the endpoint did not accept (each is retried)",
                  labels: labels, value: Double(counters.failedBatches)),
            .init(family: "argus_log_queue_records", kind: .gauge, help: "Log records waiting in memory", labels: labels, value: Double(queued)),
            .init(family: "argus_log_spool_bytes", kind: .gauge, help: "Bytes of log records waiting in the disk spool", labels: labels,
                  value: Double(spoolBytes)),
            .init(family: "argus_log_spool_records", kind: .gauge, help: "Log records waiting in the disk spool", labels: labels,
                  value: Double(spoolRecords)),
            .init(family: "argus_log_oldest_unsent_seconds", kind: .gauge, help: "Age of the oldest log record not yet delivered",
                  labels: labels, value: age),
            .init(family: "argus_log_send_seconds_total", kind: .counter, help: "Time spent sending log batches", labels: labels,
                  value: counters.sendSeconds),
            .init(family: "argus_log_sends_total", kind: .counter, help: "Log batches delivered", labels: labels, value: Double(counters.sends)),
            .init(family: "argus_log_connections_total", kind: .counter, help: "Connections opened to the log endpoint (kept alive between batches)",
                  labels: labels, value: Double(counters.connects)),
        ]
    }
}
