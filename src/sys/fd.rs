//! Descriptor-level calls: non-blocking mode, reads and writes that never
//! raise SIGPIPE, poll(2), splice(2) and sendfile(2), pipes and their
//! sizes, and what kind of file a descriptor is. Each behind a safe
//! function, as in the module above (the same SAFETY rules).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::pipe;

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

/// recv(2) with MSG_PEEK, without waiting: what a read would return,
/// left on the socket for the read that takes it.
pub fn peek_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use nix::sys::socket::{MsgFlags, recv};
    Ok(recv(
        fd.as_raw_fd(),
        buf,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_PEEK,
    )?)
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
