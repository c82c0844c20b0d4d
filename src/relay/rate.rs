//! `--rate`: a forwarded connection's bytes capped at a rate each way
//! (issue 23's bandwidth cap), as a layer ([`Rated`]) over a side's port.
//!
//! A token bucket ([`Bucket`]) fills at the rate up to its burst; a read
//! of the side takes at most what it holds, and while it holds less than
//! a quantum (about 10 ms of the rate) reads answer `WouldBlock` and the
//! port says when there will be enough ([`Port::held`]). What is not read
//! stays in the socket, so the sender is slowed by TCP's own window and
//! nothing waits in sockcat's memory but the chunk a destination has not
//! taken yet.

use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::half::{Held, Port};
use super::layers::Direction;

const NANOS: u128 = 1_000_000_000;

/// A rate, as `--rate` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Bytes per second (at least 1).
    pub per_sec: u64,
    /// The most that may go at once after a quiet spell (at least 1).
    pub burst: u64,
}

impl Rate {
    /// `per_sec` with the default burst: a tenth of a second's worth.
    pub fn new(per_sec: u64) -> Rate {
        Rate {
            per_sec,
            burst: (per_sec / 10).max(1),
        }
    }

    /// What the `-v` event says of it: its text and its JSON fields.
    pub fn describe(&self, dir: Direction) -> (String, Value) {
        let way = match dir {
            Direction::Both => "both ways",
            d => d.as_str(),
        };
        (
            format!("rate {}/s {way}", show_bytes(self.per_sec)),
            json!({"fault": "rate", "direction": dir.as_str(),
                   "bytes_per_sec": self.per_sec, "burst": self.burst}),
        )
    }
}

/// `65536` as `64KiB`, `1048576` as `1MiB`, others in bytes.
fn show_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    match n {
        n if n % (KIB * KIB) == 0 => format!("{}MiB", n / (KIB * KIB)),
        n if n % KIB == 0 => format!("{}KiB", n / KIB),
        n => format!("{n}B"),
    }
}

/// A token bucket, in whole-number nanosecond arithmetic (its level in
/// bytes × 10⁹, so a refill loses nothing to rounding). Its clock is the
/// `now` each call is given, so tests drive it with a fake one.
#[derive(Debug)]
pub struct Bucket {
    per_sec: u128,
    /// The level's ceiling (bytes × 10⁹).
    full: u128,
    /// Below this level reads wait (bytes × 10⁹): about 10 ms of the
    /// rate, so a slow rate is not read a byte per wake-up.
    quantum: u128,
    origin: Instant,
    level: Cell<u128>,
    /// When the level was last brought up to date (ns since `origin`).
    at: Cell<u128>,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(r: Rate, now: Instant) -> Bucket {
        let per_sec = u128::from(r.per_sec.max(1));
        let burst = u128::from(r.burst.max(1));
        let quantum = (per_sec / 100).clamp(1, burst);
        Bucket {
            per_sec,
            full: burst * NANOS,
            quantum: quantum * NANOS,
            origin: now,
            level: Cell::new(burst * NANOS),
            at: Cell::new(0),
        }
    }

    fn refill(&self, now: Instant) {
        let t = now.saturating_duration_since(self.origin).as_nanos();
        let at = self.at.get();
        if t > at {
            let gained = (t - at).saturating_mul(self.per_sec);
            self.level
                .set(self.level.get().saturating_add(gained).min(self.full));
            self.at.set(t);
        }
    }

    /// How many bytes may go at `now`: none below the quantum.
    pub fn allowance(&self, now: Instant) -> usize {
        self.refill(now);
        let level = self.level.get();
        if level < self.quantum {
            return 0;
        }
        usize::try_from(level / NANOS).unwrap_or(usize::MAX)
    }

    /// `n` bytes went.
    pub fn spend(&self, n: usize) {
        let cost = (n as u128).saturating_mul(NANOS);
        self.level.set(self.level.get().saturating_sub(cost));
    }

    /// When the level will reach the quantum, if it is below it now
    /// (as of its last refill).
    pub fn held_until(&self) -> Option<Instant> {
        let level = self.level.get();
        if level >= self.quantum {
            return None;
        }
        let wait = (self.quantum - level).div_ceil(self.per_sec);
        let at = u64::try_from(self.at.get() + wait).unwrap_or(u64::MAX);
        Some(self.origin + Duration::from_nanos(at))
    }
}

/// A side's port whose reads a bucket limits (`None`: it passes
/// everything through, its plain descriptor too, so splice stays on).
#[derive(Debug)]
pub struct Rated<'a, P> {
    inner: P,
    reads: Option<&'a Bucket>,
    now: Instant,
}

impl<'a, P> Rated<'a, P> {
    /// `inner` read at the rate of `reads`, for a step at `now`.
    pub fn new(inner: P, reads: Option<&'a Bucket>, now: Instant) -> Rated<'a, P> {
        Rated { inner, reads, now }
    }
}

impl<P: Port> Port for Rated<'_, P> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.inner)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(bucket) = self.reads else {
            return self.inner.read(buf);
        };
        let n = bucket.allowance(self.now).min(buf.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let r = self.inner.read(&mut buf[..n]);
        if let Ok(Some(got)) = r {
            bucket.spend(got);
        }
        r
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.inner.write(data)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self.reads {
            // The bytes must pass through the bucket: a copy.
            Some(_) => None,
            None => self.inner.plain_fd(),
        }
    }
    fn shut_write(&self) {
        self.inner.shut_write()
    }
    fn held(&self) -> Held {
        let mine = Held {
            read: self.reads.and_then(Bucket::held_until),
            ..Held::default()
        };
        mine.and(self.inner.held())
    }
}

#[cfg(test)]
mod tests;
