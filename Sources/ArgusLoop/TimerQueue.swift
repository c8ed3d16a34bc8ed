/// The loop's scheduled tasks: a binary min-heap of (deadline, id) with the tasks by id, so that
/// a cancelled task is just removed from the table (its heap entry is skipped when it comes up).
/// Ids grow, so tasks with the same deadline run in the order they were scheduled.
struct TimerQueue {
    /// What a timer does when it comes due: a closure (with what to do instead if it never runs),
    /// or a loop-thread object's ``LoopTimerTarget/loopTimerFired()`` (no closure to allocate).
    enum Action {
        case closure(run: @Sendable () -> Void, fail: @Sendable () -> Void)
        case target(LoopBound<any LoopTimerTarget>)

        func run() {
            switch self {
            case .closure(let run, _): run()
            case .target(let bound): bound.value.loopTimerFired()
            }
        }

        var fail: (@Sendable () -> Void)? {
            if case .closure(_, let fail) = self { return fail }
            return nil
        }
    }

    private struct Entry {
        var deadline: UInt64
        var id: UInt64
        func precedes(_ other: Entry) -> Bool { deadline < other.deadline || (deadline == other.deadline && id < other.id) }
    }

    private var heap: [Entry] = []
    private var tasks: [UInt64: Action] = [:]
    private var nextID: UInt64 = 0

    /// Adds `task` due at `deadline` (monotonic nanoseconds), with what to do instead if it never
    /// runs (`fail`, at shutdown); returns its id.
    mutating func schedule(at deadline: UInt64, _ task: @escaping @Sendable () -> Void, fail: @escaping @Sendable () -> Void) -> UInt64 {
        schedule(at: deadline, .closure(run: task, fail: fail))
    }

    /// Adds `action` due at `deadline`; returns its id.
    mutating func schedule(at deadline: UInt64, _ action: Action) -> UInt64 {
        nextID += 1
        tasks[nextID] = action
        heap.append(Entry(deadline: deadline, id: nextID))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].precedes(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
        return nextID
    }

    /// Removes the task `id`; false if it already ran or was cancelled.
    mutating func cancel(_ id: UInt64) -> Bool {
        tasks.removeValue(forKey: id) != nil
    }

    /// The earliest deadline of a task still waiting, if any.
    mutating func earliestDeadline() -> UInt64? {
        dropCancelledTop()
        return heap.first?.deadline
    }

    /// Takes the earliest task due at `now`, if any.
    mutating func takeNextDue(now: UInt64) -> Action? {
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let task = tasks.removeValue(forKey: top.id) { return task }
        }
        return nil
    }

    /// Takes the `fail` of every task still waiting (at shutdown).
    mutating func takeAll() -> [@Sendable () -> Void] {
        let all = heap.compactMap { tasks[$0.id]?.fail }
        heap.removeAll()
        tasks.removeAll()
        return all
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, tasks[top.id] == nil { popTop() }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var i = 0
        while true {
            let left = 2 * i + 1, right = left + 1
            var smallest = i
            if left < heap.count && heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count && heap[right].precedes(heap[smallest]) { smallest = right }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
