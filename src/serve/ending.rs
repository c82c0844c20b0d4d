//! How connections end in serve's loop: a close (its events, counts and
//! what it held given back), a panic, the idle timeout, the stop's phases
//! (what serve does at each of the one `Stop`'s steps), and programs reaped.

use super::*;

impl EventLoop {
    pub(super) fn close(&mut self, mut c: Conn, err: Option<io::Error>) {
        let kind = self.server.kind;
        let err_kind = err.as_ref().map(io::Error::kind);
        if let Some(e) = err {
            // A peer that went away is routine for a server; say so only
            // when asked.
            if !crate::error::peer_went_away(&e)
                || self.server.service.settings.log.level >= crate::event::Level::Verbose
            {
                self.server.service.settings.log.error(&format!(
                    "{}: {}",
                    c.peer,
                    crate::error::describe(&e)
                ));
            }
        }
        if c.stream.tls().is_some_and(|t| t.truncated()) {
            let warning = crate::transport::tls::truncation(&c.peer.to_string());
            self.server.service.settings.log.warning(&warning);
        }
        if let Some(w) = c.stream.ws() {
            w.tell_close(&self.server.service.settings.log, &c.peer.to_string());
        }
        if let Some(s) = &mut c.to_stdout {
            s.release();
        }
        if let Some(ch) = c.child.take() {
            (c.tally.bytes_in, c.tally.bytes_out) = ch.moved();
            c.tally.program = self.done_with(ch.close());
        }
        if let Some(mut f) = c.fwd.take() {
            // (The idle timeout's close is a FIN, as in the other models.)
            let clean = err_kind.is_none_or(|k| k == io::ErrorKind::TimedOut);
            f.settle_close(&c.stream, clean);
            f.release();
            (c.tally.bytes_in, c.tally.bytes_out) = f.moved();
            c.tally.via = f.via();
        }
        self.server.service.settings.log.closed(
            kind,
            &c.peer.to_string(),
            c.tally,
            c.started.elapsed(),
        );
        self.totals.conns += 1;
        self.totals.add(c.tally);
        drop(c);
        if self.full {
            self.accept_more();
        }
    }

    /// A connection whose step panicked (a bug in sockcat) ends, alone:
    /// one line says so, and it is closed as any connection is, with what
    /// it held. It was out of `conns` while the step ran, so nothing else
    /// can reach it; `close` gives back its pipes and its slot in the
    /// budget (and accepts what waited for it), its descriptors close with
    /// it (epoll forgets a closed descriptor; tokens never repeat, so a
    /// late event for it, or its id in `again`, the timers or a lookup's
    /// waiting list, finds nothing). Its program is ended, as at the end of
    /// the grace period, and both its sides are reset: whatever it was
    /// sending is cut, and must not look complete.
    pub(super) fn panicked(&mut self, mut c: Conn) {
        servers::report(
            &self.server.service.settings.log,
            &c.peer,
            Some(&End::Panicked),
        );
        if let Some(ch) = &c.child {
            exec::terminate(ch.child.id() as i32);
        }
        match &mut c.fwd {
            Some(f) => f.reset(&c.stream),
            None => c.stream.reset_on_close(),
        }
        self.close(c, None);
    }

    pub(super) fn close_idle(&mut self, now: Instant) {
        let Some(idle) = self.server.service.settings.drive.idle else {
            return;
        };
        let expired: Vec<usize> = self
            .conns
            .iter()
            // A program's relay keeps its own idle timeout (it stops the
            // program first, as every model does).
            .filter(|(_, c)| c.child.is_none() && now.duration_since(c.last) >= idle)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(c) = self.conns.remove(&id) {
                let e = io::Error::new(io::ErrorKind::TimedOut, "idle timeout");
                self.close(c, Some(e));
            }
        }
        // Check again at a fraction of the timeout: closing is at most a
        // quarter late, and a loop with thousands of connections does not
        // scan them on every event.
        self.next_idle_check = Some(now + (idle / 4).max(Duration::from_millis(5)));
    }

    /// The stop began (its grace period runs): what is serve's own to do.
    pub(super) fn begin_stop(&mut self) {
        // Stop accepting: closing the listeners removes Unix socket files,
        // and new clients get a clear refusal instead of waiting.
        self.listeners.clear();
        // A forwarded datagram session holds its listening socket to
        // answer from: stop watching it here, as its closing would.
        for d in &self.dgrams {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&d.as_raw_fd()));
        }
        self.dgrams.clear();
        // Each datagram session waits a moment for its upstream's last
        // replies (every model does), within the grace period.
        self.quiet_sessions();
        if self.stdin != StdinKind::None && !self.stdin_eof {
            self.stdin_eof = true;
            for t in self.conns.values_mut().filter_map(|c| c.talk.as_mut()) {
                t.finish();
            }
            self.again.extend(self.conns.keys().copied());
        }
    }

    /// The grace period ran out: end what is left, each shown as cut
    /// ([`servers::CLOSED_AT_SHUTDOWN`]) as every model shows it.
    pub(super) fn abandon(&mut self) {
        self.close_sessions();
        let ids: Vec<usize> = self.conns.keys().copied().collect();
        self.server.warn_cut(ids.len() + self.dgram_jobs.len());
        for id in ids {
            if let Some(mut c) = self.conns.remove(&id) {
                if let Some(ch) = &mut c.child {
                    exec::terminate(ch.child.id() as i32);
                }
                // A cut forwarded transfer ends with a reset on both
                // sides: a FIN would make it look complete.
                if let Some(f) = &mut c.fwd {
                    f.reset(&c.stream);
                }
                let e = io::Error::other(servers::CLOSED_AT_SHUTDOWN);
                self.close(c, Some(e));
            }
        }
        for (_, j) in std::mem::take(&mut self.dgram_jobs) {
            let child = j.cut(&self.server, &mut self.totals);
            exec::terminate(child.id() as i32);
            self.lingering.push(child);
        }
        for ch in &self.lingering {
            exec::terminate(ch.id() as i32);
        }
    }

    /// Collect exec'd programs that have exited; at exit, wait for them.
    /// A program whose pipes are closed: forget it once it has exited,
    /// else keep it to reap later.
    /// Returns how it ended, if it has.
    pub(super) fn done_with(&mut self, mut child: Child) -> Option<crate::event::Exit> {
        // A program's pipes close while it exits, a moment before it can
        // be reaped: give it that moment (bounded, so a program that runs
        // on after closing its output costs the loop at most 2ms).
        let until = Instant::now() + Duration::from_millis(2);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < until {
            std::thread::yield_now();
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                exec::ended(child.id() as i32);
                crate::event::Exit::from_status(status)
            }
            Err(_) => {
                exec::ended(child.id() as i32);
                None
            }
            Ok(None) => {
                self.lingering.push(child);
                None
            }
        }
    }

    pub(super) fn reap(&mut self, all: bool) {
        exec::reap_orphans();
        let exited = |c: &mut Child| {
            let gone = matches!(c.try_wait(), Ok(Some(_)) | Err(_));
            if gone {
                exec::ended(c.id() as i32);
            }
            !gone
        };
        self.lingering.retain_mut(exited);
        if all {
            let deadline = Instant::now() + Duration::from_secs(1);
            while !self.lingering.is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                self.lingering.retain_mut(exited);
            }
            for c in &mut self.lingering {
                exec::kill(c.id() as i32);
                let _ = c.wait();
                exec::ended(c.id() as i32);
            }
            self.lingering.clear();
        }
    }
}
