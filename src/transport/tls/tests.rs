//! Unit tests of `transport/tls/mod.rs`.

use super::*;

#[test]
fn a_generated_certificate_has_its_names_and_fingerprints() {
    let (id, pem, key_pem) = generate(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key_pem.contains("PRIVATE KEY"));
    let der = id.chain[0].as_ref();
    assert_eq!(subject(der).as_deref(), Some("CN=sockcat"));
    let fp = cert_fingerprint(der);
    assert_eq!(fp.len(), "sha256:".len() + 32 * 3 - 1);
    assert_eq!(parse_pin(&fp).unwrap(), Pin::Cert(sha256(der)));
    let spki = spki_fingerprint(der).unwrap();
    assert!(matches!(parse_pin(&spki).unwrap(), Pin::Spki(_)));
    assert!(parse_pin(&spki.to_ascii_lowercase()).is_ok());
    // curl's form names the same key hash.
    let curl = curl_pin(der).unwrap();
    assert_eq!(curl.len(), "sha256//".len() + 44);
    assert_eq!(parse_pin(&curl).unwrap(), parse_pin(&spki).unwrap());
    assert!(parse_pin("sha256//not base64!").is_err());
    assert!(parse_pin("sha256//AAAA").is_err());
}

#[test]
fn pem_contents_load_as_the_files_do() {
    let (id, pem, key_pem) = generate(&["localhost".into()]).unwrap();
    let (c, k) = (Path::new("c.pem"), Path::new("k.pem"));
    let loaded = identity_from_pem(pem.as_bytes(), c, key_pem.as_bytes(), k).unwrap();
    assert_eq!(loaded.chain, id.chain);
    assert_eq!(loaded.key.secret_der(), id.key.secret_der());
    let e = identity_from_pem(key_pem.as_bytes(), c, pem.as_bytes(), k)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--cert c.pem: no PEM certificate"), "{e}");
    assert_eq!(
        roots_from_pem(pem.as_bytes(), c, "--cacert").unwrap().len(),
        1
    );
    let e = roots_from_pem(b"", c, "--cacert")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("--cacert c.pem: no usable PEM certificate"),
        "{e}"
    );
}

#[test]
fn pins_are_checked() {
    for bad in [
        "AB:CD",
        "sha256:AB",
        "sha1:00",
        &format!("sha256:{}", "zz".repeat(32)),
    ] {
        assert_eq!(parse_pin(bad).unwrap_err().exit_code(), 2, "{bad}");
    }
}
