//! The event loop's (`serve`) own pump: `--once` to stdout. (A
//! program's pipes are the relay's [`ProgramRelay`](super::program::ProgramRelay)
//! and a forwarded connection its [`Bridge`](super::bridge::Bridge), as in
//! every model.)

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::half::HALF_BUDGET;

/// The receiving side of the lesson's bulk case (`serve --once > FILE`,
/// or `| consumer`): one connection's bytes straight to stdout by
/// splice(2), never through sockcat's memory. Into a pipe the socket's
/// pages go directly; into a file (or /dev/null) through a pipe of our
/// own. Writing to stdout may wait, as the print handler's writes do; the
/// socket is non-blocking, so an empty socket never does.
#[derive(Debug)]
pub struct ToStdout {
    /// Our pipe when stdout is not one, and the bytes in it.
    pipe: Option<(OwnedFd, OwnedFd)>,
    in_pipe: usize,
}

impl ToStdout {
    /// A sink for stdout if splice can write there: a pipe, a regular
    /// file or /dev/null (not a terminal or a socket).
    pub fn new() -> Option<ToStdout> {
        use nix::sys::stat::SFlag;
        let out = std::io::stdout();
        let fd = out.as_fd();
        let pipe = match crate::sys::file_kind(fd)? {
            k if k == SFlag::S_IFIFO => {
                // A bigger pipe moves more per call and wakes the reader
                // less often; where the system says no, the pipe is as it was.
                crate::sys::grow_pipe(fd, 1024 * 1024);
                None
            }
            k if k == SFlag::S_IFREG || (k == SFlag::S_IFCHR && is_dev_null(fd)) => {
                let (r, w, _) = crate::sys::splice_pipe(Some(1024 * 1024)).ok()?;
                Some((r, w))
            }
            _ => return None,
        };
        Some(ToStdout { pipe, in_pipe: 0 })
    }

    /// Move what the socket has now, up to a budget. Returns the bytes
    /// that reached stdout and whether the socket ended; `WouldBlock`
    /// never comes back (it ends the call).
    pub fn pump(&mut self, from: std::os::fd::BorrowedFd<'_>) -> io::Result<(usize, bool)> {
        use crate::sys::splice_nb;
        let out = std::io::stdout();
        let stdout = out.as_fd();
        let mut moved = 0;
        while moved < HALF_BUDGET {
            let Some((r, w)) = &self.pipe else {
                // Straight into the pipe that is stdout: the socket is
                // non-blocking, the pipe's side waits while it is full.
                match splice_nb(from, stdout, HALF_BUDGET, false) {
                    Ok(0) => return Ok((moved, true)),
                    Ok(n) => moved += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            };
            while self.in_pipe > 0 {
                match splice_nb(r.as_fd(), stdout, self.in_pipe, false) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(k) => {
                        self.in_pipe -= k;
                        moved += k;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Our pipe is empty: EAGAIN can only mean the socket is.
            match splice_nb(from, w.as_fd(), HALF_BUDGET, true) {
                Ok(0) => return Ok((moved, true)),
                Ok(n) => self.in_pipe = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((moved, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((moved, false))
    }
}

fn is_dev_null(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(a), Ok(b)) = (nix::sys::stat::fstat(fd), std::fs::metadata("/dev/null")) else {
        return false;
    };
    a.st_rdev == b.rdev()
}
