/// The header formats of trace context propagation, by Kong's names.
public enum PropagationFormat: String, Sendable, CaseIterable {
    case w3c
    case b3
    case b3Single = "b3-single"
    case jaeger
    case ot
    case aws
    case gcp
    case datadog

    /// The format's bit in ``RequestDetail/TraceIDs/injected``.
    public var bit: UInt8 { 1 << UInt8(Self.allCases.firstIndex(of: self)!) }
}
