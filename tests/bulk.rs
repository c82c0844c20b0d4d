//! Bulk transfers arrive whole, and memory stays bounded when a peer
//! stops reading; the zero-copy path does not hold small writes back.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::handlers::exchange;
use crate::util::*;

const BIG: usize = 256 << 20;

fn write_random(p: &Path, len: usize, seed: u64) {
    let mut f = File::create(p).unwrap();
    let mut left = len;
    let mut s = seed;
    while left > 0 {
        let n = left.min(8 << 20);
        f.write_all(&random_bytes(n, s)).unwrap();
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        left -= n;
    }
}

fn same_files(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (File::open(a).unwrap(), File::open(b).unwrap());
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; 4 << 20], vec![0u8; 4 << 20]);
    loop {
        let n = read_full(&mut fa, &mut ba);
        let m = read_full(&mut fb, &mut bb);
        if n != m || ba[..n] != bb[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..]).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    got
}

#[test]
fn stream_256_mib_to_server_stdout() {
    let dir = TempDir::new();
    let (src, dst) = (dir.path("src"), dir.path("dst"));
    write_random(&src, BIG, 1);
    let mut s = Server::start_with(
        &["serve", "127.0.0.1:0", "--once"],
        Opts {
            stdout: Some(File::create(&dst).unwrap()),
            ..Opts::default()
        },
    );
    // Through stdin (splice from a pipe would need a pipe; a file redirect
    // takes the sendfile path, --file the same) and through --file.
    let mut client = sockcat()
        .args(["send", s.addr()])
        .stdin(File::open(&src).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_child(&mut client, Duration::from_secs(120)).success());
    assert_eq!(s.wait(), Some(0), "{}", s.err());
    assert!(same_files(&src, &dst), "received bytes differ");
}

#[test]
fn stream_256_mib_through_a_pipe_and_echo() {
    let dir = TempDir::new();
    let (src, dst) = (dir.path("src"), dir.path("dst"));
    write_random(&src, BIG, 2);
    let s = Server::start(&["serve", "127.0.0.1:0", "--echo"]);
    // `cat src | sockcat send`: the pipe path (splice).
    let cmd = format!(
        "cat {} | {} send {} > {}",
        sh_quote(src.display()),
        sh_quote(BIN),
        s.addr(),
        sh_quote(dst.display())
    );
    let mut c = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .spawn()
        .unwrap();
    assert!(wait_child(&mut c, Duration::from_secs(120)).success());
    assert!(same_files(&src, &dst), "echoed bytes differ");
}

#[test]
fn slow_reader_does_not_grow_server_memory() {
    for model in ["serve", "thread-serve", "fork-serve"] {
        let s = Server::start(&[model, "127.0.0.1:0", "--echo"]);
        let before = rss_kib(s.pid());
        // A peer that sends 64 MiB and never reads: writes stop when the
        // server stops reading (buffers full); give up after 2s of no progress.
        let c = TcpStream::connect(s.addr()).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        let t0 = Instant::now();
        while sent < 64 << 20 && t0.elapsed() < Duration::from_secs(30) {
            match (&c).write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        assert!(
            sent < 64 << 20,
            "{model}: the server kept reading from a peer that never reads"
        );
        // Other peers are still served meanwhile.
        assert_eq!(
            exchange(s.addr(), b"still served\n"),
            b"still served\n",
            "{model}"
        );
        let after = rss_kib(s.pid());
        assert!(
            after < before + 16 * 1024,
            "{model}: RSS grew from {before} KiB to {after} KiB after {sent} bytes"
        );
    }
}

/// `send` passes on what it reads from a pipe at once: a program that
/// writes a line through it and waits for the answer before the next
/// (redis-cli, ssh with `ProxyCommand sockcat send %h %p`) is not held
/// back ~200 ms per write, as splice(2) with SPLICE_F_MORE did.
#[test]
fn a_request_through_send_from_a_pipe_goes_at_once() {
    use std::io::BufRead;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    // The peer: an echo that answers each write at once.
    std::thread::spawn(move || {
        let Ok((mut c, _)) = l.accept() else { return };
        let _ = c.set_nodelay(true);
        let _ = c.set_read_timeout(Some(T));
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = c.read(&mut buf) {
            if c.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut child = sockcat()
        .args(["send", &addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    const ROUNDS: u32 = 20;
    let started = Instant::now();
    for i in 0..ROUNDS {
        writeln!(stdin, "ping {i}").unwrap();
        let line = rx.recv_timeout(T).expect("an answer").unwrap();
        assert_eq!(line, format!("ping {i}"));
    }
    let took = started.elapsed();
    drop(stdin);
    assert!(wait_child(&mut child, T).success());
    // ~200 ms each when held back; well under a millisecond on loopback.
    assert!(
        took < Duration::from_secs(2),
        "{ROUNDS} round trips took {took:?}"
    );
}
