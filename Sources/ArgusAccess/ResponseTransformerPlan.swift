import ArgusConfig
import ArgusHTTP

/// Kong's response-transformer for response headers: remove → rename → replace → add → append,
/// applied to the upstream's response head. Headers no operation names pass through as bytes.
public final class ResponseTransformerPlan: Sendable {
    let operations: HeaderOperations
    /// Lower-cased names of every header an operation touches (framing headers excepted: Argus writes those).
    public let touched: [String]

    public init(config: JSONValue) {
        operations = HeaderOperations(config: config, field: "headers")
        touched = operations.touched.subtracting(["content-length", "transfer-encoding", "connection"]).sorted()
    }

    /// The header lines that replace the touched headers of `head` (`Name: value\r\n`).
    public func lines(for head: ResponseHead) -> String {
        var headers: [(name: String, value: String)] = []
        for name in touched {
            for value in head.values(forLowercasedName: name) { headers.append((name, value)) }
        }
        operations.apply(to: &headers, render: { $0 })
        return headers.filter { touched.contains($0.name.lowercased()) }.map { "\($0.name): \($0.value)\r\n" }.joined()
    }
}
