//! Forwarded datagram sessions' routing, one set of rules for every
//! model: which peer's datagrams go to which session
//! ([`SessionRouter`]), the bound on sessions and the "no room for another
//! session" rule ([`SessionRouter::admit`]), and a session that ended
//! between two datagrams (its next datagram starts a new session instead
//! of being lost). `serve`'s loop routes to the sessions it drives itself;
//! the blocking models route to their workers' inboxes ([`Sessions`]).

use std::collections::HashMap;

use super::*;
use crate::relay::dgram_session::{self, Delivered, Inbox};
use crate::transport::{Dgram, Endpoint};

/// Which peer's datagrams go to which session. A route is keyed by the
/// listening socket the peer wrote to (the caller's number for it) and
/// the peer; `R` says where its session is (an id in the loop, a
/// worker's inbox).
pub struct SessionRouter<R> {
    routes: HashMap<(usize, Endpoint), R>,
}

/// Where a datagram went.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// To its peer's session (or dropped there, as a full socket buffer
    /// would drop it).
    Delivered,
    /// Its peer has no session: the datagram is the first of a new one,
    /// if [`SessionRouter::admit`] admits it.
    NewPeer,
}

impl<R> SessionRouter<R> {
    pub fn new() -> Self {
        SessionRouter {
            routes: HashMap::new(),
        }
    }

    /// Hand `data` from `peer` on socket `sock` to its session through
    /// `deliver`. A session that has ended (it shut its inbox, or is gone
    /// from the loop) loses its route, and the datagram starts a new
    /// session instead of being lost.
    pub fn route(
        &mut self,
        sock: usize,
        peer: &Endpoint,
        data: &[u8],
        log: &crate::event::Log,
        deliver: impl FnOnce(&R, &[u8]) -> Delivered,
    ) -> Routed {
        let key = (sock, peer.clone());
        let Some(r) = self.routes.get(&key) else {
            return Routed::NewPeer;
        };
        match deliver(r, data) {
            Delivered::Sent => Routed::Delivered,
            Delivered::Dropped => {
                if log.level >= crate::event::Level::Verbose {
                    log.warning(&format!(
                        "{peer}: dropped a datagram: its session lags behind"
                    ));
                }
                Routed::Delivered
            }
            Delivered::Gone => {
                self.routes.remove(&key);
                Routed::NewPeer
            }
        }
    }

    /// Whether a new peer's first datagram (on `sock`) starts a session:
    /// the server has room for one more beside its `active` ones (not
    /// stopping, within `--count`, the model's bound and `--max-conns`;
    /// a peer beyond them is dropped with a warning, at most one line a
    /// second, so known peers are never held up by unknown ones), and the
    /// peer is admitted (the access list, the event, the count).
    pub fn admit(
        &self,
        server: &Server,
        sock: &Dgram,
        peer: &Endpoint,
        served: &mut u64,
        active: usize,
        stopping: bool,
    ) -> bool {
        if !may_accept(server, *served, active, stopping) {
            server.service.settings.log.repeated(
                "no room for a session",
                false,
                &format!("{peer}: dropped a datagram: no room for another session"),
            );
            return false;
        }
        server.admit_datagram(sock.kind, peer, &sock.local, served)
    }

    /// A session started: its peer's next datagrams go to `route`.
    pub fn started(&mut self, sock: usize, peer: Endpoint, route: R) {
        self.routes.insert((sock, peer), route);
    }

    /// A session ended: forget its route, unless it now leads to another
    /// session.
    pub fn forget(&mut self, sock: usize, peer: &Endpoint, route: &R)
    where
        R: PartialEq,
    {
        let key = (sock, peer.clone());
        if self.routes.get(&key) == Some(route) {
            self.routes.remove(&key);
        }
    }

    /// Keep the routes `keep` says to.
    pub fn retain(&mut self, mut keep: impl FnMut(&R) -> bool) {
        self.routes.retain(|_, r| keep(r));
    }

    pub fn routes(&self) -> impl Iterator<Item = &R> {
        self.routes.values()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn clear(&mut self) {
        self.routes.clear();
    }
}

impl<R> Default for SessionRouter<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// A new peer's first datagram, admitted: start its session.
pub struct SessionStart {
    pub len: usize,
    pub to: crate::transport::ReplyTo,
    pub peer: Endpoint,
    pub sock: Arc<Dgram>,
    /// The session's inbox, the worker's end.
    pub inbox: std::os::fd::OwnedFd,
}

/// The blocking models' forwarded datagram sessions: the main loop routes
/// each peer's datagrams to its worker's inbox (`relay::dgram_session`).
/// `W` names the worker (a connection id, a child's pid).
pub struct Sessions<W> {
    router: SessionRouter<(W, Inbox)>,
    /// Receiving stopped at the per-turn bound: look again at once.
    pub more: bool,
}

/// A listening socket's number in a blocking model's routes: the
/// acceptor's sockets live as long as the server.
fn sock_key(sock: &Arc<Dgram>) -> usize {
    Arc::as_ptr(sock) as usize
}

impl<W: Copy + PartialEq> Sessions<W> {
    pub fn new() -> Sessions<W> {
        Sessions {
            router: SessionRouter::new(),
            more: false,
        }
    }

    /// Receive what waits: datagrams of peers with a session go to their
    /// inbox; a new peer's first datagram is admitted
    /// ([`SessionRouter::admit`]) and returned, in `buf`, with the inbox
    /// that [`Sessions::started`] takes.
    pub fn receive(
        &mut self,
        acc: &Acceptor,
        server: &Server,
        buf: &mut [u8],
        served: &mut u64,
        active: usize,
        stopping: bool,
    ) -> Option<(SessionStart, Inbox)> {
        self.more = false;
        for _ in 0..dgram_session::DGRAMS_PER_TURN {
            let (len, to, peer, sock) = acc.receive(buf)?;
            let log = &server.service.settings.log;
            let routed =
                self.router
                    .route(sock_key(&sock), &peer, &buf[..len], log, |(_, inbox), d| {
                        inbox.deliver(d)
                    });
            if routed == Routed::Delivered
                || !self
                    .router
                    .admit(server, &sock, &peer, served, active, stopping)
            {
                continue;
            }
            match dgram_session::inbox() {
                Ok((main, worker)) => {
                    let s = SessionStart {
                        len,
                        to,
                        peer,
                        sock,
                        inbox: worker,
                    };
                    return Some((s, main));
                }
                Err(e) => server.service.settings.log.repeated(
                    "start a session",
                    true,
                    &format!("{peer}: start a session: {}", crate::error::describe(&e)),
                ),
            }
        }
        self.more = true;
        None
    }

    /// A session's worker started: its peer's next datagrams go there.
    pub fn started(&mut self, sock: &Arc<Dgram>, peer: Endpoint, worker: W, inbox: Inbox) {
        self.router.started(sock_key(sock), peer, (worker, inbox));
    }

    /// A worker ended: forget its session (a newer one for the same peer
    /// stays).
    pub fn ended(&mut self, worker: W) {
        self.router.retain(|(w, _)| *w != worker);
    }

    /// The main loop's ends of every inbox, for a forked worker to close:
    /// a copy left open in one child would keep another session's inbox
    /// from ever reading as closed.
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.router.routes().map(|(_, i)| i.raw_fd()).collect()
    }

    /// Stopping: close every inbox; each worker waits a moment for its
    /// upstream's last replies, then ends.
    pub fn close_all(&mut self) {
        self.router.clear();
    }
}

impl<W: Copy + PartialEq> Default for Sessions<W> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
