//! The PROXY protocol's client side: `send --send-proxy` and `--forward
//! --send-proxy` in every model, and nginx's proxy_protocol listener
//! behind a forward.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::handlers::MODELS;
use crate::util::*;

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
fn flags_that_do_not_fit_are_refused() {
    let bad: [&[&str]; 2] = [
        &[
            "serve",
            "127.0.0.1:0",
            "--forward",
            "udp://127.0.0.1:9",
            "--send-proxy",
            "v1",
        ],
        &["send", "udp://127.0.0.1:9", "--send-proxy", "v1"],
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
                "--forward",
                &format!("127.0.0.1:{port}"),
                "--send-proxy",
                version,
            ]);
            let req = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
            let out = run(&["send", f.addr(), "-n", req], b"");
            assert!(
                out.stdout_str().contains("client=127.0.0.1:"),
                "{model} {version}\n{out}\n{}",
                f.err()
            );
        }
    }
}
