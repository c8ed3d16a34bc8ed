import ArgusHTTP
import ArgusPluginKit

/// kong.conf's `real_ip_header` and `real_ip_recursive` (nginx's realip module, which Kong
/// configures with `set_real_ip_from` = `trusted_ips`).
public struct RealIPSettings: Sendable, Equatable {
    /// The header that carries the client's address, lower-cased (`x-real-ip` by default, as Kong;
    /// `x-forwarded-for` behind most load balancers).
    public var header: String
    /// `real_ip_recursive`: in a list of addresses, the last one not in `trusted_ips` (off: the last one).
    public var recursive: Bool

    public init(header: String = "X-Real-IP", recursive: Bool = false) {
        self.header = header.lowercased()
        self.recursive = recursive
    }
}

/// The client's address behind trusted proxies, as nginx's realip module finds it: only for a
/// peer in `trusted_ips`, from the configured header's addresses (every field of that name, in
/// order, comma-separated), taken from the right: the last one, or with `recursive` the last that
/// is not itself trusted (the first one when all are). An address that does not parse leaves the
/// peer's in place. Pure.
enum RealIP {
    static func address(
        _ head: RequestHead, settings: RealIPSettings, trusted: TrustedIPs
    ) -> (text: String, bytes: [UInt8])? {
        let values = head.values(forLowercasedName: settings.header)
        guard !values.isEmpty else { return nil }
        var addresses: [Substring] = []
        for value in values {
            for part in value.split(separator: ",") {
                let trimmed = part.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
                if !trimmed.isEmpty { addresses.append(Substring(String(trimmed))) }
            }
        }
        var index = addresses.count - 1
        while index >= 0 {
            let text = String(addresses[index])
            guard let bytes = IPAddressParser.parse(text) else { return nil }
            if !settings.recursive || index == 0 || !trusted.contains(bytes: bytes) { return (text, bytes) }
            index -= 1
        }
        return nil
    }
}
