//! How a client trusts a server besides the system's store: `--pin`
//! (or `--insecure`) and `--cacert`.

use super::*;

/// Trust by `--pin` (or, with no pins, `--insecure`: anything). The
/// handshake's signatures are still checked against the certificate, so
/// only the holder of its key can use it.
#[derive(Debug)]
pub(super) struct Pinned {
    pub(super) pins: Vec<Pin>,
    pub(super) provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.pins.is_empty() {
            return Ok(ServerCertVerified::assertion());
        }
        let cert = sha256(end_entity);
        let spki = der::spki(end_entity).map(sha256);
        let ok = self.pins.iter().any(|p| match p {
            Pin::Cert(h) => *h == cert,
            Pin::Spki(h) => Some(*h) == spki,
        });
        if ok {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate is {}, which no --pin names",
                cert_fingerprint(end_entity)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Trust by `--cacert`: a chain to one of its certificates, as usual; or
/// a server certificate that is itself one of them, as curl's `--cacert`
/// and socat's `cafile=` take a self-signed certificate made by `openssl
/// req -x509` (which marks it CA:TRUE, so a chain check refuses it as
/// "a CA used as an end entity"). Such a certificate is trusted as a pin
/// would be, and its name is still checked. The handshake's signatures
/// are checked against it either way.
#[derive(Debug)]
pub(super) struct CaFile {
    pub(super) certs: Vec<CertificateDer<'static>>,
    pub(super) chains: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for CaFile {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.certs.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
            // No chain is verified for it, so its dates are checked here
            // (curl --cacert refuses an expired one too).
            use rustls::CertificateError as C;
            let (before, after) = der::validity(end_entity)
                .ok_or(rustls::Error::InvalidCertificate(C::BadEncoding))?;
            let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            if now < before {
                return Err(rustls::Error::InvalidCertificate(C::NotValidYet));
            }
            if now > after {
                return Err(rustls::Error::InvalidCertificate(C::Expired));
            }
            return Ok(ServerCertVerified::assertion());
        }
        self.chains
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map_err(|e| match e {
                // Not one of ours: the advice is to give it, not to remake it.
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))
                    if format!("{o:?}").contains("CaUsedAsEndEntity") =>
                {
                    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                        rustls::OtherError(Arc::new(NotInCacert)),
                    ))
                }
                e => e,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chains.supported_verify_schemes()
    }
}

/// A CA certificate used as the server's own that `--cacert` does not
/// hold (named in Debug text, which [`cert_reason`] reads).
#[derive(Debug)]
pub(super) struct NotInCacert;

impl std::fmt::Display for NotInCacert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a CA certificate as the server's own, not in --cacert")
    }
}

impl std::error::Error for NotInCacert {}
