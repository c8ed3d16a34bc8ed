import ArgusConfig
/// The best candidate found so far while matching one request.
struct SearchState {
    static let none = Int32.max

    /// Rank (position in `Router.virtualRoutes`) of the best candidate, `none` if there is none.
    var best: Int32 = SearchState.none
    /// The prefix that matched, when the best candidate is a prefix virtual route.
    var prefix: String?
    /// The regex match, when the best candidate is a regex virtual route.
    var regexMatch: Regex<AnyRegexOutput>.Match?

    mutating func accept(_ rank: Int32, prefix: String?, regexMatch: Regex<AnyRegexOutput>.Match?) {
        best = rank
        self.prefix = prefix
        self.regexMatch = regexMatch
    }
}

extension Router {
    /// Evaluates the candidates of the request's host buckets, keeping the best-ranked match.
    func search(
        _ path: UnsafeBufferPointer<UInt8>, request: RouterRequest, headers: some RouterHeaders, state: inout SearchState
    ) {
        if let bucket = index.exactHosts[request.host] {
            search(bucket, path: path, request: request, headers: headers, checkHosts: false, state: &state)
        }
        search(index.wildcardHosts, path: path, request: request, headers: headers, checkHosts: true, state: &state)
        search(index.anyHost, path: path, request: request, headers: headers, checkHosts: false, state: &state)
    }

    private func search(
        _ bucket: PathIndex, path: UnsafeBufferPointer<UInt8>, request: RouterRequest, headers: some RouterHeaders,
        checkHosts: Bool, state: inout SearchState
    ) {
        let lengths = bucket.prefixLengths
        if !lengths.isEmpty, let shortest = lengths.first, shortest <= path.count {
            var hash = PathIndex.fnvOffset
            var next = 0
            for position in 0..<path.count {
                hash = PathIndex.fnvStep(hash, path[position])
                guard lengths[next] == position + 1 else { continue }
                if let entries = bucket.prefixTable[hash] {
                    for entry in entries {
                        if entry.route >= state.best { break }
                        guard entry.acceptsPort(request.port), hasBytePrefix(path, entry.prefix) else { continue }
                        let virtual = virtualRoutes[Int(entry.route)]
                        if virtual.matchesNonPathFields(request, headers: headers, checkHosts: checkHosts) {
                            state.accept(entry.route, prefix: entry.prefix, regexMatch: nil)
                            break
                        }
                    }
                }
                next += 1
                if next == lengths.count { break }
            }
        }

        for entry in bucket.others {
            if entry.route >= state.best { break }
            guard entry.acceptsPort(request.port) else { continue }
            let virtual = virtualRoutes[Int(entry.route)]
            guard virtual.matchesNonPathFields(request, headers: headers, checkHosts: checkHosts) else { continue }
            switch virtual.path {
            case .none:
                state.accept(entry.route, prefix: nil, regexMatch: nil)
                return
            case .regexes(let regexes):
                for regex in regexes {
                    if let found = regex.firstMatch(in: request.path, bytes: path) {
                        state.accept(entry.route, prefix: nil, regexMatch: found)
                        return
                    }
                }
            case .prefixes:
                continue
            }
        }
    }
}
