import ArgusConfig
/// One entry of a route's `hosts`: exact, `*.x.com` (suffix) or `x.*` (prefix), optionally with `:port`.
struct HostEntry: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// `value` is the whole host name.
        case exact
        /// `*.example.com`: `value` is `.example.com`, matched as a suffix (any depth).
        case suffix
        /// `example.*`: `value` is `example.`, matched as a prefix.
        case prefix
    }

    let kind: Kind
    let value: String
    /// The destination port the entry requires, or nil.
    let port: Int?

    /// Parses an entry as Kong's `split_host_port` + wildcard handling do: the text after the first
    /// `:` is a port only when it is a number (otherwise the entry is kept whole); a leading `*`
    /// makes a suffix match, a trailing `*` a prefix match.
    init(_ raw: String) {
        var host = Substring(raw)
        var port: Int?
        if let colon = raw.utf8.firstIndex(of: .colon), let number = Int(raw[raw.index(after: colon)...]) {
            host = raw[..<colon]
            port = number
        }
        if host.utf8.first == .asterisk {
            kind = .suffix
            value = String(host.dropFirst())
        } else if host.utf8.last == .asterisk {
            kind = .prefix
            value = String(host.dropLast())
        } else {
            kind = .exact
            value = String(host)
        }
        self.port = port
    }

    var isWildcard: Bool { kind != .exact }

    /// Byte-wise comparison, as the ATC router (Rust `==`, `starts_with`, `ends_with`).
    func matches(host: String, port requestPort: Int) -> Bool {
        if let port, port != requestPort { return false }
        let hostBytes = host.utf8
        let valueBytes = value.utf8
        switch kind {
        case .exact:
            return hostBytes.elementsEqual(valueBytes)
        case .prefix:
            return hostBytes.starts(with: valueBytes)
        case .suffix:
            guard hostBytes.count >= valueBytes.count else { return false }
            return hostBytes.dropFirst(hostBytes.count - valueBytes.count).elementsEqual(valueBytes)
        }
    }
}

/// Host condition of a route: any entry may match; an empty list matches every host.
struct HostMatcher: Sendable {
    let entries: [HostEntry]

    init(_ hosts: [String]) {
        entries = hosts.map(HostEntry.init)
    }

    func matches(host: String, port: Int) -> Bool {
        entries.isEmpty || entries.contains { $0.matches(host: host, port: port) }
    }
}
