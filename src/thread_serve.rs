//! `sockcat thread-serve`: a thread per connection (per datagram for UDP),
//! like Python's ThreadingMixIn, bounded by `--max-threads`.
//!
//! The main thread only accepts and hands each connection to a thread of
//! its own, which serves it with the blocking driver shared with
//! `fork-serve`. A thread that finishes waits briefly for the next
//! connection before it exits, which spares a thread start per connection
//! under load; idle threads end after [`IDLE_EXIT`] and are joined, so the
//! thread count returns to one after a load.

use std::collections::{HashMap, VecDeque};
use std::net::Shutdown;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::Events;

use crate::error::Result;
use crate::event::Tally;
use crate::handler::End;
use crate::handler::drive::{self, Drive};
use crate::handler::{Spec, exec};
use crate::runtime::{self, Acceptor, Request, Slot, Totals, Turn};
use crate::transport::{Dgram, Endpoint, ReplyTo, Stream};

/// How soon to try again to start a thread after one could not start.
const SPAWN_RETRY: Duration = Duration::from_millis(100);
/// How long a thread with nothing to do waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(1);

/// One connection or datagram for a thread to serve.
enum Job {
    Stream {
        id: u64,
        stream: Stream,
        peer: Endpoint,
    },
    Datagram {
        id: u64,
        data: Vec<u8>,
        to: ReplyTo,
        peer: Endpoint,
        sock: Arc<Dgram>,
    },
    /// A forwarded datagram session: its first datagram, and its inbox.
    Session {
        id: u64,
        data: Vec<u8>,
        to: ReplyTo,
        peer: Endpoint,
        sock: Arc<Dgram>,
        inbox: std::os::fd::OwnedFd,
    },
}

/// What threads tell the main thread.
enum Msg {
    /// A connection ended.
    Done {
        id: u64,
        tally: Tally,
        end: Option<End>,
    },
    /// A thread exited and can be joined.
    Exited(u64),
}

/// Work waiting for a thread, and how many threads wait for work.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    idle: usize,
    closing: bool,
}

struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// A connection being served, as the main thread tracks it.
struct Active {
    peer: Endpoint,
    started: Instant,
    /// A second handle on the socket, to cut it when the grace period ends.
    stream: Option<Stream>,
}

pub fn run(cfg: runtime::Config) -> Result<()> {
    let mut server = runtime::setup(cfg)?;
    let mut acc = Acceptor::new(&mut server)?;
    let kind = server.kind;
    let (tx, rx) = mpsc::channel::<Msg>();
    let pool = Arc::new(Pool {
        queue: Mutex::new(Queue::default()),
        ready: Condvar::new(),
    });
    let mut threads: HashMap<u64, JoinHandle<()>> = HashMap::new();
    let mut next_thread = 0u64;
    let mut active: HashMap<u64, Active> = HashMap::new();
    let mut next_id = 0u64;
    let mut served = 0u64;
    let mut totals = Totals::default();
    let mut stopping: Option<Instant> = None;
    let mut events = Events::with_capacity(64);
    let began = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut stdout_closed = false;
    let mut sessions = runtime::Sessions::<u64>::new();
    let mut waiting = runtime::Waiting::default();
    let max = server.settings.pool;
    let waker = acc.waker.clone();
    let (spec, drive_opts) = (server.spec.clone(), server.settings.drive.clone());

    // Start a thread when queued jobs outnumber the threads waiting for
    // work and the pool has room. A thread that cannot start (a process or
    // memory limit) is not fatal: its job waits in the queue, like a
    // connection beyond --max-threads, until a thread frees or a retry
    // succeeds.
    let mut grow = |threads: &mut HashMap<u64, JoinHandle<()>>| -> std::io::Result<()> {
        let q = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
        let needed = q.jobs.len() > q.idle;
        drop(q);
        if !needed || threads.len() as u64 >= max {
            pool.ready.notify_one();
            return Ok(());
        }
        let id = next_thread;
        let (pool, tx, waker) = (pool.clone(), tx.clone(), waker.clone());
        let (spec, d) = (spec.clone(), drive_opts.clone());
        let h = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || {
                // Dropped when the thread ends, by return or by panic.
                let _exit = Slot::new(tx.clone(), waker.clone(), Msg::Exited(id));
                worker(&pool, &spec, &d, &tx, &waker);
            })?;
        next_thread += 1;
        threads.insert(id, h);
        Ok(())
    };
    // When to try again to start a thread, while one could not start.
    let mut retry: Option<Instant> = None;

    loop {
        while let Ok(m) = rx.try_recv() {
            match m {
                Msg::Done { id, tally, end } => {
                    let Some(a) = active.remove(&id) else {
                        continue;
                    };
                    if matches!(end, Some(End::StdoutClosed)) {
                        stdout_closed = true;
                    }
                    sessions.ended(id);
                    runtime::report(&server.settings.log, &a.peer, end.as_ref());
                    server.settings.log.closed(
                        kind,
                        &a.peer.to_string(),
                        tally,
                        a.started.elapsed(),
                    );
                    totals.conns += 1;
                    totals.add(tally);
                }
                Msg::Exited(t) => {
                    if let Some(h) = threads.remove(&t) {
                        let _ = h.join();
                    }
                }
            }
        }
        exec::reap_orphans();
        let turn = acc.turn(&server, &mut stopping, stdout_closed, served, active.len());
        if stopping.is_some() {
            sessions.close_all();
        }
        match turn {
            Turn::Done => break,
            Turn::Serve => {}
            Turn::Cut => {
                server.warn_cut(active.values().filter(|a| a.stream.is_some()).count());
                cut(&mut active, matches!(server.spec, Spec::Forward(_)))
            }
            // Threads that ignore even the cut are left to process exit.
            Turn::Abandon => break,
        }
        // Forwarded datagram sessions: each peer's datagrams to its thread.
        while let Some((s, main)) = acc
            .sessions
            .then(|| {
                sessions.receive(
                    &acc,
                    &server,
                    &mut buf,
                    &mut served,
                    active.len(),
                    stopping.is_some(),
                )
            })
            .flatten()
        {
            let id = next_id;
            next_id += 1;
            active.insert(
                id,
                Active {
                    peer: s.peer.clone(),
                    started: Instant::now(),
                    stream: None,
                },
            );
            sessions.started(&s.sock, s.peer.clone(), id, main);
            let job = Job::Session {
                id,
                data: buf[..s.len].to_vec(),
                to: s.to,
                peer: s.peer,
                sock: s.sock,
                inbox: s.inbox,
            };
            enqueue(
                &pool,
                job,
                || grow(&mut threads),
                &mut retry,
                &server.settings.log,
                "session",
            );
        }
        // Accept (or receive) while there is room, a turn's worth.
        let mut accepted = 0;
        while !acc.sessions
            && runtime::may_accept(&server, served, active.len(), stopping.is_some())
        {
            if accepted == runtime::ACCEPTS_PER_TURN {
                break;
            }
            let Some(req) = acc.next(&server, &mut buf, &mut served) else {
                break;
            };
            accepted += 1;
            let id = next_id;
            next_id += 1;
            // A second handle on a stream, to cut it if the grace period ends.
            let spare = match &req {
                Request::Stream { stream, .. } => stream.try_clone().ok(),
                Request::Datagram { .. } => None,
            };
            active.insert(
                id,
                Active {
                    peer: req.peer().clone(),
                    started: Instant::now(),
                    stream: spare,
                },
            );
            let job = match req {
                Request::Stream { stream, peer } => Job::Stream { id, stream, peer },
                Request::Datagram {
                    len,
                    to,
                    peer,
                    sock,
                } => {
                    let data = buf[..len].to_vec();
                    Job::Datagram {
                        id,
                        data,
                        to,
                        peer,
                        sock,
                    }
                }
            };
            enqueue(
                &pool,
                job,
                || grow(&mut threads),
                &mut retry,
                &server.settings.log,
                "connection",
            );
        }
        if !acc.sessions {
            acc.waiting(
                &mut waiting,
                &server,
                served,
                active.len(),
                stopping.is_some(),
            );
        }
        if retry.is_some_and(|t| Instant::now() >= t) {
            retry = match grow(&mut threads) {
                Ok(()) => None,
                Err(_) => Some(Instant::now() + SPAWN_RETRY),
            };
        }
        // Any event means "look again": a listener is ready, a connection
        // ended, a thread exited, or a signal arrived.
        let mut timeout = stopping.map(|d| {
            d.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(50))
        });
        // More may wait in the backlog: look again at once, after the
        // ended workers are counted out.
        if (acc.is_closed() && active.is_empty())
            || sessions.more
            || accepted == runtime::ACCEPTS_PER_TURN
        {
            timeout = Some(Duration::ZERO);
        }
        if let Some(t) = retry {
            let left = t.saturating_duration_since(Instant::now());
            timeout = Some(timeout.map_or(left, |d| d.min(left)));
        }
        acc.wait(&mut events, timeout)?;
    }
    // Let idle threads go, and join every one.
    pool.queue.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
    pool.ready.notify_all();
    if active.is_empty() {
        for (_, h) in threads.drain() {
            let _ = h.join();
        }
    }
    server.finish(&totals, began, stdout_closed)
}

/// Queue a job, and start a thread for it unless starting one failed a
/// moment ago (then the job waits for a free thread or the retry).
fn enqueue(
    pool: &Pool,
    job: Job,
    grow: impl FnOnce() -> std::io::Result<()>,
    retry: &mut Option<Instant>,
    log: &crate::event::Log,
    what: &str,
) {
    pool.queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .jobs
        .push_back(job);
    if retry.is_none() {
        if let Err(e) = grow() {
            log.error(&format!(
                "start a thread: {}; the {what} waits until one can start",
                crate::error::describe(&e)
            ));
            *retry = Some(Instant::now() + SPAWN_RETRY);
        }
    }
}

/// A thread's life: serve jobs until none comes for [`IDLE_EXIT`].
fn worker(pool: &Pool, spec: &Spec, d: &Drive, tx: &mpsc::Sender<Msg>, waker: &Arc<mio::Waker>) {
    loop {
        let job = {
            let mut q = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(j) = q.jobs.pop_front() {
                    break j;
                }
                if q.closing {
                    return;
                }
                q.idle += 1;
                let (g, t) = pool
                    .ready
                    .wait_timeout(q, IDLE_EXIT)
                    .unwrap_or_else(|e| e.into_inner());
                q = g;
                q.idle -= 1;
                if t.timed_out() && q.jobs.is_empty() {
                    return;
                }
            }
        };
        let id = match &job {
            Job::Stream { id, .. } | Job::Datagram { id, .. } | Job::Session { id, .. } => *id,
        };
        // The slot comes back when this guard drops, even if serving panics.
        let slot = Slot::new(
            tx.clone(),
            waker.clone(),
            Msg::Done {
                id,
                tally: Tally::default(),
                end: Some(End::Panicked),
            },
        );
        let (tally, end) = match job {
            Job::Stream { stream, peer, .. } => {
                let mut tally = Tally::default();
                let end = drive::stream(&stream, &peer, spec, d, &mut tally).err();
                (tally, end)
            }
            Job::Datagram {
                data,
                to,
                peer,
                sock,
                ..
            } => drive::serve_datagram(spec, &data, &peer, &to, &sock, d.hex),
            Job::Session {
                data,
                to,
                peer,
                sock,
                inbox,
                ..
            } => match spec {
                Spec::Forward(f) => drive::forward_session(f, inbox, &data, &peer, &to, &sock, d),
                _ => (Tally::default(), None),
            },
        };
        slot.finish(Msg::Done { id, tally, end });
    }
}

/// The grace period is over: cut every connection still open so its
/// thread's blocking calls return, and stop the programs `--exec` started.
fn cut(active: &mut HashMap<u64, Active>, forwarding: bool) {
    // Forwarded connections end with a reset (a FIN would make a cut
    // transfer look complete); the relay wakes its own sockets.
    crate::relay::blocking::cut_all();
    for a in active.values_mut() {
        if let Some(s) = a.stream.take() {
            if forwarding {
                s.reset_on_close();
                let _ = s.shutdown(Shutdown::Read);
            } else {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
    exec::signal_all(nix::sys::signal::Signal::SIGTERM);
}
