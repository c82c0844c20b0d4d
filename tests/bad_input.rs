//! Bad input gets one line, `sockcat: error: …`, the documented exit code,
//! and never a panic.

use crate::util::*;

fn check(args: &[&str], code: i32, needle: &str) {
    let out = run(args, b"");
    assert_eq!(out.code, Some(code), "{out}");
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"),
        "{out}"
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want exactly one line\n{out}");
    assert!(lines[0].starts_with("sockcat: error: "), "{out}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{needle:?} missing\n{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "host:"], "missing port"),
        (&["serve", ":99999"], "port 99999 is too large"),
        (&["serve", "[::1"], "missing ']'"),
        (&["serve", ""], "empty address"),
        (&["send", "ftp://example.org:21", "x"], "unknown scheme"),
        (&["send", "127.0.0.1:abc", "x"], "invalid port 'abc'"),
        (&["send", "::1:80", "x"], "brackets"),
        (
            &["serve", "--idle-timeout", "5 parsecs"],
            "invalid duration",
        ),
        (&["send", "--wait", "soon", ":1"], "invalid duration"),
        (
            &["serve", "--echo", "--control", "/tmp/never-made.sock"],
            "--control changes the faults of forwarded connections: it needs --forward ADDR",
        ),
        // Every fault flag's bad value: the flag, the value, what it takes.
        (
            &["serve", "--forward", ":9", "--reset-after", "0s"],
            "'--reset-after <BYTES|DUR>': invalid '0s': a time must be longer than 0s",
        ),
        (
            &["serve", "--forward", ":9", "--reset-after", "soon"],
            "'--reset-after <BYTES|DUR>': invalid 'soon': expected bytes",
        ),
        (
            &[
                "serve",
                "--forward",
                ":9",
                "--slow-close",
                "999999999999999999999999s",
            ],
            "'--slow-close <DUR>': invalid duration '999999999999999999999999s': expected a time such as 500ms",
        ),
        (
            &["serve", "--forward", ":9", "--slow-close", "0s"],
            "'--slow-close <DUR>': invalid duration '0s': must be longer than 0s",
        ),
        (
            &["serve", "--forward", ":9", "--delay", "1s~soon"],
            "'--delay <DUR[~JITTER]>': invalid duration 'soon': expected a time",
        ),
        (
            &["serve", "--forward", ":9", "--delay", "0s"],
            "'--delay <DUR[~JITTER]>': invalid delay '0s': must be longer than 0s",
        ),
        (
            &["serve", "--forward", ":9", "--slice", "1k/soon"],
            "'--slice <BYTES[/DUR]>': invalid duration 'soon': expected a time",
        ),
        (
            &["serve", "--forward", ":9", "--slice", "0"],
            "'--slice <BYTES[/DUR]>': invalid slice '0': must be more than 0",
        ),
        (
            &["serve", "--forward", ":9", "--blackhole=2 years"],
            "'--blackhole[=<DUR>]': invalid duration '2 years': expected a time",
        ),
        (
            &["serve", "--forward", ":9", "--rate", "fast"],
            "'--rate <RATE[:BURST]>': invalid rate 'fast': expected bytes",
        ),
        (
            &["serve", "--forward", ":9", "--cut-after", "lots"],
            "'--cut-after <BYTES>': invalid byte count 'lots'",
        ),
        (
            &["serve", "--forward", ":9", "--refuse", "1.5"],
            "'--refuse <F>': invalid fraction '1.5': expected a number from 0 to 1",
        ),
        (
            &["serve", "--forward", ":9", "--loss", "lots"],
            "'--loss <P>': invalid fraction 'lots'",
        ),
        (
            &["serve", "--forward", ":9", "--rate", "1k", "--seed", "x"],
            "'--seed <N>': invalid seed 'x': expected a whole number",
        ),
        (&["serve", "--echo", "--discard"], "cannot be used with"),
        (
            &["serve", "--reply", "x", "--exec", "cat"],
            "cannot be used with",
        ),
        (&["serve", "--broker", "--echo"], "cannot be used with"),
        // An upstream's flag beside another handler would do nothing.
        (
            &["serve", "--echo", "--connect-timeout", "5s"],
            "--connect-timeout is about the upstream connection: it needs --forward",
        ),
        (
            &["fork-serve", "--reply", "x", "--half-close-timeout", "1s"],
            "--half-close-timeout is about the upstream",
        ),
        (
            &[
                "thread-serve",
                "--proxy",
                "socks5://127.0.0.1:1",
                "--exec",
                "cat",
            ],
            "--proxy is about the upstream",
        ),
        (
            &["serve", "--discard", "--cacert", "/etc/hostname"],
            "--cacert is about the upstream",
        ),
        (&["serve", "--echo", "--pin", "sha256:00"], "--pin is about"),
        (&["serve", "--echo", "--insecure"], "--insecure is about"),
        (&["serve", "--echo", "--sni", "x"], "--sni is about"),
        (
            &["serve", "--echo", "--send-proxy", "v1"],
            "--send-proxy is about",
        ),
        (&["serve", "--no-such-flag"], "unexpected argument"),
        (&["frobnicate"], "unrecognized subcommand"),
        (&["serve", "--count", "0"], "invalid value"),
        (&["serve", "--count", "many"], "invalid value"),
        (
            &["fork-serve", "--max-children", "-3"],
            "unexpected argument",
        ),
        (&["serve", "--backlog", "0"], "invalid value"),
        (&["serve", "--mode", "999", "unix:/tmp/x"], "invalid mode"),
        (
            &["serve", "--allow", "300.1.1.1/8", "127.0.0.1:0"],
            "invalid CIDR",
        ),
        (
            &["serve", "--deny", "::1/200", "127.0.0.1:0"],
            "invalid CIDR",
        ),
        (&["serve", "-4", "-6"], "cannot be used with"),
        (&["send", "-u", "tcp://127.0.0.1:5", "x"], "-u conflicts"),
        (
            &["serve", &format!("unix:/tmp/{}", "x".repeat(120))],
            "too long",
        ),
        (&["send", "--concurrency", "4", ":1"], "load mode"),
        (
            &["serve", "--broker", "udp://127.0.0.1:0"],
            "--broker relays between connections",
        ),
        // Issue 19, item 12: ports a client cannot use, and --mode's bits.
        (
            &["send", "-z", "127.0.0.1", "65536"],
            "port 65536 is too large (the largest is 65535)",
        ),
        (
            &["send", "-z", "127.0.0.1", "0"],
            "127.0.0.1:0: port 0 is not a port to connect to",
        ),
        (
            &["send", "-z", "127.0.0.1", "0-10"],
            "port 0 in '0-10' is not a port to connect to",
        ),
        (
            &["send", "-z", "127.0.0.1", "1-65536"],
            "port 65536 in '1-65536' is too large",
        ),
        (
            &["send", "127.0.0.1:0", "x"],
            "port 0 is not a port to connect to",
        ),
        (
            &["serve", "127.0.0.1:0", "--forward", "127.0.0.1:0"],
            "--forward 127.0.0.1:0: a forward connects to its upstream's real port",
        ),
        (
            &[
                "serve",
                "-u",
                "127.0.0.1:0",
                "--forward",
                "udp://127.0.0.1:0",
            ],
            "a forward connects to its upstream's real port",
        ),
        (
            &["serve", "--mode", "7777", "unix:/tmp/x"],
            "only permission bits (000 to 777), not setuid, setgid or sticky bits",
        ),
        (
            &["serve", "--mode", "4755", "unix:/tmp/x"],
            "only permission bits",
        ),
    ];
    for (args, needle) in cases {
        check(args, 2, needle);
    }
}

#[test]
fn runtime_errors_exit_1() {
    let closed = closed_port().to_string();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["send".into(), format!("127.0.0.1:{closed}"), "x".into()],
            "connection refused",
        ),
        (
            vec!["send".into(), "no-such-host.invalid:80".into(), "x".into()],
            "resolve no-such-host.invalid",
        ),
        (
            vec!["serve".into(), format!("127.0.0.1:{busy_port}")],
            "address already in use",
        ),
        (
            vec!["serve".into(), "192.0.2.1:0".into()],
            "bind 192.0.2.1:0",
        ),
        (
            vec![
                "send".into(),
                "unix:/nonexistent/dir/s.sock".into(),
                "x".into(),
            ],
            "no such file",
        ),
        (
            vec![
                "send".into(),
                "--file".into(),
                "/nonexistent/file".into(),
                "127.0.0.1:1".into(),
            ],
            "open /nonexistent/file",
        ),
    ];
    for (args, needle) in &cases {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        check(&a, 1, needle);
    }
}

#[test]
fn help_and_version_exit_0() {
    let out = run(&["--help"], b"");
    out.expect_code(0);
    assert!(out.stdout_str().contains("fork-serve"));
    let out = run(&["--version"], b"");
    out.expect_code(0);
    assert!(out.stdout_str().starts_with("sockcat "));
    // One program name, whichever subcommand is asked.
    for sub in ["serve", "fork-serve", "thread-serve", "send"] {
        let out = run(&[sub, "--version"], b"");
        out.expect_code(0);
        let want = format!("sockcat {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(out.stdout_str(), want, "{sub}");
        // Every address form in the help, the same for every subcommand.
        let help = run(&[sub, "--help"], b"").stdout_str();
        for form in [
            "[V6]:PORT",
            "unix:@NAME",
            "unixgram:PATH",
            "tcp://",
            "udp://",
            "HOST (port 10000)",
        ] {
            assert!(help.contains(form), "{sub} --help lacks {form}");
        }
    }
}

#[test]
fn junk_bytes_do_not_crash_servers() {
    for model in crate::handlers::MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--echo"]);
        let junk: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        assert_eq!(crate::handlers::exchange(s.addr(), &junk), junk);
        // A peer that resets the connection mid-stream.
        {
            let c = std::net::TcpStream::connect(s.addr()).unwrap();
            socket2::SockRef::from(&c)
                .set_linger(Some(std::time::Duration::ZERO))
                .unwrap();
            use std::io::Write;
            (&c).write_all(b"abc").unwrap();
        }
        assert_eq!(
            crate::handlers::exchange(s.addr(), b"still here\n"),
            b"still here\n"
        );
        assert!(!s.err().contains("panicked"));
    }
}

/// netcat's flags get a pointer to the sockcat way, one line, exit 2,
/// naming the subcommand's help (issue 13, item 2); clap's "use '-- -l'"
/// advice never appears.
#[test]
fn netcat_flags_get_a_pointer() {
    let cases: &[(&[&str], &str)] = &[
        (&["-l", "9000"], "run 'sockcat serve 9000'"),
        (&["-lk", "9000"], "run 'sockcat serve 9000'"),
        (&["serve", ":0", "-p", "9000"], "run 'sockcat serve 9000'"),
        (&["send", "-p", "9000", ":1"], "--source :PORT"),
        (&["serve", ":0", "-e", "/bin/cat"], "--exec PROG"),
        (&["serve", ":0", "-c", "cat"], "--sh-exec CMDLINE"),
        (&["serve", ":0", "-w", "3"], "--idle-timeout"),
        (&["send", "-X", "5", ":1"], "--proxy socks5://HOST:PORT"),
        (
            &["send", "-x", "p:1080", ":1"],
            "--proxy socks5://HOST:PORT",
        ),
        (
            &["send", "--proxy-type", "http", ":1"],
            "http://USER:PASS@HOST:PORT",
        ),
        (&["send", "--ssl", ":1"], "tls://HOST:PORT"),
        (&["send", "-o", "f", ":1"], "> FILE"),
        (&["send", "-k", ":1"], "servers"),
        (&["thread-serve", ":0", "-N"], "FIN"),
    ];
    for (args, needle) in cases {
        check(args, 2, needle);
        let out = run(args, b"");
        assert!(!out.stderr.contains("'-- -"), "{out}");
        let sub = ["serve", "thread-serve", "send"]
            .into_iter()
            .find(|s| args.contains(s));
        let help = match sub {
            Some(s) => format!("see 'sockcat {s} --help'"),
            None => "see 'sockcat --help'".to_string(),
        };
        assert!(out.stderr.contains(&help), "{out}");
    }
}

/// Usage errors list the possible values and name what is missing.
#[test]
fn usage_errors_say_what_would_do() {
    check(
        &["serve", "--log-format", "xml"],
        2,
        "possible values: text, json",
    );
    check(&["send", "--concurrency", "4", ":1", "x"], 2, "--count");
    check(
        &["send", "--concurrency", "4", ":1", "x"],
        2,
        "see 'sockcat send --help'",
    );
}

/// Habits that had no pointer (issue 21, item 3): a netcat line with no
/// subcommand, a socket path without `unix:`, nc's `-q SECS`, and `-l`,
/// `-p`, `-e`, `-k` after the subcommand (after the message too, now
/// that options stand anywhere). One line, exit 2, the sockcat way.
#[test]
fn habits_get_a_pointer() {
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["localhost", "9000"],
            "no subcommand: to connect, run 'sockcat send localhost 9000'",
        ),
        (
            vec!["-zv", "127.0.0.1", "20-30"],
            "no subcommand: to probe, run 'sockcat send -zv 127.0.0.1 20-30'",
        ),
        (
            vec!["127.0.0.1:9000", "hi there"],
            "run 'sockcat send 127.0.0.1:9000 \"hi there\"'",
        ),
        (
            vec!["9000"],
            "run 'sockcat send 9000'; to listen on it, 'sockcat serve 9000'",
        ),
        (vec!["localhost", "9000"], "see 'sockcat send --help'"),
        (
            vec!["send", "/tmp/x.sock", "hi"],
            "'/tmp/x.sock' is a path, not a host: a Unix socket is unix:/tmp/x.sock",
        ),
        (
            vec!["send", "-u", "./x.sock", "hi"],
            "a Unix socket is unixgram:./x.sock",
        ),
        (
            vec!["send", "-q", "1", "localhost", "9000"],
            "-q is --quiet, so '1' was taken for the address and 'localhost 9000' for the message; \
             for nc's -q SECS (wait SECS after the input's end), write --hold 1s in its place \
             (to send to port 1, write :1)",
        ),
        (
            vec!["send", "-q", "2", "127.0.0.1:9000", "hi"],
            "write --hold 2s in its place",
        ),
        // nc's -q SECS after the address: the seconds would be the message.
        (
            vec!["send", "localhost", "9000", "-q", "1"],
            "-q is --quiet, so '1' became a word of the message, sent in place of the input; \
             for nc's -q SECS (wait SECS after the input's end), write --hold 1s in its place \
             (to send '1' quietly, put it after --)",
        ),
        (vec!["send", "127.0.0.1:9000", "-q", "0.5"], "--hold 0.5s"),
        (vec!["send", "-l", "9000"], "run 'sockcat serve 9000'"),
        (vec!["send", ":1", "hi", "-l"], "sockcat has no -l"),
        (vec!["send", ":1", "hi", "-k"], "what the servers do"),
        (vec!["send", ":1", "hi", "-e", "cat"], "--exec PROG"),
        (vec!["send", ":1", "hi", "-p", "5"], "--source :PORT"),
    ];
    for model in ["serve", "fork-serve", "thread-serve"] {
        cases.push((
            vec![model, "/tmp/x.sock"],
            "a Unix socket is unix:/tmp/x.sock",
        ));
        cases.push((
            vec![model, ":0", "--forward", "/tmp/x.sock"],
            "--forward: '/tmp/x.sock' is a path",
        ));
        cases.push((vec![model, "-l", "9000"], "a server listens anyway"));
        cases.push((
            vec![model, "-p", "9000"],
            "a server's port is part of its address",
        ));
        cases.push((vec![model, ":0", "-e", "cat"], "--exec PROG"));
    }
    for (args, needle) in &cases {
        check(args, 2, needle);
    }
    // The server pointers name the subcommand written.
    for model in ["serve", "fork-serve", "thread-serve"] {
        check(
            &[model, "-lp", "9000"],
            2,
            &format!("run 'sockcat {model} 9000'"),
        );
    }
    // A bare word is no address: clap's message stands.
    check(&["frobnicate"], 2, "unrecognized subcommand 'frobnicate'");
    // `-q` with the port written whole, or a message that is no address,
    // is --quiet as ever (here: a closed port, exit 1, no pointer).
    let closed = closed_port().to_string();
    let whole = format!("127.0.0.1:{closed}");
    check(
        &["send", "-q", &whole, "localhost", "9000"],
        1,
        "connection refused",
    );
}

/// A port-less name that is also a socket file in the current directory
/// could be either; it is refused with both spellings, in `send` and in
/// every server (issue 21, item 3).
#[test]
fn a_socket_file_named_like_a_host_gets_both_spellings() {
    let dir = TempDir::new();
    let _sock = std::os::unix::net::UnixListener::bind(dir.path("x.sock")).unwrap();
    for args in [
        &["send", "x.sock", "hi"][..],
        &["serve", "x.sock"],
        &["fork-serve", "x.sock"],
        &["thread-serve", "x.sock"],
    ] {
        let mut cmd = sockcat();
        cmd.args(args)
            .current_dir(&dir.0)
            .stdin(std::process::Stdio::null());
        let out = output_within(&mut cmd, T);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(
                "'x.sock' is a socket file here and also a host name without a port: \
                          write unix:x.sock for the socket, or x.sock:10000 for the host"
            ),
            "{args:?}: {err}"
        );
    }
}

/// An unknown option holding a line break is named whole, escaped, on
/// one line (clap's own line would stop at the break and leave the rest
/// on a second line).
#[test]
fn an_unknown_option_with_a_line_break_is_one_line() {
    let out = run(&["send", "127.0.0.1:9", "--bo\ngus"], b"");
    out.expect_code(2);
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr
            .contains("unexpected argument '--bo\\x0agus' found"),
        "{out}"
    );
}
