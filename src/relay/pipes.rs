//! The pipes a [`Half`](super::half::Half) splices through, and the one
//! policy that bounds them, for every model: a pipe is lent to a half only
//! while bytes are in flight (haproxy's pipe pool), so an idle connection
//! holds none, whichever model drives it.
//!
//! A pipe's whole capacity counts against the user's pipe memory
//! (`pipe-user-pages-soft`, 64 MiB by default; past it, every new pipe of
//! the user's, anyone's shell included, is cut to two pages), whatever it
//! holds: so at most [`GROWN`] pipes are grown to [`BIG`] across the whole
//! server (fork-serve's children share that count, see
//! [`share_pipe_budget`]), at most [`MAX_PIPES`] exist in one process, and
//! past that a half copies instead.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Pipes grown to [`BIG`] (32 MiB in all).
const GROWN: usize = 32;
/// A grown pipe's size: each splice moves up to this much.
const BIG: usize = 1024 * 1024;
/// Pipes in one process (the rest at the default 64 KiB: 14 MiB).
const MAX_PIPES: usize = 256;
/// Free pipes kept for the next transfer; more are closed.
const KEEP_FREE: usize = 16;

/// A pipe to splice through.
#[derive(Debug)]
pub struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    /// Grown to [`BIG`] (it counts against the grown total).
    big: bool,
}

impl Pipe {
    pub fn reader(&self) -> BorrowedFd<'_> {
        self.r.as_fd()
    }

    pub fn writer(&self) -> BorrowedFd<'_> {
        self.w.as_fd()
    }
}

/// This process's pipes: the free ones, and how many exist.
#[derive(Debug, Default)]
pub struct PipePool {
    free: Vec<Pipe>,
    made: usize,
    /// Connections the blocking driver is relaying now.
    relaying: usize,
}

/// The pool every half of this process borrows from (serve's loop, or
/// thread-serve's threads).
static POOL: Mutex<PipePool> = Mutex::new(PipePool {
    free: Vec::new(),
    made: 0,
    relaying: 0,
});

/// Grown pipes: one count per process, or one for the parent and all its
/// children once [`share_pipe_budget`] has run.
static GROWN_HERE: AtomicUsize = AtomicUsize::new(0);
static GROWN_SHARED: OnceLock<&'static AtomicUsize> = OnceLock::new();

fn grown() -> &'static AtomicUsize {
    GROWN_SHARED.get().copied().unwrap_or(&GROWN_HERE)
}

/// Make the grown-pipe count one for this process and every child it
/// forks from now on (fork-serve calls it before its first fork), so the
/// bound holds for the server, not per child. A child killed outright
/// keeps its share until the server exits; one that ends normally
/// returns it.
pub fn share_pipe_budget() {
    if let Ok(shared) = crate::sys::shared_counter() {
        let _ = GROWN_SHARED.set(shared);
    }
}

/// The process's pool (a panic elsewhere while it was held leaves it
/// consistent: every change is one field at a time).
pub fn pool() -> MutexGuard<'static, PipePool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

impl PipePool {
    /// A pipe to splice through, or `None` past the bound (copy instead).
    pub fn take(&mut self) -> Option<Pipe> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        if self.made >= MAX_PIPES {
            return None;
        }
        // Take a share of the grown budget first; give it back if there
        // was none or the kernel said no.
        let grow = grown().fetch_add(1, Ordering::Relaxed) < GROWN;
        let made = crate::sys::splice_pipe(grow.then_some(BIG));
        let big = matches!(&made, Ok((_, _, cap)) if grow && *cap >= BIG);
        if !big {
            grown().fetch_sub(1, Ordering::Relaxed);
        }
        let (r, w, _) = made.ok()?;
        self.made += 1;
        Some(Pipe { r, w, big })
    }

    /// An empty pipe back, for the next transfer.
    pub fn give(&mut self, p: Pipe) {
        if self.free.len() < KEEP_FREE {
            // Keep the grown ones last, to be taken first: they move more
            // per call.
            self.free.push(p);
            self.free.sort_by_key(|p| p.big);
        } else {
            self.forget(p);
        }
    }

    /// The blocking driver begins relaying a connection.
    pub fn connection_began(&mut self) {
        self.relaying += 1;
    }

    /// The blocking driver's connection ended. When it was the last, the
    /// free pipes close: a blocking model holds no descriptor for
    /// connections that are gone, and one of fork-serve's children (which
    /// serves one connection) gives its share of the grown budget back
    /// before it exits. (serve's loop keeps its free pipes for the next
    /// transfer.)
    pub fn connection_ended(&mut self) {
        self.relaying = self.relaying.saturating_sub(1);
        if self.relaying == 0 {
            for p in std::mem::take(&mut self.free) {
                self.forget(p);
            }
        }
    }

    /// A pipe that still holds bytes nobody will read: closed, not lent.
    pub fn forget(&mut self, p: Pipe) {
        self.made -= 1;
        if p.big {
            grown().fetch_sub(1, Ordering::Relaxed);
        }
    }
}
