#if canImport(Glibc)
import Glibc
#endif

/// The on-disk queue of one http-log instance: records that could not be delivered yet, in order,
/// in segment files under its directory, so that an outage of the log endpoint, or a restart or a
/// crash of Argus during one, loses nothing (within `maxBytes`).
///
/// Files: `NNNNNNNNNNNN.seg` segments of frames `[u32 length][u64 enqueued-at ms][record]`
/// (little-endian), appended with `O_APPEND`; `cursor` holds `segment offset` of the next record
/// to send, replaced atomically (write + rename) after every delivered batch. Delivery is
/// therefore at-least-once: a crash between a delivery and its cursor update resends that batch
/// (records carry the request id, for receivers that deduplicate). A frame cut short by a crash is
/// removed when the spool is opened.
///
/// Not thread-safe: the owning sink uses it under its lock.
final class Spool {
    struct Frame {
        var record: [UInt8]
        var enqueuedAt: UInt64
        /// Where the next frame starts.
        var next: Position
    }

    struct Position: Equatable {
        var segment: UInt64
        var offset: Int
    }

    let directory: String
    let maxBytes: Int
    static let segmentLimit = 4 << 20
    private static let headerBytes = 12

    private var segments: [UInt64] = []
    private var sizes: [UInt64: Int] = [:]
    private var cursor = Position(segment: 0, offset: 0)
    private var writeFD: Int32 = -1
    /// Unsent bytes (frames) and records on disk.
    private(set) var bytes = 0
    private(set) var records = 0
    /// Enqueue time (ms since the epoch) of the oldest unsent record.
    private(set) var oldestEnqueuedAt: UInt64?
    private var cache: (segment: UInt64, data: [UInt8])?

    /// Opens (creating if needed) the spool in `directory` and counts what it holds.
    init(directory: String, maxBytes: Int) throws(LogFile.Failure) {
        self.directory = directory
        self.maxBytes = maxBytes
        try Self.makeDirectories(directory)
        guard let dir = opendir(directory) else { throw LogFile.Failure(operation: "open \(directory)", code: errno) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasSuffix(".seg"), let seq = UInt64(name.dropLast(4)) { segments.append(seq) }
        }
        closedir(dir)
        segments.sort()
        if let text = Self.readAll(directory + "/cursor").map({ String(decoding: $0, as: UTF8.self) }) {
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if parts.count == 2, let s = UInt64(parts[0]), let o = Int(parts[1]) { cursor = Position(segment: s, offset: o) }
        }
        // Segments wholly before the cursor were delivered.
        for seq in segments where seq < cursor.segment { unlink(path(seq)) }
        segments.removeAll { $0 < cursor.segment }
        if segments.first != cursor.segment { cursor = Position(segment: segments.first ?? 1, offset: 0) }
        // Count what is left; cut a torn last frame.
        for seq in segments {
            let data = Self.readAll(path(seq)) ?? []
            var offset = seq == cursor.segment ? min(cursor.offset, data.count) : 0
            var valid = offset
            while let frame = Self.frame(in: data, at: offset) {
                if oldestEnqueuedAt == nil { oldestEnqueuedAt = frame.enqueuedAt }
                records += 1
                bytes += frame.length + Self.headerBytes
                offset += frame.length + Self.headerBytes
                valid = offset
            }
            if valid < data.count { truncate(path(seq), off_t(valid)) }
            sizes[seq] = valid
        }
    }

    deinit {
        if writeFD >= 0 { _ = Glibc.close(writeFD) }
    }

    var isEmpty: Bool { records == 0 }

    private func path(_ seq: UInt64) -> String {
        let digits = String(seq)
        return directory + "/" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".seg"
    }

    /// Appends records in order, with one `write` per segment they go to. A record that would take
    /// the spool past `maxBytes` is skipped; after a failed write (nothing of it is left behind)
    /// the rest are not tried. Says how many were stored, and the failure if there was one.
    func append<C: Collection>(contentsOf batch: C) -> (stored: Int, error: LogFile.Failure?)
    where C.Element == ([UInt8], UInt64) {
        var stored = 0
        var staged: [UInt8] = []
        var stagedRecords = 0
        var stagedOldest: UInt64?
        do {
            for (record, enqueuedAt) in batch {
                let frameBytes = record.count + Self.headerBytes
                guard bytes + staged.count + frameBytes <= maxBytes else { continue }
                if writeFD < 0 || (sizes[segments.last ?? 0] ?? 0) + staged.count >= Self.segmentLimit {
                    stored += try writeStaged(&staged, records: &stagedRecords, oldest: &stagedOldest)
                    try openSegment()
                }
                withUnsafeBytes(of: UInt32(record.count).littleEndian) { staged.append(contentsOf: $0) }
                withUnsafeBytes(of: enqueuedAt.littleEndian) { staged.append(contentsOf: $0) }
                staged.append(contentsOf: record)
                stagedRecords += 1
                if stagedOldest == nil { stagedOldest = enqueuedAt }
            }
            stored += try writeStaged(&staged, records: &stagedRecords, oldest: &stagedOldest)
            return (stored, nil)
        } catch {
            return (stored, error)
        }
    }

    /// Opens the segment new frames go to: the last one while it has room, else a new one.
    private func openSegment() throws(LogFile.Failure) {
        if writeFD >= 0 {
            _ = fsync(writeFD)
            _ = Glibc.close(writeFD)
            writeFD = -1
        }
        let seq: UInt64
        if let last = segments.last, (sizes[last] ?? 0) < Self.segmentLimit {
            seq = last
        } else {
            seq = max((segments.last ?? 0) + 1, cursor.segment)
            segments.append(seq)
            sizes[seq] = 0
        }
        writeFD = open(path(seq), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard writeFD >= 0 else { throw LogFile.Failure(operation: "open \(path(seq))", code: errno) }
    }

    /// Writes staged frames to the open segment and counts them.
    private func writeStaged(_ staged: inout [UInt8], records: inout Int, oldest: inout UInt64?) throws(LogFile.Failure) -> Int {
        guard !staged.isEmpty else { return 0 }
        let count = records
        defer {
            staged.removeAll(keepingCapacity: true)
            records = 0
            oldest = nil
        }
        let seq = segments.last!
        var written = 0
        while written < staged.count {
            let n = staged.withUnsafeBytes { write(writeFD, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                // Leave no partial frame behind.
                ftruncate(writeFD, off_t(sizes[seq] ?? 0))
                throw LogFile.Failure(operation: "write \(path(seq))", code: code)
            }
            written += n
        }
        sizes[seq, default: 0] += staged.count
        bytes += staged.count
        self.records += records
        if oldestEnqueuedAt == nil { oldestEnqueuedAt = oldest }
        return count
    }

    /// Makes appended records durable (called once per batch of appends).
    func sync() {
        if writeFD >= 0 { _ = fsync(writeFD) }
    }

    /// Up to `max` records from the cursor on, without consuming them.
    func peek(max: Int) -> [Frame] {
        var out: [Frame] = []
        var position = cursor
        while out.count < max, let index = segments.firstIndex(of: position.segment) {
            let data = segmentData(position.segment)
            if let f = Self.frame(in: data, at: position.offset) {
                let next = Position(segment: position.segment, offset: position.offset + f.length + Self.headerBytes)
                out.append(Frame(record: Array(data[(position.offset + Self.headerBytes)..<next.offset]), enqueuedAt: f.enqueuedAt, next: next))
                position = next
            } else if index + 1 < segments.count {
                position = Position(segment: segments[index + 1], offset: 0)
            } else {
                break
            }
        }
        return out
    }

    /// Marks everything before `position` (a ``Frame/next`` from ``peek(max:)``) as delivered:
    /// `count` records. Finished segments are deleted; the cursor is saved.
    func advance(to position: Position, count: Int) {
        var freed = 0
        for seq in segments where seq < position.segment {
            freed += (sizes[seq] ?? 0) - (seq == cursor.segment ? cursor.offset : 0)
            unlink(path(seq))
            sizes[seq] = nil
            if cache?.segment == seq { cache = nil }
        }
        freed += position.offset - (position.segment == cursor.segment ? cursor.offset : 0)
        segments.removeAll { $0 < position.segment }
        cursor = position
        bytes -= freed
        records -= count
        if records <= 0 {
            records = 0
            bytes = 0
        }
        // The oldest unsent record's time: read from the next frame.
        oldestEnqueuedAt = peek(max: 1).first?.enqueuedAt
        saveCursor()
    }

    private func saveCursor() {
        let text = Array("\(cursor.segment) \(cursor.offset)\n".utf8)
        let temporary = directory + "/cursor.tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        _ = fsync(fd)
        _ = Glibc.close(fd)
        rename(temporary, directory + "/cursor")
    }

    private func segmentData(_ seq: UInt64) -> [UInt8] {
        let size = sizes[seq] ?? 0
        if let cache, cache.segment == seq, cache.data.count >= size { return cache.data }
        let data = Self.readAll(path(seq)) ?? []
        cache = (seq, data)
        return data
    }

    private static func frame(in data: [UInt8], at offset: Int) -> (length: Int, enqueuedAt: UInt64)? {
        guard offset + headerBytes <= data.count else { return nil }
        var length: UInt32 = 0, enqueued: UInt64 = 0
        for i in 0..<4 { length |= UInt32(data[offset + i]) << (8 * UInt32(i)) }
        for i in 0..<8 { enqueued |= UInt64(data[offset + 4 + i]) << (8 * UInt64(i)) }
        guard offset + headerBytes + Int(length) <= data.count else { return nil }
        return (Int(length), enqueued)
    }

    static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[..<n])
        }
        return out
    }

    private static func makeDirectories(_ path: String) throws(LogFile.Failure) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw LogFile.Failure(operation: "mkdir \(current)", code: errno)
            }
        }
    }
}
