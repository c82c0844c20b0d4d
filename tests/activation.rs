//! Inherited sockets (issue 13, item 6): `fd:N`, `systemd` and
//! `systemd:NAME` in every model and for every transport, driven by the
//! distribution's `systemd-socket-activate` (which binds, waits for the
//! first connection or datagram, then execs the server with LISTEN_FDS),
//! with a fake NOTIFY_SOCKET listener; and what must be refused.

use std::os::unix::net::UnixDatagram;
use std::process::Command;

use crate::handlers::MODELS;
use crate::util::*;

const ACTIVATE: &str = "systemd-socket-activate";

/// `systemd-socket-activate [act] -- sockcat args…`, started; returns once
/// it has bound its `listens` sockets, with the port that `{port}` in
/// `act` became (it takes no port 0: a free one, and another if that one
/// was lost in a race). sockcat itself starts (execs) when the first
/// connection or datagram arrives, so its readiness line comes later and
/// is not waited for here.
fn activate(
    act: &[&str],
    args: &[&str],
    listens: usize,
    notify: Option<&std::path::Path>,
) -> (Server, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(ACTIVATE);
        cmd.args(act.iter().map(|a| a.replace("{port}", &port.to_string())));
        // It gives the program a fresh environment: only what --setenv names.
        if let Some(p) = notify {
            cmd.arg(format!("--setenv=NOTIFY_SOCKET={}", p.display()));
        }
        cmd.arg(BIN).args(args);
        let mut s = Server::start_command(
            cmd,
            args,
            Opts {
                ready_lines: 0,
                ..Opts::default()
            },
        );
        let end = std::time::Instant::now() + T;
        loop {
            if s.err().matches("Listening on ").count() >= listens {
                return (s, port);
            }
            if s.child.try_wait().unwrap().is_some() {
                break; // it lost its port: another
            }
            assert!(
                std::time::Instant::now() < end,
                "{ACTIVATE} never bound: {}",
                s.err()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    panic!("{ACTIVATE} would not bind on five ports");
}

/// Every model takes an inherited socket of every transport, under each of
/// the three forms; the reply proves the adopted socket is served, the
/// readiness line names it, and a SIGTERM ends the server with 0 without
/// removing a socket file that is not its own.
#[test]
fn every_model_serves_every_transport_it_inherits() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    let dir = TempDir::new();
    let forms = ["fd:3", "systemd", "systemd:main"];
    let mut i = 0;
    for model in MODELS {
        for transport in ["tcp", "udp", "unix", "unixgram"] {
            let form = forms[i % forms.len()];
            i += 1;
            // `{port}` is filled in by activate().
            let (listen, target, shown) = match transport {
                "tcp" => (
                    "127.0.0.1:{port}".to_string(),
                    "127.0.0.1:{port}".to_string(),
                    "tcp 127.0.0.1:{port}".to_string(),
                ),
                "udp" => (
                    "127.0.0.1:{port}".to_string(),
                    "udp://127.0.0.1:{port}".to_string(),
                    "udp 127.0.0.1:{port}".to_string(),
                ),
                "unix" => {
                    let p = dir.path(&format!("s{i}.sock"));
                    let p = p.to_str().unwrap().to_string();
                    (p.clone(), format!("unix:{p}"), format!("unix {p}"))
                }
                _ => {
                    let p = dir.path(&format!("d{i}.sock"));
                    let p = p.to_str().unwrap().to_string();
                    (p.clone(), format!("unixgram:{p}"), format!("unixgram {p}"))
                }
            };
            let mut act = vec!["-l", &listen, "--fdname=main"];
            if transport == "udp" || transport == "unixgram" {
                act.push("-d");
            }
            let what = format!("{model} {form} over {transport}");
            let notify_path = dir.path(&format!("n{i}.sock"));
            let notify = UnixDatagram::bind(&notify_path).unwrap();
            notify.set_read_timeout(Some(T)).unwrap();
            let (mut s, port) = activate(&act, &[model, form, "--echo"], 1, Some(&notify_path));
            let target = target.replace("{port}", &port.to_string());
            let shown = shown.replace("{port}", &port.to_string());
            let out = run(&["send", &target, "hello", "from", &what], b"");
            out.expect_code(0);
            assert_eq!(out.stdout_str(), format!("hello from {what}\n"), "{what}");
            s.wait_err(&format!("listening on {shown}\n"));
            let mut buf = [0u8; 512];
            let k = notify.recv(&mut buf).expect("READY=1");
            let ready = String::from_utf8_lossy(&buf[..k]).into_owned();
            assert!(ready.starts_with("READY=1\n"), "{what}: {ready:?}");
            assert!(
                ready.contains(&format!("STATUS=listening on {shown}")),
                "{what}: {ready:?}"
            );
            s.signal(libc::SIGTERM);
            assert_eq!(s.wait(), Some(0), "{what}: {}", s.err());
            if transport.starts_with("unix") {
                assert!(
                    std::path::Path::new(&listen).exists(),
                    "{what}: socket file removed"
                );
            }
        }
    }
}

/// `systemd` serves every socket passed; `systemd:NAME` only those named
/// NAME; a name that was not passed is an error that lists the names.
#[test]
fn systemd_names_pick_sockets() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    let dir = TempDir::new();
    let a = dir.path("a.sock");
    let b = dir.path("b.sock");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let act = ["-l", a, "-l", b, "--fdname=web:admin"];

    let (mut s, _) = activate(&act, &["serve", "systemd", "--reply", "hi"], 2, None);
    for p in [a, b] {
        let out = run(&["send", &format!("unix:{p}")], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"hi\n");
    }
    s.wait_err(&format!("listening on unix {a}\n"));
    s.wait_err(&format!("listening on unix {b}\n"));
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait(), Some(0));

    let (mut s, _) = activate(
        &act,
        &["thread-serve", "systemd:admin", "--reply", "admin"],
        2,
        None,
    );
    let out = run(&["send", &format!("unix:{b}")], b"");
    assert_eq!(out.stdout, b"admin\n", "{}", s.err());
    assert!(
        !s.err().contains(&format!("listening on unix {a}")),
        "{}",
        s.err()
    );
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait(), Some(0));

    let (mut s, _) = activate(&act, &["fork-serve", "systemd:nope", "--echo"], 2, None);
    let _ = run_in(&["send", &format!("unix:{a}"), "x"], b"", T);
    assert_eq!(s.wait(), Some(1));
    assert!(
        s.err().contains(
            "sockcat: error: systemd:nope: no socket of that name was passed \
             (there are systemd:web, systemd:admin)"
        ),
        "{}",
        s.err()
    );
}

/// At start the inherited socket is adopted before anything is made for
/// it: a descriptor that is not open fails first, and no certificate is
/// generated or saved for it.
#[test]
fn an_inherited_socket_is_adopted_before_a_certificate_is_made() {
    let dir = TempDir::new();
    let (c, k) = (dir.path("c.pem"), dir.path("k.pem"));
    let (cs, ks) = (c.to_str().unwrap(), k.to_str().unwrap());
    let out = run(
        &[
            "serve",
            "fd:9",
            "--tls",
            "--save-cert",
            cs,
            "--save-key",
            ks,
        ],
        b"",
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("fd:9: descriptor 9 is not open"),
        "{}",
        out.stderr
    );
    assert!(!c.exists() && !k.exists(), "a certificate was saved");
}

/// What is not an inherited listening socket is refused with one line and
/// the documented code, and nothing that is not sockcat's is touched: a
/// connection passed Accept=yes style, a descriptor that is not a socket
/// or not open, no LISTEN_FDS, a -u that contradicts the socket, --mode
/// on someone else's file, and a client given a server's form.
#[test]
fn what_is_not_an_inherited_listener_is_refused() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    let dir = TempDir::new();
    let p = dir.path("acc.sock");
    let p = p.to_str().unwrap();
    // --accept passes each connection, not the listener.
    let (s, _) = activate(
        &["--accept", "-l", p],
        &["serve", "systemd", "--echo"],
        1,
        None,
    );
    let out = run(&["send", &format!("unix:{p}"), "x"], b"");
    assert!(out.stdout.is_empty());
    s.wait_err("is not listening (a connection, from a .socket unit with Accept=yes?");
    assert!(std::path::Path::new(p).exists());
    drop(s);

    for (args, code, msg) in [
        (&["serve", "fd:9"][..], 1, "fd:9: descriptor 9 is not open"),
        (
            &["serve", "systemd"],
            1,
            "LISTEN_PID and LISTEN_FDS are not set",
        ),
        (
            &["thread-serve", "systemd:x"],
            1,
            "LISTEN_PID and LISTEN_FDS are not set",
        ),
        (
            &["serve", "fd:1"],
            2,
            "descriptors 0, 1 and 2 are stdin, stdout and stderr",
        ),
        (
            &["serve", "fd:three"],
            2,
            "invalid descriptor in 'fd:three'",
        ),
        (
            &["send", "fd:3", "x"],
            2,
            "'fd:3' names an inherited socket, which only a server takes",
        ),
        (&["send", "-z", "systemd"], 2, "names an inherited socket"),
        (
            &["serve", ":0", "--forward", "fd:3"],
            2,
            "--forward: 'fd:3' names an inherited socket",
        ),
    ] {
        let out = run(args, b"");
        out.expect_code(code);
        assert!(out.stderr.contains(msg), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }

    // A descriptor that is open but no socket, and LISTEN_FDS for another process.
    let out = output_within(
        Command::new("bash").args(["-c", &format!("exec {BIN} serve fd:3 3</dev/null")]),
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fd:3: descriptor 3 is not a socket"));
    let out = output_within(
        Command::new(BIN)
            .args(["serve", "systemd"])
            .env("LISTEN_PID", "1")
            .env("LISTEN_FDS", "1"),
        T,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("were passed to process 1, not to this one")
    );

    // -u says datagrams; --mode would change a file that is not sockcat's.
    let q = dir.path("q.sock");
    let q = q.to_str().unwrap();
    let (s, _) = activate(&["-l", q], &["serve", "systemd", "-u"], 1, None);
    let _ = run(&["send", &format!("unix:{q}"), "x"], b"");
    s.wait_err("-u asks for datagrams, but systemd:unknown (fd 3) is a unix socket");
    drop(s);
    let (s, _) = activate(&["-l", q], &["serve", "fd:3", "--mode", "600"], 1, None);
    let _ = run(&["send", &format!("unix:{q}"), "x"], b"");
    s.wait_err("an inherited socket's file belongs to whoever made it");
}

/// One `Key=value` line of a unit file.
fn unit_value(path: &str, key: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{path}: no {key}="))
        .to_string()
}

/// The example units in contrib/systemd work as shipped: each service's
/// ExecStart, run by systemd-socket-activate with its socket unit's name
/// (on a free port instead of the fixed one), serves; the forwarder's
/// upstream is a test server instead of port 80.
#[test]
fn the_contrib_units_run() {
    if !needs(&[ACTIVATE]) {
        return;
    }
    let upstream = Server::start(&["serve", "127.0.0.1:0", "--reply", "from upstream"]);
    for (unit, msg, want) in [
        ("sockcat-echo", "ping", "ping\n".to_string()),
        ("sockcat-forward", "", "from upstream\n".to_string()),
    ] {
        let dir = env!("CARGO_MANIFEST_DIR");
        let socket = format!("{dir}/contrib/systemd/{unit}.socket");
        let service = format!("{dir}/contrib/systemd/{unit}.service");
        assert_eq!(unit_value(&service, "Type"), "notify");
        let name = unit_value(&socket, "FileDescriptorName");
        let exec = unit_value(&service, "ExecStart");
        let args: Vec<String> = exec
            .strip_prefix("/usr/bin/sockcat ")
            .expect("ExecStart runs /usr/bin/sockcat")
            .split_whitespace()
            .map(|w| w.replace("127.0.0.1:80", upstream.addr()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(args.contains(&format!("systemd:{name}").as_str()), "{exec}");
        let fdname = format!("--fdname={name}");
        let (mut s, port) = activate(&["-l", "127.0.0.1:{port}", &fdname], &args, 1, None);
        let listen = format!("127.0.0.1:{port}");
        let out = run(&["send", &listen, msg], b"");
        out.expect_code(0);
        assert_eq!(out.stdout_str(), want, "{unit}: {}", s.err());
        s.signal(libc::SIGTERM);
        assert_eq!(s.wait(), Some(0), "{unit}");
    }
}
