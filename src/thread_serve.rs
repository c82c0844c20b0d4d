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

use crate::error::Result;
use crate::event::ConnStats;
use crate::handler::End;
use crate::handler::{self, Drive};
use crate::handler::{Spec, exec};
use crate::servers::schedule::{self, Outcome, Work};
use crate::servers::{self, Acceptor, Server, ServerTotals, Slot};
use crate::transport::{Dgram, Endpoint, ReplyTo, Stream};

/// How soon to try again to start a thread after one could not start.
const SPAWN_RETRY: Duration = Duration::from_millis(100);
/// How long a thread with nothing to do waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(1);

/// One connection or datagram for a thread to serve.
enum Task {
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
        tally: ConnStats,
        end: Option<End>,
        /// The client a `--proxy-protocol` header named, if any.
        peer: Option<Endpoint>,
    },
    /// A thread exited and can be joined.
    Exited(u64),
}

/// Work waiting for a thread, and how many threads wait for work.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Task>,
    idle: usize,
    closing: bool,
}

struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
}

pub fn run(cfg: servers::Config) -> Result<()> {
    // The cut's pipe, which every worker's relay polls.
    crate::relay::polled::make_cut_pipe();
    let mut server = servers::setup(cfg)?;
    let mut acc = Acceptor::new(&mut server)?;
    let (tx, rx) = mpsc::channel::<Msg>();
    let began = Instant::now();
    let mut threads = Threads {
        pool: Arc::new(Pool {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        }),
        tx,
        rx,
        waker: acc.waker.clone(),
        spec: server.service.spec.clone(),
        drive: server.service.settings.drive.clone(),
        max: server.service.settings.pool,
        threads: HashMap::new(),
        next_thread: 0,
        next_id: 0,
        spares: HashMap::new(),
        forwarding: matches!(server.service.spec, Spec::Forward(_)),
        retry: None,
    };
    let done = schedule::run(&server, &mut acc, &mut threads)?;
    server.finish(&done.totals, began, done.stdout_closed)
}

/// thread-serve's workers: a pool of threads fed through a queue; each
/// job holds a [`Slot`] while it is served, so its end (or its panic)
/// always reaches the loop.
struct Threads {
    pool: Arc<Pool>,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    waker: Arc<mio::Waker>,
    spec: Spec,
    drive: Drive,
    /// `--max-threads`.
    max: u64,
    threads: HashMap<u64, JoinHandle<()>>,
    next_thread: u64,
    next_id: u64,
    /// A second handle on each connection being served, to cut it when
    /// the grace period ends.
    spares: HashMap<u64, Stream>,
    forwarding: bool,
    /// When to try again to start a thread, while one could not start.
    retry: Option<Instant>,
}

impl schedule::Workers for Threads {
    type Id = u64;

    fn start(&mut self, server: &Server, _acc: &Acceptor, work: Work<'_>) -> std::io::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let (job, what) = match work {
            Work::Stream { stream, peer } => {
                if let Ok(spare) = stream.try_clone() {
                    self.spares.insert(id, spare);
                }
                (Task::Stream { id, stream, peer }, "connection")
            }
            Work::Datagram {
                data,
                to,
                peer,
                sock,
            } => {
                let data = data.to_vec();
                let job = Task::Datagram {
                    id,
                    data,
                    to,
                    peer,
                    sock,
                };
                (job, "connection")
            }
            Work::Session { session, first, .. } => {
                let job = Task::Session {
                    id,
                    data: first.to_vec(),
                    to: session.to,
                    peer: session.peer,
                    sock: session.sock,
                    inbox: session.inbox,
                };
                (job, "session")
            }
        };
        self.enqueue(job, &server.service.settings.log, what);
        Ok(id)
    }

    fn reap(
        &mut self,
        _acc: &Acceptor,
        _woken: &[mio::Token],
        ended: &mut Vec<(u64, Outcome)>,
        _totals: &mut ServerTotals,
    ) {
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Done {
                    id,
                    tally,
                    end,
                    peer,
                } => {
                    self.spares.remove(&id);
                    ended.push((id, Outcome::Served { tally, end, peer }));
                }
                Msg::Exited(t) => {
                    if let Some(h) = self.threads.remove(&t) {
                        let _ = h.join();
                    }
                }
            }
        }
        if self.retry.is_some_and(|t| Instant::now() >= t) {
            self.retry = match self.grow() {
                Ok(()) => None,
                Err(_) => Some(Instant::now() + SPAWN_RETRY),
            };
        }
    }

    /// Cut every connection still open so its thread's blocking calls
    /// return, and stop the programs `--exec` started.
    fn cut(&mut self, _server: &Server) {
        // Forwarded connections end with a reset (a FIN would make a cut
        // transfer look complete); the relay wakes its own sockets.
        crate::relay::polled::cut_all();
        for (_, s) in self.spares.drain() {
            if self.forwarding {
                s.reset_on_close();
                let _ = s.shutdown(Shutdown::Read);
            } else {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        exec::signal_all(nix::sys::signal::Signal::SIGTERM);
    }

    /// Threads that ignore even the cut are left to process exit.
    fn abandon(&mut self) {}

    fn wake_within(&self, _open: usize) -> Option<Duration> {
        self.retry
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Let idle threads go, and join every one (unless some still serve:
    /// they are left to process exit).
    fn close(&mut self, all_ended: bool) {
        self.pool
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closing = true;
        self.pool.ready.notify_all();
        if all_ended {
            for (_, h) in self.threads.drain() {
                let _ = h.join();
            }
        }
    }
}

impl Threads {
    /// Start a thread when queued jobs outnumber the threads waiting for
    /// work and the pool has room. A thread that cannot start (a process
    /// or memory limit) is not fatal: its job waits in the queue, like a
    /// connection beyond --max-threads, until a thread frees or a retry
    /// succeeds.
    fn grow(&mut self) -> std::io::Result<()> {
        let q = self.pool.queue.lock().unwrap_or_else(|e| e.into_inner());
        let needed = q.jobs.len() > q.idle;
        drop(q);
        if !needed || self.threads.len() as u64 >= self.max {
            self.pool.ready.notify_one();
            return Ok(());
        }
        let id = self.next_thread;
        let (pool, tx, waker) = (self.pool.clone(), self.tx.clone(), self.waker.clone());
        let (spec, d) = (self.spec.clone(), self.drive.clone());
        let h = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || {
                // Dropped when the thread ends, by return or by panic.
                let _exit = Slot::new(tx.clone(), waker.clone(), Msg::Exited(id));
                worker(&pool, &spec, &d, &tx, &waker);
            })?;
        self.next_thread += 1;
        self.threads.insert(id, h);
        Ok(())
    }

    /// Queue a job, and start a thread for it unless starting one failed
    /// a moment ago (then the job waits for a free thread or the retry).
    fn enqueue(&mut self, job: Task, log: &crate::event::Log, what: &str) {
        self.pool
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .jobs
            .push_back(job);
        if self.retry.is_none() {
            if let Err(e) = self.grow() {
                log.error(&format!(
                    "start a thread: {}; the {what} waits until one can start",
                    crate::error::describe(&e)
                ));
                self.retry = Some(Instant::now() + SPAWN_RETRY);
            }
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
            Task::Stream { id, .. } | Task::Datagram { id, .. } | Task::Session { id, .. } => *id,
        };
        // The slot comes back when this guard drops, even if serving panics.
        let slot = Slot::new(
            tx.clone(),
            waker.clone(),
            Msg::Done {
                id,
                tally: ConnStats::default(),
                end: Some(End::Panicked),
                peer: None,
            },
        );
        let mut header_peer = None;
        let (tally, end) = match job {
            Task::Stream {
                stream, mut peer, ..
            } => {
                let mut tally = ConnStats::default();
                let end = handler::serve_stream(&stream, &mut peer, spec, d, &mut tally).err();
                // `--proxy-protocol`'s header named the peer to show.
                header_peer = Some(peer);
                (tally, end)
            }
            Task::Datagram {
                data,
                to,
                peer,
                sock,
                ..
            } => handler::datagram::serve(spec, &data, &peer, &to, &sock, d.hex),
            Task::Session {
                data,
                to,
                peer,
                sock,
                inbox,
                ..
            } => match spec {
                Spec::Forward(f) => {
                    handler::forward::serve_session(f, inbox, &data, &peer, &to, &sock, d)
                }
                _ => (ConnStats::default(), None),
            },
        };
        slot.finish(Msg::Done {
            id,
            tally,
            end,
            peer: header_peer,
        });
    }
}
