//! A forwarded datagram peer's *session*, in every model.
//!
//! A datagram server with `--forward` gives each peer a session: it
//! begins with the peer's first datagram and ends after the idle timeout
//! without traffic either way. The server alone receives on the listening
//! socket and hands the peer's datagrams to its session, which sends them
//! upstream from a socket of its own; what the upstream answers goes back
//! from the listening socket, so the peer sees it come from the address it
//! wrote to.
//!
//! [`DgramSession`] holds one session and makes its decisions (what goes
//! where, what it counts and dumps, when it ends) given readiness and the
//! time; it never waits. `serve`'s loop drives it on its events and timers
//! (the upstream watched as the session's `PART_UPSTREAM`). The blocking
//! models drive it with [`run`], on the session's thread or in its child:
//! a small poll(2) over its upstream socket and its *inbox* (a
//! `SOCK_SEQPACKET` socket pair, which keeps each datagram whole), through
//! which the server's main loop hands it the peer's datagrams.
//!
//! Ending without losing a datagram: at its idle end, a session fed
//! through an inbox shuts the inbox's read side first (the main loop's
//! next delivery then fails, and it starts a new session: see
//! `servers::SessionRouter`), then forwards what was already queued.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

use super::dgram_faults::DgramFaults;
use crate::event::{ConnStats, Via};
use crate::output::hex_to_stderr;
use crate::transport::{Dgram, Endpoint, ReplyTo};

/// Datagrams moved in one direction per turn, so a flood cannot keep a
/// loop from everything else.
pub const DGRAMS_PER_TURN: usize = 1024;

/// Datagrams a session keeps while its upstream socket is not open yet
/// (`serve` looks the target's name up without waiting); more are
/// dropped, as a full socket buffer would drop them.
const WAITING: usize = 64;

/// Each message in an inbox starts with this byte, so that an empty
/// datagram is not an empty message (which reads like the end).
const TAG: u8 = b'd';

/// Big enough for any datagram either socket kind delivers.
pub const BUF: usize = 256 * 1024 + 1;

/// A session's upstream: a connected datagram socket, never waited on.
pub trait Upstream {
    /// Send one datagram; one the socket cannot take now is dropped.
    fn send(&self, data: &[u8]) -> io::Result<usize>;
    /// Receive one datagram, or `WouldBlock`.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl Upstream for Dgram {
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        Dgram::send(self, data)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_nowait(buf)
    }
}

/// Where a session's replies go: to its peer.
pub trait Replies {
    fn reply(&self, data: &[u8]) -> io::Result<usize>;
}

/// The way back to a peer: the listening socket it wrote to (shared with
/// the server, which receives on it) and its address.
#[derive(Debug)]
pub struct ReplyPath {
    pub sock: Arc<Dgram>,
    pub to: ReplyTo,
}

impl Replies for ReplyPath {
    fn reply(&self, data: &[u8]) -> io::Result<usize> {
        self.sock.send_to(data, &self.to)
    }
}

/// How long a session lasts without traffic.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// `--idle-timeout` (or `handler::forward::SESSION_IDLE`).
    pub idle: Duration,
    /// Once no more datagrams will come from the peer (the server stops,
    /// or the session's idle end drained its inbox), how long to wait
    /// for the upstream's last replies (`handler::forward::DGRAM_QUIET`).
    pub quiet: Duration,
}

/// What a session waits for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Traffic either way, until this time.
    Until(Instant),
    /// It has ended: a plain end, which its closing event reports.
    Ended,
}

/// One peer's forwarded datagram session. `U` is its upstream socket and
/// `R` the way back to its peer (sockets, or fakes in tests).
pub struct DgramSession<U = Dgram, R = ReplyPath> {
    peer: Endpoint,
    /// The peer, as hex dumps name it (with `--hex` only).
    label: Option<String>,
    /// `None` while it is not open yet.
    up: Option<U>,
    /// Datagrams that came before the upstream socket opened (a few).
    waiting: Vec<Vec<u8>>,
    back: R,
    timers: Timers,
    started: Instant,
    /// The last traffic either way.
    last: Instant,
    /// From when only the upstream's last replies are waited for.
    quiet_from: Option<Instant>,
    tally: ConnStats,
    /// `--loss`, `--duplicate`, `--reorder`, `--delay` (`None`: each
    /// datagram goes as it is).
    faults: Option<Box<DgramFaults>>,
}

impl<U: Upstream, R: Replies> DgramSession<U, R> {
    /// A session, begun `now` (its first datagram is given to
    /// [`DgramSession::from_peer`]). `up` is `None` until
    /// [`DgramSession::opened`].
    pub fn new(
        peer: Endpoint,
        up: Option<U>,
        back: R,
        timers: Timers,
        hex: bool,
        now: Instant,
    ) -> Self {
        DgramSession {
            label: hex.then(|| peer.to_string()),
            peer,
            up,
            waiting: Vec::new(),
            back,
            timers,
            started: now,
            last: now,
            quiet_from: None,
            faults: None,
            tally: ConnStats {
                via: Some(Via::Copy),
                ..ConnStats::default()
            },
        }
    }

    pub fn peer(&self) -> &Endpoint {
        &self.peer
    }

    pub fn upstream(&self) -> Option<&U> {
        self.up.as_ref()
    }

    pub fn tally(&self) -> ConnStats {
        self.tally
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// The session's faults (see `relay::dgram_faults`), from its start.
    pub fn faults(&mut self, faults: Option<Box<DgramFaults>>) {
        self.faults = faults;
    }

    /// The upstream socket opened: what waited for it goes first.
    pub fn opened(&mut self, up: U) {
        for d in std::mem::take(&mut self.waiting) {
            let _ = up.send(&d);
        }
        self.up = Some(up);
        self.release(Instant::now());
    }

    /// Send what the faults hold that is due at `now` (each way's
    /// destination; the upstream's once it is open).
    fn release(&mut self, now: Instant) {
        let Some(f) = self.faults.as_deref_mut() else {
            return;
        };
        if let (Some(w), Some(up)) = (f.up.as_mut(), &self.up) {
            for d in w.due(now) {
                let _ = up.send(&d);
            }
        }
        if let Some(w) = f.down.as_mut() {
            for d in w.due(now) {
                let _ = self.back.reply(&d);
            }
        }
    }

    /// A datagram from the peer goes upstream (one the upstream cannot
    /// take now is dropped, as UDP does).
    pub fn from_peer(&mut self, data: &[u8], now: Instant) {
        if let Some(l) = &self.label {
            hex_to_stderr(l, '<', self.tally.bytes_in, data);
        }
        self.tally.bytes_in += data.len() as u64;
        self.last = now;
        if let Some(f) = self.faults.as_deref_mut() {
            f.refresh();
        }
        if let Some(w) = self.faults.as_deref_mut().and_then(|f| f.up.as_mut()) {
            w.take(data, now);
            return self.release(now);
        }
        match &self.up {
            Some(up) => {
                let _ = up.send(data);
            }
            None if self.waiting.len() < WAITING => self.waiting.push(data.to_vec()),
            None => {}
        }
    }

    /// What the upstream answered goes back to the peer, up to a turn's
    /// worth: `true` when more may wait.
    pub fn from_upstream(&mut self, buf: &mut [u8], now: Instant) -> bool {
        let Some(up) = &self.up else {
            return false;
        };
        for _ in 0..DGRAMS_PER_TURN {
            let n = match up.recv(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Drained (or an ICMP error, which UDP forgets).
                Err(_) => {
                    self.release(now);
                    return false;
                }
            };
            self.last = now;
            let data = &buf[..n];
            if let Some(l) = &self.label {
                hex_to_stderr(l, '>', self.tally.bytes_out, data);
            }
            if let Some(w) = self.faults.as_deref_mut().and_then(|f| f.down.as_mut()) {
                // (Counted as received: what the faults send is theirs.)
                w.take(data, now);
                self.tally.bytes_out += n as u64;
                continue;
            }
            if self.back.reply(data).is_ok() {
                self.tally.bytes_out += n as u64;
            }
        }
        self.release(now);
        true
    }

    /// No more datagrams will come from the peer (the server stops): from
    /// `now`, the session waits only `quiet` past the last traffic for
    /// the upstream's last replies.
    pub fn quiet(&mut self, now: Instant) {
        self.quiet_from.get_or_insert(now);
    }

    /// Whether it waits only for the upstream's last replies.
    pub fn is_quiet(&self) -> bool {
        self.quiet_from.is_some()
    }

    /// When it ends unless traffic comes first, or that it has ended
    /// (what its faults held that is due goes first; a datagram they
    /// still hold wakes it at its moment).
    pub fn next(&mut self, now: Instant) -> Next {
        if let Some(f) = self.faults.as_deref_mut() {
            f.refresh();
        }
        self.release(now);
        let until = match self.quiet_from {
            Some(from) => self.last.max(from) + self.timers.quiet,
            None => self.last + self.timers.idle,
        };
        if now >= until {
            Next::Ended
        } else {
            let due = self.faults.as_deref().and_then(DgramFaults::due);
            // A session the control socket may change looks at its table
            // at least this often, idle or not.
            let look = self
                .faults
                .as_deref()
                .filter(|f| f.is_live())
                .map(|_| now + crate::relay::live::LOOK_EVERY);
            let until = look.map_or(until, |l| l.min(until));
            Next::Until(due.map_or(until, |d| d.min(until)))
        }
    }
}

/// The main loop's end of a session's inbox.
#[derive(Debug)]
pub struct Inbox(OwnedFd);

/// What became of a datagram handed to a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    /// The inbox is full (the session's worker lags): dropped, as a full
    /// socket buffer drops it.
    Dropped,
    /// The session has ended: start a new one.
    Gone,
}

/// A new inbox: the main loop's end and the worker's.
pub fn inbox() -> io::Result<(Inbox, OwnedFd)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Inbox(a), b))
}

impl Inbox {
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Hand a datagram to the session, never waiting.
    pub fn deliver(&self, data: &[u8]) -> Delivered {
        let mut msg = Vec::with_capacity(data.len() + 1);
        msg.push(TAG);
        msg.extend_from_slice(data);
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        loop {
            match socket::send(self.raw_fd(), &msg, flags) {
                Ok(_) => return Delivered::Sent,
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return Delivered::Dropped,
                Err(_) => return Delivered::Gone,
            }
        }
    }
}

/// What an inbox read gave.
enum Got {
    Datagram(usize),
    /// The main loop closed it (the server stops).
    Closed,
    Empty,
}

fn take(inbox: &OwnedFd, buf: &mut [u8]) -> Got {
    loop {
        match socket::recv(inbox.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Got::Closed,
            Ok(n) => return Got::Datagram(n),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return Got::Empty,
        }
    }
}

/// Drive a session on a worker (a thread, or a child) until it ends: the
/// peer's datagrams arrive in `inbox` (the worker's end), the upstream's
/// answers on the session's upstream socket, which must not block.
pub fn run<R: Replies>(inbox: OwnedFd, s: &mut DgramSession<Dgram, R>) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut buf = vec![0u8; BUF];
    let mut open = true;
    loop {
        let now = Instant::now();
        let until = match s.next(now) {
            Next::Until(t) => t,
            Next::Ended if open => {
                // Idle: no more deliveries, then forward what already came
                // (and wait a moment for its replies).
                let _ = socket::shutdown(inbox.as_raw_fd(), socket::Shutdown::Read);
                open = false;
                let mut drained = false;
                while let Got::Datagram(n) = take(&inbox, &mut buf) {
                    drained = true;
                    s.from_peer(&buf[1..n], now);
                }
                if !drained {
                    return;
                }
                s.quiet(now);
                continue;
            }
            Next::Ended => return,
        };
        let left = until.saturating_duration_since(now);
        let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = Vec::with_capacity(2);
        let mut watch = |fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        };
        let up_at = s.upstream().map(|up| watch(up.as_fd()));
        let in_at = open.then(|| watch(inbox.as_fd()));
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        let ready = |at: Option<usize>| {
            at.and_then(|i| fds.get(i))
                .is_some_and(|f| f.revents().is_some_and(|r| !r.is_empty()))
        };
        let (up_ready, in_ready) = (ready(up_at), ready(in_at));
        drop(fds);
        let now = Instant::now();
        if up_ready {
            while s.from_upstream(&mut buf, now) {}
        }
        if in_ready {
            loop {
                match take(&inbox, &mut buf) {
                    Got::Datagram(n) => s.from_peer(&buf[1..n], now),
                    Got::Closed => {
                        // The server is stopping: wait a moment for replies.
                        open = false;
                        s.quiet(now);
                        break;
                    }
                    Got::Empty => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
