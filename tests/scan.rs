//! `send -z HOST PORTS`: port scans on loopback (issue 13, item 3).

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::util::*;

/// A loopback port that swallows SYNs: a listener whose accept queue is
/// full and that never accepts. Returns it, its fillers, and its port.
fn blackhole() -> (socket2::Socket, Vec<TcpStream>, u16) {
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    l.listen(0).unwrap();
    let a = l.local_addr().unwrap().as_socket().unwrap();
    let fillers = (0..8)
        .filter_map(|_| TcpStream::connect_timeout(&a, Duration::from_millis(200)).ok())
        .collect();
    (l, fillers, a.port())
}

#[test]
fn a_scan_reports_each_port_in_order() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q"]);
    let p = s.port();
    let spec = format!("{}-{}", p - 1, p + 1);
    let out = run(&["send", "-nvz", "127.0.0.1", &spec], b"");
    out.expect_code(1);
    // Our port is open; its neighbours are most likely closed, but could
    // be some other program's: only ours is sure, and the order.
    let got = out.stdout_str();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[1], format!("127.0.0.1:{p} open"), "{out}");
    assert!(
        lines[0].starts_with(&format!("127.0.0.1:{} ", p - 1)),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!("127.0.0.1:{} ", p + 1)),
        "{out}"
    );
    // The HOST:PORTS form, and a list, all open: 0.
    let t = Server::start(&["serve", "127.0.0.1:0", "-q"]);
    let list = format!("127.0.0.1:{},{}", p, t.port());
    let out = run(&["send", "-z", &list], b"");
    out.expect_code(0);
    assert_eq!(out.stdout_str().lines().count(), 2, "{out}");
    // One port: the same line (issue 21, item 4).
    let out = run(&["send", "-z", "127.0.0.1", &p.to_string()], b"");
    out.expect_code(0);
    assert_eq!(out.stdout_str(), format!("127.0.0.1:{p} open\n"), "{out}");
    // JSON lines on stdout, with the host and the port apart.
    let out = run(&["send", "-z", "--log-format", "json", &list], b"");
    out.expect_code(0);
    let ports: Vec<u64> = out
        .stdout_str()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["event"], "port");
            assert_eq!(v["state"], "open");
            assert_eq!(v["host"], "127.0.0.1", "{v}");
            v["port"].as_u64().unwrap()
        })
        .collect();
    let mut want = vec![u64::from(p), u64::from(t.port())];
    want.sort_unstable();
    assert_eq!(ports, want, "{out}");
}

/// Issue 21, item 4: one port and many print one format, on stdout:
/// `ADDR STATE` (or a JSON `port` event) for each; `--open` keeps only
/// the open ports; `-q` prints none; the exit status is as before (0 when
/// every port is open, 1 when one is not, 124 for a silent UDP port).
#[test]
fn one_port_or_many_one_format_on_stdout() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q"]);
    let p = s.port();
    let closed = closed_port();
    let open_line = format!("127.0.0.1:{p} open\n");
    let closed_line = format!("127.0.0.1:{closed} closed\n");
    let (one_open, one_closed) = (format!("127.0.0.1:{p}"), format!("127.0.0.1:{closed}"));
    let both = format!("127.0.0.1:{p},{closed}");
    // (arguments, exit code, stdout); every case once with the port(s) in
    // HOST:PORT form, which is what the scan and the probe share.
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (vec!["-z", &one_open], 0, open_line.clone()),
        (vec!["-z", &one_closed], 1, closed_line.clone()),
        (vec!["-z", "--open", &one_open], 0, open_line.clone()),
        (vec!["-z", "--open", &one_closed], 1, String::new()),
        (vec!["-z", "-q", &one_open], 0, String::new()),
        (vec!["-z", "-q", &one_closed], 1, String::new()),
        (
            vec!["-z", &both],
            1,
            if p < closed {
                format!("{open_line}{closed_line}")
            } else {
                format!("{closed_line}{open_line}")
            },
        ),
        (vec!["-z", "--open", &both], 1, open_line.clone()),
        (vec!["-z", "-q", &both], 1, String::new()),
    ];
    for (args, code, want) in cases {
        let mut all = vec!["send"];
        all.extend(args.iter().copied());
        let out = run(&all, b"");
        out.expect_code(code);
        assert_eq!(out.stdout_str(), want, "{args:?}: {out}");
    }
    // A refused probe of one port is said by its line alone, as in a scan
    // (-q silences all of it); a proxy that cannot be reached is no answer
    // about the port: an error line, and why on stderr.
    let out = run(&["send", "-z", &one_closed], b"");
    assert_eq!(out.stderr, "", "{out}");
    let gone = format!("socks5://127.0.0.1:{}", closed_port());
    let out = run(&["send", "-z", "--proxy", &gone, &one_closed], b"");
    out.expect_code(1);
    assert!(out.stdout_str().contains(" error (proxy "), "{out}");
    assert!(out.stderr.contains("Connection refused"), "{out}");
    // A silent port: filtered, after the time it was given (124, as before).
    let (_l, _f, hole) = blackhole();
    let out = run(
        &[
            "send",
            "-z",
            "--connect-timeout",
            "300ms",
            &format!("127.0.0.1:{hole}"),
        ],
        b"",
    );
    out.expect_code(124);
    assert!(
        out.stdout_str()
            .starts_with(&format!("127.0.0.1:{hole} filtered (no answer in ")),
        "{out}"
    );

    // JSON: the probe's event is the scan's, on stdout.
    let out = run(
        &[
            "send",
            "-z",
            "--log-format",
            "json",
            "localhost",
            &p.to_string(),
        ],
        b"",
    );
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(
        (&v["event"], &v["transport"], &v["state"]),
        (&"port".into(), &"tcp".into(), &"open".into()),
        "{v}"
    );
    assert_eq!(
        (&v["host"], v["port"].as_u64()),
        (&"localhost".into(), Some(u64::from(p))),
        "{v}"
    );
    let out = run(&["send", "-z", "--log-format", "json", &one_closed], b"");
    out.expect_code(1);
    let v: serde_json::Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(
        (&v["state"], v["port"].as_u64()),
        (&"closed".into(), Some(u64::from(closed))),
        "{v}"
    );

    // A Unix socket: the same line, and `socket_path` in JSON.
    let dir = TempDir::new();
    let path = dir.path("s.sock");
    let unix = format!("unix:{}", path.display());
    let _u = Server::start(&["serve", &unix, "-q"]);
    let out = run(&["send", "-z", &unix], b"");
    out.expect_code(0);
    assert_eq!(
        out.stdout_str(),
        format!("{} open\n", path.display()),
        "{out}"
    );
    let out = run(&["send", "-z", "--log-format", "json", &unix], b"");
    let v: serde_json::Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(v["socket_path"], path.to_str().unwrap(), "{v}");
    assert_eq!(v["transport"], "unix", "{v}");

    // UDP, one port: closed, and silent (open|filtered, 124), as lines.
    let quiet = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let quiet_port = quiet.local_addr().unwrap().port();
    let out = run(&["send", "-z", &format!("udp://{one_closed}")], b"");
    out.expect_code(1);
    assert_eq!(out.stdout_str(), closed_line, "{out}");
    let out = run(
        &[
            "send",
            "-z",
            "--wait",
            "200ms",
            &format!("udp://127.0.0.1:{quiet_port}"),
        ],
        b"",
    );
    out.expect_code(124);
    assert_eq!(
        out.stdout_str(),
        format!(
            "127.0.0.1:{quiet_port} open|filtered (no answer in 200ms; UDP cannot tell which)\n"
        ),
        "{out}"
    );

    // --open means nothing without -z: a usage error, one line.
    for args in [
        vec!["send", "--open", &one_open, "x"],
        vec!["send", "-z", "--open", "--count", "2", &one_open],
    ] {
        let out = run(&args, b"");
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        assert!(
            out.stderr.contains("--open shows only the open ports"),
            "{out}"
        );
    }
}

#[test]
fn a_silent_port_is_filtered_and_the_deadline_ends_the_scan() {
    let (_l, _f, hole) = blackhole();
    let s = Server::start(&["serve", "127.0.0.1:0", "-q"]);
    let spec = format!("127.0.0.1:{},{}", s.port(), hole);
    let t0 = Instant::now();
    let out = run(&["send", "-z", "--connect-timeout", "300ms", &spec], b"");
    out.expect_code(1);
    assert!(
        out.stdout_str()
            .contains(&format!("127.0.0.1:{hole} filtered (no answer in 300ms)")),
        "{out}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));

    // One at a time, each allowed 5s, the whole scan 400ms: the deadline
    // comes first.
    let (_l2, _f2, hole2) = blackhole();
    let spec = format!("127.0.0.1:{hole},{hole2}");
    let t0 = Instant::now();
    let out = run(
        &[
            "send",
            "-z",
            "--concurrency",
            "1",
            "--connect-timeout",
            "5s",
            "--scan-timeout",
            "400ms",
            &spec,
        ],
        b"",
    );
    out.expect_code(124);
    assert!(out.stderr.contains("deadline"), "{out}");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

/// Issue 19, item 10: a port list is ranges, merged, not a list expanded
/// before any bound applies. A thousand copies of 1-65535 once took a
/// minute of CPU before the first probe, and `--scan-timeout` had not
/// started; now the deadline ends the scan on time.
#[test]
fn a_huge_port_list_is_bounded_by_the_scan_deadline() {
    let spec = vec!["1-65535"; 1000].join(",");
    let t0 = Instant::now();
    // One probe at a time: 65,535 of them take far longer than 100ms.
    let out = run(
        &[
            "send",
            "-z",
            "--concurrency",
            "1",
            "--scan-timeout",
            "100ms",
            "127.0.0.1",
            &spec,
        ],
        b"",
    );
    let took = t0.elapsed();
    out.expect_code(124);
    assert!(out.stderr.contains("deadline (100ms) came first"), "{out}");
    assert!(out.stderr.contains("of 65535 ports not probed"), "{out}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // What was probed came from the start of the one merged range, once each.
    let got = out.stdout_str();
    for (i, line) in got.lines().enumerate() {
        assert!(line.starts_with(&format!("127.0.0.1:{} ", i + 1)), "{line}");
    }
}

/// Overlapping, repeated and unordered ranges probe each port once, in
/// ascending order.
#[test]
fn overlapping_ranges_probe_each_port_once_in_order() {
    let a = Server::start(&["serve", "127.0.0.1:0", "-q"]);
    let b = Server::start(&["serve", "127.0.0.1:0", "-q"]);
    let (lo, hi) = (a.port().min(b.port()), a.port().max(b.port()));
    let spec = format!("{hi},{lo},{lo}-{lo},{hi},{lo},{hi}-{hi}");
    let out = run(&["send", "-z", "127.0.0.1", &spec], b"");
    out.expect_code(0);
    assert_eq!(
        out.stdout_str(),
        format!("127.0.0.1:{lo} open\n127.0.0.1:{hi} open\n"),
        "{out}"
    );
    // Ranges that overlap: the neighbours of `lo`, each once.
    let spec = format!("{}-{},{lo}-{},{}-{lo}", lo + 1, lo + 2, lo + 1, lo - 1);
    let out = run(&["send", "-z", "127.0.0.1", &spec], b"");
    let ports: Vec<u16> = out
        .stdout_str()
        .lines()
        .map(|l| {
            l.split(' ')
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(ports, [lo - 1, lo, lo + 1, lo + 2], "{out}");
    assert!(
        out.stdout_str().contains(&format!("127.0.0.1:{lo} open")),
        "{out}"
    );
}

#[test]
fn udp_scans_say_what_they_can_tell() {
    let echo = Server::start(&["serve", "-u", "127.0.0.1:0", "--echo", "-q"]);
    let closed = {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.local_addr().unwrap().port()
    };
    let spec = format!("{},{closed}", echo.port());
    let out = run(&["send", "-u", "-z", "127.0.0.1", &spec], b"");
    out.expect_code(1);
    let got = out.stdout_str();
    assert!(
        got.contains(&format!("127.0.0.1:{} open", echo.port())),
        "{out}"
    );
    assert!(got.contains(&format!("127.0.0.1:{closed} closed")), "{out}");
}

#[test]
fn scan_options_are_checked() {
    let out = run(&["send", "localhost", "20-30"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("needs -z"), "{out}");
    run(&["send", "--scan-timeout", "1s", "127.0.0.1:1", "x"], b"").expect_code(2);
    run(&["send", "--concurrency", "4", "127.0.0.1:1", "x"], b"").expect_code(2);
    run(&["send", "-z", "127.0.0.1", "30-20"], b"").expect_code(2);
    // Words after `--` are a message, which a scan does not send.
    let out = run(&["send", "-z", "127.0.0.1", "20-30", "--", "-v"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("drop the words '-v'"), "{out}");
}

/// Options after a scan's ports are options (issue 21, item 2; before,
/// they were refused as a message).
#[test]
fn scan_options_may_follow_the_ports() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let closed = closed_port();
    let ports = format!("{open},{closed}");
    let out = run(
        &[
            "send",
            "-z",
            "127.0.0.1",
            &ports,
            "--connect-timeout",
            "5s",
            "--log-format",
            "json",
        ],
        b"",
    );
    let got = out.stdout_str();
    assert!(got.contains("\"state\":\"open\""), "{out}");
    assert!(got.contains("\"state\":\"closed\""), "{out}");
}

/// Happy Eyeballs (issue 13, item 4): `localhost` is ::1 and 127.0.0.1; a
/// first address that swallows SYNs costs about 250 ms before the second
/// is tried beside it, not the connect timeout.
#[test]
fn happy_eyeballs_reaches_the_second_address_quickly() {
    let s = Server::start(&["serve", "127.0.0.1:0", "--once", "--reply", "v4"]);
    let port = s.port();
    // The same port on ::1, with a full accept queue: SYNs are dropped.
    let hole = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
    hole.set_only_v6(true).unwrap();
    hole.bind(&SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port)).into())
        .unwrap();
    hole.listen(0).unwrap();
    let a = SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port));
    let _fillers: Vec<TcpStream> = (0..8)
        .filter_map(|_| TcpStream::connect_timeout(&a, Duration::from_millis(200)).ok())
        .collect();
    let t0 = Instant::now();
    let out = run(
        &[
            "send",
            "--connect-timeout",
            "10s",
            &format!("localhost:{port}"),
            "hi",
        ],
        b"",
    );
    let took = t0.elapsed();
    out.expect_code(0);
    assert_eq!(out.stdout, b"v4\n");
    assert!(
        took >= Duration::from_millis(200),
        "{took:?}: ::1 was not tried first"
    );
    assert!(
        took < Duration::from_secs(4),
        "{took:?}: waited for the first address"
    );
}

/// And for `--forward`'s upstream, in every model: `localhost` with ::1
/// swallowing SYNs reaches 127.0.0.1 about 250 ms later.
#[test]
fn happy_eyeballs_for_the_forward_upstream() {
    let up = Server::start(&["serve", "127.0.0.1:0", "--echo", "-q"]);
    let port = up.port();
    let a = SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port));
    let hole = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
    hole.set_only_v6(true).unwrap();
    hole.bind(&a.into()).unwrap();
    hole.listen(0).unwrap();
    let _fillers: Vec<TcpStream> = (0..8)
        .filter_map(|_| TcpStream::connect_timeout(&a, Duration::from_millis(200)).ok())
        .collect();
    let target = format!("localhost:{port}");
    for model in crate::handlers::MODELS {
        let f = Server::start(&[model, "127.0.0.1:0", "-q", "--forward", &target]);
        let t0 = Instant::now();
        assert_eq!(
            crate::handlers::exchange(f.addr(), b"eyeballs\n"),
            b"eyeballs\n",
            "{model}"
        );
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(200), "{model}: {took:?}");
        assert!(took < Duration::from_secs(4), "{model}: {took:?}");
    }
}

/// A connect from a port to itself (TCP's simultaneous open, which a
/// loopback connect to a free port in the ephemeral range can land on) is
/// not a listener: `send` and a probe call it refused, not an exchange with
/// itself or an open port. `--source` makes it happen every time.
#[test]
fn a_connection_to_itself_is_refused() {
    let port = closed_port().to_string();
    let src = format!("127.0.0.1:{port}");
    let out = run(&["send", "--source", &src, &src, "hi"], b"");
    out.expect_code(1);
    assert!(out.stdout.is_empty(), "{out}");
    assert!(out.stderr.contains("refused"), "{out}");
    let out = run(&["send", "-z", "--source", &src, &src], b"");
    out.expect_code(1);
    assert_eq!(out.stdout_str(), format!("{src} closed\n"), "{out}");
}

/// A probe's line is one line whatever the socket path holds: a newline
/// in it is escaped, as in events.
#[test]
fn a_probed_path_with_a_newline_is_one_line() {
    let dir = TempDir::new();
    let path = dir.path("a\nb.sock");
    let addr = format!("unix:{}", path.display());
    let _s = Server::start(&["serve", &addr, "--echo"]);
    let out = run(&["send", "-z", &addr], b"");
    out.expect_code(0);
    let shown = path.display().to_string().replace('\n', "\\x0a");
    assert_eq!(out.stdout_str(), format!("{shown} open\n"), "{out}");
}
