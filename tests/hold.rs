//! `send --hold DUR` (issue 21, item 1): after the input, no half-close;
//! the exchange ends, exit 0, once the peer has been quiet for DUR (or at
//! the peer's close). Against the real proxies that end the whole tunnel
//! at a half-close (microsocks, tinyproxy) and `ncat --ssl`, which ends the
//! connection at close_notify; the warning that names `--hold` when a reply
//! is lost that way; `truncated` in JSON; and the combinations refused.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::handlers::MODELS;
use crate::proxy::{microsocks, tinyproxy};
use crate::util::*;

/// The warning's fix, as it names it.
const FIX: &str = "keep the write side open with --hold DUR";

/// The JSON events on stderr.
fn events(err: &str) -> Vec<serde_json::Value> {
    err.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A 1 MiB file through microsocks and tinyproxy to an echo server: with
/// `--hold` the whole file comes back, exit 0; without it the proxy ends
/// the tunnel at send's FIN, the reply is empty or cut (exit 0 as before),
/// and an empty one gets one warning naming `--hold`.
#[test]
fn hold_keeps_a_proxy_tunnel_open_for_the_reply() {
    if !needs(&["microsocks", "tinyproxy"]) {
        return;
    }
    let echo = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let m = microsocks();
    let t = tinyproxy(echo.port());
    let dir = TempDir::new();
    let file = dir.path("1m.bin");
    let data = random_bytes(1 << 20, 21);
    std::fs::write(&file, &data).unwrap();
    let file = file.to_str().unwrap();
    for url in [m.url("socks5", "u:p%20w@"), t.url("http", "al:ice@")] {
        let started = Instant::now();
        let out = run(
            &[
                "send",
                "--proxy",
                &url,
                "--file",
                file,
                "--hold",
                "300ms",
                echo.addr(),
            ],
            b"",
        );
        out.expect_code(0);
        assert!(
            out.stdout == data,
            "{url}: {} of {} bytes\n{}",
            out.stdout.len(),
            data.len(),
            out.stderr
        );
        assert_eq!(out.stderr, "", "{url}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{url}");

        // Without --hold the tunnel ends at the FIN: the reply is cut
        // (here 0-12 KiB; exit 0 as before: nothing tells it from a server
        // that closed), and an empty one is warned about.
        let out = run(&["send", "--proxy", &url, "--file", file, echo.addr()], b"");
        out.expect_code(0);
        if out.stdout.is_empty() {
            assert!(out.stderr.contains(FIX), "{url}: {}", out.stderr);
            assert!(
                out.stderr
                    .contains("ended right after send's half-close, with no reply"),
                "{}",
                out.stderr
            );
            assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        }
    }
    // A server that answers half a second after the request: microsocks
    // has ended the tunnel at send's FIN by then, every time; the warning
    // comes every time, in JSON too. With --hold the answer arrives.
    let late = Server::start(&[
        "serve",
        "127.0.0.1:0",
        "-q",
        "--sh-exec",
        "sleep 0.5; echo late",
    ]);
    let url = m.url("socks5", "u:p%20w@");
    for _ in 0..3 {
        let out = run(
            &[
                "send",
                "--proxy",
                &url,
                "--log-format",
                "json",
                late.addr(),
                "hi",
            ],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"");
        let ev = events(&out.stderr);
        assert_eq!(ev.len(), 1, "{}", out.stderr);
        assert_eq!(ev[0]["event"], "warning");
        assert_eq!(ev[0]["truncated"], false);
        assert!(ev[0]["message"].as_str().unwrap().contains(FIX));
        let out = run(
            &["send", "--proxy", &url, "--hold", "2s", late.addr(), "hi"],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"late\n");
    }
}

/// `ncat --ssl -l` ends the connection at the client's close_notify: a
/// reply it sends after that is lost without `--hold` (exit 0), and
/// arrives with it.
#[test]
fn hold_gets_the_reply_of_ncat_ssl() {
    if !needs(&["ncat"]) {
        return;
    }
    let port = free_port();
    let mut nc = Command::new("ncat")
        .args([
            "--ssl",
            "-l",
            "-k",
            "127.0.0.1",
            &port.to_string(),
            "--sh-exec",
            "sleep 1; echo from ncat",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let target = format!("tls://127.0.0.1:{port}");
    wait_until("ncat listens", T, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    for _ in 0..3 {
        let out = run(
            &["send", "-q", "--insecure", "--hold", "3s", &target, "x"],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"from ncat\n");
        let out = run(&["send", "--insecure", &target, "x"], b"");
        out.expect_code(0);
        assert_eq!(
            out.stdout, b"",
            "ncat kept the connection after close_notify"
        );
        // ncat here answers close_notify with its own: no warning (a sink
        // does the same). One that closes without it is warned about.
        if out.stderr.contains("without close_notify") {
            assert!(out.stderr.contains(FIX), "{}", out.stderr);
        } else {
            assert!(!out.stderr.contains(FIX), "{}", out.stderr);
        }
    }
    let _ = nc.kill();
    let _ = nc.wait();
}

/// An echo server that never closes (sockcat's, which closes only after
/// the client's FIN): `--hold` ends after DUR of quiet, exit 0, with the
/// whole reply, in every model, over TCP, TLS and a Unix socket. The quiet
/// is counted from the last byte that came, not from the input's end.
#[test]
fn hold_ends_after_the_quiet_with_the_whole_reply() {
    let data = random_bytes(1 << 20, 22);
    let dir = TempDir::new();
    for model in MODELS {
        let sock = dir.path(&format!("{model}.sock"));
        let unix = format!("unix:{}", sock.display());
        for (listen, extra) in [
            ("127.0.0.1:0".to_string(), &[][..]),
            ("tls://127.0.0.1:0".to_string(), &["--insecure"][..]),
            (unix.clone(), &[][..]),
        ] {
            let s = Server::start(&[model, &listen, "--echo", "-q"]);
            let target = if listen.starts_with("tls://") {
                format!("tls://{}", s.addr())
            } else {
                s.addr().to_string()
            };
            let mut args = vec!["send", "-q", "--hold", "300ms"];
            args.extend_from_slice(extra);
            args.push(&target);
            let started = Instant::now();
            let out = run(&args, &data);
            out.expect_code(0);
            assert!(
                out.stdout == data,
                "{model} {listen}: {} of {} bytes",
                out.stdout.len(),
                data.len()
            );
            let took = started.elapsed();
            assert!(
                took >= Duration::from_millis(300),
                "{model} {listen}: {took:?}"
            );
            assert!(took < T / 2, "{model} {listen}: {took:?}");
        }
        // Bytes every 100ms for half a second, and then quiet with the
        // connection open (cat waits for a FIN that does not come).
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--sh-exec",
            "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done; exec cat",
        ]);
        let out = run(&["send", "--hold", "1s", s.addr(), "x"], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"1\n2\n3\n4\n5\nx\n", "{model}");
    }
}

/// With --log-format json, send's closed event (under -v) carries
/// `truncated`: false for a close_notify or a held end, true (with a
/// warning carrying `truncated`: true too) for a TLS peer that closed
/// without close_notify.
#[test]
fn truncated_is_in_the_json_events() {
    let s = Server::start(&["serve", "tls://127.0.0.1:0", "--echo", "-q"]);
    let target = format!("tls://{}", s.addr());
    for hold in [&[][..], &["--hold", "200ms"][..]] {
        let mut args = vec!["send", "-v", "--insecure", "--log-format", "json"];
        args.extend_from_slice(hold);
        args.extend([target.as_str(), "hi"]);
        let out = run(&args, b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"hi\n");
        let ev = events(&out.stderr);
        let closed = ev.iter().find(|e| e["event"] == "closed").expect("closed");
        assert_eq!(closed["truncated"], false, "{}", out.stderr);
    }
    // A plain stream's closed event says false too: a script tests one field.
    let p = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let out = run(&["send", "-v", "--log-format", "json", p.addr(), "hi"], b"");
    let ev = events(&out.stderr);
    let closed = ev.iter().find(|e| e["event"] == "closed").expect("closed");
    assert_eq!(closed["truncated"], false, "{}", out.stderr);

    if !needs(&["python3"]) {
        return;
    }
    // A Python TLS server that answers (then nothing), then closes without
    // close_notify at send's: the warning names the truncation and --hold.
    let dir = TempDir::new();
    let (c, k) = (dir.path("c.pem"), dir.path("k.pem"));
    let (c, k) = (c.to_str().unwrap(), k.to_str().unwrap());
    let _keep = Server::start(&[
        "serve",
        "tls://127.0.0.1:0",
        "--save-cert",
        c,
        "--save-key",
        k,
    ]);
    let py = format!(
        "import socket, ssl, os\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{c}', '{k}')\n\
         l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
         print(l.getsockname()[1], flush=True)\n\
         for answer in [b'cut short\\n', b'']:\n\
         \x20   s, _ = l.accept(); t = ctx.wrap_socket(s, server_side=True)\n\
         \x20   t.sendall(answer); t.recv(100)\n\
         \x20   os.close(t.detach())\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &py])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let port = line_within(child.stdout.take().unwrap(), T);
    for (answer, how) in [
        (&b"cut short\n"[..], "and what came may be truncated"),
        (b"", "with no reply"),
    ] {
        let out = run(
            &[
                "send",
                "-v",
                "--insecure",
                "--log-format",
                "json",
                &format!("tls://127.0.0.1:{port}"),
            ],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, answer);
        let ev = events(&out.stderr);
        let closed = ev.iter().find(|e| e["event"] == "closed").expect("closed");
        assert_eq!(closed["truncated"], true, "{}", out.stderr);
        let warned: Vec<_> = ev
            .iter()
            .filter(|e| e["event"] == "warning" && e["truncated"] == true)
            .collect();
        assert_eq!(warned.len(), 1, "{}", out.stderr);
        let msg = warned[0]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!(
                "closed the TLS connection without close_notify right after send's half-close, {how}"
            )) && msg.contains(FIX),
            "{msg}"
        );
    }
    let _ = wait_child(&mut child, T);
}

/// For datagrams --hold is --wait (they already end after a quiet DUR).
#[test]
fn hold_over_udp_is_the_quiet_wait() {
    for model in MODELS {
        let s = Server::start(&[model, "udp://127.0.0.1:0", "--echo", "-q"]);
        let started = Instant::now();
        let out = run(&["send", "--hold", "300ms", s.addr(), "hello"], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"hello\n", "{model}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{model}");
    }
}

/// Where --hold means nothing or contradicts another option: one line,
/// exit 2.
#[test]
fn hold_refuses_what_it_cannot_mean() {
    for (args, msg) in [
        (
            &["send", "-z", "--hold", "1s", "127.0.0.1:9"][..],
            "--hold keeps a connection open after its input; -z sends nothing",
        ),
        (
            &["send", "-z", "--hold", "1s", "127.0.0.1", "20-30"],
            "--hold keeps a connection open after its input; -z sends nothing",
        ),
        (
            &["send", "--count", "3", "--hold", "1s", "127.0.0.1:9", "x"],
            "--hold is for one exchange; load mode",
        ),
        (
            &[
                "send",
                "--duration",
                "1s",
                "--hold",
                "1s",
                "127.0.0.1:9",
                "x",
            ],
            "--hold is for one exchange; load mode",
        ),
        (
            &[
                "send",
                "--hold",
                "1s",
                "--wait",
                "500ms",
                "127.0.0.1:9",
                "x",
            ],
            "--wait 500ms must be longer than --hold 1s",
        ),
        (
            &["send", "--hold", "1s", "--wait", "1s", "127.0.0.1:9", "x"],
            "--wait 1s must be longer than --hold 1s",
        ),
        (
            &[
                "send",
                "--hold",
                "2s",
                "--idle-timeout",
                "1s",
                "127.0.0.1:9",
                "x",
            ],
            "--idle-timeout 1s is shorter than --hold 2s",
        ),
        (
            &[
                "send",
                "--hold",
                "1s",
                "--wait",
                "2s",
                "udp://127.0.0.1:9",
                "x",
            ],
            "for datagrams --hold and --wait are the same",
        ),
        (
            &["send", "--hold", "0s", "127.0.0.1:9", "x"],
            "must be longer than 0s",
        ),
        (
            &["send", "--hold", "soon", "127.0.0.1:9", "x"],
            "invalid duration",
        ),
    ] {
        let out = run(args, b"");
        out.expect_code(2);
        assert!(out.stderr.contains(msg), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }
    // What it combines with: --no-shutdown (implied), a longer --wait and
    // an --idle-timeout no shorter than the hold.
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    for extra in [
        &["--no-shutdown"][..],
        &["--wait", "10s"],
        &["--idle-timeout", "300ms"],
    ] {
        // (Options go before the address: what follows it is the message.)
        let mut args = vec!["send", "--hold", "300ms"];
        args.extend_from_slice(extra);
        args.extend([s.addr(), "hi"]);
        let out = run(&args, b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"hi\n", "{extra:?}");
    }
    // A peer that goes on talking past --wait: the reply did not end, 124.
    let chatty = Server::start(&[
        "serve",
        "127.0.0.1:0",
        "-q",
        "--sh-exec",
        "while :; do echo more; sleep 0.05; done",
    ]);
    let out = run(
        &[
            "send",
            "--hold",
            "600ms",
            "--wait",
            "2s",
            chatty.addr(),
            "x",
        ],
        b"",
    );
    out.expect_code(124);
    assert!(
        out.stderr.contains("no end of reply within 2s"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.starts_with(b"more\n"), "{out}");
}
