//! `--control PATH` (issue 23): faults added, changed, listed and
//! removed while a forwarding server runs, taking effect on live
//! connections and datagram sessions in every model.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::handlers::MODELS;
use crate::util::*;

/// A TCP upstream that echoes every connection, for as long as the test
/// runs.
fn echo_upstream() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

/// A control client: one line out, one JSON answer in.
struct Control(BufReader<UnixStream>);

impl Control {
    fn connect(f: &Server, path: &std::path::Path) -> Control {
        f.wait_err("control socket on unix:");
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        Control(BufReader::new(s))
    }

    fn ask(&mut self, line: &str) -> Value {
        let s = self.0.get_mut();
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        let mut answer = String::new();
        self.0.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"))
    }

    fn ok(&mut self, line: &str) -> Value {
        let v = self.ask(line);
        assert_eq!(v["ok"], true, "{line}: {v}");
        v
    }
}

/// A forwarding server with a control socket at `dir/c.sock`.
fn server(model: &str, target: &str, dir: &TempDir, more: &[&str]) -> (Server, Control) {
    let path = dir.path("c.sock");
    let path_s = path.to_str().unwrap().to_string();
    let mut args = vec![
        model,
        "127.0.0.1:0",
        "-v",
        "--forward",
        target,
        "--control",
        &path_s,
    ];
    args.extend_from_slice(more);
    let f = Server::start(&args);
    let c = Control::connect(&f, &path);
    (f, c)
}

/// One round trip of a line over `s`: how long it took.
fn round_trip(s: &mut TcpStream) -> Duration {
    let t0 = Instant::now();
    s.write_all(b"ping\n").unwrap();
    let mut got = [0u8; 5];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping\n");
    t0.elapsed()
}

const DELAY: Duration = Duration::from_millis(300);

/// A delay added through the control socket slows the next round trip of
/// a live connection (at least by the delay), and its removal makes it
/// fast again; a change for new connections leaves the live one alone,
/// and `list` shows what is set, in every model.
#[test]
fn a_delay_changed_through_the_control_socket_acts_on_a_live_connection_in_every_model() {
    let target = echo_upstream();
    for model in MODELS {
        let dir = TempDir::new();
        let (f, mut ctl) = server(model, &target, &dir, &[]);
        let mut c = TcpStream::connect(f.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let fast = round_trip(&mut c);
        assert!(fast < DELAY, "{model}: {fast:?} before any fault");
        ctl.ok(r#"{"op":"add","fault":"delay","value":"300ms","dir":"down"}"#);
        let slow = round_trip(&mut c);
        assert!(slow >= DELAY, "{model}: {slow:?} with a 300ms delay added");
        let list = ctl.ok(r#"{"op":"list"}"#);
        let changes = list["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "{model}: {list}");
        assert_eq!(changes[0]["fault"], "delay");
        assert_eq!(changes[0]["value"], "300ms");
        assert_eq!(changes[0]["dir"], "down");
        assert_eq!(changes[0]["scope"], "all");
        ctl.ok(r#"{"op":"remove","fault":"delay"}"#);
        let fast = round_trip(&mut c);
        assert!(fast < DELAY, "{model}: {fast:?} once the delay is removed");
        // For new connections only: the live one stays fast, a new one
        // is slowed.
        ctl.ok(r#"{"op":"add","fault":"delay","value":"300ms","scope":"new"}"#);
        let live = round_trip(&mut c);
        assert!(
            live < DELAY,
            "{model}: {live:?}: a change for new connections reached a live one"
        );
        let mut n = TcpStream::connect(f.addr()).unwrap();
        n.set_read_timeout(Some(T)).unwrap();
        let new = round_trip(&mut n);
        assert!(
            new >= 2 * DELAY,
            "{model}: {new:?} on a new connection (delay both ways)"
        );
        f.wait_err("control: delay 300ms down");
        f.wait_err("control: delay removed");
        drop((c, n));
        f.wait_err("by copy");
    }
}

/// `--reset-after 1s` added to a live idle connection resets it about a
/// second after the change (never before), in every model.
#[test]
fn a_reset_added_to_an_idle_connection_acts_from_the_change_in_every_model() {
    let target = echo_upstream();
    for model in MODELS {
        let dir = TempDir::new();
        let (f, mut ctl) = server(model, &target, &dir, &[]);
        let mut c = TcpStream::connect(f.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        round_trip(&mut c);
        let t0 = Instant::now();
        ctl.ok(r#"{"op":"add","fault":"reset-after","value":"1s"}"#);
        let r = c.read(&mut [0u8; 16]);
        let took = t0.elapsed();
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{model}: {r:?} after {took:?}"
        );
        assert!(
            took >= Duration::from_millis(950),
            "{model}: reset after {took:?}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{model}: reset after {took:?}"
        );
    }
}

/// Bytes a delay holds when it is removed go on at once, in order, and
/// none is lost, in every model.
#[test]
fn removing_a_delay_releases_what_it_holds_in_every_model() {
    let target = echo_upstream();
    let data = random_bytes(100_000, 7);
    for model in MODELS {
        let dir = TempDir::new();
        let (f, mut ctl) = server(model, &target, &dir, &[]);
        let mut c = TcpStream::connect(f.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        round_trip(&mut c);
        ctl.ok(r#"{"op":"add","fault":"delay","value":"10s","dir":"down"}"#);
        c.write_all(&data).unwrap();
        // The echo is held by the delay.
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        assert!(
            c.read(&mut [0u8; 1]).is_err(),
            "{model}: the delay held nothing"
        );
        let t0 = Instant::now();
        ctl.ok(r#"{"op":"remove","fault":"delay"}"#);
        c.set_read_timeout(Some(T)).unwrap();
        let mut got = vec![0u8; data.len()];
        c.read_exact(&mut got).unwrap();
        assert!(got == data, "{model}: the bytes the delay held changed");
        let took = t0.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "{model}: released after {took:?}"
        );
    }
}

/// Bad lines get an error answer and the control connection stays
/// open; a change for a connection that has not begun is refused.
#[test]
fn bad_control_lines_get_error_answers() {
    let dir = TempDir::new();
    let (_f, mut ctl) = server("serve", "127.0.0.1:9", &dir, &[]);
    for (line, says) in [
        ("{not json", "invalid JSON"),
        ("[1,2]", "expected a JSON object"),
        (r#"{"op":"explode"}"#, "unknown op 'explode'"),
        (
            r#"{"op":"add","fault":"latency","value":"1s"}"#,
            "unknown fault 'latency'",
        ),
        (r#"{"op":"add","fault":"delay"}"#, "missing \"value\""),
        (
            r#"{"op":"add","fault":"delay","value":"soon"}"#,
            "--delay soon",
        ),
        (r#"{"op":"add","fault":"loss","value":"2"}"#, "from 0 to 1"),
        // What the forward's kind cannot do, as the flag says it.
        (
            r#"{"op":"add","fault":"loss","value":"0.5"}"#,
            "--loss acts on datagrams",
        ),
        (
            r#"{"op":"add","fault":"delay","value":"1s","dir":"sideways"}"#,
            "invalid dir",
        ),
        (
            r#"{"op":"add","fault":"delay","value":"1s","scope":7}"#,
            "no connection 7",
        ),
    ] {
        let v = ctl.ask(line);
        assert_eq!(v["ok"], false, "{line}: {v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(says), "{line}: {e}");
    }
    let long = format!(r#"{{"op":"list","pad":"{}"}}"#, "x".repeat(10_000));
    let v = ctl.ask(&long);
    assert!(v["error"].as_str().unwrap().contains("longer than"), "{v}");
    // Still open, and nothing was set.
    let v = ctl.ok(r#"{"op":"list"}"#);
    assert_eq!(v["changes"].as_array().unwrap().len(), 0, "{v}");
}

/// `sockcat send unix:PATH LINE` is a control client: it prints the
/// answer and exits; `list` shows the flags the server began with and
/// the changes.
#[test]
fn send_is_a_control_client() {
    let dir = TempDir::new();
    let (_f, _ctl) = server(
        "serve",
        "127.0.0.1:9",
        &dir,
        &["--rate", "1M", "--fault-dir", "up"],
    );
    let path = format!("unix:{}", dir.path("c.sock").display());
    let out = run(
        &[
            "send",
            &path,
            r#"{"op":"add","fault":"rate","value":"64k"}"#,
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout_str().contains(r#""ok":true"#), "{out:?}");
    let out = run(&["send", &path, r#"{"op":"list"}"#], b"");
    assert!(out.stdout_str().contains(r#""fault":"rate""#), "{out:?}");
    // The flags the server began with, beside the changes.
    assert!(
        out.stdout_str()
            .contains(r#""flags":{"datagram":false,"dir":"up","faults":["--rate"]}"#),
        "{out:?}"
    );
}

/// The control socket is the owner's alone (0600), a second server does
/// not take over a live one, and it is removed when the server ends.
#[test]
fn the_control_socket_is_private_never_taken_over_and_removed_at_exit() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let path = dir.path("c.sock");
    let (mut f, _ctl) = server("serve", "127.0.0.1:9", &dir, &[]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let out = run(
        &[
            "serve",
            "127.0.0.1:0",
            "--forward",
            "127.0.0.1:9",
            "--control",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("c.sock"), "{out:?}");
    // It fails before it says it is ready: a script waiting on the
    // readiness line does not take it for up.
    assert!(!out.stderr.contains("listening on"), "{out:?}");
    // The first server's socket still answers.
    let mut ctl = Control::connect(&f, &path);
    ctl.ok(r#"{"op":"list"}"#);
    drop(ctl);
    f.interrupt();
    assert!(!path.exists(), "the control socket was left behind");
}

/// A datagram session's `--loss` changed through the control socket:
/// every datagram goes, then none, then every one again, in every model.
#[test]
fn a_datagram_sessions_loss_changes_live_in_every_model() {
    let up = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("udp://{}", up.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = up.recv_from(&mut buf) {
            let _ = up.send_to(&buf[..n], from);
        }
    });
    for model in MODELS {
        let dir = TempDir::new();
        let path = dir.path("c.sock");
        let path_s = path.to_str().unwrap().to_string();
        let f = Server::start(&[
            model,
            "udp://127.0.0.1:0",
            "-v",
            "--forward",
            &target,
            "--control",
            &path_s,
        ]);
        let mut ctl = Control::connect(&f, &path);
        let v = ctl.ask(r#"{"op":"add","fault":"slice","value":"10"}"#);
        assert_eq!(v["ok"], false, "{model}: {v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains("--slice acts on stream connections"), "{e}");
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(f.addr().trim_start_matches("udp://")).unwrap();
        let echoed = |n: u32| {
            let mut back = 0;
            for i in 0..n {
                c.send(&i.to_be_bytes()).unwrap();
                c.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                let mut buf = [0u8; 16];
                if c.recv(&mut buf).is_ok() {
                    back += 1;
                }
            }
            back
        };
        assert_eq!(echoed(5), 5, "{model}: before the change");
        ctl.ok(r#"{"op":"add","fault":"loss","value":"1"}"#);
        assert_eq!(echoed(5), 0, "{model}: with --loss 1");
        ctl.ok(r#"{"op":"remove","fault":"loss"}"#);
        assert_eq!(echoed(5), 5, "{model}: once removed");
        f.wait_err("control: loss 1 both");
    }
}

/// A control client that sends and never reads its answers stalls
/// nothing: another client is answered at once, and it is dropped.
#[test]
fn a_control_client_that_never_reads_stalls_nothing() {
    let dir = TempDir::new();
    let path = dir.path("c.sock");
    let (_f, mut ctl) = server("serve", "127.0.0.1:9", &dir, &[]);
    let mut stuck = UnixStream::connect(&path).unwrap();
    stuck.set_nonblocking(true).unwrap();
    // Asks until nothing more goes: its answers fill both buffers.
    let line = b"{\"op\":\"list\"}\n".repeat(64);
    let t0 = Instant::now();
    let mut sent = 0;
    while t0.elapsed() < Duration::from_secs(2) {
        match stuck.write(&line) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(_) => break,
        }
    }
    // (Its asks stop when the server drops it: a write then fails.)
    assert!(sent > 50_000, "only {sent} bytes of requests went");
    let t1 = Instant::now();
    ctl.ok(r#"{"op":"add","fault":"delay","value":"1s"}"#);
    assert!(t1.elapsed() < Duration::from_secs(1), "{:?}", t1.elapsed());
    // Dropped once its answers waited a second: its end comes, after
    // what it was sent.
    stuck.set_nonblocking(false).unwrap();
    stuck.set_read_timeout(Some(T)).unwrap();
    let mut all = Vec::new();
    let _ = stuck.read_to_end(&mut all);
    let answers = all.split(|b| *b == b'\n').count();
    assert!(
        answers * 14 < sent,
        "every one of {sent} bytes of asks was answered"
    );
}

/// A change for one connection by its number reaches that one alone,
/// in every model.
#[test]
fn a_change_for_one_connection_reaches_it_alone_in_every_model() {
    let target = echo_upstream();
    for model in MODELS {
        let dir = TempDir::new();
        let (f, mut ctl) = server(model, &target, &dir, &[]);
        let mut first = TcpStream::connect(f.addr()).unwrap();
        first.set_read_timeout(Some(T)).unwrap();
        round_trip(&mut first);
        let mut second = TcpStream::connect(f.addr()).unwrap();
        second.set_read_timeout(Some(T)).unwrap();
        round_trip(&mut second);
        let list = ctl.ok(r#"{"op":"list"}"#);
        assert_eq!(list["connections"], 2, "{model}: {list}");
        ctl.ok(r#"{"op":"add","fault":"delay","value":"300ms","scope":1}"#);
        let slow = round_trip(&mut second);
        assert!(slow >= 2 * DELAY, "{model}: {slow:?} on connection 1");
        let fast = round_trip(&mut first);
        assert!(fast < DELAY, "{model}: {fast:?} on connection 0");
    }
}
