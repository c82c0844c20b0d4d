//! TLS failures in words: why a certificate is refused, whose it is,
//! and what to do about it, as one line wherever the error is shown.

use super::*;

/// What a connection whose peer closed before its handshake ended says.
pub(super) const CLOSED_IN_HANDSHAKE: &str =
    "tls: the peer closed the connection during the handshake";

/// A reset (or a write to a peer gone) during the handshake, said as such;
/// the kind is kept (servers log resets only under -v).
pub(super) fn during_handshake(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => io::Error::new(
            e.kind(),
            "tls: the peer reset the connection during the handshake",
        ),
        _ => e,
    }
}

/// A TLS failure on `conn`: the peer's certificate is a client's when
/// `conn` is a server's, and the advice differs.
pub(super) fn tls_err(conn: &rustls::Connection, e: rustls::Error) -> io::Error {
    let peer = match conn {
        rustls::Connection::Server(_) => Whose::Client,
        rustls::Connection::Client(_) => Whose::Server,
    };
    io::Error::new(io::ErrorKind::InvalidData, TlsError(e, peer))
}

/// Whose certificate a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whose {
    /// The peer's, a server's (we are its client).
    Server,
    /// The peer's, a client's (we are its server).
    Client,
    /// Ours, from `--cert`.
    Own,
}

/// A TLS failure as an `io::Error`'s payload, so that it reads as
/// `tls: …` wherever the error is shown.
#[derive(Debug)]
pub(super) struct TlsError(rustls::Error, Whose);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            rustls::Error::General(m) => write!(f, "tls: {m}"),
            rustls::Error::InvalidMessage(_) => {
                f.write_str("tls: the peer does not speak TLS (or not this version)")
            }
            rustls::Error::InvalidCertificate(c) => {
                write!(
                    f,
                    "tls: certificate not trusted: {}",
                    cert_reason(c, self.1)
                )
            }
            rustls::Error::AlertReceived(a) => {
                use rustls::AlertDescription as A;
                match a {
                    A::UnknownCA | A::BadCertificate | A::CertificateUnknown => write!(
                        f,
                        "tls: the peer does not trust our certificate (alert {a:?})"
                    ),
                    A::CertificateRequired => f.write_str(
                        "tls: the server requires a client certificate (--cert FILE --key FILE)",
                    ),
                    a => write!(f, "tls: the peer ended the handshake (alert {a:?})"),
                }
            }
            rustls::Error::NoCertificatesPresented => {
                f.write_str("tls: the client presented no certificate (--client-ca requires one)")
            }
            e => write!(f, "tls: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// Why a certificate is refused, in words (rustls and webpki name their
/// reasons only in Debug text, such as `Other(OtherError(
/// UnsupportedCertVersion))`).
pub(super) fn cert_reason(c: &rustls::CertificateError, whose: Whose) -> String {
    use rustls::CertificateError as C;
    if let C::Other(o) = c {
        let name = format!("{o:?}");
        if name.contains("NotInCacert") {
            return "it is a CA certificate used as the server's own (as `openssl req -x509` \
                    makes them) that --cacert does not hold: give that certificate itself \
                    in --cacert, or pin it (--pin sha256:..., from `openssl \
                    x509 -noout -fingerprint -sha256`)"
                .into();
        }
        if name.contains("CaUsedAsEndEntity") {
            return match whose {
                Whose::Server => {
                    "it is a CA certificate used as the server's own (as `openssl req -x509` \
                     makes them): give that certificate in --cacert FILE, or pin it \
                     (--pin sha256:..., from `openssl x509 -noout -fingerprint -sha256`)"
                        .into()
                }
                Whose::Client | Whose::Own => {
                    "it is a CA certificate used as the client's own (as `openssl req -x509` \
                     makes them): a client's certificate must be signed by the CA that the \
                     server's --client-ca names, with basicConstraints CA:FALSE; a CA \
                     certificate cannot stand for the client itself"
                        .into()
                }
            };
        }
        if let Some(words) = webpki_words(&name) {
            return words.into();
        }
    }
    match c {
        C::Expired | C::ExpiredContext { .. } => "it has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".into(),
        C::UnknownIssuer => {
            "its issuer is not trusted (--cacert FILE, or --pin the fingerprint the server printed)"
                .into()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("it is not for this name ({c}; --sni NAME names another)")
        }
        C::BadSignature => "its signature is bad".into(),
        C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
            "it is a CA certificate used as the server's own (as `openssl req -x509` makes \
             them): give that certificate in --cacert FILE, or pin it (--pin sha256:..., \
             from `openssl x509 -noout -fingerprint -sha256`)"
                .into()
        }
        C::Revoked => "it has been revoked".into(),
        C::BadEncoding => "it is not a well-formed certificate (bad DER)".into(),
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is signed with an algorithm TLS here does not support".into()
        }
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "its extended key usage does not allow this use (serverAuth for a server, \
             clientAuth for a client)"
                .into()
        }
        C::UnknownRevocationStatus => "its revocation status is unknown".into(),
        C::Other(o) => format!("the certificate was refused ({o:?})"),
        other => format!("the certificate was refused ({other:?})"),
    }
}

/// Plain words for webpki's reasons, by the variant's name in Debug text
/// (webpki is not a direct dependency, so its enum cannot be matched).
pub(super) fn webpki_words(debug: &str) -> Option<&'static str> {
    const WORDS: &[(&str, &str)] = &[
        (
            "UnsupportedCertVersion",
            "it is an X.509 v1 certificate; TLS needs v3 (`openssl req -x509` makes v3, as \
             does `openssl x509 -req` given -extfile with extensions)",
        ),
        (
            "EndEntityUsedAsCa",
            "a certificate in its chain that is not a CA's signed another",
        ),
        (
            "UnsupportedCriticalExtension",
            "it has a critical extension that TLS here does not know",
        ),
        ("MalformedExtensions", "its extensions are malformed"),
        (
            "ExtensionValueInvalid",
            "an extension in it has an invalid value",
        ),
        ("InvalidSerialNumber", "its serial number is invalid"),
        (
            "EmptyEkuExtension",
            "its extended key usage extension is empty",
        ),
        (
            "UnsupportedNameType",
            "it names its subject in a form TLS here does not support",
        ),
        ("MalformedDnsIdentifier", "a DNS name in it is malformed"),
        (
            "NameConstraintViolation",
            "its names are outside what its issuer may certify",
        ),
        (
            "PathLenConstraintViolated",
            "its chain is longer than its CAs allow",
        ),
        ("MaximumPathDepthExceeded", "its chain is too long"),
        ("CertDistrusted", "it is distrusted"),
        (
            "SignatureAlgorithmMismatch",
            "its signature algorithms disagree",
        ),
    ];
    WORDS
        .iter()
        .find(|(name, _)| debug.contains(name))
        .map(|(_, words)| *words)
}

/// Our own `--cert`/`--key` refused while building a TLS configuration:
/// one plain line naming the file.
pub(super) fn own_cert_error(cert: &Path, key: &Path, e: rustls::Error) -> Error {
    match e {
        rustls::Error::InvalidCertificate(c) => Error::usage(format!(
            "--cert {}: {}",
            cert.display(),
            cert_reason(&c, Whose::Own)
        )),
        rustls::Error::InconsistentKeys(_) => Error::usage(format!(
            "--cert {} and --key {}: the key is not the certificate's",
            cert.display(),
            key.display()
        )),
        e => Error::usage(format!(
            "--cert {} / --key {}: {e}",
            cert.display(),
            key.display()
        )),
    }
}
