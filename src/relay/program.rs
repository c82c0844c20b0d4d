//! A program's pipes relayed to the peer in the blocking models (and
//! `send --exec`), on one thread: two [`Half`]s driven by poll(2).
//!
//! Two directions, each ending on its own, as tokio's `copy_bidirectional`
//! does: the peer's FIN closes the program's stdin (a program that stopped
//! reading gets no more: what the peer still sends is read and dropped);
//! the program's end of output is our FIN. Then the close lingers: what the
//! peer sends is still taken for at most [`LINGER`] before the caller
//! closes.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::process::{ChildStdin, ChildStdout};
use std::time::{Duration, Instant};

use super::bridge::Interest;
use super::half::{Half, Port};
use super::polled::{LINGER, want};
use super::{ByteCounts, HalfError, RelayEnd, RelaySocket};
use crate::output::hex_to_stderr;
use crate::transport::Stream;

/// Options of a pump.
#[derive(Clone, Copy, Debug, Default)]
pub struct PumpOpts {
    pub idle: Option<Duration>,
    pub hex: bool,
}

/// The program's stdin: closing it is the program's end of input.
struct Input(RefCell<Option<ChildStdin>>);

impl Input {
    fn fd(&self) -> RawFd {
        self.0.borrow().as_ref().map_or(-1, |s| s.as_raw_fd())
    }
}

impl Port for Input {
    fn read(&self, _: &mut [u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        match self.0.borrow().as_ref() {
            Some(s) => crate::sys::write_some(s.as_fd(), data),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
    fn shut_write(&self) {
        self.0.borrow_mut().take();
    }
}

/// The program's stdout.
struct Output(ChildStdout);

impl Port for Output {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        crate::sys::read(&self.0, buf).map(|n| (n > 0).then_some(n))
    }
    fn write(&self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn shut_write(&self) {}
}

/// Move bytes both ways between `peer` (`label` in hex dumps) and a
/// program's pipes until the program's output ends, then linger. `on_idle`
/// runs when the peer has sent nothing for the idle timeout (to stop the
/// program). Returns what moved each way, and how it ended if not cleanly.
pub fn pump(
    peer: &Stream,
    label: &str,
    to_prog: ChildStdin,
    from_prog: ChildStdout,
    o: PumpOpts,
    on_idle: impl FnOnce(),
) -> (ByteCounts, Option<RelayEnd>) {
    let side = RelaySocket::Stream(peer);
    let ready = side
        .set_nonblocking(true)
        .and_then(|_| crate::sys::set_nonblocking(to_prog.as_fd()))
        .and_then(|_| crate::sys::set_nonblocking(from_prog.as_fd()));
    if let Err(e) = ready {
        return (ByteCounts::default(), Some(RelayEnd::Endpoint(e)));
    }
    let (input, output) = (Input(RefCell::new(Some(to_prog))), Output(from_prog));
    let mut pump = Pump {
        inward: Half::new(false),
        outward: Half::new(false),
        up_end: None,
        down_end: None,
        linger_until: None,
        waiting_since: Instant::now(),
    };
    let mut on_idle = Some(on_idle);
    let mut buf = Vec::new();
    let hex = |dir: char| {
        move |off: u64, data: &[u8]| {
            if o.hex {
                hex_to_stderr(label, dir, off, data);
            }
        }
    };
    loop {
        let now = Instant::now();
        let _ = side.flush();
        let mut more = false;
        match pump.inward.pump(&side, &input, &mut buf, hex('<')) {
            // A program that stopped reading gets no more; what the peer
            // still sends is read and dropped, so the close is no reset.
            Err(HalfError::Write(_)) => {
                pump.inward.discard();
                input.shut_write();
            }
            Err(HalfError::Read(e)) => {
                pump.up_end = Some(RelayEnd::Endpoint(e));
                pump.stop_input(&input);
            }
            Ok(p) => more |= p.more,
        }
        let ended_now = match pump.outward.pump(&output, &side, &mut buf, hex('>')) {
            Err(HalfError::Read(e)) => Some(RelayEnd::Program(e)),
            Err(HalfError::Write(e)) => Some(RelayEnd::Endpoint(e)),
            Ok(p) => {
                more |= p.more;
                None
            }
        };
        if let Some(e) = ended_now {
            pump.down_end = Some(e);
            pump.outward.stop();
            side.shut_write();
        }
        if pump.outward.is_done() && pump.linger_until.is_none() {
            // The program is done talking (its end was our FIN): the
            // peer's direction runs on until its FIN or the linger bound.
            pump.linger_until = Some(now + LINGER);
        }
        if !pump.inward.wants_read() {
            // The peer's quiet counts only while we wait for it.
            pump.waiting_since = now;
        }
        if let Some(idle) = o.idle.filter(|_| pump.inward.wants_read()) {
            if now >= pump.waiting_since + idle {
                pump.up_end = Some(RelayEnd::Idle);
                if let Some(f) = on_idle.take() {
                    f();
                }
                pump.stop_input(&input);
            }
        }
        let flushed = !side.holds_output();
        if pump.inward.is_done() && pump.outward.is_done() && flushed {
            break;
        }
        if pump.linger_until.is_some_and(|t| now >= t) {
            let _ = peer.shutdown(std::net::Shutdown::Both);
            pump.stop_input(&input);
            break;
        }
        let mut deadline = pump.linger_until;
        if let Some(idle) = o.idle.filter(|_| pump.inward.wants_read()) {
            let at = pump.waiting_since + idle;
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        let timeout = if more {
            Some(Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(now))
        };
        let peer_wants = Interest {
            read: pump.inward.wants_read(),
            write: pump.outward.wants_write() || side.holds_output(),
        };
        let stdin_wants = Interest {
            read: false,
            write: pump.inward.wants_write(),
        };
        let stdout_wants = Interest {
            read: pump.outward.wants_read(),
            write: false,
        };
        let mut fds = [
            want(side.poll_fd(), peer_wants),
            want(input.fd(), stdin_wants),
            want(output.0.as_raw_fd(), stdout_wants),
        ];
        if let Err(e) = crate::sys::poll_ready(&mut fds, timeout) {
            pump.down_end.get_or_insert(RelayEnd::Endpoint(e));
            break;
        }
    }
    let _ = side.set_nonblocking(false);
    let moved = ByteCounts {
        up: pump.inward.read(),
        down: pump.outward.moved(),
    };
    // An idle timeout says more than the errors it caused.
    let end = match (pump.up_end, pump.down_end) {
        (Some(RelayEnd::Idle), _) => Some(RelayEnd::Idle),
        (_, Some(d)) => Some(d),
        (u, None) => u,
    };
    (moved, end)
}

/// The pump's two directions and how each ended.
struct Pump {
    /// The peer → the program's stdin.
    inward: Half,
    /// The program's stdout → the peer.
    outward: Half,
    up_end: Option<RelayEnd>,
    down_end: Option<RelayEnd>,
    /// Set when the program's output has ended.
    linger_until: Option<Instant>,
    /// Since when the pump has waited for the peer (for the idle timeout).
    waiting_since: Instant,
}

impl Pump {
    /// Read no more from the peer; the program's stdin closes (its EOF).
    fn stop_input(&mut self, input: &Input) {
        self.inward.stop();
        input.shut_write();
    }
}
