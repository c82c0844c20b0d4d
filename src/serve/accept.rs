//! Accepting in serve's loop: new connections while the budget allows,
//! each registered and given its handler's state (a session, a program,
//! an upstream connect).

use super::*;

impl EventLoop {
    pub(super) fn can_accept(&self) -> bool {
        servers::may_accept(
            &self.server,
            self.served,
            self.slots.in_use(),
            self.stop.stopping(),
        )
    }

    /// Accept until the backlog is empty or a limit is reached. Excess
    /// connections stay in the kernel's backlog until a slot frees.
    pub(super) fn accept_all(&mut self, i: usize) {
        loop {
            let Some(l) = self.listeners.get(i) else {
                return;
            };
            if !self.can_accept() {
                // Connections may be left in the backlog with no event to
                // come for them: look again when a slot frees.
                self.full = true;
                self.waiting.full(
                    &self.server,
                    self.served,
                    self.slots.in_use(),
                    self.stop.stopping(),
                    &[l.as_fd()],
                );
                break;
            }
            match l.accept(true) {
                Ok((stream, peer)) => {
                    if self
                        .server
                        .admit(l.kind, &peer, || stream.local(), &mut self.served)
                    {
                        self.add(stream, peer);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.waiting.drained();
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_transient_accept_error(&e) => {}
                Err(e) => {
                    // Out of descriptors or memory: try again shortly rather
                    // than spin; the connection waits in the backlog.
                    self.server.service.settings.log.repeated(
                        "accept",
                        true,
                        &format!("accept: {}", crate::error::describe(&e)),
                    );
                    self.accept_retry = Some(Instant::now() + Duration::from_millis(100));
                    return;
                }
            }
        }
        if self
            .server
            .service
            .settings
            .limit
            .is_some_and(|l| self.served >= l)
            || self.listeners.iter().all(|l| l.spent())
        {
            // --once / --count reached, or stdio's one connection taken:
            // stop listening, as nc -l does.
            self.listeners.clear();
        }
    }

    pub(super) fn accept_more(&mut self) {
        self.full = false;
        for i in 0..self.listeners.len() {
            self.accept_all(i);
        }
    }

    pub(super) fn add(&mut self, stream: Stream, peer: Endpoint) {
        let id = self.next_id;
        self.next_id += 1;
        let now = Instant::now();
        let mut conn = Conn {
            stream,
            peer,
            talk: Session::new(&self.server.service.spec).map(Conversation::new),
            child: None,
            fwd: None,
            to_stdout: None,
            tls_writable: false,
            header: None,
            started: now,
            last: now,
            last_out: now,
            tally: ConnStats::default(),
            _slot: self.slots.hold(),
        };
        let fd = conn.stream.poll_fd();
        // A TLS session reads first (the handshake): writable is watched
        // once it holds ciphertext ([`EventLoop::watch_tls_output`]).
        let interest = if conn.stream.has_handshake() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        if let Err(e) = self.poll.registry().register(
            &mut SourceFd(&fd),
            token::conn(id, PART_SOCKET),
            interest,
        ) {
            self.server.service.settings.log.error(&format!(
                "{}: {}",
                conn.peer,
                crate::error::describe(&e)
            ));
            return;
        }
        if self.server.service.settings.drive.proxy_protocol.is_some() {
            // The header comes first: the connection begins once it is
            // read (`EventLoop::header_step`).
            conn.talk = None;
            self.await_header(&mut conn, id, now);
        } else {
            self.begin(&mut conn, id);
        }
        self.conns.insert(id, conn);
        self.again.push(id);
    }

    /// A connection's handler begun: its program (after a TLS handshake),
    /// its upstream, its print by splice.
    pub(super) fn begin(&mut self, conn: &mut Conn, id: usize) {
        let now = Instant::now();
        if conn.talk.is_none() {
            conn.talk = Session::new(&self.server.service.spec).map(Conversation::new);
        }
        // A TLS client's program starts after the handshake, which tells
        // who the client is (progress); a client that never finishes it is
        // dropped at the handshake's time limit.
        if !conn.stream.has_handshake() {
            self.start_program(conn, id);
        } else {
            let limit = now + crate::transport::tls::HANDSHAKE_TIMEOUT;
            self.timers.push(std::cmp::Reverse((limit, id)));
        }
        if let Spec::Forward(f) = &self.server.service.spec {
            let f = f.clone();
            self.start_forward(conn, id, &f);
        }
        // One connection has nothing to interleave with: print it by
        // splice(2), when nothing needs to see the bytes.
        if self.server.service.settings.limit == Some(1)
            && matches!(self.server.service.spec, Spec::Print)
            && !self.server.service.settings.drive.hex
            && conn.stream.plain_fd().is_some()
        {
            conn.to_stdout = ToStdout::new().map(Box::new);
        }
        if let (true, Some(t)) = (
            self.stdin != StdinKind::None && self.stdin_eof,
            &mut conn.talk,
        ) {
            t.finish();
        }
    }

    /// `--exec`: start the connection's program.
    pub(super) fn start_program(&self, conn: &mut Conn, id: usize) {
        let Spec::Exec(argv) = &self.server.service.spec else {
            return;
        };
        match self.spawn(argv, conn, id) {
            Ok(c) => conn.child = Some(Box::new(c)),
            Err(e) => {
                // Say so, then end the conversation cleanly: FIN now,
                // and read what the peer sends so it gets no reset.
                self.server.service.settings.log.error(&format!(
                    "{}: {}",
                    conn.peer,
                    exec::describe_spawn_error(&argv[0], &e)
                ));
                let mut talk = Conversation::new(Session::Discard);
                talk.finish();
                conn.talk = Some(talk);
            }
        }
    }

    pub(super) fn spawn(
        &self,
        argv: &[std::ffi::OsString],
        conn: &Conn,
        id: usize,
    ) -> io::Result<LoopProgram> {
        let mut cmd = exec::command(argv, &conn.peer, &conn.stream.local());
        exec::stream_env(&mut cmd, &conn.stream);
        let idle = self.server.service.settings.drive.idle;
        let program = LoopProgram::spawn(&mut cmd, self.poll.registry(), id, idle)?;
        // Known to shutdown and to a second Ctrl-C, as in the other models.
        exec::started(program.child.id() as i32);
        Ok(program)
    }
}

/// Errors from accept that concern one connection, not the listener.
pub(super) fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EPROTO) | Some(libc::EPERM)
    )
}
