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
//! with poll(2) ([`poll`], from `handler::serve_stream`). serve's loop calls its parts
//! ([`Conversation::flush`], [`Conversation::hear`]) on its events, with
//! what it adds around them (the broker's fan-out, stdin relayed, a
//! budget of reads per turn).

use std::io;
use std::time::{Duration, Instant};

use super::{End, Session, Talk};
use crate::event::ConnStats;
use crate::output::hex_to_stderr;
use crate::relay::bridge::Interest;
use crate::relay::half::Port;
use crate::relay::{RelaySocket, polled};
use crate::transport::Stream;

/// Bytes read per call by [`poll`]; one buffer per connection while it
/// runs.
const BUF: usize = 64 * 1024;

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

/// Past this much queued output, the peer's input waits (and, in serve,
/// a broker client's or stdin's, whose bytes it would get).
pub const OUT_LIMIT: usize = 256 * 1024;

/// One connection's conversation; see the module's comment. (serve holds
/// one per idle connection: the byte counts and clocks stay with the
/// driver, so it costs no more than the fields it replaced.)
#[derive(Debug)]
pub struct Conversation {
    session: Session,
    /// How much of the greeting (shared by every connection, held by the
    /// session) has gone out: all of it once this is its length. (An
    /// offset, not a second handle on the text: a connection's size is
    /// serve's cost per idle connection.)
    greeting_sent: usize,
    /// The session's output the peer has not taken yet (a buffer that
    /// exists only while it holds something).
    out: Vec<u8>,
    read_done: bool,
    /// Shut the write side once the output drains.
    finish: bool,
    shut: bool,
}

/// The idle timeout's clock, kept by the driver.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// No byte either way for this long ends the conversation.
    pub idle: Option<Duration>,
    /// The last byte read or written.
    pub last: Instant,
}

impl Conversation {
    /// A conversation opened: the session's start is run, and its
    /// greeting goes first.
    pub fn new(mut session: Session) -> Conversation {
        let mut out = Vec::new();
        // (Only a reply's start says anything, and it cannot fail.)
        let step = session.start(&mut out).unwrap_or(Talk::Continue);
        Conversation {
            session,
            greeting_sent: 0,
            out,
            read_done: false,
            finish: step == Talk::Finish,
            shut: false,
        }
    }

    /// A conversation with nothing left (a connection that closes at
    /// once, reset: serve's forwarded connection whose upstream failed).
    pub fn over() -> Conversation {
        Conversation {
            session: Session::Discard,
            greeting_sent: 0,
            out: Vec::new(),
            read_done: true,
            finish: true,
            shut: true,
        }
    }

    /// Whether the peer's input may be read now: it may send, and the
    /// output has room.
    pub fn may_read(&self) -> bool {
        !self.read_done && self.out.len() < OUT_LIMIT
    }

    /// Output queued and not yet taken.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// The write side is shut (our FIN went).
    pub fn shut(&self) -> bool {
        self.shut
    }

    /// Our FIN is decided: it goes once the output drains.
    pub fn finishing(&self) -> bool {
        self.finish
    }

    /// Shut the write side once the output drains (serve: stdin relayed
    /// ended, or the stop began).
    pub fn finish(&mut self) {
        self.finish = true;
    }

    /// Queue bytes for the peer from elsewhere (a broker client's, stdin
    /// relayed); after our FIN they go nowhere.
    pub fn queue(&mut self, data: &[u8]) {
        if !self.shut {
            self.out.extend_from_slice(data);
        }
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
    /// (`tally.bytes_out` counts what went, and is the hex dump's offset.)
    pub fn flush(
        &mut self,
        peer: &impl Port,
        hex: Option<&str>,
        tally: &mut ConnStats,
    ) -> io::Result<bool> {
        let mut moved = false;
        let greeting = self.session.greeting_text().unwrap_or_default();
        if let Some(left) = greeting.get(self.greeting_sent..).filter(|g| !g.is_empty()) {
            let (n, blocked) = write_now(peer, left, hex, &mut tally.bytes_out)?;
            moved |= n > 0;
            self.greeting_sent += n;
            if blocked {
                return Ok(moved);
            }
        }
        let (sent, _) = write_now(peer, &self.out, hex, &mut tally.bytes_out)?;
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

    /// Read once from the peer into `buf` and give it to the session
    /// (`tally.bytes_in` counts it). `fin_elsewhere`: our side of the
    /// conversation is not the session's (serve relaying its stdin), so
    /// the peer's FIN does not decide ours.
    pub fn hear(
        &mut self,
        peer: &impl Port,
        buf: &mut [u8],
        hex: Option<&str>,
        tally: &mut ConnStats,
        fin_elsewhere: bool,
    ) -> Result<Heard, End> {
        match peer.read(buf) {
            Ok(None) => {
                self.peer_ended(fin_elsewhere)?;
                Ok(Heard::Ended)
            }
            Ok(Some(n)) => {
                let data = &buf[..n];
                if let Some(l) = hex {
                    hex_to_stderr(l, '<', tally.bytes_in, data);
                }
                tally.bytes_in += n as u64;
                let step = self
                    .session
                    .input(data, &mut self.out)
                    .map_err(End::from_stdout)?;
                self.finish |= step == Talk::Finish;
                self.drop_if_shut();
                Ok(Heard::Data(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The peer paused: show its partial line.
                self.idle()?;
                Ok(Heard::Nothing)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Heard::Data(0)),
            Err(e) => Err(End::Io(e)),
        }
    }

    /// The peer's FIN (read here, or by serve's splice to stdout): the
    /// session ends (see [`Conversation::hear`] for `fin_elsewhere`).
    pub fn peer_ended(&mut self, fin_elsewhere: bool) -> Result<(), End> {
        self.read_done = true;
        let step = self.session.end(&mut self.out).map_err(End::from_stdout)?;
        self.finish |= step == Talk::Finish && !fin_elsewhere;
        self.drop_if_shut();
        Ok(())
    }

    /// The peer has nothing more for now (serve's splice to stdout saw
    /// it): the session shows its partial line.
    pub fn idle(&mut self) -> Result<(), End> {
        self.session.idle().map_err(End::from_stdout)
    }

    /// After the write side is shut, the session's output goes nowhere.
    fn drop_if_shut(&mut self) {
        if self.shut {
            self.out = Vec::new();
        }
    }

    /// Move what can move at `now`, then answer what to wait for, or how
    /// the conversation ended: `clock.idle` bounds how long the peer's
    /// socket may take nothing and give nothing (`End::IdleTimeout`).
    pub fn step(
        &mut self,
        peer: &impl Port,
        buf: &mut [u8],
        hex: Option<&str>,
        tally: &mut ConnStats,
        clock: &mut Clock,
        now: Instant,
    ) -> Result<Next, End> {
        if let Err(e) = peer.flush() {
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(End::Io(e));
            }
        }
        loop {
            let mut moved = self.flush(peer, hex, tally).map_err(End::Io)?;
            if self.may_read() {
                moved |= self.hear(peer, buf, hex, tally, false)? != Heard::Nothing;
            }
            if !moved {
                break;
            }
            clock.last = now;
        }
        if self.done() && !peer.holds_output() {
            return Ok(Next::Done);
        }
        let deadline = clock.idle.map(|i| clock.last + i);
        if deadline.is_some_and(|d| now >= d) {
            return Err(End::IdleTimeout);
        }
        let greeting = self.session.greeting_text().unwrap_or_default();
        let holds = self.greeting_sent < greeting.len() || !self.out.is_empty();
        Ok(Next::Wait {
            peer: Interest {
                read: self.may_read(),
                write: holds || peer.holds_output(),
            },
            deadline,
        })
    }
}

/// A byte-level session's connection on this thread (the blocking
/// models): its [`Conversation`] driven by poll(2) on the socket, until its
/// end or the idle timeout (no byte either way for that long). `hex` names
/// the peer in hex dumps; `tally` counts the bytes.
pub fn poll(
    stream: &Stream,
    session: Session,
    hex: Option<&str>,
    idle: Option<Duration>,
    tally: &mut ConnStats,
) -> Result<(), End> {
    let side = RelaySocket::Stream(stream);
    side.set_nonblocking(true).map_err(End::Io)?;
    let mut buf = vec![0u8; BUF];
    let mut c = Conversation::new(session);
    let mut clock = Clock {
        idle,
        last: Instant::now(),
    };
    let r = loop {
        let now = Instant::now();
        let (want, deadline) = match c.step(&side, &mut buf, hex, tally, &mut clock, now) {
            Ok(Next::Done) => break Ok(()),
            Ok(Next::Wait { peer, deadline }) => (peer, deadline),
            Err(e) => break Err(e),
        };
        let timeout = deadline.map(|t| t.saturating_duration_since(now));
        let mut fds = [polled::want(side.poll_fd(), want)];
        if let Err(e) = crate::sys::poll_ready(&mut fds, timeout) {
            break Err(End::Io(e));
        }
    };
    let _ = side.set_nonblocking(false);
    r
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

#[cfg(test)]
mod tests;
