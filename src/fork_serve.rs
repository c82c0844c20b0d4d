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
use mio::{Interest, Token};

use crate::error::{Context, Result};
use crate::event::ConnStats;
use crate::handler::{self, End, exec};
use crate::servers::schedule::{self, Outcome, Work};
use crate::servers::{self, Acceptor, Server, ServerTotals, token};
use crate::sys::{self, Forked};
use crate::transport::{Dgram, Endpoint, ReplyTo, Stream};
use nix::sys::signal::Signal;

/// A handler child's exit status when our stdout was closed (`| head`):
/// the parent then stops, as serve and thread-serve do.
const EXIT_STDOUT_CLOSED: i32 = 3;

pub fn run(cfg: servers::Config) -> Result<()> {
    let mut server = servers::setup(cfg)?;
    crate::handler::print::prepare();
    // Children grow splice pipes from one budget, not one each.
    crate::relay::pipes::share_pipe_budget();
    if matches!(server.service.spec, crate::handler::Spec::Forward(_)) {
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
    let began = Instant::now();
    let mut children = Children {
        pidfds: HashMap::new(),
        poll_reap: false,
        terminated: false,
        tally_rx,
        tally_tx,
    };
    let mut done = schedule::run(&server, &mut acc, &mut children)?;
    drain_tallies(&children.tally_rx, &mut done.totals);
    server.finish(&done.totals, began, done.stdout_closed)
}

/// fork-serve's workers: a child per request, each watched through a
/// pidfd (the kernel says when it exits, however it exits: its slot
/// always comes back), reporting its bytes through one shared pipe.
struct Children {
    /// Each child's pidfd (`None`: pidfds are not available, and children
    /// are reaped on a timer).
    pidfds: HashMap<libc::pid_t, Option<OwnedFd>>,
    /// Without pidfds (Linux before 5.3), reap on a short timer instead.
    poll_reap: bool,
    /// The children were asked to stop at the end of the grace period.
    terminated: bool,
    tally_rx: std::fs::File,
    tally_tx: std::fs::File,
}

impl schedule::Workers for Children {
    type Id = libc::pid_t;

    fn start(
        &mut self,
        server: &Server,
        acc: &Acceptor,
        work: Work<'_>,
    ) -> io::Result<libc::pid_t> {
        let pid = match work {
            Work::Stream { stream, peer } => {
                fork_stream(server, acc, stream, &peer, &self.tally_tx)?
            }
            Work::Datagram {
                data,
                to,
                peer,
                sock,
            } => fork_datagram(server, acc, data, &peer, &to, &sock, &self.tally_tx)?,
            Work::Session {
                session,
                first,
                others,
            } => fork_session(server, acc, first, session, others, &self.tally_tx)?,
        };
        self.track(acc, pid);
        Ok(pid)
    }

    /// Collect the children whose pidfd said they exited. waitpid(WNOHANG)
    /// on each named pid: no other child of this process is touched.
    fn reap(
        &mut self,
        acc: &Acceptor,
        woken: &[Token],
        ended: &mut Vec<(libc::pid_t, Outcome)>,
        totals: &mut ServerTotals,
    ) {
        use nix::sys::wait::WaitStatus;
        let pids: Vec<libc::pid_t> = if self.poll_reap {
            self.pidfds.keys().copied().collect()
        } else {
            woken.iter().filter_map(|t| token::child_pid(*t)).collect()
        };
        for pid in pids {
            let Some(status) = sys::wait_child(pid, false) else {
                continue;
            };
            exec::ended(pid);
            crate::transport::ours::child_gone(pid);
            if let Some(Some(fd)) = self.pidfds.remove(&pid) {
                let _ = acc
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&fd.as_raw_fd()));
            }
            let outcome = match status {
                WaitStatus::Signaled(_, signal, _) => Outcome::Killed {
                    worker: format!("child {pid}"),
                    signal,
                },
                WaitStatus::Exited(_, code) => Outcome::Reported {
                    stdout_closed: code == EXIT_STDOUT_CLOSED,
                },
                _ => Outcome::Reported {
                    stdout_closed: false,
                },
            };
            ended.push((pid, outcome));
        }
        // A child writes its tally before it exits: every reaped child's
        // is in the pipe by now.
        drain_tallies(&self.tally_rx, totals);
        crate::transport::ours::hear();
    }

    fn cut(&mut self, _server: &Server) {
        if !self.terminated {
            self.terminated = true;
            exec::signal_all(Signal::SIGTERM);
        }
    }

    fn abandon(&mut self) {
        exec::signal_all(Signal::SIGKILL);
        for pid in self.pidfds.keys() {
            sys::wait_child(*pid, true);
        }
    }

    fn wake_within(&self, _open: usize) -> Option<Duration> {
        (self.poll_reap && !self.pidfds.is_empty()).then_some(Duration::from_millis(20))
    }

    fn close(&mut self, _all_ended: bool) {}
}

impl Children {
    /// Watch a new child through a pidfd; without one, reap on a timer.
    fn track(&mut self, acc: &Acceptor, pid: libc::pid_t) {
        exec::started(pid);
        let pidfd = sys::pidfd_open(pid).ok().and_then(|owned| {
            let tok = Token(token::CHILD_BASE + pid as usize);
            acc.poll
                .registry()
                .register(&mut SourceFd(&owned.as_raw_fd()), tok, Interest::READABLE)
                .ok()
                .map(|_| owned)
        });
        self.poll_reap |= pidfd.is_none();
        self.pidfds.insert(pid, pidfd);
    }
}

/// Child records: two u64 (bytes in, bytes out), 16 bytes, one atomic write.
fn drain_tallies(mut rx: &std::fs::File, totals: &mut ServerTotals) {
    // Writes of 16 bytes are atomic and reads take a multiple of 16, so a
    // read never splits a record.
    let mut rec = [0u8; 16 * 64];
    loop {
        match rx.read(&mut rec) {
            Ok(n) if n > 0 => {
                for r in rec[..n].chunks_exact(16) {
                    totals.conns += 1;
                    totals.add(ConnStats {
                        bytes_in: u64::from_ne_bytes(std::array::from_fn(|i| r[i])),
                        bytes_out: u64::from_ne_bytes(std::array::from_fn(|i| r[8 + i])),
                        ..ConnStats::default()
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
    // A subreaper too (the parent's mark is not inherited): what the
    // program leaves behind as it exits stays the worker's descendant,
    // so the idle timeout's kill (`exec::kill`: the worker's tree) finds
    // it.
    sys::become_subreaper();
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

fn finish_child(tally: &std::fs::File, t: ConnStats, code: i32) -> ! {
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
        if let crate::handler::Spec::Forward(f) = &server.service.spec {
            // The child numbered its connection on its copy of the count.
            f.layers.forked();
        }
        return Ok(pid);
    }
    child_setup(acc);
    let mut tally = ConnStats::default();
    // `--proxy-protocol`'s header names the peer to show.
    let peer = &mut peer.clone();
    let end = handler::serve_stream(
        &stream,
        peer,
        &server.service.spec,
        &server.service.settings.drive,
        &mut tally,
    )
    .err();
    drop(stream);
    servers::report(&server.service.settings.log, peer, end.as_ref());
    server
        .service
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
    let (tally, end) = handler::datagram::serve(
        &server.service.spec,
        data,
        peer,
        to,
        sock,
        server.service.settings.drive.hex,
    );
    servers::report(&server.service.settings.log, peer, end.as_ref());
    server
        .service
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
    s: servers::SessionStart,
    others: &[std::os::fd::RawFd],
    tally_out: &std::fs::File,
) -> io::Result<libc::pid_t> {
    let started = Instant::now();
    if let Forked::Parent(pid) = sys::fork()? {
        sys::own_process_group(pid);
        // The child owns the worker's end of the inbox.
        drop(s.inbox);
        if let crate::handler::Spec::Forward(f) = &server.service.spec {
            // The child numbered its session on its copy of the count.
            f.layers.forked();
        }
        return Ok(pid);
    }
    child_setup(acc);
    for fd in others {
        sys::close_in_child(*fd);
    }
    let (tally, end) = match &server.service.spec {
        crate::handler::Spec::Forward(f) => handler::forward::serve_session(
            f,
            s.inbox,
            &buf[..s.len],
            &s.peer,
            &s.to,
            &s.sock,
            &server.service.settings.drive,
        ),
        _ => (ConnStats::default(), None),
    };
    servers::report(&server.service.settings.log, &s.peer, end.as_ref());
    server
        .service
        .settings
        .log
        .closed(s.sock.kind, &s.peer.to_string(), tally, started.elapsed());
    finish_child(tally_out, tally, exit_code(end.as_ref()))
}
