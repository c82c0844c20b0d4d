//! `sockcat serve`: one thread, one mio event loop, many connections.
//!
//! The loop follows the shape mio's examples teach: tokens from a counter
//! that never repeats, every operation repeated until `WouldBlock` (events
//! are edge-triggered), an outgoing buffer per connection that exists only
//! while the socket is full, and reading from a source paused while its
//! destination's buffer is full so memory stays bounded.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

mod datagram;
mod dgram_sessions;
mod forward;
mod stdin;

use crate::error::{Context, Error, Result};
use crate::event::Tally;
use crate::handler::broker;
use crate::handler::{End, Session, Spec, Step, exec};
use crate::output::hex_to_stderr;
use crate::relay::nonblocking::{Pipes, ToStdout};
use crate::runtime::{self, Phase, Server, Totals};
use crate::transport::{Bound, Dgram, Endpoint, Listener, Stream};
use datagram::DgramJob;
use stdin::{StdinKind, classify_stdin};

use crate::runtime::token::{
    self, LISTEN_BASE, PART_CHILD_IN, PART_CHILD_OUT, PART_SOCKET, STDIN, WAKE,
};

/// The loop's one read buffer, shared by every connection.
const READ_CHUNK: usize = 256 * 1024;
/// Past this much queued output, stop reading from the source that feeds it.
const OUT_LIMIT: usize = 256 * 1024;
/// Reads per connection per turn, so one fast peer cannot starve the rest.
const READS_PER_TURN: usize = 16;

pub fn run(cfg: runtime::Config) -> Result<()> {
    let server = runtime::setup(cfg)?;
    let poll = Poll::new().context("create event loop")?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).context("create waker")?);
    runtime::wake_on_signal(waker.clone());
    Loop::new(server, poll, waker)?.run()
}

struct Conn {
    stream: Stream,
    peer: Endpoint,
    session: Option<Session>,
    /// The program `--exec` started for this connection, its pipes in the loop.
    /// (Boxed, like the other rarities below: a connection without one
    /// pays a pointer, which matters for thousands of idle connections.)
    child: Option<Box<Pipes>>,
    /// `--forward`'s upstream side.
    fwd: Option<Box<forward::Fwd>>,
    /// `--once` printing: the peer's bytes go to stdout by splice(2)
    /// (boxed: a connection that has none pays one pointer).
    to_stdout: Option<Box<ToStdout>>,
    /// The session's shared greeting (`--reply`) and how much of it has
    /// gone out; it goes before `out`.
    greeting: Option<(std::sync::Arc<[u8]>, usize)>,
    /// Bytes for the peer that the socket would not take yet.
    out: Vec<u8>,
    /// The peer sent FIN (or the read side failed).
    read_done: bool,
    /// Shut the write side once `out` drains.
    finish: bool,
    shut: bool,
    /// TLS: the socket is watched for writable, because ciphertext waits
    /// for it (rustls's `tlsserver-mio`: interest follows what the session
    /// wants). A plain socket is watched for both, once.
    tls_writable: bool,
    started: Instant,
    /// Last traffic either way, for --idle-timeout.
    last: Instant,
    /// Last time queued output drained into the socket (broker stalls).
    last_out: Instant,
    tally: Tally,
    /// Its place in the budget, given back when the connection drops.
    _slot: runtime::HeldSlot,
}

impl Conn {
    /// Whether the loop may read more from the peer now.
    fn has_room(&self) -> bool {
        match &self.child {
            Some(c) => c.queued() < OUT_LIMIT,
            None => self.out.len() < OUT_LIMIT,
        }
    }

    fn done(&self) -> bool {
        // TLS: ciphertext a full socket has not taken yet (the last bytes,
        // close_notify) still has to go.
        if self.stream.tls().is_some_and(|t| t.has_pending()) {
            return false;
        }
        if let Some(f) = &self.fwd {
            return f.done();
        }
        self.read_done && self.shut && self.child.as_ref().is_none_or(|c| !c.output_open())
    }
}

struct Loop {
    poll: Poll,
    server: Server,
    listeners: Vec<Listener>,
    /// Shared with the forwarded datagram sessions, which answer their
    /// peers from them.
    dgrams: Vec<Arc<Dgram>>,
    conns: HashMap<usize, Conn>,
    /// The connections' slots in the budget (each `Conn` holds one).
    slots: runtime::Slots,
    next_id: usize,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    /// Connections to drive again without waiting for an event.
    again: Vec<usize>,
    /// Bytes a broker client sent, to queue on the others.
    broadcast: Vec<u8>,
    /// Broker senders waiting for a full receiver to drain.
    broker_paused: Vec<usize>,
    /// When to look for broker receivers that stopped reading.
    stall_check: Option<Instant>,
    served: u64,
    totals: Totals,
    stdin: StdinKind,
    stdin_ready: bool,
    stdin_eof: bool,
    /// The stop (grace period, cut), as every model has it.
    stop: runtime::Stop,
    next_idle_check: Option<Instant>,
    accept_retry: Option<Instant>,
    /// Accepting stopped at a limit (--max-conns, --count) with the
    /// backlog perhaps not empty.
    full: bool,
    /// Whether waiting connections have been mentioned in this burst.
    waiting: runtime::Waiting,
    lingering: Vec<Child>,
    dgram_jobs: HashMap<usize, DgramJob>,
    /// Connections to drive again at a given time (a datagram upstream's
    /// quiet period), soonest first.
    timers: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
    /// When to look for upstream connects past their deadline.
    connect_check: Option<Instant>,
    /// `--forward`'s name lookups.
    lookup: forward::Lookup,
    /// `--forward` on a datagram socket: each peer's session, by id, and
    /// the route to it from (socket, peer).
    sessions: HashMap<usize, dgram_sessions::LoopSession>,
    routes: runtime::SessionRouter<usize>,
    /// Datagrams were left on a socket at the per-turn bound.
    dgram_more: bool,
    began: Instant,
}

impl Loop {
    fn new(mut server: Server, poll: Poll, waker: Arc<Waker>) -> Result<Loop> {
        let bound = std::mem::replace(&mut server.bound, Bound::Stream(Vec::new()));
        let (listeners, dgrams) = match bound {
            Bound::Stream(l) => (l, Vec::new()),
            Bound::Dgram(d) => (Vec::new(), d.into_iter().map(Arc::new).collect()),
        };
        for (i, l) in listeners.iter().enumerate() {
            l.set_nonblocking(true).context("set O_NONBLOCK")?;
            poll.registry()
                .register(
                    &mut SourceFd(&l.as_raw_fd()),
                    Token(LISTEN_BASE + i),
                    Interest::READABLE,
                )
                .context("watch listener")?;
        }
        for (i, d) in dgrams.iter().enumerate() {
            d.set_nonblocking(true).context("set O_NONBLOCK")?;
            poll.registry()
                .register(
                    &mut SourceFd(&d.as_raw_fd()),
                    Token(LISTEN_BASE + i),
                    Interest::READABLE,
                )
                .context("watch socket")?;
        }
        let relays = matches!(server.spec, Spec::Print) && dgrams.is_empty();
        let stdin = if relays {
            classify_stdin(&poll)
        } else {
            StdinKind::None
        };
        let idle = server.settings.drive.idle;
        Ok(Loop {
            poll,
            server,
            listeners,
            dgrams,
            conns: HashMap::new(),
            slots: runtime::Slots::default(),
            next_id: 0,
            buf: vec![0; READ_CHUNK],
            scratch: Vec::new(),
            again: Vec::new(),
            broadcast: Vec::new(),
            broker_paused: Vec::new(),
            stall_check: None,
            served: 0,
            totals: Totals::default(),
            stdin,
            stdin_ready: stdin == StdinKind::File,
            stdin_eof: false,
            stop: runtime::Stop::default(),
            next_idle_check: idle.map(|d| Instant::now() + d),
            accept_retry: None,
            full: false,
            waiting: runtime::Waiting::default(),
            lingering: Vec::new(),
            dgram_jobs: HashMap::new(),
            timers: Default::default(),
            connect_check: None,
            lookup: forward::Lookup::new(waker),
            sessions: HashMap::new(),
            routes: runtime::SessionRouter::new(),
            dgram_more: false,
            began: Instant::now(),
        })
    }

    fn run(mut self) -> Result<()> {
        let mut events = Events::with_capacity(1024);
        let result = loop {
            // Checked before every wait, not only on the waker's event: a
            // signal may have come before the waker was registered.
            if self.stop.begins(&self.server, false) {
                self.begin_stop();
            }
            if self.finished() {
                break Ok(());
            }
            // The loop closes what it cut itself: nothing is left to
            // wait for after the cut.
            if let Phase::Cut | Phase::Cutting | Phase::Abandon = self.stop.phase(Instant::now()) {
                self.abandon();
                break Ok(());
            }
            self.server.settings.log.flush_repeated(false);
            let timeout = crate::event::until_repeated_due(self.timeout());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break Err(Error::io("wait for events", e));
            }
            if let Err(e) = self.handle(&events) {
                break Err(e);
            }
        };
        self.reap(true);
        match result {
            Ok(()) => self.server.finish(&self.totals, self.began, false),
            Err(Error::StdoutClosed) => self.server.finish(&self.totals, self.began, true),
            Err(e) => {
                let _ = self.server.finish(&self.totals, self.began, false);
                Err(e)
            }
        }
    }

    /// Whether the server has nothing left to do.
    fn finished(&self) -> bool {
        let no_more = self.stop.stopping()
            || self.server.settings.limit.is_some_and(|l| self.served >= l)
            || (self.listeners.is_empty() && self.dgrams.is_empty());
        no_more
            && self.conns.is_empty()
            && self.lingering.is_empty()
            && self.dgram_jobs.is_empty()
            && self.sessions.is_empty()
    }

    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut t: Option<Duration> = None;
        let mut at = |when: Instant| {
            let d = when.saturating_duration_since(now);
            t = Some(t.map_or(d, |t| t.min(d)));
        };
        if !self.again.is_empty() || self.stdin_wanted() || self.dgram_more {
            at(now);
        }
        if let Some(d) = self.stop.due() {
            at(d);
        }
        if let Some(d) = self.next_idle_check {
            at(d);
        }
        if let Some(d) = self.accept_retry {
            at(d);
        }
        if let Some(d) = self.stall_check {
            at(d);
        }
        if let Some(std::cmp::Reverse((d, _))) = self.timers.peek() {
            at(*d);
        }
        if let Some(d) = self.connect_check {
            at(d);
        }
        if !self.lingering.is_empty() {
            // Exec'd programs that closed their stdout but have not exited.
            at(now + Duration::from_millis(50));
        }
        t
    }

    fn handle(&mut self, events: &Events) -> Result<()> {
        for ev in events.iter() {
            match ev.token() {
                // A signal (checked at the top of every turn), or a lookup
                // answered.
                WAKE => self.lookup_answered(),
                STDIN => self.stdin_ready = true,
                t => {
                    if let Some(id) = token::conn_id(t) {
                        if self.sessions.contains_key(&id) {
                            self.drive_session(id);
                        } else if self.dgram_jobs.contains_key(&id) {
                            self.drive_dgram_job(id)?;
                        } else {
                            self.drive(id)?;
                        }
                    } else if let Some(i) = t.0.checked_sub(LISTEN_BASE) {
                        if i < self.listeners.len() {
                            self.accept_all(i);
                        } else if i < self.dgrams.len() {
                            self.datagrams(i)?;
                        }
                    }
                }
            }
        }
        let now = Instant::now();
        while let Some(std::cmp::Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.again.push(id);
        }
        if self.connect_check.is_some_and(|t| now >= t) {
            self.connect_check = self.check_connects(now);
        }
        if std::mem::take(&mut self.dgram_more) {
            for i in 0..self.dgrams.len() {
                self.datagrams(i)?;
            }
        }
        for id in std::mem::take(&mut self.again) {
            if self.sessions.contains_key(&id) {
                self.drive_session(id);
            } else {
                self.drive(id)?;
            }
        }
        if self.stdin_wanted() {
            self.relay_stdin()?;
        }
        let now = Instant::now();
        if self.next_idle_check.is_some_and(|t| now >= t) {
            self.close_idle(now);
        }
        if (!self.broker_paused.is_empty() || self.stdin_held_back())
            && self.stall_check.is_none_or(|t| now >= t)
        {
            let full = self.drop_stalled(now);
            self.stall_check = full.then(|| now + Duration::from_millis(250));
        }
        if self.accept_retry.is_some_and(|t| now >= t) {
            self.accept_retry = None;
            self.accept_more();
        }
        self.reap(false);
        runtime::notify_status(self.served, self.slots.in_use() + self.sessions.len());
        Ok(())
    }

    fn can_accept(&self) -> bool {
        runtime::may_accept(
            &self.server,
            self.served,
            self.slots.in_use(),
            self.stop.stopping(),
        )
    }

    /// Accept until the backlog is empty or a limit is reached. Excess
    /// connections stay in the kernel's backlog until a slot frees.
    fn accept_all(&mut self, i: usize) {
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
                    self.server.settings.log.repeated(
                        "accept",
                        true,
                        &format!("accept: {}", crate::error::describe(&e)),
                    );
                    self.accept_retry = Some(Instant::now() + Duration::from_millis(100));
                    return;
                }
            }
        }
        if self.server.settings.limit.is_some_and(|l| self.served >= l)
            || self.listeners.iter().all(|l| l.spent())
        {
            // --once / --count reached, or stdio's one connection taken:
            // stop listening, as nc -l does.
            self.listeners.clear();
        }
    }

    fn accept_more(&mut self) {
        self.full = false;
        for i in 0..self.listeners.len() {
            self.accept_all(i);
        }
    }

    fn add(&mut self, stream: Stream, peer: Endpoint) {
        let id = self.next_id;
        self.next_id += 1;
        let now = Instant::now();
        let mut conn = Conn {
            stream,
            peer,
            session: Session::new(&self.server.spec),
            child: None,
            fwd: None,
            to_stdout: None,
            greeting: None,
            out: Vec::new(),
            read_done: false,
            finish: false,
            shut: false,
            tls_writable: false,
            started: now,
            last: now,
            last_out: now,
            tally: Tally::default(),
            _slot: self.slots.hold(),
        };
        let fd = conn.stream.poll_fd();
        // A TLS session reads first (the handshake): writable is watched
        // once it holds ciphertext ([`Loop::watch_tls_output`]).
        let interest = if conn.stream.tls().is_some() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        if let Err(e) = self.poll.registry().register(
            &mut SourceFd(&fd),
            token::conn(id, PART_SOCKET),
            interest,
        ) {
            self.server.settings.log.error(&format!(
                "{}: {}",
                conn.peer,
                crate::error::describe(&e)
            ));
            return;
        }
        // A TLS client's program starts after the handshake, which tells
        // who the client is (progress); a client that never finishes it is
        // dropped at the handshake's time limit.
        if conn.stream.tls().is_none() {
            self.start_program(&mut conn, id);
        } else {
            let limit = now + crate::transport::tls::HANDSHAKE_TIMEOUT;
            self.timers.push(std::cmp::Reverse((limit, id)));
        }
        if let Spec::Forward(f) = &self.server.spec {
            let f = f.clone();
            self.start_forward(&mut conn, id, &f);
        }
        // One connection has nothing to interleave with: print it by
        // splice(2), when nothing needs to see the bytes.
        if self.server.settings.limit == Some(1)
            && matches!(self.server.spec, Spec::Print)
            && !self.server.settings.drive.hex
            && conn.stream.plain_fd().is_some()
        {
            conn.to_stdout = ToStdout::new().map(Box::new);
        }
        if let Some(s) = &mut conn.session {
            let step = s.start(&mut conn.out).unwrap_or(Step::Continue);
            conn.greeting = s.greeting().map(|g| (g, 0));
            conn.finish |= step == Step::Finish;
        }
        if self.stdin != StdinKind::None && self.stdin_eof {
            conn.finish = true;
        }
        self.conns.insert(id, conn);
        self.again.push(id);
    }

    /// `--exec`: start the connection's program.
    fn start_program(&self, conn: &mut Conn, id: usize) {
        let Spec::Exec(argv) = &self.server.spec else {
            return;
        };
        match self.spawn(argv, conn, id) {
            Ok(c) => conn.child = Some(Box::new(c)),
            Err(e) => {
                // Say so, then end the conversation cleanly: FIN now,
                // and read what the peer sends so it gets no reset.
                self.server.settings.log.error(&format!(
                    "{}: {}",
                    conn.peer,
                    exec::describe_spawn_error(&argv[0], &e)
                ));
                conn.session = Some(Session::Discard);
                conn.finish = true;
            }
        }
    }

    fn spawn(&self, argv: &[std::ffi::OsString], conn: &Conn, id: usize) -> io::Result<Pipes> {
        let mut cmd = exec::command(argv, &conn.peer, &conn.stream.local());
        exec::tls_env(&mut cmd, &conn.stream);
        let pipes = Pipes::spawn(
            &mut cmd,
            self.poll.registry(),
            token::conn(id, PART_CHILD_IN),
            token::conn(id, PART_CHILD_OUT),
        )?;
        // Known to shutdown and to a second Ctrl-C, as in the other models.
        exec::started(pipes.child.id() as i32);
        Ok(pipes)
    }

    /// Make all the progress a connection can make now, then close it if done.
    fn drive(&mut self, id: usize) -> Result<()> {
        self.drive_with(id, Loop::progress)
    }

    /// [`Loop::drive`] with the step that makes the progress: a panic in
    /// it ends this connection alone ([`isolated`], [`Loop::panicked`]).
    fn drive_with(
        &mut self,
        id: usize,
        step: impl FnOnce(&mut Loop, &mut Conn, usize) -> std::result::Result<(), End>,
    ) -> Result<()> {
        let Some(mut c) = self.conns.remove(&id) else {
            return Ok(()); // a late event for a connection already closed
        };
        let was_full = c.out.len() >= OUT_LIMIT;
        let r = isolated(|| step(self, &mut c, id));
        let drained = was_full && c.out.len() < OUT_LIMIT;
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
                if self.server.settings.log.level >= crate::event::Level::Verbose {
                    self.server.settings.log.error(&e.message(&c.peer));
                }
                self.close(c, None);
            }
            Err(End::Io(e)) => self.close(c, Some(e)),
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
    /// ([`Loop::drive_with`]), which calls this after. (Re-registering a
    /// socket that is writable already reports it at once.)
    fn watch_tls_output(&self, c: &mut Conn, id: usize) {
        let Some(t) = c.stream.tls() else {
            return;
        };
        let pending = t.has_pending();
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
    fn broker_room(&mut self, id: usize) -> bool {
        let room = self.broadcast.is_empty()
            && self
                .conns
                .values()
                .all(|c| c.shut || c.out.len() < OUT_LIMIT);
        if !room && self.broadcast.is_empty() {
            self.broker_paused.push(id);
        }
        room
    }

    fn progress(&mut self, c: &mut Conn, id: usize) -> std::result::Result<(), End> {
        if let Some(t) = c.stream.tls() {
            // The handshake first; then ciphertext a full socket left over.
            if !t.handshake_nowait().map_err(End::Io)? {
                let limit = crate::transport::tls::HANDSHAKE_TIMEOUT;
                if c.started.elapsed() >= limit {
                    return Err(End::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "tls: no handshake within {}",
                            humantime::format_duration(limit)
                        ),
                    )));
                }
                return Ok(());
            }
            if t.newly_settled() {
                self.server
                    .settings
                    .log
                    .tls(&c.peer.to_string(), &t.settled(), true);
                self.start_program(c, id);
            }
        }
        if c.fwd.is_some() {
            return self.progress_forward(c, id);
        }
        let hex = self.server.settings.drive.hex;
        let broker = matches!(self.server.spec, Spec::Broker);
        let mut reads = 0;
        loop {
            let mut moved = flush(c, hex).map_err(End::Io)?;
            if let Some(ch) = &mut c.child {
                moved |= ch
                    .pump(&mut c.out, OUT_LIMIT, c.read_done)
                    .map_err(End::Io)?;
                // The program's exit (its output's end) is our FIN.
                c.finish |= !ch.output_open();
                if !c.out.is_empty() {
                    moved |= flush(c, hex).map_err(End::Io)?;
                }
            }
            // A broker chunk is fanned out before the next read (in `drive`).
            let may_read = !c.read_done && c.has_room() && (!broker || self.broker_room(id));
            if may_read {
                if reads == READS_PER_TURN {
                    self.again.push(id);
                    return Ok(());
                }
                reads += 1;
                let read = match (&mut c.to_stdout, c.stream.plain_fd()) {
                    // One connection, printed: straight to stdout. (A sink
                    // is made only for a plain stream; without one, the
                    // bytes go the ordinary way, through the session.)
                    (Some(sink), Some(fd)) => match sink.pump(fd).map_err(stdout_stop)? {
                        (n, false) if n > 0 => {
                            c.last = Instant::now();
                            c.tally.bytes_in += n as u64;
                            moved = true;
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        (n, false) => {
                            debug_assert_eq!(n, 0);
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        (n, true) => {
                            c.tally.bytes_in += n as u64;
                            Ok(0)
                        }
                    },
                    _ => (&c.stream).read(&mut self.buf),
                };
                match read {
                    Ok(0) => {
                        c.read_done = true;
                        moved = true;
                        if let Some(s) = &mut c.session {
                            let step = s.end(&mut self.scratch).map_err(stdout_stop)?;
                            // While stdin is relayed, our side of the
                            // conversation is stdin: its end is our FIN,
                            // not the peer's (nc -l < file does the same).
                            let relaying = self.stdin != StdinKind::None && !self.stdin_eof;
                            c.finish |= step == Step::Finish && !relaying;
                        }
                        queue(c, &mut self.scratch);
                    }
                    Ok(n) => {
                        moved = true;
                        c.last = Instant::now();
                        let data = &self.buf[..n];
                        if hex {
                            hex_to_stderr(&c.peer.to_string(), '<', c.tally.bytes_in, data);
                        }
                        c.tally.bytes_in += n as u64;
                        if broker {
                            self.broadcast.extend_from_slice(data);
                        }
                        if let Some(ch) = &mut c.child {
                            ch.queue(data);
                        } else if let Some(s) = &mut c.session {
                            let step = s.input(data, &mut self.scratch).map_err(stdout_stop)?;
                            c.finish |= step == Step::Finish;
                            queue(c, &mut self.scratch);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if let Some(s) = &mut c.session {
                            s.idle().map_err(stdout_stop)?;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => moved = true,
                    Err(e) => return Err(End::Io(e)),
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// Queue what a broker client sent on every other client.
    fn fan_out(&mut self, from: usize) {
        for (&id, c) in self.conns.iter_mut() {
            if id != from && !c.shut {
                c.out.extend_from_slice(&self.broadcast);
                self.again.push(id);
            }
        }
        self.broadcast.clear();
    }

    /// Drop peers that stopped reading while they hold the others back
    /// (broker receivers, or the stdin relay's slowest): a full queue that
    /// has not drained for `--stall-timeout`. Returns whether any queue is
    /// still full (so the loop checks again).
    fn drop_stalled(&mut self, now: Instant) -> bool {
        let Some(bound) = self.server.settings.stall else {
            return false;
        };
        let stalled: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                broker::stalled(
                    c.out.len(),
                    OUT_LIMIT,
                    now.duration_since(c.last_out),
                    bound,
                )
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
        self.conns.values().any(|c| c.out.len() >= OUT_LIMIT)
    }

    fn close(&mut self, mut c: Conn, err: Option<io::Error>) {
        let kind = self.server.kind;
        if let Some(e) = err {
            // A peer that went away is routine for a server; say so only
            // when asked.
            if !crate::error::peer_went_away(&e)
                || self.server.settings.log.level >= crate::event::Level::Verbose
            {
                self.server.settings.log.error(&format!(
                    "{}: {}",
                    c.peer,
                    crate::error::describe(&e)
                ));
            }
        }
        if c.stream.tls().is_some_and(|t| t.truncated()) {
            let warning = crate::transport::tls::truncation(&c.peer.to_string());
            self.server.settings.log.warning(&warning);
        }
        if let Some(mut ch) = c.child.take() {
            ch.close();
            c.tally.program = self.done_with(ch.child);
        }
        if let Some(mut f) = c.fwd.take() {
            f.release();
            (c.tally.bytes_in, c.tally.bytes_out) = f.moved();
            c.tally.via = f.via();
        }
        self.server
            .settings
            .log
            .closed(kind, &c.peer.to_string(), c.tally, c.started.elapsed());
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
    fn panicked(&mut self, c: Conn) {
        runtime::report(&self.server.settings.log, &c.peer, Some(&End::Panicked));
        // Its session's output, not yet queued, is nobody else's.
        self.scratch.clear();
        if let Some(ch) = &c.child {
            exec::terminate(ch.child.id() as i32);
        }
        match &c.fwd {
            Some(f) => f.reset(&c.stream),
            None => c.stream.reset_on_close(),
        }
        self.close(c, None);
    }

    fn close_idle(&mut self, now: Instant) {
        let Some(idle) = self.server.settings.drive.idle else {
            return;
        };
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| now.duration_since(c.last) >= idle)
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
    fn begin_stop(&mut self) {
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
            for c in self.conns.values_mut() {
                c.finish = true;
            }
            self.again.extend(self.conns.keys().copied());
        }
    }

    /// The grace period ran out: end what is left, each shown as cut
    /// ([`runtime::CLOSED_AT_SHUTDOWN`]) as every model shows it.
    fn abandon(&mut self) {
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
                if let Some(f) = &c.fwd {
                    f.reset(&c.stream);
                }
                let e = io::Error::other(runtime::CLOSED_AT_SHUTDOWN);
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

    fn reap(&mut self, all: bool) {
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

/// Run one connection's step with a panic in it caught: the connection
/// ends with `End::Panicked` (the panic hook has printed what and where)
/// and the loop goes on with the others.
///
/// Unwind safety (why `AssertUnwindSafe` holds): the step mutates the
/// connection, which is out of the loop's map while it runs and is closed
/// after a panic ([`Loop::panicked`]), and the loop's shared state, none
/// of which a panic midway leaves inconsistent for the others: the read
/// buffer holds nothing between steps; the session scratch is cleared
/// after a panic; `again`, the timers, the paused brokers and the
/// lookup's waiting list hold ids, and a gone id is skipped; a `Half`
/// keeps a pipe from the pool in its own field from the moment it takes
/// it, so closing the connection gives it back; a broker's chunk is put
/// in `broadcast` whole, after it was read, and goes out as any other.
/// The locks a step may hold when it panics (a TLS session's, the program
/// registry's, the event log's bursts) are all taken poison-tolerant, so
/// closing the connection, and every later turn, still takes them.
fn isolated(step: impl FnOnce() -> std::result::Result<(), End>) -> std::result::Result<(), End> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or(Err(End::Panicked))
}

/// Append session output to the connection's queue.
fn queue(c: &mut Conn, scratch: &mut Vec<u8>) {
    if scratch.is_empty() {
        return;
    }
    if c.shut {
        scratch.clear();
    } else if c.out.is_empty() {
        std::mem::swap(&mut c.out, scratch);
    } else {
        c.out.append(scratch);
    }
}

/// Write queued output until the socket is full; shut the write side once
/// it drains if the handler is done, never before: the FIN must follow the
/// last byte.
fn flush(c: &mut Conn, hex: bool) -> io::Result<bool> {
    let mut moved = false;
    if let Some((g, done)) = &mut c.greeting {
        let (n, blocked) = write_now(&c.stream, &c.peer, &g[*done..], hex, &mut c.tally.bytes_out)?;
        *done += n;
        if n > 0 {
            moved = true;
            c.last = Instant::now();
            c.last_out = c.last;
        }
        if blocked {
            return Ok(moved);
        }
        c.greeting = None;
    }
    let (sent, _) = write_now(&c.stream, &c.peer, &c.out, hex, &mut c.tally.bytes_out)?;
    if sent > 0 {
        moved = true;
        c.last = Instant::now();
        c.last_out = c.last;
        c.out.drain(..sent);
    }
    if c.out.is_empty() {
        if c.out.capacity() > 0 {
            // Nothing in flight: hold no buffer.
            c.out = Vec::new();
        }
        if c.finish && !c.shut {
            c.shut = true;
            moved = true;
            c.stream.shutdown(Shutdown::Write)?;
        }
    }
    Ok(moved)
}

/// Write as much of `data` as the socket takes now (and dump it for
/// `--hex`): how many bytes went, and whether the socket would block.
fn write_now(
    stream: &Stream,
    peer: &Endpoint,
    data: &[u8],
    hex: bool,
    bytes_out: &mut u64,
) -> io::Result<(usize, bool)> {
    let mut sent = 0;
    while sent < data.len() {
        match (&*stream).write(&data[sent..]) {
            Ok(n) => {
                if hex {
                    hex_to_stderr(&peer.to_string(), '>', *bytes_out, &data[sent..sent + n]);
                }
                sent += n;
                *bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((sent, true)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((sent, false))
}

/// Move bytes between a connection and its exec'd program: the peer's
/// bytes to the program's stdin (closed after the peer's FIN, once
/// drained), the program's stdout to the peer (its EOF finishes the
/// connection).
fn stdout_stop(e: io::Error) -> End {
    if e.kind() == io::ErrorKind::BrokenPipe {
        End::StdoutClosed
    } else {
        End::Io(e)
    }
}

/// Errors from accept that concern one connection, not the listener.
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EPROTO) | Some(libc::EPERM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::net::UnixStream;

    /// A quiet loop serving `spec`, with no listeners: the tests add
    /// connections themselves.
    pub(super) fn a_loop(spec: Spec) -> Loop {
        let log = crate::event::Log {
            level: crate::event::Level::Quiet,
            json: false,
            upstream: None,
        };
        let server = Server {
            bound: Bound::Stream(Vec::new()),
            spec,
            settings: runtime::Settings {
                log: log.clone(),
                access: crate::access::Access::default(),
                limit: None,
                max_conns: None,
                pool: u64::MAX,
                pool_flag: "",
                grace: Duration::from_secs(1),
                stall: None,
                drive: crate::handler::drive::Drive {
                    log,
                    idle: None,
                    hex: false,
                    count: false,
                },
            },
            signals: runtime::Signals::default(),
            kind: crate::addr::Kind::Unix,
        };
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
        Loop::new(server, poll, waker).unwrap()
    }

    /// A connection on the loop, and its client's end.
    fn connect(lp: &mut Loop) -> (usize, UnixStream) {
        let (client, server) = UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let id = lp.next_id;
        lp.add(Stream::Unix(server), Endpoint::Unnamed);
        (id, client)
    }

    #[test]
    fn isolated_turns_a_panic_into_its_end() {
        assert!(isolated(|| Ok(())).is_ok());
        assert!(matches!(
            isolated(|| Err(End::IdleTimeout)),
            Err(End::IdleTimeout)
        ));
        assert!(matches!(
            isolated(|| panic!("a bug in a handler")),
            Err(End::Panicked)
        ));
    }

    /// A panic while one connection is handled ends that connection, and
    /// the loop serves the others on.
    #[test]
    fn a_panic_ends_its_connection_alone() {
        let mut lp = a_loop(Spec::Echo);
        let (a, mut a_client) = connect(&mut lp);
        let (b, mut b_client) = connect(&mut lp);
        lp.drive_with(a, |_, _, _| panic!("a bug in a handler"))
            .unwrap();
        assert!(!lp.conns.contains_key(&a), "it is closed");
        assert_eq!(lp.totals.conns, 1, "and counted as ended");
        let mut buf = [0u8; 16];
        assert_eq!(
            a_client.read(&mut buf).unwrap(),
            0,
            "its client sees the end"
        );
        b_client.write_all(b"hi").unwrap();
        lp.drive(b).unwrap();
        assert!(lp.conns.contains_key(&b));
        let n = b_client.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi", "the other connection is served on");
    }

    /// A forwarded connection that panicked is cut on both sides: a
    /// reset, to the client and to the upstream, so that neither takes
    /// the cut transfer for a whole one.
    #[test]
    fn a_panicking_forwarded_connection_is_reset_both_ways() {
        use std::net::{TcpListener, TcpStream};
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = upstream.local_addr().unwrap().port();
        let target = crate::handler::forward::Forward {
            addr: crate::addr::Addr::Inet {
                proto: crate::addr::Proto::Tcp,
                host: "127.0.0.1".into(),
                port,
            },
            shown: format!("127.0.0.1:{port}").into(),
            opts: crate::transport::Opts::default(),
            timeout: Duration::from_secs(5),
            half_close: Duration::from_secs(5),
        };
        let mut lp = a_loop(Spec::Forward(Arc::new(target)));
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(front.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (served, peer) = front.accept().unwrap();
        served.set_nonblocking(true).unwrap();
        let id = lp.next_id;
        lp.add(Stream::Tcp(served), Endpoint::Inet(peer));
        let (mut up, _) = upstream.accept().unwrap();
        up.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Driven until the bytes are through: the connect is done, and a
        // pipe is lent to the direction that moved them.
        client.write_all(b"hi").unwrap();
        let mut buf = [0u8; 16];
        up.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        let n = loop {
            lp.drive(id).unwrap();
            match up.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("the upstream got nothing: {e}"),
            }
        };
        assert_eq!(&buf[..n], b"hi");
        up.set_nonblocking(false).unwrap();
        lp.drive_with(id, |_, _, _| panic!("a bug in a handler"))
            .unwrap();
        assert!(lp.conns.is_empty());
        let reset = |r: io::Result<usize>| matches!(r, Err(e) if e.kind() == io::ErrorKind::ConnectionReset);
        assert!(reset(client.read(&mut buf)), "the client is reset");
        assert!(reset(up.read(&mut buf)), "the upstream is reset");
    }

    /// A connection that panicked gives back what it held: its program
    /// is ended (a `sleep 30` would otherwise outlive it), its slot in
    /// the budget is free.
    #[test]
    fn a_panicking_connection_s_program_is_ended() {
        let argv: Arc<[OsString]> = ["sleep", "30"].map(OsString::from).into();
        let mut lp = a_loop(Spec::Exec(argv));
        lp.server.settings.max_conns = Some(1);
        let (a, _client) = connect(&mut lp);
        assert!(lp.conns[&a].child.is_some(), "its program runs");
        assert!(!lp.can_accept(), "the one slot is taken");
        lp.drive_with(a, |_, _, _| panic!("a bug in a handler"))
            .unwrap();
        assert!(lp.conns.is_empty());
        assert!(lp.can_accept(), "its slot is free");
        let until = Instant::now() + Duration::from_secs(5);
        while !lp.lingering.is_empty() && Instant::now() < until {
            lp.lingering
                .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(lp.lingering.is_empty(), "its program was ended");
    }
}
