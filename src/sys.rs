//! System calls that std and socket2 do not wrap, each behind a safe
//! function. Most go through nix, which already makes them safe; the few
//! that still need `unsafe` here say why it is sound in a `SAFETY:`
//! comment, one operation per block (clippy denies undocumented and
//! multi-operation unsafe blocks crate-wide).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::unistd::Pid;

mod fd;
pub use fd::*;

/// Whether this process is the parent or the new child after [`fork`].
pub enum Forked {
    Child,
    Parent(libc::pid_t),
}

/// fork(2).
///
/// The caller's duty, which is why fork-serve is the only caller: the
/// parent's other threads (only ctrlc's signal thread) hold no lock the
/// child needs, and the child leaves through [`exit_now`] rather than by
/// returning into the parent's code.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: see above; nix::unistd::fork is unsafe only because of what
    // the child may do in a multi-threaded program, and fork-serve's child
    // runs its one connection and exits.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child.as_raw())),
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Err(e) => Err(e.into()),
    }
}

/// End this process at once, without running destructors or atexit
/// handlers (a forked child must not remove the parent's socket files).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an integer and never returns; it is unsafe only
    // as every foreign function is.
    unsafe { libc::_exit(code) }
}

/// Close a descriptor that some object still believes it owns, in a forked
/// child that exits through [`exit_now`] and so never drops that object.
pub fn close_in_child(fd: std::os::fd::RawFd) {
    let _ = nix::unistd::close(fd);
}

/// A pidfd for `pid` (Linux 5.3+): readable once the process exits.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor
    // or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Set `sig`'s disposition to the default action, or to ignore it.
pub fn set_signal(sig: Signal, default: bool) {
    let handler = if default {
        SigHandler::SigDfl
    } else {
        SigHandler::SigIgn
    };
    // SAFETY: SIG_DFL and SIG_IGN install no code of ours, so no handler
    // can run in an unexpected context (nix marks signal() unsafe for
    // handler functions).
    let _ = unsafe { signal::signal(sig, handler) };
}

/// The first of SIGTERM or SIGHUP to arrive, 0 while neither has: ctrlc
/// reports every stop signal the same way, and the exit code depends on
/// which it was.
static STOP_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    use std::sync::atomic::Ordering;
    let _ = STOP_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    // Hand it on as a SIGINT to ctrlc's handler, which counts it and wakes
    // the server's loop. (raise is async-signal-safe; so is an atomic.)
    let _ = signal::raise(Signal::SIGINT);
}

/// Route SIGTERM and SIGHUP through [`on_stop_signal`], after ctrlc has
/// installed its handlers, so that [`stop_signal`] can say which came.
pub fn note_stop_signals() {
    use signal::{SaFlags, SigAction, SigSet};
    let act = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler touches only an atomic and calls raise(),
        // both async-signal-safe, so it is sound in any context it
        // interrupts.
        let _ = unsafe { signal::sigaction(sig, &act) };
    }
}

/// Which stop signal came first: SIGTERM, SIGHUP, or None (Ctrl-C, or
/// none yet).
pub fn stop_signal() -> Option<Signal> {
    match STOP_SIGNAL.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// Send `sig` to one process; a process that is gone is not an error here.
pub fn kill(pid: libc::pid_t, sig: Signal) {
    let _ = signal::kill(Pid::from_raw(pid), sig);
}

/// Send `sig` to the process group `pgid` (a program and everything it
/// started that did not leave the group).
pub fn killpg(pgid: libc::pid_t, sig: Signal) {
    let _ = signal::killpg(Pid::from_raw(pgid), sig);
}

/// Make `pid` (0: this process) the leader of a process group of its own.
/// A forking parent and its child both call it, so the group exists
/// whichever runs first.
pub fn own_process_group(pid: libc::pid_t) {
    let pid = Pid::from_raw(pid);
    let _ = nix::unistd::setpgid(pid, pid);
}

/// Have `cmd`'s program start as a program expects to: every signal at its
/// default action and none blocked (ignored dispositions and the signal mask
/// survive exec, so a program would otherwise inherit ours), and, with
/// `own_group`, in a process group of its own, so that ending the group
/// ends whatever the program started.
pub fn prepare_exec(cmd: &mut std::process::Command, own_group: bool) {
    use std::os::unix::process::CommandExt;
    if own_group {
        cmd.process_group(0);
    }
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed; it makes only sigaction
    // and sigprocmask calls and allocates nothing.
    unsafe { cmd.pre_exec(reset_signals) };
}

/// Default dispositions and an empty mask, in a child about to exec.
fn reset_signals() -> io::Result<()> {
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            set_signal(sig, true);
        }
    }
    // The real-time signals, which nix's Signal does not list. 32 and 33
    // are glibc's own (thread cancellation, setxid): it refuses to change
    // them, and no program can use them.
    for sig in 34..=64 {
        // SAFETY: SIG_DFL installs no code of ours; signal() is
        // async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    signal::sigprocmask(
        signal::SigmaskHow::SIG_SETMASK,
        Some(&signal::SigSet::empty()),
        None,
    )?;
    Ok(())
}

/// Wait for a child: `Some(status)` once it has exited, `None` while it
/// runs (with `block` false). An error (no such child) counts as exited.
pub fn wait_child(pid: libc::pid_t, block: bool) -> Option<nix::sys::wait::WaitStatus> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let flags = (!block).then_some(WaitPidFlag::WNOHANG);
    match waitpid(Pid::from_raw(pid), flags) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(s) => Some(s),
        Err(_) => Some(WaitStatus::Exited(Pid::from_raw(pid), 0)),
    }
}

/// A pipe whose ends close on exec.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// An anonymous file in memory that closes on exec (a forked child
/// shares it with its parent: the same file, not a copy).
pub fn memfd(name: &str) -> io::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    Ok(memfd_create(name, MFdFlags::MFD_CLOEXEC)?)
}

/// Lift the soft descriptor limit to the hard one.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// The soft limit on this user's processes (RLIMIT_NPROC), if any.
pub fn process_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NPROC)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|s| *s != nix::sys::resource::RLIM_INFINITY)
}

/// Take ownership of descriptor `fd`, which whoever started this process
/// left open for it (`fd:N`, systemd's `LISTEN_FDS`), and mark it
/// close-on-exec so that programs started later do not inherit it.
pub fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD reads a descriptor's flags and touches no memory; on
    // a number that is not open it fails with EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (above), and nothing else in this process owns
    // it: the command line is read before anything opens a descriptor, each
    // inherited number is adopted once, and 0-2 are refused before here.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    Ok(owned)
}

/// Mark every descriptor above stderr close-on-exec. What this process
/// inherited from its parent (a shell's `exec 7<file`, a supervisor's
/// leak) must not reach the programs it starts, which get 0, 1 and 2
/// only; the sockets it serves are adopted later and keep working here.
pub fn close_inherited_on_exec() {
    // linux/close_range.h; a constant, so any libc version will do.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on
    // open descriptors in the range; it closes nothing and reads no memory.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return;
    }
    // Kernels before 5.11: one at a time, from the list the kernel keeps.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD read and set a descriptor's flags and
        // touch no memory; a number closed meanwhile (the directory's own)
        // fails with EBADF, which is ignored.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        }
    }
}

/// Point stdin, stdout and/or stderr at /dev/null (inetd mode: they were
/// the connection, which sockcat now holds on a descriptor of its own).
pub fn null_stdio(stdin: bool, stdout: bool, stderr: bool) -> io::Result<()> {
    if !(stdin || stdout || stderr) {
        return Ok(());
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    if stdin {
        nix::unistd::dup2_stdin(&null)?;
    }
    if stdout {
        nix::unistd::dup2_stdout(&null)?;
    }
    if stderr {
        nix::unistd::dup2_stderr(&null)?;
    }
    Ok(())
}

/// Make this process the reaper of its orphaned descendants: a program's
/// child that leaves its process group (`setsid`) is reparented here
/// rather than to init, so shutdown can still find and end it.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// This process's children, from /proc (every thread's list).
pub fn children() -> Vec<libc::pid_t> {
    children_of("self")
}

fn children_of(pid: &str) -> Vec<libc::pid_t> {
    let mut pids = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return pids;
    };
    for t in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<libc::pid_t>().ok()),
            );
        }
    }
    pids
}

/// Every descendant of this process (children, theirs, and so on), even
/// one that left its process group or session: what a program started
/// that would otherwise outlive a server exiting at once.
pub fn descendants() -> Vec<libc::pid_t> {
    let mut all = children();
    let mut i = 0;
    // Bounded: a process tree is finite, and each pid is visited once.
    while i < all.len() && all.len() < 100_000 {
        for c in children_of(&all[i].to_string()) {
            if !all.contains(&c) {
                all.push(c);
            }
        }
        i += 1;
    }
    all
}

/// Whether `pid` is running (not exited, or gone).
pub fn is_alive(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|st| {
            st.rsplit_once(") ")
                .map(|(_, r)| !r.starts_with('Z') && !r.starts_with('X'))
        })
        .unwrap_or(false)
}

/// This process's children that have exited (zombies) and are older than
/// `age`: those nobody is waiting for can be reaped without racing a
/// `wait` that is about to happen for a child just started.
pub fn exited_children_older_than(age: std::time::Duration) -> Vec<libc::pid_t> {
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as f64;
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    children()
        .into_iter()
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // After "pid (comm) ": state is field 3, starttime field 22.
            let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let zombie = fields.first() == Some(&"Z");
            let started = fields
                .get(19)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
                / tick;
            zombie && uptime - started >= age.as_secs_f64()
        })
        .collect()
}

/// A connected Unix stream socket's peer uid and pid (SO_PEERCRED).
pub fn peer_credentials(s: &std::os::unix::net::UnixStream) -> Option<(u32, i32)> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    getsockopt(s, PeerCredentials)
        .ok()
        .map(|c| (c.uid(), c.pid()))
}
