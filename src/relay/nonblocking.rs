//! The event loop's (`serve`) own pumps: a program's pipes, watched by
//! the loop beside the connection's socket (or the datagram that started
//! it), and `--once` to stdout. (A forwarded connection is the relay's
//! [`Bridge`](super::bridge::Bridge), as in every model.)

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, ChildStdin, ChildStdout, Command};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::half::HALF_BUDGET;

/// A running program's pipes in the loop.
pub struct Pipes {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    /// Bytes for the program that its stdin would not take yet.
    to_child: Vec<u8>,
}

impl Pipes {
    /// Start `cmd` with piped stdin and stdout, both non-blocking and
    /// watched by `registry` under `input` (writable) and `output` (readable).
    pub fn spawn(
        cmd: &mut Command,
        registry: &Registry,
        input: Token,
        output: Token,
    ) -> io::Result<Pipes> {
        let (mut child, stdin, stdout) = super::spawn_piped(cmd)?;
        let watched = crate::sys::set_nonblocking(stdin.as_fd())
            .and_then(|_| crate::sys::set_nonblocking(stdout.as_fd()))
            .and_then(|_| {
                registry.register(&mut SourceFd(&stdin.as_raw_fd()), input, Interest::WRITABLE)
            })
            .and_then(|_| {
                registry.register(
                    &mut SourceFd(&stdout.as_raw_fd()),
                    output,
                    Interest::READABLE,
                )
            });
        if let Err(e) = watched {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Pipes {
            child,
            stdin: Some(stdin),
            stdout: Some(stdout),
            to_child: Vec::new(),
        })
    }

    /// Queue bytes for the program's stdin.
    pub fn queue(&mut self, data: &[u8]) {
        if self.stdin.is_some() {
            self.to_child.extend_from_slice(data);
        }
    }

    /// Bytes queued for the program and not yet taken.
    pub fn queued(&self) -> usize {
        self.to_child.len()
    }

    /// Whether the program's output is still open.
    pub fn output_open(&self) -> bool {
        self.stdout.is_some()
    }

    /// Close both pipes (the program sees EOF, and SIGPIPE if it writes).
    pub fn close(&mut self) {
        self.stdin = None;
        self.stdout = None;
        self.to_child = Vec::new();
    }

    /// Move what can move without waiting: the queued input into the
    /// program (its stdin closes once `input_done` and the queue is empty),
    /// and its output into `out` while `out` holds less than `limit` (so a
    /// slow reader stops the program's output rather than growing memory).
    /// Returns whether anything moved; `output_open()` turns false when
    /// the program's output ends.
    pub fn pump(&mut self, out: &mut Vec<u8>, limit: usize, input_done: bool) -> io::Result<bool> {
        let mut moved = false;
        if let Some(stdin) = &mut self.stdin {
            let mut sent = 0;
            while sent < self.to_child.len() {
                match stdin.write(&self.to_child[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // The program stopped reading; what it did not read is gone.
                    Err(_) => sent = self.to_child.len(),
                }
            }
            if sent > 0 {
                self.to_child.drain(..sent);
                moved = true;
            }
            if self.to_child.is_empty() {
                self.to_child = Vec::new();
                if input_done {
                    self.stdin = None; // the program's EOF
                    moved = true;
                }
            }
        }
        if let Some(stdout) = &mut self.stdout {
            let mut buf = [0u8; 16 * 1024];
            while out.len() < limit {
                let want = buf.len().min(limit - out.len());
                match stdout.read(&mut buf[..want]) {
                    Ok(0) => {
                        self.stdout = None;
                        moved = true;
                        break;
                    }
                    Ok(n) => {
                        out.extend_from_slice(&buf[..n]);
                        moved = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.stdout = None;
                        return Err(e);
                    }
                }
            }
        }
        Ok(moved)
    }
}

/// The receiving side of the lesson's bulk case (`serve --once > FILE`,
/// or `| consumer`): one connection's bytes straight to stdout by
/// splice(2), never through sockcat's memory. Into a pipe the socket's
/// pages go directly; into a file (or /dev/null) through a pipe of our
/// own. Writing to stdout may wait, as the print handler's writes do; the
/// socket is non-blocking, so an empty socket never does.
#[derive(Debug)]
pub struct ToStdout {
    /// Our pipe when stdout is not one, and the bytes in it.
    pipe: Option<(OwnedFd, OwnedFd)>,
    in_pipe: usize,
}

impl ToStdout {
    /// A sink for stdout if splice can write there: a pipe, a regular
    /// file or /dev/null (not a terminal or a socket).
    pub fn new() -> Option<ToStdout> {
        use nix::sys::stat::SFlag;
        let out = std::io::stdout();
        let fd = out.as_fd();
        let pipe = match crate::sys::file_kind(fd)? {
            k if k == SFlag::S_IFIFO => {
                // A bigger pipe moves more per call and wakes the reader
                // less often; where the system says no, the pipe is as it was.
                crate::sys::grow_pipe(fd, 1024 * 1024);
                None
            }
            k if k == SFlag::S_IFREG || (k == SFlag::S_IFCHR && is_dev_null(fd)) => {
                let (r, w, _) = crate::sys::splice_pipe(Some(1024 * 1024)).ok()?;
                Some((r, w))
            }
            _ => return None,
        };
        Some(ToStdout { pipe, in_pipe: 0 })
    }

    /// Move what the socket has now, up to a budget. Returns the bytes
    /// that reached stdout and whether the socket ended; `WouldBlock`
    /// never comes back (it ends the call).
    pub fn pump(&mut self, from: std::os::fd::BorrowedFd<'_>) -> io::Result<(usize, bool)> {
        use crate::sys::splice_nb;
        let out = std::io::stdout();
        let stdout = out.as_fd();
        let mut moved = 0;
        while moved < HALF_BUDGET {
            let Some((r, w)) = &self.pipe else {
                // Straight into the pipe that is stdout: the socket is
                // non-blocking, the pipe's side waits while it is full.
                match splice_nb(from, stdout, HALF_BUDGET, false) {
                    Ok(0) => return Ok((moved, true)),
                    Ok(n) => moved += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            };
            while self.in_pipe > 0 {
                match splice_nb(r.as_fd(), stdout, self.in_pipe, false) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(k) => {
                        self.in_pipe -= k;
                        moved += k;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Our pipe is empty: EAGAIN can only mean the socket is.
            match splice_nb(from, w.as_fd(), HALF_BUDGET, true) {
                Ok(0) => return Ok((moved, true)),
                Ok(n) => self.in_pipe = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((moved, false))
    }
}

fn is_dev_null(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(a), Ok(b)) = (nix::sys::stat::fstat(fd), std::fs::metadata("/dev/null")) else {
        return false;
    };
    a.st_rdev == b.rdev()
}
