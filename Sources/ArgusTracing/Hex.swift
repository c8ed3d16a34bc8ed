/// Hexadecimal and decimal id text, without allocating for parsing.
public enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// 16 lower-case hex digits.
    public static func encode(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for i in 0..<16 { buffer[i] = digits[Int((value >> UInt64(60 - 4 * i)) & 0xF)] }
            return 16
        }
    }

    /// The value of one hex digit, nil if `c` is none.
    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt64? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// Up to 16 hex digits as a number; nil if empty, longer, or not hex.
    public static func parse64<S: Collection>(_ text: S) -> UInt64? where S.Element == UInt8 {
        guard !text.isEmpty, text.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in text {
            guard let n = nibble(c) else { return nil }
            v = v << 4 | n
        }
        return v
    }

    /// Up to 32 hex digits as a 128-bit number (high, low); nil if empty, longer, or not hex.
    public static func parse128<S: Collection>(_ text: S) -> (high: UInt64, low: UInt64)? where S.Element == UInt8 {
        guard !text.isEmpty, text.count <= 32 else { return nil }
        let split = text.index(text.endIndex, offsetBy: -min(16, text.count))
        guard let low = parse64(text[split...]) else { return nil }
        if split == text.startIndex { return (0, low) }
        guard let high = parse64(text[..<split]) else { return nil }
        return (high, low)
    }

    /// A decimal number of up to 128 bits (surrounding text already trimmed); nil if empty, not
    /// decimal, or too large.
    public static func parseDecimal128<S: Collection>(_ text: S) -> (high: UInt64, low: UInt64)? where S.Element == UInt8 {
        guard !text.isEmpty, text.count <= 39 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for c in text {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            // (high, low) * 10 + digit
            let lowProduct = low.multipliedFullWidth(by: 10)
            let (highProduct, o1) = high.multipliedReportingOverflow(by: 10)
            let (highSum, o2) = highProduct.addingReportingOverflow(lowProduct.high)
            let (newLow, carry) = lowProduct.low.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            let (newHigh, o3) = highSum.addingReportingOverflow(carry ? 1 : 0)
            guard !o1, !o2, !o3 else { return nil }
            high = newHigh
            low = newLow
        }
        return (high, low)
    }

    /// A decimal `uint64` (no sign, no spaces); nil if empty, not decimal, or too large.
    public static func parseDecimal<S: Collection>(_ text: S) -> UInt64? where S.Element == UInt8 {
        guard !text.isEmpty, text.count <= 20 else { return nil }
        var v: UInt64 = 0
        for c in text {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            v = s
        }
        return v
    }
}
