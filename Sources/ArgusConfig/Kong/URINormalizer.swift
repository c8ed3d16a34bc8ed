/// Kong's URI normalisation (`kong/tools/uri.lua` `normalize`) and the regex-path migration of
/// format 1.1/2.1 files (`kong/db/migrations/migrate_path_280_300.lua`).
enum URINormalizer {
    /// Reserved characters stay percent-encoded (upper-cased); everything else is decoded.
    private static let reserved: Set<UInt8> = Set("!*'();:@&=+$,/?%#[]".utf8)
    /// Regex metacharacters that the migration escapes when it decodes them.
    private static let regexMeta: Set<UInt8> = Set(".^-{}\\|".utf8)

    /// Decodes percent-escapes of non-reserved characters, removes dot segments and, with
    /// `mergeSlashes`, collapses `//`.
    static func normalize(_ uri: String, mergeSlashes: Bool) -> String {
        if uri.isEmpty || uri == "/" { return uri }
        var bytes = Array(uri.utf8)
        if bytes.contains(UInt8(ascii: "%")) {
            bytes = decodePercents(bytes) { byte, original in
                reserved.contains(byte) ? Array(String(decoding: original, as: UTF8.self).uppercased().utf8) : [byte]
            }
        }
        let hasDot = bytes.contains(UInt8(ascii: "."))
        if !hasDot {
            if !mergeSlashes { return String(decoding: bytes, as: UTF8.self) }
            if !containsDoubleSlash(bytes) { return String(decoding: bytes, as: UTF8.self) }
        }
        return String(decoding: removeDotSegments(bytes, mergeSlashes: mergeSlashes), as: UTF8.self)
    }

    /// Kong's `is_not_regex`: only `[a-zA-Z0-9.\-_~/%]`.
    static func looksLikePlainPath(_ path: String) -> Bool {
        path.utf8.allSatisfy { PathRules.isASCIIAlnum($0) || Set("./-_~%".utf8).contains($0) }
    }

    /// Migrates one route path of a 1.1/2.1 file: plain paths are normalised, regex-looking paths
    /// get the `~` prefix (with percent-escapes decoded, regex metacharacters escaped).
    static func migrateLegacyPath(_ path: String) -> String {
        if looksLikePlainPath(path) { return normalize(path, mergeSlashes: true) }
        var bytes = Array(path.utf8)
        if bytes.contains(UInt8(ascii: "%")) {
            bytes = decodePercents(bytes) { byte, original in
                if reserved.contains(byte) { return Array(String(decoding: original, as: UTF8.self).uppercased().utf8) }
                if regexMeta.contains(byte) { return [UInt8(ascii: "\\"), byte] }
                return [byte]
            }
        }
        return "~" + String(decoding: bytes, as: UTF8.self)
    }

    private static func containsDoubleSlash(_ bytes: [UInt8]) -> Bool {
        zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: "/") && $1 == UInt8(ascii: "/") }
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Replaces every `%XX` with `replacement(decodedByte, originalTriplet)`.
    private static func decodePercents(_ bytes: [UInt8], _ replacement: (UInt8, ArraySlice<UInt8>) -> [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(contentsOf: replacement(hi << 4 | lo, bytes[i...(i + 2)]))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// RFC 3986 §5.2.4 as Kong implements it (segment stack, `..` pops).
    private static func removeDotSegments(_ input: [UInt8], mergeSlashes: Bool) -> [UInt8] {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var uri = input[...]
        var output: [ArraySlice<UInt8>] = []
        func starts(_ prefix: [UInt8]) -> Bool { uri.starts(with: prefix) }
        while !uri.isEmpty {
            if uri.elementsEqual([slash, dot]) {
                uri = [slash][...]
            } else if uri.elementsEqual([slash, dot, dot]) {
                uri = [slash][...]
                if !output.isEmpty { output.removeLast() }
            } else if uri.elementsEqual([dot]) || uri.elementsEqual([dot, dot]) {
                uri = []
            } else if starts([dot, dot, slash]) {
                uri = uri.dropFirst(3)
            } else if starts([dot, slash]) {
                uri = uri.dropFirst(2)
            } else if starts([slash, dot, slash]) {
                uri = uri.dropFirst(2)
            } else if starts([slash, dot, dot, slash]) {
                uri = uri.dropFirst(3)
                if !output.isEmpty { output.removeLast() }
            } else if mergeSlashes && starts([slash, slash]) {
                uri = uri.dropFirst(1)
            } else if let next = uri.dropFirst().firstIndex(of: slash) {
                output.append(uri[uri.startIndex..<next])
                uri = uri[next...]
            } else {
                output.append(uri)
                uri = []
            }
        }
        return output.flatMap { $0 }
    }
}
