//! Beyond netcat: JSON events, broker, access lists, hex dumps, CRLF,
//! source addresses, socket options, load mode and the progress bar.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::handlers::{MODELS, exchange};
use crate::util::*;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_events_cover_a_connection_lifecycle() {
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--log-format",
            "json",
            "-v",
            "--once",
            "--echo",
        ]);
        assert_eq!(exchange(s.addr(), b"12345\n"), b"12345\n");
        assert_eq!(s.wait(), Some(0), "{model}");
        let events = json_lines(&s.err());
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["listening", "connection", "closed", "summary"],
            "{model}"
        );
        assert_eq!(events[0]["transport"], "tcp");
        assert_eq!(events[0]["address"], s.addr());
        assert!(
            events[1]["peer"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        assert_eq!(events[2]["bytes_in"], 6, "{model}");
        assert_eq!(events[2]["bytes_out"], 6, "{model}");
        assert!(events[2]["duration_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(events[3]["connections"], 1, "{model}");
        assert_eq!(events[3]["bytes_in"], 6, "{model}");
        for e in &events {
            assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
        }
    }
}

/// Issue 21, item 4: every JSON event that carries an address also
/// carries its `host` and `port` (a number; no brackets for IPv6), or a
/// Unix socket's `socket_path`, so a script need not parse `[::1]:N`: the
/// readiness line, a connection, its close (with the `--forward`
/// upstream's as `upstream_host`/`upstream_port`), in every model, and
/// `send`'s own events.
#[test]
fn json_events_carry_host_and_port() {
    let up = Server::start(&["serve", "[::1]:0", "--echo", "-q"]);
    let at = |v: &Value| {
        (
            v["host"].as_str().unwrap_or("-").to_string(),
            v["port"].as_u64(),
        )
    };
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "[::1]:0",
            "--log-format",
            "json",
            "-v",
            "--once",
            "--forward",
            up.addr(),
        ]);
        assert_eq!(exchange(s.addr(), b"hi\n"), b"hi\n");
        assert_eq!(s.wait(), Some(0), "{model}");
        let events = json_lines(&s.err());
        let of = |kind: &str| {
            events
                .iter()
                .find(|e| e["event"] == kind)
                .unwrap_or_else(|| panic!("{model}: no {kind} event in {events:?}"))
                .clone()
        };
        let listening = of("listening");
        assert_eq!(
            at(&listening),
            ("::1".into(), Some(u64::from(s.port()))),
            "{model}: {listening}"
        );
        for e in [of("connection"), of("closed")] {
            let (host, port) = at(&e);
            assert_eq!(host, "::1", "{model}: {e}");
            assert_eq!(
                e["peer"],
                format!("[::1]:{}", port.unwrap()),
                "{model}: {e}"
            );
        }
        let closed = of("closed");
        assert_eq!(closed["upstream_host"], "::1", "{model}: {closed}");
        assert_eq!(closed["upstream_port"], up.port(), "{model}: {closed}");
    }
    // send -v: the server's address and our own.
    let out = run(
        &["send", "-v", "--log-format", "json", up.addr(), "hi"],
        b"",
    );
    out.expect_code(0);
    let events = json_lines(&out.stderr);
    assert_eq!(events[0]["event"], "connected");
    assert_eq!(
        at(&events[0]),
        ("::1".into(), Some(u64::from(up.port()))),
        "{}",
        events[0]
    );
    assert_eq!(events[0]["local_host"], "::1", "{}", events[0]);
    assert!(events[0]["local_port"].as_u64().is_some(), "{}", events[0]);
    assert_eq!(
        at(&events[1]),
        ("::1".into(), Some(u64::from(up.port()))),
        "{}",
        events[1]
    );
    // A Unix socket's name, as `socket_path`.
    let dir = TempDir::new();
    let path = dir.path("j.sock");
    let s = Server::start(&[
        "serve",
        &format!("unix:{}", path.display()),
        "--log-format",
        "json",
    ]);
    let listening = json_lines(&s.err())
        .into_iter()
        .find(|e| e["event"] == "listening")
        .unwrap();
    assert_eq!(
        listening["socket_path"],
        path.to_str().unwrap(),
        "{listening}"
    );
    assert!(listening.get("port").is_none(), "{listening}");
}

#[test]
fn json_errors_are_json_too() {
    let out = run(
        &[
            "send",
            "--log-format",
            "json",
            &format!("127.0.0.1:{}", closed_port()),
            "x",
        ],
        b"",
    );
    out.expect_code(1);
    let events = json_lines(&out.stderr);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "error");
    assert_eq!(events[0]["fatal"], true);
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .contains("Connection refused")
    );
}

#[test]
fn broker_keeps_chatting_past_a_client_that_never_reads() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--broker", "-q"]);
    let silent = TcpStream::connect(s.addr()).unwrap(); // never reads
    let mut talker = TcpStream::connect(s.addr()).unwrap();
    let mut listener = TcpStream::connect(s.addr()).unwrap();
    listener.set_read_timeout(Some(T)).unwrap();
    talker.set_read_timeout(Some(T)).unwrap();
    // Make sure all three have joined before anyone speaks.
    wait_until("three clients", T, || {
        s.out_str().is_empty() && count_conns(&s) == 3
    });
    // Far more than the silent client's buffers hold.
    let total = 24 << 20;
    let reader = std::thread::spawn(move || {
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while got < total {
            match listener.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        (got, listener)
    });
    let chunk = vec![b'm'; 1 << 16];
    let mut sent = 0;
    while sent < total {
        talker.write_all(&chunk).unwrap();
        sent += chunk.len();
    }
    let (got, mut listener) = reader.join().unwrap();
    assert_eq!(got, total, "the listening client missed messages");
    // And the other way round, after the silent one was dropped.
    listener.write_all(b"reply\n").unwrap();
    let mut buf = [0u8; 6];
    talker.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"reply\n");
    drop(silent);
}

fn count_conns(s: &Server) -> usize {
    // -q hides events; count the server's established sockets instead.
    std::fs::read_dir(format!("/proc/{}/fd", s.pid()))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .map(|l| l.to_string_lossy().starts_with("socket:"))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
        .saturating_sub(1) // the listener
}

#[test]
fn allow_and_deny_for_tcp() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--reply",
            "ok",
            "--allow",
            "127.0.0.0/8",
            "--deny",
            "127.0.0.2",
        ]);
        let out = run(&["send", "--source", "127.0.0.1", s.addr(), "hi"], b"");
        assert_eq!(out.stdout, b"ok\n", "{model}: {out}");
        let out = run(&["send", "--source", "127.0.0.2", s.addr(), "hi"], b"");
        assert!(
            out.stdout.is_empty(),
            "{model}: a denied peer got {:?}",
            out.stdout_str()
        );
        s.wait_err("refused 127.0.0.2:");
        assert_eq!(
            s.err().matches("got connection").count(),
            1,
            "{model}: {}",
            s.err()
        );
        if model == "fork-serve" {
            assert!(
                children(s.pid()).is_empty(),
                "a child was forked for a refused peer"
            );
        }
    }
}

#[test]
fn allow_and_deny_for_ipv6() {
    let s = Server::start(&["serve", "[::1]:0", "--reply", "ok", "--deny", "::1/128"]);
    let out = run(&["send", s.addr(), "hi"], b"");
    assert!(out.stdout.is_empty(), "{out}");
    s.wait_err("refused [::1]:");
    let s = Server::start(&["serve", "[::1]:0", "--reply", "ok", "--allow", "::1"]);
    assert_eq!(run(&["send", s.addr(), "hi"], b"").stdout, b"ok\n");
}

#[test]
fn allow_and_deny_for_udp() {
    for model in MODELS {
        let s = Server::start(&[model, "udp://127.0.0.1:0", "--echo", "--deny", "127.0.0.2"]);
        let out = run(
            &[
                "send",
                "--wait",
                "300ms",
                "--source",
                "127.0.0.2",
                s.addr(),
                "x",
            ],
            b"",
        );
        assert!(out.stdout.is_empty(), "{model}: {out}");
        s.wait_err("refused 127.0.0.2:");
        let out = run(
            &[
                "send",
                "--wait",
                "300ms",
                "--source",
                "127.0.0.1",
                s.addr(),
                "x",
            ],
            b"",
        );
        assert_eq!(out.stdout, b"x\n", "{model}: {out}");
    }
}

#[test]
fn hex_dump_is_exact() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo"]);
    let out = run(
        &["send", "--hex", s.addr(), "-n", "hello, world\n\u{1}abc"],
        b"",
    );
    out.expect_code(0);
    // Each block is headed by whose bytes they are.
    let want = format!(
        "\
[{addr}]
> 00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 0a 01 61 62  |hello, world..ab|
> 00000010  63                                                |c|
[{addr}]
< 00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 0a 01 61 62  |hello, world..ab|
< 00000010  63                                                |c|
",
        addr = s.addr()
    );
    assert_eq!(out.stderr, want);
    // With --log-format json the dump is events, and stderr stays JSON.
    let out = run(
        &[
            "send",
            "--hex",
            "--log-format",
            "json",
            s.addr(),
            "-n",
            "hi",
        ],
        b"",
    );
    out.expect_code(0);
    let events: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(events.len(), 2, "{out}");
    assert_eq!(events[0]["event"], "hex");
    assert_eq!(events[0]["direction"], "out");
    assert_eq!(events[0]["bytes"], "6869");
    assert_eq!(events[0]["peer"], s.addr());
    assert_eq!(events[1]["direction"], "in");
    // The servers dump too, in every model.
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--hex",
            "--once",
            "--reply",
            "ok",
            "-q",
        ]);
        exchange(s.addr(), b"AB");
        assert_eq!(s.wait(), Some(0));
        let err = s.err();
        assert!(err.contains("> 00000000  6f 6b 0a"), "{model}: {err}");
        assert!(err.contains("< 00000000  41 42 "), "{model}: {err}");
        assert!(
            err.contains("[127.0.0.1:"),
            "{model}: no peer label in {err}"
        );

        let mut s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--hex",
            "--once",
            "--echo",
            "--log-format",
            "json",
        ]);
        exchange(s.addr(), b"AB");
        assert_eq!(s.wait(), Some(0));
        for line in s.err().lines() {
            let v: Value = serde_json::from_str(line).expect("JSON only");
            if v["event"] == "hex" {
                assert_eq!(v["bytes"], "4142", "{model}: {line}");
                assert!(v["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
            }
        }
    }
}

#[test]
fn crlf_and_source() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--reply", "ok"]);
    let out = run(
        &["send", "--crlf", "--source", "127.0.0.3:0", s.addr()],
        b"a\nb\n",
    );
    out.expect_code(0);
    s.wait_out("a\r\nb\r\n");
    s.wait_err("got connection from 127.0.0.3:");
    let port = closed_port();
    let s = Server::start(&["serve", "127.0.0.1:0", "--reply", "ok"]);
    run(
        &["send", "--source", &format!(":{port}"), s.addr(), "x"],
        b"",
    )
    .expect_code(0);
    s.wait_err(&format!("got connection from 127.0.0.1:{port}"));
}

/// The server-side sockets on `port` as `ss -o` shows them (timers included).
fn ss_server_side(port: u16) -> String {
    let o = Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            &format!("( sport = :{port} )"),
        ])
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn keepalive_is_set_only_when_asked() {
    if !needs(&["ss"]) {
        return;
    }
    for (flag, want) in [("--keepalive", true), ("--nodelay", false)] {
        let s = Server::start(&["serve", "127.0.0.1:0", flag, "--echo", "-q"]);
        let port = s.port();
        let c = TcpStream::connect(s.addr()).unwrap();
        // Wait until the server has the connection, then look for the timer.
        wait_until("the connection in ss", T, || {
            !ss_server_side(port).is_empty()
        });
        if want {
            wait_until("a keepalive timer", T, || {
                ss_server_side(port).contains("keepalive")
            });
        } else {
            assert!(
                !ss_server_side(port).contains("keepalive"),
                "{flag}: keepalive without --keepalive"
            );
        }
        c.shutdown(Shutdown::Both).unwrap();
    }
}

#[test]
fn load_mode_against_every_model() {
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "-q", "--reply", "connected"]);
        let out = run_in(
            &[
                "send",
                "--count",
                "2000",
                "--concurrency",
                "32",
                s.addr(),
                "hello",
            ],
            b"",
            Duration::from_secs(120),
        );
        out.expect_code(0);
        let text = out.stdout_str();
        assert!(text.starts_with("2000 ok, 0 errors"), "{model}: {text}");
        assert!(
            text.contains("connections/s") && text.contains("p99"),
            "{text}"
        );
        assert!(
            text.contains("bytes: 12000 out, 20000 in"),
            "{model}: {text}"
        );
    }
}

#[test]
fn load_mode_json_and_honest_errors() {
    let addr = format!("127.0.0.1:{}", closed_port());
    let out = run(
        &[
            "send",
            "--count",
            "50",
            "--concurrency",
            "4",
            "--log-format",
            "json",
            &addr,
            "x",
        ],
        b"",
    );
    out.expect_code(1);
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["event"], "load");
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["ok"], 0);
    assert_eq!(v["errors"], 50);
    assert_eq!(v["errors_by_kind"]["Connection refused"], 50);
    let out = run(&["send", "--count", "10", &addr, "x"], b"");
    out.expect_code(1);
    assert!(
        out.stdout_str().contains("error: 10 x Connection refused"),
        "{out}"
    );
}

#[test]
fn progress_bar_on_a_terminal_only() {
    let dir = TempDir::new();
    let file = dir.path("f");
    std::fs::write(&file, random_bytes(32 << 20, 3)).unwrap();
    let s = Server::start(&["serve", "127.0.0.1:0", "--discard"]);
    let send = format!("{BIN} send {} --file {}", s.addr(), file.display());
    // stderr a file: nothing.
    let log = dir.path("err");
    let out = run(
        &["send", s.addr(), "--file", &file.display().to_string()],
        b"",
    );
    out.expect_code(0);
    assert_eq!(out.stderr, "");
    // --progress forces it onto a file.
    let out = run(
        &[
            "send",
            "--progress",
            s.addr(),
            "--file",
            &file.display().to_string(),
        ],
        b"",
    );
    assert!(out.stderr.contains("MiB"), "{out}");
    // Through a pseudo-terminal (script(1)): the bar appears.
    if !needs(&["script"]) {
        return;
    }
    let mut child = Command::new("script")
        .args(["-qefc", &send, log.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    assert!(wait_child(&mut child, T).success());
    let mut tty = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut tty)
        .unwrap();
    assert!(
        tty.contains("MiB") || tty.contains("B/s"),
        "no bar on the terminal: {tty:?}"
    );
    assert!(t0.elapsed() < T);
    // --no-progress wins even on a terminal.
    let quiet = format!("{send} --no-progress");
    let o = Command::new("script")
        .args(["-qefc", &quiet, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains("MiB"));
}

#[test]
fn hex_and_idle_timeout_reach_exec_programs_in_every_model() {
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--hex",
            "--once",
            "-q",
            "--exec",
            "cat",
        ]);
        assert_eq!(exchange(s.addr(), b"AB"), b"AB", "{model}");
        assert_eq!(s.wait(), Some(0), "{model}");
        let err = s.err();
        assert!(err.contains("< 00000000  41 42 "), "{model}: {err}");
        assert!(err.contains("> 00000000  41 42 "), "{model}: {err}");

        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--idle-timeout",
            "300ms",
            "--exec",
            "cat",
        ]);
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut buf = [0u8; 4];
        let t0 = Instant::now();
        assert_eq!(
            c.read(&mut buf).unwrap_or(0),
            0,
            "{model}: an idle peer is closed"
        );
        assert!(t0.elapsed() >= Duration::from_millis(200), "{model}");
        // Busy peers are not.
        assert_eq!(exchange(s.addr(), b"busy\n"), b"busy\n", "{model}");
    }
}

/// `send -v` says where it connected from and, at the end, what moved each
/// way; `-q` says nothing.
#[test]
fn send_verbose_reports_the_connection() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--echo"]);
    let out = run(&["send", "-v", s.addr(), "hello"], b"");
    out.expect_code(0);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("connected to {} (from 127.0.0.1:", s.addr())),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("closed {}: 6 bytes in, 6 bytes out, ", s.addr())),
        "{out}"
    );
    let out = run(
        &["send", "-v", "--log-format", "json", s.addr(), "hello"],
        b"",
    );
    let events: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "connected");
    assert_eq!(events[1]["event"], "closed");
    assert_eq!(events[1]["bytes_out"], 6);
    let out = run(&["send", "-q", s.addr(), "hello"], b"");
    assert!(out.stderr.is_empty(), "{out}");
}
