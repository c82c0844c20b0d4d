//! TLS on a stream (rustls, with ring): the certificates and keys, the
//! ways a client decides to trust a server (the system's store, a CA file,
//! a pinned fingerprint), and [`TlsStream`], which every model reads and
//! writes like a plain stream.
//!
//! A `TlsStream` is owned by its connection and used by one thread (every
//! model drives a connection on one): no lock guards the session. On a
//! non-blocking socket a write that the socket will not take yet keeps its
//! ciphertext (one record's worth at most) until
//! [`TlsStream::flush_pending`]; a driver waits for writability only while
//! [`TlsStream::has_pending`] says some waits.
//!
//! It has no plain descriptor (`Stream::plain_fd` answers `None`), so no
//! zero-copy path or program can move bytes around the TLS session.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

use super::{Stream, der};
use crate::addr::Addr;
use crate::error::{Error, Result};

mod errors;
mod stream;
mod trust;

use errors::*;
pub use stream::TlsStream;
use trust::*;

/// How long a server gives a client to finish its handshake, and a client
/// without `--connect-timeout` gives the server.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest plaintext taken per write: one write, a few records.
const WRITE_CHUNK: usize = 64 * 1024;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain and its key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The most a certificate, key or CA file may hold. A system CA bundle is
/// a few hundred KiB; past this it is not a PEM file, and reading on
/// (`--cert /dev/zero`) would only use up memory.
const MAX_PEM: u64 = 16 << 20;

/// The bytes of the PEM file `path` (given as `flag`), within `MAX_PEM`.
fn read_pem(path: &Path, flag: &str) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::usage(format!("{flag} {}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let mut pem = Vec::new();
    f.take(MAX_PEM + 1)
        .read_to_end(&mut pem)
        .map_err(|e| fail(&e))?;
    if pem.len() as u64 > MAX_PEM {
        return Err(fail(&format_args!(
            "larger than {} MiB, so not a PEM file",
            MAX_PEM >> 20
        )));
    }
    Ok(pem)
}

/// Read `--cert FILE --key FILE` (PEM: a chain; a PKCS#8, SEC1 or RSA key).
pub fn load_identity(cert: &Path, key: &Path) -> Result<Identity> {
    identity_from_pem(
        &read_pem(cert, "--cert")?,
        cert,
        &read_pem(key, "--key")?,
        key,
    )
}

/// The identity in the contents of `--cert` and `--key` (their files'
/// names are for messages only): what [`load_identity`] does once the
/// files are read, and what the `pem` fuzz target feeds.
pub(crate) fn identity_from_pem(
    cert_pem: &[u8],
    cert: &Path,
    key_pem: &[u8],
    key: &Path,
) -> Result<Identity> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::usage(format!("--cert {}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(Error::usage(format!(
            "--cert {}: no PEM certificate in it",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::usage(format!("--key {}: {e}", key.display())))?;
    Ok(Identity { chain, key })
}

/// A fresh self-signed certificate (ECDSA P-256) for `names` (host names
/// and IP addresses), with its PEM forms for `--save-cert`/`--save-key`.
pub fn generate(names: &[String]) -> Result<(Identity, String, String)> {
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, SanType};
    let fail = |e: rcgen::Error| Error::runtime(format!("generate a certificate: {e}"));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "sockcat");
    for n in names {
        let n = n.trim_start_matches('[').trim_end_matches(']');
        let san = match n.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(n.try_into().map_err(fail)?),
        };
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    let cert = params.self_signed(&key).map_err(fail)?;
    let identity = Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    };
    Ok((identity, cert.pem(), key.serialize_pem()))
}

/// `sha256:AB:CD:…`, the SHA-256 of a certificate as `--pin` takes it.
pub fn cert_fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", colon_hex(&sha256(der)))
}

/// `spki-sha256:AB:…`, the SHA-256 of the certificate's public key (its
/// SubjectPublicKeyInfo), which stays the same when the certificate is
/// re-issued for the same key.
pub fn spki_fingerprint(cert_der: &[u8]) -> Option<String> {
    Some(format!(
        "spki-sha256:{}",
        colon_hex(&sha256(der::spki(cert_der)?))
    ))
}

/// `sha256//BASE64`, the same public-key hash in the form curl's
/// `--pinnedpubkey` (and `--pin`) takes.
pub fn curl_pin(cert_der: &[u8]) -> Option<String> {
    use base64::Engine;
    let hash = sha256(der::spki(cert_der)?);
    Some(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    ))
}

/// The certificate's subject, as `CN=…,O=…`.
pub fn subject(cert_der: &[u8]) -> Option<String> {
    der::subject(cert_der)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A `--pin`: the certificate's SHA-256, or its public key's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    Cert([u8; 32]),
    Spki([u8; 32]),
}

/// Parse `sha256:HEX` or `spki-sha256:HEX` (colons optional, any case),
/// or curl's `sha256//BASE64` (the public key's hash).
pub fn parse_pin(s: &str) -> Result<Pin> {
    if let Some(b) = s.strip_prefix("sha256//") {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| Error::usage(format!("--pin {s}: not base64 after sha256//")))?;
        let out: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::usage(format!(
                "--pin {s}: a SHA-256 is 32 bytes (44 base64 characters)"
            ))
        })?;
        return Ok(Pin::Spki(out));
    }
    let (spki, hex) = if let Some(h) = s.strip_prefix("spki-sha256:") {
        (true, h)
    } else if let Some(h) = s.strip_prefix("sha256:") {
        (false, h)
    } else {
        return Err(Error::usage(format!(
            "--pin {s}: give sha256:HEX (the certificate's, as a server prints it), \
             spki-sha256:HEX or sha256//BASE64 (its key's)"
        )));
    };
    let digits: String = hex.chars().filter(|c| *c != ':').collect();
    let mut out = [0u8; 32];
    if digits.len() != 64 {
        return Err(Error::usage(format!(
            "--pin {s}: a SHA-256 is 32 bytes (64 hex digits)"
        )));
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
            .map_err(|_| Error::usage(format!("--pin {s}: not hex")))?;
    }
    Ok(if spki { Pin::Spki(out) } else { Pin::Cert(out) })
}

/// A server's TLS: its configuration and its certificate's fingerprints.
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    pub fingerprint: String,
    pub spki: String,
    /// The key's hash as curl's `--pinnedpubkey` takes it.
    pub curl_pin: String,
}

/// What a server's TLS is made of, from the command line.
#[derive(Default)]
pub struct ServerSpec {
    pub identity: Option<(PathBuf, PathBuf)>,
    pub save: Option<(PathBuf, PathBuf)>,
    pub client_ca: Option<PathBuf>,
    pub alpn: Vec<Vec<u8>>,
    /// The names a generated certificate carries.
    pub names: Vec<String>,
}

/// Build a server's TLS: its own certificate or a fresh one for the
/// spec's names (saved where `--save-cert`/`--save-key` say).
pub fn server(spec: &ServerSpec) -> Result<ServerTls> {
    let identity = match &spec.identity {
        Some((c, k)) => load_identity(c, k)?,
        None => {
            if let Some((c, k)) = &spec.save {
                save_targets(c, k)?;
            }
            let (id, cert_pem, key_pem) = generate(&spec.names)?;
            if let Some((c, k)) = &spec.save {
                save(k, "--save-key", &key_pem, 0o600)?;
                save(c, "--save-cert", &cert_pem, 0o644)?;
            }
            id
        }
    };
    let leaf = identity.chain[0].to_vec();
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::runtime(format!("tls: {e}")))?;
    let builder = match &spec.client_ca {
        Some(ca) => {
            let roots = roots_from(ca, "--client-ca")?;
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots.into(),
                provider(),
            )
            .build()
            .map_err(|e| Error::usage(format!("--client-ca {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| match &spec.identity {
            Some((c, k)) => own_cert_error(c, k, e),
            None => Error::runtime(format!("tls: {e}")),
        })?;
    config.alpn_protocols = spec.alpn.clone();
    // No resumption: a test server gains nothing from it, and each ticket
    // is work and bytes on every full handshake.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(ServerTls {
        config: Arc::new(config),
        fingerprint: cert_fingerprint(&leaf),
        spki: spki_fingerprint(&leaf).unwrap_or_default(),
        curl_pin: curl_pin(&leaf).unwrap_or_default(),
    })
}

/// Check where `--save-cert`/`--save-key` will write, before anything is
/// made: each may be a new name or a regular file of ours, and they are
/// two files.
fn save_targets(cert: &Path, key: &Path) -> Result<()> {
    save_target(key, "--save-key")?;
    save_target(cert, "--save-cert")?;
    let same = match (std::fs::metadata(cert), std::fs::metadata(key)) {
        (Ok(c), Ok(k)) => {
            use std::os::unix::fs::MetadataExt;
            (c.dev(), c.ino()) == (k.dev(), k.ino())
        }
        _ => resolved(cert).is_some() && resolved(cert) == resolved(key),
    };
    if same {
        return Err(Error::usage(format!(
            "--save-cert and --save-key name the same file ({}): the key would be overwritten",
            key.display()
        )));
    }
    Ok(())
}

/// `path` with its directory resolved (its last component is no link:
/// [`save_target`] sees to that), to compare names of files not yet made.
fn resolved(path: &Path) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(dir.canonicalize().ok()?.join(path.file_name()?))
}

/// Refuse a path whose last component is a symbolic link (dangling or
/// not: a root server would write its key wherever it points), anything
/// but a regular file, or a file another user owns (who could read the key
/// written into it).
fn save_target(path: &Path, flag: &str) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| Err(Error::usage(format!("{flag} {}: {why}", path.display())));
    if path.file_name().is_none() {
        return refuse("not a file name".into());
    }
    let fail = |e: io::Error| Err(Error::io(format!("{flag} {}", path.display()), e));
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        // A new name: its directory must be there (before a key is saved
        // without its certificate).
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return match resolved(path) {
                Some(_) => Ok(()),
                None => fail(e),
            };
        }
        Err(e) => return fail(e),
    };
    let me = nix::unistd::geteuid().as_raw();
    if m.file_type().is_symlink() {
        refuse("is a symbolic link; name the file itself".into())
    } else if !m.is_file() {
        refuse("is not a regular file".into())
    } else if m.uid() != me {
        refuse(format!(
            "is owned by another user (uid {}); remove it or choose another path",
            m.uid()
        ))
    } else {
        Ok(())
    }
}

/// Write a generated certificate or key where `--save-cert`/`--save-key`
/// say: a new file beside it (`O_EXCL`, so never through a link; created
/// with `mode`, so the key is never readable by others, not even for a
/// moment), then renamed over the path, which replaces a link planted
/// there since the check rather than writing through it.
fn save(path: &Path, flag: &str, pem: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: io::Error| Error::io(format!("{flag} {}", path.display()), e);
    let name = path
        .file_name()
        .ok_or_else(|| fail(io::ErrorKind::InvalidInput.into()))?;
    let mut attempt = 0;
    let (tmp, mut f) = loop {
        let mut n = std::ffi::OsString::from(".");
        n.push(name);
        n.push(format!(".sockcat-{}-{attempt}", std::process::id()));
        let tmp = path.with_file_name(n);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(fail(e)),
        }
    };
    let r = f
        .write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

fn roots_from(path: &Path, flag: &str) -> Result<rustls::RootCertStore> {
    roots_from_pem(&read_pem(path, flag)?, path, flag)
}

/// `--cacert`: the certificates in the file, and them as trust anchors.
fn cacert_from(path: &Path) -> Result<(rustls::RootCertStore, Vec<CertificateDer<'static>>)> {
    let pem = read_pem(path, "--cacert")?;
    let roots = roots_from_pem(&pem, path, "--cacert")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::usage(format!("--cacert {}: {e}", path.display())))?;
    Ok((roots, certs))
}

/// The trusted certificates in the contents of `--cacert` or `--client-ca`
/// (`path` and `flag` are for messages only).
pub(crate) fn roots_from_pem(pem: &[u8], path: &Path, flag: &str) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::usage(format!("{flag} {}: {e}", path.display())))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::usage(format!(
            "{flag} {}: no usable PEM certificate in it",
            path.display()
        )));
    }
    Ok(roots)
}

/// A client's TLS.
pub struct ClientTls {
    pub config: Arc<ClientConfig>,
    /// `--sni NAME`: the name to send and verify, instead of the address's.
    pub sni: Option<String>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerTls({})", self.fingerprint)
    }
}

/// What a client's TLS is made of, from the command line.
#[derive(Default)]
pub struct ClientSpec {
    pub cacert: Option<PathBuf>,
    pub pins: Vec<Pin>,
    pub insecure: bool,
    pub sni: Option<String>,
    pub identity: Option<(PathBuf, PathBuf)>,
    pub alpn: Vec<Vec<u8>>,
}

/// Build a client's TLS. It trusts, in this order: the `--pin`s (exactly
/// those certificates or keys), `--insecure` (anything), `--cacert`, or
/// the system's store.
pub fn client(spec: &ClientSpec) -> Result<ClientTls> {
    if let Some(sni) = &spec.sni {
        ServerName::try_from(sni.as_str())
            .map_err(|_| Error::usage(format!("--sni {sni}: not a name TLS can verify")))?;
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::runtime(format!("tls: {e}")))?;
    let builder = if !spec.pins.is_empty() || spec.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pins: spec.pins.clone(),
                provider: provider(),
            }))
    } else {
        let roots = match &spec.cacert {
            Some(p) => {
                let (roots, certs) = cacert_from(p)?;
                let chains = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                )
                .build()
                .map_err(|e| Error::usage(format!("--cacert {}: {e}", p.display())))?;
                return finish_client(
                    spec,
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(CaFile { certs, chains })),
                );
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let mut roots = rustls::RootCertStore::empty();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(Error::runtime(
                        "tls: the system has no trusted certificates (install ca-certificates, \
                         or give --cacert FILE or --pin)",
                    ));
                }
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    finish_client(spec, builder)
}

/// The rest of a client's TLS, once it knows whom it trusts.
fn finish_client(
    spec: &ClientSpec,
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
) -> Result<ClientTls> {
    let mut config = match &spec.identity {
        Some((c, k)) => {
            let id = load_identity(c, k)?;
            builder
                .with_client_auth_cert(id.chain, id.key)
                .map_err(|e| own_cert_error(c, k, e))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = spec.alpn.clone();
    // Every connection a full handshake: load mode measures handshakes,
    // and a client that runs once has nothing to resume.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(ClientTls {
        config: Arc::new(config),
        sni: spec.sni.clone(),
    })
}

/// The name a client asks for and verifies: `--sni`, else the address's
/// host (an IP address is verified as one, and sends no SNI). A Unix
/// socket has no host: there trust is by `--pin` or `--insecure` (the
/// command line was checked for that), and the name is only what is asked.
fn server_name(sni: Option<&str>, addr: &Addr) -> io::Result<ServerName<'static>> {
    let host = match addr {
        Addr::Inet { host, .. } => host.as_str(),
        Addr::Unix { .. } => "localhost",
    };
    let name = sni.unwrap_or(host);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let name = name.split('%').next().unwrap_or(name);
    ServerName::try_from(name.to_string()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{name}' is not a name TLS can verify"),
        )
    })
}

/// The warning for a peer that closed without close_notify: its last
/// bytes may have been cut off by someone on the path (many servers close
/// this way, so it is a warning and never an error).
pub fn truncation(peer: &str) -> String {
    format!("{peer} closed the TLS connection without close_notify: what came may be truncated")
}

/// What a handshake settled (defined with the events, which show it).
pub use crate::event::Settled;

#[cfg(test)]
mod tests;
