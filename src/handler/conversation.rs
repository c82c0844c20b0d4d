//! A byte-level session's connection (print, reply, echo, discard) as one
//! machine, free of waits: the [`Session`] fed by what the peer sends,
//! the shared greeting, the session's output queued up to a limit (the
//! peer's input is not read while it is full, so memory stays bounded
//! when the peer stops reading), the write side shut after the last byte
//! once the session finished, and the peer's input read (and given to
//! the session, whose output is dropped) until its FIN.
//!
//! [`Conversation::step`] moves what it can and answers what the peer's
//! socket waits for and the idle deadline: the blocking models drive it
//! with poll(2) (`handler::drive`).

use std::io;
use std::time::{Duration, Instant};

use super::{End, Session, Talk};
use crate::output::hex_to_stderr;
use crate::relay::bridge::Interest;
use crate::relay::half::Port;

/// What a step leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for the peer's socket (this interest) until the deadline.
    Wait {
        peer: Interest,
        deadline: Option<Instant>,
    },
    /// The peer's FIN came, everything went out, and the write side is
    /// shut.
    Done,
}

/// What one read of the peer gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// This many bytes, given to the session (at the start of the buffer).
    Data(usize),
    /// The peer's FIN.
    Ended,
    /// Nothing now (the session showed its partial line).
    Nothing,
}

/// One connection's conversation; see the module's comment.
#[derive(Debug)]
pub struct Conversation {
    session: Session,
    /// How much of the greeting has gone out, while some has not.
    greeting_sent: Option<usize>,
    /// The session's output the peer has not taken yet.
    out: Vec<u8>,
    /// Past this much queued output, the peer's input waits.
    limit: usize,
    read_done: bool,
    /// Shut the write side once the output drains.
    finish: bool,
    shut: bool,
    bytes_in: u64,
    bytes_out: u64,
    /// The last byte read or written (the idle timeout).
    last: Instant,
}

impl Conversation {
    /// A conversation opened at `now`: the session's start is run, and its
    /// greeting queued first.
    pub fn new(mut session: Session, limit: usize, now: Instant) -> Result<Conversation, End> {
        let mut out = Vec::new();
        let step = session.start(&mut out).map_err(stdout_end)?;
        let greeting_sent = session.greeting().map(|_| 0);
        Ok(Conversation {
            session,
            greeting_sent,
            out,
            limit,
            read_done: false,
            finish: step == Talk::Finish,
            shut: false,
            bytes_in: 0,
            bytes_out: 0,
            last: now,
        })
    }

    /// Bytes read from the peer, and written to it.
    pub fn moved(&self) -> (u64, u64) {
        (self.bytes_in, self.bytes_out)
    }

    /// Whether the peer's input may be read now: it may send, and the
    /// output has room.
    pub fn may_read(&self) -> bool {
        !self.read_done && self.out.len() < self.limit
    }

    /// Whether the conversation is over: the peer's FIN came, everything
    /// went out and the write side is shut.
    pub fn done(&self) -> bool {
        self.read_done && self.shut
    }

    /// Write the greeting, then the queued output, as far as the peer
    /// takes it now; shut the write side once it drains if the session
    /// finished, never before: the FIN follows the last byte. Returns
    /// whether anything happened.
    pub fn flush(&mut self, peer: &impl Port, hex: Option<&str>) -> io::Result<bool> {
        let mut moved = false;
        if let (Some(done), Some(g)) = (self.greeting_sent, self.session.greeting()) {
            let (n, blocked) = write_now(peer, &g[done..], hex, &mut self.bytes_out)?;
            moved |= n > 0;
            self.greeting_sent = Some(done + n);
            if blocked {
                return Ok(moved);
            }
            self.greeting_sent = None;
        }
        let (sent, _) = write_now(peer, &self.out, hex, &mut self.bytes_out)?;
        if sent > 0 {
            moved = true;
            self.out.drain(..sent);
        }
        if self.out.is_empty() {
            if self.out.capacity() > 0 {
                // Nothing in flight: hold no buffer.
                self.out = Vec::new();
            }
            if self.finish && !self.shut {
                self.shut = true;
                moved = true;
                peer.shut_write();
            }
        }
        Ok(moved)
    }

    /// Read once from the peer into `buf` and give it to the session.
    pub fn hear(
        &mut self,
        peer: &impl Port,
        buf: &mut [u8],
        hex: Option<&str>,
    ) -> Result<Heard, End> {
        match peer.read(buf) {
            Ok(None) => {
                self.read_done = true;
                let step = self.session.end(&mut self.out).map_err(stdout_end)?;
                self.finish |= step == Talk::Finish;
                self.drop_if_shut();
                Ok(Heard::Ended)
            }
            Ok(Some(n)) => {
                let data = &buf[..n];
                if let Some(l) = hex {
                    hex_to_stderr(l, '<', self.bytes_in, data);
                }
                self.bytes_in += n as u64;
                let step = self
                    .session
                    .input(data, &mut self.out)
                    .map_err(stdout_end)?;
                self.finish |= step == Talk::Finish;
                self.drop_if_shut();
                Ok(Heard::Data(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The peer paused: show its partial line.
                self.session.idle().map_err(stdout_end)?;
                Ok(Heard::Nothing)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Heard::Data(0)),
            Err(e) => Err(End::Io(e)),
        }
    }

    /// After the write side is shut, the session's output goes nowhere.
    fn drop_if_shut(&mut self) {
        if self.shut {
            self.out = Vec::new();
        }
    }

    /// Move what can move at `now`, then answer what to wait for, or how
    /// the conversation ended: `idle` bounds how long the peer's socket
    /// may take nothing and give nothing (`End::IdleTimeout`).
    pub fn step(
        &mut self,
        peer: &impl Port,
        buf: &mut [u8],
        hex: Option<&str>,
        idle: Option<Duration>,
        now: Instant,
    ) -> Result<Next, End> {
        if let Err(e) = peer.flush() {
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(End::Io(e));
            }
        }
        loop {
            let mut moved = self.flush(peer, hex).map_err(End::Io)?;
            if self.may_read() {
                moved |= self.hear(peer, buf, hex)? != Heard::Nothing;
            }
            if !moved {
                break;
            }
            self.last = now;
        }
        if self.done() && !peer.holds_output() {
            return Ok(Next::Done);
        }
        let deadline = idle.map(|i| self.last + i);
        if deadline.is_some_and(|d| now >= d) {
            return Err(End::IdleTimeout);
        }
        let holds = self.greeting_sent.is_some() || !self.out.is_empty();
        Ok(Next::Wait {
            peer: Interest {
                read: self.may_read(),
                write: holds || peer.holds_output(),
            },
            deadline,
        })
    }
}

/// Write as much of `data` as the peer takes now (and dump it for
/// `--hex`): how many bytes went, and whether it would block.
fn write_now(
    peer: &impl Port,
    data: &[u8],
    hex: Option<&str>,
    bytes_out: &mut u64,
) -> io::Result<(usize, bool)> {
    let mut sent = 0;
    while sent < data.len() {
        match peer.write(&data[sent..]) {
            Ok(n) => {
                if let Some(l) = hex {
                    hex_to_stderr(l, '>', *bytes_out, &data[sent..sent + n]);
                }
                sent += n;
                *bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((sent, true)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((sent, false))
}

/// A failure writing to stdout: its reader gone ends the server, anything
/// else this connection.
fn stdout_end(e: io::Error) -> End {
    if e.kind() == io::ErrorKind::BrokenPipe {
        End::StdoutClosed
    } else {
        End::Io(e)
    }
}

#[cfg(test)]
mod tests;
