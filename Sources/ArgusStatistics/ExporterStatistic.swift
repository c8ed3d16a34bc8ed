/// One sample an exporter reports about itself (records written, queue depth, spool bytes, ...),
/// rendered by the Prometheus exporter as `family{labels} value`. Exporters that have such figures
/// conform to ``ReportsStatistics``.
public struct ExporterStatistic: Sendable, Hashable {
    public enum Kind: String, Sendable { case counter, gauge }

    public var family: String
    public var kind: Kind
    public var help: String
    /// Label pairs in order.
    public var labels: [Label]
    public var value: Double

    public struct Label: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public init(family: String, kind: Kind, help: String, labels: [Label] = [], value: Double) {
        self.family = family
        self.kind = kind
        self.help = help
        self.labels = labels
        self.value = value
    }
}

/// An exporter that reports figures about itself.
public protocol ReportsStatistics: Sendable {
    func statistics() -> [ExporterStatistic]
}
