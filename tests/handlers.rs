//! Every handler under every server model and stream transport: a peer
//! must see the same bytes, in the same half-close order, whichever model
//! serves it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::util::*;

pub const MODELS: [&str; 3] = ["serve", "fork-serve", "thread-serve"];

/// A connected stream client, TCP or Unix.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    pub fn connect(addr: &str) -> Client {
        let c = if let Some(name) = addr.strip_prefix("unix:@") {
            use std::os::linux::net::SocketAddrExt;
            let a = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
            Client::Unix(UnixStream::connect_addr(&a).expect("connect abstract"))
        } else if let Some(p) = addr.strip_prefix("unix:") {
            Client::Unix(UnixStream::connect(p).expect("connect unix"))
        } else {
            let a = addr.trim_start_matches("tcp://");
            Client::Tcp(TcpStream::connect(a).expect("connect tcp"))
        };
        c.set_timeout(T);
        c
    }
    pub fn set_timeout(&self, t: Duration) {
        match self {
            Client::Tcp(s) => s.set_read_timeout(Some(t)).unwrap(),
            Client::Unix(s) => s.set_read_timeout(Some(t)).unwrap(),
        }
    }
    pub fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }
    pub fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(how),
            Client::Unix(s) => s.shutdown(how),
        };
    }
    pub fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Client::Tcp(s) => s.write_all(b),
            Client::Unix(s) => s.write_all(b),
        }
    }
    pub fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(b),
            Client::Unix(s) => s.read(b),
        }
    }
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            Client::Tcp(s) => s.read_to_end(&mut v).expect("read reply"),
            Client::Unix(s) => s.read_to_end(&mut v).expect("read reply"),
        };
        v
    }
}

/// Send `msg`, half-close, read the whole reply until the server's FIN.
/// The write runs on its own thread, so a reply can flow while we send.
pub fn exchange(addr: &str, msg: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(addr);
    let mut w = c.try_clone();
    let msg = msg.to_vec();
    let writer = std::thread::spawn(move || {
        w.write_all(&msg).expect("send");
        w.shutdown(Shutdown::Write);
    });
    let reply = c.read_to_end();
    writer.join().unwrap();
    reply
}

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    /// What the peer receives for `msg`.
    reply: fn(&[u8]) -> Vec<u8>,
    /// Whether the server prints what the peer sent.
    prints: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "print",
        args: &[],
        reply: |_| Vec::new(),
        prints: true,
    },
    Case {
        name: "reply",
        args: &["--reply", "connected"],
        reply: |_| b"connected\n".to_vec(),
        prints: true,
    },
    Case {
        name: "echo",
        args: &["--echo"],
        reply: |m| m.to_vec(),
        prints: false,
    },
    Case {
        name: "discard",
        args: &["--discard"],
        reply: |_| Vec::new(),
        prints: false,
    },
    Case {
        name: "exec",
        args: &["--exec", "cat"],
        reply: |m| m.to_vec(),
        prints: false,
    },
    Case {
        name: "sh-exec",
        args: &["--sh-exec", "read l; echo got $l; cat >/dev/null"],
        reply: |m| {
            let first = m.split(|b| *b == b'\n').next().unwrap();
            [b"got ".as_slice(), first, b"\n"].concat()
        },
        prints: false,
    },
];

fn transports(dir: &TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("tcp4", "127.0.0.1:0".to_string()),
        ("tcp6", "[::1]:0".to_string()),
        ("unix", format!("unix:{}", dir.path("s.sock").display())),
        (
            "unix-abstract",
            format!("unix:@sockcat-test-{}-{}", std::process::id(), rand_tag()),
        ),
    ]
}

fn rand_tag() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn table(model: &str) {
    let short = b"hello from client\n".to_vec();
    // Big enough to fill socket buffers: the reply must still arrive whole
    // after the client's FIN.
    let mut long = b"hello from client\n".to_vec();
    long.extend(random_bytes(1 << 20, 7).iter().map(|b| b'a' + b % 26));
    long.push(b'\n');
    for case in CASES {
        let dir = TempDir::new();
        for (tname, listen) in transports(&dir) {
            let mut args = vec![model, listen.as_str()];
            args.extend_from_slice(case.args);
            let mut s = Server::start(&args);
            let addr = s.addr().to_string();
            let mut printed = Vec::new();
            for msg in [&short, &long] {
                let got = exchange(&addr, msg);
                let want = (case.reply)(msg);
                assert!(
                    got == want,
                    "{model} {tname} {}: reply of {} bytes differs from the {} expected (first bytes {:?})",
                    case.name,
                    got.len(),
                    want.len(),
                    String::from_utf8_lossy(&got[..got.len().min(40)])
                );
                if case.prints {
                    printed.extend_from_slice(msg);
                    wait_until("server output", T, || s.out().len() >= printed.len());
                }
            }
            assert!(
                s.out() == printed,
                "{model} {tname} {}: server stdout differs",
                case.name
            );
            assert_eq!(s.interrupt(), Some(130), "{model} {tname} {}", case.name);
        }
    }
}

#[test]
fn every_handler_under_serve() {
    table("serve");
}

#[test]
fn every_handler_under_fork_serve() {
    table("fork-serve");
}

#[test]
fn every_handler_under_thread_serve() {
    table("thread-serve");
}

#[test]
fn reply_arrives_before_client_half_closes() {
    // The reply is sent at once, not after the peer's FIN.
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--reply", "connected"]);
        let mut c = Client::connect(s.addr());
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"connected\n", "{model}");
        // Our side is still open: the server still reads and prints.
        c.write_all(b"late words\n").unwrap();
        c.shutdown(Shutdown::Write);
        assert_eq!(c.read(&mut buf).unwrap(), 0, "{model}: FIN after the reply");
        s.wait_out("late words\n");
    }
}

#[test]
fn exec_environment_and_missing_program() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "--sh-exec",
            "echo $SOCKCAT_PEER_ADDR $SOCKCAT_LOCAL_ADDR $SOCKCAT_LOCAL_PORT; echo ${SOCKCAT_PEER_PORT:+port}",
        ]);
        let got = String::from_utf8(exchange(s.addr(), b"")).unwrap();
        assert_eq!(
            got,
            format!("127.0.0.1 127.0.0.1 {}\nport\n", s.port()),
            "{model}"
        );

        // A program that cannot be found is a usage error at start.
        let out = run(
            &[model, "127.0.0.1:0", "--exec", "/nonexistent/program"],
            b"",
        );
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
        assert!(out.stderr.contains("/nonexistent/program"), "{out}");
        let out = run(
            &[model, "127.0.0.1:0", "--exec", "no-such-program-here"],
            b"",
        );
        out.expect_code(2);
        assert!(out.stderr.contains("no such program in PATH"), "{out}");

        // One that goes away after the start fails per connection, and the
        // server goes on serving.
        let dir = TempDir::new();
        let prog = dir.path("prog");
        std::fs::write(&prog, "#!/bin/sh\necho hi\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = prog.display().to_string();
        let s = Server::start(&[model, "127.0.0.1:0", "--exec", &p]);
        std::fs::remove_file(&prog).unwrap();
        assert_eq!(exchange(s.addr(), b"x\n"), b"", "{model}");
        s.wait_err(&p);
        assert_eq!(exchange(s.addr(), b"x\n"), b"", "{model}");
        assert!(
            s.err().contains("No such file or directory"),
            "{model}: {}",
            s.err()
        );
    }
}

#[test]
fn exec_wc_counts_the_whole_input() {
    for model in MODELS {
        let s = Server::start(&[model, "127.0.0.1:0", "--exec", "wc", "-c"]);
        let data = random_bytes(3 << 20, 11);
        let got = String::from_utf8(exchange(s.addr(), &data)).unwrap();
        assert_eq!(got.trim(), (3 << 20).to_string(), "{model}");
    }
}
