/// Kong's address parsing (`kong/tools/ip.lua`: `hostname_type`, `normalize_ipv4`,
/// `normalize_ipv6`, `check_hostname`, `normalize_ip`, `format_host`), with its error texts.
enum HostRules {
    enum Kind: Sendable, Equatable { case ipv4, ipv6, name }

    struct Parsed: Sendable, Equatable {
        var kind: Kind
        /// Normalised: IPv4 without leading zeros, IPv6 fully expanded without brackets, names as given.
        var host: String
        var port: Int?
    }

    static let invalidPort = "invalid port number"

    /// Type by exclusion, not validation: more than one colon is IPv6, digits and dots IPv4.
    static func kind(of address: String) -> Kind {
        if address.filter({ $0 == ":" }).count > 1 { return .ipv6 }
        let remainder = address.filter { $0 != ":" }
        if !remainder.isEmpty, remainder.allSatisfy({ $0 == "." || $0.isASCIIDigit }) { return .ipv4 }
        return .name
    }

    /// Parses and validates `ipv4[:port]`, `ipv6`, `[ipv6][:port]` or `name[:port]`.
    static func normalize(_ address: String) -> Result<Parsed, HostError> {
        let kind = kind(of: address)
        let result: Result<(String, Int?), HostError>
        switch kind {
        case .ipv4: result = normalizeIPv4(address)
        case .ipv6: result = normalizeIPv6(address)
        case .name: result = checkHostname(address)
        }
        return result.map { Parsed(kind: kind, host: $0.0, port: $0.1) }
    }

    /// `host:port`, IPv6 in brackets, `defaultPort` when the address had none.
    static func format(_ parsed: Parsed, defaultPort: Int) -> String {
        let port = parsed.port ?? defaultPort
        return parsed.kind == .ipv6 ? "[\(parsed.host)]:\(port)" : "\(parsed.host):\(port)"
    }

    struct HostError: Error, Sendable, Equatable {
        var message: String
        var isPortError: Bool { message == HostRules.invalidPort }
    }

    private static func port(_ digits: Substring) -> Result<Int, HostError> {
        guard let value = Int(digits), value <= 65535 else { return .failure(HostError(message: invalidPort)) }
        return .success(value)
    }

    static func normalizeIPv4(_ address: String) -> Result<(String, Int?), HostError> {
        let invalid = HostError(message: "invalid ipv4 address: \(address)")
        var addressPart = Substring(address)
        var portValue: Int?
        if let colon = address.firstIndex(of: ":") {
            addressPart = address[..<colon]
            let digits = address[address.index(after: colon)...]
            guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return .failure(invalid) }
            switch port(digits) {
            case .success(let p): portValue = p
            case .failure(let e):
                guard octets(addressPart) != nil else { return .failure(invalid) }
                return .failure(e)
            }
        }
        guard let octets = octets(addressPart) else { return .failure(invalid) }
        return .success((octets.map(String.init).joined(separator: "."), portValue))
    }

    private static func octets(_ text: Substring) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var values: [Int] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit), let v = Int(part), v <= 255 else { return nil }
            values.append(v)
        }
        return values
    }

    static func normalizeIPv6(_ address: String) -> Result<(String, Int?), HostError> {
        var check = Substring(address)
        var portValue: Int?
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            check = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            if !rest.isEmpty {
                let digits = rest.dropFirst()
                guard rest.first == ":", !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else {
                    return .failure(HostError(message: "invalid ipv6 address"))
                }
                switch port(digits) {
                case .success(let p): portValue = p
                case .failure(let e): return .failure(e)
                }
            }
        }
        guard let groups = expandIPv6(String(check)) else {
            return .failure(HostError(message: "invalid ipv6 address: \(address)"))
        }
        return .success((groups.joined(separator: ":"), portValue))
    }

    /// Eight lower-case four-digit hex groups, or nil.
    static func expandIPv6(_ text: String) -> [String]? {
        var check = text
        if check.hasPrefix(":") { check = "0" + check }
        if check.hasSuffix(":") { check += "0" }
        let halves = check.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        if halves.count == 2 {
            let colons = check.filter { $0 == ":" }.count
            guard colons <= 8 else { return nil }
            check = halves[0] + ":" + String(repeating: "0:", count: 8 - colons) + halves[1]
        }
        let groups = check.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 8 else { return nil }
        var out: [String] = []
        for group in groups {
            guard (1...4).contains(group.count), group.allSatisfy(\.isHexDigit), group.allSatisfy(\.isASCII) else { return nil }
            out.append(String(repeating: "0", count: 4 - group.count) + group.lowercased())
        }
        return out
    }

    static func checkHostname(_ address: String) -> Result<(String, Int?), HostError> {
        var name = Substring(address)
        var portValue: Int?
        if let colon = address.lastIndex(of: ":") {
            let digits = address[address.index(after: colon)...]
            if !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) {
                name = address[..<colon]
                switch port(digits) {
                case .success(let p): portValue = p
                case .failure(let e): return .failure(e)
                }
            }
        }
        let invalid = HostError(message: "invalid hostname: \(address)")
        guard !name.isEmpty, name.allSatisfy({ $0.isASCIILetterOrDigit || $0 == "-" || $0 == "." || $0 == "_" }) else {
            return .failure(invalid)
        }
        let segments = name.split(separator: ".", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            if segment.hasSuffix("-") || (segment.isEmpty && index != segments.count - 1) { return .failure(invalid) }
        }
        return .success((String(name), portValue))
    }

    /// typedefs.host: a hostname or IP without port.
    static func validateHost(_ host: String) -> String? {
        switch normalize(host) {
        case .failure(let e) where !e.isPortError: return "invalid value: \(host)"
        case .failure: return "must not have a port"
        case .success(let p): return p.port != nil ? "must not have a port" : nil
        }
    }

    /// typedefs.host_with_optional_port.
    static func validateHostWithOptionalPort(_ host: String) -> String? {
        if case .failure(let e) = normalize(host) { return e.message }
        return nil
    }

    /// typedefs.sni: a hostname, no IP, no port.
    static func validateSNI(_ host: String) -> String? {
        switch normalize(host) {
        case .failure(let e) where !e.isPortError: return "invalid value: \(host)"
        case .failure: return "must not have a port"
        case .success(let p):
            if p.kind != .name { return "must not be an IP" }
            return p.port != nil ? "must not have a port" : nil
        }
    }

    /// typedefs.ip_or_cidr.
    static func isIPOrCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = parts.first else { return false }
        let isV4 = octets(address) != nil
        let isV6 = !isV4 && address.contains(":") && expandIPv6(String(address)) != nil
        guard isV4 || isV6 else { return false }
        if parts.count == 2 {
            guard let bits = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit), bits >= 0, bits <= (isV4 ? 32 : 128) else {
                return false
            }
        }
        return true
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetterOrDigit: Bool { isASCII && (isLetter || isNumber) }
}
