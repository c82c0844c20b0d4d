//! The blocking pump (thread-serve, fork-serve) and the lingering close.
//!
//! Two directions, each ending on its own, as tokio's `copy_bidirectional`
//! does: the peer's FIN closes the program's stdin; the program's end of
//! output shuts our write side. Then the close lingers (Apache's lingering
//! close): what the peer still sends is read and dropped for a bounded time
//! before the socket is closed, because closing a socket with unread input
//! sends a reset, and a reset can destroy the reply still in flight.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Moved;
use crate::output::hex_to_stderr;
use crate::transport::Stream;

/// How long a closing connection keeps reading (and dropping) what the peer
/// still sends, waiting for its FIN.
pub const LINGER: Duration = Duration::from_secs(2);

/// Bytes per read.
const BUF: usize = 64 * 1024;

/// How a pump ended other than by both sides closing cleanly.
#[derive(Debug)]
pub enum Ended {
    /// Reading from or writing to the peer failed.
    Endpoint(io::Error),
    /// Reading the program's output failed.
    Program(io::Error),
    /// No traffic from the peer for the idle timeout.
    Idle,
}

/// Options of a pump.
#[derive(Clone, Copy, Debug, Default)]
pub struct PumpOpts {
    pub idle: Option<Duration>,
    pub hex: bool,
}

/// Move bytes both ways between `peer` (`label` in hex dumps) and a
/// program's pipes until the
/// program's output ends, then close with a lingering close. `on_idle` runs
/// when the peer's idle timeout expires (to stop the program). Returns what
/// moved each way, and how it ended if not cleanly.
pub fn pump(
    peer: &Stream,
    label: &str,
    mut to_prog: impl Write + Send,
    mut from_prog: impl Read,
    o: PumpOpts,
    on_idle: impl FnOnce() + Send,
) -> (Moved, Option<Ended>) {
    if let Err(e) = peer.set_read_timeout(o.idle) {
        return (Moved::default(), Some(Ended::Endpoint(e)));
    }
    std::thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let up = s.spawn(move || {
            let mut buf = vec![0u8; BUF];
            let mut n_in = 0u64;
            let mut prog_open = true;
            let mut ended = None;
            loop {
                match (&*peer).read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if o.hex {
                            hex_to_stderr(label, '<', n_in, &buf[..n]);
                        }
                        n_in += n as u64;
                        // A program that stopped reading gets no more; what
                        // the peer still sends is read and dropped, so the
                        // close is not a reset.
                        if prog_open && to_prog.write_all(&buf[..n]).is_err() {
                            prog_open = false;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if is_timeout(&e) => {
                        ended = Some(Ended::Idle);
                        on_idle();
                        break;
                    }
                    Err(e) => {
                        ended = Some(Ended::Endpoint(e));
                        break;
                    }
                }
            }
            // Dropping the write end is the program's EOF.
            drop(to_prog);
            let _ = done_tx.send(());
            (n_in, ended)
        });
        let mut buf = vec![0u8; BUF];
        let mut n_out = 0u64;
        let mut down = None;
        loop {
            match from_prog.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if o.hex {
                        hex_to_stderr(label, '>', n_out, &buf[..n]);
                    }
                    if let Err(e) = (&*peer).write_all(&buf[..n]) {
                        down = Some(Ended::Endpoint(e));
                        break;
                    }
                    n_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    down = Some(Ended::Program(e));
                    break;
                }
            }
        }
        // The program is done talking: FIN, then let the reading side run
        // on (it drops what it reads) until the peer's FIN or the linger
        // bound, and only then cut it.
        let _ = peer.shutdown(Shutdown::Write);
        if done_rx.recv_timeout(LINGER).is_err() {
            let _ = peer.shutdown(Shutdown::Both);
        }
        let (n_in, up_end) = up.join().unwrap_or((0, None));
        let moved = Moved {
            up: n_in,
            down: n_out,
        };
        // An idle timeout says more than the errors it caused.
        let end = match (up_end, down) {
            (Some(Ended::Idle), _) => Some(Ended::Idle),
            (_, Some(d)) => Some(d),
            (u, None) => u,
        };
        (moved, end)
    })
}

/// Shut the write side (FIN) and read what the peer still sends, dropping
/// it, until its FIN or for at most [`LINGER`]; the caller closes after.
pub fn linger_close(peer: &Stream) {
    let _ = peer.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut buf = vec![0u8; BUF];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || peer.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*peer).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
