//! Programs started for a connection (`--exec`, `--sh-exec`) start as a
//! program expects and end with the server: default signal dispositions
//! and an empty mask in every model, and at shutdown the program and what
//! it started are ended together (a process group each).

use std::time::Duration;

use crate::handlers::{Client, MODELS, exchange};
use crate::util::*;

#[test]
fn programs_start_with_default_signals_and_an_empty_mask() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--exec",
            "grep",
            "-E",
            "^Sig(Ign|Blk)",
            "/proc/self/status",
        ]);
        let out = run(&["send", s.addr(), "hi"], b"");
        out.expect_code(0);
        let text = out.stdout_str();
        let mask = |name: &str| {
            let line = text.lines().find(|l| l.starts_with(name)).expect(name);
            u64::from_str_radix(line.rsplit('\t').next().unwrap(), 16).unwrap()
        };
        assert_eq!(mask("SigBlk:"), 0, "{model}: {text}");
        // Signals 32 and 33 are glibc's own: glibc refuses to change them,
        // and no program can use them, so whatever the test runner left
        // there is not looked at.
        let glibc_own = (1u64 << 31) | (1u64 << 32);
        assert_eq!(mask("SigIgn:") & !glibc_own, 0, "{model}: {text}");
    }
}

/// A program that writes forever to a client that has left dies of
/// SIGPIPE (it must not inherit SIGPIPE ignored), so its slot frees and
/// the next client is served.
#[test]
fn a_program_writing_to_a_client_that_left_frees_its_slot() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--max-conns",
            "2",
            "--sh-exec",
            "while :; do echo tick; sleep 0.05; done",
        ]);
        for _ in 0..2 {
            let mut c = Client::connect(s.addr());
            let mut buf = [0u8; 5];
            c.read(&mut buf).expect("a tick");
            // Leave without reading the rest: the program's next writes fail.
        }
        let mut third = Client::connect(s.addr());
        third.set_timeout(Duration::from_secs(10));
        let mut buf = [0u8; 5];
        let n = third.read(&mut buf).expect("the third client is served");
        assert_eq!(&buf[..n], b"tick\n", "{model}");
    }
}

/// SIGTERM after the grace period ends a program and the sleep it
/// started: nothing is left holding the client's socket, and the client
/// sees the connection end.
#[test]
fn shutdown_ends_a_program_and_what_it_started() {
    for (i, model) in MODELS.iter().enumerate() {
        let marker = format!("30.{}{i}", std::process::id());
        let script = format!("sleep {marker}; echo done");
        let mut s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--grace",
            "200ms",
            "--sh-exec",
            &script,
        ]);
        let mut c = Client::connect(s.addr());
        wait_until("the program's sleep", T, || {
            !processes_with(&marker).is_empty()
        });
        s.signal(libc::SIGTERM);
        s.wait();
        wait_until("the sleep to end", Duration::from_secs(5), || {
            processes_with(&marker).is_empty()
        });
        let mut rest = Vec::new();
        let mut stream_end = [0u8; 64];
        loop {
            match c.read(&mut stream_end) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&stream_end[..n]),
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{model}");
                    break;
                }
            }
        }
        assert!(!String::from_utf8_lossy(&rest).contains("done"), "{model}");
    }
}

/// With -v, the closing event says how the program ended and counts the
/// bytes both ways, in every model (the socket is not handed to the
/// program when the counts are wanted).
#[test]
fn the_closing_event_reports_the_program_and_its_bytes() {
    for model in MODELS {
        for (script, field, value) in [
            ("cat; exit 3", "exit_code", 3),
            ("cat; kill -TERM $$", "signal", 15),
        ] {
            let s = Server::start(&[
                model,
                "127.0.0.1:0",
                "-v",
                "--log-format",
                "json",
                "--sh-exec",
                script,
            ]);
            let msg = b"twelve bytes";
            assert_eq!(crate::handlers::exchange(s.addr(), msg), msg, "{model}");
            s.wait_err("\"closed\"");
            let err = s.err();
            let closed = err
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["event"] == "closed")
                .expect("a closed event");
            assert_eq!(closed[field], value, "{model} {script}: {closed}");
            assert_eq!(closed["bytes_in"], 12, "{model}: {closed}");
            assert_eq!(closed["bytes_out"], 12, "{model}: {closed}");
        }
    }
}

/// A program's child that leaves the program's process group (`setsid`)
/// is still ended when the server stops, however it is stopped (SIGTERM,
/// SIGHUP, a second Ctrl-C): the server is its subreaper.
#[test]
fn shutdown_ends_a_descendant_that_called_setsid() {
    let ways: [&[i32]; 3] = [
        &[libc::SIGTERM],
        &[libc::SIGHUP],
        &[libc::SIGINT, libc::SIGINT],
    ];
    for (i, model) in MODELS.iter().enumerate() {
        for (j, signals) in ways.iter().enumerate() {
            let marker = format!("31.{}{i}{j}", std::process::id());
            let script = format!("setsid sleep {marker} & wait");
            let mut s = Server::start(&[
                model,
                "127.0.0.1:0",
                "-q",
                "--grace",
                "1s",
                "--sh-exec",
                &script,
            ]);
            let _c = Client::connect(s.addr());
            wait_until("the setsid sleep", T, || {
                !processes_with(&marker).is_empty()
            });
            for sig in *signals {
                s.signal(*sig);
            }
            s.wait();
            wait_until("the setsid sleep to end", Duration::from_secs(5), || {
                processes_with(&marker).is_empty()
            });
        }
    }
}

/// Descendants reparented to the server (it is their subreaper) are
/// reaped once they exit: none stays a zombie while the server runs on.
#[test]
fn orphans_that_exit_are_reaped() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--deny",
            "127.0.0.2",
            "--sh-exec",
            "setsid sh -c 'sleep 0.1' & echo hi",
        ]);
        assert_eq!(crate::handlers::exchange(s.addr(), b""), b"hi\n");
        let zombies = || {
            children(s.pid())
                .into_iter()
                .filter(|(_, state)| *state == 'Z')
                .count()
        };
        // A refused connection (from 127.0.0.2) gives the server a turn of
        // its loop without starting another program; the orphan is reaped
        // on a turn after it has been gone a second.
        let nudge = || {
            let c =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            let from: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
            c.bind(&from.into()).unwrap();
            let to: std::net::SocketAddr = s.addr().parse().unwrap();
            let _ = c.connect(&to.into());
        };
        // It is a zombie for a while (reaping waits until it has been
        // gone a second, so as never to race a wait of the server's own).
        wait_until(&format!("{model}: the orphan to exit"), T, || zombies() > 0);
        wait_until(
            &format!("{model}: the orphan to be reaped"),
            Duration::from_secs(10),
            || {
                nudge();
                zombies() == 0
            },
        );
    }
}

/// `--exec` takes the rest of the line: an address after it, with none
/// before, gets one line showing the right order (the example),
/// not a server on the default address running `cat 127.0.0.1:0`.
#[test]
fn an_address_after_exec_gets_the_right_order() {
    for model in MODELS {
        let out = run(&[model, "--exec", "cat", "127.0.0.1:0"], b"");
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        assert!(
            out.stderr
                .contains(&format!("sockcat {model} 127.0.0.1:0 --exec cat")),
            "{out}"
        );
    }
}

/// The ncat habit `--exec "/bin/cat -n"`: one quoted word is split on
/// whitespace (no shell).
#[test]
fn exec_splits_one_quoted_word_like_ncat() {
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--exec", "cat -n"]);
        assert_eq!(exchange(s.addr(), b"a\n"), b"     1\ta\n", "{model}");
    }
}

/// A quoted command line with more words after it is not split (`-v`
/// there goes to the program, as the rest of the line does): the error
/// says what was tried and both ways to write it, not `no such program`
/// about a name the user never wrote (issue 21, item 2).
#[test]
fn a_quoted_line_with_words_after_it_says_what_it_tried() {
    let port = closed_port().to_string();
    let to = format!("127.0.0.1:{port}");
    // The servers, and send's --exec (checked before it connects).
    for model in MODELS.iter().copied().chain(["send"]) {
        let at = if model == "send" { &to } else { "127.0.0.1:0" };
        let out = run(&[model, at, "--exec", "tr a-z A-Z", "-v"], b"");
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        for want in [
            "no program is named 'tr a-z A-Z'",
            "split only when it is --exec's only word",
            "for sockcat's -v, put it before --exec",
            "(--exec tr a-z A-Z -v)",
        ] {
            assert!(out.stderr.contains(want), "{model}: {want}\n{out}");
        }
        assert!(!out.stderr.contains("in PATH"), "{out}");
        if model == "send" {
            continue;
        }
        // Written the first way, it serves.
        let s = Server::start(&[model, "127.0.0.1:0", "-v", "--exec", "tr a-z A-Z"]);
        assert_eq!(exchange(s.addr(), b"hi\n"), b"HI\n", "{model}");
    }
}

/// A program gets descriptors 0, 1 and 2 only, never one the server itself
/// inherited from its parent (here 7 and 251, as a shell or a supervisor
/// may leave them), in every model (issue 19, item 14).
#[test]
fn programs_get_no_descriptor_the_server_inherited() {
    for model in MODELS {
        let mut cmd = std::process::Command::new("bash");
        cmd.args([
            "-c",
            &format!(
                "exec 7>&2 251</dev/null; exec {} {model} 127.0.0.1:0 --exec ls /proc/self/fd",
                sh_quote(BIN)
            ),
        ]);
        let s = Server::start_command(cmd, &[model, "with 7 and 251 inherited"], Opts::default());
        // ls's own listing holds the directory it reads, as 3.
        assert_eq!(
            String::from_utf8_lossy(&exchange(s.addr(), b"")),
            "0\n1\n2\n3\n",
            "{model}"
        );
    }
}

/// `--idle-timeout` is quiet, not age: a peer that talks to its program
/// more often than the timeout is never cut, in every model (the blocking
/// models used to stop the program one timeout after the start).
#[test]
fn traffic_keeps_a_program_connection_past_the_idle_timeout() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-v",
            "--idle-timeout",
            "600ms",
            "--exec",
            "cat",
        ]);
        let mut c = Client::connect(s.addr());
        c.set_timeout(Duration::from_secs(10));
        // Four round trips 300 ms apart: 1.2 s in all, twice the timeout.
        for i in 0..4 {
            let line = format!("line {i}\n");
            c.write_all(line.as_bytes()).unwrap();
            let mut got = vec![0u8; line.len()];
            let mut n = 0;
            while n < got.len() {
                match c.read(&mut got[n..]) {
                    Ok(0) | Err(_) => panic!("{model}: cut at round trip {i}: {}", s.err()),
                    Ok(k) => n += k,
                }
            }
            assert_eq!(got, line.as_bytes(), "{model}");
            std::thread::sleep(Duration::from_millis(300));
        }
        c.shutdown(std::net::Shutdown::Write);
        assert!(c.read_to_end().is_empty(), "{model}");
        s.wait_err("closed");
        assert!(!s.err().contains("idle timeout"), "{model}: {}", s.err());
    }
}

/// The idle timeout ends a program connection the same way in every
/// model: the program is asked to stop (SIGTERM), and one that ignores it
/// is killed with what it started 2 s later; the connection ends, and no
/// process is left (serve used to close the connection and leave the
/// program running).
#[test]
fn the_idle_timeout_stops_a_program_that_ignores_sigterm_in_every_model() {
    for (i, model) in MODELS.iter().enumerate() {
        let marker = format!("32.{}{i}", std::process::id());
        let script = format!("trap '' TERM; sleep {marker} & sleep {marker}");
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-v",
            "--idle-timeout",
            "500ms",
            "--sh-exec",
            &script,
        ]);
        let mut c = Client::connect(s.addr());
        c.set_timeout(Duration::from_secs(15));
        // (The server's own command line holds the marker too.)
        let sleeps = || sleeps_with(&marker).len();
        wait_until("the program's sleeps", T, || sleeps() == 2);
        let started = std::time::Instant::now();
        let rest = c.read_to_end();
        let took = started.elapsed();
        assert!(rest.is_empty(), "{model}");
        // 0.5 s of quiet, then 2 s for the stopped program: a loose upper
        // bound, as the machine may be loaded.
        assert!(
            took >= Duration::from_secs(2),
            "{model}: ended after {took:?}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{model}: ended after {took:?}"
        );
        s.wait_err("closed");
        let err = s.err();
        assert!(err.contains("idle timeout"), "{model}: {err}");
        assert!(err.contains("program killed by signal 9"), "{model}: {err}");
        wait_until(
            "the program's sleeps to end",
            Duration::from_secs(5),
            || sleeps() == 0,
        );
    }
}

/// A program's exit ends its output in every model, with or without the
/// pipes `-v` puts between it and the socket: a background child still
/// holding its stdout does not hold the connection open (it used to, for
/// as long as the child ran, wherever the bytes went through pipes), and
/// what the program wrote before it exited all arrives.
#[test]
fn a_background_child_does_not_hold_the_connection_after_the_program_exits() {
    for (i, model) in MODELS.iter().enumerate() {
        for flag in ["-q", "-v"] {
            let marker = format!("33.{}{i}", std::process::id());
            let script = format!("head -c 300000 /dev/zero; echo done; sleep 2{marker} &");
            let s = Server::start(&[model, "127.0.0.1:0", flag, "--sh-exec", &script]);
            let mut c = Client::connect(s.addr());
            c.set_timeout(Duration::from_secs(15));
            c.shutdown(std::net::Shutdown::Write);
            let started = std::time::Instant::now();
            let got = c.read_to_end();
            let took = started.elapsed();
            assert_eq!(got.len(), 300_005, "{model} {flag}");
            assert!(got.ends_with(b"done\n"), "{model} {flag}");
            assert!(
                took < Duration::from_secs(10),
                "{model} {flag}: the connection ended only after {took:?}"
            );
            drop(s);
            // (Left to run by the program, as the socket's holder would be;
            // ended here.)
            for p in sleeps_with(&marker) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
}

/// `sleep` processes whose command line holds `marker` (a server's own
/// command line, which holds it too, is not one).
fn sleeps_with(marker: &str) -> Vec<i32> {
    processes_with(marker)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .collect()
}

/// The idle timeout ends a program connection whose peer reads nothing
/// of its output (it waited for ever, in every model since a9ee4d3): the
/// program is stopped, then killed, and what it wrote is given up a
/// linger bound later; and a program's background child is ended with it
/// (fork-serve's worker asked only the program).
#[test]
fn the_idle_timeout_ends_a_program_whose_peer_reads_nothing() {
    for (i, model) in MODELS.iter().enumerate() {
        let marker = format!("34.{}{i}", std::process::id());
        // (The sleep ignores SIGTERM: it is killed with what the program
        // left in its group, even once the program itself has gone.)
        let script = format!("trap '' TERM; sleep 2{marker} & exec yes");
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-v",
            "--idle-timeout",
            "500ms",
            "--sh-exec",
            &script,
        ]);
        // A client that never reads (a small buffer, filled at once).
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let addr: std::net::SocketAddr = s.addr().parse().unwrap();
        sock.connect(&addr.into()).unwrap();
        wait_until("the program's sleep", T, || sleeps_with(&marker).len() == 1);
        let started = std::time::Instant::now();
        s.wait_err("closed");
        let took = started.elapsed();
        // 0.5 s of quiet, 2 s for the stopped program, 2 s for its output.
        assert!(
            took < Duration::from_secs(12),
            "{model}: ended after {took:?}"
        );
        assert!(s.err().contains("idle timeout"), "{model}: {}", s.err());
        wait_until("the program's sleep to end", Duration::from_secs(5), || {
            sleeps_with(&marker).is_empty()
        });
        drop(sock);
    }
}
