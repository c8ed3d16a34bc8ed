/// The distinct values of one label, interned to small ids so a series key is a few integers.
/// Id 0 is always `""`. Past `budget` distinct values, new ones map to `__overflow__`.
struct LabelValues: Sendable {
    static let overflowValue = "__overflow__"

    let label: String
    let budget: Int
    private var ids: [String: Int32] = ["": 0]
    /// The value of each id, escaped for the exposition (`\`, `"` and newline).
    private(set) var escaped: [[UInt8]] = [[]]
    private var overflowID: Int32?
    /// Observations whose value was folded into `__overflow__`.
    private(set) var folded: UInt64 = 0

    init(label: String, budget: Int) {
        self.label = label
        self.budget = max(1, budget)
    }

    /// The id of `value`; `__overflow__`'s once the budget is spent. Does not count a fold (see ``fold(_:)``).
    mutating func id(_ value: String) -> Int32 {
        if let id = ids[value] { return id }
        if ids.count - 1 >= budget { return overflow() }
        let id = Int32(escaped.count)
        ids[value] = id
        escaped.append(Self.escape(value))
        return id
    }

    /// Counts one observation recorded under `id` if that is the overflow value.
    @inline(__always)
    mutating func fold(_ id: Int32) {
        if id == overflowID { folded &+= 1 }
    }

    private mutating func overflow() -> Int32 {
        if let overflowID { return overflowID }
        let id = Int32(escaped.count)
        escaped.append(Array(Self.overflowValue.utf8))
        overflowID = id
        return id
    }

    /// Number of distinct values admitted (without `""` and `__overflow__`).
    var count: Int { ids.count - 1 }

    static func escape(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            default: out.append(byte)
            }
        }
        return out
    }
}
