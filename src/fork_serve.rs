//! `sockcat fork-serve`: a child process per connection (per datagram for
//! UDP), like Python's ForkingMixIn, bounded by `--max-children`.
//!
//! The parent only accepts, forks and reaps. Each child is watched through
//! a pidfd in the parent's event loop, so it is reaped the moment it exits
//! (no zombie, no timer). Children report their byte counts over one
//! shared pipe, for `-v`'s summary.
//!
//! Fork safety: besides the main thread, the parent has only ctrlc's
//! signal thread, which takes no lock the child could need (see
//! `server::install_signals`). With `--exec`, the child starts the program
//! and stays to wait for it, so that the connection ends with the same
//! lingering close as in the other models (a program that exits without
//! reading all its input must not turn its reply into a reset).

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};

use crate::error::{Context, Result};
use crate::event::Tally;
use crate::handler::{End, drive, exec};
use crate::runtime::{self, Acceptor, Request, Server, Totals, Turn, token};
use crate::sys::{self, Forked};
use crate::transport::{Dgram, Endpoint, ReplyTo, Stream};
use nix::sys::signal::Signal;

struct ChildInfo {
    pidfd: Option<OwnedFd>,
    peer: Endpoint,
}

/// A handler child's exit status when our stdout was closed (`| head`):
/// the parent then stops, as serve and thread-serve do.
const EXIT_STDOUT_CLOSED: i32 = 3;

pub fn run(cfg: runtime::Config) -> Result<()> {
    let mut server = runtime::setup(cfg)?;
    crate::handler::print::prepare();
    // Children grow splice pipes from one budget, not one each.
    crate::relay::blocking::share_pipe_budget();
    if matches!(server.spec, crate::handler::Spec::Forward(_)) {
        // Children tell the parent about the upstream sockets they open,
        // so that a connection from one of them is seen for what it is.
        crate::transport::ours::hear_children().context("create pipe")?;
    }
    let mut acc = Acceptor::new(&mut server)?;
    let (tally_rx, tally_tx) = sys::pipe().context("create pipe")?;
    let tally_rx = std::fs::File::from(tally_rx);
    let tally_tx = std::fs::File::from(tally_tx);
    crate::transport::set_nonblocking_fd(tally_rx.as_fd()).context("set O_NONBLOCK")?;
    acc.poll
        .registry()
        .register(
            &mut SourceFd(&tally_rx.as_raw_fd()),
            token::TALLIES,
            Interest::READABLE,
        )
        .context("watch pipe")?;

    let mut children: HashMap<libc::pid_t, ChildInfo> = HashMap::new();
    let mut served = 0u64;
    let mut totals = Totals::default();
    let mut stopping: Option<Instant> = None;
    let mut termed = false;
    let mut events = Events::with_capacity(256);
    let began = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    // Without pidfds (Linux before 5.3), reap on a short timer instead.
    let mut poll_reap = false;

    let mut exited: Vec<libc::pid_t> = Vec::new();
    let mut stdout_closed = false;
    let mut sessions = runtime::Sessions::<libc::pid_t>::new();
    let mut waiting = runtime::Waiting::default();
    loop {
        if poll_reap {
            exited.extend(children.keys());
        }
        stdout_closed |= reap(&acc, &mut children, &server, &exited, &mut sessions);
        exited.clear();
        exec::reap_orphans();
        drain_tallies(&tally_rx, &mut totals);
        crate::transport::ours::hear();
        let turn = acc.turn(
            &server,
            &mut stopping,
            stdout_closed,
            served,
            children.len(),
        );
        if stopping.is_some() {
            sessions.close_all();
        }
        match turn {
            Turn::Done => break,
            Turn::Serve => {}
            Turn::Cut => {
                if !termed {
                    termed = true;
                    server.warn_cut(children.len());
                    exec::signal_all(Signal::SIGTERM);
                }
            }
            Turn::Abandon => {
                exec::signal_all(Signal::SIGKILL);
                for pid in children.keys() {
                    sys::wait_child(*pid, true);
                }
                break;
            }
        }
        // Forwarded datagram sessions: each peer's datagrams to its child.
        while let Some((s, main)) = acc
            .sessions
            .then(|| {
                sessions.receive(
                    &acc,
                    &server,
                    &mut buf,
                    &mut served,
                    children.len(),
                    stopping.is_some(),
                )
            })
            .flatten()
        {
            let peer = s.peer.clone();
            let sock = s.sock.clone();
            // The child closes the server's end of every inbox, its own
            // among them: holding that, it would never see the inbox close
            // when the server stops, and would wait out the grace period.
            let mut others = sessions.fds();
            others.push(main.raw_fd());
            match fork_session(&server, &acc, &buf, s, &others, &tally_tx) {
                Ok(pid) => {
                    poll_reap |= track(&acc, &mut children, pid, peer.clone());
                    sessions.started(&sock, peer, pid, main);
                }
                Err(e) => server.settings.log.error(&format!("{peer}: {e}")),
            }
        }
        let mut accepted = 0;
        while !acc.sessions
            && runtime::may_accept(&server, served, children.len(), stopping.is_some())
        {
            if accepted == runtime::ACCEPTS_PER_TURN {
                break;
            }
            // Refused peers are closed in `next`: no child is forked for them.
            let Some(req) = acc.next(&server, &mut buf, &mut served) else {
                break;
            };
            accepted += 1;
            let (forked, peer) = match req {
                Request::Stream { stream, peer } => {
                    (fork_stream(&server, &acc, stream, &peer, &tally_tx), peer)
                }
                Request::Datagram {
                    len,
                    to,
                    peer,
                    sock,
                } => {
                    let r = fork_datagram(&server, &acc, &buf[..len], &peer, &to, &sock, &tally_tx);
                    (r, peer)
                }
            };
            match forked {
                Ok(pid) => poll_reap |= track(&acc, &mut children, pid, peer),
                Err(e) => server.settings.log.error(&format!("{peer}: {e}")),
            }
        }
        if !acc.sessions {
            acc.waiting(
                &mut waiting,
                &server,
                served,
                children.len(),
                stopping.is_some(),
            );
        }
        let mut timeout = stopping.map(|d| {
            let until = if termed { d + runtime::HARD_STOP } else { d };
            until
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(10))
        });
        // More may wait in the backlog: look again at once, after reaping.
        if sessions.more || accepted == runtime::ACCEPTS_PER_TURN {
            timeout = Some(Duration::ZERO);
        }
        if poll_reap && !children.is_empty() {
            timeout = Some(timeout.map_or(Duration::from_millis(20), |t| {
                t.min(Duration::from_millis(20))
            }));
        }
        acc.wait(&mut events, timeout)?;
        exited.extend(events.iter().filter_map(|e| token::child_pid(e.token())));
    }
    drain_tallies(&tally_rx, &mut totals);
    server.finish(&totals, began, stdout_closed)
}

/// Watch a new child through a pidfd. Returns true when pidfds are not
/// available and the caller must reap on a timer instead.
fn track(
    acc: &Acceptor,
    children: &mut HashMap<libc::pid_t, ChildInfo>,
    pid: libc::pid_t,
    peer: Endpoint,
) -> bool {
    exec::started(pid);
    let pidfd = sys::pidfd_open(pid).ok().and_then(|owned| {
        let tok = Token(token::CHILD_BASE + pid as usize);
        acc.poll
            .registry()
            .register(&mut SourceFd(&owned.as_raw_fd()), tok, Interest::READABLE)
            .ok()
            .map(|_| owned)
    });
    let fallback = pidfd.is_none();
    children.insert(pid, ChildInfo { pidfd, peer });
    fallback
}

/// Collect the children whose pidfd said they exited. waitpid(WNOHANG) on
/// each named pid: no other child of this process is touched.
fn reap(
    acc: &Acceptor,
    children: &mut HashMap<libc::pid_t, ChildInfo>,
    server: &Server,
    pids: &[libc::pid_t],
    sessions: &mut runtime::Sessions<libc::pid_t>,
) -> bool {
    use nix::sys::wait::WaitStatus;
    let mut stdout_closed = false;
    let gone: Vec<_> = pids
        .iter()
        .filter_map(|pid| sys::wait_child(*pid, false).map(|s| (*pid, s)))
        .collect();
    for (pid, status) in gone {
        exec::ended(pid);
        sessions.ended(pid);
        crate::transport::ours::child_gone(pid);
        if let Some(info) = children.remove(&pid) {
            if let Some(fd) = &info.pidfd {
                let _ = acc
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&fd.as_raw_fd()));
            }
            match status {
                WaitStatus::Exited(_, EXIT_STDOUT_CLOSED) => stdout_closed = true,
                WaitStatus::Signaled(_, sig, _) if sig != Signal::SIGTERM => {
                    server.settings.log.error(&format!(
                        "{}: child {pid} killed by signal {}",
                        info.peer, sig as i32
                    ));
                }
                _ => {}
            }
        }
    }
    stdout_closed
}

/// Child records: two u64 (bytes in, bytes out), 16 bytes, one atomic write.
fn drain_tallies(mut rx: &std::fs::File, totals: &mut Totals) {
    // Writes of 16 bytes are atomic and reads take a multiple of 16, so a
    // read never splits a record.
    let mut rec = [0u8; 16 * 64];
    loop {
        match rx.read(&mut rec) {
            Ok(n) if n > 0 => {
                for r in rec[..n].chunks_exact(16) {
                    totals.conns += 1;
                    totals.add(Tally {
                        bytes_in: u64::from_ne_bytes(r[..8].try_into().expect("8 bytes")),
                        bytes_out: u64::from_ne_bytes(r[8..].try_into().expect("8 bytes")),
                        ..Tally::default()
                    });
                }
            }
            _ => return,
        }
    }
}

/// Prepare a freshly forked child: signals as a worker wants them, and no
/// copy of the parent's listening sockets (the parent must be able to
/// close the port), without running any destructor of the parent's.
fn child_setup(acc: &Acceptor) {
    // A group of its own (the parent sets it too, whichever runs first):
    // the parent ends a worker and the program it started as one group,
    // and the terminal's Ctrl-C, meant for the server, does not reach it.
    sys::own_process_group(0);
    exec::mark_worker();
    sys::set_signal(Signal::SIGINT, false);
    sys::set_signal(Signal::SIGTERM, true);
    sys::set_signal(Signal::SIGHUP, true);
    crate::transport::ours::in_child();
    for l in &acc.listeners {
        sys::close_in_child(l.as_raw_fd());
    }
}

fn exit_code(end: Option<&End>) -> i32 {
    match end {
        None => 0,
        Some(End::StdoutClosed) => EXIT_STDOUT_CLOSED,
        Some(_) => 1,
    }
}

fn finish_child(tally: &std::fs::File, t: Tally, code: i32) -> ! {
    let mut rec = [0u8; 16];
    rec[..8].copy_from_slice(&t.bytes_in.to_ne_bytes());
    rec[8..].copy_from_slice(&t.bytes_out.to_ne_bytes());
    // One write of 16 bytes (atomic on a pipe), then exit without running
    // the parent's destructors (which would remove socket files).
    let _ = sys::write_all(tally, &rec);
    sys::exit_now(code)
}

fn fork_stream(
    server: &Server,
    acc: &Acceptor,
    stream: Stream,
    peer: &Endpoint,
    tally_out: &std::fs::File,
) -> io::Result<libc::pid_t> {
    let started = Instant::now();
    if let Forked::Parent(pid) = sys::fork()? {
        sys::own_process_group(pid);
        // The parent closes its copy at once: the child owns the connection.
        drop(stream);
        return Ok(pid);
    }
    child_setup(acc);
    let mut tally = Tally::default();
    let end = drive::stream(
        &stream,
        peer,
        &server.spec,
        &server.settings.drive,
        &mut tally,
    )
    .err();
    drop(stream);
    runtime::report(&server.settings.log, peer, end.as_ref());
    server
        .settings
        .log
        .closed(server.kind, &peer.to_string(), tally, started.elapsed());
    finish_child(tally_out, tally, exit_code(end.as_ref()))
}

fn fork_datagram(
    server: &Server,
    acc: &Acceptor,
    data: &[u8],
    peer: &Endpoint,
    to: &ReplyTo,
    sock: &Arc<Dgram>,
    tally_out: &std::fs::File,
) -> io::Result<libc::pid_t> {
    let started = Instant::now();
    if let Forked::Parent(pid) = sys::fork()? {
        sys::own_process_group(pid);
        return Ok(pid);
    }
    child_setup(acc);
    let (tally, end) = drive::serve_datagram(
        &server.spec,
        data,
        peer,
        to,
        sock,
        server.settings.drive.hex,
    );
    runtime::report(&server.settings.log, peer, end.as_ref());
    server
        .settings
        .log
        .closed(sock.kind, &peer.to_string(), tally, started.elapsed());
    finish_child(tally_out, tally, exit_code(end.as_ref()))
}

/// A forwarded datagram session in a child of its own: the first
/// datagram is in `buf`; the rest arrive through the session's inbox.
fn fork_session(
    server: &Server,
    acc: &Acceptor,
    buf: &[u8],
    s: runtime::NewSession,
    others: &[std::os::fd::RawFd],
    tally_out: &std::fs::File,
) -> io::Result<libc::pid_t> {
    let started = Instant::now();
    if let Forked::Parent(pid) = sys::fork()? {
        sys::own_process_group(pid);
        // The child owns the worker's end of the inbox.
        drop(s.inbox);
        return Ok(pid);
    }
    child_setup(acc);
    for fd in others {
        sys::close_in_child(*fd);
    }
    let (tally, end) = match &server.spec {
        crate::handler::Spec::Forward(f) => drive::forward_session(
            f,
            s.inbox,
            &buf[..s.len],
            &s.peer,
            &s.to,
            &s.sock,
            &server.settings.drive,
        ),
        _ => (Tally::default(), None),
    };
    runtime::report(&server.settings.log, &s.peer, end.as_ref());
    server
        .settings
        .log
        .closed(s.sock.kind, &s.peer.to_string(), tally, started.elapsed());
    finish_child(tally_out, tally, exit_code(end.as_ref()))
}
