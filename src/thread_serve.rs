//! `sockcat thread-serve`: a thread per connection (per datagram for UDP),
//! like Python's ThreadingMixIn, but bounded by `--max-threads`.
//!
//! The main thread only accepts; each worker runs the blocking driver
//! shared with `fork-serve`, reports its totals over a channel and wakes
//! the main thread, which joins it, so the thread count returns to one.

use std::collections::HashMap;
use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::Events;

use crate::cli::ThreadServeArgs;
use crate::error::{Error, Result};
use crate::event::Tally;
use crate::handler::Spec;
use crate::handler::drive::{self, End};
use crate::server::{self, Acceptor, Server, Totals};
use crate::transport::{Peer, Stream};

/// How long past the grace period to wait for cut workers before exiting.
const HARD_STOP: Duration = Duration::from_secs(2);

/// What a worker reports when it ends.
struct Done {
    id: u64,
    tally: Tally,
    end: Option<End>,
}

struct Worker {
    handle: JoinHandle<()>,
    peer: Peer,
    started: Instant,
    /// A second handle on the socket, to cut it when the grace period ends.
    stream: Option<Stream>,
}

pub fn run(args: ThreadServeArgs) -> Result<()> {
    let spec = Spec::from_args(&args.server.handler, false);
    let mut server = server::setup(&args.server, spec)?;
    let mut acc = Acceptor::new(&mut server)?;
    let kind = acc
        .listeners
        .first()
        .map(|l| l.kind)
        .or(acc.dgrams.first().map(|d| d.kind))
        .unwrap_or("tcp");
    let (tx, rx) = mpsc::channel::<Done>();
    let mut workers: HashMap<u64, Worker> = HashMap::new();
    let mut next_id = 0u64;
    let mut served = 0u64;
    let mut totals = Totals::default();
    let mut stopping: Option<Instant> = None;
    let mut events = Events::with_capacity(64);
    let began = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut stdout_closed = false;

    loop {
        // Join the workers that finished.
        while let Ok(d) = rx.try_recv() {
            if let Some(w) = workers.remove(&d.id) {
                let _ = w.handle.join();
                if matches!(d.end, Some(End::StdoutClosed)) {
                    stdout_closed = true;
                }
                server::report(&server.log, &w.peer, d.end.as_ref());
                server
                    .log
                    .closed(kind, &w.peer.to_string(), d.tally, w.started.elapsed());
                totals.conns += 1;
                totals.add(d.tally);
            }
        }
        if acc.signals.count() > 0 && stopping.is_none() {
            stopping = Some(Instant::now() + server.grace);
            acc.close();
        }
        if stdout_closed && stopping.is_none() {
            stopping = Some(Instant::now());
            acc.close();
        }
        if server.limit.is_some_and(|l| served >= l) {
            acc.close();
        }
        if acc.is_closed() && workers.is_empty() {
            break;
        }
        if let Some(deadline) = stopping {
            let now = Instant::now();
            if now >= deadline {
                cut(&mut workers);
            }
            if now >= deadline + HARD_STOP {
                // Workers that ignore even that are left to process exit.
                break;
            }
        }
        // Accept (or receive) while there is room.
        let max = args.max_threads;
        while server::may_accept(&server, served, workers.len(), max, stopping.is_some()) {
            let Some(got) = acc.listeners.iter().find_map(|l| match l.accept(false) {
                Ok(x) => Some(Ok((x, l.kind))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(e) => Some(Err(e)),
            }) else {
                break;
            };
            let ((stream, peer), kind) = match got {
                Ok(x) => x,
                Err(e) => {
                    server
                        .log
                        .error(&format!("accept: {}", crate::error::describe(&e)));
                    break;
                }
            };
            if !server.access.permits(peer.ip()) {
                server.log.refused(kind, &peer.to_string());
                continue;
            }
            served += 1;
            server.log.connection(kind, &peer.to_string());
            let id = next_id;
            next_id += 1;
            let w = spawn_stream(&server, id, stream, peer, &tx, &acc.waker)?;
            workers.insert(id, w);
        }
        while server::may_accept(
            &server,
            served,
            workers.len(),
            args.max_threads,
            stopping.is_some(),
        ) {
            let Some((n, to, peer, sock)) =
                acc.dgrams.iter().find_map(|d| match d.recv_from(&mut buf) {
                    Ok((n, to, peer)) => Some((n, to, peer, d.clone())),
                    Err(_) => None,
                })
            else {
                break;
            };
            if !server.access.permits(peer.ip()) {
                server.log.refused(sock.kind, &peer.to_string());
                continue;
            }
            served += 1;
            server.log.connection(sock.kind, &peer.to_string());
            let id = next_id;
            next_id += 1;
            let data = buf[..n].to_vec();
            let spec = server.spec.clone();
            let (tx, waker, hex) = (tx.clone(), acc.waker.clone(), server.drive.hex);
            let p = peer.clone();
            let handle = std::thread::Builder::new()
                .spawn(move || {
                    let (tally, end) =
                        crate::handler::drive::serve_datagram(&spec, &data, &p, &to, &sock, hex);
                    let _ = tx.send(Done { id, tally, end });
                    let _ = waker.wake();
                })
                .map_err(|e| Error::io("start a thread", e))?;
            workers.insert(
                id,
                Worker {
                    handle,
                    peer,
                    started: Instant::now(),
                    stream: None,
                },
            );
        }
        // Any event means "look again": a listener is ready, a worker
        // finished, or a signal arrived.
        let timeout = stopping.map(|d| {
            d.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(50))
        });
        acc.wait(&mut events, timeout)?;
    }
    server
        .log
        .summary(totals.conns, totals.tally, began.elapsed());
    if acc.signals.count() > 0 {
        return Err(Error::Interrupted);
    }
    if stdout_closed {
        return Err(Error::StdoutClosed);
    }
    Ok(())
}

fn spawn_stream(
    server: &Server,
    id: u64,
    stream: Stream,
    peer: Peer,
    tx: &mpsc::Sender<Done>,
    waker: &Arc<mio::Waker>,
) -> Result<Worker> {
    let spare = stream.try_clone().ok();
    let spec = server.spec.clone();
    let d = server.drive;
    let (tx, waker, p) = (tx.clone(), waker.clone(), peer.clone());
    let handle = std::thread::Builder::new()
        .spawn(move || {
            let mut tally = Tally::default();
            let end = drive::stream(&stream, &p, &spec, d, &mut tally).err();
            drop(stream);
            let _ = tx.send(Done { id, tally, end });
            let _ = waker.wake();
        })
        .map_err(|e| Error::io("start a thread", e))?;
    Ok(Worker {
        handle,
        peer,
        started: Instant::now(),
        stream: spare,
    })
}

/// The grace period is over: cut every connection still open so its
/// thread's blocking calls return, and stop the programs `--exec` started.
fn cut(workers: &mut HashMap<u64, Worker>) {
    for w in workers.values_mut() {
        if let Some(s) = w.stream.take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    server::signal_children(libc::SIGTERM);
}
