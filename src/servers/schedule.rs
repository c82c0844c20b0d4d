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
use crate::event::ConnStats;
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
        session: SessionStart,
        first: &'a [u8],
        others: &'a [RawFd],
    },
}

/// How a worker ended, as its model learned it.
pub enum Outcome {
    /// It served its request and says how: the loop logs and counts it.
    Served {
        tally: ConnStats,
        end: Option<End>,
        /// The peer to show in place of the accepted one (the client a
        /// `--proxy-protocol` header named).
        peer: Option<Endpoint>,
    },
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
        totals: &mut ServerTotals,
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
    pub totals: ServerTotals,
    pub stdout_closed: bool,
}

/// Serve until the server stops: accept (or receive), start a worker per
/// request within the budget, count out the ones that end, and stop as
/// [`Stop`] says.
pub fn run<W: Workers>(server: &Server, acc: &mut Acceptor, workers: &mut W) -> Result<Served> {
    let mut open: HashMap<W::Id, Open> = HashMap::new();
    let slots = Slots::default();
    let mut served = 0u64;
    let mut totals = ServerTotals::default();
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
        server.service.settings.log.flush_repeated(false);
        if stop.begins(server, stdout_closed) {
            acc.close();
        }
        if stop.stopping() {
            sessions.close_all();
        }
        notify_status(served, slots.in_use());
        // Forwarded datagram sessions still receive through the socket
        // after the last one is admitted.
        let at_limit = server.service.settings.limit.is_some_and(|l| served >= l);
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
                        ConnStats::default(),
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
                Err(e) => server.service.settings.log.error(&format!("{peer}: {e}")),
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
                Arrival::Stream { stream, peer } => Work::Stream { stream, peer },
                Arrival::Datagram {
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
                Err(e) => server.service.settings.log.error(&format!("{peer}: {e}")),
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
fn settle(server: &Server, o: Open, outcome: Outcome, totals: &mut ServerTotals) -> bool {
    let log = &server.service.settings.log;
    match outcome {
        Outcome::Served { tally, end, peer } => {
            let o = Open {
                peer: peer.unwrap_or(o.peer),
                ..o
            };
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
            server.closed_at_shutdown(&o.peer, ConnStats::default(), o.started.elapsed(), totals);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Workers whose ends the test scripts: each ends at the next turn
    /// when `end_at_once`, or when cut when `end_when_cut`, or never.
    #[derive(Default)]
    struct Scripted {
        open: Vec<u64>,
        next: u64,
        end_at_once: bool,
        end_when_cut: bool,
        cuts: usize,
        abandoned: bool,
        closed: Option<bool>,
        /// Set on the first start: a stop signal comes while it serves.
        signal: Option<Arc<AtomicUsize>>,
    }

    impl Workers for Scripted {
        type Id = u64;
        fn start(&mut self, _: &Server, _: &Acceptor, _: Work<'_>) -> io::Result<u64> {
            self.next += 1;
            self.open.push(self.next);
            if let Some(s) = self.signal.take() {
                s.fetch_add(1, Ordering::SeqCst);
            }
            Ok(self.next)
        }
        fn reap(
            &mut self,
            _: &Acceptor,
            _: &[mio::Token],
            ended: &mut Vec<(u64, Outcome)>,
            _: &mut ServerTotals,
        ) {
            if self.end_at_once || (self.end_when_cut && self.cuts > 0) {
                for id in self.open.drain(..) {
                    let tally = ConnStats {
                        bytes_in: 1,
                        ..ConnStats::default()
                    };
                    ended.push((
                        id,
                        Outcome::Served {
                            tally,
                            end: None,
                            peer: None,
                        },
                    ));
                }
            }
        }
        fn cut(&mut self, _: &Server) {
            self.cuts += 1;
        }
        fn abandon(&mut self) {
            self.abandoned = true;
        }
        fn wake_within(&self, open: usize) -> Option<Duration> {
            (open > 0).then_some(Duration::from_millis(5))
        }
        fn close(&mut self, all_ended: bool) {
            self.closed = Some(all_ended);
        }
    }

    /// A quiet server on a loopback port, `limit` connections, no grace.
    fn a_server(limit: Option<u64>) -> (Server, Arc<AtomicUsize>, std::net::SocketAddr) {
        let addr = crate::addr::parse("127.0.0.1:0").unwrap();
        let opts = Opts {
            backlog: 16,
            ..Opts::default()
        };
        let bound = transport::bind(&addr, &opts).unwrap();
        let local = match &bound {
            Bound::Stream(ls) => match &ls[0].local {
                crate::transport::Endpoint::Inet(a) => *a,
                other => panic!("{other}"),
            },
            Bound::Dgram(_) => panic!("a stream socket"),
        };
        let signals = Arc::new(AtomicUsize::new(0));
        let server = Server {
            bound,
            service: super::Service {
                spec: Spec::Echo,
                settings: Settings {
                    limit,
                    ..Settings::quiet(Duration::ZERO)
                },
            },
            signals: Signals(signals.clone()),
            kind: crate::addr::Kind::Tcp,
        };
        (server, signals, local)
    }

    #[test]
    fn count_ends_once_its_workers_end() {
        let (mut server, _, local) = a_server(Some(2));
        let mut acc = Acceptor::new(&mut server).unwrap();
        let _clients: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(local).unwrap())
            .collect();
        let mut w = Scripted {
            end_at_once: true,
            ..Scripted::default()
        };
        let done = run(&server, &mut acc, &mut w).unwrap();
        assert_eq!(done.totals.conns, 2);
        assert_eq!(done.totals.tally.bytes_in, 2);
        assert_eq!(w.cuts, 0);
        assert_eq!(w.closed, Some(true));
        assert!(acc.is_closed());
    }

    #[test]
    fn the_grace_period_cuts_once_and_counts_what_it_cut() {
        let (mut server, signal, local) = a_server(None);
        let mut acc = Acceptor::new(&mut server).unwrap();
        let _client = std::net::TcpStream::connect(local).unwrap();
        let mut w = Scripted {
            end_when_cut: true,
            signal: Some(signal),
            ..Scripted::default()
        };
        let done = run(&server, &mut acc, &mut w).unwrap();
        assert_eq!(w.cuts, 1);
        assert!(!w.abandoned);
        assert_eq!(done.totals.conns, 1, "shown as cut, and counted");
        assert_eq!(done.totals.tally.bytes_in, 1, "with what it reported");
        assert_eq!(w.closed, Some(true));
    }

    #[test]
    fn a_worker_that_outlives_the_cut_is_abandoned_at_the_hard_stop() {
        let (mut server, signal, local) = a_server(None);
        let mut acc = Acceptor::new(&mut server).unwrap();
        let _client = std::net::TcpStream::connect(local).unwrap();
        let mut w = Scripted {
            signal: Some(signal),
            ..Scripted::default()
        };
        let began = Instant::now();
        let done = run(&server, &mut acc, &mut w).unwrap();
        assert!(began.elapsed() >= HARD_STOP);
        assert_eq!(w.cuts, 1);
        assert!(w.abandoned);
        assert_eq!(done.totals.conns, 1, "shown as cut, and counted");
        assert_eq!(w.closed, Some(false), "its thread is not waited for");
    }
}
