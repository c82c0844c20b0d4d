//! A connection's second byte stream and the engine that moves bytes
//! between it and the peer, for every model.
//!
//! The second stream is a program's pipes (`--exec`) or a forwarded socket
//! (`--forward`). The relay knows streams, datagram sockets and pipes, not
//! handlers: the types it returns (how a transfer ended, what it moved)
//! live here.
//!
//! * [`half`]: one direction ([`half::Half`]), copy or splice, its
//!   half-close and backpressure, over any [`half::Port`]; [`pipes`] the
//!   pipes it splices through, lent by one pool per process.
//! * [`bridge`]: a forwarded connection, two halves and the rules
//!   (idle, half-close, a datagram upstream's quiet), free of I/O waits:
//!   it answers what it waits for next.
//! * [`polled`]: the blocking models' driver (poll(2) on one thread) for
//!   a bridge, the lingering close every model ends with, and the cut
//!   thread-serve's hard stop signals.
//! * [`program`]: a program's pipes, two halves and the program's rules
//!   free of I/O waits (stepped by serve's loop), and their poll(2)
//!   driver for the blocking models and `send --exec`.
//! * [`stdout`]: `serve --once`'s print, a half from the socket to
//!   stdout (spliced).
//! * [`dgram_session`]: a forwarded datagram peer's session, in every
//!   model: driven by the loop, or on a worker fed through an inbox.
//! * [`layers`]: the layers on a forwarded connection and the one place
//!   its two ports are built, for every model; [`rate`] the first layer
//!   (`--rate`); [`live`] the faults the control socket changes while a
//!   server runs (`--control`).

pub mod blackhole;
pub mod bridge;
pub mod chance;
pub mod cut;
pub mod delay;
pub mod dgram_faults;
pub mod dgram_session;
pub mod half;
pub mod layers;
pub mod live;
pub mod pipes;
pub mod polled;
pub mod program;
pub mod rate;
pub mod slice;
pub mod slow_close;
pub mod stdout;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::BorrowedFd;

use crate::transport::{Dgram, Stream};

/// What a relay moved, each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteCounts {
    /// From the peer to the second stream.
    pub up: u64,
    /// From the second stream to the peer.
    pub down: u64,
}

/// One end of a forwarded connection: a byte stream, or a connected
/// datagram socket (each chunk written is one datagram; each datagram read
/// is one chunk, and there is no end of stream).
#[derive(Clone, Copy, Debug)]
pub enum RelaySocket<'a> {
    Stream(&'a Stream),
    Dgram(&'a Dgram),
}

impl RelaySocket<'_> {
    /// Read what is there: `None` is the end of the stream. A datagram
    /// socket never ends, and an empty datagram is `Some(0)`.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            RelaySocket::Stream(s) => (&**s).read(buf).map(|n| (n > 0).then_some(n)),
            RelaySocket::Dgram(d) => d.recv(buf).map(Some),
        }
    }

    /// Write some of `data` (a datagram socket takes a chunk whole or not
    /// at all).
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            RelaySocket::Stream(s) => (&**s).write(data),
            RelaySocket::Dgram(d) => d.send(data),
        }
    }

    /// The most a chunk written here may hold: a datagram's limit.
    pub fn max_chunk(&self) -> usize {
        match self {
            RelaySocket::Stream(_) => usize::MAX,
            RelaySocket::Dgram(d) => d.max_datagram(),
        }
    }

    /// The other side has no more: pass its FIN on (a datagram socket has
    /// none to send).
    pub fn shut_write(&self) {
        if let RelaySocket::Stream(s) = self {
            let _ = s.shutdown(Shutdown::Write);
        }
    }

    /// Undo [`RelaySocket::reset_on_close`]: the relay ended cleanly.
    pub fn fin_on_close(&self) {
        if let RelaySocket::Stream(s) = self {
            s.fin_on_close();
        }
    }

    /// The other side was reset: make this side's close a reset too.
    pub fn reset_on_close(&self) {
        if let RelaySocket::Stream(s) = self {
            s.reset_on_close();
        }
    }

    /// The descriptor to splice from or to: streams whose bytes pass as
    /// they are (never a datagram socket, never TLS).
    pub fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            RelaySocket::Stream(s) => s.plain_fd(),
            RelaySocket::Dgram(_) => None,
        }
    }

    pub fn is_dgram(&self) -> bool {
        matches!(self, RelaySocket::Dgram(_))
    }

    /// The descriptor to wait on for readiness.
    pub fn poll_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::{AsFd, AsRawFd};
        match self {
            RelaySocket::Stream(s) => s.poll_fd(),
            RelaySocket::Dgram(d) => d.as_fd().as_raw_fd(),
        }
    }

    /// Make reads and writes return `WouldBlock` rather than wait (the
    /// drivers' readiness says when to try), or wait again.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            RelaySocket::Stream(s) => s.set_nonblocking(on),
            RelaySocket::Dgram(d) => d.set_nonblocking(on),
        }
    }
}

impl half::Port for RelaySocket<'_> {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        RelaySocket::read(self, buf)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        RelaySocket::write(self, data)
    }
    fn max_chunk(&self) -> usize {
        RelaySocket::max_chunk(self)
    }
    fn is_dgram(&self) -> bool {
        RelaySocket::is_dgram(self)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        RelaySocket::plain_fd(self)
    }
    fn shut_write(&self) {
        RelaySocket::shut_write(self)
    }
    fn end_ends_both_ways(&self) -> bool {
        matches!(self, RelaySocket::Stream(s) if s.ws().is_some())
    }
    fn end_owed(&self) {
        if let RelaySocket::Stream(s) = self {
            if let Some(w) = s.ws() {
                w.send_partial_line();
            }
        }
    }
    fn reset_on_close(&self) {
        RelaySocket::reset_on_close(self)
    }
    fn flush(&self) -> io::Result<()> {
        match self {
            RelaySocket::Stream(s) => s.flush_pending(),
            RelaySocket::Dgram(_) => Ok(()),
        }
    }
    fn holds_output(&self) -> bool {
        match self {
            RelaySocket::Stream(s) => s.has_pending(),
            RelaySocket::Dgram(_) => false,
        }
    }
    fn short_read_takes_all(&self) -> bool {
        // A plain stream socket's read(2) returns less than asked only
        // when its queue is empty (TLS may hold decrypted bytes back).
        self.plain_fd().is_some()
    }
}

/// How one direction ([`half::Half`]) failed.
#[derive(Debug)]
pub enum HalfError {
    /// Reading its source failed (a reset, say).
    Read(io::Error),
    /// Writing to its destination failed.
    Write(io::Error),
}

/// How a relay (a forwarded connection, a program's pipes) ended other
/// than by both directions closing cleanly: the one end type of the
/// relay, which `handler::End` takes in one place (`End::from`).
#[derive(Debug)]
pub enum RelayEnd {
    /// Reading from or writing to the peer or the upstream failed (a
    /// reset passed on), or the server cut it.
    Endpoint(io::Error),
    /// Reading the program's output failed.
    Program(io::Error),
    /// No traffic for the idle timeout.
    Idle,
    /// A forwarded connection stayed quiet for the half-close timeout
    /// (this long) after one of its directions had ended.
    HalfClosed(std::time::Duration),
}

/// Whether an error means the other end reset the connection (or went
/// A Half's hex hook for `--hex` (`label`: the peer, `None`: no dump):
/// each chunk read, with its offset, in direction `dir` ('<' from the
/// peer, '>' to it).
pub(crate) fn hex_dump(label: Option<&str>, dir: char) -> impl FnMut(u64, &[u8]) + '_ {
    move |off, data| {
        if let Some(l) = label {
            crate::output::hex_to_stderr(l, dir, off, data);
        }
    }
}

/// away so that writing to it fails).
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Start `cmd` with its stdin and stdout piped: the program and both pipes.
pub fn spawn_piped(
    cmd: &mut std::process::Command,
) -> io::Result<(
    std::process::Child,
    std::process::ChildStdin,
    std::process::ChildStdout,
)> {
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    match (child.stdin.take(), child.stdout.take()) {
        (Some(stdin), Some(stdout)) => Ok((child, stdin, stdout)),
        // std gives both pipes for piped stdio; without one the program
        // could not be served, so it ends as a program that did not start.
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            Err(io::Error::other("no pipes to the program"))
        }
    }
}
