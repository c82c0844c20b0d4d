//! `--exec PROG ARGS…` and `--sh-exec CMDLINE`: a program serves the connection.
//!
//! The program gets the connection as its stdin and stdout, and the peer's
//! and our address in `SOCKCAT_PEER_ADDR`, `SOCKCAT_PEER_PORT`,
//! `SOCKCAT_LOCAL_ADDR` and `SOCKCAT_LOCAL_PORT`. Where the model allows it
//! (thread-serve, fork-serve) the socket itself becomes stdin and stdout,
//! as inetd does: no copying in between. The worker that started the
//! program waits for it and then closes the connection (lingering close).

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::Signal;

use super::{Drive, End};
use crate::event::ConnStats;
use crate::relay::{polled, program};
use crate::transport::{Endpoint, Stream};

/// The environment variables a program sees, in order.
pub fn env_vars(peer: &Endpoint, local: &Endpoint) -> Vec<(&'static str, String)> {
    let (pa, pp) = peer.env_parts();
    let (la, lp) = local.env_parts();
    let mut vars = vec![
        ("SOCKCAT_PEER_ADDR", pa),
        ("SOCKCAT_PEER_PORT", pp),
        ("SOCKCAT_LOCAL_ADDR", la),
        ("SOCKCAT_LOCAL_PORT", lp),
    ];
    // A Unix stream client as the kernel knows it.
    if let Some((uid, pid)) = peer.credentials() {
        vars.push(("SOCKCAT_PEER_UID", uid.to_string()));
        vars.push(("SOCKCAT_PEER_PID", pid.to_string()));
    }
    vars
}

/// The command for one connection's program: its argv, its environment,
/// default signal dispositions and an empty mask. In `serve` and
/// `thread-serve` it leads a process group of its own; in a `fork-serve`
/// worker it joins the worker's group, so that ending the worker's group
/// ends the program too.
pub fn command(argv: &[OsString], peer: &Endpoint, local: &Endpoint) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    for (k, v) in env_vars(peer, local) {
        cmd.env(k, v);
    }
    // What the service manager told the server is the server's: a program
    // that saw these would take the sockets or the notifications as its own.
    for k in [
        "NOTIFY_SOCKET",
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
    ] {
        cmd.env_remove(k);
    }
    crate::sys::prepare_exec(&mut cmd, !IN_WORKER.load(Ordering::Relaxed));
    cmd
}

/// A layered connection's settled facts for its program: a WebSocket's
/// path (and protocol, Origin); TLS's version, and under mutual TLS the
/// client certificate's subject and fingerprint.
pub fn stream_env(cmd: &mut Command, stream: &crate::transport::Stream) {
    if let Some(w) = stream.ws() {
        let a = w.accepted();
        cmd.env("SOCKCAT_WS_PATH", &a.path);
        if let Some(p) = &a.protocol {
            cmd.env("SOCKCAT_WS_PROTOCOL", p);
        }
        if let Some(o) = &a.origin {
            cmd.env("SOCKCAT_WS_ORIGIN", o);
        }
    }
    let Some(t) = stream.tls() else {
        return;
    };
    let s = t.settled();
    cmd.env("SOCKCAT_TLS_VERSION", &s.version);
    if let Some(subject) = &s.peer_subject {
        cmd.env("SOCKCAT_TLS_PEER_SUBJECT", subject);
    }
    if let Some(fp) = &s.peer_sha256 {
        cmd.env("SOCKCAT_TLS_PEER_SHA256", fp);
    }
}

/// Set in a fork-serve worker: the programs it starts stay in its group.
static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// This process is a forked worker, leader of its own process group.
pub fn mark_worker() {
    IN_WORKER.store(true, Ordering::Relaxed);
}

pub fn describe_spawn_error(argv0: &OsStr, e: &io::Error) -> String {
    format!(
        "exec {}: {}",
        argv0.to_string_lossy(),
        crate::error::describe(e)
    )
}

/// Start the program on a blocking socket: the socket is its stdin and stdout.
pub fn spawn_on_socket(argv: &[OsString], stream: &Stream, peer: &Endpoint) -> io::Result<Child> {
    let local = stream.local();
    let fd = stream.plain_fd().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "this stream cannot be handed to a program as it is",
        )
    })?;
    command(argv, peer, &local)
        .stdin(Stdio::from(fd.try_clone_to_owned()?))
        .stdout(Stdio::from(fd.try_clone_to_owned()?))
        .spawn()
}

/// Start `cmd` with its stdin and stdout piped (the relay's, which moves
/// bytes through them).
pub use crate::relay::spawn_piped;

/// A reply is one datagram: what a program writes beyond this is not read
/// (the largest UDP payload; the program's output is then cut off).
pub const MAX_REPLY: usize = 65_507;

/// Run the program for one datagram: the datagram on its stdin, its output
/// (up to [`MAX_REPLY`] bytes) as the reply.
pub fn run_datagram(
    argv: &[OsString],
    data: &[u8],
    peer: &Endpoint,
    local: &Endpoint,
) -> io::Result<(Vec<u8>, Option<crate::event::Exit>)> {
    let (mut child, mut stdin, mut stdout) = spawn_piped(&mut command(argv, peer, local))?;
    let pid = child.id() as libc::pid_t;
    started(pid);
    let mut reply = Vec::new();
    // Feed stdin from a second thread: a program that answers before it
    // has read everything must not deadlock against us.
    let r = std::thread::scope(|s| {
        s.spawn(move || {
            let _ = stdin.write_all(data);
        });
        let r = (&mut stdout).take(MAX_REPLY as u64).read_to_end(&mut reply);
        // Closing its output ends a program that writes on (SIGPIPE).
        drop(stdout);
        r
    });
    let status = child.wait();
    ended(pid);
    let status = status?;
    r.map(|_| (reply, crate::event::Exit::from_status(status)))
}

/// Every program started for a connection (and every fork-serve worker)
/// that has not been waited for, whatever the model, so that shutdown can
/// end them all. Each leads a process group of its own, and is signalled
/// as a group: what a program started goes with it.
static PROGRAMS: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Record a program (or a forked worker) that shutdown must be able to end.
pub fn started(pid: libc::pid_t) {
    PROGRAMS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// The program was waited for.
pub fn ended(pid: libc::pid_t) {
    let mut c = PROGRAMS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = c.iter().position(|p| *p == pid) {
        c.swap_remove(i);
    }
}

/// Ask one program, and what it started, to stop (SIGTERM). In a
/// fork-serve worker the program shares the worker's group, and the
/// worker runs only that program: each of the worker's descendants is
/// asked (the group's signal, but for the worker itself).
pub fn terminate(pid: libc::pid_t) {
    signal_program(pid, Signal::SIGTERM);
}

/// Kill one program and its group at once (SIGKILL); in a fork-serve
/// worker, every descendant of the worker, as [`terminate`] asks them.
pub fn kill(pid: libc::pid_t) {
    signal_program(pid, Signal::SIGKILL);
}

fn signal_program(pid: libc::pid_t, sig: Signal) {
    if IN_WORKER.load(Ordering::Relaxed) {
        // The tree is listed first, as kill_all_now does, so none is missed
        // as its parent dies.
        let tree = crate::sys::descendants();
        crate::sys::kill(pid, sig);
        for p in tree {
            crate::sys::kill(p, sig);
        }
    } else {
        crate::sys::killpg(pid, sig);
    }
}

/// Send `sig` to every program still running, and to what they started.
pub fn signal_all(sig: Signal) {
    for pid in PROGRAMS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        crate::sys::killpg(*pid, sig);
    }
}

/// End whatever is still a child of this process when the server exits:
/// descendants of programs that left their group (`setsid`) and were
/// reparented here (the server is their subreaper), and anything the
/// orderly shutdown could not end.
pub fn kill_leftovers() {
    // Every descendant, not only children: a program's setsid'd child whose
    // parent is still alive is not ours yet, and would be orphaned to init
    // when the server exits. A parent that is exiting lists no children,
    // and they become ours only once it has exited: walk again until no
    // live descendant is left (bounded: two seconds, which only a process
    // that will not die, or a machine under heavy load, ever uses).
    // "No live descendant" is not enough: a killed parent still exiting
    // shows neither as alive nor with children, and the child it is about
    // to hand over would be missed. So the walk ends only when the tree is
    // empty, zombies included: reaping an exited child of ours completes
    // its exit, after which its own children are ours, and seen.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let tree = crate::sys::descendants();
        if tree.is_empty() || std::time::Instant::now() >= until {
            return;
        }
        let mine = crate::sys::children();
        for pid in tree {
            if crate::sys::is_alive(pid) {
                crate::sys::kill(pid, Signal::SIGKILL);
            } else if mine.contains(&pid) {
                crate::sys::wait_child(pid, false);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Reap descendants that were reparented here (the server is their
/// subreaper) and have exited, so that none stays a zombie. Programs the
/// server started itself are waited for where they were started; only
/// unknown children, exited at least a second ago, are reaped here. At most
/// once a second: listing the children reads /proc.
pub fn reap_orphans() {
    static LAST: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
            return;
        }
        *last = Some(std::time::Instant::now());
    }
    let known: Vec<libc::pid_t> = PROGRAMS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pid in crate::sys::exited_children_older_than(std::time::Duration::from_secs(1)) {
        if !known.contains(&pid) {
            crate::sys::wait_child(pid, false);
        }
    }
}

/// SIGKILL every program, from the signal handler of a second Ctrl-C. It
/// only tries the lock: the handler must never wait on a lock the main
/// thread might hold across `fork`.
pub fn kill_all_now() {
    // The tree first: once a parent is killed, its children are neither
    // its (it is exiting) nor ours (they are reparented here only when it
    // has exited), and a walk in between would miss them.
    let tree = crate::sys::descendants();
    if let Ok(programs) = PROGRAMS.try_lock() {
        for pid in programs.iter() {
            crate::sys::killpg(*pid, Signal::SIGKILL);
        }
    }
    for pid in tree {
        crate::sys::kill(pid, Signal::SIGKILL);
    }
    kill_leftovers();
}

/// `--exec` on a blocking connection. The program gets the socket itself
/// as stdin and stdout (inetd style, no copying), unless `--hex` or
/// `--idle-timeout` need to see the bytes: then they flow through pipes and
/// the relay's blocking pump. Either way the connection ends with a
/// lingering close once the program has exited.
pub fn serve_stream(
    stream: &Stream,
    peer: &Endpoint,
    argv: &[std::ffi::OsString],
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    // The program gets the socket itself unless something must see the
    // bytes: --hex, --idle-timeout, -v's byte counts, or TLS.
    let copying = d.hex || d.idle.is_some() || d.count || stream.plain_fd().is_none();
    let spawned = if copying {
        let mut cmd = command(argv, peer, &stream.local());
        stream_env(&mut cmd, stream);
        spawn_piped(&mut cmd).map(|(c, to_prog, from_prog)| (c, Some((to_prog, from_prog))))
    } else {
        spawn_on_socket(argv, stream, peer).map(|c| (c, None))
    };
    let (mut child, pipes) = match spawned {
        Ok(c) => c,
        Err(e) => {
            // End the conversation cleanly: FIN now, and read what the peer
            // sends so it gets no reset.
            polled::linger_close(stream);
            return Err(End::Exec(describe_spawn_error(&argv[0], &e)));
        }
    };
    let pid = child.id() as libc::pid_t;
    started(pid);
    let mut relay_end = None;
    if let Some((to_prog, from_prog)) = pipes {
        let opts = program::PumpOpts {
            idle: d.idle,
            hex: d.hex,
            pid: Some(pid as u32),
        };
        let (moved, end) = program::pump(
            stream,
            &peer.to_string(),
            to_prog,
            from_prog,
            opts,
            |s| match s {
                program::Stopping::Term => terminate(pid),
                program::Stopping::Kill => kill(pid),
            },
        );
        tally.bytes_in = moved.up;
        tally.bytes_out = moved.down;
        if matches!(end, Some(crate::relay::RelayEnd::Idle)) {
            // Stopped at the idle timeout: what it left in its group (a
            // background child ignoring SIGTERM) goes with it.
            kill(pid);
        }
        relay_end = end;
    }
    let r = child.wait();
    ended(pid);
    if let Ok(status) = &r {
        tally.program = crate::event::Exit::from_status(*status);
    }
    if !copying {
        // The program's output is already in the socket; its exit is our FIN.
        polled::linger_close(stream);
    }
    r.map_err(End::Io)?;
    relay_end.map_or(Ok(()), |e| Err(e.into()))
}
