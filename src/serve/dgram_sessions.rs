//! `--forward` on a datagram socket, in the loop: the loop receives on
//! the listening sockets and routes each datagram to its peer's session
//! (`servers::SessionRouter`, the rules every model shares), and drives
//! each [`DgramSession`] on its upstream socket's events (the session's
//! `PART_UPSTREAM`) and its timer (its idle end, or its quiet once the
//! server stops).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use mio::Interest;
use mio::unix::SourceFd;

use super::EventLoop;
use crate::handler::End;
use crate::handler::forward::{DGRAM_QUIET, Forward, SESSION_IDLE};
use crate::relay::dgram_faults::DgramFaults;
use crate::relay::dgram_session::{
    DGRAMS_PER_TURN, Delivered, DgramSession, Next, ReplyPath, Timers,
};
use crate::servers::Routed;
use crate::servers::token::{self, PART_UPSTREAM};
use crate::transport::Dgram;

/// A session the loop drives.
pub(super) struct LoopSession {
    pub(super) session: DgramSession,
    /// Which listening socket its peer wrote to (its route's key).
    sock: usize,
    /// Where it goes (the server's one `--forward` target, shared).
    pub(super) target: Arc<Forward>,
    /// Its timer waiting in the loop's heap, if any: one at a time, however
    /// much traffic moves its end.
    timer: Option<Instant>,
}

impl EventLoop {
    /// Watch a session's upstream socket.
    fn watch_session(&self, id: usize, up: &Dgram) -> io::Result<()> {
        self.poll.registry().register(
            &mut SourceFd(&up.as_raw_fd()),
            token::conn(id, PART_UPSTREAM),
            Interest::READABLE,
        )
    }

    /// The resolver answered for a session that waited: its upstream
    /// socket opens, and what waited goes first.
    pub(super) fn session_answered(
        &mut self,
        id: usize,
        f: &Forward,
        answer: &Result<Vec<SocketAddr>, String>,
    ) {
        let r = match answer {
            Ok(a) => self.dgram_open(f, a.clone()),
            Err(m) => Err(m.clone()),
        };
        let r = r.and_then(|g| {
            let g = g.ok_or_else(|| "no address".to_string())?;
            self.watch_session(id, &g)
                .map_err(|e| crate::error::describe(&e))?;
            if let Some(s) = self.sessions.get_mut(&id) {
                s.session.opened(g);
            }
            Ok(())
        });
        if let Err(why) = r {
            if let Some(s) = self.sessions.get(&id) {
                let peer = s.session.peer().clone();
                self.server
                    .service
                    .settings
                    .log
                    .error(&format!("{peer}: {}", f.failed(&why)));
            }
            self.close_session(id);
        }
    }

    /// Receive on datagram socket `i`: each datagram goes to its peer's
    /// session, which the peer's first datagram starts.
    pub(super) fn forward_datagrams(&mut self, i: usize, f: &Arc<Forward>) {
        for _ in 0..DGRAMS_PER_TURN {
            let Some((n, to, peer)) = self.receive(i) else {
                return;
            };
            let Some(d) = self.dgrams.get(i) else {
                return;
            };
            let now = Instant::now();
            let sessions = &mut self.sessions;
            let mut to_session = None;
            let routed = self.routes.route(
                i,
                &peer,
                &self.buf[..n],
                &self.server.service.settings.log,
                |id, data| match sessions.get_mut(id) {
                    Some(s) => {
                        s.session.from_peer(data, now);
                        to_session = Some(*id);
                        Delivered::Sent
                    }
                    None => Delivered::Gone,
                },
            );
            if routed == Routed::Delivered {
                // A datagram its faults hold may be due before its end.
                if let Some(id) = to_session {
                    self.arm(id, now);
                }
                continue;
            }
            let d = d.clone();
            let active = self.sessions.len();
            if !self
                .routes
                .admit(&self.server, &d, &peer, &mut self.served, active, false)
            {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let up = match self.dgram_target(f, id) {
                Ok(up) => up,
                Err(why) => {
                    // Out of descriptors, say: once a second at most.
                    self.server.service.settings.log.repeated(
                        "start a session",
                        true,
                        &format!("{peer}: {}", f.failed(&why)),
                    );
                    continue;
                }
            };
            let watched = up.as_ref().map_or(Ok(()), |g| self.watch_session(id, g));
            let timers = Timers {
                idle: self
                    .server
                    .service
                    .settings
                    .drive
                    .idle
                    .unwrap_or(SESSION_IDLE),
                quiet: DGRAM_QUIET,
            };
            let back = ReplyPath { sock: d, to };
            let hex = self.server.service.settings.drive.hex;
            let mut session = DgramSession::new(peer.clone(), up, back, timers, hex, now);
            let log = &self.server.service.settings.log;
            session.faults(DgramFaults::start(&f.layers, log, &peer));
            let s = LoopSession {
                session,
                sock: i,
                target: f.clone(),
                timer: None,
            };
            self.sessions.insert(id, s);
            self.routes.started(i, peer.clone(), id);
            if let Err(e) = watched {
                // Admitted, so it ends as a session does: its closing
                // event, its totals.
                self.server
                    .service
                    .settings
                    .log
                    .error(&format!("{peer}: {}", crate::error::describe(&e)));
                self.close_session(id);
                continue;
            }
            if let Some(s) = self.sessions.get_mut(&id) {
                s.session.from_peer(&self.buf[..n], now);
            }
            self.arm(id, now);
        }
        self.dgram_more = true;
    }

    /// Replies from a session's upstream go back to its peer; a session
    /// past its end ends.
    pub(super) fn drive_session(&mut self, id: usize) {
        self.drive_session_with(id, EventLoop::session_step);
    }

    /// [`EventLoop::drive_session`] with the step that sends the replies: a
    /// panic in it ends this session alone (see [`super::isolated`]). The
    /// session stays in the map while the step runs; a panic can leave
    /// only its own counts half updated, which nothing but its closing
    /// event reads, and ending it removes it and its route and closes its
    /// upstream socket (it has no program and no pipes).
    fn drive_session_with(&mut self, id: usize, step: impl FnOnce(&mut EventLoop, usize)) {
        let r = super::conn::isolated(|| {
            step(self, id);
            Ok(())
        });
        if let Err(end) = r {
            self.end_session(id, Some(&end));
        }
    }

    fn session_step(&mut self, id: usize) {
        let now = Instant::now();
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if s.session.from_upstream(&mut self.buf, now) {
            self.again.push(id);
        }
        self.arm(id, now);
    }

    /// Wake a session at its end (or end it, past it): one timer at a
    /// time, pushed again when it fires early or the end moves closer.
    fn arm(&mut self, id: usize, now: Instant) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        match s.session.next(now) {
            Next::Ended => self.close_session(id),
            Next::Until(at) => {
                if s.timer.is_none_or(|t| t <= now || at < t) {
                    s.timer = Some(at);
                    self.timers.push(std::cmp::Reverse((at, id)));
                }
            }
        }
    }

    /// The server stops: no more datagrams come from the peers, so each
    /// session waits only a moment (its quiet) for its upstream's last
    /// replies, which still go back from the listening socket it holds.
    pub(super) fn quiet_sessions(&mut self) {
        let now = Instant::now();
        let ids: Vec<usize> = self.sessions.keys().copied().collect();
        for id in ids {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.session.quiet(now);
            }
            self.arm(id, now);
        }
    }

    /// The grace period ran out: every session ends now.
    pub(super) fn close_sessions(&mut self) {
        let ids: Vec<usize> = self.sessions.keys().copied().collect();
        for id in ids {
            self.close_session(id);
        }
    }

    /// End a session: its closing event, its totals.
    pub(super) fn close_session(&mut self, id: usize) {
        self.end_session(id, None);
    }

    /// End a session, saying first why when it is not a plain end.
    fn end_session(&mut self, id: usize, end: Option<&End>) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        // Its route, unless a newer session of the same peer holds it.
        self.routes.forget(s.sock, s.session.peer(), &id);
        let s = s.session;
        crate::servers::report(&self.server.service.settings.log, s.peer(), end);
        self.server.service.settings.log.closed(
            self.server.kind,
            &s.peer().to_string(),
            s.tally(),
            s.started().elapsed(),
        );
        self.totals.conns += 1;
        self.totals.add(s.tally());
        // The last session after --once or --count ends the server.
        self.close_dgrams_at_limit();
    }
}

#[cfg(test)]
mod tests;
