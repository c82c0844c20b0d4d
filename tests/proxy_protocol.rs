//! The PROXY protocol: `send --send-proxy` and `--forward --send-proxy`
//! in front of `--proxy-protocol` servers in every model (the header's
//! client in events, --allow/--deny and SOCKCAT_PEER_*), malformed and
//! untrusted headers refused with one event, and real peers: HAProxy in
//! front of sockcat, nginx's proxy_protocol listener behind it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::handlers::MODELS;
use crate::util::*;

const PEER: &str = "echo peer=$SOCKCAT_PEER_ADDR:$SOCKCAT_PEER_PORT";

/// What a raw client gets back after sending `bytes` (and its FIN).
fn raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

#[test]
fn send_writes_the_header_first() {
    for (version, want) in [
        (
            "v1",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 PORT\r\nhi\n".to_vec(),
        ),
        ("v2", Vec::new()),
    ] {
        let s = Server::start(&["serve", "127.0.0.1:0", "--once", "-q"]);
        let port = s.port().to_string();
        let args = [
            "send",
            s.addr(),
            "--send-proxy",
            version,
            "--proxy-source",
            "192.0.2.7:5555",
            "hi",
        ];
        run(&args, b"").expect_code(0);
        let mut s = s;
        assert_eq!(s.wait(), Some(0));
        let got = s.out();
        if version == "v1" {
            let want = String::from_utf8(want).unwrap().replace("PORT", &port);
            assert_eq!(String::from_utf8_lossy(&got), want);
        } else {
            let mut want =
                b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01".to_vec();
            want.extend_from_slice(&5555u16.to_be_bytes());
            want.extend_from_slice(&s.port().to_be_bytes());
            want.extend_from_slice(b"hi\n");
            assert_eq!(got, want);
        }
    }
}

#[test]
fn a_forward_names_its_client_in_every_model() {
    let dir = TempDir::new();
    for model in MODELS {
        // A TCP client: its address, and the forwarder's port it reached.
        let up = Server::start(&["serve", "127.0.0.1:0", "--once", "-q"]);
        let f = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--forward",
            up.addr(),
            "--send-proxy",
            "v1",
        ]);
        run(&["send", f.addr(), "hi"], b"").expect_code(0);
        up.wait_out("hi\n");
        let got = up.out_str();
        let line = got.lines().next().unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(
            &words[..4],
            ["PROXY", "TCP4", "127.0.0.1", "127.0.0.1"],
            "{model}: {got:?}"
        );
        assert_eq!(words[5], f.port().to_string(), "{model}: {got:?}");
        // A Unix client: version 1's UNKNOWN, version 2's LOCAL.
        for (version, header) in [
            ("v1", b"PROXY UNKNOWN\r\n".to_vec()),
            ("v2", b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00".to_vec()),
        ] {
            let up = Server::start(&["serve", "127.0.0.1:0", "--once", "-q"]);
            let sock = format!(
                "unix:{}",
                dir.path(&format!("{model}-{version}.sock")).display()
            );
            let _f = Server::start(&[
                model,
                &sock,
                "-q",
                "--forward",
                up.addr(),
                "--send-proxy",
                version,
            ]);
            run(&["send", &sock, "hi"], b"").expect_code(0);
            up.wait_out("hi\n");
            assert_eq!(
                up.out(),
                [&header[..], b"hi\n"].concat(),
                "{model} {version}"
            );
        }
    }
}

#[test]
fn send_proxy_names_the_claimed_client_in_every_model() {
    for model in MODELS {
        for version in ["v1", "v2"] {
            let s = Server::start(&[model, "127.0.0.1:0", "--proxy-protocol", "--sh-exec", PEER]);
            let out = run(
                &[
                    "send",
                    s.addr(),
                    "--send-proxy",
                    version,
                    "--proxy-source",
                    "192.0.2.7:5555",
                ],
                b"",
            );
            out.expect_code(0);
            assert_eq!(
                out.stdout_str(),
                "peer=192.0.2.7:5555\n",
                "{model} {version}"
            );
            s.wait_err("got connection from 192.0.2.7:5555");
            // Without --proxy-source: the socket's own address.
            let out = run(&["send", s.addr(), "--send-proxy", version, "-n"], b"");
            assert!(
                out.stdout_str().starts_with("peer=127.0.0.1:"),
                "{model}\n{out}"
            );
        }
    }
}

#[test]
fn a_unix_server_takes_the_header_too() {
    let dir = TempDir::new();
    for model in MODELS {
        let sock = format!("unix:{}", dir.path(&format!("{model}.sock")).display());
        let s = Server::start(&[model, &sock, "--proxy-protocol", "--sh-exec", PEER]);
        for version in ["v1", "v2"] {
            let args = [
                "send",
                &sock,
                "--send-proxy",
                version,
                "--proxy-source",
                "192.0.2.7:5555",
            ];
            let out = run(&args, b"");
            assert_eq!(
                out.stdout_str(),
                "peer=192.0.2.7:5555\n",
                "{model} {version}\n{out}"
            );
            // No claim: UNKNOWN (v1), LOCAL (v2): the socket's own peer.
            let out = run(&["send", &sock, "--send-proxy", version], b"");
            assert_eq!(out.stdout_str(), "peer=:\n", "{model} {version}\n{out}");
        }
        assert!(!s.err().contains("refused"), "{}", s.err());
    }
}

#[test]
fn a_forward_passes_the_client_on_before_tls() {
    // send claims 192.0.2.7; the forwarder takes it from the header and
    // names it in its own header to a TLS upstream that reads it first.
    for model in MODELS {
        let up = Server::start(&[
            model,
            "tls://127.0.0.1:0",
            "--proxy-protocol",
            "--sh-exec",
            PEER,
        ]);
        let up_addr = format!("tls://{}", up.addr());
        let f = Server::start(&[
            model,
            "127.0.0.1:0",
            "--proxy-protocol",
            "--forward",
            &up_addr,
            "--insecure",
            "--send-proxy",
            "v2",
        ]);
        let out = run(
            &[
                "send",
                f.addr(),
                "--send-proxy",
                "v1",
                "--proxy-source",
                "192.0.2.7:5555",
            ],
            b"",
        );
        assert_eq!(
            out.stdout_str(),
            "peer=192.0.2.7:5555\n",
            "{model}\n{out}\n{}",
            up.err()
        );
    }
}

#[test]
fn malformed_headers_are_refused_with_one_event_in_every_model() {
    let cases: [(&str, &[u8], &str); 5] = [
        ("no header", b"hello\r\n", "no PROXY protocol signature"),
        (
            "truncated",
            b"PROXY TCP4 1.2.3.4",
            "ended inside its PROXY protocol header",
        ),
        (
            "bad v1",
            b"PROXY TCP4 1.2.3.4 ::1 1 2\r\nx",
            "malformed PROXY protocol header",
        ),
        ("oversize", &[b'P'; 1][..], ""),
        (
            "bad v2",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff",
            "too long",
        ),
    ];
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(300, b'x');
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--proxy-protocol", "--echo"]);
        for (name, bytes, why) in cases {
            let (bytes, why) = match name {
                "oversize" => (&long[..], "too long"),
                _ => (bytes, why),
            };
            let before = s.err().matches("refused").count();
            let got = raw(s.addr(), bytes);
            assert!(got.is_empty(), "{model} {name}: {got:?}");
            s.wait_err(why);
            wait_until("one refusal", T, || {
                s.err().matches("refused").count() == before + 1
            });
        }
        // No panic, no connection event, and still serving.
        let out = run(&["send", s.addr(), "--send-proxy", "v1", "ok"], b"");
        assert_eq!(out.stdout_str(), "ok\n", "{model}");
        assert!(!s.err().contains("panick"), "{}", s.err());
        assert_eq!(s.err().matches("got connection").count(), 1, "{}", s.err());
    }
}

#[test]
fn a_silent_client_is_refused_at_the_header_deadline() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--proxy-protocol",
            "--echo",
            "--idle-timeout",
            "300ms",
        ]);
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let began = Instant::now();
        let mut buf = [0u8; 16];
        let n = c.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "{model}");
        assert!(began.elapsed() < Duration::from_secs(5), "{model}");
        s.wait_err("no PROXY protocol header in time");
    }
}

#[test]
fn untrusted_sources_and_access_rules() {
    for model in MODELS {
        // Only 10.0.0.0/8 may send the header: loopback is refused.
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--proxy-protocol",
            "--proxy-from",
            "10.0.0.0/8",
            "--echo",
        ]);
        let out = run(&["send", s.addr(), "--send-proxy", "v1", "x"], b"");
        assert_eq!(out.stdout_str(), "", "{model}");
        s.wait_err("(not a --proxy-from source)");
        // --deny applies to the client the header names (and its closing
        // line names it too).
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-v",
            "--proxy-protocol",
            "--deny",
            "192.0.2.0/24",
            "--echo",
        ]);
        let out = run(
            &[
                "send",
                s.addr(),
                "--send-proxy",
                "v2",
                "--proxy-source",
                "192.0.2.9:1",
                "x",
            ],
            b"",
        );
        assert_eq!(out.stdout_str(), "", "{model}");
        s.wait_err("refused 192.0.2.9:1 (access list)");
        s.wait_err("closed 192.0.2.9:1:");
        let out = run(
            &[
                "send",
                s.addr(),
                "--send-proxy",
                "v2",
                "--proxy-source",
                "198.51.100.1:1",
                "x",
            ],
            b"",
        );
        assert_eq!(out.stdout_str(), "x\n", "{model}");
    }
}

#[test]
fn flags_that_do_not_fit_are_refused() {
    let bad: [&[&str]; 4] = [
        &["serve", "udp://127.0.0.1:0", "--proxy-protocol"],
        &[
            "serve",
            "127.0.0.1:0",
            "--forward",
            "udp://127.0.0.1:9",
            "--send-proxy",
            "v1",
        ],
        &["send", "udp://127.0.0.1:9", "--send-proxy", "v1"],
        &[
            "serve",
            "127.0.0.1:0",
            "--proxy-protocol",
            "--proxy-from",
            "nope",
        ],
    ];
    for args in bad {
        let out = run(args, b"");
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
    }
}

/// A port free now (bound to port 0 and released): for a program that
/// cannot report the port it bound. A collision makes the caller retry.
fn free_local_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills and reaps a peer program when the test ends.
struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn haproxy_in_front_of_every_model() {
    if !needs(&["haproxy"]) {
        return;
    }
    let dir = TempDir::new();
    for model in MODELS {
        for send_proxy in ["send-proxy", "send-proxy-v2"] {
            let s = Server::start(&[model, "127.0.0.1:0", "--proxy-protocol", "--sh-exec", PEER]);
            let (peer, port) = (0..5)
                .find_map(|_| {
                    let port = free_local_port();
                    let cfg = dir.path(&format!("{model}-{send_proxy}.cfg"));
                    std::fs::write(
                        &cfg,
                        format!(
                            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 20s\n  \
                             timeout server 20s\nfrontend f\n  bind 127.0.0.2:{port}\n  default_backend b\n\
                             backend b\n  server s {} {send_proxy}\n",
                            s.addr()
                        ),
                    )
                    .unwrap();
                    let cfg = cfg.display().to_string();
                    start_listening_on("haproxy", &["-db", "-f", &cfg], "127.0.0.2", port)
                        .map(|c| (Peer(c), port))
                })
                .expect("haproxy never listened");
            let out = run(
                &[
                    "send",
                    &format!("127.0.0.2:{port}"),
                    "--source",
                    "127.0.0.3",
                    "x",
                ],
                b"",
            );
            drop(peer);
            assert_eq!(
                out.stdout_str(),
                format!("peer=127.0.0.3:{}\n", source_port(&s)),
                "{model} {send_proxy}\n{out}\n{}",
                s.err()
            );
        }
    }
}

/// The client port the server's event named (the client's own, chosen by
/// the kernel: the event is the only place the test learns it).
fn source_port(s: &Server) -> String {
    s.wait_err("got connection from 127.0.0.3:");
    let err = s.err();
    let at = err.find("got connection from 127.0.0.3:").unwrap();
    err[at + "got connection from 127.0.0.3:".len()..]
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// Start `prog` with `args` and wait until it accepts on `host:port`
/// (`None`: it exited, the port was taken; the caller picks another).
fn start_listening_on(
    prog: &str,
    args: &[&str],
    host: &str,
    port: u16,
) -> Option<std::process::Child> {
    let mut child = Command::new(prog)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + T;
    while Instant::now() < end {
        if TcpStream::connect((host, port)).is_ok() {
            return Some(child);
        }
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn nginx_behind_a_forward_sees_the_client() {
    if !needs(&["nginx"]) {
        return;
    }
    let dir = TempDir::new();
    for model in MODELS {
        for version in ["v1", "v2"] {
            let (_nginx, port) = (0..5)
                .find_map(|_| {
                    let port = free_local_port();
                    let conf = dir.path(&format!("nginx-{model}-{version}.conf"));
                    let prefix = dir.0.display().to_string();
                    std::fs::write(
                        &conf,
                        format!(
                            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx-{port}.pid;\n\
                             error_log {prefix}/nginx-error.log;\nevents {{ worker_connections 64; }}\n\
                             http {{\n  access_log off;\n  client_body_temp_path {prefix};\n  \
                             proxy_temp_path {prefix};\n  fastcgi_temp_path {prefix};\n  uwsgi_temp_path {prefix};\n  \
                             scgi_temp_path {prefix};\n  server {{\n    listen 127.0.0.1:{port} proxy_protocol;\n    \
                             location / {{ return 200 \"client=$proxy_protocol_addr:$proxy_protocol_port\\n\"; }}\n  }}\n}}\n"
                        ),
                    )
                    .unwrap();
                    let conf = conf.display().to_string();
                    start_listening_on("nginx", &["-p", &prefix, "-c", &conf], "127.0.0.1", port)
                        .map(|c| (Peer(c), port))
                })
                .expect("nginx never listened");
            // nginx's own readiness probe above came without a header;
            // the forward's connections carry one.
            let f = Server::start(&[
                model,
                "127.0.0.1:0",
                "--proxy-protocol",
                "--forward",
                &format!("127.0.0.1:{port}"),
                "--send-proxy",
                version,
            ]);
            let req = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
            let out = run(
                &[
                    "send",
                    f.addr(),
                    "--send-proxy",
                    "v1",
                    "--proxy-source",
                    "192.0.2.7:5555",
                    "-n",
                    req,
                ],
                b"",
            );
            assert!(
                out.stdout_str().ends_with("client=192.0.2.7:5555\n"),
                "{model} {version}\n{out}\n{}",
                f.err()
            );
        }
    }
}

/// A Unix socket's header is taken by default only from a balancer running
/// as the server's own user: another local user who may open the socket
/// cannot claim a client (it could before: no uid rule trusted every uid).
#[test]
fn a_unix_server_takes_the_header_only_from_its_own_user_by_default() {
    if !needs_root() || !needs(&["setpriv"]) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = copy_of_binary(&dir);
    let uid = lone_uid();
    for model in MODELS {
        let addr = format!("unix:{}", dir.path(&format!("{model}.sock")).display());
        let s = Server::start(&[
            model,
            &addr,
            "--mode",
            "777",
            "--proxy-protocol",
            "--sh-exec",
            "echo $SOCKCAT_PEER_ADDR",
        ]);
        let claim = ["--send-proxy", "v2", "--proxy-source", "203.0.113.66:4444"];
        // Its own user: taken.
        let out = run(&[&["send", &addr][..], &claim].concat(), b"");
        assert_eq!(out.stdout_str(), "203.0.113.66\n", "{model}: {}", s.err());
        // Another user: refused.
        let other = as_user(uid)
            .arg(&bin)
            .args([&["send", &addr][..], &claim].concat())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(other.stdout.is_empty(), "{model}: {other:?}");
        s.wait_err("(not a --proxy-from source)");
    }
}
