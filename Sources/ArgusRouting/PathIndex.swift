/// The virtual routes of one host bucket, indexed by path.
///
/// Prefix entries live in a hash table keyed by the FNV-1a hash of the prefix bytes; a lookup hashes
/// the request path once, incrementally, and probes the table at each distinct prefix length of the
/// bucket that fits in the path (so its cost depends on the number of distinct lengths, not on the
/// number of routes). Regex and path-less virtual routes are few and scanned linearly. Every list is
/// in rank order (best first) so a search stops at the first entry that cannot beat the best so far.
struct PathIndex: Sendable {
    struct Entry: Sendable {
        /// Index of the virtual route in the router's rank-ordered list: lower is better.
        let route: Int32
        /// The destination port this host entry requires, or -1.
        let port: Int32
        /// The prefix for prefix entries, "" otherwise.
        let prefix: String

        @inline(__always)
        func acceptsPort(_ requestPort: Int) -> Bool {
            port < 0 || Int(port) == requestPort
        }
    }

    /// FNV-1a hash of the prefix → entries with that hash (verified byte by byte on lookup).
    private(set) var prefixTable: [UInt64: [Entry]] = [:]
    /// The distinct prefix lengths of `prefixTable`, ascending.
    private(set) var prefixLengths: [Int] = []
    /// Regex and path-less virtual routes.
    private(set) var others: [Entry] = []

    /// Adds a virtual route. Callers add routes in rank order, which keeps every list sorted.
    mutating func add(route: Int, port: Int?, path: PathCondition) {
        let port = Int32(clamping: port ?? -1)
        switch path {
        case .none, .regexes:
            others.append(Entry(route: Int32(route), port: port, prefix: ""))
        case .prefixes(let prefixes):
            for prefix in prefixes {
                var hash = Self.fnvOffset
                for byte in prefix.utf8 { hash = Self.fnvStep(hash, byte) }
                prefixTable[hash, default: []].append(Entry(route: Int32(route), port: port, prefix: prefix))
                let length = prefix.utf8.count
                let position = prefixLengths.partitioningIndex { $0 >= length }
                if position == prefixLengths.endIndex || prefixLengths[position] != length {
                    prefixLengths.insert(length, at: position)
                }
            }
        }
    }

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    @inline(__always)
    static func fnvStep(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        (hash ^ UInt64(byte)) &* fnvPrime
    }
}

extension Array {
    /// The first index whose element satisfies `belongsInSecondPartition` (the array is partitioned).
    func partitioningIndex(where belongsInSecondPartition: (Element) -> Bool) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if belongsInSecondPartition(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// `bytes` starts with the UTF-8 of `prefix`.
@inline(__always)
func hasBytePrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ prefix: String) -> Bool {
    let prefixBytes = prefix.utf8
    guard prefixBytes.count <= bytes.count else { return false }
    if let equal = prefixBytes.withContiguousStorageIfAvailable({ stored in
        stored.elementsEqual(UnsafeBufferPointer(rebasing: bytes[0..<stored.count]))
    }) {
        return equal
    }
    return prefixBytes.elementsEqual(bytes[0..<prefixBytes.count])
}
