//! inetd mode (issue 21, item 9): the address `stdio` serves the one
//! connection handed over on stdin, in every model and with every
//! handler, then exits 0. Handed over directly (a socket pair, as socat's
//! EXEC: gives one) and by the distribution's `systemd-socket-activate
//! --inetd --accept`, to real clients; TLS over it; the example unit in
//! contrib/systemd; and what stdin must not be.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};

use crate::handlers::MODELS;
use crate::util::*;

const ACTIVATE: &str = "systemd-socket-activate";

/// The shell line an `--exec` handler runs: the peer's variables, then
/// the input upper-cased.
const SHOW_PEER: &str = "printf '%s|%s|%s\\n' \"$SOCKCAT_PEER_ADDR\" \"$SOCKCAT_PEER_PORT\" \
                         \"${SOCKCAT_PEER_UID:+uid}\"; tr a-z A-Z";

/// Each handler of `model` (`--broker` is serve's), and what a client that
/// sends `hello\n` and half-closes gets back. `{up}` is the forwarding
/// upstream's address; PEER the program's line about its peer.
fn handlers(model: &str) -> Vec<(Vec<&'static str>, &'static str)> {
    let mut v = vec![
        (vec!["--echo"], "hello\n"),
        (vec!["--reply", "hi there"], "hi there\n"),
        (vec!["--discard"], ""),
        (vec!["--forward", "{up}"], "from upstream\n"),
        (vec!["--sh-exec", SHOW_PEER], "PEER\nHELLO\n"),
    ];
    if model == "serve" {
        // Alone, a broker's client has nobody to hear it.
        v.push((vec!["--broker"], ""));
    }
    v
}

fn fill(args: &[&str], up: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{up}", up)).collect()
}

/// A connected socket pair handed over as stdin: every model serves it
/// with every handler (and the default one, printing to a stdout of its own), the peer
/// is the pair's other end as the kernel vouches for it, and the server
/// exits 0 after that one connection, with one readiness line.
#[test]
fn a_socket_pair_on_stdin_is_served_once_in_every_model() {
    let upstream = Server::start(&["thread-serve", "127.0.0.1:0", "--reply", "from upstream"]);
    for model in MODELS {
        let mut cases = handlers(model);
        // The default handler prints the peer's bytes.
        cases.push((vec![], ""));
        for (handler, want) in cases {
            let what = format!("{model} stdio {}", handler.join(" "));
            let (ours, theirs) = UnixStream::pair().unwrap();
            let mut args = vec![model.to_string(), "stdio".to_string()];
            args.extend(fill(&handler, upstream.addr()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut s = Server::start_with(
                &args,
                Opts {
                    stdin: Stdio::from(OwnedFd::from(theirs)),
                    ..Opts::default()
                },
            );
            assert_eq!(s.addr(), "unix:stdio", "{what}");
            ours.set_read_timeout(Some(T)).unwrap();
            (&ours).write_all(b"hello\n").unwrap();
            ours.shutdown(Shutdown::Write).unwrap();
            let mut got = String::new();
            (&ours).read_to_string(&mut got).unwrap();
            let want = want.replace("PEER", "||uid");
            assert_eq!(got, want, "{what}: {}", s.err());
            assert_eq!(s.wait(), Some(0), "{what}: {}", s.err());
            let err = s.err();
            assert!(err.contains("got connection from - (uid "), "{what}: {err}");
            if handler.is_empty() {
                assert_eq!(s.out_str(), "hello\n", "{what}");
            }
        }
    }
}

/// Wait for `systemd-socket-activate` to say it listens.
fn activated(act: &[&str], args: &[String]) -> Server {
    let mut cmd = Command::new(ACTIVATE);
    cmd.args(act).arg(BIN).args(args);
    let s = Server::start_command(
        cmd,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Opts {
            ready_lines: 0,
            ..Opts::default()
        },
    );
    s.wait_err("Listening on ");
    s
}

/// `systemd-socket-activate --inetd --accept` starts a sockcat per
/// connection with the connection as stdin and stdout: every model, every
/// handler, real clients (nc.openbsd, socat) on a Unix socket, each
/// sockcat exiting 0. The default handler prints to a stdout of its own (a file).
#[test]
fn systemd_socket_activate_inetd_in_every_model() {
    if !needs(&[ACTIVATE, "nc.openbsd", "socat"]) {
        return;
    }
    let dir = TempDir::new();
    let upstream = Server::start(&["serve", "127.0.0.1:0", "--reply", "from upstream"]);
    let mut i = 0;
    for model in MODELS {
        for (handler, want) in handlers(model) {
            i += 1;
            let what = format!("{model} stdio {}", handler.join(" "));
            let p = dir.path(&format!("s{i}.sock"));
            let p = p.to_str().unwrap();
            let mut args = vec![model.to_string(), "stdio".to_string()];
            args.extend(fill(&handler, upstream.addr()));
            let act = activated(&["--inetd", "--accept", "-l", p], &args);
            let client = if i % 2 == 0 {
                Command::new("nc.openbsd")
                    .args(["-N", "-U", p])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
            } else {
                Command::new("socat")
                    .args(["-t", "5", "-", &format!("UNIX-CONNECT:{p}")])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
            };
            let mut client = client.unwrap();
            client.stdin.take().unwrap().write_all(b"hello\n").unwrap();
            let out = output_of(client);
            let want = want.replace("PEER", "||uid");
            assert_eq!(out, want, "{what}: {}", act.err());
            act.wait_err("died with code 0");
            let err = act.err();
            assert!(err.contains(&format!("listening on unix {p}\n")), "{err}");
            assert!(err.contains("got connection from - (uid "), "{err}");
        }
        // Printing: stdout is the connection under --inetd, so it goes elsewhere.
        i += 1;
        let p = dir.path(&format!("s{i}.sock"));
        let p = p.to_str().unwrap();
        let printed = dir.path(&format!("printed{i}"));
        let mut cmd = Command::new(ACTIVATE);
        cmd.args(["--inetd", "--accept", "-l", p, "sh", "-c"])
            .arg(format!(
                "exec {BIN} {model} stdio >{}",
                sh_quote(printed.display())
            ));
        let act = Server::start_command(
            cmd,
            &[model, "stdio"],
            Opts {
                ready_lines: 0,
                ..Opts::default()
            },
        );
        act.wait_err("Listening on ");
        let out = run(&["send", &format!("unix:{p}"), "printed"], b"");
        out.expect_code(0);
        act.wait_err("died with code 0");
        assert_eq!(
            std::fs::read_to_string(&printed).unwrap(),
            "printed\n",
            "{model}"
        );
    }
}

/// The child's stdout once it exits (within the timeout).
fn output_of(mut child: std::process::Child) -> String {
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let status = wait_child(&mut child, T);
    assert!(status.success(), "client: {status:?}");
    reader.join().unwrap()
}

/// TLS over a handed TCP connection, in every model: the program sees the
/// client's address and port, as the kernel gives them (getpeername).
#[test]
fn tls_over_a_handed_tcp_connection() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    for model in MODELS {
        let args: Vec<String> = [model, "stdio", "--tls", "--sh-exec", SHOW_PEER]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // It takes no port 0: a free one, and another if it was lost.
        let (act, port) = (0..5)
            .find_map(|_| {
                let port = free_port();
                let listen = format!("127.0.0.1:{port}");
                let mut cmd = Command::new(ACTIVATE);
                cmd.args(["--inetd", "--accept", "-l", &listen])
                    .arg(BIN)
                    .args(&args);
                let mut s = Server::start_command(
                    cmd,
                    &[model],
                    Opts {
                        ready_lines: 0,
                        ..Opts::default()
                    },
                );
                wait_until("systemd-socket-activate to bind", T, || {
                    s.err().contains("Listening on ") || s.child.try_wait().unwrap().is_some()
                });
                s.err().contains("Listening on ").then_some((s, port))
            })
            .expect("a free port");
        let target = format!("tls://127.0.0.1:{port}");
        let out = run(&["send", &target, "--insecure", "hello"], b"");
        out.expect_code(0);
        let text = out.stdout_str();
        let (peer, rest) = text.split_once('\n').unwrap();
        assert!(peer.starts_with("127.0.0.1|"), "{model}: {text}");
        let client_port: u16 = peer.split('|').nth(1).unwrap().parse().unwrap();
        assert_ne!(client_port, port);
        assert_eq!(rest, "HELLO\n", "{model}");
        act.wait_err("died with code 0");
        assert!(
            act.err()
                .contains(&format!("got connection from 127.0.0.1:{client_port}")),
            "{}",
            act.err()
        );
        assert!(
            act.err().contains("tls certificate sha256:"),
            "{}",
            act.err()
        );
    }
}

/// contrib/systemd's inetd-style unit: a .socket with Accept=yes and a
/// templated service whose ExecStart serves stdio, run as the socket unit
/// would run it.
#[test]
fn the_contrib_inetd_unit_runs() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let socket =
        std::fs::read_to_string(format!("{dir}/contrib/systemd/sockcat-echo-inetd.socket"))
            .unwrap();
    let service =
        std::fs::read_to_string(format!("{dir}/contrib/systemd/sockcat-echo-inetd@.service"))
            .unwrap();
    let value = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}="))
            .to_string()
    };
    assert_eq!(value(&socket, "Accept"), "yes");
    assert_eq!(value(&service, "StandardInput"), "socket");
    assert_eq!(value(&service, "StandardError"), "journal");
    let exec = value(&service, "ExecStart");
    let args: Vec<String> = exec
        .strip_prefix("/usr/bin/sockcat ")
        .expect("ExecStart runs /usr/bin/sockcat")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(args[1], "stdio", "{exec}");
    let tmp = TempDir::new();
    let p = tmp.path("unit.sock");
    let p = p.to_str().unwrap();
    let act = activated(&["--inetd", "--accept", "-l", p], &args);
    for msg in ["one", "two"] {
        let out = run(&["send", &format!("unix:{p}"), msg], b"");
        out.expect_code(0);
        assert_eq!(out.stdout_str(), format!("{msg}\n"), "{}", act.err());
    }
    wait_until("both to exit 0", T, || {
        act.err().matches("died with code 0").count() == 2
    });
}

/// What stdin must be: a connected stream socket. Each refusal is one
/// line with the documented code, and says what to do instead.
#[test]
fn what_is_not_a_handed_connection_is_refused() {
    let dir = TempDir::new();
    let one_line = |out: &std::process::Output, code: i32, msg: &str, what: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{what}: {err}");
        assert!(err.contains(msg), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
    };
    for model in MODELS {
        // A pipe, /dev/null.
        let out = run(&[model, "stdio", "--echo"], b"x");
        out.expect_code(1);
        assert!(
            out.stderr
                .contains("stdio: stdin is a pipe, not a connected socket")
                && out.stderr.contains("socat - EXEC:"),
            "{}",
            out.stderr
        );
        let out = output_within(
            sockcat()
                .args([model, "stdio", "--echo"])
                .stdin(Stdio::null()),
            T,
        );
        one_line(&out, 1, "stdin is /dev/null (or closed)", model);

        // A listening socket (inetd's wait), a datagram socket.
        let l = UnixListener::bind(dir.path(&format!("l-{model}.sock"))).unwrap();
        let out = output_within(
            sockcat()
                .args([model, "stdio", "--echo"])
                .stdin(Stdio::from(OwnedFd::from(l))),
            T,
        );
        one_line(&out, 1, "stdin is a listening unix socket", model);
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let out = output_within(
            sockcat()
                .args([model, "stdio", "--echo"])
                .stdin(Stdio::from(OwnedFd::from(u))),
            T,
        );
        one_line(
            &out,
            1,
            "stdin is a udp socket (inetd's dgram wait?)",
            model,
        );

        // A stream socket never connected (TCP, Unix): nothing to serve.
        let fresh = [
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap(),
            socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap(),
        ];
        for (sock, kind) in fresh.into_iter().zip(["tcp", "unix"]) {
            let out = output_within(
                sockcat()
                    .args([model, "stdio", "--echo"])
                    .stdin(Stdio::from(OwnedFd::from(sock))),
                T,
            );
            one_line(
                &out,
                1,
                &format!("stdin is a {kind} socket that is not connected"),
                model,
            );
        }

        // -u on a stream; the default handler with stdout the connection itself.
        let (_ours, theirs) = UnixStream::pair().unwrap();
        let out = output_within(
            sockcat()
                .args([model, "stdio", "-u", "--echo"])
                .stdin(Stdio::from(OwnedFd::from(theirs))),
            T,
        );
        one_line(
            &out,
            2,
            "-u asks for datagrams, but stdin is a unix connection",
            model,
        );
        let (ours, theirs) = UnixStream::pair().unwrap();
        let again = theirs.try_clone().unwrap();
        let mut child = sockcat()
            .args([model, "stdio"])
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(again)))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = child.stderr.take().unwrap();
        let status = wait_child(&mut child, T);
        let mut text = Vec::new();
        err.read_to_end(&mut text).unwrap();
        let out = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: text,
        };
        one_line(&out, 2, "stdio: stdout is the connection too", model);
        ours.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            (&ours).read(&mut buf).unwrap(),
            0,
            "nothing reached the peer"
        );
    }
    // Only a server takes it, and fd:0 points to it.
    let out = run(&["send", "stdio", "x"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains("'stdio' names an inherited socket"),
        "{}",
        out.stderr
    );
    let out = run(&["serve", "fd:0"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("is stdio)"), "{}", out.stderr);
}

/// Accept=yes without StandardInput=socket passes the connection as fd 3:
/// the refusal names the form that serves it.
#[test]
fn the_accept_yes_refusal_points_to_stdio() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    let dir = TempDir::new();
    let p = dir.path("acc.sock");
    let p = p.to_str().unwrap();
    let args = vec!["fork-serve".to_string(), "systemd".into(), "--echo".into()];
    let act = activated(&["--accept", "-l", p], &args);
    let _ = run(&["send", &format!("unix:{p}"), "x"], b"");
    act.wait_err(
        "is not listening (a connection, from a .socket unit with Accept=yes? serve it \
         with the address stdio and StandardInput=socket",
    );
}

/// A handed connection the access list refuses is closed, and the server
/// still ends (0: a refusal is the list working, as in a listening server).
#[test]
fn a_refused_handed_connection_ends_the_server() {
    for model in MODELS {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut s = Server::start_with(
            &[model, "stdio", "--echo", "--allow", "uid:4242"],
            Opts {
                stdin: Stdio::from(OwnedFd::from(theirs)),
                ..Opts::default()
            },
        );
        assert_eq!(s.wait(), Some(0), "{model}: {}", s.err());
        assert!(s.err().contains("refused - (access list)"), "{}", s.err());
        ours.set_read_timeout(Some(T)).unwrap();
        let mut got = Vec::new();
        (&ours).read_to_end(&mut got).unwrap();
        assert!(got.is_empty(), "{model}");
    }
}
