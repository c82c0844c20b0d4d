//! `--forward`: every model, every pair of stream transports, byte for
//! byte; half-close each way; failures and resets on either side; slow
//! readers; datagram sessions; and real peers (socat, nc) on both ends.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::handlers::{Client, MODELS, exchange};
use crate::util::*;

/// The listening (and upstream) stream transports.
fn streams(dir: &TempDir, tag: &str) -> Vec<(&'static str, String)> {
    vec![
        ("tcp4", "127.0.0.1:0".to_string()),
        ("tcp6", "[::1]:0".to_string()),
        (
            "unix",
            format!("unix:{}", dir.path(&format!("{tag}.sock")).display()),
        ),
        ("abstract", format!("unix:@{}", unique_name())),
    ]
}

/// 1 MiB through every model × listening transport × upstream transport,
/// to an echo upstream: what comes back is what went in.
#[test]
fn every_pair_of_stream_transports_carries_bytes_intact() {
    let dir = TempDir::new();
    let ups: Vec<(&str, Server)> = streams(&dir, "up")
        .into_iter()
        .map(|(name, a)| (name, Server::start(&["serve", &a, "--echo", "-q"])))
        .collect();
    let msg = random_bytes(1 << 20, 11);
    for model in MODELS {
        for (lname, listen) in streams(&dir, "fwd") {
            for (uname, up) in &ups {
                let mut f = Server::start(&[model, &listen, "-q", "--forward", up.addr()]);
                let got = exchange(f.addr(), &msg);
                assert!(
                    got == msg,
                    "{model} {lname} -> {uname}: {} bytes came back for {} sent",
                    got.len(),
                    msg.len()
                );
                assert_eq!(f.interrupt(), Some(130), "{model} {lname} -> {uname}");
            }
        }
    }
}

#[test]
fn sixty_four_mib_each_way_in_every_model() {
    let up = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let msg = random_bytes(64 << 20, 5);
    for model in MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "-v", "--forward", up.addr()]);
        let got = exchange(f.addr(), &msg);
        assert!(got == msg, "{model}: {} of {} bytes", got.len(), msg.len());
        f.wait_err("by splice");
    }
}

/// A FIN right behind the last bytes is passed on, either way, in every
/// model: serve's loop stops reading at a short read only when its event
/// showed no end, so data and a FIN that came together (one event) are
/// never split. Each of 60 connections per model makes small round trips,
/// then sends its last bytes and its FIN at once, and the upstream
/// answers with its last bytes and its FIN at once.
#[test]
fn a_fin_right_behind_the_last_bytes_is_passed_on_either_way() {
    const CONNS: usize = 60;
    let (l, a) = upstream();
    let up = std::thread::spawn(move || {
        for _ in 0..MODELS.len() * CONNS {
            let mut s = accept(&l);
            let mut buf = [0u8; 256];
            loop {
                match s.read(&mut buf).unwrap() {
                    0 => break,
                    n => s.write_all(&buf[..n]).unwrap(),
                }
            }
            s.write_all(b"bye").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
        }
    });
    for model in MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &a]);
        for i in 0..CONNS {
            let mut c = TcpStream::connect(f.addr()).unwrap();
            c.set_read_timeout(Some(T)).unwrap();
            c.set_nodelay(true).unwrap();
            for round in 0..3 {
                let ping = format!("ping {i}.{round}");
                c.write_all(ping.as_bytes()).unwrap();
                let mut back = vec![0u8; ping.len()];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back, ping.as_bytes(), "{model}");
            }
            c.write_all(b"last").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            c.read_to_end(&mut rest)
                .unwrap_or_else(|e| panic!("{model}, connection {i}: {e}"));
            assert_eq!(rest, b"lastbye", "{model}, connection {i}");
        }
    }
    up.join().unwrap();
}

/// A one-connection upstream on a test listener of our own.
fn upstream() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

fn accept(l: &TcpListener) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let end = Instant::now() + T;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(T)).unwrap();
                s.set_write_timeout(Some(T)).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < end, "the forwarder never connected");
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// The client's FIN reaches the upstream as a FIN, and the upstream's
/// answer after it still comes back: the lesson's exchange, relayed.
#[test]
fn the_clients_half_close_reaches_the_upstream() {
    for model in MODELS {
        let (l, a) = upstream();
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &a]);
        let up = std::thread::spawn(move || {
            let mut s = accept(&l);
            let mut got = Vec::new();
            s.read_to_end(&mut got)
                .expect("read until the client's FIN");
            s.write_all(format!("got {} bytes\n", got.len()).as_bytes())
                .unwrap();
        });
        let reply = exchange(f.addr(), &vec![b'a'; 3000]);
        assert_eq!(reply, b"got 3000 bytes\n", "{model}");
        up.join().unwrap();
    }
}

/// And the other way: the upstream's FIN reaches the client while the
/// client's side stays open, and what the client sends afterwards still
/// reaches the upstream.
#[test]
fn the_upstreams_half_close_reaches_the_client() {
    for model in MODELS {
        let (l, a) = upstream();
        let f = Server::start(&[model, "127.0.0.1:0", "-v", "--forward", &a]);
        let (tx, rx) = mpsc::channel();
        let up = std::thread::spawn(move || {
            let mut s = accept(&l);
            s.write_all(b"hello first\n").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            tx.send(got).unwrap();
        });
        let mut c = Client::connect(f.addr());
        assert_eq!(c.read_to_end(), b"hello first\n", "{model}");
        c.write_all(b"sent after your FIN\n").unwrap();
        c.shutdown(Shutdown::Write);
        let got = rx.recv_timeout(T).expect("the upstream's read ended");
        assert_eq!(got, b"sent after your FIN\n", "{model}");
        up.join().unwrap();
        f.wait_err("20 bytes in, 12 bytes out");
    }
}

#[test]
fn an_upstream_that_refuses_closes_the_client_and_the_server_goes_on() {
    let port = closed_port();
    for model in MODELS {
        let target = format!("127.0.0.1:{port}");
        let mut f = Server::start(&[model, "127.0.0.1:0", "--forward", &target]);
        for _ in 0..2 {
            assert_reset(f.addr(), b"anyone there?\n", model);
        }
        let failures = || f.err().lines().filter(|l| l.contains("failed")).count();
        wait_until("one line per failure", T, || failures() >= 2);
        assert_eq!(failures(), 2, "{model}: one line per failure\n{}", f.err());
        assert!(
            f.err().contains(&format!("forward to {target} failed: ")),
            "{model}: {}",
            f.err()
        );
        assert!(f.err().contains("refused"), "{model}: {}", f.err());
        assert_eq!(f.interrupt(), Some(130));
    }
}

#[test]
fn an_unresolvable_or_silent_upstream_fails_with_a_reason() {
    for model in MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "--forward", "nowhere.invalid:80"]);
        assert_reset(f.addr(), b"x\n", model);
        f.wait_err("forward to nowhere.invalid:80 failed: ");
    }
    // A listener whose backlog is full (and never accepts) swallows SYNs:
    // the connect times out after --connect-timeout.
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    l.listen(0).unwrap();
    let a = l.local_addr().unwrap().as_socket().unwrap().to_string();
    let fillers: Vec<TcpStream> = (0..8).filter_map(|_| connect_quick(&a)).collect();
    for model in MODELS {
        let f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--forward",
            &a,
            "--connect-timeout",
            "300ms",
        ]);
        let t0 = Instant::now();
        assert_reset(f.addr(), b"x\n", model);
        f.wait_err("timed out");
        assert!(t0.elapsed() < Duration::from_secs(10), "{model}");
    }
    drop(fillers);
}

/// Send `msg`, half-close, and read: the forwarder could not reach its
/// upstream, and a client owed an answer is reset, not given a FIN that
/// looks like an empty answer (issue 19, item 7).
fn assert_reset(addr: &str, msg: &[u8], model: &str) {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    // The reset may come before the write: then the write (or the
    // shutdown) is what reports it, and a later read sees only the end.
    let reset = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        )
    };
    if let Err(e) = (&c)
        .write_all(msg)
        .and_then(|_| c.shutdown(Shutdown::Write))
    {
        assert!(reset(&e), "{model}: the write failed with {e}, not a reset");
        return;
    }
    let mut got = Vec::new();
    let r = (&c).read_to_end(&mut got);
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{model}: the client read {r:?} ({} bytes), not a reset",
        got.len()
    );
}

fn connect_quick(a: &str) -> Option<TcpStream> {
    TcpStream::connect_timeout(&a.parse().unwrap(), Duration::from_millis(200)).ok()
}

/// The upstream resets mid-transfer: the client is reset too.
#[test]
fn a_reset_from_the_upstream_resets_the_client() {
    for model in MODELS {
        let (l, a) = upstream();
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &a]);
        let up = std::thread::spawn(move || {
            let mut s = accept(&l);
            let mut buf = [0u8; 1000];
            s.read_exact(&mut buf).unwrap();
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s); // RST
        });
        let c = TcpStream::connect(f.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        (&c).write_all(&[b'x'; 1000]).unwrap();
        up.join().unwrap();
        let mut buf = [0u8; 64];
        let r = (&c).read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{model}: the client read {r:?}, not a reset"
        );
    }
}

/// The client resets mid-transfer: the upstream is reset too.
#[test]
fn a_reset_from_the_client_resets_the_upstream() {
    for model in MODELS {
        let (l, a) = upstream();
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &a]);
        let (tx, rx) = mpsc::channel();
        let (got_tx, got_rx) = mpsc::channel();
        let up = std::thread::spawn(move || {
            let mut s = accept(&l);
            let mut buf = [0u8; 1000];
            s.read_exact(&mut buf).unwrap();
            got_tx.send(()).unwrap();
            let mut rest = Vec::new();
            tx.send(s.read_to_end(&mut rest).map_err(|e| e.kind()))
                .unwrap();
        });
        let c = TcpStream::connect(f.addr()).unwrap();
        (&c).write_all(&[b'x'; 1000]).unwrap();
        got_rx.recv_timeout(T).expect("the upstream got the bytes");
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c); // RST
        let r = rx.recv_timeout(T).expect("the upstream's read ended");
        assert_eq!(
            r,
            Err(std::io::ErrorKind::ConnectionReset),
            "{model}: the upstream saw {r:?}"
        );
        up.join().unwrap();
    }
}

/// Write 1 MiB chunks until 64 MiB went or the peer stopped taking them
/// (a write that waited 1 s and took less than a chunk); returns what went.
fn flood(s: &TcpStream) -> usize {
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    let t0 = Instant::now();
    while sent < 64 << 20 && t0.elapsed() < Duration::from_secs(30) {
        match (&*s).write(&chunk) {
            Ok(n) if n == chunk.len() => sent += n,
            Ok(n) => {
                sent += n;
                break;
            }
            Err(_) => break,
        }
    }
    sent
}

/// An upstream that never reads stops the client's bytes at the
/// forwarder, which holds a bounded amount; and a client that never reads
/// stops the upstream's bytes the same way.
#[test]
fn a_slow_reader_on_either_side_keeps_memory_bounded() {
    for model in MODELS {
        let (l, a) = upstream();
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &a]);
        let before = rss_all(f.pid());
        let c = TcpStream::connect(f.addr()).unwrap();
        // The upstream never reads.
        let up = accept(&l);
        let sent = flood(&c);
        assert!(sent < 64 << 20, "{model}: the forwarder read all of it");
        let after = rss_all(f.pid());
        assert!(
            after < before + 16 * 1024,
            "{model}: RSS {before} -> {after} KiB, {sent} bytes sent"
        );
        drop((c, up));
        // The client never reads; the upstream floods.
        let (l, a) = upstream();
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &a]);
        let before = rss_all(f.pid());
        let _c = TcpStream::connect(f.addr()).unwrap();
        let s = accept(&l);
        let sent = flood(&s);
        assert!(sent < 64 << 20, "{model}: the forwarder read all of it");
        let after = rss_all(f.pid());
        assert!(
            after < before + 16 * 1024,
            "{model}: RSS {before} -> {after} KiB, {sent} bytes from upstream"
        );
    }
}

/// tcp -> tcp moves by splice; --hex needs the bytes, so it copies. The
/// closing event says which, in text and in JSON, with the upstream.
#[test]
fn the_closing_event_names_the_path() {
    let up = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    for model in MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "-v", "--forward", up.addr()]);
        assert_eq!(exchange(f.addr(), b"zero copy\n"), b"zero copy\n");
        f.wait_err(&format!("forwarded to {} by splice", up.addr()));

        let h = Server::start(&[model, "127.0.0.1:0", "-v", "--hex", "--forward", up.addr()]);
        assert_eq!(exchange(h.addr(), b"dump me\n"), b"dump me\n");
        h.wait_err("by copy");
        assert!(h.err().contains("|dump me.|"), "{model}: {}", h.err());
        assert!(h.err().contains("< 00000000"), "{model}: both directions");
        assert!(h.err().contains("> 00000000"), "{model}: both directions");

        let j = Server::start(&[
            model,
            "127.0.0.1:0",
            "-v",
            "--log-format",
            "json",
            "--forward",
            up.addr(),
        ]);
        assert_eq!(exchange(j.addr(), b"json\n"), b"json\n");
        j.wait_err("\"closed\"");
        let closed: serde_json::Value = j
            .err()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "closed")
            .unwrap();
        assert_eq!(closed["path"], "splice", "{model}: {closed}");
        assert_eq!(closed["upstream"], up.addr(), "{model}: {closed}");
        assert_eq!(closed["bytes_in"], 5, "{model}: {closed}");
        assert_eq!(closed["bytes_out"], 5, "{model}: {closed}");
    }
}

/// --allow / --deny, --max-conns and Ctrl-C's grace apply to forwarded
/// connections as to any other.
#[test]
fn server_options_apply_to_forwarded_connections() {
    let up = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    for model in MODELS {
        let d = Server::start(&[
            model,
            "127.0.0.1:0",
            "--deny",
            "127.0.0.0/8",
            "--forward",
            up.addr(),
        ]);
        // Refused before anything is read: an EOF, or a reset.
        let mut c = Client::connect(d.addr());
        let mut buf = [0u8; 8];
        assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)), "{model}");
        d.wait_err("refused");
        assert!(!d.err().contains("forward to"), "{model}: {}", d.err());

        // A connection open at Ctrl-C finishes within the grace period.
        let mut f = Server::start(&[model, "127.0.0.1:0", "--forward", up.addr()]);
        let mut c = Client::connect(f.addr());
        c.write_all(b"before\n").unwrap();
        let mut buf = [0u8; 7];
        let mut n = 0;
        while n < 7 {
            n += c.read(&mut buf[n..]).unwrap();
        }
        f.signal(libc::SIGINT);
        c.write_all(b"after the signal\n").unwrap();
        c.shutdown(Shutdown::Write);
        assert_eq!(c.read_to_end(), b"after the signal\n", "{model}");
        assert_eq!(f.wait(), Some(130), "{model}");
    }
}

#[test]
fn a_stream_forwarded_to_datagrams_ends_after_the_quiet_period() {
    let up = Server::start(&["serve", "-u", "127.0.0.1:0", "--echo", "-q"]);
    for model in MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "-v", "--forward", up.addr()]);
        let t0 = Instant::now();
        assert_eq!(exchange(f.addr(), b"one datagram\n"), b"one datagram\n");
        assert!(t0.elapsed() < Duration::from_secs(5), "{model}");
        f.wait_err("by copy");
    }
}

#[test]
fn a_datagram_server_forwards_only_to_datagrams() {
    let out = run(
        &["serve", "-u", "127.0.0.1:0", "--forward", "127.0.0.1:80"],
        b"",
    );
    out.expect_code(2);
    assert!(out.stderr.contains("udp://"), "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    run(&["serve", "127.0.0.1:0", "--connect-timeout", "1s"], b"").expect_code(2);
    run(&["serve", "127.0.0.1:0", "--forward", "ftp://x:1"], b"").expect_code(2);
    run(&["serve", "127.0.0.1:0", "--forward", "--echo", "x:1"], b"").expect_code(2);
}

/// Several UDP peers at once, each in lockstep (1,000 × 1 KiB), through a
/// forwarder to an echo server: every reply comes back to its own peer.
#[test]
fn udp_sessions_carry_lockstep_exchanges_for_several_peers() {
    let up = Server::start(&["serve", "-u", "127.0.0.1:0", "--echo", "-q"]);
    let target = up.addr().to_string();
    for model in MODELS {
        let f = Server::start(&[
            model,
            "-u",
            "127.0.0.1:0",
            "-v",
            "--idle-timeout",
            "1s",
            "--forward",
            &target,
        ]);
        let addr = f.addr().trim_start_matches("udp://").to_string();
        let peers: Vec<_> = (0..3u8)
            .map(|p| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    c.connect(&addr).unwrap();
                    let mut buf = vec![0u8; 4096];
                    for i in 0..1000u32 {
                        let mut m = vec![p; 1024];
                        m[..4].copy_from_slice(&i.to_be_bytes());
                        c.send(&m).unwrap();
                        let n = c.recv(&mut buf).expect("a reply");
                        assert_eq!(&buf[..n], &m[..], "peer {p} datagram {i}");
                    }
                })
            })
            .collect();
        for p in peers {
            p.join().unwrap();
        }
        // Each session ends on its own after the idle timeout.
        wait_until("three sessions to close", T, || {
            f.err()
                .matches("1024000 bytes in, 1024000 bytes out")
                .count()
                == 3
        });
    }
}

#[test]
fn unixgram_sessions_carry_lockstep_and_bulk() {
    let dir = TempDir::new();
    let up_path = dir.path("up.sock");
    let up = Server::start(&[
        "serve",
        &format!("unixgram:{}", up_path.display()),
        "--echo",
        "-q",
    ]);
    for model in MODELS {
        let fwd = dir.path(&format!("{model}.sock"));
        let f = Server::start(&[
            model,
            &format!("unixgram:{}", fwd.display()),
            "-q",
            "--forward",
            up.addr(),
        ]);
        // Three peers at once, each in lockstep; every tenth datagram
        // carries 60 KiB (a Unix datagram socket drops nothing).
        let peers: Vec<_> = (0..3u64)
            .map(|p| {
                let me = dir.path(&format!("{model}-client-{p}.sock"));
                let fwd = fwd.clone();
                std::thread::spawn(move || {
                    let c = UnixDatagram::bind(&me).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    c.connect(&fwd).unwrap();
                    let mut buf = vec![0u8; 128 * 1024];
                    for i in 0..1000u64 {
                        let len = if i % 10 == 0 { 60 * 1024 } else { 1024 };
                        let m = random_bytes(len, p * 10_000 + i + 1);
                        c.send(&m).unwrap();
                        let n = c.recv(&mut buf).expect("a reply");
                        assert!(buf[..n] == m[..], "peer {p}: datagram {i}");
                    }
                })
            })
            .collect();
        for p in peers {
            p.join()
                .unwrap_or_else(|_| panic!("{model}: a peer failed"));
        }
        drop(f);
    }
}

/// nc and socat on either end: as the client, and as the upstream.
#[test]
fn real_peers_on_both_ends() {
    // OpenBSD's nc by its own name: `nc` may be ncat's alternative.
    if !needs(&["socat", "nc.openbsd"]) {
        return;
    }
    let dir = TempDir::new();
    let msg = random_bytes(1 << 20, 3);
    let input = dir.path("in.bin");
    std::fs::write(&input, &msg).unwrap();
    let up = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    for model in MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", up.addr()]);
        let (host, port) = f.addr().rsplit_once(':').unwrap();
        // socat as the client.
        let got = peer(
            Command::new("socat")
                .args(["-t", "5", "-", &format!("TCP:{host}:{port}")])
                .stdin(std::fs::File::open(&input).unwrap()),
        );
        assert!(got == msg, "{model}: socat got {} bytes", got.len());
        // OpenBSD nc as the client (-N: shut down after stdin's end).
        let got = peer(
            Command::new("nc.openbsd")
                .args(["-N", host, port])
                .stdin(std::fs::File::open(&input).unwrap()),
        );
        assert!(got == msg, "{model}: nc got {} bytes", got.len());
    }
    // socat as the upstream: an echo on a Unix socket, one process per
    // connection.
    let sock = dir.path("socat.sock");
    let mut socat = Command::new("socat")
        .args([&format!("UNIX-LISTEN:{},fork", sock.display()), "EXEC:cat"])
        .spawn()
        .expect("run socat");
    wait_until("socat to listen", T, || sock.exists());
    for model in MODELS {
        let target = format!("unix:{}", sock.display());
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &target]);
        assert!(exchange(f.addr(), &msg) == msg, "{model} -> socat");
    }
    let _ = socat.kill();
    let _ = socat.wait();
    // nc as the upstream: it writes what arrives to a file and ends at the
    // client's FIN, which the forwarder passes on.
    for model in MODELS {
        let sock = dir.path(&format!("nc-{model}.sock"));
        let out = dir.path(&format!("nc-{model}.out"));
        let mut nc = Command::new("nc.openbsd")
            .args(["-lU", sock.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .spawn()
            .expect("run nc");
        wait_until("nc to listen", T, || sock.exists());
        let target = format!("unix:{}", sock.display());
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &target]);
        assert_eq!(exchange(f.addr(), &msg), b"", "{model}");
        assert!(wait_child(&mut nc, T).success(), "{model}: nc");
        assert!(std::fs::read(&out).unwrap() == msg, "{model} -> nc");
    }
}

fn peer(cmd: &mut Command) -> Vec<u8> {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the peer");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(T) {
        Ok(out) => {
            let out = out.unwrap();
            assert!(
                out.status.success(),
                "peer failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(id as i32, libc::SIGKILL) };
            panic!("the peer did not finish within {T:?}");
        }
    }
}

/// --idle-timeout ends a forwarded connection with no traffic either way,
/// in every model; traffic in one direction alone keeps it open.
#[test]
fn idle_forwarded_connections_end_at_the_idle_timeout() {
    for model in MODELS {
        let (l, a) = upstream();
        let f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--idle-timeout",
            "600ms",
            "--forward",
            &a,
        ]);
        let mut c = Client::connect(f.addr());
        let mut up = accept(&l);
        // The upstream talks every 200ms for a second: one way is enough.
        for _ in 0..5 {
            up.write_all(b"tick\n").unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
        let t0 = Instant::now();
        let got = c.read_to_end();
        assert_eq!(got, b"tick\n".repeat(5), "{model}");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{model}: closed after {:?}",
            t0.elapsed()
        );
        f.wait_err("idle timeout");
    }
}

/// Copies of every descriptor `pid` and its children (where fork-serve
/// serves) hold, taken through pidfd_getfd (root may), to look at them.
fn descriptors_of(pid: i32) -> Vec<std::os::fd::OwnedFd> {
    let mut got = Vec::new();
    for p in std::iter::once(pid).chain(children(pid).into_iter().map(|(c, _)| c)) {
        // SAFETY: pidfd_open takes a pid and flags; no memory is passed.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, p, 0) } as i32;
        if pidfd < 0 {
            continue;
        }
        let fds: Vec<i32> = std::fs::read_dir(format!("/proc/{p}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        for fd in fds {
            // SAFETY: pidfd_getfd copies a descriptor of another process
            // into this one; no memory is passed.
            let mine = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) } as i32;
            if mine >= 0 {
                // SAFETY: `mine` was just returned open, and is owned here.
                got.push(unsafe {
                    <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(mine)
                });
            }
        }
        // SAFETY: pidfd is ours to close.
        unsafe { libc::close(pidfd) };
    }
    got
}

/// TCP_NODELAY of every connected TCP socket a server holds.
fn nodelay_of_connections(pid: i32) -> Vec<bool> {
    descriptors_of(pid)
        .iter()
        .map(socket2::SockRef::from)
        .filter(|s| {
            s.r#type().is_ok_and(|t| t == socket2::Type::STREAM)
                && s.peer_addr().is_ok_and(|a| a.as_socket().is_some())
        })
        .map(|s| s.tcp_nodelay().unwrap_or(false))
        .collect()
}

/// A forwarder sets TCP_NODELAY on both of its sockets without being
/// asked, in every model: Nagle's delay in the middle slows small
/// requests (issue 19, "Also"); a plain server leaves it as it is.
#[test]
fn forwarders_turn_nagle_off_on_both_sides() {
    if !needs_root() {
        return;
    }
    let (up, up_addr) = upstream();
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--forward", &up_addr, "-q"]);
        let mut c = TcpStream::connect(s.addr()).unwrap();
        let mut u = accept(&up);
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        u.read_exact(&mut b).unwrap();
        let got = nodelay_of_connections(s.pid());
        // Two sockets (a model may hold one by two descriptors), all set.
        assert!(
            got.len() >= 2 && got.iter().all(|&on| on),
            "{model}: client and upstream sockets: {got:?}"
        );
        drop((c, u));
    }
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.write_all(b"x").unwrap();
    c.read_exact(&mut [0u8; 1]).unwrap();
    let got = nodelay_of_connections(s.pid());
    assert!(
        !got.is_empty() && got.iter().all(|&on| !on),
        "a plain server is left as it was: {got:?}"
    );
}

/// An upstream that accepts every connection, reads what comes, and
/// never sends or closes: each connection's bytes go to `got` once its
/// FIN came, and its socket is held until `stop`.
fn mute_upstream(
    l: TcpListener,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (std::thread::JoinHandle<()>, mpsc::Receiver<Vec<u8>>) {
    use std::sync::atomic::Ordering;
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        let mut held = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    let keep = s.try_clone().unwrap();
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let mut got = Vec::new();
                        let _ = (&s).read_to_end(&mut got);
                        let _ = tx.send(got);
                    });
                    held.push(keep);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    });
    (h, rx)
}

/// What a server holds: its sockets (its pool of splice pipes may keep
/// some pipes for the next transfer, so not every descriptor counts) and
/// (fork-serve) its children.
fn holdings(pid: i32) -> (usize, usize) {
    let sockets = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|l| l.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0);
    (sockets, children(pid).len())
}

/// Issue 19, item 5: clients that send and close, to an upstream that
/// never closes, must not hold the server's slots for good. After
/// --half-close-timeout without traffic from the upstream, each client
/// sees EOF, the server's descriptors and children fall back, and a new
/// client is served (the server is not full), in every model.
#[test]
fn half_closed_forwarded_connections_end_at_the_half_close_timeout() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const N: usize = 12;
    for model in MODELS {
        let (l, a) = upstream();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (up, got) = mute_upstream(l, stop.clone());
        // Room for N at once and no more: a server that kept the dead
        // halves could not serve the client after them.
        let f = Server::start(&[
            model,
            "127.0.0.1:0",
            "-v",
            "--max-conns",
            &N.to_string(),
            "--half-close-timeout",
            "1s",
            "--forward",
            &a,
        ]);
        let before = holdings(f.pid());
        let t0 = Instant::now();
        let clients: Vec<_> = (0..N)
            .map(|_| {
                let addr = f.addr().to_string();
                std::thread::spawn(move || {
                    let mut c = Client::connect(&addr);
                    c.write_all(b"hi").unwrap();
                    c.shutdown(Shutdown::Write);
                    c.read_to_end()
                })
            })
            .collect();
        for c in clients {
            assert_eq!(c.join().unwrap(), b"", "{model}: EOF and nothing else");
        }
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(8), "{model}: EOF after {took:?}");
        for _ in 0..N {
            let b = got.recv_timeout(T).expect("the upstream got each FIN");
            assert_eq!(b, b"hi", "{model}");
        }
        wait_until("the server's holdings fall back", T, || {
            let (fds, kids) = holdings(f.pid());
            fds <= before.0 && kids <= before.1
        });
        f.wait_err("half-closed and quiet for 1s (--half-close-timeout)");
        // Served: its bytes reach the upstream, and it ends the same way.
        let mut c = Client::connect(f.addr());
        c.write_all(b"again").unwrap();
        c.shutdown(Shutdown::Write);
        assert_eq!(got.recv_timeout(T).expect("served"), b"again", "{model}");
        assert_eq!(c.read_to_end(), b"", "{model}");
        stop.store(true, Ordering::SeqCst);
        up.join().unwrap();
    }
}

/// Traffic in the direction still open keeps a half-closed connection
/// alive past --half-close-timeout (it bounds quiet, not life); once the
/// traffic stops, the bound applies. Both ways round, every model.
#[test]
fn traffic_keeps_a_half_closed_forwarded_connection_open() {
    for model in MODELS {
        for upstream_closes in [false, true] {
            let (l, a) = upstream();
            let f = Server::start(&[
                model,
                "127.0.0.1:0",
                "-v",
                "--half-close-timeout",
                "600ms",
                "--forward",
                &a,
            ]);
            let mut c = Client::connect(f.addr());
            let mut up = accept(&l);
            let t0 = Instant::now();
            let got = if upstream_closes {
                // The upstream's FIN first; the client talks on.
                up.shutdown(Shutdown::Write).unwrap();
                assert_eq!(c.read_to_end(), b"", "{model}");
                for _ in 0..6 {
                    c.write_all(b"tick\n").unwrap();
                    std::thread::sleep(Duration::from_millis(250));
                }
                let mut got = Vec::new();
                up.read_to_end(&mut got).expect("the forwarder's FIN");
                got
            } else {
                c.shutdown(Shutdown::Write);
                let mut fin = Vec::new();
                up.read_to_end(&mut fin).expect("the client's FIN");
                for _ in 0..6 {
                    up.write_all(b"tick\n").unwrap();
                    std::thread::sleep(Duration::from_millis(250));
                }
                c.read_to_end()
            };
            assert_eq!(got, b"tick\n".repeat(6), "{model} {upstream_closes}");
            assert!(
                t0.elapsed() < Duration::from_secs(8),
                "{model}: ended after {:?}",
                t0.elapsed()
            );
            f.wait_err("half-closed and quiet for 600ms");
        }
    }
}

/// Issue 19, item 7: a forwarded download cut by the end of the grace
/// period must not look complete. A slow client downloads a reply far
/// larger than the buffers; SIGTERM with --grace 500ms cuts it: the
/// client's read ends with a reset, never a clean EOF after a short
/// count, in every model.
#[test]
fn a_transfer_cut_by_the_grace_period_is_reset() {
    for model in MODELS {
        let (mut f, r, total) = cut_download(model, &["--grace", "500ms"], |f| {
            f.signal(libc::SIGTERM);
        });
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{model}: the client's read ended with {r:?} after {total} of {CUT_SIZE} bytes, not a reset"
        );
        assert!(total < CUT_SIZE, "{model}");
        assert!(f.wait().is_some(), "{model}: the server ends");
    }
}

/// What a forwarded download cut on purpose looks like to its client: a
/// slow reader downloads far more than the buffers hold through `model
/// --forward` (`args` added), and `cut` is done to the server once 1 MiB
/// has come. Returns the server, how the client's read ended and how
/// much came.
fn cut_download(
    model: &str,
    args: &[&str],
    cut: impl Fn(&Server),
) -> (Server, std::io::Result<()>, usize) {
    let (l, a) = upstream();
    let mut all = vec![model, "127.0.0.1:0", "-q", "--forward", &a];
    all.extend_from_slice(args);
    let f = Server::start(&all);
    let up = std::thread::spawn(move || {
        let mut s = accept(&l);
        let chunk = vec![b'z'; 1 << 20];
        for _ in 0..CUT_SIZE >> 20 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let c = TcpStream::connect(f.addr()).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0usize;
    let mut signalled = false;
    let r = loop {
        match (&c).read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => total += n,
            Err(e) => break Err(e),
        }
        if !signalled && total >= 1 << 20 {
            signalled = true;
            cut(&f);
        }
        // A slow reader: the transfer is far from done at the cut.
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(signalled, "{model}: only {total} bytes came");
    up.join().unwrap();
    (f, r, total)
}

/// What [`cut_download`]'s upstream sends: far more than the buffers hold.
const CUT_SIZE: usize = 256 << 20;

/// Idle forwarded connections hold no grown splice pipe (issue 19, item
/// 6): a pipe grows only while bytes stream through it and shrinks before
/// a read that would wait, and fork-serve's children grow from one budget.
/// So 140 connections left open after a transfer, under a user of their
/// own, leave that user's next pipe at the kernel's default 64 KiB; before,
/// each fork-serve child kept two 256 KiB pipes, used up the user's pipe
/// memory (64 MiB) and cut every new pipe of the user's to 8 KiB. (A
/// pipe's size cannot be read from outside while a splice waits on it:
/// F_GETPIPE_SZ waits for the pipe's lock.)
#[test]
fn idle_forwarded_connections_hold_no_grown_pipe() {
    if !needs_root() || !needs(&["setpriv", "perl"]) {
        return;
    }
    let dir = TempDir::new();
    let bin = copy_of_binary(&dir);
    let uid = lone_uid();
    // A new pipe of that user's, and its size (F_GETPIPE_SZ is 1032).
    // Perl, as Debian always has it where any user can run it (python3
    // may be a shim under root's home).
    let fresh_pipe = || {
        let mut c = as_user(uid);
        c.args(["perl", "-e", "pipe(R, W) or die; print fcntl(W, 1032, 0)"]);
        let o = output_within(&mut c, T);
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<usize>()
            .unwrap_or(0)
    };
    assert_eq!(fresh_pipe(), 64 * 1024, "a new pipe before the test");
    let echo = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let data = random_bytes(1 << 20, 6);
    for model in MODELS {
        let mut cmd = as_user(uid);
        cmd.arg(&bin)
            .args([model, "127.0.0.1:0", "--forward", echo.addr(), "-q"]);
        if model == "fork-serve" {
            cmd.args(["--max-children", "200"]);
        }
        let s = Server::start_command(cmd, &[model, "as a uid of its own"], Opts::default());
        let mut open = Vec::new();
        for _ in 0..140 {
            let c = TcpStream::connect(s.addr()).unwrap();
            c.set_read_timeout(Some(T)).unwrap();
            let mut w = c.try_clone().unwrap();
            let out = data.clone();
            let writer = std::thread::spawn(move || w.write_all(&out).unwrap());
            let mut back = vec![0u8; data.len()];
            (&c).read_exact(&mut back).unwrap();
            writer.join().unwrap();
            assert!(back == data, "{model}: the echo differs");
            open.push(c); // left open and idle
        }
        wait_until(
            &format!("{model}: a new pipe of the user's at 64 KiB"),
            T,
            || fresh_pipe() == 64 * 1024,
        );
        drop(open);
    }
}

/// A forwarder's upstream that is one of its own listening sockets (the
/// same address, a loopback or local address on a wildcard bind's port,
/// the same socket file or abstract name) is refused at start, in every
/// model, with one line and exit 2 (issue 19, item 4): it would forward
/// each connection to itself until no descriptor, thread or child is left.
#[test]
fn a_forward_to_the_server_itself_is_refused_at_start() {
    let dir = TempDir::new();
    for model in MODELS {
        let p = free_port().to_string();
        let sock = dir.path(&format!("{model}.sock")).display().to_string();
        let same_file = format!(
            "unix:{}/../{}/{model}.sock",
            dir.path("").display(),
            dir.path("").file_name().unwrap().to_string_lossy()
        );
        let abs = format!("unix:@{}", unique_name());
        let cases: Vec<Vec<String>> = vec![
            vec![format!("127.0.0.1:{p}"), format!("127.0.0.1:{p}")],
            vec![format!("0.0.0.0:{p}"), format!("127.0.0.1:{p}")],
            vec![format!("[::]:{p}"), format!("[::1]:{p}")],
            vec![format!("127.0.0.1:{p}"), format!("0.0.0.0:{p}")],
            vec![
                "-u".into(),
                format!("127.0.0.1:{p}"),
                format!("udp://127.0.0.1:{p}"),
            ],
            vec![
                "-u".into(),
                format!("0.0.0.0:{p}"),
                format!("udp://127.0.0.2:{p}"),
            ],
            vec![format!("unix:{sock}"), format!("unix:{sock}")],
            vec![format!("unix:{sock}"), same_file],
            vec![abs.clone(), abs],
        ];
        for case in &cases {
            let (to, listen) = case.split_last().unwrap();
            let mut args: Vec<&str> = vec![model];
            args.extend(listen.iter().map(String::as_str));
            args.extend(["--forward", to]);
            let out = run(&args, b"");
            out.expect_code(2);
            let lines: Vec<&str> = out.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{out}");
            assert!(
                lines[0].starts_with("sockcat: error: --forward ")
                    && lines[0].contains("is this server's own address"),
                "{out}"
            );
        }
        assert!(
            !std::path::Path::new(&sock).exists(),
            "{model}: the socket file is removed"
        );
        // Not ours: another family on a wildcard's port, another port.
        for (listen, to) in [
            (format!("0.0.0.0:{p}"), format!("[::1]:{p}")),
            ("127.0.0.1:0".to_string(), format!("127.0.0.1:{p}")),
        ] {
            let s = Server::start(&[model, &listen, "-q", "--forward", &to]);
            assert!(
                s.err().lines().all(|l| l.starts_with("listening on ")),
                "{model} {listen} → {to}: {}",
                s.err()
            );
        }
    }
}

/// A loop no check at start can see (a name that leads back to the
/// server: `localhost:P` with the server on 127.0.0.1:P) is caught at run
/// time in every model: the connection that comes from the server's own
/// upstream socket is closed at once with one event line (however often
/// it repeats), the server's descriptors, children and CPU stay small,
/// and a legitimate client is served right after (issue 19, item 4).
#[test]
fn a_forwarding_loop_through_a_name_is_closed_at_run_time() {
    for model in MODELS {
        // The port must be known before the server binds it, to name it
        // in --forward: a free one, and another if it was lost in a race.
        let mut started = None;
        for _ in 0..5 {
            let p = free_port();
            let listen = format!("127.0.0.1:{p}");
            let to = format!("localhost:{p}");
            let mut cmd = sockcat();
            cmd.args([model, &listen, "--forward", &to]);
            let args = [model, listen.as_str(), "--forward", to.as_str()];
            let mut s = Server::start_command(
                cmd,
                &args,
                Opts {
                    ready_lines: 0,
                    ..Opts::default()
                },
            );
            wait_until("the readiness line or an exit", T, || {
                s.err().contains("listening on") || s.child.try_wait().unwrap().is_some()
            });
            if s.err().contains("listening on") {
                started = Some((s, p));
                break;
            }
        }
        let (mut s, p) = started.expect("a free port in five tries");
        let fds = fd_count(s.pid());
        let cpu = cpu_time(s.pid());
        // Every client of this forwarder goes round the loop (its only
        // upstream is itself): each is accepted, goes round once and is
        // closed, promptly, the last one after the loop was seen.
        for round in 0..3 {
            let out = run_in(
                &["send", &format!("127.0.0.1:{p}")],
                b"hi\n",
                Duration::from_secs(10),
            );
            assert!(
                out.code == Some(0) || out.code == Some(1),
                "{model} round {round}: {out}"
            );
        }
        wait_until("the loop's event line", T, || {
            s.err().contains("a forwarding loop")
        });
        wait_until("the looped connections end", T, || {
            fd_count(s.pid()) <= fds + 2 && children(s.pid()).is_empty()
        });
        let loops = s.err().matches("a forwarding loop").count();
        assert_eq!(
            loops,
            1,
            "{model}: one line, the rest held back: {}",
            s.err()
        );
        let got = s.err().matches("got connection from").count();
        assert!(
            got <= 6,
            "{model}: each client's connection went round once: {}",
            s.err()
        );
        let used = cpu_time(s.pid()) - cpu;
        assert!(used < Duration::from_secs(2), "{model}: {used:?} of CPU");
        assert!(s.child.try_wait().unwrap().is_none(), "{model} still runs");
    }
}

/// The end of the grace period ends an upstream connect still under way
/// in every model: a TLS upstream that accepts and never answers the
/// handshake (which would take `--connect-timeout`, 10 s) holds no stop.
/// thread-serve's worker waits on the same cut as its relays (before, it
/// sat in the handshake until the hard stop gave up on it, 2 s later).
#[test]
fn the_grace_period_ends_an_upstream_handshake_under_way() {
    for model in MODELS {
        let (l, a) = upstream();
        let target = format!("tls://{a}");
        let mut f = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--grace",
            "300ms",
            "--insecure",
            "--forward",
            &target,
        ]);
        let c = TcpStream::connect(f.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        // The worker is in the upstream's handshake once it is accepted.
        let silent = accept(&l);
        let began = Instant::now();
        f.signal(libc::SIGTERM);
        assert!(f.wait().is_some(), "{model}: the server ends");
        let took = began.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "{model}: ended after {took:?}, inside the grace period"
        );
        assert!(
            took < Duration::from_millis(1800),
            "{model}: the stop took {took:?}: the handshake held it"
        );
        let mut buf = [0u8; 16];
        let r = (&c).read(&mut buf);
        assert!(
            !matches!(r, Ok(n) if n > 0),
            "{model}: the client got {r:?}"
        );
        drop(silent);
    }
}

/// A second Ctrl-C ends the server at once; a forwarded transfer it cuts
/// must not look complete either: the client's read ends with a reset,
/// never a clean EOF, in every model (serve's loop arms the reset when
/// the forwarding begins, as the blocking models' relays do; before, its
/// sockets closed with a FIN when the process exited).
#[test]
fn a_transfer_cut_by_a_second_ctrl_c_is_reset() {
    for model in MODELS {
        let (mut f, r, total) = cut_download(model, &[], |f| {
            f.signal(libc::SIGINT);
            std::thread::sleep(Duration::from_millis(100));
            f.signal(libc::SIGINT);
        });
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{model}: the client's read ended with {r:?} after {total} of {CUT_SIZE} bytes, not a reset"
        );
        assert_eq!(f.wait(), Some(130), "{model}");
    }
}
