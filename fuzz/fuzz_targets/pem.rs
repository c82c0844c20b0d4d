//! Any bytes as `--cert`/`--key`, `--cacert`/`--client-ca`, or a peer's
//! certificate: no panic. Every certificate that loads also goes through
//! the DER reading behind its subject and fingerprints, which also sees
//! the certificates clients and servers present.
//!
//! Input: byte 0 picks what is read; for `--cert`/`--key`, bytes 1 and 2
//! (big-endian) say where the certificate file ends and the key begins.
//! Seeds (a real chain and keys of each kind) are in `fuzz/seeds/pem`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::fuzzing::{pem_identity, pem_roots};
use sockcat::transport::tls::{cert_fingerprint, spki_fingerprint, subject};

/// What sockcat reads from a certificate it is shown.
fn read_cert(der: &[u8]) {
    let fp = cert_fingerprint(der);
    assert_eq!(fp.len(), "sha256:".len() + 32 * 3 - 1);
    if let Some(spki) = spki_fingerprint(der) {
        assert!(spki.starts_with("spki-sha256:"));
    }
    let _ = subject(der);
}

fuzz_target!(|data: &[u8]| {
    let [pick, rest @ ..] = data else {
        return;
    };
    match pick % 3 {
        0 => {
            let [hi, lo, files @ ..] = rest else {
                return;
            };
            let split = (usize::from(*hi) << 8 | usize::from(*lo)).min(files.len());
            let (cert, key) = files.split_at(split);
            if let Ok(id) = pem_identity(cert, key) {
                assert!(!id.chain.is_empty());
                for c in &id.chain {
                    read_cert(c);
                }
            }
        }
        1 => {
            if let Ok(n) = pem_roots(rest) {
                assert!(n > 0);
            }
        }
        _ => read_cert(rest),
    }
});
