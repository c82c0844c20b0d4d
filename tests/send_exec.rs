//! `send --exec PROG ARGS…` / `send --sh-exec CMDLINE` (issue 21, item 8):
//! a client that runs a program on the connection, as ncat's `HOST PORT -e`
//! and socat's `EXEC:` do. The program's stdout goes to the server and the
//! server's bytes to its stdin (its stderr is send's); it sees the servers'
//! environment variables, naming the server as the peer; send exits with
//! its status; nothing it started outlives send.

use std::time::{Duration, Instant};

use crate::handlers::MODELS;
use crate::util::*;

/// The program, given the socket itself (no option needs the bytes) and
/// given pipes (-v counts the bytes, so they are relayed).
const MODES: [&[&str]; 2] = [&[], &["-v"]];

/// A server address of each stream kind: TCP, and a Unix socket in `dir`.
fn addresses(dir: &TempDir) -> Vec<String> {
    vec![
        "127.0.0.1:0".to_string(),
        format!("unix:{}", dir.path("s.sock").display()),
    ]
}

fn send(addr: &str, mode: &[&str], exec: &[&str]) -> Out {
    let mut args = vec!["send", addr];
    args.extend_from_slice(mode);
    args.extend_from_slice(exec);
    run(&args, b"")
}

/// Against --echo and --reply, in every model, over TCP and Unix, with the
/// socket handed over and with pipes: the program's line reaches the
/// server, the server's bytes reach the program, and send exits 0.
#[test]
fn send_exec_talks_to_echo_and_reply_servers_in_every_model() {
    let prog = ["--sh-exec", "echo hello; read x; echo \"got $x\" >&2"];
    for model in MODELS {
        for mode in MODES {
            let dir = TempDir::new();
            for addr in addresses(&dir) {
                let _ = std::fs::remove_file(dir.path("s.sock"));
                let s = Server::start(&[model, &addr, "-q", "--echo"]);
                let out = send(s.addr(), mode, &prog);
                out.expect_code(0);
                assert!(out.stderr.contains("got hello"), "{model} {addr}: {out}");
                drop(s);

                let _ = std::fs::remove_file(dir.path("s.sock"));
                let s = Server::start(&[model, &addr, "-q", "--reply", "pong"]);
                let out = send(
                    s.addr(),
                    mode,
                    &["--sh-exec", "read x; echo \"got $x\" >&2; echo ping"],
                );
                out.expect_code(0);
                assert!(out.stderr.contains("got pong"), "{model} {addr}: {out}");
                s.wait_out("ping");
            }
        }
    }
}

/// Over TLS the program gets pipes relayed through the TLS stream, and
/// the settled facts: the version, the server certificate's subject and
/// fingerprint.
#[test]
fn send_exec_over_tls_in_every_model() {
    for model in MODELS {
        let s = Server::start(&[model, "tls://127.0.0.1:0", "-q", "--echo"]);
        let fp = crate::tls::fingerprint(&s);
        let addr = format!("tls://{}", s.addr());
        let out = run(
            &[
                "send",
                "--pin",
                &fp,
                &addr,
                "--sh-exec",
                "echo hello; read x; echo \"got $x $SOCKCAT_TLS_VERSION $SOCKCAT_TLS_PEER_SHA256\" >&2",
            ],
            b"",
        );
        out.expect_code(0);
        assert!(
            out.stderr.contains(&format!("got hello TLSv1.3 {fp}")),
            "{model}: {out}"
        );
    }
}

/// Through a SOCKS5 proxy (microsocks): the tunnel carries the program's
/// bytes, and the peer it is told about is the server, not the proxy.
#[test]
fn send_exec_through_a_proxy() {
    if !needs(&["microsocks"]) {
        return;
    }
    let m = crate::proxy::microsocks();
    let url = m.url("socks5", "u:p%20w@");
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "-q", "--echo"]);
        for mode in MODES {
            let mut args = vec!["send", "--proxy", &url, s.addr()];
            args.extend_from_slice(mode);
            args.extend_from_slice(&[
                "--sh-exec",
                "echo hello; read x; echo \"got $x from $SOCKCAT_PEER_ADDR:$SOCKCAT_PEER_PORT\" >&2",
            ]);
            let out = run(&args, b"");
            out.expect_code(0);
            assert!(
                out.stderr.contains(&format!("got hello from {}", s.addr())),
                "{model}: {out}"
            );
        }
    }
}

/// Real peers: `ncat -l --sh-exec` and socat's `SYSTEM:` answer the
/// program's line.
#[test]
fn send_exec_against_ncat_and_socat() {
    if !needs(&["ncat", "socat"]) {
        return;
    }
    // One line in, that line in capitals out (head ends, so tr flushes).
    let answer = "head -n 1 | tr a-z A-Z";
    for peer in ["ncat", "socat"] {
        for mode in MODES {
            let port = free_port();
            let mut cmd = std::process::Command::new(peer);
            match peer {
                "ncat" => cmd.args(["-l", "127.0.0.1", &port.to_string(), "--sh-exec", answer]),
                _ => cmd.args([
                    format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
                    format!("SYSTEM:{answer}"),
                ]),
            };
            let mut child = cmd
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let addr = format!("127.0.0.1:{port}");
            let mut args = vec!["send", "--retry", "10s", &addr];
            args.extend_from_slice(mode);
            args.extend_from_slice(&["--sh-exec", "echo hello; read x; echo \"got $x\" >&2"]);
            let out = run(&args, b"");
            let _ = child.kill();
            let _ = child.wait();
            out.expect_code(0);
            assert!(out.stderr.contains("got HELLO"), "{peer}: {out}");
        }
    }
}

/// send exits with the program's status: its exit code, or 128+N when a
/// signal N killed it; -v's closing line says which.
#[test]
fn send_exec_exits_with_the_programs_status() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--echo"]);
    for mode in MODES {
        for (prog, code) in [
            ("echo hi; read x", 0),
            ("echo hi; read x; exit 7", 7),
            ("kill -9 $$", 137),
        ] {
            let out = send(s.addr(), mode, &["--sh-exec", prog]);
            out.expect_code(code);
            if !mode.is_empty() {
                let said = match code {
                    137 => "program killed by signal 9".to_string(),
                    c => format!("program exited {c}"),
                };
                assert!(out.stderr.contains(&said), "{out}");
            }
        }
    }
}

/// A program that never reads its input and exits early, while the server
/// still sends 300 KB: send drops what is left unread and ends, exit 0.
#[test]
fn send_exec_with_a_program_that_never_reads() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--sh-exec",
            "head -c 300000 /dev/zero",
        ]);
        for mode in MODES {
            let t = Instant::now();
            let out = send(s.addr(), mode, &["--sh-exec", "echo hi"]);
            out.expect_code(0);
            assert!(t.elapsed() < Duration::from_secs(8), "{model}: {out}");
        }
    }
}

/// A program that leaves children behind, one holding its output, one in
/// a session of its own, both ignoring SIGTERM: when the program exits,
/// they are ended (SIGTERM, then SIGKILL), and send ends with the
/// program's status.
#[test]
fn nothing_a_program_started_outlives_send() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--echo"]);
    for (i, mode) in MODES.iter().enumerate() {
        let a = format!("61.{i}4071");
        let b = format!("62.{i}4071");
        let prog = format!(
            "trap '' TERM; sleep {a} & setsid sh -c 'trap \"\" TERM; exec sleep {b}' & \
             echo hi; read x; exit 5"
        );
        let t = Instant::now();
        let out = send(s.addr(), mode, &["--sh-exec", &prog]);
        out.expect_code(5);
        assert!(t.elapsed() < Duration::from_secs(15), "{out}");
        for m in [&a, &b] {
            assert!(
                processes_with(&format!("sleep\0{m}")).is_empty(),
                "{m} left running: {out}"
            );
        }
    }
}

/// Ctrl-C (or SIGTERM) while the program runs: the program, though it
/// ignores SIGTERM, is ended, and send exits with the signal's code.
#[test]
fn a_stop_signal_ends_the_program_too() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--echo"]);
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let marker = format!("63.{sig}4071");
        let prog = format!("trap '' TERM; echo hi >&2; exec sleep {marker}");
        let mut child = sockcat()
            .args(["send", s.addr(), "--sh-exec", &prog])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the program runs", T, || {
            !processes_with(&format!("sleep\0{marker}")).is_empty()
        });
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = wait_child(&mut child, T);
        assert_eq!(status.code(), Some(code), "signal {sig}: {status:?}");
        assert!(
            processes_with(&format!("sleep\0{marker}")).is_empty(),
            "signal {sig}: the program was left running"
        );
    }
}

/// --idle-timeout: a server and a program both silent end the program
/// (SIGKILL after SIGTERM's grace) and exit 124.
#[test]
fn send_exec_idle_timeout() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--echo"]);
    let out = run(
        &[
            "send",
            s.addr(),
            "--idle-timeout",
            "300ms",
            "--sh-exec",
            "trap '' TERM; exec sleep 64.4071",
        ],
        b"",
    );
    out.expect_code(124);
    assert!(out.stderr.contains("idle for 300ms"), "{out}");
    assert!(processes_with("sleep\x0064.4071").is_empty(), "{out}");
}

/// The program's environment names the server as its peer and our end as
/// local, over TCP and Unix.
#[test]
fn send_exec_environment() {
    let dir = TempDir::new();
    for addr in addresses(&dir) {
        let s = Server::start(&["serve", &addr, "-q", "--echo"]);
        let out = send(
            s.addr(),
            &[],
            &[
                "--sh-exec",
                "env | grep ^SOCKCAT_ | sort >&2; echo x; read x",
            ],
        );
        out.expect_code(0);
        let get = |k: &str| {
            out.stderr
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k}: {out}"))
                .to_string()
        };
        if let Some(path) = s.addr().strip_prefix("unix:") {
            assert_eq!(get("SOCKCAT_PEER_ADDR"), path, "{out}");
            assert_eq!(get("SOCKCAT_PEER_PORT"), "", "{out}");
        } else {
            assert_eq!(get("SOCKCAT_PEER_ADDR"), "127.0.0.1", "{out}");
            assert_eq!(get("SOCKCAT_PEER_PORT"), s.port().to_string(), "{out}");
            assert_eq!(get("SOCKCAT_LOCAL_ADDR"), "127.0.0.1", "{out}");
            assert!(get("SOCKCAT_LOCAL_PORT").parse::<u16>().unwrap() > 0);
        }
    }
}

/// What has no meaning beside --exec is refused with one line and exit 2,
/// before connecting.
#[test]
fn send_exec_refuses_what_means_nothing_beside_it() {
    let port = closed_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let f = std::env::current_exe().unwrap();
    let file = f.to_str().unwrap();
    for (args, says) in [
        (vec!["-z", &addr, "--exec", "cat"], "-z only checks"),
        (
            vec!["--count", "3", &addr, "--exec", "cat"],
            "not load mode",
        ),
        (vec!["--file", file, &addr, "--exec", "cat"], "not --file"),
        (vec!["--crlf", &addr, "--exec", "cat"], "no --crlf"),
        (vec!["--wait", "1s", &addr, "--exec", "cat"], "--wait"),
        (vec!["--hold", "1s", &addr, "--exec", "cat"], "--hold"),
        (
            vec!["--no-shutdown", &addr, "--exec", "cat"],
            "no --no-shutdown",
        ),
        // Options stand anywhere, so words before --exec are a message.
        (
            vec![&addr, "hi", "--exec", "cat"],
            "not MESSAGE words ('hi')",
        ),
        (vec!["-u", &addr, "--exec", "cat"], "udp address"),
        (vec![&addr, "--sh-exec", " "], "needs a command line"),
        (
            vec![&addr, "--exec", "no-such-program-4071"],
            "no such program",
        ),
        (vec!["--exec", "nc", &addr], "put the address first"),
    ] {
        let mut all = vec!["send"];
        all.extend_from_slice(&args);
        let out = run(&all, b"");
        out.expect_code(2);
        assert!(out.stderr.contains(says), "{out}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{out}");
    }
}
