//! The [`Port`] a [`Half`](super::Half) reads and writes (a socket, a
//! program's pipe, a layer over either, a scripted fake), and [`Held`],
//! the moments a layer holds a port's reads and writes until.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// One end of a relay, as a [`Half`] reads and writes it: a socket (see
/// `RelaySocket`), a program's pipe, or a scripted fake in unit tests. Reads and
/// writes never wait: nothing there now is `WouldBlock`.
///
/// A layer (a fault, a rate limit: `relay::layers`) is a port over
/// another ([`Port::beneath`]): it answers `read`, `write` and
/// `shut_write`, and what else it changes; every other question passes to
/// the port beneath, but for the two that would let bytes bypass it
/// (`plain_fd`, `is_waiting_pipe`), which a layer answers itself.
pub trait Port {
    /// The port this one is a layer over; `None` for an end of its own
    /// (a socket, a pipe, a fake). The defaults below ask it.
    fn beneath(&self) -> Option<&dyn Port> {
        None
    }
    /// Read what is there: `None` is the end of the stream (a datagram
    /// socket never ends; an empty datagram is `Some(0)`).
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Write some of `data` (a datagram port takes a chunk whole or not at
    /// all).
    fn write(&self, data: &[u8]) -> io::Result<usize>;
    /// The most one chunk written here may hold: a datagram's limit.
    fn max_chunk(&self) -> usize {
        self.beneath().map_or(usize::MAX, |p| p.max_chunk())
    }
    /// Whether each chunk is a datagram (no end of stream, no FIN).
    fn is_dgram(&self) -> bool {
        self.beneath().is_some_and(|p| p.is_dgram())
    }
    /// The descriptor to splice from or to, for bytes that pass as they
    /// are. Never passed on by default: a layer that sees or holds the
    /// bytes must not be spliced around.
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// Its plain descriptor is a pipe whose writes wait while it is full
    /// (stdout, as a print's writes do): a splice fills it straight from
    /// the source, with no pipe of the pool between, and an `EAGAIN` can
    /// then only be the (non-blocking) source's.
    fn is_waiting_pipe(&self) -> bool {
        false
    }
    /// An end of stream was read here: whether it is one, or (an error)
    /// the doing of something else, such as a server cutting its
    /// connections, which must not pass on as a FIN.
    fn check_end(&self) -> io::Result<()> {
        self.beneath().map_or(Ok(()), |p| p.check_end())
    }
    /// The end of stream just read was made here, not by the peer (a
    /// `--cut-after` layer): the peer still sends, and what it sends is to
    /// be read and dropped until its own end, so that no unread byte turns
    /// the close into a reset (which would destroy what the other way
    /// delivered and the peer had not read yet).
    fn ends_early(&self) -> bool {
        self.beneath().is_some_and(|p| p.ends_early())
    }
    /// Its end (`shut_write`) ends both ways: a WebSocket's Close, after
    /// which the peer sends no more (RFC 6455 has no half-close). A half
    /// ending towards it owes the end, and the bridge passes it on once
    /// the other way has been quiet a moment, so a reply still coming is
    /// not cut off.
    fn end_ends_both_ways(&self) -> bool {
        self.beneath().is_some_and(|p| p.end_ends_both_ways())
    }
    /// The source ended and the end is owed (see above): what the port
    /// holds back goes now, so the peer answers it before the end comes
    /// (a WebSocket's last line without its newline, as a message).
    fn end_owed(&self) {
        if let Some(p) = self.beneath() {
            p.end_owed();
        }
    }
    /// The source's end, passed on: a FIN (or a program's stdin closed).
    fn shut_write(&self);
    /// The other side was reset, or the relay failed: this side's close
    /// is a reset too.
    fn reset_on_close(&self) {
        if let Some(p) = self.beneath() {
            p.reset_on_close()
        }
    }
    /// Send what a layer of the port holds (TLS's ciphertext): an error
    /// that is not `WouldBlock` is a write failure.
    fn flush(&self) -> io::Result<()> {
        self.beneath().map_or(Ok(()), |p| p.flush())
    }
    /// Whether a layer of the port still holds bytes for the wire (the
    /// driver then waits for it to be writable).
    fn holds_output(&self) -> bool {
        self.beneath().is_some_and(|p| p.holds_output())
    }
    /// Whether a read that returns less than it was given room for took
    /// all the port held at that moment (a stream socket's read(2)); not
    /// where a layer may keep more back (TLS's decrypted records, a rate
    /// limit's allowance) or a read is one datagram.
    fn short_read_takes_all(&self) -> bool {
        // A layer passes it on only while it passes the bytes untouched
        // (it then answers a plain descriptor).
        self.plain_fd().is_some() && self.beneath().is_some_and(|p| p.short_read_takes_all())
    }
    /// Until when a layer that waits on time (a rate limit, a delay)
    /// holds this port's reads or writes: till then they answer
    /// `WouldBlock` whatever the descriptor's readiness says, so a driver
    /// waits for that moment, not for the descriptor (a level-triggered
    /// poll would spin on a readable socket the layer will not read).
    fn held(&self) -> Held {
        self.beneath().map_or(Held::default(), |p| p.held())
    }
}

/// A port lent: a layer may wrap a borrowed one (a test's scripted end).
impl<T: Port + ?Sized> Port for &T {
    fn beneath(&self) -> Option<&dyn Port> {
        (**self).beneath()
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).read(buf)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        (**self).write(data)
    }
    fn max_chunk(&self) -> usize {
        (**self).max_chunk()
    }
    fn is_dgram(&self) -> bool {
        (**self).is_dgram()
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        (**self).plain_fd()
    }
    fn is_waiting_pipe(&self) -> bool {
        (**self).is_waiting_pipe()
    }
    fn check_end(&self) -> io::Result<()> {
        (**self).check_end()
    }
    fn shut_write(&self) {
        (**self).shut_write()
    }
    fn ends_early(&self) -> bool {
        (**self).ends_early()
    }
    fn end_ends_both_ways(&self) -> bool {
        (**self).end_ends_both_ways()
    }
    fn end_owed(&self) {
        (**self).end_owed()
    }
    fn reset_on_close(&self) {
        (**self).reset_on_close()
    }
    fn flush(&self) -> io::Result<()> {
        (**self).flush()
    }
    fn holds_output(&self) -> bool {
        (**self).holds_output()
    }
    fn held(&self) -> Held {
        (**self).held()
    }
    fn short_read_takes_all(&self) -> bool {
        (**self).short_read_takes_all()
    }
}

/// Until when a port's reads and writes are held by time (see
/// [`Port::held`]); `None`: they wait for the descriptor alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub read: Option<Instant>,
    pub write: Option<Instant>,
    /// A moment the port must be tried at though it holds nothing (a
    /// reset after a time, a delayed chunk's): a step at or after it
    /// tries both directions; the bridge waits for it while it is to come.
    pub wake: Option<Instant>,
}

impl Held {
    /// Two layers' holds, one over the other: an operation goes on once
    /// both let it, at the later moment.
    pub fn and(self, other: Held) -> Held {
        let later = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let sooner = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Held {
            read: later(self.read, other.read),
            write: later(self.write, other.write),
            wake: sooner(self.wake, other.wake),
        }
    }
}
