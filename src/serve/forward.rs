//! `--forward` in the event loop: each connection gets an upstream
//! connection, opened without waiting (a non-blocking connect, watched as
//! the connection's `PART_UPSTREAM`), and once it is open the relay's
//! [`Bridge`], which moves bytes each way as far as both sockets take
//! them and applies the forwarding rules (half-close, a datagram
//! upstream's quiet); the loop steps it once per turn that brought events
//! for its sockets, with what they saw (only the directions they concern
//! are tried), and at the deadline it answers.
//!
//! Names that need the system's resolver are looked up on a helper
//! thread, one lookup at a time, and the answer is kept for a second: a
//! slow DNS server never holds up the loop, and a burst of connections
//! costs one lookup. Literal addresses, `localhost` and Unix names need no
//! lookup.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Waker};

use super::{Conn, EventLoop};
use crate::addr::{self, Addr};
use crate::event::Via;
use crate::handler::End;
use crate::handler::forward::{Client, DGRAM_QUIET, Forward};
use crate::relay::RelaySocket;
use crate::relay::bridge::{Bridge, Next, Ready, Rules};
use crate::relay::layers::ConnLayers;
use crate::servers::token::{self, PART_UPSTREAM};
use crate::transport::{self, Connector, Stream, Target, Upstream};

/// How long a looked-up answer is used for new connections.
const LOOKUP_TTL: Duration = Duration::from_secs(1);

/// A forwarded connection's upstream side.
pub(super) struct Forwarded {
    /// Where it goes (the server's one `--forward` target, shared).
    target: Arc<Forward>,
    up: UpstreamStage,
    /// Both directions and their rules (from the connect on, so its
    /// clock starts with the connection, as the client's does).
    bridge: Bridge,
    /// Its layers (`--rate`), over both sockets at each step.
    layers: ConnLayers,
    /// The bridge's deadline waiting in the loop's heap, if any: one at a
    /// time, however many events the open direction brings.
    timer: Option<Instant>,
    /// Reset on purpose (cut at the end of the grace period, or its step
    /// panicked): its close stays a reset.
    cut: bool,
    /// What the loop's events saw of its sockets since its last step
    /// (everything, when a step must try both ways: the first, or after
    /// one stopped at its budget): see [`Ready`].
    ready: Ready,
}

/// The upstream's connect under way, then the connection it made.
enum UpstreamStage {
    /// The resolver's answer, Happy Eyeballs, the proxy's tunnel, TLS:
    /// its sockets watched as the connection's `PART_UPSTREAM`.
    Connecting(Box<Connector>),
    Open(Upstream),
}

impl Forwarded {
    /// Both directions have ended (and a TLS upstream has sent all it has).
    pub(super) fn done(&self) -> bool {
        let pending = match &self.up {
            UpstreamStage::Open(Upstream::Stream(s)) => s.has_pending(),
            _ => false,
        };
        self.bridge.halves_done() && !pending
    }

    pub(super) fn via(&self) -> Option<Via> {
        matches!(self.up, UpstreamStage::Open(_)).then_some(self.bridge.via())
    }

    /// Give back the pipes the halves hold.
    pub(super) fn release(&mut self) {
        self.bridge.release();
    }

    /// What moved: from the client, to the client.
    pub(super) fn moved(&self) -> (u64, u64) {
        let m = self.bridge.moved();
        (m.up, m.down)
    }

    /// How the connection closes. Until both directions have ended, the
    /// close is a reset on both sides (armed when the forwarding began, as
    /// the blocking models arm theirs), so that this process ending at
    /// once (a second Ctrl-C) never sends a FIN that makes a cut transfer
    /// look complete. A connection that ended cleanly, or by a timeout
    /// that closes as a FIN (the idle and half-close timeouts), closes
    /// with a FIN again; one cut or failed stays a reset.
    pub(super) fn settle_close(&self, client: &Stream, clean: bool) {
        if !clean || self.cut {
            return;
        }
        client.fin_on_close();
        if let UpstreamStage::Open(Upstream::Stream(s)) = &self.up {
            s.fin_on_close();
        }
    }

    /// A reset on one side resets the other.
    pub(super) fn reset(&mut self, client: &Stream) {
        self.cut = true;
        client.reset_on_close();
        match &self.up {
            UpstreamStage::Open(Upstream::Stream(s)) => s.reset_on_close(),
            UpstreamStage::Connecting(c) => c.reset_on_close(),
            UpstreamStage::Open(Upstream::Dgram(_)) => {}
        }
    }
}

/// The resolver thread's answers, and the connections waiting for one.
pub(super) struct Lookup {
    tx: mpsc::Sender<Result<Vec<SocketAddr>, String>>,
    rx: mpsc::Receiver<Result<Vec<SocketAddr>, String>>,
    waker: Arc<Waker>,
    busy: bool,
    cached: Option<(Instant, Vec<SocketAddr>)>,
    waiting: Vec<usize>,
}

impl Lookup {
    pub(super) fn new(waker: Arc<Waker>) -> Lookup {
        let (tx, rx) = mpsc::channel();
        Lookup {
            tx,
            rx,
            waker,
            busy: false,
            cached: None,
            waiting: Vec::new(),
        }
    }
}

impl EventLoop {
    /// Begin the upstream side of a new connection, to `target`.
    pub(super) fn start_forward(&mut self, c: &mut Conn, id: usize, target: &Arc<Forward>) {
        let now = Instant::now();
        if self.connect_check.is_none() {
            self.connect_check = Some(now + check_every(target.timeout));
        }
        let log = &self.server.service.settings.log;
        let Ok(layers) = ConnLayers::start(&target.layers, log, &c.peer, now) else {
            // `--refuse`: a reset, before any connect to the upstream.
            c.stream.reset_on_close();
            c.talk = Some(crate::handler::conversation::Conversation::over());
            return;
        };
        let local = c.stream.local();
        let client = Client {
            peer: &c.peer,
            local: &local,
        };
        match self.first_up(target, client, id, now) {
            Ok(up) => {
                // Splicing where the bytes pass as they are (the halves
                // copy where a side has no plain descriptor); the loop's
                // own idle check covers every connection.
                let rules = Rules {
                    idle: None,
                    half_close: target.half_close,
                    quiet: DGRAM_QUIET,
                };
                // (Layers the control socket may add later must see
                // every byte: a live connection copies.)
                let splice = !self.server.service.settings.drive.hex && !layers.is_live();
                // The client is owed an answer from here on: see
                // `Forwarded::settle_close`.
                c.stream.reset_on_close();
                c.fwd = Some(Box::new(Forwarded {
                    target: target.clone(),
                    up,
                    bridge: Bridge::new(splice, rules, now),
                    layers,
                    timer: None,
                    cut: false,
                    ready: Ready::ALL,
                }));
            }
            Err(why) => self.forward_failed(c, target, &why),
        }
    }

    /// The upstream's connect begun (a name's addresses asked of the
    /// resolver thread, unless its last answer is fresh), or why it failed.
    fn first_up(
        &mut self,
        f: &Forward,
        client: Client<'_>,
        id: usize,
        now: Instant,
    ) -> Result<UpstreamStage, String> {
        let mut c = Box::new(f.connector(client));
        if let Some(u) = self.step_connect(&mut c, id, now)? {
            return Ok(UpstreamStage::Open(u));
        }
        if let Some((host, port, family)) = c.lookup() {
            match &self.lookup.cached {
                Some((at, a)) if at.elapsed() < LOOKUP_TTL => {
                    c.resolved(Ok(a.clone()));
                    if let Some(u) = self.step_connect(&mut c, id, now)? {
                        return Ok(UpstreamStage::Open(u));
                    }
                }
                _ => {
                    self.lookup.waiting.push(id);
                    let host = host.to_string();
                    self.ask(host, port, family);
                }
            }
        }
        Ok(UpstreamStage::Connecting(c))
    }

    /// Talk a connect: its new sockets watched (and Happy Eyeballs' next
    /// start in the timers); `Some` once connected (a datagram upstream,
    /// opened without a connect, is watched here).
    fn step_connect(
        &mut self,
        c: &mut Connector,
        id: usize,
        now: Instant,
    ) -> Result<Option<Upstream>, String> {
        let up = c.step(now).map_err(|e| e.to_string())?;
        let registry = self.poll.registry();
        let fresh = c.started();
        for fd in &fresh {
            register(registry, *fd, id).map_err(|e| crate::error::describe(&e))?;
        }
        match &up {
            Some(u @ Upstream::Dgram(_)) => {
                register(registry, u.poll_fd(), id).map_err(|e| crate::error::describe(&e))?
            }
            Some(Upstream::Stream(_)) => {}
            None if !fresh.is_empty() => {
                // Happy Eyeballs: the next attempt's start, before the deadline.
                if let Some(at) = c.watch().until.filter(|&at| Some(at) < c.deadline()) {
                    self.timers.push(std::cmp::Reverse((at, id)));
                }
            }
            None => {}
        }
        Ok(up)
    }

    /// Ask the resolver thread, unless it is already at work.
    fn ask(&mut self, host: String, port: u16, family: addr::Family) {
        if self.lookup.busy {
            return;
        }
        self.lookup.busy = true;
        let (tx, waker) = (self.lookup.tx.clone(), self.lookup.waker.clone());
        let spawned = std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                let r = addr::resolve(&host, port, family).map_err(|e| e.to_string());
                let _ = tx.send(r);
                let _ = waker.wake();
            });
        if let Err(e) = spawned {
            let _ = self.lookup.tx.send(Err(format!(
                "start a thread to resolve: {}",
                crate::error::describe(&e)
            )));
        }
    }

    /// An answer from the resolver thread: start the waiting connections.
    pub(super) fn lookup_answered(&mut self) {
        let Ok(answer) = self.lookup.rx.try_recv() else {
            return;
        };
        self.lookup.busy = false;
        if let Ok(a) = &answer {
            self.lookup.cached = Some((Instant::now(), a.clone()));
        }
        for id in std::mem::take(&mut self.lookup.waiting) {
            if let Some(s) = self.sessions.get(&id) {
                let target = s.target.clone();
                self.session_answered(id, &target, &answer);
                continue;
            }
            let Some(mut c) = self.conns.remove(&id) else {
                continue;
            };
            let Some(f) = c.fwd.as_deref_mut() else {
                // It gave up waiting meanwhile.
                self.conns.insert(id, c);
                continue;
            };
            if let UpstreamStage::Connecting(connector) = &mut f.up {
                connector.resolved(answer.clone().map_err(crate::error::Error::runtime));
            }
            self.conns.insert(id, c);
            self.again.push(id);
        }
    }

    /// The upstream could not be reached: say why and reset the client's
    /// connection.
    fn forward_failed(&mut self, c: &mut Conn, f: &Forward, why: &str) {
        self.server
            .service
            .settings
            .log
            .error(&format!("{}: {}", c.peer, f.failed(why)));
        // The client was owed an answer: a reset, not a FIN that looks
        // like an empty one. Nothing is left to do, so it closes now.
        c.stream.reset_on_close();
        c.fwd = None;
        c.talk = Some(crate::handler::conversation::Conversation::over());
    }

    /// Make what progress a forwarded connection can make now.
    pub(super) fn progress_forward(&mut self, c: &mut Conn, id: usize) -> Result<(), End> {
        let now = Instant::now();
        let Some(f) = c.fwd.as_deref_mut() else {
            return Ok(());
        };
        let u = match &mut f.up {
            UpstreamStage::Open(u) => &*u,
            // The connect, first: once it is made, the relay starts at
            // once, since bytes may already wait.
            UpstreamStage::Connecting(connector) => {
                match self.step_connect(connector, id, now) {
                    Ok(Some(u)) => {
                        if let Upstream::Stream(s) = &u {
                            s.reset_on_close();
                        }
                        f.up = UpstreamStage::Open(u);
                        // Bytes may wait on either side, with no event to come.
                        f.ready = Ready::ALL;
                    }
                    Ok(None) => return Ok(()),
                    Err(why) => {
                        let target = f.target.clone();
                        self.forward_failed(c, &target, &why);
                    }
                }
                self.again.push(id);
                return Ok(());
            }
        };
        let up = match u {
            Upstream::Stream(s) => RelaySocket::Stream(s),
            Upstream::Dgram(d) => RelaySocket::Dgram(d),
        };
        if f.layers.refresh(now) {
            // What a layer let go waits with no event to come.
            f.ready = Ready::ALL;
        }
        let (client, up) = f.layers.ports(RelaySocket::Stream(&c.stream), up, now);
        let label = self.hex_label(&c.peer);
        let next = f
            .bridge
            .step(
                &client,
                &up,
                &mut self.buf,
                label.as_deref(),
                std::mem::replace(&mut f.ready, Ready::NONE),
                now,
            )
            .map_err(End::from)?;
        c.last = c.last.max(f.bridge.last_traffic());
        let Next::Wait(w) = next else {
            return Ok(());
        };
        // (The loop watches both sockets for either readiness, edge
        // triggered: only what is due without an event is queued here.)
        if w.again {
            // A direction stopped at its budget: no event will say more is there.
            f.ready = Ready::ALL;
            self.again.push(id);
        }
        if let Some(at) = w.deadline {
            if f.timer.is_none_or(|t| now >= t || at < t) {
                f.timer = Some(at);
                self.timers.push(std::cmp::Reverse((at, id)));
            }
        }
        Ok(())
    }
}

impl EventLoop {
    /// `--control` changed the faults: every forwarded connection and
    /// datagram session is stepped now, idle or not, so it takes the
    /// change (and a timed fault added to an idle one counts from now).
    pub(super) fn control_changed(&mut self) {
        let Some((table, seen)) = &mut self.control else {
            return;
        };
        let v = table.version();
        if v == *seen {
            return;
        }
        *seen = v;
        for (&id, c) in self.conns.iter_mut() {
            if let Some(f) = c.fwd.as_deref_mut() {
                f.ready = Ready::ALL;
                self.again.push(id);
            }
        }
        self.again.extend(self.sessions.keys().copied());
    }

    /// Note what an event saw of a forwarded connection's socket, for the
    /// step it gets once this turn's events are all in
    /// ([`EventLoop::step_forwarded`]): one step for both sockets' events,
    /// trying only the directions they concern. `false`: the connection
    /// is not a forwarded one.
    pub(super) fn forward_event(&mut self, id: usize, ev: &mio::event::Event) -> bool {
        let Some(f) = self.conns.get_mut(&id).and_then(|c| c.fwd.as_deref_mut()) else {
            return false;
        };
        // A hang-up or an error is news to a reader and a writer alike:
        // the next read or write says what it is. The halves are told of
        // it too: after a hang-up, a short read may leave the FIN unread,
        // and no later event would tell of it.
        let failed = ev.is_error();
        let ended = ev.is_read_closed() || failed;
        let (seen, seen_end) = match token::conn_part(ev.token()) {
            Some(PART_UPSTREAM) => (&mut f.ready.upstream, &mut f.ready.upstream_end),
            _ => (&mut f.ready.client, &mut f.ready.client_end),
        };
        seen.read |= ev.is_readable() || ended;
        seen.write |= ev.is_writable() || ev.is_write_closed() || failed;
        *seen_end |= ended;
        self.seen_forwarded.push(id);
        true
    }

    /// Step each forwarded connection that had events this turn, once.
    pub(super) fn step_forwarded(&mut self) -> crate::error::Result<()> {
        let mut ids = std::mem::take(&mut self.seen_forwarded);
        ids.sort_unstable();
        ids.dedup();
        for &id in &ids {
            self.drive(id)?;
        }
        // The list's room, kept for the next turn.
        ids.clear();
        self.seen_forwarded = ids;
        Ok(())
    }
}

/// How often connects are checked against their deadline: a timeout is
/// noticed at most a quarter late.
fn check_every(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

impl EventLoop {
    /// Drive the connections whose connect is past its deadline (they
    /// fail there); returns when to look again, while any connect is under
    /// way.
    pub(super) fn check_connects(&mut self, now: Instant) -> Option<Instant> {
        let mut every = None;
        for (id, c) in &self.conns {
            if let Some(f) = &c.fwd {
                if let UpstreamStage::Connecting(connector) = &f.up {
                    every = Some(check_every(f.target.timeout));
                    if connector.deadline().is_some_and(|d| now >= d) {
                        self.again.push(*id);
                    }
                }
            }
        }
        every.map(|every| now + every)
    }
}

/// Watch an upstream socket (each attempt of a connect under way) as its
/// connection's `PART_UPSTREAM`.
fn register(registry: &Registry, fd: std::os::fd::RawFd, id: usize) -> io::Result<()> {
    registry.register(
        &mut SourceFd(&fd),
        token::conn(id, PART_UPSTREAM),
        Interest::READABLE | Interest::WRITABLE,
    )
}

impl EventLoop {
    /// A new session's upstream socket. A name that needs the resolver is
    /// asked of the helper thread (the answer is kept for a second):
    /// `Ok(None)` until it answers.
    pub(super) fn dgram_target(
        &mut self,
        f: &Forward,
        id: usize,
    ) -> Result<Option<crate::transport::Dgram>, String> {
        let addrs = match &f.addr {
            Addr::Unix { name, .. } => {
                return transport::dgram_to(Target::Unix(name))
                    .map(Some)
                    .map_err(|e| e.to_string());
            }
            Addr::Inet { host, port, .. } if addr::needs_lookup(host) => {
                match &self.lookup.cached {
                    Some((at, a)) if at.elapsed() < LOOKUP_TTL => a.clone(),
                    _ => {
                        self.lookup.waiting.push(id);
                        self.ask(host.clone(), *port, f.opts.family);
                        return Ok(None);
                    }
                }
            }
            Addr::Inet { host, port, .. } => {
                addr::resolve(host, *port, f.opts.family).map_err(|e| e.to_string())?
            }
        };
        self.dgram_open(f, addrs)
    }

    pub(super) fn dgram_open(
        &self,
        f: &Forward,
        addrs: Vec<SocketAddr>,
    ) -> Result<Option<crate::transport::Dgram>, String> {
        transport::open_dgram(&f.addr, &addrs)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}
