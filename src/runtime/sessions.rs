//! The blocking models' forwarded datagram sessions: which peer's
//! datagrams go to which worker's inbox, the bound on them, and the
//! "no room for another session" rule.

use super::*;

/// A new peer's first datagram, admitted: start its session.
pub struct NewSession {
    pub len: usize,
    pub to: crate::transport::ReplyTo,
    pub peer: crate::transport::Endpoint,
    pub sock: Arc<crate::transport::Dgram>,
    /// The session's inbox, the worker's end.
    pub inbox: std::os::fd::OwnedFd,
}

/// The forwarded datagram sessions of a blocking model's main loop
/// (`relay::session`): which peer's datagrams go to which worker's inbox.
/// `W` names the worker (a connection id, a child's pid).
pub struct Sessions<W> {
    map: std::collections::HashMap<
        (usize, crate::transport::Endpoint),
        (W, crate::relay::session::Inbox),
    >,
    /// Receiving stopped at the per-turn bound: look again at once.
    pub more: bool,
}

impl<W: Copy + PartialEq> Sessions<W> {
    pub fn new() -> Sessions<W> {
        Sessions {
            map: Default::default(),
            more: false,
        }
    }

    /// Receive what waits: datagrams of peers with a session go to their
    /// inbox; a new peer's first datagram is admitted (the access list,
    /// the event, the count) and returned, in `buf`, with the inbox that
    /// [`Sessions::started`] takes. A new peer beyond `--count` or the
    /// model's bound is dropped with a warning, so known peers are never
    /// held up by unknown ones.
    pub fn receive(
        &mut self,
        acc: &Acceptor,
        server: &Server,
        buf: &mut [u8],
        served: &mut u64,
        active: usize,
        stopping: bool,
    ) -> Option<(NewSession, crate::relay::session::Inbox)> {
        use crate::relay::session::Delivered;
        self.more = false;
        for _ in 0..1024 {
            let (len, to, peer, sock) = acc.receive(buf)?;
            let key = (Arc::as_ptr(&sock) as usize, peer.clone());
            if let Some((_, inbox)) = self.map.get(&key) {
                match inbox.deliver(&buf[..len]) {
                    Delivered::Sent => continue,
                    Delivered::Dropped => {
                        if server.settings.log.level >= crate::event::Level::Verbose {
                            server.settings.log.warning(&format!(
                                "{peer}: dropped a datagram: its session lags behind"
                            ));
                        }
                        continue;
                    }
                    Delivered::Gone => {
                        self.map.remove(&key);
                    }
                }
            }
            if !may_accept(server, *served, active, stopping) {
                server.settings.log.repeated(
                    "no room for a session",
                    false,
                    &format!("{peer}: dropped a datagram: no room for another session"),
                );
                continue;
            }
            if !server.admit_datagram(server.kind, &peer, &sock.local, served) {
                continue;
            }
            match crate::relay::session::inbox() {
                Ok((main, worker)) => {
                    let s = NewSession {
                        len,
                        to,
                        peer,
                        sock,
                        inbox: worker,
                    };
                    return Some((s, main));
                }
                Err(e) => server.settings.log.repeated(
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
    pub fn started(
        &mut self,
        sock: &Arc<crate::transport::Dgram>,
        peer: crate::transport::Endpoint,
        worker: W,
        inbox: crate::relay::session::Inbox,
    ) {
        self.map
            .insert((Arc::as_ptr(sock) as usize, peer), (worker, inbox));
    }

    /// A worker ended: forget its session (a newer one for the same peer
    /// stays).
    pub fn ended(&mut self, worker: W) {
        self.map.retain(|_, (w, _)| *w != worker);
    }

    /// The main loop's ends of every inbox, for a forked worker to close:
    /// a copy left open in one child would keep another session's inbox
    /// from ever reading as closed.
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.map.values().map(|(_, i)| i.raw_fd()).collect()
    }

    /// Stopping: close every inbox; each worker waits a moment for its
    /// upstream's last replies, then ends.
    pub fn close_all(&mut self) {
        self.map.clear();
    }
}

impl<W: Copy + PartialEq> Default for Sessions<W> {
    fn default() -> Self {
        Self::new()
    }
}
