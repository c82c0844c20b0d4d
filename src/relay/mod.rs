//! A connection's second byte stream and the pumps that move bytes between
//! it and the peer.
//!
//! The second stream is a program's pipes (`--exec`) or a forwarded socket
//! (`--forward`). The relay knows streams, datagram sockets and pipes, not
//! handlers: the types it returns (how a transfer ended, what it moved)
//! live here.
//!
//! * [`blocking`]: the pumps for the forking and threading models, one
//!   thread per direction, and the lingering close every model ends with.
//! * [`nonblocking`]: the pumps for the event loop: a program's pipes, and
//!   the two halves of a forwarded connection, watched beside the socket.
//! * [`dgram_session`]: a forwarded datagram peer's session, in every
//!   model: driven by the loop, or on a worker fed through an inbox.

pub mod blocking;
pub mod dgram_session;
pub mod nonblocking;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::BorrowedFd;

use crate::transport::{Dgram, Stream};

/// What a relay moved, each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// From the peer to the second stream.
    pub up: u64,
    /// From the second stream to the peer.
    pub down: u64,
}

/// One end of a forwarded connection: a byte stream, or a connected
/// datagram socket (each chunk written is one datagram; each datagram read
/// is one chunk, and there is no end of stream).
#[derive(Clone, Copy, Debug)]
pub enum Side<'a> {
    Stream(&'a Stream),
    Dgram(&'a Dgram),
}

impl Side<'_> {
    /// Read what is there: `None` is the end of the stream. A datagram
    /// socket never ends, and an empty datagram is `Some(0)`.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            Side::Stream(s) => (&**s).read(buf).map(|n| (n > 0).then_some(n)),
            Side::Dgram(d) => d.recv(buf).map(Some),
        }
    }

    /// Write some of `data` (a datagram socket takes a chunk whole or not
    /// at all).
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            Side::Stream(s) => (&**s).write(data),
            Side::Dgram(d) => d.send(data),
        }
    }

    /// The most a chunk written here may hold: a datagram's limit.
    pub fn max_chunk(&self) -> usize {
        match self {
            Side::Stream(_) => usize::MAX,
            Side::Dgram(d) => d.max_datagram(),
        }
    }

    /// The other side has no more: pass its FIN on (a datagram socket has
    /// none to send).
    pub fn shut_write(&self) {
        if let Side::Stream(s) = self {
            let _ = s.shutdown(Shutdown::Write);
        }
    }

    /// Wake whatever waits to read from this side.
    pub fn shut_read(&self) {
        if let Side::Stream(s) = self {
            let _ = s.shutdown(Shutdown::Read);
        }
    }

    /// The other side was reset: make this side's close a reset too.
    pub fn reset_on_close(&self) {
        if let Side::Stream(s) = self {
            s.reset_on_close();
        }
    }

    /// The descriptor to splice from or to: streams whose bytes pass as
    /// they are (never a datagram socket, never TLS).
    pub fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Side::Stream(s) => s.plain_fd(),
            Side::Dgram(_) => None,
        }
    }

    pub fn is_dgram(&self) -> bool {
        matches!(self, Side::Dgram(_))
    }

    pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Side::Stream(s) => s.set_read_timeout(d),
            Side::Dgram(g) => g.set_read_timeout(d),
        }
    }
}

/// How one direction of a forwarded connection failed.
#[derive(Debug)]
pub enum Fail {
    /// Reading its source failed (a reset, say).
    Read(io::Error),
    /// Writing to its destination failed.
    Write(io::Error),
    /// No traffic either way for the idle timeout.
    Idle,
    /// The other direction had ended, and this one's source stayed quiet
    /// for the half-close timeout.
    HalfClosed,
}

/// Whether an error means the other end reset the connection (or went
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
