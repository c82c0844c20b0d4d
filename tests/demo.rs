//! The lesson's demo, byte for byte, on 127.0.0.1 and on ::1.

use crate::util::*;

fn demo(host: &str) {
    let s = Server::start(&["serve", &format!("{host}:0"), "--reply", "connected"]);
    let addr = s.addr().to_string();
    let out = run(&["send", &addr, "hello", "from", "client"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"connected\n", "{out}");
    assert_eq!(out.stderr, "", "{out}");
    s.wait_out("hello from client\n");
    assert_eq!(s.out(), b"hello from client\n");
    let err = s.err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], format!("listening on tcp {addr}"));
    let peer = lines[1].strip_prefix("got connection from ").expect(&err);
    assert!(peer.starts_with(&host.replace(":0", "")), "{peer}");
}

#[test]
fn demo_on_ipv4() {
    demo("127.0.0.1");
}

#[test]
fn demo_on_ipv6() {
    demo("[::1]");
}

#[test]
fn localhost_binds_both_loopbacks_with_one_port() {
    let s = Server::start_with(
        &["serve", "localhost:0", "--reply", "connected"],
        Opts {
            ready_lines: 2,
            ..Opts::default()
        },
    );
    assert!(s.addrs[0].starts_with("127.0.0.1:"), "{:?}", s.addrs);
    assert!(s.addrs[1].starts_with("[::1]:"), "{:?}", s.addrs);
    assert_eq!(s.addrs[0].rsplit(':').next(), s.addrs[1].rsplit(':').next());
    for a in &s.addrs {
        let out = run(&["send", a, "hi"], b"");
        out.expect_code(0);
        assert_eq!(out.stdout, b"connected\n");
    }
    // The client tries each address localhost names.
    let out = run(&["send", &format!("localhost:{}", s.port()), "hi"], b"");
    assert_eq!(out.stdout, b"connected\n", "{out}");
}

#[test]
fn send_streams_stdin_without_words() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo"]);
    let out = run(&["send", s.addr()], b"line one\nline two\n");
    out.expect_code(0);
    assert_eq!(out.stdout, b"line one\nline two\n");
}

#[test]
fn send_n_drops_the_newline() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo"]);
    let out = run(&["send", s.addr(), "-n", "no", "newline"], b"");
    assert_eq!(out.stdout, b"no newline", "{out}");
}

#[test]
fn closed_stdout_ends_quietly() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo"]);
    let data = "x\n".repeat(200_000);
    // `sh -c '… | head -1'`: the reader goes away after one line.
    let cmd = format!(
        "{} send {} --file /dev/stdin | head -c 2 >/dev/null; echo ${{PIPESTATUS[0]}}",
        sh_quote(BIN),
        s.addr()
    );
    let mut child = std::process::Command::new("bash")
        .args(["-c", &cmd])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(data.as_bytes());
    });
    let status = wait_child(&mut child, T);
    let _ = feeder.join();
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success());
    assert_eq!(out.trim(), "0", "send's exit code; stderr: {err}");
    assert_eq!(err, "");
}

/// netcat's `HOST PORT`: the port is part of the address, not the message.
#[test]
fn send_takes_the_netcat_host_port_form() {
    let mut s = Server::start(&["serve", "127.0.0.1:0", "--once", "--reply", "hi"]);
    let port = s.port().to_string();
    let out = run(&["send", "127.0.0.1", &port, "from", "netcat"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(s.wait(), Some(0));
    assert_eq!(s.out(), b"from netcat\n");
}

/// The most common netcat habit of all: `nc -nvz host port`.
#[test]
fn the_nvz_probe_habit_works() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--reply", "x"]);
    let port = s.port().to_string();
    run(&["send", "-nvz", "127.0.0.1", &port], b"").expect_code(0);
    let closed = closed_port().to_string();
    run(&["send", "-nvz", "127.0.0.1", &closed], b"").expect_code(1);
}
