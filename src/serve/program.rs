//! A program's pipes in serve's loop (`--exec`, for a connection or for
//! one datagram): the program, its stdin and stdout watched by the loop
//! (edge triggered), and the relay every model runs
//! ([`ProgramRelay`]), stepped on their events and the peer's.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry};

use crate::relay::RelayEnd;
use crate::relay::half::Port;
use crate::relay::program::{self, Next, ProgramRelay, ProgramStdin, ProgramStdout};
use crate::servers::token::{self, PART_CHILD_IN, PART_CHILD_OUT, PART_UPSTREAM};

/// A running program, its pipes and its relay.
#[derive(Debug)]
pub(super) struct LoopProgram {
    pub(super) child: Child,
    stdin: ProgramStdin,
    stdout: ProgramStdout,
    relay: ProgramRelay,
    /// The relay ended cleanly: both directions, everything sent.
    done: bool,
    /// The relay's deadline waiting in the loop's heap, if any: one at a
    /// time, however many events come.
    timer: Option<Instant>,
}

/// What a step asks of the loop.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Asked {
    /// A direction stopped at its budget: step again without an event.
    pub(super) again: bool,
    /// Step again at this moment (the idle timeout) unless an event
    /// comes first: a moment the loop's timers do not hold yet.
    pub(super) timer: Option<Instant>,
}

impl LoopProgram {
    /// Start `cmd` with piped stdin and stdout, both non-blocking and
    /// watched by `registry` for connection (or datagram job) `id`; `idle`
    /// is the connection's idle timeout, which the relay keeps (it stops
    /// the program, as every model does).
    pub(super) fn spawn(
        cmd: &mut Command,
        registry: &Registry,
        id: usize,
        idle: Option<Duration>,
    ) -> io::Result<LoopProgram> {
        let (mut child, stdin, stdout) = crate::relay::spawn_piped(cmd)?;
        let stdout = ProgramStdout::new(stdout, child.id());
        let watched = crate::sys::set_nonblocking(stdin.as_fd())
            .and_then(|_| crate::sys::set_nonblocking(stdout.pipe()))
            .and_then(|_| {
                registry.register(
                    &mut SourceFd(&stdin.as_raw_fd()),
                    token::conn(id, PART_CHILD_IN),
                    Interest::WRITABLE,
                )
            })
            .and_then(|_| {
                registry.register(
                    &mut SourceFd(&stdout.fd()),
                    token::conn(id, PART_CHILD_OUT),
                    Interest::READABLE,
                )
            })
            .and_then(|_| match stdout.exit_fd() {
                // The program's exit ends its output (see ProgramStdout):
                // the connection's fourth token, which only a forwarded
                // connection uses otherwise.
                Some(fd) => registry.register(
                    &mut SourceFd(&fd),
                    token::conn(id, PART_UPSTREAM),
                    Interest::READABLE,
                ),
                None => Ok(()),
            });
        if let Err(e) = watched {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        // The relay keeps the idle timeout (the loop's own close would
        // leave the program running), and a connection waits for its
        // peer's FIN as long as that allows.
        let rules = program::Rules { idle, linger: None };
        Ok(LoopProgram {
            child,
            stdin: ProgramStdin::new(stdin),
            stdout,
            relay: ProgramRelay::new(rules, Instant::now()),
            done: false,
            timer: None,
        })
    }

    /// Move what can move between `peer` and the program now (see
    /// [`ProgramRelay::step`]); `hex` names the peer in hex dumps.
    pub(super) fn step(
        &mut self,
        peer: &impl Port,
        scratch: &mut Vec<u8>,
        hex: Option<&str>,
        now: Instant,
    ) -> Result<Asked, RelayEnd> {
        if self.done {
            return Ok(Asked::default());
        }
        match self
            .relay
            .step(peer, &self.stdin, &self.stdout, scratch, hex, now)?
        {
            // (No linger bound is set here: it is the same end.)
            Next::Done | Next::LingerOver => {
                self.done = true;
                Ok(Asked::default())
            }
            Next::Wait(w) => {
                if w.stop_program {
                    // The peer was quiet for the idle timeout: the program
                    // is stopped as in every model, and its output's end
                    // ends the relay.
                    crate::handler::exec::terminate(self.child.id() as i32);
                }
                if w.kill_program {
                    crate::handler::exec::kill(self.child.id() as i32);
                }
                let timer = w
                    .deadline
                    .filter(|&at| self.timer.is_none_or(|t| now >= t || at < t));
                if timer.is_some() {
                    self.timer = timer;
                }
                Ok(Asked {
                    again: w.again,
                    timer,
                })
            }
        }
    }

    /// Both directions ended and everything went out.
    pub(super) fn done(&self) -> bool {
        self.done
    }

    /// The program's output has ended.
    pub(super) fn output_ended(&self) -> bool {
        self.relay.output_ended()
    }

    /// What moved: from the peer, to the peer.
    pub(super) fn moved(&self) -> (u64, u64) {
        let m = self.relay.moved();
        (m.up, m.down)
    }

    /// Close both pipes (the program sees EOF, and SIGPIPE if it
    /// writes): the program, to be waited for.
    pub(super) fn close(self) -> Child {
        self.child
    }

    pub(super) fn last_traffic(&self) -> Instant {
        self.relay.last_traffic()
    }
}

/// One datagram as a program's peer: the request to read once, then its
/// end; the program's reply kept up to `limit` (a datagram's worth).
#[derive(Debug)]
pub(super) struct DatagramPeer {
    request: RefCell<Vec<u8>>,
    reply: RefCell<Vec<u8>>,
    limit: usize,
}

impl DatagramPeer {
    pub(super) fn new(request: Vec<u8>, limit: usize) -> DatagramPeer {
        DatagramPeer {
            request: RefCell::new(request),
            reply: RefCell::new(Vec::new()),
            limit,
        }
    }

    /// The reply holds a whole datagram's worth.
    pub(super) fn full(&self) -> bool {
        self.reply.borrow().len() >= self.limit
    }

    pub(super) fn take_reply(&self) -> Vec<u8> {
        std::mem::take(&mut self.reply.borrow_mut())
    }
}

impl Port for DatagramPeer {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut request = self.request.borrow_mut();
        if request.is_empty() {
            return Ok(None);
        }
        let n = request.len().min(buf.len());
        buf[..n].copy_from_slice(&request[..n]);
        request.drain(..n);
        if request.is_empty() {
            *request = Vec::new();
        }
        Ok(Some(n))
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        let mut reply = self.reply.borrow_mut();
        let n = data.len().min(self.limit.saturating_sub(reply.len()));
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        reply.extend_from_slice(&data[..n]);
        Ok(n)
    }
    fn shut_write(&self) {}
}
