import NIOCore

/// The PROXY protocol header a load balancer puts before a connection's bytes (HAProxy's
/// specification, versions 1 and 2; nginx's `listen … proxy_protocol`): the client's address as
/// the balancer saw it. Pure.
public enum ProxyProtocolHeader {
    public enum Result: Equatable {
        /// Not enough bytes yet.
        case needMore
        /// A header of `length` bytes; `source` is the client's address (nil for v1 `UNKNOWN`, a
        /// v2 `LOCAL` command or an address family other than TCP over IPv4/IPv6: the connection's
        /// own peer stands).
        case header(source: (ip: String, port: Int)?, length: Int)
        /// Not a PROXY protocol header: the connection is closed (nginx: "broken header").
        case invalid(String)

        public static func == (a: Result, b: Result) -> Bool {
            switch (a, b) {
            case (.needMore, .needMore): return true
            case (.header(let x, let m), .header(let y, let n)): return m == n && x?.ip == y?.ip && x?.port == y?.port
            case (.invalid(let x), .invalid(let y)): return x == y
            default: return false
            }
        }
    }

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix = Array("PROXY ".utf8)
    /// A v1 line is at most 107 bytes, CRLF included.
    static let v1MaxLength = 107

    public static func parse(_ buffer: ByteBuffer) -> Result {
        let bytes = buffer.readableBytesView
        guard let first = bytes.first else { return .needMore }
        if first == v2Signature[0] {
            for (byte, expected) in zip(bytes, v2Signature) where byte != expected { return .invalid("not a PROXY protocol header") }
            return bytes.count < 16 ? .needMore : parseV2(Array(bytes))
        }
        for (byte, expected) in zip(bytes, v1Prefix) where byte != expected { return .invalid("not a PROXY protocol header") }
        guard let lf = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            return bytes.count >= v1MaxLength ? .invalid("PROXY v1 line too long") : .needMore
        }
        let length = lf - bytes.startIndex + 1
        guard length <= v1MaxLength, length >= 2, bytes[lf - 1] == UInt8(ascii: "\r") else { return .invalid("bad PROXY v1 line") }
        return parseV1(String(decoding: bytes[bytes.startIndex..<(lf - 1)], as: UTF8.self), length: length)
    }

    /// `PROXY TCP4|TCP6 source destination sport dport`, or `PROXY UNKNOWN …`.
    static func parseV1(_ line: String, length: Int) -> Result {
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard words.count >= 2 else { return .invalid("bad PROXY v1 line") }
        if words[1] == "UNKNOWN" { return .header(source: nil, length: length) }
        guard words.count == 6, words[1] == "TCP4" || words[1] == "TCP6", let port = Int(words[4]), (0...65535).contains(port),
              let destinationPort = Int(words[5]), (0...65535).contains(destinationPort),
              (try? SocketAddress(ipAddress: words[2], port: port)) != nil, (try? SocketAddress(ipAddress: words[3], port: 0)) != nil
        else { return .invalid("bad PROXY v1 line") }
        let isV6 = words[2].contains(":")
        guard isV6 == (words[1] == "TCP6") else { return .invalid("bad PROXY v1 address family") }
        return .header(source: (words[2], port), length: length)
    }

    /// The binary header: version and command, family, length, then the addresses.
    static func parseV2(_ bytes: [UInt8]) -> Result {
        let versionCommand = bytes[12], family = bytes[13]
        guard versionCommand >> 4 == 2 else { return .invalid("bad PROXY v2 version") }
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard bytes.count >= 16 + length else { return .needMore }
        switch versionCommand & 0x0F {
        case 0: return .header(source: nil, length: 16 + length)  // LOCAL: the balancer's own connection
        case 1: break
        default: return .invalid("bad PROXY v2 command")
        }
        let body = bytes[16..<(16 + length)]
        switch family {
        case 0x11 where length >= 12:  // TCP over IPv4
            let a = body.startIndex
            let ip = "\(body[a]).\(body[a + 1]).\(body[a + 2]).\(body[a + 3])"
            return .header(source: (ip, Int(body[a + 8]) << 8 | Int(body[a + 9])), length: 16 + length)
        case 0x21 where length >= 36:  // TCP over IPv6
            let a = body.startIndex
            let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(body[a + $0]) << 8 | UInt16(body[a + $0 + 1]), radix: 16) }
            guard let address = try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: 0), let ip = address.ipAddress else {
                return .invalid("bad PROXY v2 address")
            }
            return .header(source: (ip, Int(body[a + 32]) << 8 | Int(body[a + 33])), length: 16 + length)
        case 0x11, 0x21:
            return .invalid("PROXY v2 addresses cut short")
        default:
            return .header(source: nil, length: 16 + length)  // UDP, UNIX, UNSPEC: no TCP client to name
        }
    }
}
