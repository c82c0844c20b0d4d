//! `--delay DUR[~JITTER]`: every chunk of a way held for a latency, with
//! a jitter drawn from the connection's seeded draws (issue 23's
//! latency), as a layer ([`Delayed`]) over the side whose bytes it
//! delays.
//!
//! The side is read as soon as it is readable, each chunk stamped with
//! the moment it may go on (read time + latency ± jitter, never before
//! the chunk ahead: order is kept); the half reads a chunk from the layer
//! once its moment has come, and the end of the stream after the last.
//! Until then the layer asks to be stepped at the front's moment
//! ([`Held::wake`]) while it still reads the socket, so a chunk's delay
//! counts from its arrival. The queue is bounded ([`QUEUE_BYTES`]): when
//! full, the layer stops reading the socket (`Held::read`), so TCP's
//! window slows the sender and memory never grows with the data.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::chance::Chance;
use super::half::{Held, Port};
use super::layers::Direction;

/// The most a way's queue holds (bytes): a delay's throughput is at most
/// this much per latency (256 KiB per 100 ms: 2.5 MiB/s).
pub const QUEUE_BYTES: usize = 256 * 1024;

/// The most one read from the socket takes.
const READ_CHUNK: usize = 16 * 1024;

/// A delay, as `--delay` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delay {
    pub latency: Duration,
    /// Each chunk's delay is drawn evenly from latency ± jitter (never
    /// below zero).
    pub jitter: Duration,
}

impl Delay {
    /// What the `-v` event says of it.
    pub fn describe(&self, dir: Direction) -> (String, Value) {
        let way = match dir {
            Direction::Both => "both ways",
            d => d.as_str(),
        };
        let show = humantime::format_duration;
        let jitter = match self.jitter.is_zero() {
            true => String::new(),
            false => format!(" ~{}", show(self.jitter)),
        };
        (
            format!("delay {}{jitter} {way}", show(self.latency)),
            json!({"fault": "delay", "direction": dir.as_str(),
                   "latency_ms": self.latency.as_millis() as u64,
                   "jitter_ms": self.jitter.as_millis() as u64}),
        )
    }
}

/// One way's queue of timed chunks, kept between steps.
#[derive(Debug)]
pub struct Line {
    delay: Delay,
    chance: RefCell<Chance>,
    chunks: RefCell<VecDeque<(Instant, Vec<u8>)>>,
    /// The bytes in `chunks` (what is left of the front one included).
    queued: Cell<usize>,
    /// How far the front chunk has been handed on.
    front_off: Cell<usize>,
    /// The moment the last chunk may go (the next may not go before).
    last_due: Cell<Option<Instant>>,
    /// The source's end was read: when it may be passed on.
    end_due: Cell<Option<Instant>>,
    /// Removed by the control socket: kept only until what it holds has
    /// gone.
    draining: bool,
}

impl Line {
    pub fn new(delay: Delay, chance: Chance) -> Line {
        Line {
            delay,
            chance: RefCell::new(chance),
            chunks: RefCell::default(),
            queued: Cell::new(0),
            front_off: Cell::new(0),
            last_due: Cell::new(None),
            end_due: Cell::new(None),
            draining: false,
        }
    }

    /// When a chunk (or the end) read at `now` may go on.
    fn due(&self, now: Instant) -> Instant {
        let d = self.delay;
        let wait = if d.jitter.is_zero() {
            d.latency
        } else {
            // Evenly in latency ± jitter, in whole nanoseconds.
            let span = d.jitter.as_nanos() as f64;
            let off = (self.chance.borrow_mut().unit() * 2.0 - 1.0) * span;
            let ns = (d.latency.as_nanos() as f64 + off).max(0.0);
            Duration::from_nanos(ns as u64)
        };
        let at = now + wait;
        let at = self.last_due.get().map_or(at, |last| at.max(last));
        self.last_due.set(Some(at));
        at
    }

    fn full(&self) -> bool {
        self.queued.get() >= QUEUE_BYTES
    }

    fn front_due(&self) -> Option<Instant> {
        self.chunks.borrow().front().map(|(at, _)| *at)
    }

    /// A new latency (the control socket): the chunks queued keep their
    /// moments, and the next never goes before them.
    pub fn set_delay(&mut self, delay: Delay) {
        self.delay = delay;
        self.draining = false;
    }

    /// Removed (the control socket): what the line holds may go at once,
    /// in order, and what it reads from now on passes with no latency.
    pub fn release(&mut self, now: Instant) {
        self.delay = Delay {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
        };
        self.draining = true;
        for (at, _) in self.chunks.get_mut().iter_mut() {
            *at = (*at).min(now);
        }
        self.last_due.set(self.last_due.get().map(|t| t.min(now)));
        self.end_due.set(self.end_due.get().map(|t| t.min(now)));
    }

    /// Removed, and holding nothing more: the line may go.
    pub fn drained(&self) -> bool {
        self.draining && self.chunks.borrow().is_empty() && self.end_due.get().is_none()
    }

    /// The bytes in the queue (for tests: the bound).
    pub fn queued(&self) -> usize {
        self.queued.get()
    }
}

/// A side's port whose reads a line delays (`None`: it passes everything
/// through, its plain descriptor too).
#[derive(Debug)]
pub struct Delayed<'a, P> {
    inner: P,
    line: Option<&'a Line>,
    now: Instant,
}

impl<'a, P> Delayed<'a, P> {
    pub fn new(inner: P, line: Option<&'a Line>, now: Instant) -> Delayed<'a, P> {
        Delayed { inner, line, now }
    }
}

impl<P: Port> Delayed<'_, P> {
    /// Read what the socket has into the line, while it has room; an
    /// error other than `WouldBlock` is the source's (not delayed: a
    /// reset goes on at once).
    fn fill(&self, line: &Line) -> io::Result<()> {
        while !line.full() && line.end_due.get().is_none() {
            let room = (QUEUE_BYTES - line.queued.get()).min(READ_CHUNK);
            let mut chunk = vec![0u8; room];
            match self.inner.read(&mut chunk) {
                Ok(Some(n)) => {
                    chunk.truncate(n);
                    let at = line.due(self.now);
                    line.queued.set(line.queued.get() + n);
                    line.chunks.borrow_mut().push_back((at, chunk));
                }
                Ok(None) => line.end_due.set(Some(line.due(self.now))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<P: Port> Port for Delayed<'_, P> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.inner)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(line) = self.line else {
            return self.inner.read(buf);
        };
        self.fill(line)?;
        let mut chunks = line.chunks.borrow_mut();
        if let Some((at, chunk)) = chunks.front() {
            if *at > self.now {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let off = line.front_off.get();
            let n = (chunk.len() - off).min(buf.len());
            buf[..n].copy_from_slice(&chunk[off..off + n]);
            line.queued.set(line.queued.get() - n);
            if off + n == chunk.len() {
                chunks.pop_front();
                line.front_off.set(0);
            } else {
                line.front_off.set(off + n);
            }
            return Ok(Some(n));
        }
        match line.end_due.get() {
            Some(at) if at <= self.now => Ok(None),
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.inner.write(data)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self.line {
            // The bytes wait in the line: a copy.
            Some(_) => None,
            None => self.inner.plain_fd(),
        }
    }
    fn shut_write(&self) {
        self.inner.shut_write()
    }
    fn held(&self) -> Held {
        let Some(line) = self.line else {
            return self.inner.held();
        };
        let next = line.front_due().or(line.end_due.get());
        // Full, or the end read: the socket is not read again (a
        // level-triggered poll would spin on it), the line's front is
        // waited for. Otherwise the socket is watched and the front's
        // moment wakes the bridge besides.
        let mine = match line.full() || line.end_due.get().is_some() {
            true => Held {
                read: next,
                ..Held::default()
            },
            // (A front already due wakes every step; the bridge waits for
            // no moment past, so a half whose destination is full waits
            // for that, not in a spin.)
            false => Held {
                wake: next,
                ..Held::default()
            },
        };
        mine.and(self.inner.held())
    }
}

#[cfg(test)]
mod tests;
