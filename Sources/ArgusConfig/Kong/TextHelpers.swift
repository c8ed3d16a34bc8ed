extension Sequence where Element == UInt8 {
    /// Lower-case hex, two digits a byte (digests in Kong's texts: cache keys, hashes, ids).
    public var hexString: String {
        var out = ""
        for byte in self {
            out += byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }
        return out
    }
}

extension StringProtocol {
    /// Without any of `characters` (spaces and tabs by default) at either end.
    public func trimmed(of characters: String = " \t") -> String {
        let set = Set(characters.unicodeScalars)
        var view = Substring(self).unicodeScalars[...]
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return String(String.UnicodeScalarView(view))
    }
}
