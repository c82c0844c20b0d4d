//! The non-blocking pump for the event loop (`serve`): a program's pipes,
//! watched by the loop beside the connection's socket (or the datagram
//! that started it), moved without ever waiting.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

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
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
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
