//! What the three server models share: turning arguments into a bound,
//! announced set of sockets, the access list, the connection budget
//! (`--once`, `--count`), and Ctrl-C / SIGTERM handling.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::access::Access;
use crate::addr::{self, Family};
use crate::cli::{CommonArgs, ServerArgs};
use crate::error::{Error, Result};
use crate::event::Log;
use crate::handler::Spec;
use crate::handler::drive::Drive;
use crate::transport::{self, Bound, Opts};

/// A server's checked configuration and its bound sockets.
pub struct Server {
    pub bound: Bound,
    pub spec: Spec,
    pub log: Log,
    pub access: Access,
    /// Stop after this many connections (datagrams for UDP).
    pub limit: Option<u64>,
    pub max_conns: Option<u64>,
    pub grace: Duration,
    pub drive: Drive,
    pub signals: Signals,
    /// The transport's name for events: tcp, udp, unix, unixgram.
    pub kind: &'static str,
}

impl Server {
    /// When to give up on open connections, once the server must stop: a
    /// signal leaves them `--grace`; a closed stdout (nobody to print
    /// for) ends them at once. `None` while neither has happened.
    pub fn stop_deadline(&self, stdout_closed: bool) -> Option<std::time::Instant> {
        let now = std::time::Instant::now();
        if stdout_closed {
            Some(now)
        } else if self.signals.count() > 0 {
            Some(now + self.grace)
        } else {
            None
        }
    }
}

pub fn family(c: &CommonArgs) -> Family {
    if c.ipv4 {
        Family::V4
    } else if c.ipv6 {
        Family::V6
    } else {
        Family::Any
    }
}

/// Check the arguments, bind every address and print the readiness lines.
pub fn setup(args: &ServerArgs, spec: Spec) -> Result<Server> {
    let log = Log::new(&args.common);
    raise_fd_limit();
    let signals = install_signals()?;
    let addr = addr::parse_with(&args.addr, args.common.udp, args.common.unix)?;
    if matches!(spec, Spec::Broker) && addr.is_datagram() {
        return Err(Error::usage(format!(
            "--broker relays between connections; {} has none (use tcp or unix)",
            addr.kind()
        )));
    }
    let access = Access::new(&args.allow, &args.deny)?;
    let opts = Opts {
        family: family(&args.common),
        backlog: args.backlog,
        keepalive: args.common.keepalive,
        nodelay: args.common.nodelay,
        mode: args.mode,
    };
    let bound = transport::bind(&addr, &opts)?;
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
    Ok(Server {
        kind: addr.kind(),
        bound,
        spec,
        log,
        access,
        limit: if args.once { Some(1) } else { args.count },
        max_conns: args.max_conns,
        grace: args.grace,
        drive: Drive {
            idle: args.idle_timeout,
            hex: args.common.hex,
        },
        signals,
    })
}

/// A server holds a descriptor per connection: lift the soft limit to the
/// hard one, as many servers do, so thousands of peers fit. (Nothing here
/// uses select(), which is what the low default protects.)
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Socket files and child processes to clean up if a second Ctrl-C makes
/// the process exit at once, skipping the orderly shutdown.
static SOCKET_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

fn register_socket_file(p: PathBuf) {
    SOCKET_FILES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(p);
}

pub fn child_started(pid: libc::pid_t) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

pub fn child_ended(pid: libc::pid_t) {
    let mut c = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = c.iter().position(|p| *p == pid) {
        c.swap_remove(i);
    }
}

/// Send `sig` to every child still running.
pub fn signal_children(sig: libc::c_int) {
    for pid in CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(*pid, sig) };
    }
}

/// How many times Ctrl-C or SIGTERM arrived.
#[derive(Clone)]
pub struct Signals(Arc<AtomicUsize>);

impl Signals {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The loop to wake when a signal arrives; set once the loop exists.
static SIGNAL_WAKER: OnceLock<Arc<mio::Waker>> = OnceLock::new();

/// Install the Ctrl-C / SIGTERM handler. It is installed before the first
/// readiness line is printed, so a signal sent as soon as a script sees
/// that line is never taken by the default action. The first signal wakes
/// the server's loop (see [`wake_on_signal`]), which begins its graceful
/// stop; a second one ends everything at once.
///
/// The handler runs on ctrlc's own thread. It takes no lock the main thread
/// could hold across `fork` (only the two cleanup lists above, and only on
/// the second signal, right before `_exit`), which keeps forking safe.
pub fn install_signals() -> Result<Signals> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    ctrlc::set_handler(move || {
        if c.fetch_add(1, Ordering::SeqCst) >= 1 {
            if let Ok(children) = CHILDREN.try_lock() {
                for pid in children.iter() {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(*pid, libc::SIGKILL) };
                }
            }
            if let Ok(files) = SOCKET_FILES.try_lock() {
                for f in files.iter() {
                    let _ = std::fs::remove_file(f);
                }
            }
            // SAFETY: exit at once, as a second Ctrl-C asks.
            unsafe { libc::_exit(crate::error::code::INTERRUPTED as i32) };
        }
        if let Some(w) = SIGNAL_WAKER.get() {
            let _ = w.wake();
        }
    })
    .map_err(|e| Error::runtime(format!("install signal handler: {e}")))?;
    Ok(Signals(count))
}

/// Route signals to this loop's waker. A signal that came before this call
/// is still counted: loops check [`Signals::count`] on every turn.
pub fn wake_on_signal(w: Arc<mio::Waker>) {
    let _ = SIGNAL_WAKER.set(w);
}

/// Connections served and their totals, for `-v`'s summary.
#[derive(Debug, Default)]
pub struct Totals {
    pub conns: u64,
    pub tally: crate::event::Tally,
}

impl Totals {
    pub fn add(&mut self, t: crate::event::Tally) {
        self.tally.bytes_in += t.bytes_in;
        self.tally.bytes_out += t.bytes_out;
    }
}

/// The listening half of `thread-serve` and `fork-serve`: one mio `Poll`
/// over the listening sockets and a `Waker` that signals, finished threads
/// and exited children use to get the loop's attention.
pub struct Acceptor {
    pub poll: mio::Poll,
    pub waker: Arc<mio::Waker>,
    pub listeners: Vec<crate::transport::Listener>,
    pub dgrams: Vec<Arc<crate::transport::Dgram>>,
}

pub const WAKE: mio::Token = mio::Token(0);
/// Listening sockets take the tokens from here up; models use those below.
pub const LISTEN_BASE: usize = 16;

impl Acceptor {
    pub fn new(server: &mut Server) -> Result<Acceptor> {
        use crate::error::Context;
        use std::os::fd::AsRawFd;
        let poll = mio::Poll::new().context("create event loop")?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).context("create waker")?);
        wake_on_signal(waker.clone());
        let bound = std::mem::replace(&mut server.bound, Bound::Stream(Vec::new()));
        let (listeners, dgrams) = match bound {
            Bound::Stream(l) => (l, Vec::new()),
            Bound::Dgram(d) => (Vec::new(), d.into_iter().map(Arc::new).collect()),
        };
        let fds: Vec<i32> = listeners
            .iter()
            .map(|l| l.as_raw_fd())
            .chain(dgrams.iter().map(|d| d.as_raw_fd()))
            .collect();
        for (i, fd) in fds.iter().enumerate() {
            crate::transport::set_nonblocking_fd(*fd).context("set O_NONBLOCK")?;
            poll.registry()
                .register(
                    &mut mio::unix::SourceFd(fd),
                    mio::Token(LISTEN_BASE + i),
                    mio::Interest::READABLE,
                )
                .context("watch listener")?;
        }
        Ok(Acceptor {
            poll,
            waker,
            listeners,
            dgrams,
        })
    }

    /// Stop accepting: close the sockets (which removes Unix socket files).
    pub fn close(&mut self) {
        self.listeners.clear();
        self.dgrams.clear();
    }

    pub fn is_closed(&self) -> bool {
        self.listeners.is_empty() && self.dgrams.is_empty()
    }

    /// Wait for events; `Interrupted` counts as a wake-up with none.
    pub fn wait(
        &mut self,
        events: &mut mio::Events,
        timeout: Option<std::time::Duration>,
    ) -> Result<()> {
        match self.poll.poll(events, timeout) {
            Err(e) if e.kind() != std::io::ErrorKind::Interrupted => {
                Err(Error::io("wait for events", e))
            }
            _ => Ok(()),
        }
    }
}

/// One unit of work for a worker: an accepted connection, or a datagram
/// received into the caller's buffer (its first `len` bytes).
pub enum Request {
    Stream {
        stream: crate::transport::Stream,
        peer: crate::transport::Peer,
    },
    Datagram {
        len: usize,
        to: crate::transport::ReplyTo,
        peer: crate::transport::Peer,
        sock: Arc<crate::transport::Dgram>,
    },
}

impl Request {
    pub fn peer(&self) -> &crate::transport::Peer {
        match self {
            Request::Stream { peer, .. } | Request::Datagram { peer, .. } => peer,
        }
    }
}

impl Acceptor {
    /// The next request waiting, if any. Peers the access list refuses are
    /// closed (their datagrams dropped) and logged here, so no worker is
    /// started for them; the others are counted in `served` and logged.
    pub fn next(&self, server: &Server, buf: &mut [u8], served: &mut u64) -> Option<Request> {
        loop {
            let req = self.take(server, buf)?;
            let peer = req.peer();
            if !server.access.permits(peer.ip()) {
                server.log.refused(server.kind, &peer.to_string());
                continue;
            }
            *served += 1;
            server.log.connection(server.kind, &peer.to_string());
            return Some(req);
        }
    }

    fn take(&self, server: &Server, buf: &mut [u8]) -> Option<Request> {
        for l in &self.listeners {
            match l.accept(false) {
                Ok((stream, peer)) => return Some(Request::Stream { stream, peer }),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, say: the connection waits in the
                    // backlog until a worker ends and we look again.
                    server
                        .log
                        .error(&format!("accept: {}", crate::error::describe(&e)));
                    return None;
                }
            }
        }
        for d in &self.dgrams {
            if let Ok((len, to, peer)) = d.recv_from(buf) {
                return Some(Request::Datagram {
                    len,
                    to,
                    peer,
                    sock: d.clone(),
                });
            }
        }
        None
    }
}

/// Whether a server with these limits may take one more connection.
pub fn may_accept(
    server: &Server,
    served: u64,
    active: usize,
    max_active: u64,
    stopping: bool,
) -> bool {
    !stopping
        && server.limit.is_none_or(|l| served < l)
        && (active as u64) < max_active
        && server.max_conns.is_none_or(|m| (active as u64) < m)
}

/// Why the connection (or datagram) a worker served ended, as a log line.
pub fn report(log: &Log, peer: &crate::transport::Peer, end: Option<&crate::handler::drive::End>) {
    use crate::handler::drive::End;
    match end {
        // Not an error: the reader went away, and the server stops quietly.
        None | Some(End::StdoutClosed) => {}
        Some(End::Io(e))
            if e.kind() == std::io::ErrorKind::ConnectionReset
                && log.level < crate::event::Level::Verbose => {}
        Some(e) => log.error(&e.message(peer)),
    }
}
