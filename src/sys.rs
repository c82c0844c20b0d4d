//! System calls that std and socket2 do not wrap, each behind a safe
//! function. Most go through nix, which already makes them safe; the few
//! that still need `unsafe` here say why it is sound in a `SAFETY:`
//! comment, one operation per block (clippy denies undocumented and
//! multi-operation unsafe blocks crate-wide).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::unistd::Pid;

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

/// Set O_NONBLOCK on a descriptor.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// recv(2) with MSG_DONTWAIT: a read that never waits, whatever the
/// socket's blocking mode.
pub fn recv_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use nix::sys::socket::{MsgFlags, recv};
    Ok(recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)?)
}

/// send(2) with MSG_NOSIGNAL: a peer that reset the connection gives
/// EPIPE and never kills the process with SIGPIPE.
pub fn send_nosignal(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    use nix::sys::socket::{MsgFlags, send};
    Ok(send(fd.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL)?)
}

/// write(2) of all of `data` to `fd`, with no userspace buffer.
pub fn write_all(fd: impl AsFd, mut data: &[u8]) -> io::Result<()> {
    let fd = fd.as_fd();
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One write(2) of some of `data` to `fd` (a pipe to a program).
pub fn write_some(fd: impl AsFd, data: &[u8]) -> io::Result<usize> {
    Ok(nix::unistd::write(fd.as_fd(), data)?)
}

/// read(2) on a descriptor we do not own as a `File` (stdin).
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    Ok(nix::unistd::read(fd.as_fd(), buf)?)
}

/// Whether a read on `fd` would return at once (data, EOF or an error).
pub fn readable_now(fd: BorrowedFd<'_>) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
        })
}

/// One descriptor for [`poll_ready`]: what to wait for, and (after) what
/// came. The caller keeps the descriptor open while it polls.
#[derive(Clone, Copy, Debug)]
pub struct PollWant {
    pub fd: std::os::fd::RawFd,
    pub read: bool,
    pub write: bool,
    /// Set by [`poll_ready`]: a read would not wait (data, an end, an
    /// error).
    pub readable: bool,
    /// Set by [`poll_ready`]: a write would not wait (room, or an error).
    pub writable: bool,
}

/// poll(2) over `fds` until one is ready or `timeout` passes (`None`:
/// no bound). A signal ends the wait early, as a wake-up with nothing
/// ready.
pub fn poll_ready(fds: &mut [PollWant], timeout: Option<std::time::Duration>) -> io::Result<()> {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|w| libc::pollfd {
            // A descriptor waited for nothing is left out: its hang-up or
            // error, which poll reports whatever was asked, would
            // otherwise wake every call.
            fd: if w.read || w.write { w.fd } else { -1 },
            events: (if w.read { libc::POLLIN } else { 0 })
                | (if w.write { libc::POLLOUT } else { 0 }),
            revents: 0,
        })
        .collect();
    // Rounded up, so a deadline is never woken for a moment early.
    let ms = timeout.map_or(-1, |t| {
        t.as_micros().div_ceil(1000).min(libc::c_int::MAX as u128) as libc::c_int
    });
    // SAFETY: `polled` is a valid array of `polled.len()` pollfds for the
    // whole call; poll only writes their `revents`.
    let n = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(())
        } else {
            Err(e)
        };
    }
    for (w, p) in fds.iter_mut().zip(&polled) {
        let either = libc::POLLHUP | libc::POLLERR;
        w.readable = p.revents & (libc::POLLIN | either) != 0;
        w.writable = p.revents & (libc::POLLOUT | either) != 0;
    }
    Ok(())
}

/// Whether `fd` is a terminal whose foreground process group is not ours
/// (reading it would stop us with SIGTTIN).
pub fn is_background_tty(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
        && nix::unistd::tcgetpgrp(fd).is_ok_and(|g| g != nix::unistd::getpgrp())
}

/// sendfile(2) from a file to a socket: up to `len` bytes, from the file's
/// offset. Ok(0) at the end of the file.
pub fn sendfile(to: BorrowedFd<'_>, from: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    Ok(nix::sys::sendfile::sendfile(to, from, None, len)?)
}

/// splice(2) from a pipe to a socket: up to `len` bytes. Ok(0) at EOF.
///
/// Without SPLICE_F_MORE: it would tell the socket more is coming, and
/// the kernel holds the last partial segment back (~200 ms) waiting for
/// it, which is every write of a program that sends a request and waits
/// for the answer. Within one call the kernel already coalesces what the
/// pipe holds; more beyond that is never known here.
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    use nix::fcntl::SpliceFFlags;
    let flags = SpliceFFlags::SPLICE_F_MOVE;
    Ok(nix::fcntl::splice(from, None, to, None, len, flags)?)
}

/// splice(2) between a socket and a pipe, either way: up to `len` bytes.
/// Ok(0) at the source's EOF. With `nowait` neither end waits (the event
/// loop's sockets are non-blocking too); without it the call blocks like a
/// read or a write would.
pub fn splice_nb(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    nowait: bool,
) -> io::Result<usize> {
    use nix::fcntl::SpliceFFlags;
    let mut flags = SpliceFFlags::SPLICE_F_MOVE;
    if nowait {
        flags |= SpliceFFlags::SPLICE_F_NONBLOCK;
    }
    Ok(nix::fcntl::splice(from, None, to, None, len, flags)?)
}

/// A pipe for splicing, both ends close on exec, grown to `size` where the
/// system allows (a larger pipe moves more per call; past the per-user
/// limit the kernel refuses, and the default 64 KiB pipe does the job).
/// `None` keeps the default: the event loop may hold thousands, and every
/// grown pipe counts against the user's limit on pipe memory.
/// Returns the pipe and its capacity.
pub fn splice_pipe(size: Option<usize>) -> io::Result<(OwnedFd, OwnedFd, usize)> {
    use nix::fcntl::{FcntlArg, fcntl};
    let (r, w) = pipe()?;
    let grown = size.map(|n| fcntl(w.as_fd(), FcntlArg::F_SETPIPE_SZ(n as libc::c_int)));
    let cap = match grown {
        Some(Ok(n)) => Ok(n),
        _ => fcntl(w.as_fd(), FcntlArg::F_GETPIPE_SZ),
    };
    let cap = cap.map(|n| n.max(4096) as usize).unwrap_or(64 * 1024);
    Ok((r, w, cap))
}

/// Resize a pipe to `size` (rounded up by the kernel); its new capacity,
/// or None where the system refuses (past the user's pipe memory, or
/// smaller than what the pipe holds).
pub fn resize_pipe(fd: BorrowedFd<'_>, size: usize) -> Option<usize> {
    use nix::fcntl::{FcntlArg, fcntl};
    fcntl(fd, FcntlArg::F_SETPIPE_SZ(size as libc::c_int))
        .ok()
        .map(|n| n.max(4096) as usize)
}

/// A counter shared by this process and every child it forks afterwards:
/// one page of shared anonymous memory, never unmapped.
pub fn shared_counter() -> io::Result<&'static std::sync::atomic::AtomicUsize> {
    // SAFETY: a fresh anonymous mapping: no address is given and no file
    // is mapped, so nothing existing is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the mapping is page-aligned (so aligned for an AtomicUsize),
    // zero-filled (a valid 0), writable, and never unmapped, so the
    // reference is valid for the life of the process; across fork it is
    // the same memory, and atomics on it are atomic across processes.
    Ok(unsafe { &*(p as *const std::sync::atomic::AtomicUsize) })
}

/// Grow a pipe to `size` if the system allows it (best effort).
pub fn grow_pipe(fd: BorrowedFd<'_>, size: usize) {
    use nix::fcntl::{FcntlArg, fcntl};
    let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(size as libc::c_int));
}

/// What kind of file a descriptor is, for choosing a copy path.
pub fn file_kind(fd: BorrowedFd<'_>) -> Option<nix::sys::stat::SFlag> {
    use nix::sys::stat::{SFlag, fstat};
    fstat(fd)
        .ok()
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT)
}

/// Whether two descriptors are the same file (a socket dup'ed onto both).
pub fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    use nix::sys::stat::fstat;
    match (fstat(a), fstat(b)) {
        (Ok(x), Ok(y)) => (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino),
        _ => false,
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
