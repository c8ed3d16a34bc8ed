/// Byte classes of RFC 9110/9112 used by the parsers, as 256-entry lookup tables.
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58
    static let semicolon: UInt8 = 59

    // Byte classes as bit masks over the 128 ASCII codes (bit n of `low` is byte n, of `high` byte 64+n):
    // constants folded into the code, so the parsers' per-byte checks touch no global table.

    /// `tchar` of RFC 9110 §5.6.2: `!#$%&'*+-.^_`|~`, digits, letters.
    private static let tokenLow: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tokenHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool {
        if byte < 64 { return (tokenLow >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (tokenHigh >> UInt64(byte - 64)) & 1 == 1 }
        return false
    }

    /// Bytes allowed inside a field value: HTAB, SP, VCHAR, obs-text (no NUL, CR, LF, other controls, DEL).
    @inline(__always)
    static func isFieldValue(_ byte: UInt8) -> Bool {
        byte == 9 || (byte >= 32 && byte != 127)
    }

    /// Bytes allowed in a request-target: VCHAR and obs-text, no SP or controls.
    @inline(__always)
    static func isTarget(_ byte: UInt8) -> Bool {
        byte > 32 && byte != 127
    }

    /// The value of a hex digit, or -1.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- 48)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- 87)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- 55)
        default: return -1
        }
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
    }

    /// Case-insensitive comparison of `length` bytes at `start` with a lower-case ASCII literal.
    @inline(__always)
    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ literal: StaticString) -> Bool {
        guard literal.utf8CodeUnitCount == length else { return false }
        let lit = literal.utf8Start
        for i in 0..<length where lower(bytes[start + i]) != lit[i] {
            return false
        }
        return true
    }
}
