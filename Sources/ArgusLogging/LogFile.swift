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
        var st = stat()
        fstat(opened, &st)
        fd = opened
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int(st.st_size)
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
        var st = stat()
        if stat(path, &st) != 0 || UInt64(st.st_ino) != inode || UInt64(st.st_dev) != device {
            closeFile()
            reopens += 1
        } else {
            size = Int(st.st_size)  // copytruncate shrinks it under us
        }
    }

    /// Built-in rotation: when the file would pass `maxBytes`, renames path → path.1 → ... →
    /// path.`keep` (the oldest is removed) and starts a new file.
    func rotateIfNeeded(adding count: Int, maxBytes: Int?, keep: Int) {
        guard let maxBytes, fd >= 0, size > 0, size + count > maxBytes else { return }
        closeFile()
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
        var written = 0
        defer {
            size += written
            bytes.removeFirst(written)
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

    func shut() {
        closeFile()
    }
}
