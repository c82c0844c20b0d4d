//! The blocking pumps (thread-serve, fork-serve): a program's pipes, a
//! forwarded connection's bridge, and the lingering close.
//!
//! Two directions, each ending on its own, as tokio's `copy_bidirectional`
//! does: the peer's FIN closes the program's stdin; the program's end of
//! output shuts our write side. Then the close lingers (Apache's lingering
//! close): what the peer still sends is read and dropped for a bounded time
//! before the socket is closed, because closing a socket with unread input
//! sends a reset, and a reset can destroy the reply still in flight.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Fail, Moved, Side};
use crate::event::Via;
use crate::output::hex_to_stderr;
use crate::transport::Stream;

/// How long a closing connection keeps reading (and dropping) what the peer
/// still sends, waiting for its FIN.
pub const LINGER: Duration = Duration::from_secs(2);

/// Bytes per read.
const BUF: usize = 64 * 1024;

/// How a pump ended other than by both sides closing cleanly.
#[derive(Debug)]
pub enum Ended {
    /// Reading from or writing to the peer failed.
    Endpoint(io::Error),
    /// Reading the program's output failed.
    Program(io::Error),
    /// No traffic from the peer for the idle timeout.
    Idle,
    /// A forwarded connection stayed quiet for the half-close timeout
    /// after one of its directions had ended.
    HalfClosed,
}

/// Options of a pump.
#[derive(Clone, Copy, Debug, Default)]
pub struct PumpOpts {
    pub idle: Option<Duration>,
    pub hex: bool,
}

/// Move bytes both ways between `peer` (`label` in hex dumps) and a
/// program's pipes until the
/// program's output ends, then close with a lingering close. `on_idle` runs
/// when the peer's idle timeout expires (to stop the program). Returns what
/// moved each way, and how it ended if not cleanly.
pub fn pump(
    peer: &Stream,
    label: &str,
    mut to_prog: impl Write + Send,
    mut from_prog: impl Read,
    o: PumpOpts,
    on_idle: impl FnOnce() + Send,
) -> (Moved, Option<Ended>) {
    if let Err(e) = peer.set_read_timeout(o.idle) {
        return (Moved::default(), Some(Ended::Endpoint(e)));
    }
    std::thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let up = s.spawn(move || {
            let mut buf = vec![0u8; BUF];
            let mut n_in = 0u64;
            let mut prog_open = true;
            let mut ended = None;
            loop {
                match (&*peer).read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if o.hex {
                            hex_to_stderr(label, '<', n_in, &buf[..n]);
                        }
                        n_in += n as u64;
                        // A program that stopped reading gets no more; what
                        // the peer still sends is read and dropped, so the
                        // close is not a reset.
                        if prog_open && to_prog.write_all(&buf[..n]).is_err() {
                            prog_open = false;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if is_timeout(&e) => {
                        ended = Some(Ended::Idle);
                        on_idle();
                        break;
                    }
                    Err(e) => {
                        ended = Some(Ended::Endpoint(e));
                        break;
                    }
                }
            }
            // Dropping the write end is the program's EOF.
            drop(to_prog);
            let _ = done_tx.send(());
            (n_in, ended)
        });
        let mut buf = vec![0u8; BUF];
        let mut n_out = 0u64;
        let mut down = None;
        loop {
            match from_prog.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if o.hex {
                        hex_to_stderr(label, '>', n_out, &buf[..n]);
                    }
                    if let Err(e) = (&*peer).write_all(&buf[..n]) {
                        down = Some(Ended::Endpoint(e));
                        break;
                    }
                    n_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    down = Some(Ended::Program(e));
                    break;
                }
            }
        }
        // The program is done talking: FIN, then let the reading side run
        // on (it drops what it reads) until the peer's FIN or the linger
        // bound, and only then cut it.
        let _ = peer.shutdown(Shutdown::Write);
        if done_rx.recv_timeout(LINGER).is_err() {
            let _ = peer.shutdown(Shutdown::Both);
        }
        let (n_in, up_end) = up.join().unwrap_or((0, None));
        let moved = Moved {
            up: n_in,
            down: n_out,
        };
        // An idle timeout says more than the errors it caused.
        let end = match (up_end, down) {
            (Some(Ended::Idle), _) => Some(Ended::Idle),
            (_, Some(d)) => Some(d),
            (u, None) => u,
        };
        (moved, end)
    })
}

/// Shut the write side (FIN) and read what the peer still sends, dropping
/// it, until its FIN or for at most [`LINGER`]; the caller closes after.
pub fn linger_close(peer: &Stream) {
    let _ = peer.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut buf = vec![0u8; BUF];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || peer.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*peer).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// How often a blocking bridge that reads a datagram socket looks up from
/// its wait (a datagram socket has no FIN, so only time ends it).
const TICK: Duration = Duration::from_millis(100);

/// How often a blocking bridge's write that waits for a slow reader looks
/// up: a cut or a failure of the other direction must end it without
/// shutting the socket's write side, which would send a FIN and make a
/// cut transfer look complete.
const WRITE_TICK: Duration = Duration::from_millis(250);

/// The server is cutting every connection (thread-serve, at the end of the
/// grace period): see [`cut_all`].
static CUT: AtomicBool = AtomicBool::new(false);

/// The sockets of the bridges running in this process (second handles),
/// so [`cut_all`] can wake them.
static LIVE: std::sync::Mutex<Vec<(u64, Stream)>> = std::sync::Mutex::new(Vec::new());
static NEXT_LIVE: AtomicU64 = AtomicU64::new(0);

/// End every bridge in this process with a reset, never a FIN: a transfer
/// cut by the grace period must not look complete. Each socket's close is
/// made a reset and its readers are woken (a shut read side sends nothing
/// to the peer); writers waiting on a slow reader notice within
/// [`WRITE_TICK`]. (fork-serve needs none of this: its child is killed,
/// and the reset armed at the bridge's start does the rest.)
pub fn cut_all() {
    CUT.store(true, Ordering::SeqCst);
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    for (_, s) in live.iter() {
        s.reset_on_close();
        let _ = s.shutdown(Shutdown::Read);
    }
}

fn cut_error() -> Fail {
    Fail::Read(io::Error::other("closed at shutdown"))
}

/// A bridge's sockets in [`LIVE`] while it runs.
struct Registered(Option<u64>);

impl Registered {
    fn new(streams: &[&Stream]) -> Registered {
        let id = NEXT_LIVE.fetch_add(1, Ordering::Relaxed);
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let mut any = false;
        for s in streams {
            if let Ok(dup) = s.try_clone() {
                live.push((id, dup));
                any = true;
            }
        }
        Registered(any.then_some(id))
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
            live.retain(|(i, _)| *i != id);
        }
    }
}

/// Size of a bridge's splice pipe: each call moves up to this much.
const PIPE: usize = 256 * 1024;

/// Bridge pipes grown to [`PIPE`] at once (16 MiB), across the whole
/// server: fork-serve's children share the count (see
/// [`share_pipe_budget`]). A pipe's whole capacity counts against its
/// user's pipe memory (64 MiB by default, past which every new pipe of that
/// user's, anyone's shell included, is cut to two pages).
const GROWN_MAX: usize = 64;
static GROWN_HERE: AtomicUsize = AtomicUsize::new(0);
static GROWN_SHARED: std::sync::OnceLock<&'static AtomicUsize> = std::sync::OnceLock::new();

/// The count of grown bridge pipes: one per process, or one for the
/// parent and all its children once [`share_pipe_budget`] has run.
fn grown() -> &'static AtomicUsize {
    GROWN_SHARED.get().copied().unwrap_or(&GROWN_HERE)
}

/// Make the grown-pipe count one for this process and every child it
/// forks from now on (fork-serve calls it before its first fork), so the
/// cap holds for the server, not per child. A child killed outright keeps
/// its share until the server exits; a child that ends normally returns it.
pub fn share_pipe_budget() {
    if let Ok(shared) = crate::sys::shared_counter() {
        let _ = GROWN_SHARED.set(shared);
    }
}

/// A bridge direction's pipe. It starts at the kernel's default size and
/// is grown to [`PIPE`] only while bytes stream through it (a read fills
/// it), within [`GROWN_MAX`]; before a read that would wait it is shrunk
/// back, so an idle connection never holds a grown pipe.
struct BridgePipe {
    r: std::os::fd::OwnedFd,
    w: std::os::fd::OwnedFd,
    cap: usize,
    /// The default capacity, to shrink back to.
    small: usize,
    grown: bool,
}

impl BridgePipe {
    fn new() -> io::Result<BridgePipe> {
        let (r, w, cap) = crate::sys::splice_pipe(None)?;
        Ok(BridgePipe {
            r,
            w,
            cap,
            small: cap,
            grown: false,
        })
    }

    /// A read filled the pipe: bulk is flowing, so move more per call.
    fn grow(&mut self) {
        if self.grown {
            return;
        }
        // Take a share of the budget first; give it back if there was none
        // or the kernel says no.
        if grown().fetch_add(1, Ordering::Relaxed) < GROWN_MAX {
            if let Some(cap) = crate::sys::resize_pipe(self.w.as_fd(), PIPE) {
                self.cap = cap;
                self.grown = true;
                return;
            }
        }
        grown().fetch_sub(1, Ordering::Relaxed);
    }

    /// The next read may wait: give the memory back (the pipe is empty).
    fn shrink(&mut self) {
        if self.grown {
            if let Some(cap) = crate::sys::resize_pipe(self.w.as_fd(), self.small) {
                self.cap = cap;
                self.grown = false;
                grown().fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for BridgePipe {
    fn drop(&mut self) {
        if self.grown {
            grown().fetch_sub(1, Ordering::Relaxed);
        }
    }
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

/// What a bridge's two threads share.
struct Shared {
    began: Instant,
    /// Milliseconds since `began` of the last byte moved either way.
    last: AtomicU64,
    /// The peer's direction has ended (its FIN came).
    up_done: AtomicBool,
    /// The upstream's direction has ended (its FIN came).
    down_done: AtomicBool,
    /// A direction failed and the bridge is tearing down: the other
    /// direction must not take its wake-up for a FIN.
    broken: AtomicBool,
}

impl Shared {
    fn touch(&self) {
        self.last
            .store(self.began.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.began.elapsed().saturating_sub(last)
    }
}

/// Which way a direction carries bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// From the peer to the upstream.
    Up,
    /// From the upstream to the peer.
    Down,
}

/// Forward between `peer` and `up` until both directions have ended, each
/// on its own: the peer's FIN is passed to the upstream as a shutdown of
/// its write side and the other way round (the lesson's half-close,
/// through a relay). A reset or failure on one side resets the other; no
/// traffic either way for `idle` ends both with a FIN. Between two plain
/// stream sockets the bytes move by splice(2) through a pipe, never
/// through sockcat's memory; otherwise through a buffer. Blocking calls
/// bound memory: a slow reader stops its writer, which stops reading.
pub fn bridge(peer: &Stream, up: Side<'_>, o: BridgeOpts<'_>) -> (Moved, Via, Option<Ended>) {
    let client = Side::Stream(peer);
    let splice = !o.hex && client.plain_fd().is_some() && up.plain_fd().is_some();
    let via = if splice { Via::Splice } else { Via::Copy };
    let sh = Shared {
        began: Instant::now(),
        last: AtomicU64::new(0),
        up_done: AtomicBool::new(false),
        down_done: AtomicBool::new(false),
        broken: AtomicBool::new(false),
    };
    // Every read wakes at least once per half-close timeout, to see
    // whether the other direction ended meanwhile (`waited_enough`).
    let read_wait = o.idle.map_or(o.half_close, |i| i.min(o.half_close));
    let up_wait = if up.is_dgram() {
        read_wait.min(TICK)
    } else {
        read_wait
    };
    let write_wait = o.idle.map_or(WRITE_TICK, |i| i.min(WRITE_TICK));
    let timeouts = client
        .set_read_timeout(Some(read_wait))
        .and_then(|_| peer.set_write_timeout(Some(write_wait)))
        .and_then(|_| up.set_read_timeout(Some(up_wait)))
        .and_then(|_| match up {
            Side::Stream(s) => s.set_write_timeout(Some(write_wait)),
            Side::Dgram(_) => Ok(()),
        });
    if let Err(e) = timeouts {
        return (Moved::default(), via, Some(Ended::Endpoint(e)));
    }
    // Until both directions end cleanly, a close (this process killed,
    // the bridge failing) is a reset: bytes may be owed, and a FIN would
    // make a cut transfer look complete.
    client.reset_on_close();
    up.reset_on_close();
    let streams: Vec<&Stream> = match up {
        Side::Stream(s) => vec![peer, s],
        Side::Dgram(_) => vec![peer],
    };
    let live = Registered::new(&streams);
    if CUT.load(Ordering::SeqCst) {
        return (
            Moved::default(),
            via,
            Some(Ended::Endpoint(io::Error::other("closed at shutdown"))),
        );
    }
    let (up_r, down_r) = std::thread::scope(|s| {
        let h = s.spawn(|| carry(client, up, Dir::Up, &sh, &o, splice));
        let down = carry(up, client, Dir::Down, &sh, &o, splice);
        let upr = h.join().unwrap_or_else(|_| {
            let e = io::Error::other("the relay's thread failed (a bug in sockcat)");
            (0, Some(Fail::Read(e)))
        });
        (upr, down)
    });
    let moved = Moved {
        up: up_r.0,
        down: down_r.0,
    };
    // An idle timeout says more than the errors it caused; otherwise the
    // first real failure.
    let end = match (up_r.1, down_r.1) {
        (Some(Fail::Idle), _) | (_, Some(Fail::Idle)) => Some(Ended::Idle),
        (Some(Fail::Read(e) | Fail::Write(e)), _) | (_, Some(Fail::Read(e) | Fail::Write(e))) => {
            Some(Ended::Endpoint(e))
        }
        (Some(Fail::HalfClosed), _) | (_, Some(Fail::HalfClosed)) => Some(Ended::HalfClosed),
        (None, None) => None,
    };
    drop(live);
    if !matches!(end, Some(Ended::Endpoint(_) | Ended::Program(_))) {
        // Both directions ended (by FIN, or by a timeout that sent one):
        // the close is a FIN again, lingering as a close should.
        for s in streams {
            s.fin_on_close();
        }
    }
    (moved, via, end)
}

/// One direction of a bridge, from `from` to `to`, and what its end asks
/// of both sides. Returns the bytes moved and how it failed, if it did.
fn carry(
    from: Side<'_>,
    to: Side<'_>,
    dir: Dir,
    sh: &Shared,
    o: &BridgeOpts<'_>,
    splice: bool,
) -> (u64, Option<Fail>) {
    let mut moved = 0u64;
    let r = if splice {
        carry_splice(from, to, dir, sh, o, &mut moved)
    } else {
        carry_copy(from, to, dir, sh, o, &mut moved)
    };
    let broken = sh.broken.load(Ordering::SeqCst);
    match &r {
        // A wake-up from the other direction's failure (or idle timeout)
        // is not an end of stream: pass no FIN on, report nothing more.
        _ if broken => return (moved, None),
        // The source ended, or (half-closed) stayed quiet too long after
        // the other direction ended: pass a FIN on. Its end counts as
        // traffic, so the other direction's quiet is measured from here.
        Ok(()) | Err(Fail::HalfClosed) => {
            sh.touch();
            let done = match dir {
                Dir::Up => &sh.up_done,
                Dir::Down => &sh.down_done,
            };
            done.store(true, Ordering::SeqCst);
            to.shut_write();
        }
        Err(Fail::Idle) => {
            sh.broken.store(true, Ordering::SeqCst);
            // Both ends get a FIN, and both waits end.
            for side in [from, to] {
                if let Side::Stream(s) = side {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
        Err(_) => {
            sh.broken.store(true, Ordering::SeqCst);
            // One side reset (or failed, or the server cut it): the other
            // is reset too. Wake the other direction without a FIN (a shut
            // read side sends nothing): it reads `to`, and if it is
            // blocked writing to `from`, its write looks up within
            // WRITE_TICK and sees `broken`.
            from.reset_on_close();
            to.reset_on_close();
            to.shut_read();
            from.shut_read();
        }
    }
    (moved, r.err())
}

/// Whether a direction that saw no traffic for a while must end now:
/// `Some(Ok)` when a datagram upstream has been quiet long enough after
/// the peer's FIN (its end of stream), `Some(Err)` at the idle timeout.
fn waited_enough(
    from: Side<'_>,
    dir: Dir,
    sh: &Shared,
    o: &BridgeOpts<'_>,
) -> Option<Result<(), Fail>> {
    if sh.broken.load(Ordering::SeqCst) {
        return Some(Ok(()));
    }
    if CUT.load(Ordering::SeqCst) {
        return Some(Err(cut_error()));
    }
    let quiet = sh.quiet_for();
    if o.idle.is_some_and(|i| quiet >= i) {
        return Some(Err(Fail::Idle));
    }
    let other_done = match dir {
        Dir::Up => &sh.down_done,
        Dir::Down => &sh.up_done,
    }
    .load(Ordering::SeqCst);
    let after_fin = dir == Dir::Down && from.is_dgram() && other_done;
    if after_fin && quiet >= o.quiet {
        return Some(Ok(()));
    }
    if other_done && quiet >= o.half_close {
        return Some(Err(Fail::HalfClosed));
    }
    // Wake again when the nearest bound is due (traffic the other way may
    // have moved it since this read began), not a whole period later.
    let mut next = if other_done {
        o.half_close - quiet
    } else {
        o.half_close
    };
    if let Some(i) = o.idle {
        next = next.min(i - quiet);
    }
    if from.is_dgram() {
        next = next.min(TICK);
    }
    let _ = from.set_read_timeout(Some(next.max(Duration::from_millis(1))));
    None
}

/// A write that waited a while: the bridge may be over (quietly, when the
/// other direction failed), or idle.
fn write_waited(sh: &Shared, o: &BridgeOpts<'_>) -> Result<(), Fail> {
    if sh.broken.load(Ordering::SeqCst) {
        // Unwinds this direction; `carry` sees `broken` and stays quiet.
        return Err(Fail::Idle);
    }
    if CUT.load(Ordering::SeqCst) {
        return Err(cut_error());
    }
    match o.idle {
        Some(i) if sh.quiet_for() >= i => Err(Fail::Idle),
        _ => Ok(()),
    }
}

fn carry_copy(
    from: Side<'_>,
    to: Side<'_>,
    dir: Dir,
    sh: &Shared,
    o: &BridgeOpts<'_>,
    moved: &mut u64,
) -> Result<(), Fail> {
    let mut buf = vec![0u8; BUF.min(to.max_chunk())];
    loop {
        let n = match from.read(&mut buf) {
            // A cut wakes a reader with a shut read side: not an EOF.
            Ok(None) if CUT.load(Ordering::SeqCst) => return Err(cut_error()),
            Ok(None) => return Ok(()),
            Ok(Some(n)) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => match waited_enough(from, dir, sh, o) {
                Some(r) => return r,
                None => continue,
            },
            Err(e) => return Err(Fail::Read(e)),
        };
        sh.touch();
        let data = &buf[..n];
        if o.hex {
            let d = if dir == Dir::Up { '<' } else { '>' };
            hex_to_stderr(o.label, d, *moved, data);
        }
        let mut sent = 0;
        // A datagram goes whole, even an empty one.
        while sent < n || (to.is_dgram() && sent == 0 && n == 0) {
            match to.write(&data[sent..]) {
                Ok(k) => {
                    sent += k;
                    if n == 0 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => write_waited(sh, o)?,
                Err(e) => return Err(Fail::Write(e)),
            }
        }
        *moved += n as u64;
        sh.touch();
    }
}

fn carry_splice(
    from: Side<'_>,
    to: Side<'_>,
    dir: Dir,
    sh: &Shared,
    o: &BridgeOpts<'_>,
    moved: &mut u64,
) -> Result<(), Fail> {
    let (Some(src), Some(dst)) = (from.plain_fd(), to.plain_fd()) else {
        return carry_copy(from, to, dir, sh, o, moved);
    };
    let mut pipe = BridgePipe::new().map_err(Fail::Read)?;
    loop {
        if pipe.grown && !crate::sys::readable_now(src) {
            pipe.shrink();
        }
        let (pr, pw, cap) = (&pipe.r, &pipe.w, pipe.cap);
        let n = match crate::sys::splice_nb(src, pw.as_fd(), cap, false) {
            Ok(0) if CUT.load(Ordering::SeqCst) => return Err(cut_error()),
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => match waited_enough(from, dir, sh, o) {
                Some(r) => return r,
                None => continue,
            },
            Err(e) => return Err(Fail::Read(e)),
        };
        sh.touch();
        let mut left = n;
        while left > 0 {
            match crate::sys::splice_nb(pr.as_fd(), dst, left, false) {
                Ok(k) => left -= k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => write_waited(sh, o)?,
                Err(e) => return Err(Fail::Write(e)),
            }
        }
        *moved += n as u64;
        sh.touch();
        if n == cap {
            pipe.grow();
        }
    }
}
