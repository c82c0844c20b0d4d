//! `serve`'s default handler relays stdin to every connected peer: a pipe,
//! a regular file, /dev/null or a closed stdin must all work, and a peer
//! that never reads must not make the server buffer stdin without bound.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn stdin_pipe_reaches_every_peer_and_its_end_is_a_fin() {
    let mut s = Server::start_with(
        &["serve", "127.0.0.1:0"],
        Opts {
            stdin: Stdio::piped(),
            ..Opts::default()
        },
    );
    let mut a = TcpStream::connect(s.addr()).unwrap();
    let mut b = TcpStream::connect(s.addr()).unwrap();
    for c in [&a, &b] {
        c.set_read_timeout(Some(T)).unwrap();
    }
    wait_until("both peers accepted", T, || {
        s.err().matches("got connection").count() == 2
    });
    let mut stdin = s.child.stdin.take().unwrap();
    stdin.write_all(b"to everyone\n").unwrap();
    let mut buf = [0u8; 12];
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"to everyone\n");
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"to everyone\n");
    // The peers still talk to the server.
    a.write_all(b"from a\n").unwrap();
    s.wait_out("from a\n");
    // stdin's end: every peer gets FIN after what was queued.
    drop(stdin);
    let mut rest = Vec::new();
    a.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    b.shutdown(Shutdown::Write).unwrap();
    b.read_to_end(&mut rest).unwrap();
    assert_eq!(s.interrupt(), Some(130));
}

#[test]
fn stdin_regular_file_is_sent_to_the_first_peer() {
    let dir = TempDir::new();
    let f = dir.path("in");
    std::fs::write(&f, "file contents\n").unwrap();
    let s = Server::start_with(
        &["serve", "127.0.0.1:0", "--once"],
        Opts {
            stdin: Stdio::from(std::fs::File::open(&f).unwrap()),
            ..Opts::default()
        },
    );
    let out = run(&["send", s.addr(), "hi"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"file contents\n");
}

#[test]
fn dev_null_or_closed_stdin_does_not_break_the_server() {
    // /dev/null: no relay and no early FIN; the server answers the peer's FIN.
    let s = Server::start(&["serve", "127.0.0.1:0"]);
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        c.read(&mut b).is_err(),
        "no FIN while the peer is still talking"
    );
    c.write_all(b"x\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    assert_eq!(c.read(&mut b).unwrap(), 0);
    s.wait_out("x\n");

    // Closed stdin (`<&-`).
    let cmd = format!("exec {} serve 127.0.0.1:0 --once <&-", sh_quote(BIN));
    let mut child = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_string();
    let out = run(&["send", &addr, "hello"], b"");
    out.expect_code(0);
    assert!(wait_child(&mut child, T).success());
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert_eq!(printed, "hello\n");
}

#[test]
fn peer_that_never_reads_stops_the_stdin_relay() {
    let mut s = Server::start_with(
        &["serve", "127.0.0.1:0"],
        Opts {
            stdin: Stdio::piped(),
            ..Opts::default()
        },
    );
    let _c = TcpStream::connect(s.addr()).unwrap(); // never reads
    s.wait_err("got connection");
    let before = rss_kib(s.pid());
    let mut stdin = s.child.stdin.take().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    // Feed up to 64 MiB; the writes stall once the server stops reading.
    let fed = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let chunk = vec![b'r'; 1 << 16];
            while sent.load(Ordering::SeqCst) < 64 << 20 {
                if stdin.write_all(&chunk).is_err() {
                    break;
                }
                sent.fetch_add(chunk.len(), Ordering::SeqCst);
            }
        })
    };
    // Stalled: no progress for 300 ms (every buffer on the way is full).
    let mut last = (0, Instant::now());
    wait_until("the relay to stall", Duration::from_secs(60), || {
        let now = sent.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        }
        now >= 64 << 20 || last.1.elapsed() > Duration::from_millis(300)
    });
    let total = sent.load(Ordering::SeqCst);
    assert!(
        total < 64 << 20,
        "the server read all of stdin for a peer that never reads"
    );
    let after = rss_kib(s.pid());
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} to {after} KiB after {total} bytes"
    );
    // A peer alone is waited for, not dropped.
    assert!(!s.err().contains("dropped"), "{}", s.err());
    drop(s); // kills the server, which ends the feeder
    fed.join().unwrap();
}

/// A peer that never reads is dropped (after --stall-timeout, with an
/// event) only while it holds back another peer that would read on; the
/// other gets every byte of stdin.
#[test]
fn a_stalled_peer_is_dropped_only_while_it_holds_others_back() {
    let mut s = Server::start_with(
        &["serve", "127.0.0.1:0", "--stall-timeout", "300ms"],
        Opts {
            stdin: Stdio::piped(),
            ..Opts::default()
        },
    );
    let _deaf = TcpStream::connect(s.addr()).unwrap(); // never reads
    let reader = TcpStream::connect(s.addr()).unwrap();
    wait_until("both peers", T, || {
        s.err().matches("got connection").count() == 2
    });
    let mut stdin = s.child.stdin.take().unwrap();
    let data = random_bytes(16 << 20, 21);
    let fed = {
        let data = data.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data); // then EOF: the server's FIN
        })
    };
    reader.set_read_timeout(Some(T)).unwrap();
    let mut got = Vec::new();
    (&reader).read_to_end(&mut got).unwrap();
    assert!(got == data, "got {} of {} bytes", got.len(), data.len());
    fed.join().unwrap();
    s.wait_err("dropped: it read nothing for 300ms while others waited");
}

#[test]
fn a_closed_stdout_ends_every_server_quietly() {
    use std::os::fd::FromRawFd;
    for model in crate::handlers::MODELS {
        // stdout is a pipe whose reader goes away after the first line.
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the array with two new descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both are new and ours.
        let (mut r, w) = unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        };
        let mut s = Server::start_with(
            &[model, "127.0.0.1:0"],
            Opts {
                stdout: Some(w),
                ..Opts::default()
            },
        );
        run(&["send", s.addr(), "first"], b"").expect_code(0);
        let mut line = [0u8; 6];
        r.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"first\n");
        drop(r);
        // The next print meets EPIPE: the server ends with 0 and no error.
        let _ = run(&["send", s.addr(), "second"], b"");
        assert_eq!(s.wait(), Some(0), "{model}: {}", s.err());
        assert!(!s.err().contains("error"), "{model}: {}", s.err());
    }
}
