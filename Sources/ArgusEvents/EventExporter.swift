/// An independent consumer of the ``EventRing``: the Prometheus aggregator, a log sink, the
/// rate-limit counter store. An ``ExporterRunner`` drains the ring for it, off the event loops.
public protocol EventExporter: AnyObject, Sendable {
    /// The exporter's name: the `exporter` label of `argus_events_dropped_total` and friends.
    var name: String { get }

    /// One batch of events, in publication order per producer, from the runner's thread. Called
    /// while the runner holds its consumer, so keep it short: aggregate, or copy what the slow
    /// work needs and do that work in ``afterBatch()``.
    func receive(_ events: UnsafeBufferPointer<RequestEvent>)

    /// How long the runner may leave events waiting after a partial batch before it drains again
    /// (read after every batch, so it may change). Each wake-up of a runner preempts an event loop
    /// when they share a core, so an exporter whose output is read seconds later (metrics) should
    /// ask for far fewer wake-ups than one whose output someone tails (logs). Default 5 ms.
    var pollInterval: Duration { get }

    /// Called after every batch, outside the ring, on the runner's thread: the place for slow work
    /// (formatting, I/O).
    func afterBatch()

    /// Called once at shutdown, after the last event published before the stop was received.
    func finish() async
}

extension EventExporter {
    public var pollInterval: Duration { .milliseconds(5) }
    public func afterBatch() {}
    public func finish() async {}
}
