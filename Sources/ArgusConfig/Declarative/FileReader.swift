import Foundation

/// Reads a whole file, reporting the operating system's reason on failure.
enum FileReader {
    struct Failure: Error {
        var message: String
    }

    static func contents(of path: String) -> Result<String, Failure> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return .failure(Failure(message: "cannot read file: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(message: "cannot read file: \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(Failure(message: "cannot read file: not valid UTF-8 text"))
        }
        return .success(text)
    }
}
