//! A program's pipes relayed to its peer, written once for every model:
//! [`ProgramRelay`], two [`Half`]s (the peer → the program's stdin, its
//! stdout → the peer) and the program's rules, free of waits. Given a
//! moment at which its ports may be ready, [`ProgramRelay::step`] moves
//! what it can and answers what each descriptor waits for next and its
//! deadline, as [`Bridge::step`](super::bridge::Bridge::step) does.
//! [`pump`] drives it with poll(2) on one thread (the blocking models,
//! `send --exec`); serve's loop steps it on its events (`serve/program.rs`).
//!
//! The rules: two directions, each ending on its own, as tokio's
//! `copy_bidirectional` does. The peer's FIN closes the program's stdin; a
//! program that stopped reading gets no more (what the peer still sends
//! is read and dropped, so the close is no reset); the program's end of
//! output is our FIN. The peer quiet for the idle timeout while the relay
//! waits for it ends its input, and the driver stops the program (whose
//! output's end then ends the relay), and kills it if it has not ended its
//! output [`LINGER`] later. A failure on the peer's socket, or
//! reading the program's output, ends the relay at once: its bytes have
//! nowhere to go. After the program's output has ended, the peer's
//! direction runs on until its FIN, or for the linger bound.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::process::{ChildStdin, ChildStdout};
use std::time::{Duration, Instant};

use super::bridge::Interest;
use super::half::{Half, Port};
use super::polled::{LINGER, want};
use super::{ByteCounts, HalfError, RelayEnd, RelaySocket};
use crate::transport::Stream;

/// Options of a pump.
#[derive(Clone, Copy, Debug, Default)]
pub struct PumpOpts {
    pub idle: Option<Duration>,
    pub hex: bool,
    /// The program, whose exit ends its output (`None`: the pipe's end).
    pub pid: Option<u32>,
}

/// The timeouts of a program's relay.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rules {
    /// The peer's quiet (no traffic either way while the relay waits for
    /// it) that ends its input and stops the program, then kills it if
    /// its output has not ended [`LINGER`] later (`None`: no timeout).
    pub idle: Option<Duration>,
    /// Once the program's output has ended, how long the peer's direction
    /// may run on (`None`: until the peer's FIN).
    pub linger: Option<Duration>,
}

/// What the relay waits for before its next step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wait {
    pub peer: Interest,
    /// The program's stdin (write interest only).
    pub stdin: Interest,
    /// The program's stdout (read interest only).
    pub stdout: Interest,
    /// When to step again even if nothing is ready (a timeout is due).
    pub deadline: Option<Instant>,
    /// A direction stopped at its budget: step again at once.
    pub again: bool,
    /// The idle timeout ran out in this step: the driver stops the
    /// program (the end of its output then ends the relay).
    pub stop_program: bool,
    /// The program stopped at the idle timeout has not ended its output
    /// within [`LINGER`] (it ignores SIGTERM): the driver kills it.
    pub kill_program: bool,
}

/// What the idle timeout asks of a program's driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopping {
    /// Stop it (SIGTERM to its group).
    Term,
    /// It did not stop: kill it (SIGKILL).
    Kill,
}

/// What a step leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Wait(Wait),
    /// Both directions ended cleanly and everything went out.
    Done,
    /// The linger bound ran out before the peer's FIN: the driver closes
    /// the peer's socket both ways.
    LingerOver,
}

/// A program's relay; see the module's comment.
#[derive(Debug)]
pub struct ProgramRelay {
    /// The peer → the program's stdin.
    inward: Half,
    /// The program's stdout → the peer.
    outward: Half,
    rules: Rules,
    /// The idle timeout ended the peer's input (it names the end).
    idled: bool,
    /// Set when the program's output has ended (with a linger bound).
    linger_until: Option<Instant>,
    /// Since when the relay has waited for the peer (the idle timeout).
    waiting_since: Instant,
    /// When a program stopped at the idle timeout is killed if its output
    /// has not ended by then (`None`: not stopped, or already killed).
    kill_at: Option<Instant>,
    /// When a relay whose program was stopped and killed gives up on the
    /// rest of its output (a peer that does not read it): the end.
    give_up_at: Option<Instant>,
    /// The last byte read from the peer or written to it.
    last: Instant,
}

impl ProgramRelay {
    /// A relay that copies both ways (a pipe is no socket to splice
    /// between), started at `now`.
    pub fn new(rules: Rules, now: Instant) -> ProgramRelay {
        ProgramRelay {
            inward: Half::new(false),
            outward: Half::new(false),
            rules,
            idled: false,
            linger_until: None,
            waiting_since: now,
            kill_at: None,
            give_up_at: None,
            last: now,
        }
    }

    /// Driven by a level-triggered wait: see [`Half::level_triggered`].
    pub fn level_triggered(mut self) -> ProgramRelay {
        self.inward.level_triggered();
        self.outward.level_triggered();
        self
    }

    /// What moved: read from the peer, written to the peer.
    pub fn moved(&self) -> ByteCounts {
        ByteCounts {
            up: self.inward.read(),
            down: self.outward.moved(),
        }
    }

    /// The last traffic with the peer, either way.
    pub fn last_traffic(&self) -> Instant {
        self.last
    }

    /// The program's output has ended (and was passed on as our FIN).
    pub fn output_ended(&self) -> bool {
        self.outward.is_done()
    }

    /// Move what can move at `now`, then answer what to wait for, or how
    /// the relay ended. `hex` names the peer in hex dumps (`--hex`).
    pub fn step(
        &mut self,
        peer: &impl Port,
        stdin: &impl Port,
        stdout: &impl Port,
        scratch: &mut Vec<u8>,
        hex: Option<&str>,
        now: Instant,
    ) -> Result<Next, RelayEnd> {
        let dump = |dir: char| super::hex_dump(hex, dir);
        let before = self.moved();
        let _ = peer.flush();
        let mut more = false;
        let mut inward = self.inward.pump(peer, stdin, scratch, dump('<'));
        if let Err(HalfError::Write(_)) = inward {
            // A program that stopped reading gets no more; what the peer
            // still sends is read and dropped, so the close is no reset.
            // Read now, not at the peer's next event: under an edge-
            // triggered driver what waits already would bring none.
            self.inward.discard();
            stdin.shut_write();
            inward = self.inward.pump(peer, stdin, scratch, dump('<'));
        }
        match inward {
            // (A discarding half writes nothing.)
            Err(HalfError::Write(_)) => {}
            Err(HalfError::Read(e)) => return Err(self.fail(stdin, RelayEnd::Endpoint(e))),
            Ok(p) => more |= p.more,
        }
        match self.outward.pump(stdout, peer, scratch, dump('>')) {
            Err(HalfError::Read(e)) => return Err(self.fail(stdin, RelayEnd::Program(e))),
            Err(HalfError::Write(e)) => return Err(self.fail(stdin, RelayEnd::Endpoint(e))),
            Ok(p) => more |= p.more,
        }
        if self.moved() != before {
            // Traffic either way restarts the idle clock, as it does for
            // every connection in every model: the timeout is quiet, not
            // age.
            self.last = now;
            self.waiting_since = now;
        }
        if let (true, None, Some(linger)) =
            (self.outward.is_done(), self.linger_until, self.rules.linger)
        {
            // The program is done talking (its end was our FIN): the
            // peer's direction runs on until its FIN or the linger bound.
            self.linger_until = Some(now + linger);
        }
        if !self.inward.wants_read() {
            // The peer's quiet counts only while we wait for it.
            self.waiting_since = now;
        }
        let mut stop_program = false;
        if let Some(idle) = self.rules.idle.filter(|_| self.inward.wants_read()) {
            if now >= self.waiting_since + idle {
                self.idled = true;
                stop_program = true;
                self.kill_at = Some(now + LINGER);
                self.inward.stop();
                stdin.shut_write();
            }
        }
        if self.inward.is_done() && self.outward.is_done() && !peer.holds_output() {
            return match self.idled {
                true => Err(RelayEnd::Idle),
                false => Ok(Next::Done),
            };
        }
        if self.linger_until.is_some_and(|t| now >= t) {
            self.inward.stop();
            stdin.shut_write();
            return match self.idled {
                true => Err(RelayEnd::Idle),
                false => Ok(Next::LingerOver),
            };
        }
        let mut deadline = self.linger_until;
        if let Some(idle) = self.rules.idle.filter(|_| self.inward.wants_read()) {
            let at = self.waiting_since + idle;
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        // A stopped program gets the linger bound to end its output; one
        // that ignores SIGTERM is then killed, so an idle connection ends
        // in every model however its program behaves.
        // And what it wrote gets the linger bound once more to reach the
        // peer: a peer that does not read it is not waited for.
        let mut kill_program = false;
        if self.outward.is_done() {
            self.kill_at = None;
            self.give_up_at = None;
        } else if let Some(at) = self.kill_at {
            if now >= at {
                kill_program = true;
                self.kill_at = None;
                self.give_up_at = Some(now + LINGER);
            } else {
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
        }
        if let Some(at) = self.give_up_at {
            if now >= at {
                return Err(self.fail(stdin, RelayEnd::Idle));
            }
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        Ok(Next::Wait(Wait {
            peer: Interest {
                read: self.inward.wants_read(),
                write: self.outward.wants_write() || peer.holds_output(),
            },
            stdin: Interest {
                read: false,
                write: self.inward.wants_write(),
            },
            stdout: Interest {
                read: self.outward.wants_read(),
                write: false,
            },
            deadline,
            again: more,
            stop_program,
            kill_program,
        }))
    }

    /// End both directions at once (the program's stdin closes, its
    /// EOF); an idle timeout that came first names the end.
    fn fail(&mut self, stdin: &impl Port, end: RelayEnd) -> RelayEnd {
        self.inward.stop();
        self.outward.stop();
        stdin.shut_write();
        if self.idled { RelayEnd::Idle } else { end }
    }
}

/// The program's stdin: closing it is the program's end of input.
#[derive(Debug)]
pub struct ProgramStdin(RefCell<Option<ChildStdin>>);

impl ProgramStdin {
    pub fn new(s: ChildStdin) -> ProgramStdin {
        ProgramStdin(RefCell::new(Some(s)))
    }

    /// Its descriptor, or -1 once it is closed (poll(2) skips it).
    pub fn fd(&self) -> RawFd {
        self.0.borrow().as_ref().map_or(-1, |s| s.as_raw_fd())
    }
}

impl Port for ProgramStdin {
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

/// The program's stdout, and the program's exit: a descendant it left
/// running may hold the pipe open after the program has exited, and the
/// program's exit is the end of its output (as the socket handed to it
/// ends when it exits, in every model). So once the program has exited
/// (its pidfd is readable), what the pipe holds is read, and then the
/// pipe's emptiness is the end.
#[derive(Debug)]
pub struct ProgramStdout {
    pipe: ChildStdout,
    /// Readable once the program has exited (`None`: no pidfd; the pipe's
    /// end is the only end).
    exit: Option<OwnedFd>,
    exited: Cell<bool>,
}

impl ProgramStdout {
    /// The stdout of program `pid`.
    pub fn new(pipe: ChildStdout, pid: u32) -> ProgramStdout {
        ProgramStdout {
            pipe,
            exit: crate::sys::pidfd_open(pid as libc::pid_t).ok(),
            exited: Cell::new(false),
        }
    }

    /// The pipe, for readiness.
    pub fn fd(&self) -> RawFd {
        self.pipe.as_raw_fd()
    }

    /// The pipe, to set it non-blocking.
    pub fn pipe(&self) -> std::os::fd::BorrowedFd<'_> {
        self.pipe.as_fd()
    }

    /// Readable once the program has exited: a driver waiting to read the
    /// pipe waits on it too.
    pub fn exit_fd(&self) -> Option<RawFd> {
        self.exit
            .as_ref()
            .filter(|_| !self.exited.get())
            .map(|f| f.as_raw_fd())
    }

    fn has_exited(&self) -> bool {
        if !self.exited.get() {
            let Some(fd) = &self.exit else {
                return false;
            };
            let mut w = [want(
                fd.as_raw_fd(),
                Interest {
                    read: true,
                    write: false,
                },
            )];
            if crate::sys::poll_ready(&mut w, Some(Duration::ZERO)).is_ok() && w[0].readable {
                self.exited.set(true);
            }
        }
        self.exited.get()
    }
}

impl Port for ProgramStdout {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut read = || crate::sys::read(&self.pipe, buf).map(|n| (n > 0).then_some(n));
        match read() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.exited.get() => Ok(None),
            // The program may have written its last bytes and exited since
            // this read: read once more, and an empty pipe is then the end.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.has_exited() => match read() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                r => r,
            },
            r => r,
        }
    }
    fn write(&self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn shut_write(&self) {}
}

/// Move bytes both ways between `peer` (`label` in hex dumps) and a
/// program's pipes until the program's output ends, then linger. `on_idle`
/// runs when the peer has sent nothing for the idle timeout, with
/// [`Stopping::Term`] (to stop the program), and again with
/// [`Stopping::Kill`] if its output has not ended [`LINGER`] later. Returns what moved each way, and how it ended if not cleanly.
pub fn pump(
    peer: &Stream,
    label: &str,
    to_prog: ChildStdin,
    from_prog: ChildStdout,
    o: PumpOpts,
    mut on_idle: impl FnMut(Stopping),
) -> (ByteCounts, Option<RelayEnd>) {
    let side = RelaySocket::Stream(peer);
    let ready = side
        .set_nonblocking(true)
        .and_then(|_| crate::sys::set_nonblocking(to_prog.as_fd()))
        .and_then(|_| crate::sys::set_nonblocking(from_prog.as_fd()));
    if let Err(e) = ready {
        return (ByteCounts::default(), Some(RelayEnd::Endpoint(e)));
    }
    let stdin = ProgramStdin::new(to_prog);
    let stdout = match o.pid {
        Some(pid) => ProgramStdout::new(from_prog, pid),
        None => ProgramStdout {
            pipe: from_prog,
            exit: None,
            exited: Cell::new(false),
        },
    };
    let rules = Rules {
        idle: o.idle,
        linger: Some(LINGER),
    };
    let mut relay = ProgramRelay::new(rules, Instant::now()).level_triggered();
    let mut buf = Vec::new();
    let hex = o.hex.then_some(label);
    let end = loop {
        let now = Instant::now();
        let w = match relay.step(&side, &stdin, &stdout, &mut buf, hex, now) {
            Ok(Next::Done) => break None,
            Ok(Next::LingerOver) => {
                let _ = peer.shutdown(std::net::Shutdown::Both);
                break None;
            }
            Ok(Next::Wait(w)) => w,
            Err(end) => break Some(end),
        };
        if w.stop_program {
            on_idle(Stopping::Term);
        }
        if w.kill_program {
            on_idle(Stopping::Kill);
        }
        let timeout = if w.again {
            Some(Duration::ZERO)
        } else {
            w.deadline.map(|d| d.saturating_duration_since(now))
        };
        let mut fds = [
            want(side.poll_fd(), w.peer),
            want(stdin.fd(), w.stdin),
            want(stdout.fd(), w.stdout),
            // The program's exit ends its output (see ProgramStdout).
            want(stdout.exit_fd().unwrap_or(-1), w.stdout),
        ];
        if let Err(e) = crate::sys::poll_ready(&mut fds, timeout) {
            break Some(RelayEnd::Endpoint(e));
        }
    };
    let _ = side.set_nonblocking(false);
    (relay.moved(), end)
}

#[cfg(test)]
mod tests;
