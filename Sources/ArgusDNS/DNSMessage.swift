/// DNS messages (RFC 1035, SRV from RFC 2782): a query for one name and type, and the answers
/// of a response. Parsing is bounds-checked everywhere and follows at most 16 compression
/// pointers per name, so a hostile or broken response is rejected, never trusted.
public enum DNSRecordType: UInt16, Sendable {
    case a = 1
    case cname = 5
    case aaaa = 28
    case srv = 33
}

public struct DNSRecord: Sendable, Equatable {
    public enum Data: Sendable, Equatable {
        case a([UInt8])
        case aaaa([UInt8])
        case cname(String)
        case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
        case other
    }

    public var name: String
    public var ttl: UInt32
    public var data: Data
}

public struct DNSResponse: Sendable {
    public var id: UInt16
    /// 0 no error, 2 server failure, 3 no such name.
    public var rcode: UInt8
    public var answers: [DNSRecord]
    /// Additional records (an SRV answer's targets' addresses, when the server sends them).
    public var additional: [DNSRecord]
}

public enum DNSMessage {
    /// A recursive query for `name` (dotted, no trailing dot needed).
    public static func query(id: UInt16, name: String, type: DNSRecordType) -> [UInt8]? {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63 else { return nil }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        guard out.count <= 12 + 256 else { return nil }
        out += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        return out
    }

    public static func parse(_ bytes: [UInt8]) -> DNSResponse? {
        var reader = Reader(bytes: bytes)
        guard let id = reader.u16(), let flags = reader.u16(), let qd = reader.u16(), let an = reader.u16(),
              let ns = reader.u16(), let ar = reader.u16(), flags & 0x8000 != 0
        else { return nil }
        for _ in 0..<qd {
            guard reader.name() != nil, reader.skip(4) else { return nil }
        }
        var answers: [DNSRecord] = []
        for _ in 0..<an {
            guard let record = reader.record() else { return nil }
            answers.append(record)
        }
        for _ in 0..<ns {
            guard reader.record() != nil else { return nil }
        }
        var additional: [DNSRecord] = []
        for _ in 0..<ar {
            guard let record = reader.record() else { break }
            additional.append(record)
        }
        return DNSResponse(id: id, rcode: UInt8(flags & 0x0F), answers: answers, additional: additional)
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func u8() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func u16() -> UInt16? {
            guard position + 2 <= bytes.count else { return nil }
            defer { position += 2 }
            return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        }

        mutating func u32() -> UInt32? {
            guard let high = u16(), let low = u16() else { return nil }
            return UInt32(high) << 16 | UInt32(low)
        }

        mutating func skip(_ n: Int) -> Bool {
            guard position + n <= bytes.count else { return false }
            position += n
            return true
        }

        /// A domain name at the current position (compression pointers followed, at most 16).
        mutating func name() -> String? {
            var labels: [String] = []
            var cursor = position
            var jumped = false
            var jumps = 0
            while true {
                guard cursor < bytes.count else { return nil }
                let length = Int(bytes[cursor])
                if length == 0 {
                    if !jumped { position = cursor + 1 }
                    return labels.joined(separator: ".")
                }
                if length & 0xC0 == 0xC0 {
                    guard cursor + 1 < bytes.count, jumps < 16 else { return nil }
                    let target = (length & 0x3F) << 8 | Int(bytes[cursor + 1])
                    if !jumped { position = cursor + 2 }
                    jumped = true
                    jumps += 1
                    cursor = target
                    continue
                }
                guard length <= 63, cursor + 1 + length <= bytes.count else { return nil }
                labels.append(String(decoding: bytes[(cursor + 1)...(cursor + length)], as: UTF8.self))
                cursor += 1 + length
            }
        }

        mutating func record() -> DNSRecord? {
            guard let name = name(), let type = u16(), u16() != nil, let ttl = u32(), let length = u16() else { return nil }
            let end = position + Int(length)
            guard end <= bytes.count else { return nil }
            var data = DNSRecord.Data.other
            switch DNSRecordType(rawValue: type) {
            case .a? where length == 4: data = .a(Array(bytes[position..<end]))
            case .aaaa? where length == 16: data = .aaaa(Array(bytes[position..<end]))
            case .cname?:
                var sub = self
                if let target = sub.name() { data = .cname(target) }
            case .srv? where length >= 7:
                var sub = self
                if let priority = sub.u16(), let weight = sub.u16(), let port = sub.u16(), let target = sub.name() {
                    data = .srv(priority: priority, weight: weight, port: port, target: target)
                }
            default:
                break
            }
            position = end
            return DNSRecord(name: name, ttl: ttl, data: data)
        }
    }
}
