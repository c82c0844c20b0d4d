//! TLS (issue 12): every handler in every model over TLS, half-close and
//! 64 MiB byte for byte, pins, CA files, names, expiry, mutual TLS,
//! plaintext at a TLS port, truncation; and real peers that sockcat did
//! not write: `openssl s_server`/`s_client` and `ncat --ssl`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::handlers::MODELS;
use crate::util::*;

/// The fingerprint a TLS server printed before its readiness line.
pub fn fingerprint(s: &Server) -> String {
    let err = s.err();
    let line = err
        .lines()
        .find(|l| l.starts_with("tls certificate "))
        .unwrap_or_else(|| panic!("no certificate line in {err}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

/// `send` to a sockcat TLS server, trusting it by its printed fingerprint.
fn send_pinned(s: &Server, tls_addr: &str, args: &[&str], input: &[u8]) -> Out {
    let fp = fingerprint(s);
    let mut all = vec!["send", "--pin", &fp, tls_addr];
    all.extend_from_slice(args);
    run(&all, input)
}

/// Run a shell command line (openssl, mostly) in `dir`; it must succeed.
fn sh_in(dir: &TempDir, cmd: &str) {
    let out = output_within(Command::new("sh").args(["-c", cmd]).current_dir(&dir.0), T);
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tls_of(s: &Server) -> String {
    format!("tls://{}", s.addr())
}

/// Every handler, in every model, over TLS, with the lesson's exchange:
/// the client sends, half-closes (close_notify), and reads the reply until
/// the server's close. Over a Unix socket with --tls as well.
#[test]
fn every_handler_in_every_model_over_tls() {
    let upstream = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let dir = TempDir::new();
    let handlers: Vec<(Vec<&str>, &[u8], Vec<u8>)> = vec![
        (
            vec!["--reply", "connected"],
            b"hello\n",
            b"connected\n".to_vec(),
        ),
        (vec!["--echo"], b"hello\n", b"hello\n".to_vec()),
        (vec!["--discard"], b"hello\n", Vec::new()),
        (vec!["--exec", "cat"], b"hello\n", b"hello\n".to_vec()),
        (
            vec!["--sh-exec", "echo $SOCKCAT_TLS_VERSION; cat"],
            b"hello\n",
            b"TLSv1.3\nhello\n".to_vec(),
        ),
        (
            vec!["--forward", upstream.addr()],
            b"hello\n",
            b"hello\n".to_vec(),
        ),
    ];
    for model in MODELS {
        for (h, input, want) in &handlers {
            for unix in [false, true] {
                let listen = if unix {
                    format!(
                        "unix:{}",
                        dir.path(&format!("{model}{}.sock", h[0])).display()
                    )
                } else {
                    "tls://127.0.0.1:0".to_string()
                };
                let mut args = vec![model, listen.as_str(), "-q"];
                if unix {
                    args.push("--tls");
                }
                args.extend(h.iter().copied());
                let mut s = Server::start(&args);
                let target = if unix {
                    s.addr().to_string()
                } else {
                    tls_of(&s)
                };
                let mut extra = vec![];
                if unix {
                    extra.push("--tls");
                }
                let out = send_pinned(&s, &target, &extra, input);
                out.expect_code(0);
                assert_eq!(out.stdout, *want, "{model} {h:?} unix={unix}: {}", s.err());
                assert_eq!(s.interrupt(), Some(130), "{model} {h:?}");
            }
        }
        // The default handler prints what came.
        let mut s = Server::start(&[model, "tls://127.0.0.1:0", "-q"]);
        send_pinned(&s, &tls_of(&s), &["printed", "over", "tls"], b"").expect_code(0);
        s.wait_out("printed over tls\n");
        assert_eq!(s.interrupt(), Some(130));
    }
    // The broker relays between TLS clients: one listens (it keeps its
    // write side open and waits a second after its empty input), the
    // other speaks.
    let mut s = Server::start(&["serve", "tls://127.0.0.1:0", "--broker"]);
    let fp = fingerprint(&s);
    let addr = tls_of(&s);
    let listener = spawn(&["send", "--pin", &fp, &addr, "--no-shutdown", "--wait", "1s"]);
    wait_until("the listener to connect", T, || {
        s.err().contains("tls with") || s.err().contains("got connection")
    });
    wait_until("the listener's handshake", T, || {
        s.err().matches("got connection").count() == 1
    });
    send_pinned(&s, &addr, &["hi", "broker"], b"").expect_code(0);
    let out = listener.finish(T);
    assert_eq!(out.stdout, b"hi broker\n", "{}", out.stderr);
    assert_eq!(s.interrupt(), Some(130));
}

/// 64 MiB each way, byte for byte, through an echo server in every model.
#[test]
fn sixty_four_mib_over_tls_in_every_model() {
    let data = random_bytes(64 << 20, 12);
    for model in MODELS {
        let mut s = Server::start(&[model, "tls://127.0.0.1:0", "--echo", "-q"]);
        let out = send_pinned(&s, &tls_of(&s), &[], &data);
        out.expect_code(0);
        assert!(
            out.stdout == data,
            "{model}: {} of {} bytes",
            out.stdout.len(),
            data.len()
        );
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// What a client refuses, each with one line and exit 1; the server goes
/// on serving the next client.
#[test]
fn verification_failures_are_one_line() {
    let dir = TempDir::new();
    let cert = dir.path("cert.pem");
    let key = dir.path("key.pem");
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut s = Server::start(&[
        "thread-serve",
        "tls://127.0.0.1:0",
        "--reply",
        "ok",
        "--save-cert",
        c,
        "--save-key",
        k,
    ]);
    let addr = tls_of(&s);
    let wrong = format!("sha256:{}", ["00"; 32].join(":"));
    for (args, msg) in [
        (
            vec!["send", "--pin", &wrong, &addr, "x"],
            "which no --pin names",
        ),
        (vec!["send", &addr, "x"], "its issuer is not trusted"),
        (
            vec!["send", "--cacert", c, "--sni", "example.org", &addr, "x"],
            "it is not for this name",
        ),
    ] {
        let out = run(&args, b"");
        out.expect_code(1);
        assert!(out.stderr.contains(msg), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    // The saved certificate is trusted as a CA file, and its key's pin
    // holds; the server said what the client refused.
    let out = run(&["send", "--cacert", c, &addr, "x"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"ok\n");
    s.wait_err("does not trust our certificate");
    assert_eq!(s.interrupt(), Some(130));
    // A restart on the saved pair keeps both fingerprints.
    let first = fingerprint(&s);
    // Saving over an existing, readable file still leaves the key private.
    let (c2, k2) = (dir.path("c2.pem"), dir.path("k2.pem"));
    std::fs::write(&k2, "old").unwrap();
    std::fs::set_permissions(&k2, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--save-cert",
        c2.to_str().unwrap(),
        "--save-key",
        k2.to_str().unwrap(),
    ]);
    drop(again);
    assert_eq!(
        std::fs::metadata(&k2).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let s2 = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--reply",
        "again",
        "--cert",
        c,
        "--key",
        k,
    ]);
    assert_eq!(fingerprint(&s2), first);
    let spki = s2
        .err()
        .split("(key ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_string();
    let out = run(&["send", "--pin", &spki, &tls_of(&s2)], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"again\n");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

use std::os::unix::fs::PermissionsExt;

/// `--save-key`/`--save-cert` never write through a symbolic link
/// (dangling or not), into anything but a regular file, into a file
/// another user owns, or both into one file: each is one line, exit 2,
/// and nothing is written anywhere. A saved key is a new file of ours,
/// mode 600 from its creation, and no temporary file is left beside it.
#[test]
fn saved_keys_go_only_into_files_of_our_own() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new();
    let p = |n: &str| dir.path(n).to_str().unwrap().to_string();
    std::fs::write(p("victim"), "not yours").unwrap();
    std::os::unix::fs::symlink(p("victim"), p("link")).unwrap();
    std::os::unix::fs::symlink(p("nowhere"), p("dangling")).unwrap();
    std::fs::create_dir(p("a-dir")).unwrap();
    std::fs::write(p("theirs"), "").unwrap();
    // Another user's file: only root can make one (elsewhere that row is
    // a counted skip).
    let others =
        needs_root() && std::os::unix::fs::chown(p("theirs"), Some(65534), Some(65534)).is_ok();
    let rows: Vec<(&str, String, String, &str)> = vec![
        ("a link to a file", p("c.pem"), p("link"), "symbolic link"),
        (
            "a dangling link",
            p("c.pem"),
            p("dangling"),
            "symbolic link",
        ),
        ("a link as the cert", p("link"), p("k.pem"), "symbolic link"),
        ("a directory", p("c.pem"), p("a-dir"), "not a regular file"),
        (
            "another user's file",
            p("c.pem"),
            p("theirs"),
            "another user",
        ),
        (
            "one file for both",
            p("both.pem"),
            p("both.pem"),
            "same file",
        ),
        (
            "one file by two names",
            p("both.pem"),
            format!("{}/./both.pem", dir.0.display()),
            "same file",
        ),
    ];
    for (what, cert, key, needle) in &rows {
        if *what == "another user's file" && !others {
            continue;
        }
        let out = run(
            &[
                "serve",
                "tls://127.0.0.1:0",
                "--save-cert",
                cert,
                "--save-key",
                key,
            ],
            b"",
        );
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{what}: {out}");
        assert!(out.stderr.contains(needle), "{what}: {out}");
    }
    assert_eq!(std::fs::read(p("victim")).unwrap(), b"not yours");
    assert!(
        !dir.path("nowhere").exists(),
        "a dangling link was followed"
    );
    assert!(!dir.path("c.pem").exists() && !dir.path("both.pem").exists());
    if others {
        assert_eq!(std::fs::metadata(p("theirs")).unwrap().len(), 0);
    }
    // Saved: the key is ours, mode 600; an old file of ours is replaced.
    std::fs::write(p("k.pem"), "old").unwrap();
    std::fs::set_permissions(p("k.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--save-cert",
        &p("c.pem"),
        "--save-key",
        &p("k.pem"),
    ]);
    drop(s);
    let key = std::fs::metadata(p("k.pem")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    let mine = std::fs::metadata(p("victim")).unwrap().uid();
    assert_eq!(key.uid(), mine);
    assert!(
        std::fs::read_to_string(p("k.pem"))
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let left: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// openssl-made certificates: an expired server certificate is refused
/// with its reason; a CA-signed one is trusted with --cacert; mutual TLS
/// admits the client with a certificate the CA signed (its subject in the
/// event and in the program's environment) and refuses one without, while
/// other clients go on being served.
#[test]
fn openssl_made_certificates_and_mutual_tls() {
    if !needs(&["openssl", "ncat"]) {
        return;
    }
    let dir = TempDir::new();
    let p = |n: &str| dir.path(n).to_str().unwrap().to_string();
    let sh = |cmd: &str| sh_in(&dir, cmd);
    // A CA, a server certificate for 127.0.0.1, a client certificate.
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null",
    );
    for who in ["server", "client"] {
        sh(&format!(
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {who}.key \
             -out {who}.csr -subj /CN={who}.test/O=sockcat 2>/dev/null && \
             printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > {who}.ext && \
             openssl x509 -req -in {who}.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -days 2 -extfile {who}.ext -out {who}.pem 2>/dev/null"
        ));
    }
    // Expired: valid for one day, ten years ago (openssl ca takes dates).
    sh("mkdir -p db && touch db/index && echo 01 > db/serial && \
        printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=db/index\\nserial=db/serial\\nnew_certs_dir=db\\n\
policy=p\\ndefault_md=sha256\\n[p]\\ncommonName=supplied\\n' > ca.cnf && \
        openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in server.csr \
        -extfile server.ext -startdate 20100101000000Z -enddate 20100102000000Z \
        -out expired.pem 2>/dev/null");

    let mut s = Server::start(&[
        "fork-serve",
        "tls://127.0.0.1:0",
        "--cert",
        &p("server.pem"),
        "--key",
        &p("server.key"),
        "--client-ca",
        &p("ca.pem"),
        "--sh-exec",
        "echo \"$SOCKCAT_TLS_PEER_SUBJECT\"",
    ]);
    let addr = tls_of(&s);
    let ca = p("ca.pem");
    let (cert, key) = (p("client.pem"), p("client.key"));
    let with_cert = || {
        run(
            &[
                "send", "--cacert", &ca, "--cert", &cert, "--key", &key, &addr,
            ],
            b"",
        )
    };
    let out = with_cert();
    out.expect_code(0);
    assert_eq!(out.stdout_str(), "CN=client.test,O=sockcat\n");
    s.wait_err("certificate CN=client.test,O=sockcat sha256:");
    let out = run(&["send", "--cacert", &ca, &addr, "x"], b"");
    out.expect_code(1);
    assert!(
        out.stderr.contains("requires a client certificate"),
        "{}",
        out.stderr
    );
    s.wait_err("the client presented no certificate");
    // ncat and openssl s_client present the same openssl-made certificate.
    let port = s.port().to_string();
    let out = output_within(
        Command::new("ncat")
            .args([
                "--ssl",
                "--ssl-cert",
                &p("client.pem"),
                "--ssl-key",
                &p("client.key"),
            ])
            .args(["127.0.0.1", &port])
            .stdin(Stdio::null()),
        T,
    );
    assert_eq!(out.stdout, b"CN=client.test,O=sockcat\n");
    let out = output_within(
        Command::new("openssl")
            .args(["s_client", "-quiet", "-ign_eof", "-connect", s.addr()])
            .args([
                "-cert",
                &p("client.pem"),
                "-key",
                &p("client.key"),
                "-CAfile",
                &ca,
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null()),
        T,
    );
    assert_eq!(out.stdout, b"CN=client.test,O=sockcat\n");
    // Others are unaffected.
    let out = with_cert();
    assert_eq!(out.stdout_str(), "CN=client.test,O=sockcat\n");
    assert_eq!(s.interrupt(), Some(130));

    let s = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--cert",
        &p("expired.pem"),
        "--key",
        &p("server.key"),
        "--reply",
        "old",
    ]);
    let out = run(&["send", "--cacert", &ca, &tls_of(&s), "x"], b"");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("certificate not trusted: it has expired"),
        "{}",
        out.stderr
    );
}

/// A client that speaks plaintext to a TLS port: both sides say so
/// clearly, and the server goes on serving.
#[test]
fn plaintext_at_a_tls_port() {
    for model in MODELS {
        let mut s = Server::start(&[model, "tls://127.0.0.1:0", "--reply", "secret"]);
        let out = run(&["send", s.addr(), "hello"], b"");
        out.expect_code(1);
        assert!(
            out.stderr.contains("it speaks TLS (connect to tls://"),
            "{}",
            out.stderr
        );
        s.wait_err("tls: the peer does not speak TLS");
        let out = send_pinned(&s, &tls_of(&s), &[], b"");
        assert_eq!(out.stdout, b"secret\n", "{model}");
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// A Python TLS peer that closes without close_notify: the data arrives,
/// and a warning names the truncation; the exit code is unchanged.
#[test]
fn truncation_without_close_notify_is_a_warning() {
    if !needs(&["python3"]) {
        return;
    }
    let dir = TempDir::new();
    let (c, k) = (dir.path("c.pem"), dir.path("k.pem"));
    let (c, k) = (c.to_str().unwrap(), k.to_str().unwrap());
    // sockcat makes the pair; Python serves with it and closes abruptly.
    let keep = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--save-cert",
        c,
        "--save-key",
        k,
    ]);
    let fp = fingerprint(&keep);
    let py = format!(
        "import socket, ssl\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{c}', '{k}')\n\
         l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
         print(l.getsockname()[1], flush=True)\n\
         s, _ = l.accept(); t = ctx.wrap_socket(s, server_side=True)\n\
         t.sendall(b'cut short\\n'); t.recv(100)\n\
         import os; os.close(t.detach())\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &py])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let port = first_line(&mut child);
    let out = run(
        &["send", "--pin", &fp, &format!("tls://127.0.0.1:{port}")],
        b"",
    );
    out.expect_code(0);
    assert_eq!(out.stdout, b"cut short\n");
    assert!(
        out.stderr.contains("without close_notify"),
        "{}",
        out.stderr
    );
    let _ = wait_child(&mut child, T);
}

/// Real peers: openssl s_client and ncat --ssl as clients of every model;
/// openssl s_server (with mutual TLS) and ncat --ssl as servers for send.
#[test]
fn interop_with_openssl_and_ncat() {
    if !needs(&["openssl", "ncat"]) {
        return;
    }
    for model in MODELS {
        // s_client needs -ign_eof to read the reply after its input ends.
        let mut s = Server::start(&[model, "tls://127.0.0.1:0", "--reply", "from sockcat"]);
        let out = output_within(
            Command::new("openssl")
                .args(["s_client", "-quiet", "-ign_eof", "-connect", s.addr()])
                .stdin(Stdio::null()),
            T,
        );
        assert_eq!(out.stdout, b"from sockcat\n", "{model}");
        assert_eq!(s.interrupt(), Some(130));
        // Without -ign_eof (which -quiet implies) it sends its input and
        // closes: printed.
        let mut s = Server::start(&[model, "tls://127.0.0.1:0"]);
        let mut c = Command::new("openssl")
            .args(["s_client", "-brief", "-connect", s.addr()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(b"from openssl\n")
            .unwrap();
        s.wait_out("from openssl\n");
        wait_child(&mut c, T);
        assert_eq!(s.interrupt(), Some(130));
        // ncat --ssl (it verifies nothing by default) reads the reply.
        let s = Server::start(&[model, "tls://127.0.0.1:0", "--reply", "from sockcat"]);
        let port = s.port().to_string();
        let out = output_within(
            Command::new("ncat")
                .args(["--ssl", "127.0.0.1", &port])
                .stdin(Stdio::null()),
            T,
        );
        assert_eq!(out.stdout, b"from sockcat\n", "{model}");
    }

    // openssl s_server, requiring a client certificate sockcat made.
    let dir = TempDir::new();
    let p = |n: &str| dir.path(n).to_str().unwrap().to_string();
    let keep = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--save-cert",
        &p("c.pem"),
        "--save-key",
        &p("k.pem"),
    ]);
    let port = free_port();
    let mut srv = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-naccept",
            "1",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &p("c.pem"),
            "-key",
            &p("k.pem"),
            "-Verify",
            "1",
            "-CAfile",
            &p("c.pem"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let fp = fingerprint(&keep);
    let target = format!("tls://127.0.0.1:{port}");
    let mut out = None;
    for _ in 0..200 {
        let o = run(
            &[
                "send",
                "--pin",
                &fp,
                "--cert",
                &p("c.pem"),
                "--key",
                &p("k.pem"),
                &target,
                "--no-shutdown",
                "--wait",
                "500ms",
                "hello",
                "openssl",
            ],
            b"",
        );
        if !o.stderr.contains("Connection refused") {
            out = Some(o);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = out.expect("s_server never listened");
    let got = line_within(srv.stdout.take().unwrap(), T);
    assert_eq!(got, "hello openssl");
    let _ = srv.kill();
    let _ = srv.wait();

    // ncat --ssl as a server, with its own generated certificate.
    let port = free_port();
    let mut nc = Command::new("ncat")
        .args([
            "--ssl",
            "-l",
            "127.0.0.1",
            &port.to_string(),
            "--sh-exec",
            "echo from ncat",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let target = format!("tls://127.0.0.1:{port}");
    let mut got = None;
    for _ in 0..200 {
        // ncat ends the whole connection at the client's close_notify:
        // keep the write side open (the man page says so).
        let o = run(&["send", "--insecure", "--no-shutdown", &target], b"");
        if o.code == Some(0) {
            got = Some(o);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = got.expect("ncat --ssl never answered");
    assert_eq!(o.stdout, b"from ncat\n");
    assert!(
        o.stderr
            .contains("--insecure: the server's certificate is not verified"),
        "{}",
        o.stderr
    );
    let _ = nc.kill();
    let _ = nc.wait();
}

/// TLS origination: a plain listener forwards to a TLS upstream, in every
/// model, trusting it by pin, by CA file, or not at all (--insecure, said
/// on stderr); a TLS upstream that cannot be trusted is one event per
/// connection. And TLS inside a proxy's tunnel (Dante).
#[test]
fn forward_to_a_tls_upstream_in_every_model() {
    let dir = TempDir::new();
    let (c, k) = (dir.path("c.pem"), dir.path("k.pem"));
    let (c, k) = (c.to_str().unwrap(), k.to_str().unwrap());
    let up = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--echo",
        "-q",
        "--save-cert",
        c,
        "--save-key",
        k,
    ]);
    let fp = fingerprint(&up);
    let target = tls_of(&up);
    let data = random_bytes(1 << 20, 4);
    for model in MODELS {
        for trust in [
            vec!["--pin", fp.as_str()],
            vec!["--cacert", c],
            vec!["--insecure"],
        ] {
            let mut args = vec![model, "127.0.0.1:0", "--forward", &target];
            args.extend(trust.iter().copied());
            let mut f = Server::start(&args);
            let got = crate::handlers::exchange(f.addr(), &data);
            assert!(
                got == data,
                "{model} {trust:?}: {} of {} bytes",
                got.len(),
                data.len()
            );
            if trust[0] == "--insecure" {
                assert!(
                    f.err()
                        .contains("--insecure: the server's certificate is not verified")
                );
            }
            assert_eq!(f.interrupt(), Some(130));
        }
        let mut f = Server::start(&[model, "127.0.0.1:0", "--forward", &target]);
        // A failed upstream handshake resets the client (issue 19, item 7).
        let out = run(&["send", f.addr(), "x"], b"");
        out.expect_code(1);
        assert!(out.stdout.is_empty());
        f.wait_err("tls: certificate not trusted: its issuer is not trusted");
        assert_eq!(f.interrupt(), Some(130));
    }
}

/// Load mode over TLS: every exchange a full handshake, through a proxy
/// too (TLS inside the tunnel).
#[test]
fn load_mode_over_tls_and_through_a_proxy() {
    if !needs(&["danted"]) {
        return;
    }
    let s = Server::start(&["thread-serve", "tls://127.0.0.1:0", "--reply", "ok", "-q"]);
    let fp = fingerprint(&s);
    let out = run(
        &[
            "send",
            "--pin",
            &fp,
            "--count",
            "100",
            "--concurrency",
            "4",
            "--log-format",
            "json",
            &tls_of(&s),
            "hi",
        ],
        b"",
    );
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], 100, "{out}");
    // Through Dante: TLS runs inside the SOCKS tunnel, verified by the
    // target's name (the pin), never instead of it.
    let d = crate::proxy::dante(1);
    let out = run(
        &[
            "send",
            "--proxy",
            &d.url("socks5", ""),
            "--pin",
            &fp,
            &tls_of(&s),
            "hi",
        ],
        b"",
    );
    out.expect_code(0);
    assert_eq!(out.stdout, b"ok\n");
    let out = run(
        &["send", "--proxy", &d.url("socks5", ""), &tls_of(&s), "hi"],
        b"",
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("certificate not trusted"),
        "{}",
        out.stderr
    );
}

/// ALPN on both sides, shown by -v and in JSON; keys in every PEM form
/// (PKCS#8, SEC1, RSA) and a chain.
#[test]
fn alpn_and_key_formats() {
    if !needs(&["openssl"]) {
        return;
    }
    let s = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--alpn",
        "h2,http/1.1",
        "--reply",
        "x",
    ]);
    let fp = fingerprint(&s);
    let out = run(
        &[
            "send",
            "-v",
            "--pin",
            &fp,
            "--alpn",
            "http/1.1",
            &tls_of(&s),
        ],
        b"",
    );
    out.expect_code(0);
    assert!(out.stderr.contains(", alpn http/1.1"), "{}", out.stderr);
    let out = run(
        &[
            "send",
            "-v",
            "--log-format",
            "json",
            "--pin",
            &fp,
            "--alpn",
            "h2",
            &tls_of(&s),
        ],
        b"",
    );
    let tls_event = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "tls")
        .expect("a tls event");
    assert_eq!(tls_event["alpn"], "h2");
    assert_eq!(tls_event["version"], "TLSv1.3");

    let dir = TempDir::new();
    let sh = |cmd: &str| sh_in(&dir, cmd);
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -days 2 -subj /CN=ca 2>/dev/null",
    );
    sh("openssl ecparam -name prime256v1 -genkey -noout -out sec1.key");
    sh("openssl genrsa -traditional -out rsa.key 2048 2>/dev/null");
    sh(
        "openssl genpkey -algorithm ed25519 -out pkcs8.key 2>/dev/null || \
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out pkcs8.key",
    );
    for key in ["sec1.key", "rsa.key", "pkcs8.key"] {
        let first = std::fs::read_to_string(dir.path(key)).unwrap();
        let form = first.lines().next().unwrap().to_string();
        sh(&format!(
            "openssl req -new -key {key} -subj /CN=localhost -out s.csr && \
             printf 'subjectAltName=IP:127.0.0.1\\n' > s.ext && \
             openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
             -extfile s.ext -out leaf.pem 2>/dev/null && cat leaf.pem ca.pem > chain.pem"
        ));
        let chain = dir.path("chain.pem");
        let keyp = dir.path(key);
        let s = Server::start(&[
            "fork-serve",
            "tls://127.0.0.1:0",
            "--cert",
            chain.to_str().unwrap(),
            "--key",
            keyp.to_str().unwrap(),
            "--reply",
            "chained",
        ]);
        let ca = dir.path("ca.pem");
        let out = run(
            &["send", "--cacert", ca.to_str().unwrap(), &tls_of(&s)],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"chained\n", "{key} ({form})");
    }
}

/// A client that connects and never starts its handshake is dropped (at
/// --idle-timeout here; at 10 s otherwise), and the server goes on.
#[test]
fn a_silent_client_is_dropped_during_the_handshake() {
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "tls://127.0.0.1:0",
            "--reply",
            "ok",
            "--idle-timeout",
            "300ms",
        ]);
        let mut silent = std::net::TcpStream::connect(s.addr()).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 64];
        let started = std::time::Instant::now();
        let n = silent.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "{model}: the server closed the silent client");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{model}: {:?}",
            started.elapsed()
        );
        let out = send_pinned(&s, &tls_of(&s), &[], b"");
        assert_eq!(out.stdout, b"ok\n", "{model}");
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// A ClientHello's first bytes: a handshake record announcing 512 bytes,
/// of which a few come.
const PARTIAL_CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03partial-random";

/// A peer that closes (FIN, with nothing sent or half a ClientHello) or
/// resets before its handshake ends: its connection ends at once with an
/// event that says so, the server spends no CPU on it (serve's loop used to
/// spin on the closed socket for good, deaf to SIGTERM; the blocking models
/// for 10 s, then said "no handshake"), the next client is served, and
/// SIGTERM still stops the server with 0.
#[test]
fn a_peer_closing_during_the_handshake_costs_the_server_nothing() {
    use std::net::{Shutdown, TcpStream};
    use std::time::Instant;
    for model in MODELS {
        let mut s = Server::start(&[model, "tls://127.0.0.1:0", "--reply", "ok"]);
        for (how, hello, reset) in [
            ("FIN at once", &b""[..], false),
            ("FIN after half a ClientHello", PARTIAL_CLIENT_HELLO, false),
            ("a reset", &b""[..], true),
            (
                "a reset after half a ClientHello",
                PARTIAL_CLIENT_HELLO,
                true,
            ),
        ] {
            let mut c = TcpStream::connect(s.addr()).unwrap();
            c.write_all(hello).unwrap();
            if reset {
                socket2::SockRef::from(&c)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(c);
                continue;
            }
            c.shutdown(Shutdown::Write).unwrap();
            // The server closes it at once: its FIN (or a reset) ends the
            // read, long before the handshake's 10 s.
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let started = Instant::now();
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf);
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{model}, {how}: ended after {:?} ({n:?})",
                started.elapsed()
            );
        }
        wait_until(
            "two closes during the handshake",
            Duration::from_secs(5),
            || {
                s.err()
                    .matches("tls: the peer closed the connection during the handshake")
                    .count()
                    == 2
            },
        );
        let out = run(&["send", "--insecure", &tls_of(&s)], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"ok\n", "{model}");
        let cpu = cpu_time(s.pid());
        assert!(cpu < Duration::from_secs(1), "{model}: {cpu:?} of CPU");
        assert!(!s.err().contains("no handshake within"), "{model}");
        s.signal(libc::SIGTERM);
        assert_eq!(s.wait(), Some(0), "{model}");
    }
}

/// A TLS upstream that closes before its handshake ends: the forwarded
/// client is closed at once with an event that says so, in every model
/// (serve's loop drives that handshake itself).
#[test]
fn an_upstream_closing_during_the_tls_handshake_ends_the_client_at_once() {
    use std::time::Instant;
    let up = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up_addr = format!("tls://{}", up.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in up.incoming() {
            let Ok(mut c) = c else { break };
            // FIN first, then read the ClientHello, so no reset is sent.
            let _ = c.shutdown(std::net::Shutdown::Write);
            let _ = c.set_read_timeout(Some(T));
            let _ = std::io::copy(&mut c, &mut std::io::sink());
        }
    });
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--forward", &up_addr, "--insecure"]);
        let started = Instant::now();
        // The client was owed an answer: it is reset (issue 19, item 7).
        let out = run(&["send", s.addr(), "hi"], b"");
        out.expect_code(1);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{model}: {:?}",
            started.elapsed()
        );
        s.wait_err("during the handshake");
        let cpu = cpu_time(s.pid());
        assert!(cpu < Duration::from_secs(1), "{model}: {cpu:?} of CPU");
        s.signal(libc::SIGTERM);
        assert_eq!(s.wait(), Some(0), "{model}");
    }
}

/// The certificate line is a JSON event too; over a Unix socket a client
/// verifies by --cacert with --sni (the generated certificate names
/// localhost), and without a way to verify it is refused before it
/// connects.
#[test]
fn certificate_event_and_unix_verification() {
    let s = Server::start(&["serve", "tls://127.0.0.1:0", "--log-format", "json", "-q"]);
    let first: serde_json::Value = serde_json::from_str(s.err().lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "tls_certificate");
    assert!(first["sha256"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        first["spki_sha256"]
            .as_str()
            .unwrap()
            .starts_with("spki-sha256:")
    );

    let dir = TempDir::new();
    let (c, k) = (dir.path("c.pem"), dir.path("k.pem"));
    let (c, k) = (c.to_str().unwrap(), k.to_str().unwrap());
    let path = format!("unix:{}", dir.path("tls.sock").display());
    let s = Server::start(&[
        "thread-serve",
        &path,
        "--tls",
        "--reply",
        "over unix",
        "--save-cert",
        c,
        "--save-key",
        k,
    ]);
    let out = run(
        &[
            "send",
            "--tls",
            "--cacert",
            c,
            "--sni",
            "localhost",
            s.addr(),
        ],
        b"",
    );
    out.expect_code(0);
    assert_eq!(out.stdout, b"over unix\n");
    let out = run(&["send", "--tls", "--cacert", c, s.addr()], b"");
    out.expect_code(2);
    // A certificate for a loopback address names localhost too.
    let (c6, k6) = (dir.path("c6.pem"), dir.path("k6.pem"));
    let (c6, k6) = (c6.to_str().unwrap(), k6.to_str().unwrap());
    let s = Server::start(&[
        "serve",
        "tls://[::1]:0",
        "--reply",
        "v6",
        "--save-cert",
        c6,
        "--save-key",
        k6,
    ]);
    for target in [tls_of(&s), format!("tls://localhost:{}", s.port())] {
        let out = run(&["send", "--cacert", c6, &target], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"v6\n", "{target}");
    }
    assert!(
        out.stderr
            .contains("a Unix socket has no host name to verify"),
        "{}",
        out.stderr
    );
}

/// TLS options that cannot work are one line and exit 2, before anything
/// connects or listens.
#[test]
fn tls_usage_errors() {
    let pin = format!("sha256:{}", ["AB"; 32].join(":"));
    for (args, msg) in [
        (
            vec!["send", "--pin", &pin, "127.0.0.1:1", "x"],
            "are for TLS: connect to tls://HOST:PORT",
        ),
        (
            vec!["send", "--pin", "sha256:AB", "tls://127.0.0.1:1", "x"],
            "a SHA-256 is 32 bytes",
        ),
        (
            vec!["send", "--pin", "md5:AB", "tls://127.0.0.1:1", "x"],
            "give sha256:HEX",
        ),
        (
            vec![
                "send",
                "--pin",
                &pin,
                "--insecure",
                "tls://127.0.0.1:1",
                "x",
            ],
            "contradict",
        ),
        (
            vec!["send", "--sni", "not a name", "tls://127.0.0.1:1", "x"],
            "--sni not a name: not a name TLS can verify",
        ),
        (vec!["send", "--tls", "udp://127.0.0.1:1", "x"], "not udp"),
        (
            vec![
                "send",
                "--cacert",
                "/nonexistent.pem",
                "tls://127.0.0.1:1",
                "x",
            ],
            "--cacert /nonexistent.pem",
        ),
        (
            vec!["serve", "udp://127.0.0.1:0", "--tls"],
            "TLS runs over a TCP or Unix stream socket, not udp",
        ),
        (
            vec![
                "serve",
                "tls://127.0.0.1:0",
                "--cert",
                "/nonexistent.pem",
                "--key",
                "/nonexistent.key",
            ],
            "--cert /nonexistent.pem",
        ),
        (
            vec!["serve", "127.0.0.1:0", "--cert", "/a", "--key", "/b"],
            "is for a TLS server",
        ),
        (
            vec!["serve", "tls://127.0.0.1:0", "--alpn", "h2,,x"],
            "--alpn h2,,x",
        ),
        (vec!["serve", "127.0.0.1:0", "--pin", &pin], "--forward"),
    ] {
        let out = run(&args, b"");
        out.expect_code(2);
        assert!(out.stderr.contains(msg), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }
}

/// A Python TLS client: floods the server without ever reading (the
/// first line it prints is how much it got out before the server stopped
/// taking), or, with `reset`, sends a little and resets the connection.
fn hostile_client(addr: &str, reset: bool) -> std::process::Child {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let py = format!(
        "import socket, ssl, struct, sys, time\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
         ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         raw = socket.create_connection(('{host}', {port}))\n\
         s = ctx.wrap_socket(raw)\n\
         if {reset}:\n\
         \x20   s.sendall(b'x' * 100000)\n\
         \x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
         \x20   s.close(); print('reset', flush=True); sys.exit(0)\n\
         s.settimeout(2); sent = 0; chunk = b'x' * 65536\n\
         try:\n\
         \x20   while sent < 64 << 20: sent += s.send(chunk)\n\
         except (socket.timeout, ssl.SSLWantWriteError): pass\n\
         print(sent, flush=True); time.sleep(60)\n",
        reset = if reset { "True" } else { "False" }
    );
    Command::new("python3")
        .args(["-c", &py])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn first_line(child: &mut std::process::Child) -> String {
    line_within(child.stdout.take().unwrap(), T)
}

/// A TLS client that never reads stops its own flood at the server, which
/// holds a bounded amount, in every model; one that resets mid-transfer
/// ends only its own connection. The server serves the next client.
#[test]
fn hostile_tls_clients_cost_a_bounded_amount() {
    if !needs(&["python3"]) {
        return;
    }
    for model in MODELS {
        let mut s = Server::start(&[model, "tls://127.0.0.1:0", "--echo", "-q"]);
        let before = rss_all(s.pid());
        let mut flood = hostile_client(s.addr(), false);
        let sent: usize = first_line(&mut flood).parse().expect("bytes sent");
        assert!(sent < 64 << 20, "{model}: the server took all {sent} bytes");
        let after = rss_all(s.pid());
        assert!(
            after < before + 16 * 1024,
            "{model}: RSS {before} -> {after} KiB with {sent} bytes sent"
        );
        let _ = flood.kill();
        let _ = flood.wait();
        let mut reset = hostile_client(s.addr(), true);
        assert_eq!(first_line(&mut reset), "reset");
        wait_child(&mut reset, T);
        let out = send_pinned(&s, &tls_of(&s), &["still", "serving"], b"");
        assert_eq!(out.stdout, b"still serving\n", "{model}: {}", s.err());
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// A client certificate's subject is the peer's to choose: one holding a
/// newline and an escape cannot forge an event line or drive the terminal
/// in any model (issue 19, item 9). The CA and the certificate are made
/// here with rcgen, so no outside program is needed.
#[test]
fn a_certificate_subject_cannot_forge_an_event_line() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = TempDir::new();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test ca");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut evil = CertificateParams::new(Vec::<String>::new()).unwrap();
    evil.distinguished_name.push(
        DnType::CommonName,
        "evil\ngot connection from 1.2.3.4\u{1b}[2J",
    );
    let cert_pem = evil.signed_by(&key, &issuer).unwrap().pem();
    let p = |n: &str| dir.path(n).display().to_string();
    std::fs::write(p("ca.pem"), ca_pem).unwrap();
    std::fs::write(p("client.pem"), cert_pem).unwrap();
    std::fs::write(p("client.key"), key.serialize_pem()).unwrap();
    for model in MODELS {
        let s = Server::start(&[
            model,
            "tls://127.0.0.1:0",
            "--client-ca",
            &p("ca.pem"),
            "--reply",
            "hi",
        ]);
        let out = send_pinned(
            &s,
            &tls_of(&s),
            &["--cert", &p("client.pem"), "--key", &p("client.key")],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"hi\n", "{model}\n{out}");
        s.wait_err("evil\\x0agot connection from 1.2.3.4\\x1b[2J");
        let err = s.err();
        assert!(
            !err.lines()
                .any(|l| l.starts_with("got connection from 1.2.3.4")),
            "{model}: a forged event line\n{err}"
        );
        assert!(!err.contains('\u{1b}'), "{model}: a raw escape\n{err}");
    }
}

/// Every file sockcat reads is bounded (issue 19, item 8): a certificate,
/// key or CA file that never ends (`/dev/zero`) is one line and exit 2 at
/// once, not gigabytes of memory; so is a UDP input line without end.
#[test]
fn endless_files_are_refused_not_read_into_memory() {
    let dir = TempDir::new();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.path("c.pem").display().to_string();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let z = "/dev/zero";
    for (args, flag) in [
        (
            vec!["serve", "tls://127.0.0.1:0", "--cert", z, "--key", z],
            "--cert",
        ),
        (
            vec![
                "serve",
                "tls://127.0.0.1:0",
                "--cert",
                &cert_path,
                "--key",
                z,
            ],
            "--key",
        ),
        (
            vec!["serve", "tls://127.0.0.1:0", "--client-ca", z],
            "--client-ca",
        ),
        (
            vec!["send", "--cacert", z, "tls://127.0.0.1:1", "x"],
            "--cacert",
        ),
    ] {
        let out = run_in(&args, b"", Duration::from_secs(10));
        out.expect_code(2);
        assert!(
            out.stderr
                .contains(&format!("{flag} /dev/zero: larger than 16 MiB")),
            "{out}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
    }
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("udp://{}", sink.local_addr().unwrap());
    let out = run_in(&["send", &to, "--file", z], b"", Duration::from_secs(10));
    out.expect_code(1);
    assert!(out.stderr.contains("longer than 1 MiB"), "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
}

/// Issue 19, item 12: a v1 `--cert` is one plain line (it was
/// `Other(OtherError(UnsupportedCertVersion))`), for a server and a
/// client; a self-signed CA certificate presented by a *client* gets
/// advice for a client's certificate, not the server's.
#[test]
fn certificate_refusals_are_plain_and_fit_whose_certificate_it_is() {
    if !needs(&["openssl"]) {
        return;
    }
    let dir = TempDir::new();
    let p = |n: &str| dir.path(n).to_str().unwrap().to_string();
    let sh = |cmd: &str| sh_in(&dir, cmd);
    // `openssl x509 -req` without -extfile makes a v1 certificate.
    sh(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout v1.key \
         -out v1.csr -subj /CN=localhost 2>/dev/null && \
         openssl x509 -req -in v1.csr -signkey v1.key -days 2 -out v1.pem 2>/dev/null && \
         openssl x509 -in v1.pem -noout -text | grep -q 'Version: 1 '",
    );
    let (v1, v1_key) = (p("v1.pem"), p("v1.key"));
    for args in [
        vec![
            "serve",
            "tls://127.0.0.1:0",
            "--cert",
            &v1,
            "--key",
            &v1_key,
            "--echo",
        ],
        vec![
            "send",
            "--insecure",
            "--cert",
            &v1,
            "--key",
            &v1_key,
            "tls://127.0.0.1:1",
            "x",
        ],
    ] {
        let out = run(&args, b"");
        out.expect_code(2);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {out}");
        assert!(
            lines[0].contains(&format!(
                "--cert {v1}: it is an X.509 v1 certificate; TLS needs v3"
            )),
            "{out}"
        );
        assert!(!lines[0].contains("Other("), "{out}");
    }

    // A self-signed CA certificate (what `openssl req -x509` makes) as a
    // client's own, against a server that trusts it as --client-ca.
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
         -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null",
    );
    let (ca, ca_key) = (p("ca.pem"), p("ca.key"));
    let mut s = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--client-ca",
        &ca,
        "--reply",
        "x",
    ]);
    let out = run(
        &[
            "send",
            "--insecure",
            "--cert",
            &ca,
            "--key",
            &ca_key,
            &tls_of(&s),
            "x",
        ],
        b"",
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("does not trust our certificate"),
        "{out}"
    );
    s.wait_err("it is a CA certificate used as the client's own");
    let err = s.err();
    let line = err
        .lines()
        .find(|l| l.contains("client's own"))
        .unwrap_or_default();
    assert!(line.contains("--client-ca"), "{err}");
    assert!(
        !err.contains("server's own") && !err.contains("--pin"),
        "{err}"
    );
    assert_eq!(s.interrupt(), Some(130));
}

/// The key pin a zero-config server prints in curl's form is the one
/// `curl --pinnedpubkey` takes (issue 21, item 5): curl fetches a file
/// from `python3 -m http.server` through `serve tls:// --forward` in every
/// model, and a wrong pin is refused; `--pin` takes the same form.
#[test]
fn curl_takes_the_printed_pin() {
    if !needs(&["curl", "python3"]) {
        return;
    }
    let dir = TempDir::new();
    std::fs::write(dir.path("hello.txt"), "hello through tls\n").unwrap();
    let mut web = Command::new("python3")
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 43567 (http://127.0.0.1:43567/) ..."
    let line = line_within(web.stdout.take().unwrap(), T);
    let port = line
        .split(" port ")
        .nth(1)
        .and_then(|r| r.split(' ').next());
    let up = format!("127.0.0.1:{}", port.unwrap_or_else(|| panic!("{line}")));
    for model in MODELS {
        let s = Server::start(&[model, "tls://127.0.0.1:0", "--forward", &up]);
        let err = s.err();
        let pin = err
            .split_whitespace()
            .find(|w| w.starts_with("sha256//"))
            .unwrap_or_else(|| panic!("no curl pin in {err}"))
            .trim_end_matches(')')
            .to_string();
        let url = format!("https://{}/hello.txt", s.addr());
        let curl = |pin: &str| {
            output_within(
                Command::new("curl").args(["-sS", "-k", "--pinnedpubkey", pin, &url]),
                T,
            )
        };
        let o = curl(&pin);
        assert!(o.status.success(), "{model}: {o:?}");
        assert_eq!(o.stdout, b"hello through tls\n", "{model}");
        let wrong = format!("sha256//{}", "A".repeat(43) + "=");
        assert_eq!(curl(&wrong).status.code(), Some(90), "{model}: a wrong pin");
        // sockcat's own client takes the same form.
        let out = run(
            &["send", "--pin", &pin, &tls_of(&s)],
            b"GET /hello.txt HTTP/1.0\r\n\r\n",
        );
        out.expect_code(0);
        assert!(
            out.stdout_str().ends_with("hello through tls\n"),
            "{model}: {out}"
        );
    }
    let _ = web.kill();
    let _ = web.wait();
    // The JSON event carries it for scripts.
    let s = Server::start(&["serve", "tls://127.0.0.1:0", "--log-format", "json"]);
    let ev: serde_json::Value = serde_json::from_str(s.err().lines().next().unwrap()).unwrap();
    assert_eq!(ev["event"], "tls_certificate", "{ev}");
    let curl = ev["curl_pin"].as_str().unwrap_or_default();
    assert!(curl.starts_with("sha256//") && curl.len() == 52, "{ev}");
}

/// Issue 21, item 6: a self-signed certificate made the usual way
/// (`openssl req -x509 … -subj /CN=localhost -addext subjectAltName=…`,
/// which marks it CA:TRUE) is trusted by `--cacert` naming that very
/// certificate, as curl's `--cacert` and socat's `cafile=` trust it, with
/// its name still checked: by `send`, and by `--forward` in every model,
/// whose refusal reads the same in all three. Against sockcat and against
/// `openssl s_server` with that certificate.
#[test]
fn a_self_signed_ca_certificate_in_cacert_is_trusted_with_its_name() {
    if !needs(&["openssl"]) {
        return;
    }
    let dir = TempDir::new();
    let p = |n: &str| dir.path(n).to_str().unwrap().to_string();
    for (name, cn) in [("up", "localhost"), ("other", "other.example")] {
        sh_in(
            &dir,
            &format!(
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                 -keyout {name}.key -out {name}.crt -days 2 -subj /CN={cn} \
                 -addext subjectAltName=DNS:{cn} 2>/dev/null && \
                 openssl x509 -in {name}.crt -noout -text | grep -q 'CA:TRUE'"
            ),
        );
    }
    let (crt, key, other) = (p("up.crt"), p("up.key"), p("other.crt"));

    // sockcat as the server.
    let up = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--cert",
        &crt,
        "--key",
        &key,
        "--echo",
        "-q",
    ]);
    let by_name = format!("tls://localhost:{}", up.port());
    let by_ip = format!("tls://127.0.0.1:{}", up.port());
    let out = run(&["send", "--cacert", &crt, &by_name, "hi"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"hi\n");
    // The name is still checked: the certificate is for localhost only.
    let out = run(&["send", "--cacert", &crt, &by_ip, "hi"], b"");
    out.expect_code(1);
    assert!(out.stderr.contains("it is not for this name"), "{out}");
    // Another self-signed certificate trusts nothing but itself.
    let out = run(&["send", "--cacert", &other, &by_name, "hi"], b"");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("it is a CA certificate used as the server's own")
            && out.stderr.contains("that --cacert does not hold"),
        "{out}"
    );
    // And a file holding both certificates trusts the server.
    sh_in(&dir, "cat other.crt up.crt > both.crt");
    run(&["send", "--cacert", &p("both.crt"), &by_name, "hi"], b"").expect_code(0);
    let data = random_bytes(64 << 10, 21);
    for model in MODELS {
        let mut f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--forward",
            &by_name,
            "--cacert",
            &crt,
        ]);
        let got = crate::handlers::exchange(f.addr(), &data);
        assert!(
            got == data,
            "{model}: {} of {} bytes",
            got.len(),
            data.len()
        );
        assert_eq!(f.interrupt(), Some(130));
        // A wrong name: one line, the same words in every model.
        let mut f = Server::start(&[model, "127.0.0.1:0", "--forward", &by_ip, "--cacert", &crt]);
        run(&["send", f.addr(), "x"], b"").expect_code(1);
        let want = format!(
            "forward to {by_ip} failed: tls: certificate not trusted: it is not for this name"
        );
        f.wait_err(&want);
        assert!(!f.err().contains("connect to"), "{model}: {}", f.err());
        assert_eq!(f.interrupt(), Some(130));
    }

    // openssl s_server with that certificate: `-rev` sends each line
    // back reversed; it prints `ACCEPT ADDR:PORT` once it listens.
    let mut srv = Command::new("openssl")
        .args([
            "s_server",
            "-rev",
            "-naccept",
            "4",
            "-accept",
            "127.0.0.1:0",
        ])
        .args(["-cert", &crt, "-key", &key])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = std::io::BufReader::new(srv.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap_or(0) > 0 {
            if tx.send(std::mem::take(&mut line)).is_err() {
                return;
            }
        }
    });
    let port = loop {
        let line = rx.recv_timeout(T).expect("openssl s_server never listened");
        if let Some(at) = line.trim().strip_prefix("ACCEPT 127.0.0.1:") {
            break at.to_string();
        }
    };
    let target = format!("tls://localhost:{port}");
    let out = run(&["send", "--cacert", &crt, &target, "hello"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"olleh\n");
    for model in MODELS {
        let mut f = Server::start(&[model, "127.0.0.1:0", "--forward", &target, "--cacert", &crt]);
        let out = run(&["send", f.addr(), "hello"], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"olleh\n", "{model}: {out}");
        assert_eq!(f.interrupt(), Some(130));
    }
    let _ = srv.kill();
    let _ = srv.wait();
}

/// A server certificate that --cacert holds is trusted without a chain,
/// but not outside its dates (as curl --cacert refuses an expired one):
/// self-signed CA:TRUE certificates for localhost, one expired and one not
/// valid yet, made here with rcgen.
#[test]
fn a_certificate_held_in_cacert_is_still_dated() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, date_time_ymd};
    let dir = TempDir::new();
    let p = |n: &str| dir.path(n).display().to_string();
    for (name, from, to, says) in [
        ("old", (2020, 1, 1), (2020, 2, 1), "it has expired"),
        ("new", (2090, 1, 1), (2091, 1, 1), "it is not valid yet"),
        ("now", (2020, 1, 1), (2090, 1, 1), ""),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut c = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        c.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        c.not_before = date_time_ymd(from.0, from.1, from.2);
        c.not_after = date_time_ymd(to.0, to.1, to.2);
        let cert = c.self_signed(&key).unwrap();
        std::fs::write(p(&format!("{name}.crt")), cert.pem()).unwrap();
        std::fs::write(p(&format!("{name}.key")), key.serialize_pem()).unwrap();
        let (crt, key) = (p(&format!("{name}.crt")), p(&format!("{name}.key")));
        let s = Server::start(&[
            "serve",
            "tls://127.0.0.1:0",
            "--cert",
            &crt,
            "--key",
            &key,
            "--echo",
            "-q",
        ]);
        let to = format!("tls://localhost:{}", s.port());
        let out = run(&["send", "--cacert", &crt, &to, "hi"], b"");
        if says.is_empty() {
            out.expect_code(0);
            assert_eq!(out.stdout, b"hi\n", "{name}: {out}");
        } else {
            out.expect_code(1);
            assert!(out.stderr.contains(says), "{name}: {out}");
            assert!(out.stdout.is_empty(), "{name}: {out}");
        }
    }
}
