/// An independent consumer of the ``EventRing``: the Prometheus aggregator, a log sink, the
/// rate-limit counter store. An ``ExporterRunner`` drains the ring for it, off the event loops.
public protocol EventExporter: AnyObject, Sendable {
    /// The exporter's name: the `exporter` label of `argus_events_dropped_total` and friends.
    var name: String { get }

    /// One batch of events, in publication order per producer, from the runner's task. Called
    /// while the runner holds its consumer, so keep it short: aggregate, or copy what the slow
    /// work needs and do that work in ``afterBatch()``.
    func receive(_ events: UnsafeBufferPointer<RequestEvent>)

    /// Called after every batch, outside the ring: the place for slow work (formatting, I/O).
    func afterBatch() async

    /// Called once at shutdown, after the last event published before the stop was received.
    func finish() async
}

extension EventExporter {
    public func afterBatch() async {}
    public func finish() async {}
}
