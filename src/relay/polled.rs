//! The blocking models' driver (thread-serve's thread, fork-serve's
//! child): one connection's relay on ONE thread, waiting with poll(2) for
//! what the engine answered it waits for, until its deadline. A
//! process-wide cut descriptor, polled beside every relay, ends them all
//! at thread-serve's hard stop ([`cut_all`]).
//!
//! Also the lingering close every model ends a conversation with (Apache's
//! lingering close): what the peer still sends is read and dropped for a
//! bounded time before the socket is closed, because closing a socket
//! with unread input sends a reset, and a reset can destroy the reply
//! still in flight.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::bridge::{Bridge, Interest, Next, Ready, Rules};
use super::half::{self, Half, Port};
use super::layers::ConnLayers;
use super::{ByteCounts, RelayEnd, RelaySocket, pipes};
use crate::event::Via;
use crate::sys::PollWant;
use crate::transport::Stream;

/// How long a closing connection keeps reading (and dropping) what the peer
/// still sends, waiting for its FIN.
pub const LINGER: Duration = Duration::from_secs(2);

/// Set by [`cut_all`] before it signals the pipe: an end of stream read
/// after it is the cut's doing (thread-serve shuts the sockets' read
/// sides), not a FIN to pass on.
static CUTTING: AtomicBool = AtomicBool::new(false);

/// The cut pipe: made once, its read end polled by every relay; a byte
/// written (and never read) keeps it readable for all of them.
static CUT: OnceLock<Option<(OwnedFd, OwnedFd)>> = OnceLock::new();

fn cut_pipe() -> Option<&'static (OwnedFd, OwnedFd)> {
    CUT.get_or_init(|| crate::sys::pipe().ok()).as_ref()
}

/// Make the cut's pipe now (thread-serve, at its start, with its other
/// descriptors), rather than in the first relay: a server's descriptors
/// do not grow with what it has served.
pub fn make_cut_pipe() {
    cut_pipe();
}

/// The cut pipe if this process made it ([`make_cut_pipe`]): a
/// fork-serve child has none (it is killed instead), so its relay makes
/// no pipe and polls one descriptor fewer on every wait.
fn made_cut_pipe() -> Option<&'static (OwnedFd, OwnedFd)> {
    CUT.get().and_then(Option::as_ref)
}

/// The descriptor a relay polls to learn of a cut (`None`: no cut in
/// this process, or no pipe could be made, and relays end by their
/// sockets alone).
pub(super) fn cut_fd() -> Option<RawFd> {
    made_cut_pipe().map(|(r, _)| r.as_raw_fd())
}

/// The same descriptor, for a wait outside a relay that the cut must end
/// too: a worker's upstream connect and handshake
/// (`Forward::connect_until`), which would otherwise run past the grace
/// period.
pub fn cut_signal() -> Option<BorrowedFd<'static>> {
    made_cut_pipe().map(|(r, _)| r.as_fd())
}

/// End every relay in this process with a reset, never a FIN: a transfer
/// cut by the grace period must not look complete. (fork-serve needs none
/// of this: its child is killed, and the reset armed at the bridge's
/// start does the rest.)
pub fn cut_all() {
    CUTTING.store(true, Ordering::SeqCst);
    if let Some((_, w)) = cut_pipe() {
        let _ = crate::sys::write_all(w.as_fd(), b"x");
    }
}

fn shutdown_error() -> io::Error {
    io::Error::other("closed at shutdown")
}

/// Options of a bridge.
#[derive(Clone, Copy, Debug)]
pub struct BridgeOpts<'a> {
    pub idle: Option<Duration>,
    pub hex: bool,
    /// The peer, as hex dumps name it.
    pub label: &'a str,
    /// After the peer's FIN, how long a datagram upstream may stay quiet
    /// before the bridge ends.
    pub quiet: Duration,
    /// After one direction has ended, how long the other's source may stay
    /// quiet before the bridge ends.
    pub half_close: Duration,
}

/// Forward between `peer` and `up` until both directions have ended (see
/// [`Bridge`]), on this thread. Returns what moved, how, and how it
/// ended if not cleanly.
pub fn bridge(
    peer: &Stream,
    up: RelaySocket<'_>,
    layers: &mut ConnLayers,
    o: BridgeOpts<'_>,
) -> (ByteCounts, Via, Option<RelayEnd>) {
    let (client_socket, up_socket) = (RelaySocket::Stream(peer), up);
    // The ports the bridge steps: each socket, cut by the cut, under the
    // connection's layers (built afresh for each step's moment, after
    // what the control socket changed since the last).
    let (client, up) = layers.ports(Cuttable(client_socket), Cuttable(up_socket), Instant::now());
    // (Layers the control socket may add later must see every byte.)
    let splice = half::may_splice(&client, &up, o.hex) && !layers.is_live();
    // A live connection looks at the control socket's table at least
    // this often, idle or not.
    let look = layers.is_live().then_some(crate::relay::live::LOOK_EVERY);
    let via = if splice { Via::Splice } else { Via::Copy };
    if let Err(e) = client_socket
        .set_nonblocking(true)
        .and_then(|_| up_socket.set_nonblocking(true))
    {
        return (ByteCounts::default(), via, Some(RelayEnd::Endpoint(e)));
    }
    // Until both directions end cleanly, a close (this process killed,
    // the bridge failing) is a reset: bytes may be owed, and a FIN would
    // make a cut transfer look complete.
    client_socket.reset_on_close();
    up_socket.reset_on_close();
    let rules = Rules {
        idle: o.idle,
        half_close: o.half_close,
        quiet: o.quiet,
    };
    let mut b = Bridge::new(splice, rules, Instant::now()).level_triggered();
    pipes::pool().connection_began();
    // Made when a copy first needs it: a splicing bridge has none.
    let mut buf = Vec::new();
    let hex = o.hex.then_some(o.label);
    let cut = cut_fd();
    // Each step tries what poll saw ready. The first tries both
    // directions where a layer may hold bytes no readiness shows (TLS's
    // decrypted records); between two plain sockets it waits for poll,
    // which is level-triggered and says at once what is already there,
    // so a connection that never sends costs no copy buffer.
    let mut ready = if splice { Ready::NONE } else { Ready::ALL };
    let end = loop {
        let now = Instant::now();
        if layers.refresh(now) {
            ready = Ready::ALL;
        }
        let (client, up) = layers.ports(Cuttable(client_socket), Cuttable(up_socket), now);
        let w = match b.step(&client, &up, &mut buf, hex, ready, now) {
            Ok(Next::Done) => break None,
            Ok(Next::Wait(w)) => w,
            Err(end) => break Some(end),
        };
        if w.again {
            // A direction stopped at its budget: on at once, unless the
            // server is cutting.
            if CUTTING.load(Ordering::SeqCst) {
                break Some(b.fail(&client, &up, shutdown_error()));
            }
            ready = Ready::ALL;
            continue;
        }
        let timeout = w
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        let timeout = match (timeout, look) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        };
        let mut fds = [
            want(client_socket.poll_fd(), w.client),
            want(up_socket.poll_fd(), w.upstream),
            want(
                cut.unwrap_or(-1),
                Interest {
                    read: cut.is_some(),
                    write: false,
                },
            ),
        ];
        if let Err(e) = crate::sys::poll_ready(&mut fds, timeout) {
            break Some(b.fail(&client, &up, e));
        }
        if fds[2].readable {
            break Some(b.fail(&client, &up, shutdown_error()));
        }
        ready = Ready {
            client: seen(&fds[0]),
            upstream: seen(&fds[1]),
            ..Ready::ALL
        };
    };
    b.release();
    pipes::pool().connection_ended();
    if !matches!(end, Some(RelayEnd::Endpoint(_) | RelayEnd::Program(_))) {
        // Both directions ended (by FIN, or by a timeout that sent one):
        // the close is a FIN again, lingering as a close should.
        client_socket.fin_on_close();
        up_socket.fin_on_close();
    }
    let _ = client_socket.set_nonblocking(false);
    (b.moved(), b.via(), end)
}

/// What to wait for on one descriptor, as poll(2) takes it (every
/// poll(2) driver of an engine machine).
pub fn want(fd: RawFd, i: Interest) -> PollWant {
    PollWant {
        fd,
        read: i.read,
        write: i.write,
        readable: false,
        writable: false,
    }
}

fn seen(w: &PollWant) -> Interest {
    Interest {
        read: w.readable,
        write: w.writable,
    }
}

/// Shut the write side (FIN) and read what the peer still sends, dropping
/// it, until its FIN or for at most [`LINGER`]; the caller closes after.
/// The one lingering close, for every model.
pub fn linger_close(peer: &Stream) {
    let side = RelaySocket::Stream(peer);
    side.shut_write();
    if side.set_nonblocking(true).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut drop_in = Half::new(false);
    drop_in.discard();
    let mut buf = Vec::new();
    let nowhere = Nowhere;
    loop {
        let _ = side.flush();
        let more = match drop_in.pump(&side, &nowhere, &mut buf, |_, _| {}) {
            Ok(p) => p.more,
            Err(_) => break,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if (drop_in.is_done() && !side.holds_output()) || left.is_zero() {
            break;
        }
        let i = Interest {
            read: drop_in.wants_read(),
            write: side.holds_output(),
        };
        let timeout = if more { Duration::ZERO } else { left };
        let mut fds = [want(side.poll_fd(), i)];
        if crate::sys::poll_ready(&mut fds, Some(timeout)).is_err() {
            break;
        }
    }
    let _ = side.set_nonblocking(false);
}

/// A bridge's side, whose end of stream after a cut is the cut (an
/// error: both sides reset), never a FIN passed on.
#[derive(Clone, Copy)]
struct Cuttable<'a>(RelaySocket<'a>);

impl Port for Cuttable<'_> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.0)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.0.read(buf)
    }
    fn check_end(&self) -> io::Result<()> {
        if CUTTING.load(Ordering::SeqCst) {
            return Err(shutdown_error());
        }
        Ok(())
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.0.write(data)
    }
    fn plain_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.0.plain_fd()
    }
    fn shut_write(&self) {
        self.0.shut_write()
    }
}

/// A destination that takes nothing: what a discarding half reads goes
/// nowhere.
struct Nowhere;

impl Port for Nowhere {
    fn read(&self, _: &mut [u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        Ok(data.len())
    }
    fn shut_write(&self) {}
}
