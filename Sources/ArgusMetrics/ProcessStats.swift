#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's own resource figures for the standard `process_*` families, read from `/proc`
/// on Linux (nil elsewhere).
struct ProcessStats: Sendable {
    var cpuSeconds: Double
    var residentBytes: Double
    var virtualBytes: Double
    var startTimeSeconds: Double
    var openFDs: Double
    var maxFDs: Double

    static func current() -> ProcessStats? {
        #if os(Linux)
        guard let stat = readFile("/proc/self/stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after the command name, starting with field 3 (state).
        let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        func field(_ n: Int) -> Double { n - 3 < fields.count ? Double(fields[n - 3]) ?? 0 : 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        var bootTime = 0.0
        if let text = readFile("/proc/stat") {
            for line in text.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("btime ".utf8)) {
                bootTime = Double(String(decoding: line.dropFirst(6), as: UTF8.self)) ?? 0
            }
        }
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessStats(
            cpuSeconds: (field(14) + field(15)) / ticks, residentBytes: field(24) * page, virtualBytes: field(23),
            startTimeSeconds: bootTime + field(22) / ticks, openFDs: Double(countOpenFDs()), maxFDs: Double(limit.rlim_cur))
        #else
        return nil
        #endif
    }

    #if os(Linux)
    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[..<n])
        }
        return out
    }

    private static func countOpenFDs() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = entry.pointee.d_name.0
            if name != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)  // the directory stream's own descriptor
    }
    #endif
}
