/// Limits of the Prometheus exporter.
///
/// Each label whose values come from traffic or from a large configuration has a budget of
/// distinct values. Past it, a new value is recorded as `__overflow__` and
/// `argus_metrics_label_overflow_total{label}` counts the observations so folded, so a burst of
/// consumers (or a config with a million routes) cannot make the exposition grow without bound.
public struct MetricsSettings: Sendable, Hashable {
    /// Distinct `service` label values.
    public var serviceBudget = 10_000
    /// Distinct `route` label values.
    public var routeBudget = 50_000
    /// Distinct `consumer` label values (only with `per_consumer`).
    public var consumerBudget = 10_000
    /// Distinct `code` label values (the status line's three digits bound it to 900 anyway).
    public var codeBudget = 1_000
    /// Distinct client addresses in `argus_access_rejections_by_client_total` (the first ones
    /// refused; the rest fold into `__overflow__`).
    public var clientBudget = 256

    public init() {}
}
