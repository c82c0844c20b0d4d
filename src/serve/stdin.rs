//! `serve` relays stdin to every connected peer (the default handler).
//! Stdin stays in blocking mode, since O_NONBLOCK would be shared with the
//! shell: the loop reads only when stdin is ready, and checks readiness
//! again with poll(2) before the next read.

use std::io;
use std::os::fd::RawFd;

use mio::unix::SourceFd;
use mio::{Interest, Poll};

use super::{Loop, OUT_LIMIT, STDIN};
use crate::error::Result;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StdinKind {
    /// Not relayed: closed, /dev/null, or a terminal we do not own.
    None,
    /// A pipe, terminal or socket, watched by the loop.
    Poll,
    /// A regular file (epoll refuses those): always readable.
    File,
}

impl Loop {
    pub(super) fn stdin_wanted(&self) -> bool {
        self.stdin != StdinKind::None
            && self.stdin_ready
            && !self.stdin_eof
            && self.stopping.is_none()
            && self.conns.values().any(|c| !c.shut)
            && self.conns.values().all(|c| c.out.len() < OUT_LIMIT)
    }

    /// Read one chunk of stdin and queue it for every connected peer.
    pub(super) fn relay_stdin(&mut self) -> Result<()> {
        let n = loop {
            // SAFETY: read into our own buffer from fd 0.
            let r = unsafe { libc::read(0, self.buf.as_mut_ptr().cast(), self.buf.len()) };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    self.stdin_ready = false;
                    return Ok(());
                }
                _ => {
                    self.server
                        .log
                        .error(&format!("read stdin: {}", crate::error::describe(&e)));
                    break 0;
                }
            }
        };
        let ids: Vec<usize> = self.conns.keys().copied().collect();
        if n == 0 {
            self.stdin_eof = true;
            for id in &ids {
                if let Some(c) = self.conns.get_mut(id) {
                    c.finish = true;
                }
            }
        } else {
            for id in &ids {
                if let Some(c) = self.conns.get_mut(id) {
                    if !c.shut && !c.finish {
                        c.out.extend_from_slice(&self.buf[..n]);
                    }
                }
            }
            if self.stdin == StdinKind::Poll && !fd_readable(0) {
                self.stdin_ready = false;
            }
        }
        self.again.extend(ids);
        Ok(())
    }
}

/// Whether a read on `fd` would return at once (data or EOF).
fn fd_readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own, without waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}

/// How stdin can be relayed. It is left alone when closed, when it is
/// /dev/null (a server started from a script: its peers must not get an
/// immediate FIN), or when it is a terminal whose foreground we are not
/// (reading would stop a background server with SIGTTIN). Stdin stays in
/// blocking mode: O_NONBLOCK would be shared with the shell.
pub(super) fn classify_stdin(poll: &Poll) -> StdinKind {
    // SAFETY: fstat into a zeroed stat we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(0, &mut st) } != 0 {
        return StdinKind::None;
    }
    let fmt = st.st_mode & libc::S_IFMT;
    if fmt == libc::S_IFREG {
        return StdinKind::File;
    }
    if fmt == libc::S_IFCHR {
        if let Ok(m) = std::fs::metadata("/dev/null") {
            use std::os::unix::fs::MetadataExt;
            if m.rdev() == st.st_rdev {
                return StdinKind::None;
            }
        }
        // SAFETY: isatty/tcgetpgrp/getpgrp read process state only.
        let tty = unsafe { libc::isatty(0) } == 1;
        if tty && unsafe { libc::tcgetpgrp(0) != libc::getpgrp() } {
            return StdinKind::None;
        }
    }
    match poll
        .registry()
        .register(&mut SourceFd(&0), STDIN, Interest::READABLE)
    {
        Ok(()) => StdinKind::Poll,
        Err(_) => StdinKind::File,
    }
}
