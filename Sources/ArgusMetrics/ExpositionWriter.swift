/// Appends Prometheus text format 0.0.4 (or OpenMetrics 1.0, ``openMetrics``) to a byte buffer:
/// `# HELP`/`# TYPE` headers, samples with pre-rendered label pairs, integers without going
/// through `String`.
struct ExpositionWriter {
    private(set) var bytes: [UInt8] = []
    /// OpenMetrics text: a counter's family is named without `_total` (a counter not named so is
    /// `unknown`), a histogram's lines go series by series with their exemplars, `# EOF` ends it.
    var openMetrics = false

    init(capacity: Int = 0, openMetrics: Bool = false) {
        bytes.reserveCapacity(capacity)
        self.openMetrics = openMetrics
    }

    mutating func header(_ name: String, _ type: String, _ help: String) {
        var (name, type) = (name, type)
        if openMetrics, type == "counter" {
            if name.hasSuffix("_total") { name.removeLast(6) } else { type = "unknown" }
        }
        bytes.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n".utf8)
    }

    /// OpenMetrics' last line.
    mutating func end() {
        if openMetrics { bytes.append(contentsOf: "# EOF\n".utf8) }
    }

    /// `name="value"` (value already escaped), preceded by a comma unless `first`.
    mutating func label(_ name: String, _ escapedValue: [UInt8], first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "\"")])
        bytes.append(contentsOf: escapedValue)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `name="value"` for a plain value (escaped here).
    mutating func label(_ name: String, _ value: String, first: Bool = false) {
        label(name, LabelValues.escape(value), first: first)
    }

    @inline(__always)
    private mutating func open(_ name: [UInt8], _ labels: [UInt8]) {
        bytes.append(contentsOf: name)
        if !labels.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            bytes.append(contentsOf: labels)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: " "))
    }

    mutating func sample(_ name: [UInt8], _ labels: [UInt8], _ value: UInt64) {
        open(name, labels)
        integer(value)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A sum kept in nanoseconds, written in milliseconds with up to six decimals.
    mutating func sample(_ name: [UInt8], _ labels: [UInt8], milliseconds nanos: UInt64) {
        open(name, labels)
        milliseconds(nanos)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Nanoseconds as milliseconds with up to six decimals.
    private mutating func milliseconds(_ nanos: UInt64) {
        integer(nanos / 1_000_000)
        let fraction = nanos % 1_000_000
        if fraction != 0 {
            bytes.append(UInt8(ascii: "."))
            var digits = fraction, width = 6
            while digits % 10 == 0 { digits /= 10; width -= 1 }
            let text = String(digits)
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
    }

    mutating func sample(_ name: [UInt8], _ labels: [UInt8], _ value: Double) {
        open(name, labels)
        if value == value.rounded(), abs(value) < 9e15 {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            integer(UInt64(abs(value)))
        } else {
            bytes.append(contentsOf: (value.isNaN ? "NaN" : value.isInfinite ? (value > 0 ? "+Inf" : "-Inf") : "\(value)").utf8)
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A `_bucket` line: the series' labels plus `le`; in OpenMetrics, with the bucket's exemplar
    /// (` # {trace_id="…"} <ms> <seconds>`).
    mutating func bucket(_ name: [UInt8], _ labels: [UInt8], _ le: [UInt8], _ value: UInt64, exemplar: Exemplar? = nil) {
        bytes.append(contentsOf: name)
        bytes.append(UInt8(ascii: "{"))
        if !labels.isEmpty {
            bytes.append(contentsOf: labels)
            bytes.append(UInt8(ascii: ","))
        }
        bytes.append(contentsOf: [UInt8(ascii: "l"), UInt8(ascii: "e"), UInt8(ascii: "="), UInt8(ascii: "\"")])
        bytes.append(contentsOf: le)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: " ")])
        integer(value)
        if openMetrics, let exemplar {
            bytes.append(contentsOf: " # {trace_id=\"".utf8)
            for word in [exemplar.traceHigh, exemplar.traceLow] {
                for i in 0..<16 { bytes.append(Self.hexDigits[Int((word >> UInt64(60 - 4 * i)) & 0xF)]) }
            }
            bytes.append(contentsOf: "\"} ".utf8)
            milliseconds(exemplar.nanos)
            bytes.append(UInt8(ascii: " "))
            integer(exemplar.wallMillis / 1000)
            bytes.append(UInt8(ascii: "."))
            let millis = exemplar.wallMillis % 1000
            bytes.append(contentsOf: [UInt8(48 + millis / 100), UInt8(48 + millis / 10 % 10), UInt8(48 + millis % 10)])
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A one-off sample without labels.
    mutating func sample(_ name: String, value: Double) {
        sample(Array(name.utf8), [], value)
    }

    /// A one-off sample: labels as (name, value) pairs, in the order given.
    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        var w = ExpositionWriter()
        for (i, (k, v)) in labels.enumerated() { w.label(k, v, first: i == 0) }
        sample(Array(name.utf8), w.bytes, value)
    }

    @inline(__always)
    private mutating func integer(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var n = value, count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while n > 0 {
                raw[23 - count] = UInt8(ascii: "0") &+ UInt8(n % 10)
                n /= 10
                count += 1
            }
            bytes.append(contentsOf: raw[(24 - count)...])
        }
    }
}
