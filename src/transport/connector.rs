//! [`Connector`]: a client connect as one non-blocking state machine, from
//! a target to a connected [`Upstream`]: the target's addresses (known at
//! once, or awaited from a resolver), Happy Eyeballs over them, the
//! proxy's [`Handshake`], then the PROXY protocol header (`--send-proxy`:
//! [`Announce`]), then TLS, all within the connect deadline.
//!
//! It does no waiting of its own: [`Connector::step`] moves it as far as
//! its sockets allow and [`Connector::watch`] says what to wait for next.
//! `serve`'s loop registers its sockets and steps it on their events (a
//! name's addresses come from the loop's resolver thread); every blocking
//! connect (`send`, load mode, the blocking models' `--forward`) is the
//! same machine waited on with poll(2) by `transport::wait`, which
//! resolves a name in place first.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use super::proxy::{self, Destination, Handshake};
use super::proxy_protocol::Announce;

use super::{
    Dgram, Opts, Stream, Target, connect_start, connect_start_from, dgram_for, interleave,
};
use crate::addr::{self, Addr, Family, ProxyKind};
use crate::error::Error;
use failure::Failure;

mod announce;
mod failure;
mod layered;
#[cfg(test)]
mod tests;

type Result<T, E = Error> = std::result::Result<T, E>;

/// How long Happy Eyeballs waits for one attempt before it starts the
/// next beside it (RFC 8305's recommended Connection Attempt Delay).
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// How often a patient connect (a blocking caller's) tries a Unix
/// listener again while its backlog is full.
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// What a client connect opened: a stream, or a datagram socket connected
/// to its peer (a forwarder's datagram upstream).
pub enum Upstream {
    Stream(Stream),
    Dgram(Dgram),
}

/// How failures are worded: each caller's texts are part of what it shows
/// its users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voice {
    /// `send` and load mode: a time limit is an [`Error::Timeout`] (exit
    /// 124), and a failed TLS handshake names the address.
    Client,
    /// A forwarder's upstream (every model): the event names the target
    /// (`forward to … failed: …`), so the text says only why, and a time
    /// limit says how long it waited.
    Forwarder,
}

/// Which way a descriptor is waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
    Both,
}

/// What a connect under way waits for: readiness of these descriptors,
/// or the deadline (the next attempt's start, or giving up).
#[derive(Debug, Default)]
pub struct Watch {
    pub fds: Vec<(RawFd, Interest)>,
    pub until: Option<Instant>,
}

/// A client connect under way (see the module).
pub struct Connector {
    target: Addr,
    opts: Opts,
    source: Option<SocketAddr>,
    voice: Voice,
    began: Instant,
    /// `--connect-timeout`, if any, and the deadline it makes.
    window: Option<Duration>,
    deadline: Option<Instant>,
    /// A blocking caller's: a Unix listener's full backlog is waited out
    /// (tried again) instead of refusing at once.
    patient: bool,
    /// Descriptors opened since [`Connector::started`] was last asked and
    /// still open (a closed one's number may come back for another).
    fresh: Vec<RawFd>,
    /// Whom `--send-proxy`'s header names: a forwarder's client (`None`
    /// inside for a Unix one), or unset for the socket's own ends.
    on_behalf: Option<Option<(SocketAddr, SocketAddr)>>,
    stage: Stage,
}

/// Where a connect is: each stage holds what the next one takes over.
enum Stage {
    /// Nothing done yet.
    Begin,
    /// Waiting for the target's addresses from a resolver.
    Resolving,
    /// The resolver's answer, taken up on the next step.
    Resolved(Result<Vec<SocketAddr>>),
    /// Happy Eyeballs to the target, or (with a tunnel) to the proxy.
    Connecting {
        attempts: Attempts,
        tunnel: Option<Box<Handshake>>,
    },
    /// A Unix listener's backlog was full: try again then.
    Backlogged { at: Instant },
    /// Connected to the proxy; its handshake under way.
    Tunnel { stream: Stream, hs: Box<Handshake> },
    /// Connected (through the tunnel, if any); the PROXY protocol header
    /// being written, before anything else (TLS's hello).
    Announcing { stream: Stream, out: Announce },
    /// Connected (through the tunnel, if any); a layer's handshake under
    /// way (TLS's, then a WebSocket's Upgrade), given until `until`.
    Securing {
        stream: Stream,
        until: Option<Instant>,
    },
    /// The result was handed out (or the connect failed).
    Ended,
}

/// A connect's attempts under way (each stream and where it goes), the
/// addresses not tried yet, and when the next one starts.
struct Attempts {
    tries: Vec<(Stream, String)>,
    rest: VecDeque<SocketAddr>,
    next_at: Instant,
    /// Where the last attempt that failed went, and why it failed.
    last: Option<(String, io::Error)>,
}

impl Connector {
    /// A connect to `target` with the client's `opts` (proxy, TLS, socket
    /// options): `timeout` bounds all of it (without one, a direct connect
    /// waits as long as the system does, a proxy gets
    /// [`proxy::HANDSHAKE_TIMEOUT`] and TLS [`tls::HANDSHAKE_TIMEOUT`]).
    /// Nothing starts until the first [`Connector::step`].
    pub fn new(
        target: &Addr,
        opts: &Opts,
        timeout: Option<Duration>,
        source: Option<SocketAddr>,
        voice: Voice,
    ) -> Connector {
        let began = Instant::now();
        Connector {
            target: target.clone(),
            opts: opts.clone(),
            source,
            voice,
            began,
            window: timeout,
            deadline: timeout.map(|t| began + t),
            patient: false,
            fresh: Vec::new(),
            on_behalf: None,
            stage: Stage::Begin,
        }
    }

    /// The name to look up, while the connect waits for its addresses:
    /// hand the answer to [`Connector::resolved`].
    pub fn lookup(&self) -> Option<(&str, u16, Family)> {
        match (&self.stage, &self.target) {
            (Stage::Resolving, Addr::Inet { host, port, .. }) => {
                Some((host, *port, self.opts.family))
            }
            _ => None,
        }
    }

    /// The resolver's answer for [`Connector::lookup`]'s name.
    pub fn resolved(&mut self, answer: Result<Vec<SocketAddr>>) {
        if matches!(self.stage, Stage::Resolving) {
            self.stage = Stage::Resolved(answer);
        }
    }

    /// A blocking caller's: a Unix listener's full backlog is waited out.
    pub(super) fn be_patient(&mut self) {
        self.patient = true;
    }

    /// When the whole connect gives up, if it ever does.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Descriptors opened since last asked and still open (the last may
    /// be the connected stream's, just handed out): an event loop
    /// registers each once (a closed one leaves its registrations by
    /// itself).
    pub fn started(&mut self) -> Vec<RawFd> {
        std::mem::take(&mut self.fresh)
    }

    /// Make every socket it holds close with a reset (a relay passes a
    /// reset on: the client's side was reset).
    pub fn reset_on_close(&self) {
        match &self.stage {
            Stage::Connecting { attempts, .. } => {
                attempts.tries.iter().for_each(|(s, _)| s.reset_on_close())
            }
            Stage::Tunnel { stream, .. }
            | Stage::Announcing { stream, .. }
            | Stage::Securing { stream, .. } => stream.reset_on_close(),
            _ => {}
        }
    }

    /// What to wait for before the next [`Connector::step`].
    pub fn watch(&self) -> Watch {
        let (fds, until) = self.waits();
        let fds = fds.into_iter().map(|(fd, how)| (fd.as_raw_fd(), how));
        Watch {
            fds: fds.collect(),
            until,
        }
    }

    /// [`Connector::watch`], the descriptors borrowed (for poll).
    pub(super) fn waits(&self) -> (Vec<(BorrowedFd<'_>, Interest)>, Option<Instant>) {
        match &self.stage {
            Stage::Begin | Stage::Resolved(_) | Stage::Ended => (Vec::new(), None),
            Stage::Resolving => (Vec::new(), self.deadline),
            Stage::Backlogged { at } => (Vec::new(), Some(*at)),
            Stage::Connecting { attempts, tunnel } => {
                let fds = attempts
                    .tries
                    .iter()
                    .map(|(s, _)| (fd_of(s), Interest::Write))
                    .collect();
                let give_up = self.until(tunnel.is_some());
                let next = (!attempts.rest.is_empty()).then_some(attempts.next_at);
                (fds, earliest(give_up, next))
            }
            Stage::Tunnel { stream, hs } => {
                let how = if hs.output().is_empty() {
                    Interest::Read
                } else {
                    Interest::Write
                };
                (vec![(fd_of(stream), how)], self.until(true))
            }
            Stage::Announcing { stream, .. } => {
                (vec![(fd_of(stream), Interest::Write)], self.until(true))
            }
            Stage::Securing { stream, until } => {
                let how = if stream.has_pending() {
                    Interest::Both
                } else {
                    Interest::Read
                };
                (vec![(fd_of(stream), how)], *until)
            }
        }
    }

    /// Move the connect as far as it goes now: `Ok(Some)` once connected
    /// (it is spent then), `Ok(None)` while it waits (see
    /// [`Connector::watch`]), or why it failed.
    pub fn step(&mut self, now: Instant) -> Result<Option<Upstream>> {
        let mut buf = [0u8; 512];
        loop {
            let stage = std::mem::replace(&mut self.stage, Stage::Ended);
            let next = match self.advance(stage, now, &mut buf) {
                Ok(Next::Stage(s)) => s,
                Ok(Next::Wait(s)) => {
                    self.stage = s;
                    return Ok(None);
                }
                Ok(Next::Done(u)) => return Ok(Some(u)),
                Err(f) => return Err(self.fail(f)),
            };
            self.stage = next;
        }
    }

    /// One stage's step: on to another stage at once, wait in one, or done.
    fn advance(&mut self, stage: Stage, now: Instant, buf: &mut [u8]) -> Result<Next, Failure> {
        Ok(match stage {
            Stage::Begin => self.begin()?,
            Stage::Resolving if self.deadline.is_some_and(|d| now >= d) => {
                return Err(Failure::ResolverSilent);
            }
            Stage::Resolving => Next::Wait(Stage::Resolving),
            Stage::Resolved(answer) => self.addressed(answer.map_err(Failure::Given)?)?,
            Stage::Backlogged { at } if now < at => Next::Wait(Stage::Backlogged { at }),
            Stage::Backlogged { .. } => Next::Stage(self.unix()?),
            Stage::Connecting { attempts, tunnel } => self.connecting(attempts, tunnel, now)?,
            Stage::Tunnel { mut stream, mut hs } => match proxy::step(&mut stream, &mut hs, buf) {
                Ok(true) => self.announce(stream)?,
                Ok(false) if self.until(true).is_none_or(|d| now < d) => {
                    Next::Wait(Stage::Tunnel { stream, hs })
                }
                Ok(false) => return Err(Failure::ProxySilent),
                Err(why) => return Err(Failure::Proxy(why)),
            },
            Stage::Announcing { stream, out } => self.announcing(stream, out, now)?,
            Stage::Securing { stream, until } => match stream.handshake_nowait() {
                // TLS done: a WebSocket's Upgrade next, if there is one.
                Ok(true) if stream.ws().is_none() => self.upgrade(stream),
                Ok(true) => Next::Done(Upstream::Stream(stream)),
                Ok(false) if until.is_none_or(|d| now < d) => {
                    Next::Wait(Stage::Securing { stream, until })
                }
                Ok(false) if stream.ws().is_some() => return Err(Failure::WsSilent),
                Ok(false) => return Err(Failure::TlsSilent),
                Err(e) => return Err(Failure::Tls(e)),
            },
            Stage::Ended => return Err(Failure::Given(Error::runtime("the connect has ended"))),
        })
    }

    /// The first stage: a Unix connect begun, the proxy asked for a name
    /// (socks5h://, http://), or the target's addresses (a literal or
    /// `localhost` at once; a name through the resolver).
    fn begin(&mut self) -> Result<Next, Failure> {
        let (host, port) = match &self.target {
            Addr::Unix { .. } if self.target.is_datagram() => return self.addressed(Vec::new()),
            Addr::Unix { .. } if self.opts.proxy.is_some() => {
                return Err(Failure::Given(Error::usage(format!(
                    "--proxy reaches TCP addresses only, not {}",
                    self.target
                ))));
            }
            Addr::Unix { .. } => return self.unix().map(Next::Stage),
            Addr::Inet { host, port, .. } => (host.clone(), *port),
        };
        if let Some(p) = self.opts.proxy.clone() {
            if p.url.kind != ProxyKind::Socks5 && !self.target.is_datagram() {
                return self.via_proxy(&p, Destination::Name(host, port));
            }
        }
        if addr::needs_lookup(&host) {
            return Ok(Next::Stage(Stage::Resolving));
        }
        let addrs = addr::resolve(&host, port, self.opts.family).map_err(Failure::Given)?;
        self.addressed(addrs)
    }

    /// The target's addresses are known: a datagram socket (the first
    /// that opens), the proxy asked for the first (socks5://, as curl
    /// does), or Happy Eyeballs over them.
    fn addressed(&mut self, addrs: Vec<SocketAddr>) -> Result<Next, Failure> {
        if self.target.is_datagram() {
            return dgram_for(&self.target, &addrs, self.source)
                .map(|d| Next::Done(Upstream::Dgram(d)))
                .map_err(Failure::Given);
        }
        if let Some(p) = self.opts.proxy.clone() {
            let first = addrs.first().copied().ok_or(Failure::NoAddress)?;
            return self.via_proxy(&p, Destination::Addr(first));
        }
        let order = self.of_source_family(&addrs).ok_or_else(|| {
            Failure::Given(Error::usage(format!(
                "--source has no address of the family of {}",
                self.target
            )))
        })?;
        self.attempt(order, None)
    }

    /// Begin connecting to the proxy (its addresses Happy Eyeballs style),
    /// with the handshake that asks it for `dest` waiting for the connect.
    fn via_proxy(&mut self, p: &proxy::Proxy, dest: Destination) -> Result<Next, Failure> {
        let order = self.of_source_family(&p.addrs).ok_or_else(|| {
            Failure::Given(Error::usage(format!(
                "--source has no address of the family of the proxy {}",
                p.url
            )))
        })?;
        self.attempt(order, Some(Box::new(Handshake::new(&p.url, dest))))
    }

    /// `addrs` in Happy Eyeballs order, without those `--source` cannot
    /// reach (`None` when that leaves none).
    fn of_source_family(&self, addrs: &[SocketAddr]) -> Option<Vec<SocketAddr>> {
        let kept: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|sa| self.source.is_none_or(|s| s.is_ipv4() == sa.is_ipv4()))
            .collect();
        (!kept.is_empty() || addrs.is_empty()).then(|| interleave(&kept))
    }

    /// Start Happy Eyeballs over `order`.
    fn attempt(
        &mut self,
        order: Vec<SocketAddr>,
        tunnel: Option<Box<Handshake>>,
    ) -> Result<Next, Failure> {
        let mut attempts = Attempts {
            tries: Vec::new(),
            rest: order.into(),
            next_at: Instant::now(),
            last: None,
        };
        self.start_next(&mut attempts);
        if attempts.tries.is_empty() {
            return Err(attempts.why());
        }
        Ok(Next::Stage(Stage::Connecting { attempts, tunnel }))
    }

    /// A Unix stream connect begun (a full backlog refuses at once, or
    /// for a patient caller is tried again shortly).
    fn unix(&mut self) -> Result<Stage, Failure> {
        let Addr::Unix { name, .. } = &self.target else {
            return Err(Failure::NoAddress);
        };
        let to = Target::Unix(name);
        let at = to.to_string();
        match connect_start(to, &self.opts) {
            Ok(stream) => {
                self.fresh.push(stream.poll_fd());
                Ok(Stage::Connecting {
                    attempts: Attempts {
                        tries: vec![(stream, at)],
                        rest: VecDeque::new(),
                        next_at: Instant::now(),
                        last: None,
                    },
                    tunnel: None,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.patient => {
                let at = Instant::now() + BACKLOG_RETRY;
                match self.deadline {
                    Some(d) if at >= d => Err(Failure::TimedOut { at: to.to_string() }),
                    _ => Ok(Stage::Backlogged { at }),
                }
            }
            Err(err) => Err(Failure::Refused { at, err }),
        }
    }

    /// Start the next attempts: the next address now, and the one after
    /// it at once while they fail on the spot; the one after a started
    /// attempt waits [`ATTEMPT_DELAY`].
    fn start_next(&mut self, a: &mut Attempts) {
        while let Some(sa) = a.rest.pop_front() {
            match start(sa, self.source, &self.opts) {
                Ok(stream) => {
                    self.fresh.push(stream.poll_fd());
                    a.tries.push((stream, addr::show(&sa)));
                    a.next_at = Instant::now() + ATTEMPT_DELAY;
                    return;
                }
                Err(e) => a.last = Some((addr::show(&sa), e)),
            }
        }
    }

    /// Happy Eyeballs' step: the first attempt to connect wins (the
    /// others close), a failure starts the next address at once, and the
    /// next one starts beside the others after [`ATTEMPT_DELAY`].
    fn connecting(
        &mut self,
        mut a: Attempts,
        tunnel: Option<Box<Handshake>>,
        now: Instant,
    ) -> Result<Next, Failure> {
        let mut i = 0;
        while i < a.tries.len() {
            match a.tries[i].0.connect_done() {
                Ok(true) => {
                    let (stream, _) = a.tries.swap_remove(i);
                    // The other attempts close here: only the winner is
                    // left to watch.
                    self.fresh.retain(|&fd| fd == stream.poll_fd());
                    return Ok(match tunnel {
                        Some(hs) => Next::Stage(Stage::Tunnel { stream, hs }),
                        None => self.announce(stream)?,
                    });
                }
                Ok(false) => i += 1,
                Err(e) => {
                    let (gone, at) = a.tries.remove(i);
                    self.fresh.retain(|&fd| fd != gone.poll_fd());
                    a.last = Some((at, e));
                    a.next_at = now;
                }
            }
        }
        if self.until(tunnel.is_some()).is_some_and(|d| now >= d) {
            let at = a.tries.first().map(|t| t.1.clone());
            let at = at.or_else(|| a.rest.front().map(addr::show));
            return Err(Failure::TimedOut {
                at: at.unwrap_or_else(|| "the upstream".into()),
            });
        }
        if !a.rest.is_empty() && (now >= a.next_at || a.tries.is_empty()) {
            self.start_next(&mut a);
        }
        if a.tries.is_empty() {
            return Err(a.why());
        }
        Ok(Next::Wait(Stage::Connecting {
            attempts: a,
            tunnel,
        }))
    }

    /// When the stage gives up: the deadline, or for the proxy's part
    /// without one, [`proxy::HANDSHAKE_TIMEOUT`] from the start.
    fn until(&self, proxied: bool) -> Option<Instant> {
        match self.deadline {
            None if proxied => Some(self.began + proxy::HANDSHAKE_TIMEOUT),
            d => d,
        }
    }
}

/// What one stage's step leads to.
enum Next {
    /// On to this stage now.
    Stage(Stage),
    /// This stage waits for its sockets or its time.
    Wait(Stage),
    Done(Upstream),
}

impl Attempts {
    /// Why the connect failed, once no attempt is left.
    fn why(&mut self) -> Failure {
        match self.last.take() {
            Some((at, err)) => Failure::Refused { at, err },
            None => Failure::NoAddress,
        }
    }
}

/// The earlier of two times, either of which may be unset.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A non-blocking TCP connect to `sa` (from `source`, if given), under way.
fn start(sa: SocketAddr, source: Option<SocketAddr>, opts: &Opts) -> io::Result<Stream> {
    connect_start_from(Target::Inet(sa), source, opts)
}

impl Upstream {
    /// The descriptor to watch for readiness.
    pub fn poll_fd(&self) -> RawFd {
        match self {
            Upstream::Stream(s) => s.poll_fd(),
            Upstream::Dgram(d) => d.as_raw_fd(),
        }
    }
}

/// A stream's socket, for readiness.
fn fd_of(s: &Stream) -> BorrowedFd<'_> {
    match s {
        Stream::Tcp(s) => s.as_fd(),
        Stream::Unix(s) => s.as_fd(),
        Stream::Tls(t) => fd_of(t.sock()),
        Stream::Ws(w) => fd_of(w.sock()),
    }
}
