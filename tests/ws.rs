//! WebSocket (ws://, wss://): `send` and the three servers, every handler,
//! both ways through `--forward`, and real peers from Python's
//! `websockets` (tests/ws_peer.py): 64 MiB each way byte for byte,
//! fragmented messages, pings during a transfer, close codes, and the
//! framing rules (a client's frames masked, a server's not).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::handlers::MODELS;
use crate::tls::fingerprint;
use crate::util::*;

const PY: &str = "/usr/bin/python3";
const WEBSOCKETS: &str = "/usr/lib/python3/dist-packages/websockets/__init__.py";
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_peer.py");

/// A Python peer (killed when dropped) and what it prints, line by line.
struct Peer {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Peer {
    fn start(args: &[&str]) -> Peer {
        let mut child = Command::new(PY)
            .arg(PEER)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ws_peer.py");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Peer { child, lines }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(T * 3)
            .expect("a line from ws_peer.py")
    }

    /// A server peer's URL (its first line is its port).
    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.line())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sha256 ws_peer.py's `data(n, seed)` gives, by Python itself.
fn python_sha(n: usize, seed: u64) -> String {
    let out = output_within(
        Command::new(PY).args([
            "-c",
            &format!(
                "import random,hashlib;print(hashlib.sha256(random.Random({seed}).randbytes({n})).hexdigest())"
            ),
        ]),
        T,
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// sha256sum's hex digest of `data` (the tests need no hashing crate).
fn sha256(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let owned = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&owned));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next().unwrap_or("").to_string()
}

fn ws_of(s: &Server, path: &str) -> String {
    format!("ws://{}{path}", s.addr())
}

/// Every handler in every model behind ws://, with sockcat's own client:
/// our EOF is a Close, the server's reply still comes (its Close is its
/// FIN), and a program sees the path.
#[test]
fn every_handler_in_every_model_over_websocket() {
    let upstream = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let handlers: Vec<(Vec<&str>, &[u8], &[u8])> = vec![
        (vec!["--reply", "connected"], b"hello\n", b"connected\n"),
        (vec!["--echo"], b"hello\nthere", b"hello\nthere\n"),
        (vec!["--discard"], b"hello\n", b""),
        (vec!["--exec", "cat"], b"hello\n", b"hello\n"),
        (
            vec!["--sh-exec", "echo $SOCKCAT_WS_PATH; cat"],
            b"hi\n",
            b"/chat?x=1\nhi\n",
        ),
        (vec!["--forward", upstream.addr()], b"hello\n", b"hello\n"),
    ];
    for model in MODELS {
        for (h, input, want) in &handlers {
            let mut args = vec![model, "ws://127.0.0.1:0/chat", "-q"];
            args.extend(h.iter().copied());
            let mut s = Server::start(&args);
            let out = run(&["send", &ws_of(&s, "/chat?x=1")], input);
            out.expect_code(0);
            assert_eq!(out.stdout, *want, "{model} {h:?}: {}", s.err());
            assert_eq!(s.interrupt(), Some(130), "{model} {h:?}");
        }
        // The default handler prints what came; -v names the path and
        // both Close frames.
        let mut s = Server::start(&[model, "ws://127.0.0.1:0/", "-v"]);
        run(&["send", &ws_of(&s, "/any"), "printed", "over", "ws"], b"").expect_code(0);
        s.wait_out("printed over ws\n");
        s.wait_err("their close 1000, ours 1000");
        assert!(s.err().contains("websocket with 127.0.0.1:"), "{}", s.err());
        assert!(s.err().contains("path /any"), "{}", s.err());
        assert_eq!(s.interrupt(), Some(130));
    }
    // The broker relays between WebSocket clients.
    let mut s = Server::start(&["serve", "ws://127.0.0.1:0/", "--broker"]);
    let addr = ws_of(&s, "/");
    let listener = spawn(&["send", &addr, "--no-shutdown", "--wait", "1s"]);
    wait_until("the listener to connect", T, || {
        s.err().matches("got connection").count() == 1
    });
    run(&["send", &addr, "hi", "broker"], b"").expect_code(0);
    let out = listener.finish(T);
    assert_eq!(out.stdout, b"hi broker\n", "{}", out.stderr);
    assert_eq!(s.interrupt(), Some(130));
}

/// wss:// is a WebSocket over sockcat's TLS, with its trust options; a
/// path the server does not serve is a 404 the client reports.
#[test]
fn wss_with_trust_options_and_a_refused_path() {
    for model in MODELS {
        let mut s = Server::start(&[model, "wss://127.0.0.1:0/p", "--echo", "-q"]);
        let fp = fingerprint(&s);
        let url = format!("wss://{}/p", s.addr());
        let out = run(&["send", "--pin", &fp, &url], b"secret\n");
        out.expect_code(0);
        assert_eq!(out.stdout, b"secret\n", "{model}: {}", s.err());
        let out = run(&["send", "--insecure", "-v", &url], b"x\n");
        out.expect_code(0);
        assert!(out.stderr.contains("tls with"), "{}", out.stderr);
        // Unverified: refused by TLS before any Upgrade.
        let out = run(&["send", &url], b"x\n");
        assert_ne!(out.code, Some(0), "{out}");
        let out = run(
            &["send", "--pin", &fp, &format!("wss://{}/nope", s.addr())],
            b"x\n",
        );
        out.expect_code(1);
        assert!(out.stderr.contains("404 Not Found"), "{}", out.stderr);
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// A Python server sends 64 MiB in fragmented messages with a ping
/// between each, then closes with 4000; and a Python server takes 64 MiB
/// from `send --binary`. Byte for byte each way, and the close codes in
/// the events.
#[test]
fn sixty_four_mib_each_way_with_a_python_peer() {
    if !needs(&[PY, WEBSOCKETS]) {
        return;
    }
    let n = 64 << 20;
    let source = Peer::start(&["source", &n.to_string(), "5"]);
    let url = source.url("/down");
    let out = run_in(
        &[
            "send",
            "--binary",
            "--hold",
            "10s",
            "-v",
            "--log-format",
            "json",
            &url,
        ],
        b"",
        T * 3,
    );
    out.expect_code(0);
    assert_eq!(out.stdout.len(), n);
    assert_eq!(sha256(&out.stdout), python_sha(n, 5));
    let closed = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "websocket_closed")
        .unwrap_or_else(|| panic!("no websocket_closed event: {}", out.stderr));
    assert_eq!(closed["their_code"], 4000, "{closed}");
    assert_eq!(closed["their_reason"], "done", "{closed}");

    let sink = Peer::start(&["sink"]);
    let url = sink.url("/up");
    let data = random_bytes(n, 11);
    run_in(&["send", "--binary", &url], &data, T * 3).expect_code(0);
    let got = sink.line();
    assert_eq!(got, format!("{} {n} 1000", sha256(&data)));
}

/// A Python client sends fragmented binary messages with pings between
/// them through an echo server, reading as it sends: 64 MiB in serve, 8
/// MiB in the blocking models, byte for byte, and its Close answered.
#[test]
fn a_python_client_through_an_echo_server_in_every_model() {
    if !needs(&[PY, WEBSOCKETS]) {
        return;
    }
    for model in MODELS {
        let n: usize = if model == "serve" { 64 << 20 } else { 8 << 20 };
        let mut s = Server::start(&[model, "ws://127.0.0.1:0/echo", "--binary", "--echo", "-v"]);
        let client = Peer::start(&["client", &ws_of(&s, "/echo"), &n.to_string()]);
        assert_eq!(
            client.line(),
            format!("{} {n} 1000", python_sha(n, 7)),
            "{model}: {}",
            s.err()
        );
        s.wait_err("their close 1000 (bye), ours 1000 (bye)");
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// Read an HTTP head (to the blank line) from a raw socket.
fn head(c: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(1) => got.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The server's side of the rules, over a raw socket in every model: the
/// RFC's accept value, 400 for a bad request, 404 for another path, 403
/// for an Origin not allowed, the protocol chosen; an unmasked frame from
/// a client is closed with 1002, and the server's own frames are unmasked.
#[test]
fn the_servers_handshake_and_framing_rules_in_every_model() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "ws://127.0.0.1:0/r",
            "--echo",
            "--ws-protocol",
            "v2",
            "--allow-origin",
            "https://ok.example",
        ]);
        let ask = |req: &str| {
            let mut c = TcpStream::connect(s.addr()).unwrap();
            c.set_read_timeout(Some(T)).unwrap();
            c.write_all(req.as_bytes()).unwrap();
            let h = head(&mut c);
            (c, h)
        };
        let origin = "Origin: https://ok.example\r\n";
        let (_, h) = ask(&upgrade_request("/r", "Origin: https://bad.example\r\n"));
        assert!(h.starts_with("HTTP/1.1 403"), "{model}: {h}");
        let (_, h) = ask(&upgrade_request("/elsewhere", origin));
        assert!(h.starts_with("HTTP/1.1 404"), "{model}: {h}");
        let (_, h) = ask(&upgrade_request("/r", origin).replace("Sec-WebSocket-Key", "X-Key"));
        assert!(h.starts_with("HTTP/1.1 400"), "{model}: {h}");
        let (mut c, h) = ask(&upgrade_request(
            "/r",
            &format!("{origin}Sec-WebSocket-Protocol: v1, v2\r\n"),
        ));
        assert!(h.starts_with("HTTP/1.1 101"), "{model}: {h}");
        assert!(
            h.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            "{h}"
        );
        assert!(h.contains("Sec-WebSocket-Protocol: v2\r\n"), "{h}");
        // A masked text frame comes back as an unmasked one, a newline
        // between (the echo's line is a message again).
        let mask = [9u8, 8, 7, 6];
        let mut frame = vec![0x81, 0x80 | 3];
        frame.extend_from_slice(&mask);
        frame.extend(b"abc".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        c.write_all(&frame).unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"\x81\x03abc", "{model}");
        // A message with its own newline (as websocat sends a line) gets
        // no second one: one line back, not an empty message after it.
        let mut frame = vec![0x81, 0x80 | 3];
        frame.extend_from_slice(&mask);
        frame.extend(b"de\n".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        c.write_all(&frame).unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"\x81\x02de", "{model}");
        // An unmasked frame: closed with 1002.
        c.write_all(b"\x81\x02no").unwrap();
        let mut close = [0u8; 4];
        c.read_exact(&mut close).unwrap();
        assert_eq!(&close, b"\x88\x02\x03\xea", "{model}");
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        s.wait_err("unmasked frame from the client");
    }
}

/// --forward both ways: a plain TCP client reaches a WebSocket service
/// (Python's echo), and a WebSocket client (Python's) reaches a TCP
/// service (sockcat's echo) through a ws:// server, in every model.
#[test]
fn forward_both_ways() {
    if !needs(&[PY, WEBSOCKETS]) {
        return;
    }
    let echo = Peer::start(&["echo"]);
    let url = echo.url("/svc");
    let tcp_echo = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--forward", &url, "-v"]);
        // The Python server ends the whole connection at a Close: the
        // client's FIN (no --hold) becomes the Close only once the
        // upstream has been quiet a moment, so the echo all comes back.
        let out = run(&["send", s.addr()], b"one\ntwo\n");
        out.expect_code(0);
        assert_eq!(out.stdout, b"one\ntwo\n", "{model}: {}", s.err());
        // A last line without its newline goes as a message at the
        // client's end, before the owed Close (a text message comes back
        // with a newline).
        let out = run(&["send", s.addr(), "-n", "one\ntwo"], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"one\ntwo\n", "{model}: {}", s.err());
        let mut bytes = random_bytes(2 << 20, 9);
        bytes.extend_from_slice(b"\nlast\n");
        let out = run(&["send", s.addr()], &bytes);
        out.expect_code(0);
        assert!(
            out.stdout == bytes,
            "{model}: {} bytes back",
            out.stdout.len()
        );
        s.wait_err("forwarded to ws://127.0.0.1:");
        assert_eq!(s.interrupt(), Some(130));

        let n: usize = 4 << 20;
        let mut s = Server::start(&[
            model,
            "ws://127.0.0.1:0/",
            "--binary",
            "--forward",
            tcp_echo.addr(),
            "-q",
        ]);
        let client = Peer::start(&["client", &ws_of(&s, "/"), &n.to_string()]);
        assert_eq!(
            client.line(),
            format!("{} {n} 1000", python_sha(n, 7)),
            "{model}: {}",
            s.err()
        );
        assert_eq!(s.interrupt(), Some(130));
    }
}

/// The WebSocket flags without a WebSocket, and what does not speak one.
#[test]
fn websocket_flags_need_a_websocket() {
    let cases: &[&[&str]] = &[
        &["send", "--binary", "127.0.0.1:9"],
        &["send", "--ws-protocol", "x", "127.0.0.1:9"],
        &["send", "-z", "ws://127.0.0.1:9/"],
        &["send", "-u", "ws://127.0.0.1:9/"],
        &["send", "ws://user@127.0.0.1:9/"],
        &["serve", "127.0.0.1:0", "--allow-origin", "https://a"],
        &["serve", "127.0.0.1:0", "--binary"],
    ];
    for args in cases {
        let out = run(args, b"");
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }
}

/// Through --proxy (microsocks, which ends the whole tunnel at a FIN):
/// our Close is the WebSocket's half-close, with no FIN behind it until
/// the server's Close has come, so the reply still arrives; `send` and
/// `--forward` alike, over ws:// and wss://.
#[test]
fn through_a_socks_proxy() {
    if !needs(&["microsocks"]) {
        return;
    }
    let proxy = crate::proxy::microsocks();
    let url = proxy.url("socks5", "u:p%20w@");
    let s = Server::start(&[
        "serve",
        "ws://127.0.0.1:0/p",
        "--sh-exec",
        "echo $SOCKCAT_WS_PATH; cat",
        "-q",
    ]);
    let out = run(&["send", "--proxy", &url, &ws_of(&s, "/p")], b"tunnelled\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"/p\ntunnelled\n", "{}", s.err());
    let fw = Server::start(&[
        "serve",
        "127.0.0.1:0",
        "--proxy",
        &url,
        "--forward",
        &ws_of(&s, "/p"),
        "-q",
    ]);
    let out = run(&["send", fw.addr()], b"forwarded\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"/p\nforwarded\n", "{}", fw.err());
    let tls = Server::start(&["serve", "wss://127.0.0.1:0/", "--echo", "-q"]);
    let fp = fingerprint(&tls);
    let wss = format!("wss://{}/", tls.addr());
    let out = run(&["send", "--proxy", &url, "--pin", &fp, &wss], b"secret\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"secret\n", "{}", tls.err());
}

/// `send -n` writes each text message as it came (no newline after it);
/// `--ws-protocol` is offered by `send` and chosen by the server, both
/// sides' events name it, and a program sees it.
#[test]
fn no_newline_and_the_subprotocol() {
    let mut s = Server::start(&[
        "serve",
        "ws://127.0.0.1:0/",
        "--ws-protocol",
        "chat.v1",
        "--sh-exec",
        "echo \"$SOCKCAT_WS_PROTOCOL\"; cat",
        "-v",
    ]);
    let url = ws_of(&s, "/");
    let out = run(&["send", "-n", &url], b"a\nb\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"ab", "{}", s.err());
    let out = run(&["send", "-v", "--ws-protocol", "chat.v1", &url], b"c\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"chat.v1\nc\n", "{}", s.err());
    assert!(out.stderr.contains("protocol chat.v1"), "{}", out.stderr);
    s.wait_err("protocol chat.v1");
    assert_eq!(s.interrupt(), Some(130));
}

/// Text framing (the default) loses and adds no byte in any model: a line
/// that is not UTF-8 and one over 1 MiB go as binary messages of their
/// bytes, newline included, through `send` to a printing server and back
/// from an echo (each line ends with its newline, so none is added).
#[test]
fn lines_that_are_not_text_arrive_byte_for_byte_in_every_model() {
    let mut input = b"line one\n\xff\xfe binary line\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024 + 10));
    input.push(b'\n');
    input.extend("é".repeat(700_000).into_bytes());
    input.extend_from_slice(b"\nlast\n");
    for model in MODELS {
        let s = Server::start(&[model, "ws://127.0.0.1:0/", "--once", "-q"]);
        let out = run_in(&["send", &ws_of(&s, "/"), "-q"], &input, T);
        assert_eq!(out.code, Some(0), "{model}: {out}");
        let mut s = s;
        assert_eq!(s.wait(), Some(0), "{model}");
        assert!(s.out() == input, "{model}: printed {} bytes", s.out().len());
        let e = Server::start(&[model, "ws://127.0.0.1:0/", "--echo", "-q"]);
        let back = run_in(&["send", &ws_of(&e, "/"), "-q"], &input, T);
        assert_eq!(back.code, Some(0), "{model}: {back}");
        assert!(
            back.stdout == input,
            "{model}: echoed {} bytes",
            back.stdout.len()
        );
    }
}
