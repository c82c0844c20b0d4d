//! The accepting half of the blocking models (fork-serve, thread-serve):
//! one mio `Poll` over the listening sockets, the token scheme every loop
//! uses, and what one turn accepts or receives (the loop around it is
//! `schedule.rs`).

use super::*;

/// The listening half of `thread-serve` and `fork-serve`: one mio `Poll`
/// over the listening sockets and a `Waker` that signals, finished threads
/// and exited children use to get the loop's attention.
pub struct Acceptor {
    pub poll: mio::Poll,
    pub waker: Arc<mio::Waker>,
    pub listeners: Vec<crate::transport::Listener>,
    pub dgrams: Vec<Arc<crate::transport::Dgram>>,
    /// The datagram sockets feed forwarded sessions (`--forward`).
    pub sessions: bool,
}

/// The one token scheme of every event loop in sockcat. Tokens of
/// connections come from a counter that never repeats (a late event for a
/// closed connection cannot land on a new one), and each range is far from
/// the next, so an event says by its token alone what it is about.
pub mod token {
    use mio::Token;

    /// The loop's waker: a signal, a finished worker, an exited thread.
    pub const WAKE: Token = Token(0);
    /// `serve`'s stdin relay.
    pub const STDIN: Token = Token(1);
    /// `fork-serve`'s pipe of children's byte counts.
    pub const TALLIES: Token = Token(2);
    /// Listening socket `i` is `LISTEN_BASE + i`.
    pub const LISTEN_BASE: usize = 16;
    /// `fork-serve`'s child `pid` is `CHILD_BASE + pid` (its pidfd); pids
    /// stay below 2^22.
    pub const CHILD_BASE: usize = 1 << 24;
    /// Connection `id` owns `CONN_BASE + PARTS * id + part`.
    pub const CONN_BASE: usize = 1 << 32;
    pub const PARTS: usize = 4;
    /// The parts of a connection: its socket, a program's stdin and stdout,
    /// a forwarded connection's upstream socket.
    pub const PART_SOCKET: usize = 0;
    pub const PART_CHILD_IN: usize = 1;
    pub const PART_CHILD_OUT: usize = 2;
    pub const PART_UPSTREAM: usize = 3;

    /// The token of part `part` of connection `id`.
    pub fn conn(id: usize, part: usize) -> Token {
        Token(CONN_BASE + PARTS * id + part)
    }

    /// The connection a token belongs to, if it is a connection's.
    pub fn conn_id(t: Token) -> Option<usize> {
        t.0.checked_sub(CONN_BASE).map(|n| n / PARTS)
    }

    /// Which part of its connection a connection's token names.
    pub fn conn_part(t: Token) -> Option<usize> {
        t.0.checked_sub(CONN_BASE).map(|n| n % PARTS)
    }

    /// The child a pidfd's token names.
    pub fn child_pid(t: Token) -> Option<libc::pid_t> {
        (CHILD_BASE..CONN_BASE)
            .contains(&t.0)
            .then(|| (t.0 - CHILD_BASE) as libc::pid_t)
    }
}

impl Acceptor {
    pub fn new(server: &mut Server) -> Result<Acceptor> {
        use crate::error::Context;
        use std::os::fd::{AsFd, AsRawFd};
        let poll = mio::Poll::new().context("create event loop")?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).context("create waker")?);
        wake_on_signal(waker.clone());
        let bound = std::mem::replace(&mut server.bound, Bound::Stream(Vec::new()));
        let (listeners, dgrams) = match bound {
            Bound::Stream(l) => (l, Vec::new()),
            Bound::Dgram(d) => (Vec::new(), d.into_iter().map(Arc::new).collect()),
        };
        let fds: Vec<std::os::fd::BorrowedFd<'_>> = listeners
            .iter()
            .map(|l| l.as_fd())
            .chain(dgrams.iter().map(|d| d.as_fd()))
            .collect();
        for (i, fd) in fds.iter().enumerate() {
            crate::transport::set_nonblocking_fd(*fd).context("set O_NONBLOCK")?;
            poll.registry()
                .register(
                    &mut mio::unix::SourceFd(&fd.as_raw_fd()),
                    mio::Token(LISTEN_BASE + i),
                    mio::Interest::READABLE,
                )
                .context("watch listener")?;
        }
        let sessions = !dgrams.is_empty() && matches!(server.service.spec, Spec::Forward(_));
        Ok(Acceptor {
            poll,
            waker,
            listeners,
            dgrams,
            sessions,
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

    /// Nothing more will come: `stdio`'s one connection was taken.
    pub(super) fn spent(&self) -> bool {
        !self.listeners.is_empty() && self.listeners.iter().all(|l| l.spent())
    }

    /// Wait for events; `Interrupted` counts as a wake-up with none.
    pub fn wait(
        &mut self,
        events: &mut mio::Events,
        timeout: Option<std::time::Duration>,
    ) -> Result<()> {
        // A spent listener has no event to come: turn again at once, and
        // close it.
        let timeout = if self.spent() {
            Some(std::time::Duration::ZERO)
        } else {
            crate::event::until_repeated_due(timeout)
        };
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
pub enum Arrival {
    Stream {
        stream: crate::transport::Stream,
        peer: crate::transport::Endpoint,
    },
    Datagram {
        len: usize,
        to: crate::transport::ReplyTo,
        peer: crate::transport::Endpoint,
        sock: Arc<crate::transport::Dgram>,
    },
}

impl Arrival {
    pub fn peer(&self) -> &crate::transport::Endpoint {
        match self {
            Arrival::Stream { peer, .. } | Arrival::Datagram { peer, .. } => peer,
        }
    }
}

impl Acceptor {
    /// The next request waiting, if any. Peers the access list refuses are
    /// closed (their datagrams dropped) and logged here, so no worker is
    /// started for them; the others are counted in `served` and logged.
    pub fn next(&self, server: &Server, buf: &mut [u8], served: &mut u64) -> Option<Arrival> {
        loop {
            let req = self.take(server, buf)?;
            let admitted = match &req {
                Arrival::Datagram { peer, sock, .. } => {
                    server.admit_datagram(server.kind, peer, &sock.local, served)
                }
                Arrival::Stream { peer, stream } => {
                    server.admit(server.kind, peer, || stream.local(), served)
                }
            };
            if admitted {
                return Some(req);
            }
        }
    }

    fn take(&self, server: &Server, buf: &mut [u8]) -> Option<Arrival> {
        for l in &self.listeners {
            match l.accept(false) {
                Ok((stream, peer)) => return Some(Arrival::Stream { stream, peer }),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors, say: the connection waits in the
                    // backlog until a worker ends and we look again.
                    server.service.settings.log.repeated(
                        "accept",
                        true,
                        &format!("accept: {}", crate::error::describe(&e)),
                    );
                    return None;
                }
            }
        }
        for d in &self.dgrams {
            if let Ok((len, to, peer)) = d.recv_from(buf) {
                return Some(Arrival::Datagram {
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

impl Acceptor {
    /// Receive one datagram without admitting it (forwarded sessions admit
    /// a peer once, at its first datagram).
    pub fn receive(
        &self,
        buf: &mut [u8],
    ) -> Option<(
        usize,
        crate::transport::ReplyTo,
        crate::transport::Endpoint,
        Arc<crate::transport::Dgram>,
    )> {
        for d in &self.dgrams {
            if let Ok((len, to, peer)) = d.recv_from(buf) {
                return Some((len, to, peer, d.clone()));
            }
        }
        None
    }
}

/// Connections the blocking models accept in one turn of their loop
/// before they look at which workers ended. Under churn (clients that
/// reconnect as fast as they are served) the backlog never empties, and
/// accepting until it did would leave every ended child or thread counted
/// as busy until the bound was reached: a server full of finished work.
pub const ACCEPTS_PER_TURN: usize = 32;

/// Connections waiting for a slot, as bursts: a server at its bound
/// (`--max-conns`, `--max-children`, `--max-threads`) with a connection in
/// its backlog says so once, and again only once the backlog has been
/// emptied with room to spare (and then at most once a second, through
/// [`Log::repeated`]). A connection that waits silently looks like a
/// hung server; one line per turn of the loop would flood the log.
#[derive(Default)]
pub struct Waiting {
    said: bool,
}

impl Waiting {
    /// Accepting stopped with `active` connections: if that is the bound
    /// (not a stop, not `--count`) and a connection waits on one of
    /// `fds`, say so, once per burst.
    pub fn full(
        &mut self,
        server: &Server,
        served: u64,
        active: usize,
        stopping: bool,
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) {
        if self.said || stopping || server.service.settings.limit.is_some_and(|l| served >= l) {
            return;
        }
        let (bound, flag) = match server.service.settings.max_conns {
            Some(m) if m <= server.service.settings.pool => (m, "--max-conns"),
            _ => (
                server.service.settings.pool,
                server.service.settings.pool_flag,
            ),
        };
        if (active as u64) < bound || !readable(fds) {
            return;
        }
        self.said = true;
        server.service.settings.log.repeated(
            "waiting for a slot",
            false,
            &format!(
                "connections are waiting for a slot: at most {bound} at once ({flag}); \
                 they wait in the backlog until one ends"
            ),
        );
    }

    /// The backlog is empty and there was room: the burst is over.
    pub fn drained(&mut self) {
        self.said = false;
    }
}

/// Whether one of `fds` has something to accept or receive, without
/// waiting.
pub(super) fn readable(fds: &[std::os::fd::BorrowedFd<'_>]) -> bool {
    fds.iter().any(|fd| crate::sys::readable_now(*fd))
}

impl Acceptor {
    /// After a turn's accepting: say whether connections wait for a slot.
    pub fn waiting(
        &self,
        w: &mut Waiting,
        server: &Server,
        served: u64,
        active: usize,
        stopping: bool,
    ) {
        use std::os::fd::AsFd;
        let fds: Vec<std::os::fd::BorrowedFd<'_>> = self
            .listeners
            .iter()
            .map(|l| l.as_fd())
            .chain(self.dgrams.iter().map(|d| d.as_fd()))
            .collect();
        if may_accept(server, served, active, stopping) {
            // There was room: the burst is over once nothing waits (a turn
            // may also stop at ACCEPTS_PER_TURN with more in the backlog).
            if !readable(&fds) {
                w.drained();
            }
            return;
        }
        w.full(server, served, active, stopping, &fds);
    }
}
