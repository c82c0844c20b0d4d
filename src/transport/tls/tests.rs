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

/// A server and a client session over a socketpair, both non-blocking,
/// stepped alternately (the scripted readiness: each is tried in turn,
/// and would-block is the cue to try the other).
fn pair() -> (TlsStream, TlsStream) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let server_tls = server(&ServerSpec {
        names: vec!["localhost".into()],
        ..Default::default()
    })
    .unwrap();
    let client_tls = client(&ClientSpec {
        insecure: true,
        ..Default::default()
    })
    .unwrap();
    let addr: Addr = "localhost:1".parse().unwrap();
    let s = TlsStream::server(Stream::Unix(a), &server_tls).unwrap();
    let c = TlsStream::client(Stream::Unix(b), &client_tls, &addr).unwrap();
    (s, c)
}

/// The handshake: each side moves it as far as it can, in turn.
fn handshake(s: &TlsStream, c: &TlsStream) {
    let (mut s_done, mut c_done) = (false, false);
    for _ in 0..10 {
        c_done = c.handshake_nowait().unwrap();
        s_done = s.handshake_nowait().unwrap();
        if s_done && c_done {
            return;
        }
    }
    panic!("the handshake did not finish (server {s_done}, client {c_done})");
}

/// Read what `t` has now: the bytes, and whether its peer's end came.
fn drain(t: &TlsStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match t.read_nowait(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (got, false),
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn a_handshake_an_exchange_and_close_notify_over_a_socketpair() {
    let (s, c) = pair();
    handshake(&s, &c);
    assert!(s.newly_settled() && !s.newly_settled());
    assert!(c.newly_settled());
    assert_eq!(c.settled().version, "TLSv1.3");
    // Nothing waits for the socket: a driver watches for readable only.
    assert!(!s.has_pending() && !c.has_pending());

    // Client to server, and back.
    assert_eq!((&c).write(b"hello").unwrap(), 5);
    assert_eq!(drain(&s), (b"hello".to_vec(), false));
    assert_eq!((&s).write(b"world").unwrap(), 5);
    assert_eq!(drain(&c), (b"world".to_vec(), false));

    // Backpressure: the client writes until the socket takes no more; its
    // last record's ciphertext waits (then a driver watches for writable).
    let chunk = vec![7u8; 16 * 1024];
    let mut sent = 0;
    loop {
        match (&c).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
        assert!(sent < 64 << 20, "the socket never filled");
    }
    assert!(c.has_pending());
    let mut got = 0;
    while c.has_pending() || got < sent {
        got += drain(&s).0.len();
        match c.flush_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("flush: {e}"),
        }
    }
    assert_eq!(got, sent);
    assert!(!c.has_pending());

    // The client's close_notify and FIN: the server reads an end that is
    // not a truncation, and answers with its own.
    c.shutdown(Shutdown::Write).unwrap();
    assert!(!c.has_pending());
    assert_eq!(drain(&s), (Vec::new(), true));
    assert!(!s.truncated());
    assert_eq!((&s).write(b"bye").unwrap(), 3);
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(drain(&c), (b"bye".to_vec(), true));
    assert!(!c.truncated());
}

#[test]
fn a_peer_gone_without_close_notify_is_a_truncation() {
    let (s, c) = pair();
    handshake(&s, &c);
    assert_eq!((&s).write(b"part").unwrap(), 4);
    // The server's socket closes with no close_notify.
    s.sock().shutdown(Shutdown::Write).unwrap();
    assert_eq!(drain(&c), (b"part".to_vec(), true));
    assert!(c.truncated());
}
