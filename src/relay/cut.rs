//! `--cut-after` and `--reset-after`: a forwarded connection ended on
//! purpose (issue 23's cut and reset), as a layer ([`Cutting`]) over a
//! side's port.
//!
//! After a byte count, a side's reads end: with a FIN (`--cut-after`: the
//! read answers the end of the stream, which the half passes on, so the
//! peer receives exactly that many bytes, then EOF) or with a reset
//! (`--reset-after`: the read fails, the bridge resets both sockets).
//! The count is taken by limiting each read to what is left, so the byte
//! the fault acts at is exact. A reset after a time fails every read and
//! write of both sides from its moment on, and asks to be stepped at it
//! ([`Held::wake`]).

use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::json;

use super::half::{Held, Port};
use super::layers::Teller;

/// How a cut ends the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// A FIN: the peer reads the end of the stream.
    Fin,
    /// A reset: both peers see the connection reset, no FIN.
    Reset,
}

impl How {
    fn name(self) -> &'static str {
        match self {
            How::Fin => "cut",
            How::Reset => "reset",
        }
    }
}

/// What `--cut-after` or `--reset-after` asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// After this many bytes each way the direction names.
    Bytes(How, u64),
    /// A reset, this long after the connection began.
    Time(Duration),
}

/// One direction's byte budget: the side's reads end after `bytes`.
#[derive(Debug)]
pub struct Budget {
    how: How,
    bytes: u64,
    left: Cell<u64>,
    fired: Cell<bool>,
    /// The way it counts, for the event (`up`, `down`).
    way: &'static str,
}

impl Budget {
    pub fn new(how: How, bytes: u64, way: &'static str) -> Budget {
        Budget {
            how,
            bytes,
            left: Cell::new(bytes),
            fired: Cell::new(false),
            way,
        }
    }
}

/// A reset at a moment (`--reset-after DUR`, from the connection's start).
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    after: Duration,
    fired: Cell<bool>,
    /// The bytes read each way until the reset (up, down), for its event.
    passed: [Cell<u64>; 2],
}

impl Deadline {
    pub fn new(after: Duration, start: Instant) -> Deadline {
        Deadline {
            at: start + after,
            after,
            fired: Cell::new(false),
            passed: Default::default(),
        }
    }
}

/// The error a reset fault ends the bridge with (the server's log says it).
fn reset_error(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, format!("reset by {what}"))
}

/// A side's port whose reads end after a budget, or whose reads and
/// writes fail from a moment on (`None` each: it passes everything
/// through, its plain descriptor too).
#[derive(Debug)]
pub struct Cutting<'a, P> {
    inner: P,
    reads: Option<&'a Budget>,
    deadline: Option<&'a Deadline>,
    tell: Option<&'a Teller>,
    now: Instant,
    /// Its reads are the client's bytes to the upstream (else the
    /// upstream's to the client), as the reset's event counts them.
    up: bool,
}

impl<'a, P> Cutting<'a, P> {
    pub fn new(
        inner: P,
        reads: Option<&'a Budget>,
        deadline: Option<&'a Deadline>,
        tell: Option<&'a Teller>,
        now: Instant,
    ) -> Cutting<'a, P> {
        Cutting {
            inner,
            reads,
            deadline,
            tell,
            now,
            up: true,
        }
    }

    /// Its reads are the upstream's bytes to the client.
    pub fn reading_down(mut self) -> Cutting<'a, P> {
        self.up = false;
        self
    }

    /// Past the deadline: the error that resets the connection (said once).
    fn past_deadline(&self) -> io::Result<()> {
        let Some(d) = self.deadline.filter(|d| self.now >= d.at) else {
            return Ok(());
        };
        if !d.fired.replace(true) {
            if let Some(t) = self.tell {
                let ms = d.after.as_millis() as u64;
                let (up, down) = (d.passed[0].get(), d.passed[1].get());
                t.say(
                    &format!(
                        "reset after {} (at byte {up} up, {down} down)",
                        humantime::format_duration(d.after)
                    ),
                    json!({"fault": "reset", "direction": "both", "after_ms": ms,
                           "at_byte_up": up, "at_byte_down": down}),
                );
            }
        }
        Err(reset_error("--reset-after"))
    }
}

impl<P: Port> Cutting<'_, P> {
    /// A read within the budget (past it: the end it makes, said once).
    fn read_budget(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(b) = self.reads else {
            return self.inner.read(buf);
        };
        let left = b.left.get();
        if left == 0 && b.how == How::Fin && b.fired.get() {
            // Past the cut's FIN: what the peer still sends, for the half
            // to drop (see Port::ends_early).
            return self.inner.read(buf);
        }
        if left == 0 {
            if !b.fired.replace(true) {
                if let Some(t) = self.tell {
                    t.say(
                        &format!("{} {} at byte {}", b.how.name(), b.way, b.bytes),
                        json!({"fault": b.how.name(), "direction": b.way, "at_byte": b.bytes}),
                    );
                }
            }
            return match b.how {
                How::Fin => Ok(None),
                How::Reset => Err(reset_error("--reset-after")),
            };
        }
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let r = self.inner.read(&mut buf[..n]);
        if let Ok(Some(got)) = r {
            b.left.set(left.saturating_sub(got as u64));
        }
        r
    }
}

impl<P: Port> Port for Cutting<'_, P> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.inner)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.past_deadline()?;
        let r = self.read_budget(buf);
        if let (Ok(Some(got)), Some(d)) = (&r, self.deadline) {
            let passed = &d.passed[usize::from(!self.up)];
            passed.set(passed.get() + *got as u64);
        }
        r
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.past_deadline()?;
        self.inner.write(data)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match (self.reads, self.deadline) {
            (None, None) => self.inner.plain_fd(),
            // The bytes must be counted, or may be cut at any moment.
            _ => None,
        }
    }
    fn check_end(&self) -> io::Result<()> {
        match self.reads {
            // The end this layer made is one.
            Some(b) if b.fired.get() => Ok(()),
            _ => self.inner.check_end(),
        }
    }
    fn shut_write(&self) {
        self.inner.shut_write()
    }
    fn ends_early(&self) -> bool {
        self.reads
            .is_some_and(|b| b.how == How::Fin && b.fired.get() && b.left.get() == 0)
    }
    fn flush(&self) -> io::Result<()> {
        self.past_deadline()?;
        self.inner.flush()
    }
    fn held(&self) -> Held {
        let mine = Held {
            wake: self.deadline.filter(|d| !d.fired.get()).map(|d| d.at),
            ..Held::default()
        };
        mine.and(self.inner.held())
    }
}

#[cfg(test)]
mod tests;
