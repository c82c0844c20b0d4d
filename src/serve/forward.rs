//! `--forward` in the event loop: each connection gets an upstream
//! connection, opened without waiting (a non-blocking connect, watched as
//! the connection's `PART_UPSTREAM`), and two [`Half`]s that move bytes
//! each way as far as both sockets take them.
//!
//! Names that need the system's resolver are looked up on a helper
//! thread, one lookup at a time, and the answer is kept for a second: a
//! slow DNS server never holds up the loop, and a burst of connections
//! costs one lookup. Literal addresses, `localhost` and Unix names need no
//! lookup.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Waker};

use super::{Conn, Loop};
use crate::addr::ProxyKind;
use crate::addr::{self, Addr};
use crate::event::Via;
use crate::handler::End;
use crate::handler::forward::{DGRAM_QUIET, Forward, Upstream};
use crate::output::hex_to_stderr;
use crate::relay::nonblocking::{Half, PipePool};
use crate::relay::{Fail, Side};
use crate::runtime::token::{self, PART_UPSTREAM};
use crate::transport::proxy::{Destination, Handshake, Proxy};
use crate::transport::tls::TlsStream;
use crate::transport::{self, Stream, Target};

/// How long a looked-up answer is used for new connections.
const LOOKUP_TTL: Duration = Duration::from_secs(1);

/// A forwarded connection's upstream side.
pub(super) struct Fwd {
    /// Where it goes (the server's one `--forward` target, shared).
    target: Arc<Forward>,
    up: Up,
    /// From the client to the upstream.
    to_up: Half,
    /// From the upstream to the client.
    to_down: Half,
    /// When the connect gives up.
    deadline: Instant,
    /// The last datagram from a datagram upstream (it has no FIN: after
    /// the client's, quiet ends the connection).
    last_down: Instant,
    via: Via,
    /// When one direction (not both) had ended: the other's quiet is
    /// bounded by `--half-close-timeout` from then on.
    half_at: Option<Instant>,
    /// The half-close timer waiting in the loop's heap, if any: one at a
    /// time, however many events the open direction brings.
    half_timer: Option<Instant>,
}

/// The stages of the upstream's connect, each holding what the next one
/// takes over (the connected stream, the proxy's handshake).
enum Up {
    /// Waiting for the resolver thread.
    Resolving,
    /// Happy Eyeballs in the loop.
    Connecting {
        attempts: Attempts,
        /// With --proxy: the conversation that opens the tunnel, once the
        /// connect to the proxy is made.
        tunnel: Option<Box<Handshake>>,
    },
    /// Connected to the proxy; its handshake under way.
    Tunnel(Stream, Box<Handshake>),
    /// `--forward tls://…`: connected, the TLS handshake under way.
    Securing(Arc<TlsStream>),
    Open(Upstream),
}

/// A connect's attempts under way (each stream and the address it tries,
/// all watched under the connection's `PART_UPSTREAM`), the addresses not
/// tried yet, and when the next one starts.
struct Attempts {
    tries: Vec<(Stream, String)>,
    rest: VecDeque<SocketAddr>,
    next_at: Instant,
    /// Why the last attempt that failed did.
    last: Option<String>,
}

impl Attempts {
    fn new(rest: VecDeque<SocketAddr>) -> Attempts {
        Attempts {
            tries: Vec::new(),
            rest,
            next_at: Instant::now(),
            last: None,
        }
    }

    /// Why the connect failed, once no attempt is left.
    fn why(&self) -> String {
        self.last.clone().unwrap_or_else(|| "no address".into())
    }

    /// Start the next attempts: the next address now, and the one after
    /// it at once while they fail on the spot; the one after a started
    /// attempt waits `ATTEMPT_DELAY`.
    fn start_next(&mut self, f: &Forward) {
        while let Some(sa) = self.rest.pop_front() {
            match transport::connect_start(Target::Inet(sa), &f.opts) {
                Ok(stream) => {
                    self.tries.push((stream, addr::show(&sa)));
                    self.next_at = Instant::now() + transport::ATTEMPT_DELAY;
                    return;
                }
                Err(e) => {
                    self.last = Some(format!(
                        "connect to {}: {}",
                        addr::show(&sa),
                        crate::error::describe(&e)
                    ))
                }
            }
        }
    }
}

impl Fwd {
    /// Both directions have ended (and a TLS upstream has sent all it has).
    pub(super) fn done(&self) -> bool {
        let pending = match &self.up {
            Up::Open(Upstream::Stream(s)) => s.tls().is_some_and(|t| t.has_pending()),
            _ => false,
        };
        self.to_up.done && self.to_down.done && !pending
    }

    pub(super) fn via(&self) -> Option<Via> {
        let copied = self.to_up.copied || self.to_down.copied;
        matches!(self.up, Up::Open(_)).then_some(if copied { Via::Copy } else { self.via })
    }

    /// Give back the pipes the halves hold.
    pub(super) fn release(&mut self, pool: &mut PipePool) {
        self.to_up.release(pool);
        self.to_down.release(pool);
    }

    /// What moved: from the client, to the client.
    pub(super) fn moved(&self) -> (u64, u64) {
        (self.to_up.moved, self.to_down.moved)
    }

    /// A reset on one side resets the other.
    pub(super) fn reset(&self, client: &Stream) {
        client.reset_on_close();
        match &self.up {
            Up::Open(Upstream::Stream(s)) | Up::Tunnel(s, _) => s.reset_on_close(),
            Up::Connecting { attempts, .. } => {
                attempts.tries.iter().for_each(|(s, _)| s.reset_on_close())
            }
            Up::Securing(t) => t.sock().reset_on_close(),
            Up::Resolving | Up::Open(Upstream::Dgram(_)) => {}
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

/// A connected upstream: open, or (`--forward tls://…`) its TLS
/// handshake begun.
fn secure(f: &Forward, stream: Stream) -> Result<Up, String> {
    let Some(t) = f.opts.tls_client.as_deref() else {
        return Ok(Up::Open(Upstream::Stream(stream)));
    };
    let s = TlsStream::client(stream, t, &f.addr).map_err(|e| crate::error::describe(&e))?;
    Ok(Up::Securing(Arc::new(s)))
}

/// A connect failure's text, naming the proxy when there is one (the
/// blocking models' text is the same: `transport::proxy`).
fn through_proxy(f: &Forward, why: String) -> String {
    match &f.opts.proxy {
        Some(p) => format!("proxy {}: {why}", p.url),
        None => why,
    }
}

impl Loop {
    /// A stream that got through a stage of the upstream's connect (the
    /// connect itself, the proxy's tunnel): on to the next stage (the
    /// proxy's handshake when one waits for it), driven again at once,
    /// since bytes may already wait.
    fn connected(
        &mut self,
        f: &Forward,
        id: usize,
        stream: Stream,
        tunnel: Option<Box<Handshake>>,
    ) -> Result<Up, String> {
        let up = match tunnel {
            Some(hs) => Up::Tunnel(stream, hs),
            None => secure(f, stream)?,
        };
        self.again.push(id);
        Ok(up)
    }

    /// Begin the upstream side of a new connection, to `target`.
    pub(super) fn start_forward(&mut self, c: &mut Conn, id: usize, target: &Arc<Forward>) {
        let now = Instant::now();
        if self.connect_check.is_none() {
            self.connect_check = Some(now + check_every(target.timeout));
        }
        let r = self.first_up(target, id, now);
        match self.watched(id, r) {
            Ok(up) => {
                let splice = !self.server.settings.drive.hex && !target.addr.is_datagram();
                c.fwd = Some(Box::new(Fwd {
                    target: target.clone(),
                    up,
                    to_up: Half::new(splice),
                    to_down: Half::new(splice),
                    deadline: now + target.timeout,
                    last_down: now,
                    via: if splice { Via::Splice } else { Via::Copy },
                    half_at: None,
                    half_timer: None,
                }));
            }
            Err(why) => self.forward_failed(c, target, &why),
        }
    }

    /// The upstream's first stage: a connect begun, or (a name the
    /// resolver thread is asked for) `Up::Resolving`.
    fn first_up(&mut self, f: &Forward, id: usize, now: Instant) -> Result<Up, String> {
        let addrs = match &f.addr {
            Addr::Unix { name, dgram } => {
                return if *dgram {
                    transport::dgram_to(Target::Unix(name))
                        .map(|d| Up::Open(Upstream::Dgram(d)))
                        .map_err(|e| e.to_string())
                } else {
                    transport::connect_start(Target::Unix(name), &f.opts)
                        .map(|stream| Up::Connecting {
                            attempts: Attempts {
                                tries: vec![(stream, f.shown.to_string())],
                                rest: VecDeque::new(),
                                next_at: now,
                                last: None,
                            },
                            tunnel: None,
                        })
                        .map_err(|e| crate::error::describe(&e))
                };
            }
            Addr::Inet { host, port, .. } => {
                // socks5h:// and http:// name the target to the proxy; only
                // socks5:// looks it up here (below), as a direct connect does.
                if let Some(p) = f
                    .opts
                    .proxy
                    .as_deref()
                    .filter(|p| p.url.kind != ProxyKind::Socks5)
                {
                    let dest = Destination::Name(host.clone(), *port);
                    return self.open_proxy(f, p, dest);
                }
                if addr::needs_lookup(host) {
                    match &self.lookup.cached {
                        Some((at, a)) if at.elapsed() < LOOKUP_TTL => a.clone(),
                        _ => {
                            self.lookup.waiting.push(id);
                            self.ask(host.clone(), *port, f.opts.family);
                            return Ok(Up::Resolving);
                        }
                    }
                } else {
                    addr::resolve(host, *port, f.opts.family).map_err(|e| e.to_string())?
                }
            }
        };
        self.open_stream(f, addrs.into())
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
            let Some(f) = c
                .fwd
                .as_deref_mut()
                .filter(|f| matches!(f.up, Up::Resolving))
            else {
                // It gave up waiting meanwhile.
                self.conns.insert(id, c);
                continue;
            };
            let target = f.target.clone();
            let r = match &answer {
                Ok(a) => self.open_stream(&target, a.clone().into()),
                Err(m) => Err(m.clone()),
            };
            match self.watched(id, r) {
                Ok(up) => f.up = up,
                Err(why) => self.forward_failed(&mut c, &target, &why),
            }
            self.conns.insert(id, c);
            self.again.push(id);
        }
    }

    /// Begin connecting to a name's addresses (a datagram socket: the
    /// first that binds). Stream connects go Happy Eyeballs style: in
    /// `transport::interleave`'s order, the first now, the next
    /// `ATTEMPT_DELAY` later beside it (see `advance`).
    fn open_inet(&self, f: &Forward, rest: VecDeque<SocketAddr>) -> Result<Up, String> {
        if f.addr.is_datagram() {
            let mut last = String::from("no address");
            for sa in rest {
                match transport::dgram_to(Target::Inet(sa)) {
                    Ok(d) => return Ok(Up::Open(Upstream::Dgram(d))),
                    Err(e) => last = e.to_string(),
                }
            }
            return Err(last);
        }
        let order: Vec<SocketAddr> = rest.into_iter().collect();
        let mut attempts = Attempts::new(transport::interleave(&order).into());
        attempts.start_next(f);
        if attempts.tries.is_empty() {
            return Err(attempts.why());
        }
        Ok(Up::Connecting {
            attempts,
            tunnel: None,
        })
    }

    /// [`Loop::open_inet`] for a stream connection, which may go through
    /// the proxy: socks5:// asks it for the name's first address.
    fn open_stream(&self, f: &Forward, rest: VecDeque<SocketAddr>) -> Result<Up, String> {
        match f.opts.proxy.as_deref() {
            Some(p) => {
                let first = rest.front().copied().ok_or("no address")?;
                self.open_proxy(f, p, Destination::Addr(first))
            }
            None => self.open_inet(f, rest),
        }
    }

    /// Begin connecting to the proxy (its addresses Happy Eyeballs style),
    /// with the handshake that asks it for `dest` waiting for the connect.
    fn open_proxy(&self, f: &Forward, p: &Proxy, dest: Destination) -> Result<Up, String> {
        let mut attempts = Attempts::new(transport::interleave(&p.addrs).into());
        attempts.start_next(f);
        if attempts.tries.is_empty() {
            return Err(format!("proxy {}: {}", p.url, attempts.why()));
        }
        Ok(Up::Connecting {
            attempts,
            tunnel: Some(Box::new(Handshake::new(&p.url, dest))),
        })
    }

    /// A new upstream state, its sockets watched (and the next Happy
    /// Eyeballs attempt's start in the timers), or why it failed.
    fn watched(&mut self, id: usize, r: Result<Up, String>) -> Result<Up, String> {
        let up = r?;
        watch(self.poll.registry(), &up, id).map_err(|e| crate::error::describe(&e))?;
        if let Up::Connecting { attempts, .. } = &up {
            if !attempts.rest.is_empty() {
                // Happy Eyeballs: the next attempt's start.
                self.timers.push(std::cmp::Reverse((attempts.next_at, id)));
            }
        }
        Ok(up)
    }

    /// The upstream could not be reached: say why and reset the client's
    /// connection.
    fn forward_failed(&mut self, c: &mut Conn, f: &Forward, why: &str) {
        self.server
            .settings
            .log
            .error(&format!("{}: {}", c.peer, f.failed(why)));
        // The client was owed an answer: a reset, not a FIN that looks
        // like an empty one. Nothing is left to do, so it closes now.
        c.stream.reset_on_close();
        c.fwd = None;
        c.session = None;
        c.read_done = true;
        c.finish = true;
        c.shut = true;
    }

    /// Make what progress a forwarded connection can make now.
    pub(super) fn progress_forward(&mut self, c: &mut Conn, id: usize) -> Result<(), End> {
        let now = Instant::now();
        let Some(f) = c.fwd.as_deref_mut() else {
            return Ok(());
        };
        let u = match &mut f.up {
            Up::Open(u) => &*u,
            // The connect, first. Its stage is taken by value, since a
            // stage hands its stream on to the next; every way out of
            // `advance` gives a stage back or fails the connection, which
            // drops `Fwd`, so the placeholder is never seen.
            stage => {
                let stage = std::mem::replace(stage, Up::Resolving);
                let target = f.target.clone();
                match self.advance(stage, &target, f.deadline, id, now) {
                    Ok(up) => f.up = up,
                    Err(why) => {
                        self.forward_failed(c, &target, &why);
                        self.again.push(id);
                    }
                }
                return Ok(());
            }
        };
        // The peer's name only for --hex: this runs on every event.
        let label = self.server.settings.drive.hex.then(|| c.peer.to_string());
        if let Upstream::Stream(s) = u {
            if let Some(t) = s.tls() {
                // What a full socket left over goes before anything new.
                match t.flush_pending() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        f.reset(&c.stream);
                        return Err(End::Io(e));
                    }
                }
            }
        }
        let up = match u {
            Upstream::Stream(s) => Side::Stream(s),
            Upstream::Dgram(d) => Side::Dgram(d),
        };
        let client = Side::Stream(&c.stream);
        let dump = |dir: char| {
            let label = &label;
            move |off: u64, data: &[u8]| {
                if let Some(l) = label {
                    hex_to_stderr(l, dir, off, data);
                }
            }
        };
        let r = f
            .to_up
            .pump(client, up, &mut self.buf, &mut self.pipes, dump('<'))
            .and_then(|a| {
                f.to_down
                    .pump(up, client, &mut self.buf, &mut self.pipes, dump('>'))
                    .map(|b| (a, b))
            });
        let ((n1, more1), (n2, more2)) = match r {
            Ok(x) => x,
            Err(fail) => {
                f.reset(&c.stream);
                return Err(match fail {
                    Fail::Read(e) | Fail::Write(e) => End::Io(e),
                    Fail::Idle => End::IdleTimeout,
                    Fail::HalfClosed => End::HalfClosed(f.target.half_close),
                });
            }
        };
        if n1 + n2 > 0 {
            c.last = now;
        }
        if n2 > 0 {
            f.last_down = now;
        }
        if more1 || more2 {
            self.again.push(id);
        }
        // A datagram upstream has no FIN: after the client's, quiet ends it.
        if up.is_dgram() && f.to_up.done && !f.to_down.done {
            let quiet_until = f.last_down.max(c.last) + DGRAM_QUIET;
            if now >= quiet_until {
                f.to_down.done = true;
                client.shut_write();
            } else {
                self.timers.push(std::cmp::Reverse((quiet_until, id)));
            }
        } else if f.to_up.done != f.to_down.done {
            // One direction ended: the other gets --half-close-timeout
            // without traffic (measured from that end, or its last byte).
            let half_at = *f.half_at.get_or_insert(now);
            let bound = f.target.half_close;
            let until = c.last.max(half_at) + bound;
            if now >= until {
                return Err(End::HalfClosed(bound));
            }
            if f.half_timer.is_none_or(|t| now >= t) {
                f.half_timer = Some(until);
                self.timers.push(std::cmp::Reverse((until, id)));
            }
        }
        Ok(())
    }

    /// One step of the upstream's connect: the stage it is at now (the
    /// same one while it waits), or why it failed.
    fn advance(
        &mut self,
        stage: Up,
        f: &Forward,
        deadline: Instant,
        id: usize,
        now: Instant,
    ) -> Result<Up, String> {
        let waited = || humantime::format_duration(f.timeout);
        match stage {
            Up::Resolving if now < deadline => Ok(Up::Resolving),
            Up::Resolving => Err(format!("no answer from the resolver in {}", waited())),
            Up::Connecting {
                mut attempts,
                tunnel,
            } => {
                let a = &mut attempts;
                let mut won = None;
                let mut i = 0;
                while i < a.tries.len() {
                    match a.tries[i].0.connect_done() {
                        Ok(true) => {
                            won = Some(a.tries.swap_remove(i).0);
                            break;
                        }
                        Ok(false) => i += 1,
                        Err(e) => {
                            let (_, at) = a.tries.remove(i);
                            a.last =
                                Some(format!("connect to {at}: {}", crate::error::describe(&e)));
                            // A failure starts the next attempt at once.
                            a.next_at = now;
                        }
                    }
                }
                if let Some(stream) = won {
                    // The other attempts close here.
                    return self.connected(f, id, stream, tunnel);
                }
                if now >= deadline {
                    let at = a
                        .tries
                        .first()
                        .map_or("the upstream".to_string(), |t| t.1.clone());
                    return Err(through_proxy(
                        f,
                        format!("connect to {at}: timed out after {}", waited()),
                    ));
                }
                if !a.rest.is_empty() && (now >= a.next_at || a.tries.is_empty()) {
                    let before = a.tries.len();
                    a.start_next(f);
                    for (s, _) in &a.tries[before..] {
                        let _ = self.poll.registry().register(
                            &mut SourceFd(&s.poll_fd()),
                            token::conn(id, PART_UPSTREAM),
                            Interest::READABLE | Interest::WRITABLE,
                        );
                    }
                    if !a.rest.is_empty() {
                        self.timers.push(std::cmp::Reverse((a.next_at, id)));
                    }
                }
                if a.tries.is_empty() {
                    return Err(through_proxy(f, a.why()));
                }
                Ok(Up::Connecting { attempts, tunnel })
            }
            Up::Tunnel(mut stream, mut hs) => {
                match handshake_step(&mut stream, &mut hs, &mut self.buf) {
                    Ok(true) => self.connected(f, id, stream, None),
                    Ok(false) if now < deadline => Ok(Up::Tunnel(stream, hs)),
                    Ok(false) => Err(through_proxy(f, format!("no answer within {}", waited()))),
                    Err(why) => Err(through_proxy(f, why)),
                }
            }
            Up::Securing(t) => match t.handshake_nowait() {
                Ok(true) => {
                    self.again.push(id);
                    Ok(Up::Open(Upstream::Stream(Stream::Tls(t))))
                }
                Ok(false) if now < deadline => Ok(Up::Securing(t)),
                Ok(false) => Err(format!("tls: no handshake within {}", waited())),
                Err(e) => Err(crate::error::describe(&e)),
            },
            Up::Open(u) => Ok(Up::Open(u)),
        }
    }
}

/// One step of a proxy's handshake on a non-blocking socket: send what
/// it can, read what the handshake allows. `Ok(true)` once the tunnel is
/// open.
fn handshake_step(s: &mut Stream, hs: &mut Handshake, buf: &mut [u8]) -> Result<bool, String> {
    use std::io::Read;
    flush(s, hs)?;
    while hs.want() > 0 {
        let want = hs.want().min(buf.len());
        match s.read(&mut buf[..want]) {
            Ok(0) => return Err("it closed the connection during the handshake".into()),
            Ok(n) => {
                if hs.feed(&buf[..n])? {
                    return Ok(true);
                }
                // It may have more to say now (SOCKS's user and password,
                // then the request).
                flush(s, hs)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::error::describe(&e)),
        }
    }
    Ok(hs.is_done())
}

/// Send what the handshake has to say, as far as the socket takes it.
fn flush(s: &mut Stream, hs: &mut Handshake) -> Result<(), String> {
    use std::io::Write;
    while !hs.output().is_empty() {
        match s.write(hs.output()) {
            Ok(n) => hs.wrote(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::error::describe(&e)),
        }
    }
    Ok(())
}

/// How often connects are checked against their deadline: a timeout is
/// noticed at most a quarter late.
fn check_every(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
}

impl Loop {
    /// Drive the connections whose connect is past its deadline (they
    /// fail there); returns when to look again, while any connect is under
    /// way.
    pub(super) fn check_connects(&mut self, now: Instant) -> Option<Instant> {
        let mut every = None;
        for (id, c) in &self.conns {
            if let Some(f) = &c.fwd {
                if !matches!(f.up, Up::Open(_)) {
                    every = Some(check_every(f.target.timeout));
                    if now >= f.deadline {
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
fn watch(registry: &Registry, up: &Up, id: usize) -> io::Result<()> {
    let fds: Vec<std::os::fd::RawFd> = match up {
        Up::Resolving => return Ok(()),
        Up::Connecting { attempts, .. } => {
            attempts.tries.iter().map(|(s, _)| s.poll_fd()).collect()
        }
        Up::Open(Upstream::Stream(stream)) | Up::Tunnel(stream, _) => vec![stream.poll_fd()],
        Up::Securing(t) => vec![t.sock().poll_fd()],
        Up::Open(Upstream::Dgram(d)) => vec![d.as_raw_fd()],
    };
    for fd in fds {
        registry.register(
            &mut SourceFd(&fd),
            token::conn(id, PART_UPSTREAM),
            Interest::READABLE | Interest::WRITABLE,
        )?;
    }
    Ok(())
}

impl Loop {
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
        match self.open_inet(f, addrs.into())? {
            Up::Open(Upstream::Dgram(g)) => Ok(Some(g)),
            _ => Err("not a datagram address".into()),
        }
    }
}
