//! `serve` relays stdin to every connected peer (the default handler).
//! Stdin stays in blocking mode, since O_NONBLOCK would be shared with the
//! shell: the loop reads only when stdin is ready, and checks readiness
//! again with poll(2) before the next read.

use std::io;
use std::os::fd::AsFd;

use mio::unix::SourceFd;
use mio::{Interest, Poll};

use super::{EventLoop, OUT_LIMIT, STDIN};
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

impl EventLoop {
    pub(super) fn stdin_wanted(&self) -> bool {
        self.stdin != StdinKind::None
            && self.stdin_ready
            && !self.stdin_eof
            && !self.stop.stopping()
            && self.conns.values().any(|c| !c.shut())
            && self.conns.values().all(|c| c.queued() < OUT_LIMIT)
    }

    /// Whether a peer that does not read holds back the stdin relay for
    /// others who would take more: then the stall rule may drop it. A peer
    /// alone (or all of them slow) is simply waited for.
    pub(super) fn stdin_held_back(&self) -> bool {
        self.stdin != StdinKind::None
            && !self.stdin_eof
            && !self.stop.stopping()
            && self.conns.values().any(|c| c.queued() >= OUT_LIMIT)
            && self
                .conns
                .values()
                .any(|c| !c.shut() && c.queued() < OUT_LIMIT)
    }

    /// Read one chunk of stdin and queue it for every connected peer.
    pub(super) fn relay_stdin(&mut self) -> Result<()> {
        let n = loop {
            let e = match crate::sys::read(io::stdin(), &mut self.buf) {
                Ok(n) => break n,
                Err(e) => e,
            };
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    self.stdin_ready = false;
                    return Ok(());
                }
                _ => {
                    self.server
                        .service
                        .settings
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
                if let Some(t) = self.conns.get_mut(id).and_then(|c| c.talk.as_mut()) {
                    t.finish();
                }
            }
        } else {
            for id in &ids {
                if let Some(t) = self.conns.get_mut(id).and_then(|c| c.talk.as_mut()) {
                    if !t.finishing() {
                        t.queue(&self.buf[..n]);
                    }
                }
            }
            if self.stdin == StdinKind::Poll && !stdin_readable() {
                self.stdin_ready = false;
            }
        }
        self.again.extend(ids);
        Ok(())
    }
}

/// Whether a read on stdin would return at once (data or EOF).
fn stdin_readable() -> bool {
    crate::sys::readable_now(io::stdin().as_fd())
}

/// How stdin can be relayed. It is left alone when closed, when it is
/// /dev/null (a server started from a script: its peers must not get an
/// immediate FIN), or when it is a terminal whose foreground we are not
/// (reading would stop a background server with SIGTTIN). Stdin stays in
/// blocking mode: O_NONBLOCK would be shared with the shell.
pub(super) fn classify_stdin(poll: &Poll) -> StdinKind {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let stdin = io::stdin();
    let Ok(meta) = stdin
        .as_fd()
        .try_clone_to_owned()
        .and_then(|fd| std::fs::File::from(fd).metadata())
    else {
        return StdinKind::None;
    };
    if meta.file_type().is_file() {
        return StdinKind::File;
    }
    if meta.file_type().is_char_device() {
        if let Ok(null) = std::fs::metadata("/dev/null") {
            if null.rdev() == meta.rdev() {
                return StdinKind::None;
            }
        }
        if crate::sys::is_background_tty(stdin.as_fd()) {
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
