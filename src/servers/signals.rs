//! Stop signals for every server: Ctrl-C, SIGTERM and SIGHUP counted and
//! routed to the running loop's waker; a second one ends the process at
//! once, after killing every program and removing the socket files
//! registered here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::handler::exec;

/// Socket files to clean up if a second Ctrl-C makes the process exit at
/// once, skipping the orderly shutdown (programs: [`exec::kill_all_now`]).
static SOCKET_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

pub(super) fn register_socket_file(p: PathBuf) {
    SOCKET_FILES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(p);
}

/// How many times Ctrl-C or SIGTERM arrived.
#[derive(Clone)]
#[cfg_attr(test, derive(Default))]
pub struct Signals(pub(super) Arc<AtomicUsize>);

impl Signals {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The loop to wake when a signal arrives; set once the loop exists.
static SIGNAL_WAKER: OnceLock<Arc<mio::Waker>> = OnceLock::new();

/// Install the Ctrl-C / SIGTERM handler. It is installed before the first
/// readiness line is printed, so a signal sent as soon as a script sees
/// that line is never taken by the default action. The first signal wakes
/// the server's loop (see [`wake_on_signal`]), which begins its graceful
/// stop; a second one ends everything at once.
///
/// The handler runs on ctrlc's own thread. It takes no lock the main thread
/// could hold across `fork` (only the two cleanup lists above, and only on
/// the second signal, right before `_exit`), which keeps forking safe.
pub fn install_signals() -> Result<Signals> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    ctrlc::set_handler(move || {
        if c.fetch_add(1, Ordering::SeqCst) >= 1 {
            // The code is fixed before anything is killed: the main thread,
            // seeing its children die, may reach its own exit first, and
            // it must exit with this code too (see `forced_exit`).
            let code = match crate::sys::stop_signal() {
                Some(nix::sys::signal::Signal::SIGTERM) => crate::error::code::TERMINATED,
                Some(nix::sys::signal::Signal::SIGHUP) => crate::error::code::HUNG_UP,
                _ => crate::error::code::INTERRUPTED,
            };
            FORCED_EXIT.store(code, Ordering::SeqCst);
            exec::kill_all_now();
            if let Ok(files) = SOCKET_FILES.try_lock() {
                for f in files.iter() {
                    let _ = std::fs::remove_file(f);
                }
            }
            // Exit at once, as a second Ctrl-C asks.
            crate::sys::exit_now(code as i32);
        }
        if let Some(w) = SIGNAL_WAKER.get() {
            let _ = w.wake();
        }
    })
    .map_err(|e| Error::runtime(format!("install signal handler: {e}")))?;
    crate::sys::note_stop_signals();
    Ok(Signals(count))
}

/// The exit code a second stop signal decided (0: none came). Set before
/// that signal's handler kills anything, so whichever thread exits first,
/// the process exits with it.
static FORCED_EXIT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The exit code a second stop signal asked for, if one came: `main`
/// exits with it even when the server's own stop finished first.
pub fn forced_exit() -> Option<u8> {
    match FORCED_EXIT.load(Ordering::SeqCst) {
        0 => None,
        code => Some(code),
    }
}

/// Route signals to this loop's waker. A signal that came before this call
/// is still counted: loops check [`Signals::count`] on every turn.
pub fn wake_on_signal(w: Arc<mio::Waker>) {
    let _ = SIGNAL_WAKER.set(w);
}
