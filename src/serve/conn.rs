//! A connection's turn in serve's loop: make all the progress it can
//! (TLS, the handler's session, a program's pipes, a forwarded connection's
//! bridge), with a panic isolated to it, and the broker's fan-out.

use super::*;
use crate::handler::conversation::Heard;

impl EventLoop {
    /// The peer's name for `--hex` dumps, made only under `--hex`: the
    /// steps that ask run on every event.
    pub(super) fn hex_label(&self, peer: &Endpoint) -> Option<String> {
        self.server
            .service
            .settings
            .drive
            .hex
            .then(|| peer.to_string())
    }

    /// Make all the progress a connection can make now, then close it if done.
    pub(super) fn drive(&mut self, id: usize) -> Result<()> {
        self.drive_with(id, EventLoop::progress)
    }

    /// [`EventLoop::drive`] with the step that makes the progress: a panic in
    /// it ends this connection alone ([`isolated`], [`EventLoop::panicked`]).
    pub(super) fn drive_with(
        &mut self,
        id: usize,
        step: impl FnOnce(&mut EventLoop, &mut Conn, usize) -> std::result::Result<(), End>,
    ) -> Result<()> {
        let Some(mut c) = self.conns.remove(&id) else {
            return Ok(()); // a late event for a connection already closed
        };
        let was_full = c.queued() >= OUT_LIMIT;
        let r = isolated(|| step(self, &mut c, id));
        let drained = was_full && c.queued() < OUT_LIMIT;
        match r {
            Ok(()) if c.done() => self.close(c, None),
            Ok(()) => {
                self.watch_tls_output(&mut c, id);
                self.conns.insert(id, c);
            }
            Err(End::StdoutClosed) => return Err(Error::StdoutClosed),
            Err(End::Panicked) => self.panicked(c),
            Err(e @ End::HalfClosed(_)) => {
                // An end the operator asked for, like a close: under -v.
                if self.server.service.settings.log.level >= crate::event::Level::Verbose {
                    self.server.service.settings.log.error(&e.message(&c.peer));
                }
                self.close(c, None);
            }
            Err(End::Io(e)) => self.close(c, Some(e)),
            // (The program's relay kept the idle timeout: the same words
            // and the same clean close as the loop's own.)
            Err(End::IdleTimeout) => {
                // Stopped at the idle timeout: what the program left in its
                // group (a child ignoring SIGTERM) goes with it, as in every
                // model.
                if let Some(ch) = &c.child {
                    exec::kill(ch.child.id() as i32);
                }
                let e = io::Error::new(io::ErrorKind::TimedOut, "idle timeout");
                self.close(c, Some(e));
            }
            Err(other) => {
                let e = io::Error::other(other.message(&c.peer));
                self.close(c, Some(e));
            }
        }
        if !self.broadcast.is_empty() {
            self.fan_out(id);
            self.again.push(id);
        }
        if drained {
            // Senders paused on this receiver may read again.
            self.again.append(&mut self.broker_paused);
        }
        Ok(())
    }

    /// A TLS connection's socket is watched for writable while its session
    /// holds ciphertext, and not otherwise: every write to it is in a step
    /// ([`EventLoop::drive_with`]), which calls this after. (Re-registering a
    /// socket that is writable already reports it at once.)
    pub(super) fn watch_tls_output(&self, c: &mut Conn, id: usize) {
        if !c.stream.has_handshake() {
            return;
        }
        let pending = c.stream.has_pending();
        if pending == c.tls_writable {
            return;
        }
        let interest = if pending {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let fd = c.stream.poll_fd();
        let token = token::conn(id, PART_SOCKET);
        // A failure leaves the interest as it was: the step after the next
        // event tries again.
        if self
            .poll
            .registry()
            .reregister(&mut SourceFd(&fd), token, interest)
            .is_ok()
        {
            c.tls_writable = pending;
        }
    }

    /// Whether a broker client may read: every other receiver has room.
    pub(super) fn broker_room(&mut self, id: usize) -> bool {
        let room = self.broadcast.is_empty()
            && self
                .conns
                .values()
                .all(|c| c.shut() || c.queued() < OUT_LIMIT);
        if !room && self.broadcast.is_empty() {
            self.broker_paused.push(id);
        }
        room
    }

    pub(super) fn progress(&mut self, c: &mut Conn, id: usize) -> std::result::Result<(), End> {
        if c.header.is_some() && !self.header_step(c, id) {
            return Ok(());
        }
        if c.stream.has_handshake() {
            // The handshake first (TLS's, then a WebSocket's Upgrade); then
            // what a full socket left over.
            if !c.stream.handshake_nowait().map_err(End::Io)? {
                let limit = crate::transport::tls::HANDSHAKE_TIMEOUT;
                if c.started.elapsed() >= limit {
                    return Err(End::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "{}: no handshake within {}",
                            if c.stream.ws().is_some() {
                                "websocket"
                            } else {
                                "tls"
                            },
                            humantime::format_duration(limit)
                        ),
                    )));
                }
                return Ok(());
            }
            let log = &self.server.service.settings.log;
            let mut newly = false;
            if let Some(t) = c.stream.tls().filter(|t| t.newly_settled()) {
                log.tls(&c.peer.to_string(), &t.settled(), true);
                newly = true;
            }
            if let Some(w) = c.stream.ws().filter(|w| w.newly_open()) {
                w.tell_open(log, &c.peer.to_string());
                newly = true;
            }
            if newly {
                self.start_program(c, id);
            }
        }
        if c.fwd.is_some() {
            return self.progress_forward(c, id);
        }
        if c.child.is_some() {
            return self.progress_program(c, id);
        }
        let broker = matches!(self.server.service.spec, Spec::Broker);
        let label = self.hex_label(&c.peer);
        let port = crate::relay::RelaySocket::Stream(&c.stream);
        // While stdin is relayed, our side of the conversation is stdin:
        // its end is our FIN, not the peer's (nc -l < file does the same).
        let fin_elsewhere = self.stdin != StdinKind::None && !self.stdin_eof;
        let mut reads = 0;
        loop {
            let Some(t) = c.talk.as_mut() else {
                return Ok(());
            };
            let sent = c.tally.bytes_out;
            let mut moved = t
                .flush(&port, label.as_deref(), &mut c.tally)
                .map_err(End::Io)?;
            if c.tally.bytes_out > sent {
                c.last = Instant::now();
                c.last_out = c.last;
            }
            // A broker chunk is fanned out before the next read (in `drive`).
            if !t.may_read() || (broker && !self.broker_room(id)) {
                match moved {
                    true => continue,
                    false => return Ok(()),
                }
            }
            if reads == READS_PER_TURN {
                self.again.push(id);
                return Ok(());
            }
            reads += 1;
            if let (Some(sink), true) = (&mut c.to_stdout, c.stream.plain_fd().is_some()) {
                // One connection, printed: straight to stdout. (A sink is
                // made only for a plain stream; without one, the bytes go
                // the ordinary way, through the session.)
                match sink.pump(&port, &mut self.buf) {
                    Err(crate::relay::HalfError::Write(e)) => return Err(End::from_stdout(e)),
                    Err(crate::relay::HalfError::Read(e)) => return Err(End::Io(e)),
                    Ok((n, true)) => {
                        c.tally.bytes_in += n as u64;
                        t.peer_ended(fin_elsewhere)?;
                        moved = true;
                    }
                    Ok((n, false)) => {
                        if n > 0 {
                            c.tally.bytes_in += n as u64;
                            c.last = Instant::now();
                            moved = true;
                        }
                        t.idle()?;
                    }
                }
            } else {
                match t.hear(
                    &port,
                    &mut self.buf,
                    label.as_deref(),
                    &mut c.tally,
                    fin_elsewhere,
                )? {
                    Heard::Data(n) => {
                        moved = true;
                        if n > 0 {
                            c.last = Instant::now();
                        }
                        if broker {
                            self.broadcast.extend_from_slice(&self.buf[..n]);
                        }
                    }
                    Heard::Ended => moved = true,
                    Heard::Nothing => {}
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// A connection with a program: step its relay (the program's pipes
    /// and the peer's socket, TLS included).
    fn progress_program(&mut self, c: &mut Conn, id: usize) -> std::result::Result<(), End> {
        let Some(p) = c.child.as_deref_mut() else {
            return Ok(());
        };
        let peer = crate::relay::RelaySocket::Stream(&c.stream);
        let label = self.hex_label(&c.peer);
        let asked = p
            .step(&peer, &mut self.buf, label.as_deref(), Instant::now())
            .map_err(End::from)?;
        c.last = c.last.max(p.last_traffic());
        if asked.again {
            self.again.push(id);
        }
        if let Some(at) = asked.timer {
            self.timers.push(std::cmp::Reverse((at, id)));
        }
        Ok(())
    }

    /// Queue what a broker client sent on every other client.
    pub(super) fn fan_out(&mut self, from: usize) {
        for (&id, c) in self.conns.iter_mut() {
            if let (true, Some(t)) = (id != from, c.talk.as_mut().filter(|t| !t.shut())) {
                t.queue(&self.broadcast);
                self.again.push(id);
            }
        }
        self.broadcast.clear();
    }

    /// Drop peers that stopped reading while they hold the others back
    /// (broker receivers, or the stdin relay's slowest): a full queue that
    /// has not drained for `--stall-timeout`. Returns whether any queue is
    /// still full (so the loop checks again).
    pub(super) fn drop_stalled(&mut self, now: Instant) -> bool {
        let Some(bound) = self.server.service.settings.stall else {
            return false;
        };
        let stalled: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                broker::stalled(c.queued(), OUT_LIMIT, now.duration_since(c.last_out), bound)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stalled {
            if let Some(c) = self.conns.remove(&id) {
                let e = io::Error::other(format!(
                    "dropped: it read nothing for {} while others waited",
                    humantime::format_duration(bound)
                ));
                self.close(c, Some(e));
            }
        }
        self.again.append(&mut self.broker_paused);
        self.conns.values().any(|c| c.queued() >= OUT_LIMIT)
    }
}

/// Run one connection's step with a panic in it caught: the connection
/// ends with `End::Panicked` (the panic hook has printed what and where)
/// and the loop goes on with the others.
///
/// Unwind safety (why `AssertUnwindSafe` holds): the step mutates the
/// connection, which is out of the loop's map while it runs and is closed
/// after a panic ([`EventLoop::panicked`]), and the loop's shared state, none
/// of which a panic midway leaves inconsistent for the others: the read
/// buffer holds nothing between steps; a session's output goes straight
/// into its own connection's queue, closed with it; `again`, the timers,
/// the paused brokers and the lookup's waiting list hold ids, and a gone
/// id is skipped; a `Half`
/// keeps a pipe from the pool in its own field from the moment it takes
/// it, so closing the connection gives it back; a broker's chunk is put
/// in `broadcast` whole, after it was read, and goes out as any other.
/// The locks a step may hold when it panics (a TLS session's, the program
/// registry's, the event log's bursts) are all taken poison-tolerant, so
/// closing the connection, and every later turn, still takes them.
pub(super) fn isolated(
    step: impl FnOnce() -> std::result::Result<(), End>,
) -> std::result::Result<(), End> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or(Err(End::Panicked))
}
