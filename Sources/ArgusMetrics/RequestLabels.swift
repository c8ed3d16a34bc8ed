/// The label dimensions of the request families, each with its budget.
struct RequestLabels: Sendable {
    var services: LabelValues
    var routes: LabelValues
    var consumers: LabelValues
    var codes: LabelValues
    /// Status code → interned `code` label (-1 until seen).
    private var codeIDs = [Int32](repeating: -1, count: 1000)

    init(settings: MetricsSettings) {
        services = LabelValues(label: "service", budget: settings.serviceBudget)
        routes = LabelValues(label: "route", budget: settings.routeBudget)
        consumers = LabelValues(label: "consumer", budget: settings.consumerBudget)
        codes = LabelValues(label: "code", budget: settings.codeBudget)
    }

    @inline(__always)
    mutating func code(_ status: UInt16) -> Int32 {
        let i = Int(status)
        guard i < codeIDs.count else { return codes.id(String(status)) }
        if codeIDs[i] < 0 { codeIDs[i] = codes.id(String(status)) }
        return codeIDs[i]
    }

    var all: [LabelValues] { [codes, consumers, routes, services] }
}
