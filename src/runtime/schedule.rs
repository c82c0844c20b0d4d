//! The one accept loop of the blocking models (fork-serve, thread-serve),
//! generic over how a model starts, reaps and cuts its workers
//! ([`Workers`]: a child per request, or a pooled thread). The loop owns
//! everything the models share: admission and the budget, the table of
//! open workers (the one count of what is active), forwarded datagram
//! sessions' routing, the "waiting for a slot" line, the [`Stop`], and
//! how an ended worker is logged and counted.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use super::*;
use crate::event::Tally;
use crate::handler::End;
use crate::transport::{Dgram, Endpoint, ReplyTo, Stream};

/// What a worker is started for.
pub enum Work<'a> {
    /// An accepted connection.
    Stream { stream: Stream, peer: Endpoint },
    /// One datagram (a request of its own).
    Datagram {
        data: &'a [u8],
        to: ReplyTo,
        peer: Endpoint,
        sock: Arc<Dgram>,
    },
    /// A forwarded datagram session: its first datagram, and the main
    /// loop's ends of every other inbox (which a forked worker closes).
    Session {
        session: NewSession,
        first: &'a [u8],
        others: &'a [RawFd],
    },
}

/// How a worker ended, as its model learned it.
pub enum Outcome {
    /// It served its request and says how: the loop logs and counts it.
    Served { tally: Tally, end: Option<End> },
    /// It logged its end itself, and its bytes reach the model's totals
    /// another way (a forked child's tally pipe).
    Reported { stdout_closed: bool },
    /// Killed by `signal` before it could say anything; `worker` names it
    /// for the log (`child 1234`).
    Killed {
        worker: String,
        signal: nix::sys::signal::Signal,
    },
}

/// How a model schedules its workers: the loop asks it to start one per
/// request, to say which ended, and, at the end of the grace period, to
/// cut them.
pub trait Workers {
    /// What names a worker (a child's pid, a job's id).
    type Id: Copy + Eq + std::hash::Hash;

    /// Start a worker for `work`. An error is logged with the peer, and
    /// the request is dropped.
    fn start(&mut self, server: &Server, acc: &Acceptor, work: Work<'_>) -> io::Result<Self::Id>;

    /// Add to `ended` the workers that ended since the last turn
    /// (`woken`: the tokens of the last wait's events), and to `totals`
    /// what they report another way.
    fn reap(
        &mut self,
        acc: &Acceptor,
        woken: &[mio::Token],
        ended: &mut Vec<(Self::Id, Outcome)>,
        totals: &mut Totals,
    );

    /// The grace period is over: make every worker's blocking calls
    /// return and stop the programs they started.
    fn cut(&mut self, server: &Server);

    /// The cut workers outlived [`HARD_STOP`]: end them, or leave them to
    /// the process's exit.
    fn abandon(&mut self);

    /// How soon the loop must look again with no event (a timer the model
    /// keeps), given `open` workers.
    fn wake_within(&self, open: usize) -> Option<Duration>;

    /// The loop ended; `all_ended` unless workers were abandoned at the
    /// hard stop (those are left to the process's exit).
    fn close(&mut self, all_ended: bool);
}

/// A worker the loop started and has not seen end: its slot in the
/// budget, held until its model reports it ended (a thread's
/// [`Slot`] drops, a child's pidfd fires: whichever way it ends).
struct Open {
    _slot: HeldSlot,
    peer: Endpoint,
    started: Instant,
    /// It was open at the end of the grace period.
    cut: bool,
}

/// What the loop hands back to its model.
pub struct Served {
    pub totals: Totals,
    pub stdout_closed: bool,
}

/// Serve until the server stops: accept (or receive), start a worker per
/// request within the budget, count out the ones that end, and stop as
/// [`Stop`] says.
pub fn run<W: Workers>(server: &Server, acc: &mut Acceptor, workers: &mut W) -> Result<Served> {
    let mut open: HashMap<W::Id, Open> = HashMap::new();
    let slots = Slots::default();
    let mut served = 0u64;
    let mut totals = Totals::default();
    let mut stop = Stop::default();
    let mut events = mio::Events::with_capacity(256);
    let mut woken: Vec<mio::Token> = Vec::new();
    let mut ended: Vec<(W::Id, Outcome)> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut stdout_closed = false;
    let mut sessions = Sessions::<W::Id>::new();
    let mut waiting = Waiting::default();
    // Workers were left running at the hard stop.
    let mut abandoned = false;
    loop {
        workers.reap(acc, &woken, &mut ended, &mut totals);
        woken.clear();
        for (id, outcome) in ended.drain(..) {
            sessions.ended(id);
            if let Some(o) = open.remove(&id) {
                stdout_closed |= settle(server, o, outcome, &mut totals);
            }
        }
        exec::reap_orphans();
        server.settings.log.flush_repeated(false);
        if stop.begins(server, stdout_closed) {
            acc.close();
        }
        if stop.stopping() {
            sessions.close_all();
        }
        notify_status(served, slots.in_use());
        // Forwarded datagram sessions still receive through the socket
        // after the last one is admitted.
        let at_limit = server.settings.limit.is_some_and(|l| served >= l);
        if at_limit && (!acc.sessions || open.is_empty()) {
            acc.close();
        }
        if acc.spent() {
            // stdio's one connection was taken (served or refused).
            acc.close();
        }
        if acc.is_closed() && open.is_empty() {
            break;
        }
        match stop.phase(Instant::now()) {
            Phase::Serving | Phase::Grace | Phase::Cutting => {}
            Phase::Cut => {
                server.warn_cut(open.len());
                for o in open.values_mut() {
                    o.cut = true;
                }
                workers.cut(server);
            }
            Phase::Abandon => {
                // Their models could not tell how they ended: they are
                // shown as cut, with what is known (nothing of their bytes).
                for (_, o) in open.drain() {
                    server.closed_at_shutdown(
                        &o.peer,
                        Tally::default(),
                        o.started.elapsed(),
                        &mut totals,
                    );
                }
                workers.abandon();
                abandoned = true;
                break;
            }
        }
        // Forwarded datagram sessions: each peer's datagrams to its worker.
        while let Some((s, main)) = acc
            .sessions
            .then(|| {
                sessions.receive(
                    acc,
                    server,
                    &mut buf,
                    &mut served,
                    slots.in_use(),
                    stop.stopping(),
                )
            })
            .flatten()
        {
            let (peer, sock) = (s.peer.clone(), s.sock.clone());
            // A forked worker closes the server's end of every inbox, its
            // own among them: holding that, it would never see the inbox
            // close when the server stops, and would wait out the grace
            // period.
            let mut others = sessions.fds();
            others.push(main.raw_fd());
            let len = s.len;
            let work = Work::Session {
                session: s,
                first: &buf[..len],
                others: &others,
            };
            match workers.start(server, acc, work) {
                Ok(id) => {
                    open.insert(id, Open::new(slots.hold(), peer.clone()));
                    sessions.started(&sock, peer, id, main);
                }
                Err(e) => server.settings.log.error(&format!("{peer}: {e}")),
            }
        }
        // Accept (or receive) while there is room, a turn's worth.
        let mut accepted = 0;
        while !acc.sessions && may_accept(server, served, slots.in_use(), stop.stopping()) {
            if accepted == ACCEPTS_PER_TURN {
                break;
            }
            // Refused peers are closed in `next`: no worker is started.
            let Some(req) = acc.next(server, &mut buf, &mut served) else {
                break;
            };
            accepted += 1;
            let peer = req.peer().clone();
            let work = match req {
                Request::Stream { stream, peer } => Work::Stream { stream, peer },
                Request::Datagram {
                    len,
                    to,
                    peer,
                    sock,
                } => Work::Datagram {
                    data: &buf[..len],
                    to,
                    peer,
                    sock,
                },
            };
            match workers.start(server, acc, work) {
                Ok(id) => {
                    open.insert(id, Open::new(slots.hold(), peer));
                }
                Err(e) => server.settings.log.error(&format!("{peer}: {e}")),
            }
        }
        if !acc.sessions {
            acc.waiting(
                &mut waiting,
                server,
                served,
                slots.in_use(),
                stop.stopping(),
            );
        }
        let now = Instant::now();
        let mut timeout = stop.due().map(|d| {
            d.saturating_duration_since(now)
                .max(Duration::from_millis(10))
        });
        // More may wait in the backlog: look again at once, after the
        // ended workers are counted out.
        if (acc.is_closed() && open.is_empty()) || sessions.more || accepted == ACCEPTS_PER_TURN {
            timeout = Some(Duration::ZERO);
        }
        if let Some(t) = workers.wake_within(open.len()) {
            timeout = Some(timeout.map_or(t, |d| d.min(t)));
        }
        acc.wait(&mut events, timeout)?;
        woken.extend(events.iter().map(|e| e.token()));
    }
    workers.close(!abandoned);
    Ok(Served {
        totals,
        stdout_closed,
    })
}

impl Open {
    fn new(slot: HeldSlot, peer: Endpoint) -> Open {
        Open {
            _slot: slot,
            peer,
            started: Instant::now(),
            cut: false,
        }
    }
}

/// Log and count one ended worker, as its outcome says. Returns whether
/// it found stdout closed.
fn settle(server: &Server, o: Open, outcome: Outcome, totals: &mut Totals) -> bool {
    let log = &server.settings.log;
    match outcome {
        Outcome::Served { tally, end } => {
            let stdout_closed = matches!(end, Some(End::StdoutClosed));
            if o.cut && !stdout_closed {
                server.closed_at_shutdown(&o.peer, tally, o.started.elapsed(), totals);
            } else {
                report(log, &o.peer, end.as_ref());
                log.closed(server.kind, &o.peer.to_string(), tally, o.started.elapsed());
                totals.conns += 1;
                totals.add(tally);
            }
            stdout_closed
        }
        Outcome::Reported { stdout_closed } => stdout_closed,
        Outcome::Killed { .. } if o.cut => {
            server.closed_at_shutdown(&o.peer, Tally::default(), o.started.elapsed(), totals);
            false
        }
        Outcome::Killed { worker, signal } => {
            // A worker ended by SIGTERM was asked to stop; any other
            // signal is news.
            if signal != nix::sys::signal::Signal::SIGTERM {
                log.error(&format!(
                    "{}: {worker} killed by signal {}",
                    o.peer, signal as i32
                ));
            }
            false
        }
    }
}
