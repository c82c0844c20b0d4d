//! One direction of a relay: bytes from a source [`Port`] to a destination
//! `Port`, moved only as far as both take them now, whichever model drives
//! it (serve's loop, or a poll(2) on thread-serve's thread or in
//! fork-serve's child).
//!
//! Its states are tokio's `copy_bidirectional`'s: [`State::Running`]
//! while the source may send, [`State::ShuttingDown`] once it ended and
//! what is held still goes out, [`State::Done`] once the end (a FIN) was
//! passed on. Between two plain stream sockets the bytes go by splice(2)
//! through a pipe lent by the process's [`PipePool`](super::pipes) while
//! they are in flight (a forwarded connection's halves splice bulk and
//! copy small chunks: [`Half::splice_bulk_only`]); otherwise (or when the
//! pool has none to lend) what the destination would not take yet waits
//! in a buffer, which exists only while it holds something. Either way a
//! destination that takes nothing
//! stops the reading of its source (the pipe or buffer stays full), so
//! memory stays bounded; the driver learns it from [`Half::wants_read`]
//! and [`Half::wants_write`].

use std::io;
use std::os::fd::BorrowedFd;

use super::HalfError;
use super::pipes::{self, Pipe};
use copy::{Copied, Copying};

mod copy;
mod port;

pub use port::{Held, Port};

/// Where a direction is (tokio's `copy_bidirectional` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The source may send more.
    Running,
    /// The source ended; what is held goes out, then the end is passed on.
    ShuttingDown,
    /// The end was passed on (or the direction was closed by a rule).
    Done,
}

/// How much one half moves per call, so one busy connection cannot starve
/// the others a loop drives.
pub const HALF_BUDGET: usize = 1024 * 1024;

/// The read buffer a copying half needs (see [`Half::pump`]).
pub const COPY_BUF: usize = 64 * 1024;

/// One direction; see the module's comment.
#[derive(Debug)]
pub struct Half {
    splice: bool,
    pipe: Option<Pipe>,
    in_pipe: usize,
    /// Some bytes went through a buffer (the pool had no pipe to lend).
    copied: bool,
    /// Copy mode: bytes read and not yet written (one datagram at most
    /// when the destination is a datagram port).
    pending: Vec<u8>,
    state: State,
    /// The destination is gone (a program that stopped reading): what the
    /// source still sends is read and dropped.
    discard: bool,
    /// Bytes delivered to the destination.
    moved: u64,
    /// Bytes read from the source (the hex dump's offset).
    read: u64,
    /// Driven by a level-triggered wait (poll(2)), which says again
    /// whether the source is readable: see [`Half::level_triggered`].
    level: bool,
    /// Its driver passes an end that ends both ways on itself, when the
    /// other way has been quiet ([`Half::owes_ends`]: a bridge).
    owes_ends: bool,
    /// Done, with the end not passed on yet: its destination's end ends
    /// both ways ([`Port::end_ends_both_ways`]); [`Half::pass_end`] does.
    end_owed: bool,
    /// Splice only bulk: copy until a read fills [`SPLICE_FROM`] (see
    /// [`Half::splice_bulk_only`]).
    bulk_only: bool,
    /// A read filled [`SPLICE_FROM`]: bulk streams, and this half splices
    /// from now on.
    bulk: bool,
}

/// A splice from the source shorter than this is taken, under a
/// level-triggered driver, for a source drained for now.
const SHORT_READ: usize = 64 * 1024;

/// A half that splices only bulk copies while its reads come shorter than
/// this, and splices from the first read that fills it (HAProxy's
/// `splice-auto` rule, at its default buffer size).
const SPLICE_FROM: usize = 16 * 1024;

/// What one call moved: bytes delivered, and whether the budget ran out
/// (more may be there at once, with no readiness to tell).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub moved: usize,
    pub more: bool,
}

/// Whether bytes between `from` and `to` may go by splice(2): both are
/// plain stream descriptors and nothing must see the bytes (`--hex`). The
/// one rule, for every model.
pub fn may_splice(from: &impl Port, to: &impl Port, hex: bool) -> bool {
    !hex && !from.is_dgram()
        && !to.is_dgram()
        && from.plain_fd().is_some()
        && to.plain_fd().is_some()
}

impl Half {
    /// A direction that splices when `splice` (see [`may_splice`]) and the
    /// pool lends a pipe, and copies otherwise.
    pub fn new(splice: bool) -> Half {
        Half {
            splice,
            pipe: None,
            in_pipe: 0,
            copied: false,
            pending: Vec::new(),
            state: State::Running,
            discard: false,
            owes_ends: false,
            end_owed: false,
            moved: 0,
            read: 0,
            level: false,
            bulk_only: false,
            bulk: false,
        }
    }

    /// Its driver waits level-triggered (poll(2)): after a short splice
    /// from the source, once those bytes are out, the half returns
    /// instead of asking the source again for the `EAGAIN` that would
    /// only confirm it is empty (a wrong guess costs one poll that
    /// answers at once). An edge-triggered loop (serve's) must not: it
    /// reads until `EAGAIN`, or it could miss a FIN that came with the
    /// data. The copy path always reads until `EAGAIN` (TLS may hold
    /// decrypted bytes that no readiness of the socket shows).
    pub fn level_triggered(&mut self) {
        self.level = true;
    }

    /// A splicing half copies small chunks and splices bulk: it copies
    /// until a read fills [`SPLICE_FROM`], then splices for good. A small
    /// chunk costs less as a read and a write than as two splices through
    /// a pipe, needs no pipe, and a short read says the source is empty
    /// for now, which spares an edge-triggered driver the read that
    /// confirms it ([`Half::pump_seen`]); bulk keeps splice's speed. The
    /// bytes copied this way are not [`Half::copied`]: the half is on the
    /// splice path, and only what it could not splice (no pipe to lend)
    /// counts as copied.
    pub fn splice_bulk_only(&mut self) {
        self.bulk_only = true;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes that reached the destination.
    pub fn moved(&self) -> u64 {
        self.moved
    }

    /// Bytes read from the source (dropped ones too).
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Whether any bytes went through a buffer rather than a pipe (for a
    /// half that splices only bulk, other than its small chunks: see
    /// [`Half::splice_bulk_only`]).
    pub fn copied(&self) -> bool {
        self.copied || !self.splice
    }

    /// Whether bytes wait inside this half.
    pub fn holding(&self) -> bool {
        self.in_pipe > 0 || !self.pending.is_empty()
    }

    /// Whether the driver should wait for the source to be readable: it
    /// may send, and nothing held blocks the next read (backpressure).
    pub fn wants_read(&self) -> bool {
        self.state == State::Running && !self.holding()
    }

    /// Whether the driver should wait for the destination to be writable:
    /// it holds bytes the destination would not take.
    pub fn wants_write(&self) -> bool {
        self.state != State::Done && self.holding()
    }

    /// The destination is gone for good: drop what is held, and read and
    /// drop what the source still sends (until its end).
    pub fn discard(&mut self) {
        self.discard = true;
        self.pending = Vec::new();
        self.drop_pipe();
    }

    /// End this direction now, by a rule (a quiet datagram upstream, the
    /// half-close timeout): what is held is dropped and the end is passed
    /// on to `to`.
    pub fn finish(&mut self, to: &impl Port) {
        if self.state != State::Done {
            self.discard();
            self.state = State::Done;
            to.shut_write();
        }
    }

    /// Stop reading the source without passing an end on (the relay is
    /// over: failed, idle or cut).
    pub fn stop(&mut self) {
        self.state = State::Done;
        self.pending = Vec::new();
        self.drop_pipe();
    }

    /// An end that would end both ways (see [`Port::end_ends_both_ways`])
    /// is owed, for the driver to pass on with [`Half::pass_end`] (a
    /// bridge, which knows when the other way is quiet); without this the
    /// half passes every end at once.
    pub fn owes_ends(&mut self) {
        self.owes_ends = true;
    }

    /// The end is owed to a destination whose end ends both ways (see
    /// [`Port::end_ends_both_ways`]).
    pub fn end_owed(&self) -> bool {
        self.end_owed
    }

    /// Pass on the owed end now.
    pub fn pass_end(&mut self, to: &impl Port) {
        if std::mem::take(&mut self.end_owed) {
            to.shut_write();
        }
    }

    /// Give back a pipe still lent (the connection is closing).
    pub fn release(&mut self) {
        self.drop_pipe();
    }

    fn drop_pipe(&mut self) {
        if let Some(p) = self.pipe.take() {
            let mut pool = pipes::pool();
            if self.in_pipe == 0 {
                pool.give(p);
            } else {
                // Bytes nobody will read: close it rather than lend it.
                pool.forget(p);
            }
        }
        self.in_pipe = 0;
    }

    /// Move what can move now, up to [`HALF_BUDGET`]. `scratch` is the
    /// driver's read buffer, made [`COPY_BUF`] long when a copy first
    /// needs it (a splicing relay never pays for one; one that splices
    /// only bulk, [`SPLICE_FROM`] for its small chunks); `hex` sees the
    /// bytes read, with their offset (copy mode only: `--hex` never
    /// splices).
    pub fn pump(
        &mut self,
        from: &impl Port,
        to: &impl Port,
        scratch: &mut Vec<u8>,
        hex: impl FnMut(u64, &[u8]),
    ) -> Result<Progress, HalfError> {
        self.pump_seen(from, to, scratch, hex, false)
    }

    /// [`Half::pump`], told by its driver whether the source was seen
    /// readable with no end among what was seen (`seen_without_end`: an
    /// edge-triggered driver's events showed no hang-up or error on it).
    /// Then a short copy read from a port whose short read takes all it
    /// holds ([`Port::short_read_takes_all`]) found it empty, and whatever
    /// comes after it is an event of its own: the half stops there,
    /// without the read that would answer `WouldBlock`. Without it, an
    /// edge-triggered half reads until `WouldBlock`: data and a FIN that
    /// came together are one event, and a short read takes the data and
    /// leaves the FIN, of which no event would tell again. (A
    /// level-triggered half, [`Half::level_triggered`], may always stop
    /// there: its wait says again what is left.)
    pub fn pump_seen(
        &mut self,
        from: &impl Port,
        to: &impl Port,
        scratch: &mut Vec<u8>,
        mut hex: impl FnMut(u64, &[u8]),
        seen_without_end: bool,
    ) -> Result<Progress, HalfError> {
        if self.state == State::Done {
            return Ok(Progress::default());
        }
        // Splice only between plain descriptors (not TLS, not a datagram
        // socket), and never for bytes that are dropped.
        let fds = match (from.plain_fd(), to.plain_fd()) {
            (Some(src), Some(dst)) if self.splice && !self.discard => Some((src, dst)),
            _ => None,
        };
        let direct = fds.is_some() && to.is_waiting_pipe();
        let short_read_ends = (self.level || seen_without_end) && from.short_read_takes_all();
        // Each path counts what it delivers as it goes, so bytes that got
        // through before a failure in the same call are counted too.
        let before = self.moved;
        let r = loop {
            // Bulk (or every chunk, unless only bulk is spliced) goes by
            // splice once no copied bytes wait.
            let splice_now =
                fds.is_some() && (self.bulk || !self.bulk_only) && self.pending.is_empty();
            if splice_now && !direct && self.pipe.is_none() {
                self.pipe = pipes::pool().take();
            }
            let r = match (self.pipe.take(), fds) {
                (None, Some((src, dst))) if direct && splice_now => {
                    self.pump_direct(from, src, dst)
                }
                (Some(p), Some((src, dst))) if splice_now => {
                    let r = self.pump_splice(&p, from, src, dst);
                    self.pipe = Some(p);
                    r
                }
                (p, _) => {
                    self.pipe = p;
                    let copy = match fds {
                        // Small chunks, copied by the rule while bulk has not
                        // come: `SPLICE_FROM` at a time.
                        Some(_) if self.bulk_only && !self.bulk => Copying::Small,
                        // Bulk came while copied bytes waited: they go out
                        // first, then the splicing.
                        Some(_) if self.bulk_only && !splice_now => Copying::ThenSplice,
                        // No pipe to lend, or no plain descriptor.
                        _ => {
                            self.copied |= !self.discard;
                            Copying::All
                        }
                    };
                    match self.pump_copy(from, to, scratch, &mut hex, copy, short_read_ends) {
                        Ok(Copied::Splice) => {
                            // Bulk streams: on by splice, in this same call
                            // (the source may hold more, with no event to
                            // come).
                            continue;
                        }
                        Ok(Copied::Stopped(more)) => Ok(more),
                        Err(e) => Err(e),
                    }
                }
            };
            break r;
        };
        if self.in_pipe == 0 {
            // Nothing in flight: the pipe goes back for others.
            self.drop_pipe();
        }
        let more = r?;
        let n = usize::try_from(self.moved - before).unwrap_or(usize::MAX);
        if self.state == State::ShuttingDown
            && !self.holding()
            && self.owes_ends
            && to.end_ends_both_ways()
        {
            // Its end would end the other way too: owed, for the bridge;
            // what the port holds back goes now.
            self.state = State::Done;
            self.end_owed = true;
            to.end_owed();
        } else if self.state == State::ShuttingDown && !self.holding() {
            to.shut_write();
            if !self.discard && from.ends_early() {
                // The end was a cut: passed on, and the source is read
                // and dropped until its own end (see Port::ends_early).
                self.discard();
                self.state = State::Running;
            } else {
                self.state = State::Done;
            }
        }
        Ok(Progress { moved: n, more })
    }

    fn pump_splice(
        &mut self,
        pipe: &Pipe,
        from: &impl Port,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
    ) -> Result<bool, HalfError> {
        use crate::sys::splice_nb;
        let mut moved = 0;
        let mut drained = false;
        while moved < HALF_BUDGET {
            if self.in_pipe == 0 && drained {
                return Ok(false);
            }
            if self.in_pipe > 0 {
                match splice_nb(pipe.reader(), dst, self.in_pipe, true) {
                    Ok(k) => {
                        self.in_pipe -= k;
                        moved += k;
                        self.moved += k as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(HalfError::Write(e)),
                }
                continue;
            }
            if self.state != State::Running {
                break;
            }
            match splice_nb(src, pipe.writer(), HALF_BUDGET, true) {
                Ok(0) => {
                    from.check_end().map_err(HalfError::Read)?;
                    self.state = State::ShuttingDown;
                }
                Ok(n) => {
                    self.in_pipe += n;
                    self.read += n as u64;
                    drained = self.level && n < SHORT_READ;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(HalfError::Read(e)),
            }
        }
        Ok(self.state == State::Running)
    }

    /// Splice from the source straight into a destination that is a
    /// waiting pipe (see [`Port::is_waiting_pipe`]): nothing is ever held
    /// here. An error is the destination's when it is a broken pipe (its
    /// reader went away), the source's otherwise.
    fn pump_direct(
        &mut self,
        from: &impl Port,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
    ) -> Result<bool, HalfError> {
        let mut moved = 0;
        while moved < HALF_BUDGET && self.state == State::Running {
            match crate::sys::splice_nb(src, dst, HALF_BUDGET, false) {
                Ok(0) => {
                    from.check_end().map_err(HalfError::Read)?;
                    self.state = State::ShuttingDown;
                }
                Ok(n) => {
                    moved += n;
                    self.moved += n as u64;
                    self.read += n as u64;
                    if self.level && n < SHORT_READ {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(HalfError::Write(e)),
                Err(e) => return Err(HalfError::Read(e)),
            }
        }
        Ok(self.state == State::Running)
    }
}

#[cfg(test)]
pub(crate) mod tests;
