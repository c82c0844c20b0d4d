//! UDP and Unix datagram sockets: one datagram is one request, under every
//! model, with boundaries kept and every peer answered.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::handlers::MODELS;
use crate::util::*;

const MSG: &[u8] = b"hello from client\n";

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    reply: Option<&'static [u8]>,
    prints: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "print",
        args: &[],
        reply: None,
        prints: true,
    },
    Case {
        name: "reply",
        args: &["--reply", "connected"],
        reply: Some(b"connected\n"),
        prints: true,
    },
    Case {
        name: "echo",
        args: &["--echo"],
        reply: Some(MSG),
        prints: false,
    },
    Case {
        name: "discard",
        args: &["--discard"],
        reply: None,
        prints: false,
    },
    Case {
        name: "exec",
        args: &["--exec", "cat"],
        reply: Some(MSG),
        prints: false,
    },
    Case {
        name: "sh-exec",
        args: &["--sh-exec", "read l; echo got $l"],
        reply: Some(b"got hello from client\n"),
        prints: false,
    },
];

fn transports(dir: &TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("udp4", "udp://127.0.0.1:0".into()),
        ("udp6", "udp://[::1]:0".into()),
        (
            "unixgram",
            format!("unixgram:{}", dir.path("d.sock").display()),
        ),
        ("unixgram-abstract", format!("unixgram:@{}", unique_name())),
    ]
}

fn table(model: &str) {
    for case in CASES {
        let dir = TempDir::new();
        for (tname, listen) in transports(&dir) {
            let mut args = vec![model, listen.as_str()];
            args.extend_from_slice(case.args);
            let mut s = Server::start(&args);
            // `send` prints replies until --wait passes without one.
            let out = run(
                &[
                    "send",
                    "--wait",
                    "400ms",
                    s.addr(),
                    "hello",
                    "from",
                    "client",
                ],
                b"",
            );
            out.expect_code(0);
            assert_eq!(
                out.stdout,
                case.reply.unwrap_or(b""),
                "{model} {tname} {}: {out}",
                case.name
            );
            if case.prints {
                s.wait_out("hello from client\n");
                assert_eq!(s.out(), MSG, "{model} {tname} {}", case.name);
            }
            assert_eq!(s.interrupt(), Some(130), "{model} {tname} {}", case.name);
            if !case.prints {
                assert!(s.out().is_empty(), "{model} {tname} {}", case.name);
            }
        }
    }
}

#[test]
fn every_datagram_handler_under_serve() {
    table("serve");
}

#[test]
fn every_datagram_handler_under_fork_serve() {
    table("fork-serve");
}

#[test]
fn every_datagram_handler_under_thread_serve() {
    table("thread-serve");
}

fn sizes() -> Vec<usize> {
    // 100 sizes from 1 byte to 65,000, the extremes included.
    (0..100)
        .map(|i| {
            if i == 99 {
                65_000
            } else {
                1 + i * 656 + (i * i) % 97
            }
        })
        .collect()
}

#[test]
fn udp_datagram_boundaries_are_kept() {
    for model in MODELS {
        let s = Server::start(&[model, "udp://127.0.0.1:0", "--echo", "-q"]);
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(s.addr().trim_start_matches("udp://")).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut buf = vec![0u8; 70_000];
        for (i, n) in sizes().into_iter().enumerate() {
            let d = random_bytes(n, i as u64 + 1);
            c.send(&d).unwrap();
            let got = c.recv(&mut buf).unwrap();
            assert_eq!(got, n, "{model}: datagram {i}");
            assert!(buf[..got] == d[..], "{model}: datagram {i} content");
        }
    }
}

#[test]
fn unix_datagram_boundaries_are_kept() {
    for model in MODELS {
        let dir = TempDir::new();
        let path = dir.path("dg.sock");
        let s = Server::start(&[
            model,
            &format!("unixgram:{}", path.display()),
            "--echo",
            "-q",
        ]);
        let c = UnixDatagram::bind(dir.path("client.sock")).unwrap();
        c.connect(&path).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut buf = vec![0u8; 70_000];
        for (i, n) in sizes().into_iter().enumerate() {
            let d = random_bytes(n, i as u64 + 100);
            c.send(&d).unwrap();
            let got = c.recv(&mut buf).unwrap();
            assert_eq!(got, n, "{model}: datagram {i}");
            assert!(buf[..got] == d[..], "{model}: datagram {i} content");
        }
        drop(s);
    }
}

#[test]
fn print_keeps_datagrams_whole() {
    for model in MODELS {
        let s = Server::start(&[model, "udp://127.0.0.1:0", "-q"]);
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        let big = vec![b'z'; 60_000];
        c.send_to(&big, s.addr().trim_start_matches("udp://"))
            .unwrap();
        wait_until("the datagram printed", T, || s.out().len() >= big.len());
        assert_eq!(s.out(), big, "{model}");
    }
}

#[test]
fn many_udp_peers_each_get_their_own_replies() {
    for model in MODELS {
        let s = Server::start(&[model, "udp://127.0.0.1:0", "--echo", "-q"]);
        let addr = s.addr().trim_start_matches("udp://").to_string();
        let peers: Vec<UdpSocket> = (0..4)
            .map(|_| {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.connect(&addr).unwrap();
                c.set_read_timeout(Some(T)).unwrap();
                c
            })
            .collect();
        for round in 0..10 {
            for (i, p) in peers.iter().enumerate() {
                p.send(format!("peer {i} round {round}").as_bytes())
                    .unwrap();
            }
            for (i, p) in peers.iter().enumerate() {
                let mut buf = [0u8; 64];
                let n = p.recv(&mut buf).unwrap();
                assert_eq!(
                    &buf[..n],
                    format!("peer {i} round {round}").as_bytes(),
                    "{model}"
                );
            }
        }
    }
}

#[test]
fn send_sends_one_datagram_per_stdin_line() {
    let s = Server::start(&["serve", "udp://127.0.0.1:0", "--reply", "ok"]);
    let out = run(&["send", "--wait", "300ms", s.addr()], b"one\ntwo\nthree\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"ok\nok\nok\n");
    s.wait_out("three\n");
    assert_eq!(s.out(), b"one\ntwo\nthree\n");
}

#[test]
fn udp_probe_tells_what_it_knows() {
    // A closed port answers with ICMP port unreachable.
    let port = {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.local_addr().unwrap().port()
    };
    let out = run(&["send", "-z", &format!("udp://127.0.0.1:{port}")], b"");
    out.expect_code(1);
    assert_eq!(
        out.stdout_str(),
        format!("127.0.0.1:{port} closed\n"),
        "{out}"
    );
    assert_eq!(out.stderr, "", "{out}");
    // An open port that stays silent cannot be told from a filtered one.
    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = run(
        &[
            "send",
            "-z",
            "--wait",
            "300ms",
            &format!("udp://{}", quiet.local_addr().unwrap()),
        ],
        b"",
    );
    out.expect_code(124);
    assert!(
        out.stdout_str()
            .contains(" open|filtered (no answer in 300ms; UDP cannot tell which)"),
        "{out}"
    );
    // A server that answers is open.
    let s = Server::start(&["serve", "udp://127.0.0.1:0", "--reply", "here"]);
    run(&["send", "-z", s.addr()], b"").expect_code(0);
}

#[test]
fn udp_shorthand_and_once() {
    let mut s = Server::start(&["serve", "-u", "127.0.0.1:0", "--once", "--echo"]);
    assert!(s.addr().starts_with("udp://"));
    let port = s.port().to_string();
    let out = run(
        &[
            "send",
            "-u",
            "--wait",
            "300ms",
            &format!("127.0.0.1:{port}"),
            "x",
        ],
        b"",
    );
    assert_eq!(out.stdout, b"x\n", "{out}");
    assert_eq!(s.wait(), Some(0));
    let _ = Duration::ZERO;
}

#[test]
fn a_slow_datagram_program_does_not_hold_up_others() {
    for model in MODELS {
        let dir = TempDir::new();
        let go = dir.path("go");
        let script = format!(
            "read l; if [ \"$l\" = wait ]; then while [ ! -e {} ]; do sleep 0.01; done; fi; echo \"$l\"",
            go.display()
        );
        let s = Server::start(&[model, "udp://127.0.0.1:0", "-q", "--sh-exec", &script]);
        let addr = s.addr().trim_start_matches("udp://").to_string();
        let slow = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fast = UdpSocket::bind("127.0.0.1:0").unwrap();
        for c in [&slow, &fast] {
            c.connect(&addr).unwrap();
            c.set_read_timeout(Some(T)).unwrap();
        }
        slow.send(b"wait\n").unwrap();
        fast.send(b"fast\n").unwrap();
        let mut buf = [0u8; 16];
        let n = fast.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"fast\n", "{model}");
        std::fs::write(&go, "").unwrap();
        let n = slow.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"wait\n", "{model}");
    }
}

#[test]
fn once_waits_for_the_datagram_program_to_answer() {
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "udp://127.0.0.1:0",
            "--once",
            "--sh-exec",
            "read l; sleep 0.2; echo got $l",
        ]);
        let out = run(&["send", "--wait", "1s", s.addr(), "x"], b"");
        assert_eq!(out.stdout, b"got x\n", "{model}: {out}");
        assert_eq!(s.wait(), Some(0), "{model}");
    }
}

/// A datagram reply is one datagram: a program that writes without end
/// gets its first 65,507 bytes (the largest UDP payload) sent and is cut
/// off, and the server's memory does not follow the program's output.
#[test]
fn a_datagram_program_reply_is_capped_at_one_datagram() {
    for model in crate::handlers::MODELS {
        let s = Server::start(&[model, "-u", "127.0.0.1:0", "-q", "--sh-exec", "yes"]);
        let before = rss_kib(s.pid());
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.connect(s.addr().trim_start_matches("udp://")).unwrap();
        let mut buf = vec![0u8; 70_000];
        for round in 0..3 {
            c.send(b"go\n").unwrap();
            let n = c.recv(&mut buf).expect("a reply");
            assert_eq!(n, 65_507, "{model} round {round}");
            assert!(
                buf[..n].chunks(2).all(|p| p == b"y\n" || p == b"y"),
                "{model}"
            );
        }
        let after = rss_kib(s.pid());
        assert!(
            after < before + 16 * 1024,
            "{model}: RSS {before} -> {after} KiB"
        );
    }
}

/// A full session table drops what new peers send, and says so at most
/// once a second, not once per datagram (issue 19, item 11), in every
/// model; when the burst ends a line counts what was held back; the peer
/// that holds the session is served all along.
#[test]
fn a_full_session_table_is_one_line_not_a_flood() {
    let echo = UdpEcho::start();
    let up_addr = echo.addr.clone();
    for model in MODELS {
        let s = Server::start(&[
            model,
            "-u",
            "127.0.0.1:0",
            "--max-conns",
            "1",
            "--forward",
            &up_addr,
        ]);
        let to = s.addr().trim_start_matches("udp://").to_string();
        let first = UdpSocket::bind("127.0.0.1:0").unwrap();
        first.set_read_timeout(Some(T)).unwrap();
        let mut b = [0u8; 64];
        first.send_to(b"hi", &to).unwrap();
        let n = first.recv(&mut b).unwrap();
        assert_eq!(&b[..n], b"hi", "{model}");
        let others: Vec<UdpSocket> = (0..300)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for o in &others {
            o.send_to(b"no room", &to).unwrap();
        }
        // Datagrams are taken in order: once this one is echoed, every
        // drop before it has been logged. (The kernel may drop it from a
        // full receive buffer, so a few tries.)
        first
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let echoed = (0..10).any(|_| {
            first.send_to(b"end", &to).unwrap();
            first.recv(&mut b).is_ok_and(|n| &b[..n] == b"end")
        });
        assert!(echoed, "{model}: the session's peer is no longer served");
        let err = s.err();
        let lines = err.matches("no room for another session").count();
        assert!((1..=3).contains(&lines), "{model}: {lines} lines\n{err}");
        // When the burst ends, one more line counts what was held back.
        s.wait_err("more 'no room for a session' events not shown");
    }
    echo.stop();
}

/// A datagram server has no connections: `-v`'s summary counts sessions
/// for `--forward` and datagrams otherwise (issue 21, item 7), in every
/// model.
#[test]
fn a_datagram_summary_counts_sessions_or_datagrams() {
    let echo = UdpEcho::start();
    let up_addr = echo.addr.clone();
    for model in MODELS {
        // (the server's handler, what its summary says)
        let cases: [(&[&str], &str); 2] = [
            (&["--echo"], "served 2 datagrams: "),
            (
                &["--forward", &up_addr, "--idle-timeout", "300ms"],
                "served 2 sessions: ",
            ),
        ];
        for (handler, want) in cases {
            let mut args = vec![model, "-v", "-u", "127.0.0.1:0", "--count", "2"];
            args.extend_from_slice(handler);
            let mut s = Server::start(&args);
            let to = s.addr().trim_start_matches("udp://").to_string();
            for _ in 0..2 {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(T)).unwrap();
                c.send_to(b"hi", &to).unwrap();
                let mut b = [0u8; 64];
                let n = c.recv(&mut b).unwrap();
                assert_eq!(&b[..n], b"hi", "{model} {handler:?}");
            }
            assert_eq!(s.wait(), Some(0), "{model} {handler:?}: {}", s.err());
            let err = s.err();
            assert!(err.contains(want), "{model} {handler:?}: {err}");
            assert!(!err.contains("connection"), "{model} {handler:?}: {err}");
        }
    }
    echo.stop();
}

/// A verbose UDP forwarder to `up_addr` whose grace period (20 s) is far
/// longer than any stop these tests wait for, and the address to send to.
fn slow_stopping_forwarder(model: &str, up_addr: &str) -> (Server, String) {
    let s = Server::start(&[
        model,
        "-v",
        "-u",
        "127.0.0.1:0",
        "--forward",
        up_addr,
        "--grace",
        "20s",
    ]);
    let to = s.addr().trim_start_matches("udp://").to_string();
    (s, to)
}

/// Ctrl-C ends open forwarded datagram sessions at once (each waits only
/// a moment for its upstream's last replies), not at the end of the
/// grace period, and the summary counts them, in every model. fork-serve's
/// session children once kept their own inbox open, so they never saw the
/// stop and were ended by the grace period, uncounted.
#[test]
fn ctrl_c_ends_open_datagram_sessions_promptly() {
    // An upstream that takes datagrams and never answers.
    let up = UdpSocket::bind("127.0.0.1:0").unwrap();
    let up_addr = format!("udp://{}", up.local_addr().unwrap());
    for model in MODELS {
        let (mut s, to) = slow_stopping_forwarder(model, &up_addr);
        let clients: Vec<UdpSocket> = (0..2)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for c in &clients {
            c.send_to(b"hi", &to).unwrap();
        }
        up.set_read_timeout(Some(T)).unwrap();
        let mut b = [0u8; 64];
        for _ in 0..2 {
            up.recv_from(&mut b).unwrap();
        }
        let asked = std::time::Instant::now();
        assert_eq!(s.interrupt(), Some(130), "{model}: {}", s.err());
        let took = asked.elapsed();
        // Far below the 20s grace period, loosely bounded for a busy machine.
        assert!(
            took < Duration::from_secs(8),
            "{model}: {took:?}: {}",
            s.err()
        );
        let err = s.err();
        assert!(
            err.contains("served 2 sessions: 4 bytes in"),
            "{model}: {err}"
        );
        assert!(!err.contains("grace period is over"), "{model}: {err}");
    }
}

/// Ctrl-C with a reply on its way: every model stops taking datagrams at
/// once and gives each forwarded session a moment (0.5 s past its last
/// traffic, within the grace period) for its upstream's last replies, as
/// the grace period lets a stream's answer finish. A reply within that
/// moment reaches the peer; one after it finds the session ended (issue
/// 20: `serve` once ended its sessions at once and lost the reply).
#[test]
fn ctrl_c_delivers_a_datagram_reply_in_flight_in_every_model() {
    let up = UdpSocket::bind("127.0.0.1:0").unwrap();
    up.set_read_timeout(Some(T)).unwrap();
    let up_addr = format!("udp://{}", up.local_addr().unwrap());
    // (how long after Ctrl-C the upstream answers, whether it arrives)
    let cases = [
        (Duration::from_millis(100), true),
        (Duration::from_millis(1500), false),
    ];
    for model in MODELS {
        for (after, arrives) in cases {
            let case = format!("{model}, answered {after:?} after Ctrl-C");
            let (mut s, to) = slow_stopping_forwarder(model, &up_addr);
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            client.send_to(b"question", &to).unwrap();
            let mut b = [0u8; 64];
            let (_, session) = up.recv_from(&mut b).unwrap();
            let asked = std::time::Instant::now();
            s.signal(libc::SIGINT);
            std::thread::sleep(after);
            up.send_to(b"answer", session).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let got = client.recv(&mut b).ok().map(|n| b[..n].to_vec());
            assert_eq!(got.is_some(), arrives, "{case}: {got:?}: {}", s.err());
            if let Some(got) = got {
                assert_eq!(got, b"answer", "{case}");
            }
            assert_eq!(s.wait(), Some(130), "{case}: {}", s.err());
            let took = asked.elapsed();
            assert!(
                took < Duration::from_secs(8),
                "{case}: {took:?}: {}",
                s.err()
            );
            let out = if arrives { 6 } else { 0 };
            let want = format!("served 1 session: 8 bytes in, {out} bytes out");
            let err = s.err();
            assert!(err.contains(&want), "{case}: {err}");
            assert!(!err.contains("grace period is over"), "{case}: {err}");
        }
    }
}

/// A UDP upstream that echoes every datagram, on a thread that ends when
/// stopped (or after 3 T at the latest).
struct UdpEcho {
    addr: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl UdpEcho {
    fn start() -> UdpEcho {
        use std::sync::atomic::{AtomicBool, Ordering};
        let up = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = format!("udp://{}", up.local_addr().unwrap());
        up.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut b = [0u8; 64];
            let end = std::time::Instant::now() + T * 3;
            while !flag.load(Ordering::SeqCst) && std::time::Instant::now() < end {
                if let Ok((n, from)) = up.recv_from(&mut b) {
                    let _ = up.send_to(&b[..n], from);
                }
            }
        });
        UdpEcho { addr, stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}
