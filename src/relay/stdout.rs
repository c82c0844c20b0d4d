//! `serve --once`'s print, the receiving side of the lesson's bulk case
//! (`serve --once > FILE`, or `| consumer`): one connection's bytes to
//! stdout by a [`Half`] from the socket to [`StdoutPort`], never through
//! sockcat's memory. Into a pipe the socket's pages are spliced directly;
//! into a file (or /dev/null) through a pipe lent by the pool. Writing to
//! stdout may wait, as the print handler's writes do; the socket is
//! non-blocking, so an empty socket never does.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use super::HalfError;
use super::half::{Half, Port};

/// Stdout, as a destination a splice can write to: a pipe, a regular
/// file or /dev/null (not a terminal or a socket).
#[derive(Debug)]
pub struct StdoutPort {
    out: io::Stdout,
    /// Stdout is a pipe: spliced into directly.
    pipe: bool,
}

impl StdoutPort {
    /// Stdout, if splice can write there.
    pub fn new() -> Option<StdoutPort> {
        use nix::sys::stat::SFlag;
        let out = io::stdout();
        let fd = out.as_fd();
        let pipe = match crate::sys::file_kind(fd)? {
            k if k == SFlag::S_IFIFO => {
                // A bigger pipe moves more per call and wakes the reader
                // less often; where the system says no, the pipe is as it was.
                crate::sys::grow_pipe(fd, 1024 * 1024);
                true
            }
            k if k == SFlag::S_IFREG || (k == SFlag::S_IFCHR && is_dev_null(fd)) => false,
            _ => return None,
        };
        Some(StdoutPort { out, pipe })
    }
}

impl Port for StdoutPort {
    fn read(&self, _: &mut [u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }
    /// (Only when the pool has no pipe to lend: the bytes are copied.)
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        crate::output::stdout_write(data)?;
        Ok(data.len())
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.out.as_fd())
    }
    fn is_waiting_pipe(&self) -> bool {
        self.pipe
    }
    /// Stdout stays open: the connection's end is no end of the server's
    /// output.
    fn shut_write(&self) {}
}

/// One connection's bytes to stdout; see the module's comment.
#[derive(Debug)]
pub struct ToStdout {
    half: Half,
    stdout: StdoutPort,
}

impl ToStdout {
    /// A sink for stdout if splice can write there (see [`StdoutPort::new`]).
    pub fn new() -> Option<ToStdout> {
        Some(ToStdout {
            half: Half::new(true),
            stdout: StdoutPort::new()?,
        })
    }

    /// Move what the socket `from` has now, up to a budget: the bytes that
    /// reached stdout, and whether the socket's end was reached (and all
    /// it sent is out). `scratch` is for a copy, which only a pool with no
    /// pipe to lend makes.
    pub fn pump(
        &mut self,
        from: &impl Port,
        scratch: &mut Vec<u8>,
    ) -> Result<(usize, bool), HalfError> {
        let p = self.half.pump(from, &self.stdout, scratch, |_, _| {})?;
        Ok((p.moved, self.half.is_done()))
    }

    /// Give back a pipe still lent (the connection is closing).
    pub fn release(&mut self) {
        self.half.release();
    }
}

fn is_dev_null(fd: BorrowedFd<'_>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(a), Ok(b)) = (nix::sys::stat::fstat(fd), std::fs::metadata("/dev/null")) else {
        return false;
    };
    a.st_rdev == b.rdev()
}
