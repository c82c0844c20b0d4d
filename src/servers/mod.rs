//! What the three server models share: turning arguments into a bound,
//! announced set of sockets, the access list, the connection budget
//! (`--once`, `--count`), and Ctrl-C / SIGTERM handling.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::access::Access;
use crate::error::{Error, Result};
use crate::event::Log;
use crate::handler::Drive;
use crate::handler::{Spec, exec};
use crate::transport::{self, Bound, Opts};

mod acceptor;
mod control;
pub mod schedule;
mod sessions;
mod signals;
mod slots;
mod stop;

pub use acceptor::*;
pub use sessions::*;
pub use signals::*;
pub use slots::*;
pub use stop::*;

/// What a server does with each connection, and how: made by
/// `start::server` (in its [`Config`]) and kept by the running [`Server`].
pub struct Service {
    pub spec: Spec,
    /// What the command line settled (events, limits, stopping, driving).
    pub settings: Settings,
}

/// A server's service and its bound sockets.
pub struct Server {
    pub bound: Bound,
    pub service: Service,
    pub signals: Signals,
    /// The transport's name for events: tcp, udp, unix, unixgram.
    pub kind: crate::addr::Kind,
}

impl Server {
    /// The admission step every model applies to a new connection (or
    /// datagram): the access list, then the event line and the count.
    /// Returns whether to serve it; a refused peer is logged here and gets
    /// no worker.
    pub fn admit(
        &self,
        kind: crate::addr::Kind,
        peer: &crate::transport::Endpoint,
        local: impl FnOnce() -> crate::transport::Endpoint,
        served: &mut u64,
    ) -> bool {
        if self.looped(peer, local) {
            return false;
        }
        if let Some(rule) = &self.service.settings.drive.proxy_protocol {
            // Only a trusted balancer's connection is taken (and counted);
            // its client is admitted once its header is read
            // (`handler::proxied::admit`).
            let trusted = rule
                .from
                .permits(peer.ip(), peer.credentials().map(|c| c.0));
            if !trusted {
                let why = "not a --proxy-from source";
                self.service
                    .settings
                    .log
                    .refused_because(kind, &peer.to_string(), why);
                return false;
            }
            *served += 1;
            return true;
        }
        if !self
            .service
            .settings
            .access
            .permits(peer.ip(), peer.credentials().map(|c| c.0))
        {
            self.service.settings.log.refused(kind, &peer.to_string());
            return false;
        }
        *served += 1;
        self.service
            .settings
            .log
            .connection(kind, &peer.to_string(), peer.credentials());
        true
    }

    /// A forwarder's connection (or datagram) from one of its own
    /// upstream sockets: a loop through a name or an interface that leads
    /// back here. It is closed at once, with one event line however
    /// often it repeats; left alone, each would open the next.
    fn looped(
        &self,
        peer: &crate::transport::Endpoint,
        local: impl FnOnce() -> crate::transport::Endpoint,
    ) -> bool {
        use crate::transport::Endpoint;
        if !matches!(self.service.spec, Spec::Forward(_)) {
            return false;
        }
        let Endpoint::Inet(p) = peer else {
            return false;
        };
        let Endpoint::Inet(l) = local() else {
            return false;
        };
        if !transport::ours::looped(*p, l) {
            return false;
        }
        self.service.settings.log.repeated(
            "forwarding loop",
            true,
            &format!(
                "refused {peer}: it comes from this server's own --forward upstream \
                 (a forwarding loop: the upstream leads back here)"
            ),
        );
        true
    }

    /// [`Server::admit`] for a datagram, which a replying handler also
    /// drops when answering it could make two servers bounce datagrams
    /// forever ([`crate::handler::reflection`]).
    pub fn admit_datagram(
        &self,
        kind: crate::addr::Kind,
        peer: &crate::transport::Endpoint,
        local: &crate::transport::Endpoint,
        served: &mut u64,
    ) -> bool {
        if self.service.spec.replies() && crate::handler::reflection(peer, local) {
            self.service.settings.log.refused(kind, &peer.to_string());
            return false;
        }
        self.admit(kind, peer, || local.clone(), served)
    }

    /// When to give up on open connections, once the server must stop: a
    /// signal leaves them `--grace`; a closed stdout (nobody to print
    /// for) ends them at once. `None` while neither has happened.
    pub fn stop_deadline(&self, stdout_closed: bool) -> Option<std::time::Instant> {
        let now = std::time::Instant::now();
        if stdout_closed {
            Some(now)
        } else if self.signals.count() > 0 {
            Some(now + self.service.settings.grace)
        } else {
            None
        }
    }
}

/// A server's configuration as the models take it: checked by
/// `cli::config`, its sockets adopted and its TLS and proxy made by
/// `start::server`.
pub struct Config {
    pub listen: transport::Listen,
    pub opts: Opts,
    pub service: Service,
}

/// What a server's command line settles that needs nothing made: events,
/// access, limits, stopping, and how a connection is driven.
pub struct Settings {
    pub log: Log,
    pub access: Access,
    /// Stop after this many connections (datagrams for UDP).
    pub limit: Option<u64>,
    pub max_conns: Option<u64>,
    /// The model's own bound on connections at once (children, threads).
    pub pool: u64,
    /// The flag that sets `pool` (`--max-children`, `--max-threads`;
    /// empty for `serve`, which has none).
    pub pool_flag: &'static str,
    pub grace: Duration,
    /// How long a peer that does not read may hold the others back
    /// (`serve --stall-timeout`; the blocking models relay nothing between
    /// connections).
    pub stall: Option<Duration>,
    pub drive: Drive,
}

#[cfg(test)]
impl Settings {
    /// Quiet settings with no limits (a grace period of `grace`), for the
    /// unit tests of the models and their parts.
    pub fn quiet(grace: Duration) -> Settings {
        let log = Log {
            level: crate::event::Level::Quiet,
            json: false,
            upstream: None,
        };
        Settings {
            log: log.clone(),
            access: Access::default(),
            limit: None,
            max_conns: None,
            pool: u64::MAX,
            pool_flag: "",
            grace,
            stall: None,
            drive: Drive {
                log,
                idle: None,
                hex: false,
                count: false,
                proxy_protocol: None,
            },
        }
    }
}

/// Bind every address and print the readiness lines.
pub fn setup(cfg: Config) -> Result<Server> {
    let Config {
        listen,
        opts,
        service,
    } = cfg;
    let Service { spec, settings } = &service;
    let log = &settings.log;
    raise_fd_limit();
    crate::sys::become_subreaper();
    crate::output::hex_as_json(log.json);
    let signals = install_signals()?;
    if let Some(t) = &opts.tls_server {
        log.certificate(&t.fingerprint, &t.spki, &t.curl_pin);
    }
    let bound = match listen {
        transport::Listen::Bind(addr) => transport::bind(&addr, &opts)?,
        transport::Listen::Inherited(bound) => bound,
    };
    if let Spec::Forward(f) = &spec {
        // Checked once bound: a port 0 (or an inherited socket) is only
        // known now. Through a proxy, the address is the proxy's to reach.
        if f.opts.proxy.is_none() {
            if let Some(local) = transport::ours::leads_here(&bound, &f.addr) {
                return Err(Error::usage(format!(
                    "--forward {} is this server's own address ({local}): every \
                     connection would be forwarded to the server itself",
                    f.shown
                )));
            }
        }
        transport::ours::enable();
    }
    // The control socket is bound before the readiness lines (a path it
    // cannot take is an error before the server says it is ready), and
    // said and served after them.
    let control = match &spec {
        Spec::Forward(f) => match &f.layers.control {
            Some(c) => Some((control::bind(c)?, c, f.layers.begun.clone())),
            None => None,
        },
        _ => None,
    };
    match &bound {
        Bound::Stream(ls) => {
            for l in ls {
                if let Some(f) = &l.file {
                    register_socket_file(f.path.clone());
                }
                log.listening(l.kind, &l.local.to_string());
            }
        }
        Bound::Dgram(ds) => {
            for d in ds {
                if let Some(f) = &d.file {
                    register_socket_file(f.path.clone());
                }
                log.listening(d.kind, &d.local.to_string());
            }
        }
    }
    if let Some((listener, c, begun)) = control {
        control::start(listener, c, begun, log)?;
    }
    warn_if_open(log, spec, &settings.access, &bound);
    let locals: Vec<String> = match &bound {
        Bound::Stream(ls) => ls
            .iter()
            .map(|l| format!("{} {}", l.kind, l.local))
            .collect(),
        Bound::Dgram(ds) => ds
            .iter()
            .map(|d| format!("{} {}", d.kind, d.local))
            .collect(),
    };
    notify(&format!(
        "READY=1\nSTATUS=listening on {}",
        locals.join(", ")
    ));
    Ok(Server {
        kind: bound.kind(),
        bound,
        service,
        signals,
    })
}

/// systemd's notification socket (sd_notify), when the service manager
/// gave one in `NOTIFY_SOCKET`: a path, or `@NAME` for an abstract socket.
static NOTIFY: OnceLock<
    Option<(
        std::os::unix::net::UnixDatagram,
        std::os::unix::net::SocketAddr,
    )>,
> = OnceLock::new();

/// Tell the service manager `msg` (`READY=1`, `STOPPING=1`, `STATUS=…`),
/// if it asked to be told; best effort, never an error.
pub fn notify(msg: &str) {
    let target = NOTIFY.get_or_init(|| {
        use std::os::linux::net::SocketAddrExt;
        let raw = std::env::var_os("NOTIFY_SOCKET")?;
        let raw = raw.to_str()?;
        let addr = match raw.strip_prefix('@') {
            Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name).ok()?,
            None => std::os::unix::net::SocketAddr::from_pathname(raw).ok()?,
        };
        let sock = std::os::unix::net::UnixDatagram::unbound().ok()?;
        Some((sock, addr))
    });
    if let Some((sock, addr)) = target {
        let _ = sock.send_to_addr(msg.as_bytes(), addr);
    }
}

/// The service manager's status line, with the connection counts, at most
/// once a second (a busy server must not flood it).
pub fn notify_status(served: u64, active: usize) {
    static LAST: Mutex<Option<(std::time::Instant, u64, usize)>> = Mutex::new(None);
    if NOTIFY.get().is_some_and(|n| n.is_none()) {
        return;
    }
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let due = match *last {
        Some((at, s, a)) => (s, a) != (served, active) && at.elapsed() >= Duration::from_secs(1),
        None => true,
    };
    if due {
        *last = Some((std::time::Instant::now(), served, active));
        notify(&format!("STATUS={served} served, {active} open"));
    }
}

/// A program on a port anyone can reach is a remote shell for anyone: say
/// so once, unless `--allow` says who may connect.
fn warn_if_open(log: &Log, spec: &Spec, access: &Access, bound: &Bound) {
    if !matches!(spec, Spec::Exec(_)) || access.restricts() {
        return;
    }
    let locals: Vec<&crate::transport::Endpoint> = match bound {
        Bound::Stream(ls) => ls.iter().map(|l| &l.local).collect(),
        Bound::Dgram(ds) => ds.iter().map(|d| &d.local).collect(),
    };
    for local in locals {
        if let crate::transport::Endpoint::Inet(a) = local {
            if !a.ip().is_loopback() {
                log.warning(&format!(
                    "{a} is not a loopback address: anyone who can reach it can run the \
                     --exec program; use --allow CIDR to say who may"
                ));
                return;
            }
        }
    }
}

/// A server holds a descriptor per connection: lift the soft limit to the
/// hard one, as many servers do, so thousands of peers fit. (Nothing here
/// uses select(), which is what the low default protects.)
fn raise_fd_limit() {
    crate::sys::raise_fd_limit();
}

/// A worker's hold on one connection slot, mini-redis style: dropping it,
/// when the connection ends or while a panicking worker unwinds, sends the
/// message it holds and wakes the accepting loop, so the slot always comes
/// back and `--once` or `--count` still end the server.
pub struct Slot<M: Send> {
    tx: std::sync::mpsc::Sender<M>,
    waker: Arc<mio::Waker>,
    msg: Option<M>,
}

impl<M: Send> Slot<M> {
    /// `on_drop` is what the loop hears if the worker never says more (a
    /// panic); [`Slot::finish`] replaces it with the real outcome.
    pub fn new(tx: std::sync::mpsc::Sender<M>, waker: Arc<mio::Waker>, on_drop: M) -> Slot<M> {
        Slot {
            tx,
            waker,
            msg: Some(on_drop),
        }
    }

    /// The work ended normally with `msg`.
    pub fn finish(mut self, msg: M) {
        self.msg = Some(msg);
    }
}

impl<M: Send> Drop for Slot<M> {
    fn drop(&mut self) {
        if let Some(m) = self.msg.take() {
            let _ = self.tx.send(m);
        }
        let _ = self.waker.wake();
    }
}

/// Connections served and their totals, for `-v`'s summary.
#[derive(Debug, Default)]
pub struct ServerTotals {
    pub conns: u64,
    pub tally: crate::event::ConnStats,
}

impl ServerTotals {
    pub fn add(&mut self, t: crate::event::ConnStats) {
        self.tally.bytes_in += t.bytes_in;
        self.tally.bytes_out += t.bytes_out;
    }
}

pub use token::{LISTEN_BASE, WAKE};

impl Server {
    /// The grace period ended with `open` connections still open: say so
    /// (a stop that had to cut them still exits as the signal asks).
    pub fn warn_cut(&self, open: usize) {
        if open > 0 {
            self.service.settings.log.warning(&format!(
                "the grace period is over: ending {open} {}{} still open",
                self.unit(),
                if open == 1 { "" } else { "s" }
            ));
        }
    }

    /// What this server serves, for its counts: a datagram server has no
    /// connections, but sessions (`--forward`) or datagrams (each one a
    /// request).
    pub fn unit(&self) -> &'static str {
        match (self.kind.is_datagram(), &self.service.spec) {
            (false, _) => "connection",
            (true, Spec::Forward(_)) => "session",
            (true, _) => "datagram",
        }
    }

    /// The end of every model: the `-v` summary, then the exit the way the
    /// server ended (a signal: interrupted; a closed stdout: quietly).
    pub fn finish(
        &self,
        totals: &ServerTotals,
        began: std::time::Instant,
        stdout_closed: bool,
    ) -> Result<()> {
        self.service.settings.log.flush_repeated(true);
        self.service
            .settings
            .log
            .summary(totals.conns, self.unit(), totals.tally, began.elapsed());
        // Nothing started for a connection outlives the server.
        exec::kill_leftovers();
        control::close();
        if self.signals.count() > 0 {
            // SIGTERM asks for a stop, and the stop went as asked: 0.
            return match crate::sys::stop_signal() {
                Some(nix::sys::signal::Signal::SIGTERM) => Ok(()),
                Some(nix::sys::signal::Signal::SIGHUP) => Err(Error::HungUp),
                _ => Err(Error::Interrupted),
            };
        }
        if stdout_closed {
            return Err(Error::StdoutClosed);
        }
        Ok(())
    }
}

/// Whether a server may take one more connection: not stopping, within
/// `--count`, within the model's pool and within `--max-conns`.
pub fn may_accept(server: &Server, served: u64, active: usize, stopping: bool) -> bool {
    !stopping
        && server.service.settings.limit.is_none_or(|l| served < l)
        && (active as u64) < server.service.settings.pool
        && server
            .service
            .settings
            .max_conns
            .is_none_or(|m| (active as u64) < m)
}

/// Why the connection (or datagram) a worker served ended, as a log line.
pub fn report(log: &Log, peer: &crate::transport::Endpoint, end: Option<&crate::handler::End>) {
    use crate::handler::End;
    match end {
        // Not an error: the reader went away, and the server stops quietly.
        None | Some(End::StdoutClosed) => {}
        Some(End::Io(e))
            if crate::error::peer_went_away(e) && log.level < crate::event::Level::Verbose => {}
        // An end the operator asked for, like a close: shown under -v.
        Some(End::HalfClosed(_)) if log.level < crate::event::Level::Verbose => {}
        Some(e) => log.error(&e.message(peer)),
    }
}

#[cfg(test)]
mod tests;
