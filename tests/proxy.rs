//! `--proxy` (issue 13, item 5) against real proxies from the
//! distribution: Dante (SOCKS5, and a rule that refuses), microsocks (SOCKS5
//! with a user and password) and tinyproxy (HTTP CONNECT, with Basic
//! authentication, and a port it refuses); for `send`, load mode and
//! `--forward` in every model; and what must fail, with one line each.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::handlers::{MODELS, exchange};
use crate::util::*;

/// A proxy daemon, killed on drop.
pub struct Proxy {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// Start `make(port, dir)` on a free port and wait (bounded) until it
    /// accepts; a start that loses its port in a race is tried again on
    /// another, a few times.
    fn start(make: impl Fn(u16, &TempDir) -> Command) -> Proxy {
        for _ in 0..5 {
            let dir = TempDir::new();
            let port = free_port();
            let mut cmd = make(port, &dir);
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {cmd:?} (.ci/run installs it): {e}"));
            let mut p = Proxy {
                child,
                port,
                _dir: dir,
            };
            let end = std::time::Instant::now() + T;
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return p;
                }
                if p.child.try_wait().unwrap().is_some() {
                    break; // its port was taken meanwhile: another
                }
                assert!(std::time::Instant::now() < end, "{cmd:?} never listened");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("a proxy would not start on five ports");
    }

    pub fn url(&self, scheme: &str, auth: &str) -> String {
        format!("{scheme}://{auth}127.0.0.1:{}", self.port)
    }
}

/// Dante on a free port: passes connections to loopback, except to
/// `refused_port`, which its rules block (SOCKS reply 2).
pub fn dante(refused_port: u16) -> Proxy {
    Proxy::start(|port, dir| {
        let conf = dir.path("danted.conf");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let users = if root {
            "user.privileged: root\nuser.unprivileged: nobody\n"
        } else {
            ""
        };
        std::fs::write(
            &conf,
            format!(
                "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 clientmethod: none\nsocksmethod: none\n{users}\
                 client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
                 socks block {{ from: 0.0.0.0/0 to: 127.0.0.1/32 port = {refused_port} }}\n\
                 socks pass {{ from: 127.0.0.0/8 to: 127.0.0.0/8 }}\n\
                 socks pass {{ from: 127.0.0.0/8 to: ::1/128 }}\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(program("danted").unwrap_or("danted".into()));
        cmd.args(["-f", conf.to_str().unwrap(), "-N", "1"]);
        cmd
    })
}

/// microsocks on a free port, wanting user `u` and password `p w`.
pub fn microsocks() -> Proxy {
    Proxy::start(|port, _| {
        let mut cmd = Command::new("microsocks");
        cmd.args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            "u",
            "-P",
            "p w",
        ]);
        cmd
    })
}

/// tinyproxy on a free port, wanting Basic authentication `al:ice`, and
/// allowing CONNECT to `allowed_port` only.
pub fn tinyproxy(allowed_port: u16) -> Proxy {
    Proxy::start(|port, dir| {
        let conf = dir.path("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nAllow 127.0.0.1\n\
                 BasicAuth al ice\nConnectPort {allowed_port}\nLogLevel Critical\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("tinyproxy");
        cmd.args(["-d", "-c", conf.to_str().unwrap()]);
        cmd
    })
}

/// `send` through Dante: the lesson's exchange with its half-close, and
/// 8 MiB byte for byte each way, by address (socks5://) and by name
/// (socks5h://, Dante resolves `localhost`); the target's refusal and the
/// proxy's rules come back as one line naming the SOCKS reply.
#[test]
fn send_through_a_socks5_proxy() {
    if !needs(&["danted"]) {
        return;
    }
    let echo = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let refused = closed_port();
    let blocked = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let d = dante(blocked.port());
    let data = random_bytes(8 << 20, 3);
    for (scheme, target) in [
        ("socks5", echo.addr().to_string()),
        ("socks5h", format!("localhost:{}", echo.port())),
    ] {
        let url = d.url(scheme, "");
        let out = run(
            &["send", "--proxy", &url, &target, "hello", "from", "client"],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"hello from client\n", "{scheme}");
        let out = run(&["send", "-v", "--proxy", &url, &target], &data);
        assert!(
            out.stderr.starts_with(&format!(
                "connected to {target} through {url} (from 127.0.0.1:"
            )),
            "{}",
            out.stderr
        );
        out.expect_code(0);
        assert!(
            out.stdout == data,
            "{scheme}: {} of {} bytes",
            out.stdout.len(),
            data.len()
        );
    }
    let url = d.url("socks5", "");
    let out = run(
        &[
            "send",
            "--proxy",
            &url,
            &format!("127.0.0.1:{refused}"),
            "x",
        ],
        b"",
    );
    out.expect_code(1);
    assert_eq!(
        out.stderr,
        format!(
            "sockcat: error: proxy {url}: it could not connect to 127.0.0.1:{refused}: \
             connection refused (SOCKS reply 5)\n"
        )
    );
    let out = run(&["send", "--proxy", &url, blocked.addr(), "x"], b"");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("not allowed by its rules (SOCKS reply 2)"),
        "{}",
        out.stderr
    );
    // -z through the proxy: open is the proxy's word that it connected.
    run(&["send", "-z", "--proxy", &url, echo.addr()], b"").expect_code(0);
    run(
        &[
            "send",
            "-z",
            "--proxy",
            &url,
            &format!("127.0.0.1:{refused}"),
        ],
        b"",
    )
    .expect_code(1);
}

/// microsocks wants a user and password: the right ones open the tunnel,
/// wrong or missing ones are a one-line error. (It ends the whole tunnel
/// at the client's FIN, as the man page says, so the client keeps its
/// write side open and the server speaks first.)
#[test]
fn socks5_user_and_password() {
    if !needs(&["microsocks"]) {
        return;
    }
    let hello = Server::start(&["serve", "127.0.0.1:0", "--reply", "welcome", "-q"]);
    let m = microsocks();
    let good = m.url("socks5", "u:p%20w@");
    let out = run(
        &["send", "--proxy", &good, "--no-shutdown", hello.addr()],
        b"",
    );
    out.expect_code(0);
    assert_eq!(out.stdout, b"welcome\n");
    for (url, why) in [
        (
            m.url("socks5", "u:wrong@"),
            "it refused the user name and password",
        ),
        (m.url("socks5", ""), "it wants a user name and password"),
    ] {
        let out = run(&["send", "--proxy", &url, hello.addr(), "x"], b"");
        out.expect_code(1);
        assert!(out.stderr.contains(why), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

/// HTTP CONNECT through tinyproxy: the server speaks first, so its bytes
/// may arrive with the proxy's answer; none is lost. A missing password
/// and a port the proxy refuses come back as the HTTP status.
#[test]
fn send_through_an_http_proxy() {
    if !needs(&["tinyproxy"]) {
        return;
    }
    let hello = Server::start(&["serve", "127.0.0.1:0", "--reply", "welcome", "-q"]);
    let t = tinyproxy(hello.port());
    let good = t.url("http", "al:ice@");
    for _ in 0..20 {
        let out = run(
            &["send", "--proxy", &good, "--no-shutdown", hello.addr()],
            b"",
        );
        out.expect_code(0);
        assert_eq!(out.stdout, b"welcome\n");
    }
    let out = run(
        &["send", "--proxy", &t.url("http", ""), hello.addr(), "x"],
        b"",
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("407 Proxy Authentication Required (it wants http://USER:PASS@HOST:PORT)"),
        "{}",
        out.stderr
    );
    let other = closed_port();
    let out = run(
        &["send", "--proxy", &good, &format!("127.0.0.1:{other}"), "x"],
        b"",
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains(&format!("CONNECT 127.0.0.1:{other} refused: 403")),
        "{}",
        out.stderr
    );
    // A server that is no SOCKS proxy (it speaks first), and an HTTP proxy
    // that waits for a request line a SOCKS client never sends.
    let out = run(
        &[
            "send",
            "--proxy",
            &format!("socks5://{}", hello.addr()),
            hello.addr(),
            "x",
        ],
        b"",
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("not a SOCKS5 proxy (it answered version 119)"),
        "{}",
        out.stderr
    );
    let out = run(
        &[
            "send",
            "--proxy",
            &t.url("socks5", ""),
            "-w",
            "500ms",
            hello.addr(),
            "x",
        ],
        b"",
    );
    out.expect_code(124);
    assert!(
        out.stderr.contains("no answer within 500ms"),
        "{}",
        out.stderr
    );
}

/// Load mode through a proxy: every exchange goes through it.
#[test]
fn load_mode_through_a_proxy() {
    if !needs(&["danted"]) {
        return;
    }
    let echo = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let d = dante(1);
    let out = run(
        &[
            "send",
            "--proxy",
            &d.url("socks5", ""),
            "--count",
            "200",
            "--concurrency",
            "8",
            "--log-format",
            "json",
            echo.addr(),
            "hello",
        ],
        b"",
    );
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], 200, "{out}");
    assert_eq!(v["errors"], 0, "{out}");
}

/// `--forward`'s upstream through each kind of proxy, in every model (the
/// event loop runs the handshake on a non-blocking socket, the others
/// block): bytes arrive intact, and a refusal is one event per connection
/// while the server goes on serving.
#[test]
fn forward_through_proxies_in_every_model() {
    if !needs(&["danted", "microsocks", "tinyproxy"]) {
        return;
    }
    let echo = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let hello = Server::start(&["serve", "127.0.0.1:0", "--reply", "welcome", "-q"]);
    let refused = closed_port();
    let d = dante(1);
    let t = tinyproxy(hello.port());
    let data = random_bytes(1 << 20, 9);
    for model in MODELS {
        for (url, target) in [
            (d.url("socks5", ""), echo.addr().to_string()),
            (d.url("socks5h", ""), format!("localhost:{}", echo.port())),
        ] {
            let mut f =
                Server::start(&[model, "127.0.0.1:0", "--forward", &target, "--proxy", &url]);
            let got = exchange(f.addr(), &data);
            assert!(
                got == data,
                "{model} {url}: {} of {} bytes",
                got.len(),
                data.len()
            );
            assert_eq!(f.interrupt(), Some(130));
        }
        // HTTP: the upstream speaks first and closes; the client never
        // half-closes (tinyproxy would end the tunnel).
        let mut f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--forward",
            hello.addr(),
            "--proxy",
            &t.url("http", "al:ice@"),
        ]);
        let out = run(&["send", "--no-shutdown", f.addr()], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"welcome\n", "{model}: {}", f.err());
        assert_eq!(f.interrupt(), Some(130));

        let url = d.url("socks5", "");
        let mut f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--forward",
            &format!("127.0.0.1:{refused}"),
            "--proxy",
            &url,
        ]);
        // The client was owed an answer: it is reset, and send says so.
        for _ in 0..2 {
            let out = run(&["send", f.addr(), "x"], b"");
            assert!(matches!(out.code, Some(c) if c != 0), "{model}: {out}");
            assert!(out.stdout.is_empty());
        }
        let line = format!(
            "forward to 127.0.0.1:{refused} failed: proxy {url}: it could not connect to \
             127.0.0.1:{refused}: connection refused (SOCKS reply 5)"
        );
        wait_until("two failure events", T, || {
            f.err().matches(&line).count() == 2
        });
        assert_eq!(f.interrupt(), Some(130));
    }
}

/// A proxy that accepts and never answers: --connect-timeout bounds the
/// handshake too (exit 124 for send; an event per connection for a
/// forwarder, in every model).
#[test]
fn a_silent_proxy_times_out() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("socks5://{}", silent.local_addr().unwrap());
    let out = run_in(
        &["send", "--proxy", &url, "-w", "300ms", "127.0.0.1:9", "x"],
        b"",
        Duration::from_secs(10),
    );
    out.expect_code(124);
    assert!(
        out.stderr.contains("no answer within 300ms"),
        "{}",
        out.stderr
    );
    for model in MODELS {
        let mut f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--forward",
            "127.0.0.1:9",
            "--proxy",
            &url,
            "--connect-timeout",
            "300ms",
        ]);
        // Owed an answer, the client is reset (issue 19, item 7).
        let out = run(&["send", f.addr(), "x"], b"");
        out.expect_code(1);
        f.wait_err(&format!("proxy {url}: no answer within 300ms"));
        assert_eq!(f.interrupt(), Some(130));
    }
}

/// A fake HTTP proxy on loopback that answers CONNECT with `answer` and
/// then echoes what comes through the tunnel; one thread per connection.
fn fake_http_proxy(answer: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                c.set_read_timeout(Some(T)).unwrap();
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match c.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                assert!(head.starts_with(b"CONNECT "));
                c.write_all(answer).unwrap();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = c.read(&mut buf) {
                    if c.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Issue 19, item 12: an HTTP proxy whose answer has bare LF line ends
/// (`HTTP/1.1 200 OK\n\n`) is understood, as curl understands it, by
/// `send` and by a forwarder in every model; it used to be reported as
/// having closed the connection during the handshake.
#[test]
fn an_http_proxy_answering_with_bare_lf_lines_is_understood() {
    for answer in [
        &b"HTTP/1.1 200 OK\n\n"[..],
        b"HTTP/1.0 200 Connection established\nVia: fake\n\n",
    ] {
        let url = fake_http_proxy(answer);
        let out = run(&["send", "--proxy", &url, "127.0.0.1:9", "through"], b"");
        out.expect_code(0);
        assert_eq!(out.stdout_str(), "through\n", "{out}");
        for model in MODELS {
            let mut f = Server::start(&[
                model,
                "127.0.0.1:0",
                "-q",
                "--forward",
                "127.0.0.1:9",
                "--proxy",
                &url,
            ]);
            assert_eq!(exchange(f.addr(), b"tunnel\n"), b"tunnel\n", "{model}");
            assert_eq!(f.interrupt(), Some(130), "{model}");
        }
    }
    // A refusal with bare LF lines says what the proxy said.
    let url = fake_http_proxy(b"HTTP/1.1 403 Forbidden\n\n");
    let out = run(&["send", "--proxy", &url, "127.0.0.1:9", "x"], b"");
    out.expect_code(1);
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr
            .contains("CONNECT 127.0.0.1:9 refused: 403 Forbidden"),
        "{out}"
    );
}

/// What cannot go through a proxy, and proxies that cannot be reached.
#[test]
fn proxy_usage_errors() {
    let p = "socks5://127.0.0.1:1080";
    for (args, code, msg) in [
        (
            &["send", "--proxy", p, "udp://127.0.0.1:53", "x"][..],
            2,
            "--proxy carries TCP connections; 127.0.0.1:53 is a udp address",
        ),
        (
            &["send", "--proxy", p, "unix:/tmp/x.sock", "x"],
            2,
            "is a unix address",
        ),
        (
            &["send", "--proxy", p, "-z", "127.0.0.1", "20-30"],
            2,
            "a scan (-z with several ports) goes direct",
        ),
        (
            &["send", "--proxy", "ftp://p:21", ":1", "x"],
            2,
            "--proxy ftp://p:21: use socks5://",
        ),
        (
            &["send", "--proxy", "socks5://u:%zz@p", ":1", "x"],
            2,
            "invalid escape",
        ),
        (&["serve", ":0", "--proxy", p], 2, "--forward"),
        (
            &[
                "serve",
                ":0",
                "--forward",
                "udp://127.0.0.1:53",
                "-u",
                "--proxy",
                p,
            ],
            2,
            "--proxy carries TCP connections",
        ),
        (
            &[
                "send",
                "--proxy",
                "socks5://no-such-proxy.invalid",
                ":1",
                "x",
            ],
            1,
            "proxy socks5://no-such-proxy.invalid:1080: resolve",
        ),
    ] {
        let out = run(args, b"");
        out.expect_code(code);
        assert!(out.stderr.contains(msg), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }
    let closed = format!("socks5://127.0.0.1:{}", closed_port());
    let out = run(&["send", "--proxy", &closed, "127.0.0.1:9", "x"], b"");
    out.expect_code(1);
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
}
