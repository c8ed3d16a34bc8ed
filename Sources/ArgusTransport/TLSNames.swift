import NIOCore
import NIOSSL

/// TLS versions and cipher suites as nginx names them (`$ssl_protocol`, `$ssl_cipher`: OpenSSL's
/// names), for logs, events and metrics.
public enum TLSNames {
    public static func version(_ version: TLSVersion?) -> String {
        switch version {
        case .tlsv13?: return "TLSv1.3"
        case .tlsv12?: return "TLSv1.2"
        case .tlsv11?: return "TLSv1.1"
        case .tlsv1?: return "TLSv1"
        case nil: return "unknown"
        }
    }

    /// OpenSSL's name of a cipher suite (those Argus offers; others by number).
    public static func cipher(_ suite: UInt16?) -> String {
        switch suite {
        case 0x1301?: return "TLS_AES_128_GCM_SHA256"
        case 0x1302?: return "TLS_AES_256_GCM_SHA384"
        case 0x1303?: return "TLS_CHACHA20_POLY1305_SHA256"
        case 0xC02B?: return "ECDHE-ECDSA-AES128-GCM-SHA256"
        case 0xC02F?: return "ECDHE-RSA-AES128-GCM-SHA256"
        case 0xC02C?: return "ECDHE-ECDSA-AES256-GCM-SHA384"
        case 0xC030?: return "ECDHE-RSA-AES256-GCM-SHA384"
        case 0xCCA9?: return "ECDHE-ECDSA-CHACHA20-POLY1305"
        case 0xCCA8?: return "ECDHE-RSA-CHACHA20-POLY1305"
        case 0?, nil: return "unknown"
        case let suite?: return "0x" + String(suite, radix: 16, uppercase: true)
        }
    }

    /// The cipher suite of the ServerHello at the start of `flight` (a server's first bytes).
    static func serverHelloCipher(_ flight: ByteBuffer) -> UInt16? {
        var bytes = flight
        // record header, then the handshake header of a ServerHello (2)
        guard bytes.readInteger(as: UInt8.self) == 0x16, bytes.readSlice(length: 4) != nil,
              bytes.readInteger(as: UInt8.self) == 0x02, bytes.readSlice(length: 3) != nil,
              bytes.readSlice(length: 2 + 32) != nil,  // legacy_version, random
              let sessionLength = bytes.readInteger(as: UInt8.self), bytes.readSlice(length: Int(sessionLength)) != nil
        else { return nil }
        return bytes.readInteger(as: UInt16.self)
    }
}
