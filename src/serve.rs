//! `sockcat serve`: one thread, one mio event loop, many connections.
//!
//! The loop follows the shape mio's examples teach: tokens from a counter
//! that never repeats, every operation repeated until `WouldBlock` (events
//! are edge-triggered), an outgoing buffer per connection that exists only
//! while the socket is full, and reading from a source paused while its
//! destination's buffer is full so memory stays bounded.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

mod accept;
mod conn;
mod datagram;
mod dgram_sessions;
mod ending;
mod forward;
mod program;
mod proxied;
mod stdin;

use crate::error::{Context, Error, Result};
use crate::event::ConnStats;
use crate::handler::broker;
// (OUT_LIMIT: past this much queued output, the source that feeds it is
// not read.)
use crate::handler::conversation::{Conversation, OUT_LIMIT};
use crate::handler::{End, Session, Spec, exec};
use crate::relay::stdout::ToStdout;
use crate::servers::{self, Phase, Server, ServerTotals};
use crate::transport::{Bound, Dgram, Endpoint, Listener, Stream};
use datagram::DgramProgram;
use program::LoopProgram;
use stdin::{StdinKind, classify_stdin};

use crate::servers::token::{self, LISTEN_BASE, PART_SOCKET, STDIN, WAKE};

/// The loop's one read buffer, shared by every connection.
const READ_CHUNK: usize = 256 * 1024;
/// Reads per connection per turn, so one fast peer cannot starve the rest.
const READS_PER_TURN: usize = 16;

pub fn run(cfg: servers::Config) -> Result<()> {
    let server = servers::setup(cfg)?;
    let poll = Poll::new().context("create event loop")?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).context("create waker")?);
    servers::wake_on_signal(waker.clone());
    EventLoop::new(server, poll, waker)?.run()
}

struct Conn {
    stream: Stream,
    peer: Endpoint,
    /// A byte-level session's conversation: its session, greeting, queued
    /// output and FIN (none for a program or a forwarded connection).
    talk: Option<Conversation>,
    /// The program `--exec` started for this connection, its pipes and
    /// their relay in the loop. (Boxed, like the other rarities below: a
    /// connection without one pays a pointer, which matters for
    /// thousands of idle connections.)
    child: Option<Box<LoopProgram>>,
    /// `--forward`'s upstream side.
    fwd: Option<Box<forward::Forwarded>>,
    /// `--once` printing: the peer's bytes go to stdout by splice(2)
    /// (boxed: a connection that has none pays one pointer).
    to_stdout: Option<Box<ToStdout>>,
    /// TLS: the socket is watched for writable, because ciphertext waits
    /// for it (rustls's `tlsserver-mio`: interest follows what the session
    /// wants). A plain socket is watched for both, once.
    tls_writable: bool,
    /// `--proxy-protocol`: the header still being read (boxed: rare).
    header: Option<Box<crate::transport::proxy_protocol::Reading>>,
    started: Instant,
    /// Last traffic either way, for --idle-timeout.
    last: Instant,
    /// Last time queued output drained into the socket (broker stalls).
    last_out: Instant,
    tally: ConnStats,
    /// Its place in the budget, given back when the connection drops.
    _slot: servers::HeldSlot,
}

impl Conn {
    /// Whether the loop may read more from the peer now.
    /// Output queued for the peer and not yet taken.
    fn queued(&self) -> usize {
        self.talk.as_ref().map_or(0, Conversation::queued)
    }

    /// Whether our FIN went (or there is no conversation to send more).
    fn shut(&self) -> bool {
        self.talk.as_ref().is_none_or(Conversation::shut)
    }

    fn done(&self) -> bool {
        // TLS: ciphertext a full socket has not taken yet (the last bytes,
        // close_notify) still has to go.
        if self.stream.has_pending() {
            return false;
        }
        if let Some(f) = &self.fwd {
            return f.done();
        }
        if let Some(p) = &self.child {
            return p.done();
        }
        self.talk.as_ref().is_some_and(Conversation::done)
    }
}

struct EventLoop {
    poll: Poll,
    server: Server,
    listeners: Vec<Listener>,
    /// Shared with the forwarded datagram sessions, which answer their
    /// peers from them.
    dgrams: Vec<Arc<Dgram>>,
    conns: HashMap<usize, Conn>,
    /// The connections' slots in the budget (each `Conn` holds one).
    slots: servers::Slots,
    next_id: usize,
    buf: Vec<u8>,
    /// Connections to drive again without waiting for an event.
    again: Vec<usize>,
    /// Forwarded connections that had events this turn: each steps once,
    /// after them all, with what they saw (serve/forward.rs).
    seen_forwarded: Vec<usize>,
    /// Bytes a broker client sent, to queue on the others.
    broadcast: Vec<u8>,
    /// Broker senders waiting for a full receiver to drain.
    broker_paused: Vec<usize>,
    /// When to look for broker receivers that stopped reading.
    stall_check: Option<Instant>,
    served: u64,
    totals: ServerTotals,
    stdin: StdinKind,
    stdin_ready: bool,
    stdin_eof: bool,
    /// The stop (grace period, cut), as every model has it.
    stop: servers::Stop,
    next_idle_check: Option<Instant>,
    accept_retry: Option<Instant>,
    /// Accepting stopped at a limit (--max-conns, --count) with the
    /// backlog perhaps not empty.
    full: bool,
    /// Whether waiting connections have been mentioned in this burst.
    waiting: servers::Waiting,
    lingering: Vec<Child>,
    dgram_jobs: HashMap<usize, DgramProgram>,
    /// Connections to drive again at a given time (a datagram upstream's
    /// quiet period), soonest first.
    timers: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
    /// When to look for upstream connects past their deadline.
    connect_check: Option<Instant>,
    /// `--forward`'s name lookups.
    lookup: forward::Lookup,
    /// `--forward` on a datagram socket: each peer's session, by id, and
    /// the route to it from (socket, peer).
    sessions: HashMap<usize, dgram_sessions::LoopSession>,
    routes: servers::SessionRouter<usize>,
    /// Datagrams were left on a socket at the per-turn bound.
    dgram_more: bool,
    began: Instant,
    /// `--control`: the fault table, and the version the loop's
    /// connections were last stepped for.
    control: Option<(Arc<crate::relay::live::FaultTable>, u64)>,
}

impl EventLoop {
    fn new(mut server: Server, poll: Poll, waker: Arc<Waker>) -> Result<EventLoop> {
        let bound = std::mem::replace(&mut server.bound, Bound::Stream(Vec::new()));
        let (listeners, dgrams) = match bound {
            Bound::Stream(l) => (l, Vec::new()),
            Bound::Dgram(d) => (Vec::new(), d.into_iter().map(Arc::new).collect()),
        };
        for (i, l) in listeners.iter().enumerate() {
            l.set_nonblocking(true).context("set O_NONBLOCK")?;
            poll.registry()
                .register(
                    &mut SourceFd(&l.as_raw_fd()),
                    Token(LISTEN_BASE + i),
                    Interest::READABLE,
                )
                .context("watch listener")?;
        }
        for (i, d) in dgrams.iter().enumerate() {
            d.set_nonblocking(true).context("set O_NONBLOCK")?;
            poll.registry()
                .register(
                    &mut SourceFd(&d.as_raw_fd()),
                    Token(LISTEN_BASE + i),
                    Interest::READABLE,
                )
                .context("watch socket")?;
        }
        let relays = matches!(server.service.spec, Spec::Print) && dgrams.is_empty();
        let stdin = if relays {
            classify_stdin(&poll)
        } else {
            StdinKind::None
        };
        let idle = server.service.settings.drive.idle;
        let control = match &server.service.spec {
            crate::handler::Spec::Forward(f) => f.layers.control.as_ref().map(|c| {
                // The control socket's thread wakes the loop at each change.
                c.table.wake_with(waker.clone());
                (c.table.clone(), c.table.version())
            }),
            _ => None,
        };
        Ok(EventLoop {
            poll,
            server,
            listeners,
            dgrams,
            conns: HashMap::new(),
            slots: servers::Slots::default(),
            next_id: 0,
            buf: vec![0; READ_CHUNK],
            again: Vec::new(),
            seen_forwarded: Vec::new(),
            broadcast: Vec::new(),
            broker_paused: Vec::new(),
            stall_check: None,
            served: 0,
            totals: ServerTotals::default(),
            stdin,
            stdin_ready: stdin == StdinKind::File,
            stdin_eof: false,
            stop: servers::Stop::default(),
            next_idle_check: idle.map(|d| Instant::now() + d),
            accept_retry: None,
            full: false,
            waiting: servers::Waiting::default(),
            lingering: Vec::new(),
            dgram_jobs: HashMap::new(),
            timers: Default::default(),
            connect_check: None,
            lookup: forward::Lookup::new(waker),
            sessions: HashMap::new(),
            routes: servers::SessionRouter::new(),
            dgram_more: false,
            began: Instant::now(),
            control,
        })
    }

    fn run(mut self) -> Result<()> {
        let mut events = Events::with_capacity(1024);
        let result = loop {
            // Checked before every wait, not only on the waker's event: a
            // signal may have come before the waker was registered.
            if self.stop.begins(&self.server, false) {
                self.begin_stop();
            }
            if self.finished() {
                break Ok(());
            }
            // The loop closes what it cut itself: nothing is left to
            // wait for after the cut.
            if let Phase::Cut | Phase::Cutting | Phase::Abandon = self.stop.phase(Instant::now()) {
                self.abandon();
                break Ok(());
            }
            self.server.service.settings.log.flush_repeated(false);
            let timeout = crate::event::until_repeated_due(self.timeout());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break Err(Error::io("wait for events", e));
            }
            if let Err(e) = self.handle(&events) {
                break Err(e);
            }
        };
        self.reap(true);
        match result {
            Ok(()) => self.server.finish(&self.totals, self.began, false),
            Err(Error::StdoutClosed) => self.server.finish(&self.totals, self.began, true),
            Err(e) => {
                let _ = self.server.finish(&self.totals, self.began, false);
                Err(e)
            }
        }
    }

    /// Whether the server has nothing left to do.
    fn finished(&self) -> bool {
        let no_more = self.stop.stopping()
            || self
                .server
                .service
                .settings
                .limit
                .is_some_and(|l| self.served >= l)
            || (self.listeners.is_empty() && self.dgrams.is_empty());
        no_more
            && self.conns.is_empty()
            && self.lingering.is_empty()
            && self.dgram_jobs.is_empty()
            && self.sessions.is_empty()
    }

    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut t: Option<Duration> = None;
        let mut at = |when: Instant| {
            let d = when.saturating_duration_since(now);
            t = Some(t.map_or(d, |t| t.min(d)));
        };
        if !self.again.is_empty() || self.stdin_wanted() || self.dgram_more {
            at(now);
        }
        if let Some(d) = self.stop.due() {
            at(d);
        }
        if let Some(d) = self.next_idle_check {
            at(d);
        }
        if let Some(d) = self.accept_retry {
            at(d);
        }
        if let Some(d) = self.stall_check {
            at(d);
        }
        if let Some(std::cmp::Reverse((d, _))) = self.timers.peek() {
            at(*d);
        }
        if let Some(d) = self.connect_check {
            at(d);
        }
        if !self.lingering.is_empty() {
            // Exec'd programs that closed their stdout but have not exited.
            at(now + Duration::from_millis(50));
        }
        t
    }

    fn handle(&mut self, events: &Events) -> Result<()> {
        for ev in events.iter() {
            match ev.token() {
                // A signal (checked at the top of every turn), or a lookup
                // answered.
                WAKE => self.lookup_answered(),
                STDIN => self.stdin_ready = true,
                t => {
                    if let Some(id) = token::conn_id(t) {
                        if self.sessions.contains_key(&id) {
                            self.drive_session(id);
                        } else if self.dgram_jobs.contains_key(&id) {
                            self.drive_dgram_job(id)?;
                        } else if !self.forward_event(id, ev) {
                            self.drive(id)?;
                        }
                    } else if let Some(i) = t.0.checked_sub(LISTEN_BASE) {
                        if i < self.listeners.len() {
                            self.accept_all(i);
                        } else if i < self.dgrams.len() {
                            self.datagrams(i)?;
                        }
                    }
                }
            }
        }
        self.step_forwarded()?;
        self.control_changed();
        let now = Instant::now();
        while let Some(std::cmp::Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.again.push(id);
        }
        if self.connect_check.is_some_and(|t| now >= t) {
            self.connect_check = self.check_connects(now);
        }
        if std::mem::take(&mut self.dgram_more) {
            for i in 0..self.dgrams.len() {
                self.datagrams(i)?;
            }
        }
        for id in std::mem::take(&mut self.again) {
            if self.sessions.contains_key(&id) {
                self.drive_session(id);
            } else if self.dgram_jobs.contains_key(&id) {
                self.drive_dgram_job(id)?;
            } else {
                self.drive(id)?;
            }
        }
        if self.stdin_wanted() {
            self.relay_stdin()?;
        }
        let now = Instant::now();
        if self.next_idle_check.is_some_and(|t| now >= t) {
            self.close_idle(now);
        }
        if (!self.broker_paused.is_empty() || self.stdin_held_back())
            && self.stall_check.is_none_or(|t| now >= t)
        {
            let full = self.drop_stalled(now);
            self.stall_check = full.then(|| now + Duration::from_millis(250));
        }
        if self.accept_retry.is_some_and(|t| now >= t) {
            self.accept_retry = None;
            self.accept_more();
        }
        self.reap(false);
        servers::notify_status(self.served, self.slots.in_use() + self.sessions.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
