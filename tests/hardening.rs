//! Hostile and careless input: nothing hangs, nothing is taken over,
//! nothing forges an event line, and options that cannot mean anything are
//! refused with one line and exit 2.

use std::process::{Command, Stdio};

use crate::handlers::MODELS;
use crate::util::*;

fn one_usage_line(out: &Out, needle: &str) {
    out.expect_code(2);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("sockcat: error: "), "{out}");
    assert!(lines[0].contains(needle), "{needle}: {out}");
}

#[test]
fn send_reports_unreadable_input_instead_of_hanging() {
    let dir = TempDir::new();
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--discard"]);
    let d = dir.path("").display().to_string();
    let out = run(&["send", s.addr(), "--file", &d], b"");
    out.expect_code(1);
    assert!(out.stderr.contains("Is a directory"), "{out}");
    assert_eq!(out.stderr.lines().count(), 1, "{out}");

    // The same with a directory as stdin.
    let mut child = Command::new(BIN)
        .args(["send", s.addr()])
        .stdin(Stdio::from(std::fs::File::open(dir.path("")).unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_child(&mut child, T);
    assert_eq!(status.code(), Some(1));
}

/// A UDP server's port cannot be bound again, by another sockcat or by a
/// program that asks for SO_REUSEADDR: its datagrams are its own.
#[test]
fn a_udp_port_in_use_is_not_taken_over() {
    for model in MODELS {
        let s = Server::start(&[model, "-u", "127.0.0.1:0", "-q", "--echo"]);
        let addr = format!("127.0.0.1:{}", s.port());
        let out = run(&[model, "-u", &addr, "--once"], b"");
        out.expect_code(1);
        assert!(out.stderr.contains("Address already in use"), "{out}");
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        sock.set_reuse_address(true).unwrap();
        let sa: std::net::SocketAddr = addr.parse().unwrap();
        assert!(
            sock.bind(&sa.into()).is_err(),
            "{model}: bound over a live UDP server"
        );
    }
}

#[test]
fn durations_that_overflow_or_mean_nothing_are_refused() {
    for (args, needle) in [
        (
            &[
                "serve",
                "127.0.0.1:0",
                "--idle-timeout",
                "18446744073709551615s",
            ][..],
            "duration",
        ),
        (
            &["serve", "127.0.0.1:0", "--grace", "300000000000y"][..],
            "duration",
        ),
        (
            &["serve", "127.0.0.1:0", "--grace", "400days"][..],
            "one year",
        ),
        (
            &["serve", "127.0.0.1:0", "--idle-timeout", "0s"][..],
            "longer than 0s",
        ),
        (
            &["send", "--connect-timeout", "0s", ":1", "x"][..],
            "longer than 0s",
        ),
        (
            &["send", "--idle-timeout", "0", ":1", "x"][..],
            "longer than 0s",
        ),
        (
            &["send", "--duration", "0s", ":1", "x"][..],
            "longer than 0s",
        ),
        (&["send", "--wait", "1e999", ":1", "x"][..], "duration"),
    ] {
        one_usage_line(&run(args, b""), needle);
    }
    // --wait 0s and --grace 0s mean something (do not wait; no grace).
    let out = run(
        &[
            "send",
            "--wait",
            "0s",
            &format!("127.0.0.1:{}", closed_port()),
            "x",
        ],
        b"",
    );
    out.expect_code(1);
    let mut s = Server::start(&["serve", "127.0.0.1:0", "-q", "--grace", "0s"]);
    assert_eq!(s.interrupt(), Some(130));
}

#[test]
fn options_without_effect_are_refused() {
    let dir = TempDir::new();
    let sock = format!("unix:{}", dir.path("m.sock").display());
    for (args, needle) in [
        (&["serve", "127.0.0.1:0", "--mode", "600"][..], "--mode"),
        (
            &["fork-serve", "-u", "127.0.0.1:0", "--mode", "600"][..],
            "--mode",
        ),
        (
            &["thread-serve", "127.0.0.1:0", "--sh-exec", ""][..],
            "--sh-exec",
        ),
        (
            &["serve", "127.0.0.1:0", "--sh-exec", "   "][..],
            "--sh-exec",
        ),
        (
            &["send", "-z", "127.0.0.1:1", "hello", "there"][..],
            "hello there",
        ),
    ] {
        one_usage_line(&run(args, b""), needle);
    }
    // --mode still works where there is a file.
    let mut s = Server::start(&["serve", &sock, "-q", "--mode", "600"]);
    assert_eq!(s.interrupt(), Some(130));
}

/// A Unix client bound to a name with a newline and an ESC cannot forge an
/// event line or send terminal sequences through the server's log, and a
/// program still starts for it.
#[test]
fn a_peer_name_cannot_forge_events() {
    let dir = TempDir::new();
    let path = dir.path("s.sock");
    let evil = dir.path("x\ngot connection from 6.6.6.6:666\x1b[31m");
    for model in MODELS {
        let _ = std::fs::remove_file(&evil);
        let s = Server::start(&[
            model,
            &format!("unix:{}", path.display()),
            "--once",
            "--sh-exec",
            "printf '%s\\n' \"$SOCKCAT_PEER_ADDR\"",
        ]);
        let c = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        c.bind(&socket2::SockAddr::unix(&evil).unwrap()).unwrap();
        c.connect(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
        let mut c = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(c));
        c.set_read_timeout(Some(T)).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        std::io::Read::read_to_string(&mut c, &mut reply).unwrap();
        assert!(
            reply.contains("x\\x0agot connection from 6.6.6.6:666\\x1b[31m"),
            "{model}: {reply:?}"
        );
        s.wait_err("got connection from");
        let err = s.err();
        assert!(!err.contains('\x1b'), "{model}: raw ESC in {err:?}");
        assert!(
            !err.lines()
                .any(|l| l.starts_with("got connection from 6.6.6.6")),
            "{model}: forged line in {err:?}"
        );
        drop(c);
    }
}

/// A program on a port others can reach gets one warning line, unless
/// --allow says who may connect; on loopback there is nothing to say.
#[test]
fn exec_on_an_open_address_warns_once() {
    for model in MODELS {
        let mut s = Server::start(&[model, "0.0.0.0:0", "--sh-exec", "cat"]);
        s.wait_err("warning:");
        let err = s.err();
        assert_eq!(err.matches("warning:").count(), 1, "{model}: {err}");
        assert!(err.contains("--allow"), "{model}: {err}");
        assert_eq!(s.interrupt(), Some(130));
        for quiet in [
            &[model, "127.0.0.1:0", "--sh-exec", "cat"][..],
            &[
                model,
                "0.0.0.0:0",
                "--allow",
                "127.0.0.1",
                "--sh-exec",
                "cat",
            ][..],
            &[model, "0.0.0.0:0", "--echo"][..],
        ] {
            let mut s = Server::start(quiet);
            assert_eq!(s.interrupt(), Some(130));
            assert!(!s.err().contains("warning:"), "{quiet:?}: {}", s.err());
        }
    }
}

/// An echo over UDP answers an empty datagram with an empty one (RFC 862),
/// and drops datagrams it would bounce back and forth with another echo:
/// from ports 0, 7 and 19 and from its own address (the port 7 case is
/// tested where the test may bind it; `handler::reflection` has the rest).
#[test]
fn udp_echo_answers_empty_datagrams_and_is_no_reflector() {
    for model in MODELS {
        let s = Server::start(&[model, "-u", "127.0.0.1:0", "-q", "--echo"]);
        let server: std::net::SocketAddr = format!("127.0.0.1:{}", s.port()).parse().unwrap();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.send_to(b"", server).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = c.recv_from(&mut buf).expect("an empty echo");
        assert_eq!((n, from), (0, server), "{model}");

        // From the echo port: no answer; the next honest datagram is
        // answered, and nothing from the first ever arrives.
        if let Ok(seven) = std::net::UdpSocket::bind("127.0.0.1:7") {
            seven.send_to(b"bounce", server).unwrap();
            seven
                .set_read_timeout(Some(std::time::Duration::from_millis(300)))
                .unwrap();
            c.send_to(b"ok", server).unwrap();
            let n = c.recv(&mut buf).expect("the honest datagram's echo");
            assert_eq!(&buf[..n], b"ok", "{model}");
            assert!(seven.recv(&mut buf).is_err(), "{model}: echoed to port 7");
        }
    }
}

/// `--retry 1s` keeps trying for the whole second: its last try is at the
/// deadline, not a backoff step before it.
#[test]
fn retry_uses_its_whole_window() {
    let addr = format!("127.0.0.1:{}", closed_port());
    let t0 = std::time::Instant::now();
    let out = run(&["send", "--retry", "1s", &addr, "x"], b"");
    let took = t0.elapsed();
    out.expect_code(124);
    assert!(
        took >= std::time::Duration::from_secs(1),
        "gave up after {took:?}"
    );
    assert!(out.stderr.contains("gave up after 1s"), "{out}");
}

/// A Unix client that bound no name is `-` in events and an empty
/// SOCKCAT_PEER_ADDR, never a made-up name.
#[test]
fn an_unnamed_unix_client_is_shown_as_such() {
    let dir = TempDir::new();
    for model in MODELS {
        let sock = format!("unix:{}", dir.path(&format!("{model}.sock")).display());
        let s = Server::start(&[
            model,
            &sock,
            "--log-format",
            "json",
            "--sh-exec",
            "echo \"[$SOCKCAT_PEER_ADDR]\"",
        ]);
        assert_eq!(crate::handlers::exchange(s.addr(), b""), b"[]\n", "{model}");
        s.wait_err("\"connection\"");
        let err = s.err();
        let ev = err
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "connection")
            .expect("a connection event");
        assert_eq!(ev["peer"], "-", "{model}: {err}");
    }
}

/// `--reply` is one shared buffer: 300 peers that never read a 120 KB
/// reply do not cost 300 copies of it.
#[test]
fn a_large_reply_is_shared_not_copied_per_connection() {
    let text = "r".repeat(120 * 1024);
    for model in ["serve", "thread-serve"] {
        let s = Server::start(&[model, "127.0.0.1:0", "-q", "--reply", &text]);
        let before = rss_kib(s.pid());
        let peers: Vec<std::net::TcpStream> = (0..300)
            .map(|_| std::net::TcpStream::connect(s.addr()).unwrap())
            .collect();
        // Wait until the server holds them (their sockets are its
        // descriptors; under thread-serve, a thread each has started).
        wait_until("the server to hold 250 peers", T, || {
            fd_count(s.pid()) >= 250 && (model == "serve" || thread_count(s.pid()) >= 250)
        });
        // Then watch for a while: copies, if any, appear as the workers run.
        let end = std::time::Instant::now() + std::time::Duration::from_millis(500);
        let mut after = rss_kib(s.pid());
        while std::time::Instant::now() < end && after < before + 16 * 1024 {
            after = after.max(rss_kib(s.pid()));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(peers);
        assert!(
            after < before + 16 * 1024,
            "{model}: RSS {before} -> {after} KiB for 300 peers"
        );
    }
}

/// A datagram server has no connections: each datagram's event says so.
#[test]
fn datagram_servers_log_datagrams_not_connections() {
    for model in MODELS {
        let s = Server::start(&[model, "-u", "127.0.0.1:0", "--echo"]);
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.send_to(b"hi", format!("127.0.0.1:{}", s.port())).unwrap();
        let mut buf = [0u8; 8];
        c.recv(&mut buf).unwrap();
        let me = c.local_addr().unwrap();
        s.wait_err(&format!("got datagram from {me}"));
        assert!(!s.err().contains("got connection"), "{model}: {}", s.err());

        let j = Server::start(&[model, "-u", "127.0.0.1:0", "--echo", "--log-format", "json"]);
        c.send_to(b"hi", format!("127.0.0.1:{}", j.port())).unwrap();
        c.recv(&mut buf).unwrap();
        j.wait_err("\"datagram\"");
    }
}

/// A thread that cannot start (here RLIMIT_NPROC, which binds only an
/// unprivileged user) is treated like a full pool: logged, and the
/// connection waits until a thread frees; the server serves on. It runs
/// as a uid of its own, so no other process of that user can use up the
/// limit first.
#[test]
fn thread_serve_waits_when_a_thread_cannot_start() {
    if !needs_root() || !needs(&["prlimit", "setpriv"]) {
        return;
    }
    use std::io::{Read, Write};
    let dir = TempDir::new();
    let bin = copy_of_binary(&dir);
    let uid = lone_uid();
    let mut cmd = Command::new("prlimit");
    // The main thread, ctrlc's and one connection thread; no fourth.
    cmd.args(["--nproc=3", "setpriv", "--clear-groups"])
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg(&bin)
        .args(["thread-serve", "127.0.0.1:0", "--echo"]);
    let s = Server::start_command(
        cmd,
        &["thread-serve (as a uid of its own, nproc 3)"],
        Default::default(),
    );
    let mut a = std::net::TcpStream::connect(s.addr()).unwrap();
    a.set_read_timeout(Some(T)).unwrap();
    a.write_all(b"a\n").unwrap();
    let mut buf = [0u8; 2];
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"a\n");
    // A second connection while the only thread is busy: no thread can start.
    let mut b = std::net::TcpStream::connect(s.addr()).unwrap();
    b.set_read_timeout(Some(T)).unwrap();
    b.write_all(b"b\n").unwrap();
    s.wait_err("start a thread");
    // The first leaves; its thread takes the waiting connection.
    drop(a);
    b.read_exact(&mut buf).expect("served once a thread freed");
    assert_eq!(&buf, b"b\n");
}

/// IPv6 zone IDs work (`[addr%iface]`), and an international domain name
/// is refused with a line that says what to write instead.
#[test]
fn ipv6_zones_and_international_names() {
    let s = Server::start(&["serve", "[::1%lo]:0", "-q", "--echo"]);
    let out = run(&["send", &format!("[::1%lo]:{}", s.port()), "zoned"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout_str(), "zoned\n");
    one_usage_line(
        &run(&["send", "[fe80::1%nosuch0]:9", "x"], b""),
        "no network interface",
    );
    one_usage_line(&run(&["send", "b\u{fc}cher.example:80", "x"], b""), "xn--");
}

/// Load mode's failures are told once, in its summary (stdout), with their
/// kinds: no second line on stderr splits the story; the exit code is 1.
#[test]
fn load_failures_are_reported_in_the_summary_only() {
    let addr = format!("127.0.0.1:{}", closed_port());
    let out = run(&["send", "--count", "5", &addr, "x"], b"");
    out.expect_code(1);
    assert!(out.stderr.is_empty(), "{out}");
    assert!(
        out.stdout_str().contains("error: 5 x Connection refused"),
        "{out}"
    );
}

/// Linux lets arguments be any bytes: a Unix socket path, `--reply` text
/// and `--exec` arguments that are not UTF-8 are taken as bytes.
#[test]
fn arguments_that_are_not_utf8_are_taken_as_bytes() {
    use std::ffi::OsStr;
    use std::io::{Read, Write};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let dir = TempDir::new();
    let mut path = dir.path("").into_os_string().into_vec();
    path.extend_from_slice(b"/s\xff\xfe.sock");
    let path = std::path::PathBuf::from(OsStr::from_bytes(&path));
    let mut addr = b"unix:".to_vec();
    addr.extend_from_slice(path.as_os_str().as_bytes());
    for (flag, want) in [
        (
            &[OsStr::new("--reply"), OsStr::from_bytes(b"\xff\xfe")][..],
            &b"\xff\xfe\n"[..],
        ),
        (
            &[
                OsStr::new("--exec"),
                OsStr::new("printf"),
                OsStr::from_bytes(b"%s\xc3\x28"),
            ][..],
            &b"\xc3\x28"[..],
        ),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg(OsStr::from_bytes(&addr))
            .args(["-q", "--once"])
            .args(flag);
        let mut s =
            Server::start_command(cmd, &["serve (non-UTF-8 arguments)"], Default::default());
        let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(b"x").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, want, "{flag:?}");
        assert_eq!(s.wait(), Some(0));
    }
}

/// The same with an abstract name holding a NUL, a newline and an ESC:
/// escaped in the event, and the program still runs.
#[test]
fn an_abstract_peer_name_with_a_nul_cannot_forge_events() {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, bind, connect, socket};
    let dir = TempDir::new();
    let path = dir.path("a.sock");
    let s = Server::start(&[
        "serve",
        &format!("unix:{}", path.display()),
        "--once",
        "--sh-exec",
        "printf '%s\\n' \"$SOCKCAT_PEER_ADDR\"",
    ]);
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    let name = format!("sockcat-evil-{}\n\u{1b}[31m\0x", std::process::id());
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &UnixAddr::new_abstract(name.as_bytes()).unwrap(),
    )
    .unwrap();
    connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &UnixAddr::new(&path).unwrap(),
    )
    .unwrap();
    let mut c = std::os::unix::net::UnixStream::from(fd);
    c.set_read_timeout(Some(T)).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut c, &mut reply).unwrap();
    assert!(reply.contains("\\x0a\\x1b[31m\\x00x"), "{reply:?}");
    s.wait_err("got connection from @sockcat-evil-");
    let err = s.err();
    assert!(!err.contains('\u{1b}') && !err.contains('\0'), "{err:?}");
}
