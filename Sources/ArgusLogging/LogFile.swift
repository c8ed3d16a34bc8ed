import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One log file, appended to with `O_APPEND` (so `copytruncate` rotation works) in whole lines.
/// Notices a rename or removal of its path (logrotate's `create` mode) by comparing the path's
/// inode with the open file's, at most once a second or when asked, and reopens. Optional
/// built-in rotation by size.
///
/// `@unchecked Sendable`: its mutable state is only touched while the owning exporter holds the
/// lock of the table the file lives in.
final class LogFile: @unchecked Sendable {
    let path: String
    private var fd: Int32 = -1
    private var device: UInt64 = 0
    private var inode: UInt64 = 0
    private(set) var size = 0
    private var lastCheck: UInt64 = 0
    private(set) var reopens = 0
    /// Recent writes (offset, bytes), newest last, up to `recentLimit` bytes: what a
    /// `copytruncate` may have cut after copying, to be written again.
    private var recent: [(offset: Int, bytes: [UInt8])] = []
    private var recentBytes = 0
    private let recentLimit = 8 << 20
    /// Lines written again after a copytruncate cut them.
    private(set) var recovered = 0

    init(path: String) {
        self.path = path
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// An error number and what was being done.
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var code: Int32
        var description: String { "\(operation): \(String(cString: strerror(code)))" }
    }

    private func open() throws(Failure) {
        let opened = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard opened >= 0 else { throw Failure(operation: "open \(path)", code: errno) }
        fd = opened
        (device, inode) = Self.identity(path) ?? (0, 0)
        size = Int(lseek(opened, 0, SEEK_END))
    }

    /// The (device, inode) a path names now, nil if it does not exist. (FileManager rather than
    /// `stat`: the `stat` struct's fields resolve to different modules in debug and release builds.)
    private static func identity(_ path: String) -> (UInt64, UInt64)? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value,
              let device = (attributes[.systemNumber] as? NSNumber)?.uint64Value else { return nil }
        return (device, inode)
    }

    private func closeFile() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    /// Reopens if the path no longer names the open file (renamed, removed, or replaced).
    /// Checked at most once a second unless `force`.
    func checkRotation(now: UInt64, force: Bool) {
        guard fd >= 0, force || now &- lastCheck >= 1_000_000_000 else { return }
        lastCheck = now
        let now = Self.identity(path)
        if now == nil || now! != (device, inode) {
            closeFile()
            reopens += 1
            recent.removeAll()
            recentBytes = 0
        }
    }

    /// Built-in rotation: when the file would pass `maxBytes`, renames path → path.1 → ... →
    /// path.`keep` (the oldest is removed) and starts a new file.
    func rotateIfNeeded(adding count: Int, maxBytes: Int?, keep: Int) {
        guard let maxBytes, fd >= 0, size > 0, size + count > maxBytes else { return }
        closeFile()
        recent.removeAll()
        recentBytes = 0
        unlink("\(path).\(keep)")
        if keep > 1 {
            for i in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(i)", "\(path).\(i + 1)") }
        }
        rename(path, "\(path).1")
        reopens += 1
    }

    /// Appends `bytes` (whole lines) with as few `write`s as the kernel allows, removing what was
    /// written from `bytes`; on failure what is left stays in `bytes` (to be retried: a line cut by
    /// a failed write is completed by the retry, never written twice).
    func append(_ bytes: inout [UInt8]) throws(Failure) {
        if fd < 0 { try open() }
        recoverFromTruncation()
        var written = 0
        let offset = size
        defer {
            size += written
            if written == bytes.count {
                // All of it (the usual case): the array itself is kept for copytruncate, not a copy.
                remember(offset: offset, bytes)
                bytes = []
            } else {
                remember(offset: offset, Array(bytes.prefix(written)))
                bytes.removeFirst(written)
            }
        }
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + written, raw.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "write \(path)", code: errno)
            }
            written += n
        }
    }

    private func remember(offset: Int, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        recent.append((offset, bytes))
        recentBytes += bytes.count
        while recentBytes > recentLimit, let first = recent.first {
            recentBytes -= first.bytes.count
            recent.removeFirst()
        }
    }

    /// logrotate's `copytruncate` copies the file, then truncates it: lines appended between the
    /// copy and the truncation are in neither file. When the open file turns out shorter than what
    /// was written to it, the copy's size (`path.1`, logrotate's name for it) tells which of the
    /// recent writes it did not get; those lines are written again. (With another name for the
    /// copy, or one compressed at once, the window cannot be recovered.)
    private func recoverFromTruncation() {
        let now = Int(lseek(fd, 0, SEEK_END))
        guard now >= 0, now < size else { return }
        var lost: [UInt8] = []
        if let attributes = try? FileManager.default.attributesOfItem(atPath: "\(path).1"),
           let copied = (attributes[.size] as? NSNumber)?.intValue, copied > 0 {
            for entry in recent where entry.offset + entry.bytes.count > copied {
                var start = max(0, copied - entry.offset)
                if start > 0 && entry.bytes[start - 1] != UInt8(ascii: "\n") {
                    // The copy ends inside this line: it is (partly) there; resume at the next line.
                    while start < entry.bytes.count && entry.bytes[start - 1] != UInt8(ascii: "\n") { start += 1 }
                }
                lost += entry.bytes[start...]
            }
        }
        recent.removeAll()
        recentBytes = 0
        size = now
        guard !lost.isEmpty else { return }
        recovered += lost.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        var written = 0
        while written < lost.count {
            let n = lost.withUnsafeBytes { raw in write(fd, raw.baseAddress! + written, raw.count - written) }
            if n < 0 { if errno == EINTR { continue }; break }
            written += n
        }
        size += written
    }

    func shut() {
        closeFile()
    }
}
