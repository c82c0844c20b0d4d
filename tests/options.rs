//! Server and client options: --once, --count, --max-conns, --idle-timeout,
//! --retry, -z, timeouts, and Ctrl-C with a connection open.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::handlers::{Client, MODELS, exchange};
use crate::util::*;

#[test]
fn once_serves_one_connection_then_exits() {
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--once", "--reply", "connected"]);
        assert_eq!(exchange(s.addr(), b"hi\n"), b"connected\n");
        assert_eq!(s.wait(), Some(0), "{model}: {}", s.err());
        assert_eq!(s.out(), b"hi\n");
    }
}

#[test]
fn count_serves_n_connections_then_exits() {
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--count", "3", "--echo"]);
        for i in 0..3 {
            let m = format!("message {i}\n");
            assert_eq!(exchange(s.addr(), m.as_bytes()), m.as_bytes());
        }
        assert_eq!(s.wait(), Some(0), "{model}: {}", s.err());
    }
}

#[test]
fn max_conns_makes_extra_connections_wait_not_fail() {
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--max-conns", "1", "--echo"]);
        let mut first = Client::connect(s.addr());
        first.write_all(b"a\n").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(first.read(&mut buf).unwrap(), 2);
        // The second connection completes in the kernel's backlog but is
        // not served while the first is open.
        let mut second = Client::connect(s.addr());
        second.write_all(b"b\n").unwrap();
        second.shutdown(Shutdown::Write);
        second.set_timeout(Duration::from_millis(300));
        let r = second.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{model}: second connection was served early: {r:?}"
        );
        first.shutdown(Shutdown::Write);
        second.set_timeout(T);
        assert_eq!(second.read_to_end(), b"b\n", "{model}");
    }
}

#[test]
fn idle_timeout_closes_silent_connections() {
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--idle-timeout", "200ms", "--echo"]);
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let t0 = std::time::Instant::now();
        let mut buf = [0u8; 8];
        let n = c.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "{model}");
        assert!(
            t0.elapsed() >= Duration::from_millis(150),
            "{model}: closed too early"
        );
        // Busy connections are not cut.
        assert_eq!(exchange(s.addr(), b"quick\n"), b"quick\n");
    }
}

#[test]
fn retry_waits_for_the_server() {
    let port = closed_port();
    let addr = format!("127.0.0.1:{port}");
    let client = spawn(&["send", "--retry", "15s", &addr, "hello"]);
    let s = Server::start(&["serve", &addr, "--once", "--reply", "connected"]);
    let out = client.finish(T);
    out.expect_code(0);
    assert_eq!(out.stdout, b"connected\n");
    s.wait_out("hello\n");
}

#[test]
fn retry_gives_up_with_timeout_code() {
    let out = run(
        &[
            "send",
            "--retry",
            "300ms",
            &format!("127.0.0.1:{}", closed_port()),
            "x",
        ],
        b"",
    );
    out.expect_code(124);
    assert!(out.stderr.contains("Connection refused"), "{out}");
}

#[test]
fn probe_open_and_closed_ports() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().to_string();
    run(&["send", "-z", &open], b"").expect_code(0);
    run(&["send", "--probe", "-q", &open], b"").expect_code(0);
    let out = run(
        &["send", "-z", &format!("127.0.0.1:{}", closed_port())],
        b"",
    );
    out.expect_code(1);
    assert!(out.stdout_str().ends_with(" closed\n"), "{out}");
    // The line says it; stderr stays for what a line cannot say.
    assert_eq!(out.stderr, "", "{out}");
}

#[test]
fn wait_and_idle_timeouts_exit_124() {
    // A print server does not FIN until we do; with --no-shutdown nobody does.
    let s = Server::start(&["serve", "127.0.0.1:0"]);
    let out = run(
        &["send", "--no-shutdown", "--wait", "300ms", s.addr(), "hi"],
        b"",
    );
    out.expect_code(124);
    let out = run(
        &[
            "send",
            "--no-shutdown",
            "--idle-timeout",
            "300ms",
            s.addr(),
            "hi",
        ],
        b"",
    );
    out.expect_code(124);
}

#[test]
fn connect_timeout_exits_124() {
    // A listener whose backlog is full drops new SYNs, so connect hangs.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    sock.listen(0).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    for _ in 0..4 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        if s.connect_timeout(&addr.into(), Duration::from_millis(200))
            .is_err()
        {
            break;
        }
        fill.push(s);
    }
    let out = run(
        &["send", "--connect-timeout", "300ms", &addr.to_string(), "x"],
        b"",
    );
    out.expect_code(124);
    assert!(out.stderr.contains("timed out"), "{out}");
}

#[test]
fn ctrl_c_lets_open_connections_finish() {
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--echo"]);
        let addr = s.addr().to_string();
        let mut c = TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(b"before\n").unwrap();
        let mut buf = [0u8; 7];
        c.read_exact(&mut buf).unwrap();
        s.signal(libc::SIGINT);
        // New connections are refused once it stops accepting…
        wait_until("the listener to close", T, || {
            TcpStream::connect(&addr).is_err()
        });
        // …while the open one is served to its end.
        c.write_all(b"after\n").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"after\n", "{model}");
        assert_eq!(s.wait(), Some(130), "{model}: {}", s.err());
    }
}

#[test]
fn grace_period_ends_stuck_connections() {
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--echo", "--grace", "200ms"]);
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        s.signal(libc::SIGTERM);
        // SIGTERM is a requested stop: 0, even when the grace period had
        // to cut a connection (which is logged).
        assert_eq!(s.wait(), Some(0), "{model}: {}", s.err());
        assert!(children(s.pid()).is_empty());
        assert!(
            s.err()
                .contains("the grace period is over: ending 1 connection still open"),
            "{model}: {}",
            s.err()
        );
    }
}

/// How each stop signal ends a server (issue 13, item 6's signals):
/// SIGTERM 0 (a systemd stop needs no SuccessExitStatus), Ctrl-C 130,
/// SIGHUP 129.
#[test]
fn each_stop_signal_has_its_exit_code() {
    for model in MODELS {
        for (sig, code) in [(libc::SIGTERM, 0), (libc::SIGINT, 130), (libc::SIGHUP, 129)] {
            let mut s = Server::start(&[model, "127.0.0.1:0", "-q"]);
            s.signal(sig);
            assert_eq!(s.wait(), Some(code), "{model} signal {sig}: {}", s.err());
            assert!(s.err().lines().count() <= 1, "{model}: {}", s.err());
        }
    }
}

/// A second stop signal ends the server at once with the first signal's
/// code (Ctrl-C 130, SIGTERM 143, SIGHUP 129), in every model and however
/// the two race: fork-serve used to exit 0 when it saw its children die
/// (killed by the second signal) before that signal's handler exited
/// (issue 19, item 13). Three rounds each, since it was a race.
#[test]
fn second_ctrl_c_exits_at_once() {
    for model in MODELS {
        for (sig, code) in [
            (libc::SIGINT, 130),
            (libc::SIGTERM, 143),
            (libc::SIGHUP, 129),
        ] {
            for round in 0..3 {
                let mut s = Server::start(&[model, "127.0.0.1:0", "--echo", "--grace", "60s"]);
                let mut c = TcpStream::connect(s.addr()).unwrap();
                c.write_all(b"x").unwrap();
                c.set_read_timeout(Some(T)).unwrap();
                let mut b = [0u8; 1];
                c.read_exact(&mut b).unwrap();
                s.signal(sig);
                // Signals do not queue: let the first one land before the second.
                let addr = s.addr().to_string();
                wait_until("the listener to close", T, || {
                    TcpStream::connect(&addr).is_err()
                });
                s.signal(sig);
                assert_eq!(s.wait(), Some(code), "{model} signal {sig}, round {round}");
            }
        }
    }
}

#[test]
fn verbose_and_quiet() {
    let mut s = Server::start(&["serve", "127.0.0.1:0", "-v", "--once", "--echo"]);
    exchange(s.addr(), b"12345\n");
    assert_eq!(s.wait(), Some(0));
    let err = s.err();
    assert!(err.contains("6 bytes in, 6 bytes out"), "{err}");
    assert!(err.contains("served 1 connection"), "{err}");

    let mut s = Server::start(&["serve", "127.0.0.1:0", "-q", "--once", "--echo"]);
    exchange(s.addr(), b"x\n");
    assert_eq!(s.wait(), Some(0));
    assert_eq!(
        s.err().lines().count(),
        1,
        "only the readiness line: {}",
        s.err()
    );
}

#[test]
fn ctrl_c_ends_exec_programs_after_the_grace_period() {
    for model in MODELS {
        let mut s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--grace",
            "300ms",
            "--sh-exec",
            "echo started; exec sleep 60",
        ]);
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut line = [0u8; 8];
        c.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"started\n");
        let progs: Vec<i32> = children(s.pid()).into_iter().map(|(p, _)| p).collect();
        assert_eq!(progs.len(), 1, "{model}: one program runs");
        let t0 = std::time::Instant::now();
        assert_eq!(s.interrupt(), Some(130), "{model}: {}", s.err());
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{model}: took {:?}",
            t0.elapsed()
        );
        for p in progs {
            let state = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            assert!(
                state.is_empty(),
                "{model}: program {p} left behind: {state}"
            );
        }
        // The peer sees the connection end.
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
    }
}

#[test]
fn ctrl_c_right_after_the_readiness_line() {
    // A script may signal the moment it sees "listening on": the server
    // must already be ready for it (no default action, no missed wake-up).
    for model in MODELS {
        for addr in ["127.0.0.1:0", "udp://127.0.0.1:0"] {
            for _ in 0..5 {
                let mut s = Server::start(&[model, addr, "--echo"]);
                assert_eq!(s.interrupt(), Some(130), "{model} {addr}: {}", s.err());
            }
        }
    }
}

/// netcat's exact equivalents are accepted (issue 13, item 2): `-C` is
/// --crlf, `-w` is --connect-timeout (ncat's meaning), and `-k` and `-N`
/// ask for what sockcat does anyway.
#[test]
fn netcat_aliases_are_accepted() {
    let mut s = Server::start(&["serve", "127.0.0.1:0", "-k", "--once", "--reply", "ok"]);
    let out = run(&["send", "-C", "-N", "-w", "2s", s.addr(), "line"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"ok\n");
    assert_eq!(s.wait(), Some(0));
    assert_eq!(s.out(), b"line\r\n");
    // -w bounds the connect: a closed port fails at once, a usage error never.
    let port = closed_port().to_string();
    run(&["send", "-w", "1s", "127.0.0.1", &port, "x"], b"").expect_code(1);
}

/// With NOTIFY_SOCKET set (systemd's Type=notify), a server says READY=1
/// once listening and STOPPING=1 when a stop begins; the programs it starts
/// never see the variable (issue 13, item 6, its notifications).
#[test]
fn servers_tell_a_service_manager_when_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    for model in MODELS {
        let dir = TempDir::new();
        let path = dir.path("notify.sock");
        let n = UnixDatagram::bind(&path).unwrap();
        n.set_read_timeout(Some(T)).unwrap();
        let args = [
            model,
            "127.0.0.1:0",
            "--sh-exec",
            "echo \"[$NOTIFY_SOCKET]\"",
        ];
        let mut cmd = sockcat();
        cmd.args(args).env("NOTIFY_SOCKET", &path);
        let mut s = Server::start_command(cmd, &args, Opts::default());
        let mut buf = [0u8; 512];
        let k = n.recv(&mut buf).expect("a notification");
        let first = String::from_utf8_lossy(&buf[..k]).into_owned();
        assert!(first.starts_with("READY=1\n"), "{model}: {first:?}");
        assert!(
            first.contains(&format!("STATUS=listening on tcp {}", s.addr())),
            "{model}: {first:?}"
        );
        assert_eq!(exchange(s.addr(), b""), b"[]\n", "{model}");
        s.signal(libc::SIGTERM);
        let mut stopping = false;
        while !stopping {
            let k = n.recv(&mut buf).expect("STOPPING=1");
            stopping = String::from_utf8_lossy(&buf[..k]).contains("STOPPING=1");
        }
        assert_eq!(s.wait(), Some(0), "{model}");
    }
}

/// Options are options wherever they stand on send's line, after the
/// message too, and `--` ends them (issue 21, item 2): against a server of
/// every model, what arrives is the message alone, and the options after
/// it take effect.
#[test]
fn send_options_stand_anywhere_and_double_dash_ends_them() {
    // (the words after the address, what the server receives, what send's
    // stderr holds)
    let cases: &[(&[&str], &str, &str)] = &[
        (&["hi", "-v"], "hi\n", "connected to "),
        (&["hi", "there", "-n"], "hi there", ""),
        (&["-q", "hi"], "hi\n", ""),
        (&["--", "-v"], "-v\n", ""),
        (
            &["hi", "-v", "--", "-n", "--x"],
            "hi -n --x\n",
            "connected to ",
        ),
        (
            &["--log-format", "json", "x", "-v"],
            "x\n",
            "\"event\":\"connected\"",
        ),
    ];
    for model in MODELS {
        for (words, want, err) in cases {
            let mut s = Server::start(&[model, "127.0.0.1:0", "--once"]);
            let mut args = vec!["send", s.addr()];
            args.extend_from_slice(words);
            let out = run(&args, b"");
            out.expect_code(0);
            assert_eq!(s.wait(), Some(0), "{model} {words:?}: {}", s.err());
            assert_eq!(s.out_str(), *want, "{model} {words:?}");
            if err.is_empty() {
                assert_eq!(out.stderr, "", "{model} {words:?}: {out}");
            } else {
                assert!(out.stderr.contains(err), "{model} {words:?}: {out}");
            }
        }
    }
}

/// A word after `--` is a word of the message even where netcat's
/// `HOST PORT` would take it for the port: `send -z HOST -- PORT` names no
/// port to probe (it is refused: a probe sends nothing), and `send HOST
/// PORT -- PORT` sends the second PORT.
#[test]
fn a_port_after_double_dash_is_a_message_word() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo"]);
    let port = s.port().to_string();
    run(&["send", "-z", "127.0.0.1", &port], b"").expect_code(0);
    let out = run(&["send", "-z", "127.0.0.1", "--", &port], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains(&format!("drop the words '{port}'")),
        "{out}"
    );
    let out = run(&["send", "127.0.0.1", &port, "--", &port], b"");
    out.expect_code(0);
    assert_eq!(out.stdout_str(), format!("{port}\n"), "{out}");
}

/// Load mode's message is the words alone too: `--log-format json` after
/// it is an option, and every exchange sends `hi` (issue 21, item 2).
#[test]
fn load_mode_options_after_the_message_are_options() {
    for model in MODELS {
        let mut s = Server::start(&[model, "127.0.0.1:0", "--count", "2"]);
        let out = run(
            &[
                "send",
                "--count",
                "2",
                s.addr(),
                "hi",
                "--log-format",
                "json",
            ],
            b"",
        );
        out.expect_code(0);
        assert!(
            out.stdout_str().contains("\"event\":\"load\""),
            "{model}: {out}"
        );
        assert_eq!(s.wait(), Some(0), "{model}: {}", s.err());
        assert_eq!(s.out_str(), "hi\nhi\n", "{model}");
    }
}
