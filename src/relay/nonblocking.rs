//! The non-blocking pumps for the event loop (`serve`): a program's pipes,
//! watched by the loop beside the connection's socket (or the datagram
//! that started it), and the two halves of a forwarded connection, moved
//! without ever waiting.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, ChildStdin, ChildStdout, Command};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::{Fail, Side};

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

/// A pipe to splice through.
#[derive(Debug)]
pub struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    /// Grown past the default size (it counts against the grown total).
    big: bool,
}

/// The loop's pipes for splicing, lent to a connection's half only while
/// bytes are in flight (haproxy's pipe pool). A pipe's whole capacity
/// counts against the user's pipe memory (`pipe-user-pages-soft`, 64 MiB by
/// default; past it, every new pipe of the user's, anyone's shell
/// included, is cut to two pages), whatever it holds: so idle connections
/// hold none, at most [`GROWN`] pipes are grown to [`BIG`], at most
/// [`MAX_PIPES`] exist at all, and past that a half copies instead.
#[derive(Debug, Default)]
pub struct PipePool {
    free: Vec<Pipe>,
    made: usize,
    grown: usize,
}

/// Pipes grown to [`BIG`] (32 MiB in all).
const GROWN: usize = 32;
/// A grown pipe's size: each splice moves up to this much.
const BIG: usize = 1024 * 1024;
/// Pipes in all (the rest at the default 64 KiB: 14 MiB).
const MAX_PIPES: usize = 256;
/// Free pipes kept for the next transfer; more are closed.
const KEEP_FREE: usize = 16;

impl PipePool {
    fn take(&mut self) -> Option<Pipe> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        if self.made >= MAX_PIPES {
            return None;
        }
        let grow = self.grown < GROWN;
        let (r, w, cap) = crate::sys::splice_pipe(grow.then_some(BIG)).ok()?;
        let big = cap >= BIG;
        self.made += 1;
        self.grown += big as usize;
        Some(Pipe { r, w, big })
    }

    fn give(&mut self, p: Pipe) {
        if self.free.len() < KEEP_FREE {
            // Keep the grown ones first: they move more per call.
            self.free.push(p);
            self.free.sort_by_key(|p| p.big);
        } else {
            self.made -= 1;
            self.grown -= p.big as usize;
        }
    }
}

/// One direction of a forwarded connection in the loop: bytes from one
/// side to the other, moved only as far as both take them now. Between two
/// plain stream sockets the bytes go by splice(2) through a pipe lent by
/// the loop's [`PipePool`] while they are in flight; otherwise (or when the
/// pool has none to lend) what the destination would not take yet waits in
/// a buffer, which exists only while it holds something. Either way, a
/// destination that stops reading stops the reading of the source (its
/// pipe or buffer stays full), so memory stays bounded.
#[derive(Debug)]
pub struct Half {
    splice: bool,
    pipe: Option<Pipe>,
    in_pipe: usize,
    /// Some bytes went through a buffer (the pool had no pipe to lend).
    pub copied: bool,
    /// Copy mode: bytes read and not yet written (one datagram at most
    /// when the destination is a datagram socket).
    pending: Vec<u8>,
    /// The source ended; its FIN is passed on once everything is written.
    pub eof: bool,
    /// The source ended, everything went out and the FIN was passed on.
    pub done: bool,
    /// Bytes delivered to the destination.
    pub moved: u64,
    /// Bytes read from the source (the hex dump's offset).
    read: u64,
}

/// How much one half moves per call, so one busy connection cannot starve
/// the rest of the loop.
const HALF_BUDGET: usize = 1024 * 1024;

impl Half {
    pub fn new(splice: bool) -> Half {
        Half {
            splice,
            pipe: None,
            in_pipe: 0,
            copied: false,
            pending: Vec::new(),
            eof: false,
            done: false,
            moved: 0,
            read: 0,
        }
    }

    /// Whether bytes wait inside this half.
    pub fn holding(&self) -> bool {
        self.in_pipe > 0 || !self.pending.is_empty()
    }

    /// Move what can move now, up to a budget. `scratch` is the loop's
    /// shared read buffer; `hex` dumps the bytes read, with their offset
    /// (copy mode only).
    /// Returns how many bytes reached the destination and whether the
    /// budget ran out (there may be more to do at once).
    pub fn pump(
        &mut self,
        from: Side<'_>,
        to: Side<'_>,
        scratch: &mut [u8],
        pool: &mut PipePool,
        mut hex: impl FnMut(u64, &[u8]),
    ) -> Result<(usize, bool), Fail> {
        if self.done {
            return Ok((0, false));
        }
        if self.splice && self.pipe.is_none() && self.pending.is_empty() {
            self.pipe = pool.take();
        }
        let r = match (&self.pipe, from.plain_fd(), to.plain_fd()) {
            (Some(_), Some(src), Some(dst)) => self.pump_splice(src, dst),
            _ => {
                self.copied = true;
                self.pump_copy(from, to, scratch, &mut hex)
            }
        };
        if self.in_pipe == 0 {
            // Nothing in flight: the pipe goes back for others.
            if let Some(p) = self.pipe.take() {
                pool.give(p);
            }
        }
        let (n, more) = r?;
        self.moved += n as u64;
        if self.eof && !self.holding() && !self.done {
            self.done = true;
            to.shut_write();
        }
        Ok((n, more))
    }

    /// Give back a pipe still lent (the connection is closing).
    pub fn release(&mut self, pool: &mut PipePool) {
        if let Some(p) = self.pipe.take() {
            if self.in_pipe == 0 {
                pool.give(p);
            } else {
                // Bytes nobody will read: close it rather than lend it.
                pool.made -= 1;
                pool.grown -= p.big as usize;
            }
        }
        self.in_pipe = 0;
    }

    fn pump_splice(
        &mut self,
        src: std::os::fd::BorrowedFd<'_>,
        dst: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(usize, bool), Fail> {
        use crate::sys::splice_nb;
        let mut moved = 0;
        while moved < HALF_BUDGET {
            if self.in_pipe > 0 {
                let p = self.pipe.as_ref().expect("bytes are in the pipe");
                match splice_nb(p.r.as_fd(), dst, self.in_pipe, true) {
                    Ok(k) => {
                        self.in_pipe -= k;
                        moved += k;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Fail::Write(e)),
                }
                continue;
            }
            if self.eof {
                break;
            }
            let p = self.pipe.as_ref().expect("lent by the pool");
            match splice_nb(src, p.w.as_fd(), HALF_BUDGET, true) {
                Ok(0) => self.eof = true,
                Ok(n) => self.in_pipe += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fail::Read(e)),
            }
        }
        Ok((moved, !self.eof))
    }

    fn pump_copy(
        &mut self,
        from: Side<'_>,
        to: Side<'_>,
        scratch: &mut [u8],
        hex: &mut impl FnMut(u64, &[u8]),
    ) -> Result<(usize, bool), Fail> {
        let chunk = scratch.len().min(to.max_chunk());
        let mut moved = 0;
        while moved < HALF_BUDGET {
            if !self.pending.is_empty() {
                match write_some(to, &self.pending) {
                    Ok(None) => return Ok((moved, false)),
                    Ok(Some(k)) => {
                        moved += k;
                        self.pending.drain(..k);
                        if self.pending.is_empty() {
                            // Nothing in flight: hold no buffer.
                            self.pending = Vec::new();
                        }
                        continue;
                    }
                    Err(e) => return Err(Fail::Write(e)),
                }
            }
            if self.eof {
                break;
            }
            let n = match from.read(&mut scratch[..chunk]) {
                Ok(None) => {
                    self.eof = true;
                    break;
                }
                Ok(Some(n)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Fail::Read(e)),
            };
            let data = &scratch[..n];
            hex(self.read, data);
            self.read += n as u64;
            if n == 0 && !to.is_dgram() {
                continue; // an empty datagram is nothing in a stream
            }
            // Straight from the shared buffer; only what the destination
            // would not take is kept.
            match write_some(to, data) {
                Ok(Some(k)) => {
                    moved += k;
                    self.pending.extend_from_slice(&data[k..]);
                }
                // (An empty datagram that would block is dropped: there is
                // nothing to keep of it.)
                Ok(None) => self.pending.extend_from_slice(data),
                Err(e) => return Err(Fail::Write(e)),
            }
        }
        Ok((moved, !self.eof))
    }
}

/// Write what `to` takes now: `None` when it would block (a datagram
/// socket takes a chunk whole or not at all).
fn write_some(to: Side<'_>, data: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match to.write(data) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
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
