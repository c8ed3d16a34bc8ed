/// The series of one metric family: each distinct label set (a small integer key) gets a slot of
/// `stride` counters and its label pairs rendered once, at creation. ``sortedSlots()`` keeps the
/// exposition order (by label text, like Kong) incrementally: new slots are sorted and merged in,
/// so a scrape does not re-sort a hundred thousand series that did not change.
struct SeriesTable<Key: Hashable & Sendable>: Sendable {
    let stride: Int
    private var index: [Key: Int] = [:]
    /// `name="value",...` of each slot, without braces.
    private(set) var labels: [[UInt8]] = []
    /// `stride` cells per slot.
    var cells: [UInt64] = []
    private var order: [Int] = []
    private var pending: [Int] = []

    init(stride: Int = 1) {
        self.stride = stride
    }

    var count: Int { labels.count }

    /// The first cell of `key`'s slot, creating it (with `render()`'s labels) if new.
    @inline(__always)
    mutating func slot(_ key: Key, render: () -> [UInt8]) -> Int {
        if let slot = index[key] { return slot &* stride }
        let slot = labels.count
        index[key] = slot
        labels.append(render())
        cells.append(contentsOf: repeatElement(0, count: stride))
        pending.append(slot)
        return slot &* stride
    }

    /// Slot numbers in label order.
    mutating func sortedSlots() -> [Int] {
        if !pending.isEmpty {
            let labels = self.labels
            let less: (Int, Int) -> Bool = { labels[$0].lexicographicallyPrecedes(labels[$1]) }
            pending.sort(by: less)
            var merged: [Int] = []
            merged.reserveCapacity(order.count + pending.count)
            var i = 0, j = 0
            while i < order.count && j < pending.count {
                if less(pending[j], order[i]) { merged.append(pending[j]); j += 1 } else { merged.append(order[i]); i += 1 }
            }
            merged.append(contentsOf: order[i...])
            merged.append(contentsOf: pending[j...])
            order = merged
            pending.removeAll(keepingCapacity: true)
        }
        return order
    }
}
