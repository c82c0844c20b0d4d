//! `send --exec PROG ARGS…` and `send --sh-exec CMDLINE`: a client that
//! runs a program on the connection (ncat's `HOST PORT -e PROG`, socat's
//! `EXEC:` on the connecting side).
//!
//! Connect as `send` always does (retries, a proxy, TLS), then start the
//! program as the servers start theirs (`handler::exec`): the connection
//! as its stdin and stdout, `SOCKCAT_PEER_*` naming the server and
//! `SOCKCAT_LOCAL_*` our end, default signal dispositions, a process group
//! of its own. A plain socket is handed over as it is; TLS, `--hex`,
//! `--idle-timeout` and `-v`'s byte counts need the bytes, so the program
//! then gets pipes, relayed by the servers' blocking pump.
//!
//! The program's end of output is our FIN, and the server's FIN is the
//! program's end of input. The program's exit ends the conversation: what
//! it started and left running (holding its output, say) gets
//! [`polled::LINGER`] to finish, then SIGTERM, then SIGKILL; the close
//! lingers as the servers' does. Nothing the program started outlives
//! `send`. `send` exits with the program's status (killed by signal N:
//! 128+N), unless the connection failed (1), `--idle-timeout` expired
//! (124) or a stop signal came (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).

use std::ffi::OsString;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::Plan;
use crate::addr::Addr;
use crate::error::{Error, Result, code};
use crate::event::{ConnStats, Exit, Level};
use crate::handler::exec;
use crate::relay::{RelayEnd, polled, program};
use crate::transport::{self, Endpoint, Stream};

/// How long a program asked to stop (SIGTERM) has before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// The program, as the signal watcher and the idle timeout see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Program {
    /// Not started yet: a stop signal simply exits.
    NotYet,
    Running(libc::pid_t),
    /// Waited for: its pid may belong to someone else by now.
    Done,
}

static PROGRAM: Mutex<Program> = Mutex::new(Program::NotYet);
/// A stop signal came.
static STOPPED: AtomicBool = AtomicBool::new(false);

fn program() -> std::sync::MutexGuard<'static, Program> {
    PROGRAM.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn run(p: &Plan, argv: &[OsString]) -> Result<()> {
    // A program's child that leaves its group (setsid) is reparented here,
    // so the end of `send` can still find and end it.
    crate::sys::become_subreaper();
    watch_signals()?;
    let stream = super::open(p)?;
    let began = Instant::now();
    let kind = p.addr.kind();
    let copying =
        p.hex || p.idle.is_some() || p.log.level >= Level::Verbose || stream.plain_fd().is_none();
    let (child, pid, pipes) = match spawn(p, argv, &stream, copying) {
        Ok(c) => c,
        Err(e) => {
            polled::linger_close(&stream);
            return Err(Error::runtime(exec::describe_spawn_error(&argv[0], &e)));
        }
    };
    let mut tally = ConnStats::default();
    let handed = pipes.is_none();
    let (status, ended) = match pipes {
        Some(pipes) => relay(p, &stream, child, pid, pipes, &mut tally),
        None => (wait(child, pid), None),
    };
    if handed {
        // The program's output is in the socket already: its exit is our
        // FIN. (The pump has shut the write side and lingered itself.)
        polled::linger_close(&stream);
    }
    end_leftovers();
    if stream.tls().is_some_and(|t| t.truncated()) {
        p.log
            .warning(&transport::tls::truncation(&p.addr.to_string()));
    }
    tally.program = status.as_ref().ok().and_then(|s| Exit::from_status(*s));
    p.log
        .closed(kind, &p.addr.to_string(), tally, began.elapsed());
    if STOPPED.load(Ordering::SeqCst) {
        return Err(match crate::sys::stop_signal() {
            Some(Signal::SIGTERM) => Error::Exit(code::TERMINATED),
            Some(Signal::SIGHUP) => Error::HungUp,
            _ => Error::Interrupted,
        });
    }
    match ended {
        None => {}
        Some(RelayEnd::Idle | RelayEnd::HalfClosed(_)) => {
            let idle = p.idle.unwrap_or_default();
            return Err(Error::Timeout(format!(
                "idle for {}",
                humantime::format_duration(idle)
            )));
        }
        Some(RelayEnd::Endpoint(e)) => {
            return Err(Error::io(format!("connection to {}", p.addr), e));
        }
        Some(RelayEnd::Program(e)) => {
            return Err(Error::io(
                format!("read from {}", argv[0].to_string_lossy()),
                e,
            ));
        }
    }
    let status = status.map_err(|e| Error::io("wait for the program", e))?;
    match Exit::from_status(status) {
        Some(Exit::Code(0)) | None => Ok(()),
        Some(Exit::Code(c)) => Err(Error::Exit(c.clamp(0, 255) as u8)),
        Some(Exit::Signal(n)) => Err(Error::Exit((128 + n).clamp(0, 255) as u8)),
    }
}

/// The program's end of the pipes to it, when it is not given the socket.
type ProgramPipes = (std::process::ChildStdin, std::process::ChildStdout);

/// Start the program: the socket itself as stdin and stdout, or pipes
/// (returned) when `copying` or when the stream has no plain descriptor.
/// Started under the program lock, so a stop signal sees either no
/// program (and exits) or one it can end.
fn spawn(
    p: &Plan,
    argv: &[OsString],
    stream: &Stream,
    copying: bool,
) -> std::io::Result<(Child, libc::pid_t, Option<ProgramPipes>)> {
    let local = stream.local();
    let (peer, named) = server_of(stream, &p.addr, p.opts.proxy.is_some());
    let mut cmd = exec::command(argv, &peer, &local);
    if let Some((host, port)) = named {
        cmd.env("SOCKCAT_PEER_ADDR", host);
        cmd.env("SOCKCAT_PEER_PORT", port.to_string());
    }
    exec::stream_env(&mut cmd, stream);
    let mut state = program();
    let (child, pipes) = match stream.plain_fd().filter(|_| !copying) {
        Some(fd) => {
            cmd.stdin(Stdio::from(fd.try_clone_to_owned()?))
                .stdout(Stdio::from(fd.try_clone_to_owned()?));
            (cmd.spawn()?, None)
        }
        None => {
            let (child, to_prog, from_prog) = crate::relay::spawn_piped(&mut cmd)?;
            (child, Some((to_prog, from_prog)))
        }
    };
    let pid = child.id() as libc::pid_t;
    *state = Program::Running(pid);
    exec::started(pid);
    Ok((child, pid, pipes))
}

/// The peer a program is told about is the server: the socket's peer when
/// connected directly; through a proxy, the address asked for (a name when
/// the proxy resolves it: then returned apart, as host and port).
fn server_of(stream: &Stream, addr: &Addr, proxied: bool) -> (Endpoint, Option<(String, u16)>) {
    if proxied {
        if let Addr::Inet { host, port, .. } = addr {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            return match bare.parse::<std::net::IpAddr>() {
                Ok(ip) => (Endpoint::Inet(std::net::SocketAddr::new(ip, *port)), None),
                Err(_) => (Endpoint::Unknown, Some((bare.to_string(), *port))),
            };
        }
    }
    let sock = stream.innermost();
    let peer = match sock {
        Stream::Tcp(s) => s.peer_addr().map(Endpoint::Inet).ok(),
        Stream::Unix(s) => s.peer_addr().ok().map(|a| Endpoint::from_unix(&a)),
        Stream::Tls(_) | Stream::Ws(_) => None,
    };
    (peer.unwrap_or(Endpoint::Unknown), None)
}

/// Wait for the program (given the socket itself).
fn wait(mut child: Child, pid: libc::pid_t) -> std::io::Result<ExitStatus> {
    let r = child.wait();
    *program() = Program::Done;
    exec::ended(pid);
    r
}

/// Relay between the connection and the program's pipes with the servers'
/// pump, while another thread waits for the program: once it has exited,
/// what still holds its output open gets [`polled::LINGER`], then is
/// ended, so the pump sees the output's end.
fn relay(
    p: &Plan,
    stream: &Stream,
    child: Child,
    pid: libc::pid_t,
    (to_prog, from_prog): ProgramPipes,
    tally: &mut ConnStats,
) -> (std::io::Result<ExitStatus>, Option<RelayEnd>) {
    let (pumped_tx, pumped_rx) = mpsc::channel::<()>();
    let waiter = std::thread::spawn(move || {
        let r = wait(child, pid);
        if let Err(mpsc::RecvTimeoutError::Timeout) = pumped_rx.recv_timeout(polled::LINGER) {
            end_leftovers();
        }
        r
    });
    // (send waits for the program on its own thread, and ends what still
    // holds the output LINGER after its exit.)
    let opts = program::PumpOpts {
        idle: p.idle,
        hex: p.hex,
        pid: None,
    };
    let (moved, ended) =
        program::pump(stream, &p.addr.to_string(), to_prog, from_prog, opts, |s| {
            // (stop_program kills it after GRACE itself.)
            if s == program::Stopping::Term {
                std::thread::spawn(stop_program);
            }
        });
    let _ = pumped_tx.send(());
    tally.bytes_in = moved.up;
    tally.bytes_out = moved.down;
    let status = waiter
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the waiting thread failed")));
    (status, ended)
}

/// Ask the program (and its group) to stop; SIGKILL it after [`GRACE`].
fn stop_program() {
    let Program::Running(pid) = *program() else {
        return;
    };
    exec::terminate(pid);
    let until = Instant::now() + GRACE;
    while Instant::now() < until {
        if *program() != Program::Running(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if *program() == Program::Running(pid) {
        exec::kill(pid);
    }
}

/// End whatever the program started and left running: SIGTERM, then
/// SIGKILL after [`GRACE`] (every descendant, those that left the
/// program's group included: this process is their subreaper).
fn end_leftovers() {
    let tree = crate::sys::descendants();
    if tree.is_empty() {
        return;
    }
    for pid in &tree {
        crate::sys::kill(*pid, Signal::SIGTERM);
    }
    let until = Instant::now() + GRACE;
    while Instant::now() < until
        && crate::sys::descendants()
            .iter()
            .any(|p| crate::sys::is_alive(*p))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    exec::kill_leftovers();
}

/// Ctrl-C, SIGTERM or SIGHUP: before the program starts, exit at once
/// (with the signal's code); once it runs, ask it to stop, and let its
/// end end `send`. A second signal kills everything at once (the
/// runtime's handler).
fn watch_signals() -> Result<()> {
    let signals = crate::servers::install_signals()?;
    let mut poll = mio::Poll::new().map_err(|e| Error::io("start the signal watcher", e))?;
    let waker = mio::Waker::new(poll.registry(), mio::Token(0))
        .map_err(|e| Error::io("start the signal watcher", e))?;
    crate::servers::wake_on_signal(Arc::new(waker));
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut events = mio::Events::with_capacity(4);
            while signals.count() == 0 {
                let _ = poll.poll(&mut events, None);
            }
            STOPPED.store(true, Ordering::SeqCst);
            {
                let state = program();
                if *state == Program::NotYet {
                    let code = match crate::sys::stop_signal() {
                        Some(Signal::SIGTERM) => code::TERMINATED,
                        Some(Signal::SIGHUP) => code::HUNG_UP,
                        _ => code::INTERRUPTED,
                    };
                    crate::sys::exit_now(code as i32);
                }
            }
            stop_program();
        })
        .map_err(|e| Error::io("start the signal watcher", e))?;
    Ok(())
}
