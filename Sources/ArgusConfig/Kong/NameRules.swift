/// Kong's string validators for names, tags, header names and UUIDs (`typedefs.lua`,
/// `kong/tools/http.lua`), with its messages.
public enum NameRules {
    private static func isNameByte(_ b: UInt8) -> Bool {
        PathRules.isASCIIAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: "~")
    }

    /// typedefs.utf8_name (service, route, plugin instance names).
    static func utf8Name(_ name: String) -> String? {
        name.utf8.allSatisfy({ isNameByte($0) || $0 >= 0x80 })
            ? nil
            : "invalid value '\(name)': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
    }

    /// typedefs.tag.
    static func tag(_ tag: String) -> String? {
        let ok = tag.utf8.allSatisfy { b in
            b == 0x20 || (b >= 33 && b <= 43) || b == 45 || b == 46 || (b >= 48 && b <= 126) || b >= 0x80
        }
        return ok ? nil : "invalid tag '\(tag)': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
    }

    private static func isTokenByte(_ b: UInt8) -> Bool {
        PathRules.isASCIIAlnum(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    /// typedefs.header_name (`utils.validate_header_name`).
    static func headerName(_ name: String) -> String? {
        name.utf8.allSatisfy(isTokenByte)
            ? nil : "bad header name '\(name)', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
    }

    /// typedefs.cookie_name (`utils.validate_cookie_name`).
    static func cookieName(_ name: String) -> String? {
        name.utf8.allSatisfy(isTokenByte)
            ? nil : "bad cookie name '\(name)', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
    }

    /// typedefs.http_method: upper-case letters only (`^%u+$`).
    static func method(_ method: String) -> String? {
        method.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) ? nil : "invalid value: \(method)"
    }

    /// 8-4-4-4-12 hex digits, any case.
    public static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (i, b) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                if b != UInt8(ascii: "-") { return false }
            } else if !PathRules.isHex(b) {
                return false
            }
        }
        return true
    }
}
