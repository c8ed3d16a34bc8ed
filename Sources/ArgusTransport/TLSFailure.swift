import NIOSSL

/// A TLS error as the gateway reports it: NIOSSL's (BoringSSL's) description, and whether it was
/// the peer's certificate that failed verification (an unknown CA, an expired certificate, a
/// name that does not match) rather than the handshake or a record.
public struct TLSFailure: CustomStringConvertible, Sendable {
    public let description: String
    public let isVerification: Bool

    /// nil when `error` is not a TLS error.
    public init?(_ error: any Error) {
        switch error {
        case let error as NIOSSLError:
            description = "\(error)"
            switch error {
            case .handshakeFailed(let inner): isVerification = Self.mentionsVerification("\(inner)")
            case .unableToValidateCertificate, .noCertificateToValidate, .cannotMatchULabel: isVerification = true
            default: isVerification = false
            }
        case let error as NIOSSLExtraError:
            description = "\(error)"
            isVerification = error == .failedToValidateHostname
        case let error as BoringSSLError:
            description = "\(error)"
            isVerification = Self.mentionsVerification(description)
        case is NIOSSLCloseTimedOutError:
            description = "TLS close timed out"
            isVerification = false
        default:
            return nil
        }
    }

    private static func mentionsVerification(_ text: String) -> Bool {
        text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed")
    }
}
