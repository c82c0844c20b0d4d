//! The faults of a forwarded datagram session (issue 23: what netem does,
//! without root, per forwarded peer): `--loss P`, `--duplicate P`,
//! `--reorder P` and `--delay DUR[~JITTER]` per datagram, each way
//! `--fault-dir` names, every choice drawn from the session's seeded
//! draws ([`Chance`]), so `--seed` repeats which datagrams.
//!
//! A [`DgramSession`](super::dgram_session::DgramSession) hands each
//! datagram of a faulted way to its [`Way`], which decides its fate and
//! queues what is to go, each copy with its moment; the session sends
//! what is due at once and the rest when its drivers wake it
//! ([`DgramFaults::due`] joins its deadline). Every datagram takes the
//! same four draws (loss, duplicate, reorder, jitter) whatever the
//! settings, so one fate never shifts another's.

use std::fmt::Display;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use super::chance::Chance;
use super::delay::Delay;
use super::layers::{Direction, Layers, Teller};
use super::live::{Change, Fault, Slot, Watch};
use crate::event::Log;

/// The most datagrams a way keeps waiting (delayed or held back), and
/// the most bytes they may hold (as a stream's `--delay` holds at most
/// its line's): more are dropped, as a full socket buffer (or netem's
/// limit) drops them, so memory never grows with the sender's rate or
/// its datagrams' size.
const QUEUE: usize = 4096;
const QUEUE_BYTES: usize = 256 * 1024;

/// The most fault events a way says as they happen (`-v`): past this,
/// they are only counted, and the count is said when the session ends,
/// so a flood of datagrams cannot flood the log.
pub const SAID_PER_WAY: u64 = 32;

/// How long a datagram held back by `--reorder` waits for the next one
/// to go before it; then it goes alone.
const REORDER_HOLD: Duration = Duration::from_millis(50);

/// What the flags ask of every datagram (see [`Layers`]).
#[derive(Clone, Copy, Debug, Default)]
struct Fates {
    loss: f64,
    duplicate: f64,
    reorder: f64,
    delay: Option<Delay>,
}

/// What a way did, said when the session ends.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    seen: u64,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    dropped: u64,
}

/// One way's faults: its draws, its queue of datagrams to go (each with
/// its moment, in the order they go), and the one held back.
#[derive(Debug)]
pub struct Way {
    name: &'static str,
    fates: Fates,
    chance: Chance,
    queue: Vec<(Instant, Vec<u8>)>,
    held: Option<(Instant, Vec<u8>)>,
    /// Bytes in `queue` and `held`.
    bytes: usize,
    counts: Counts,
    /// Who each fault applied is said about (`None`: not said).
    tell: Option<Teller>,
    /// The bytes of the datagrams this way took before the current one.
    offset: u64,
    /// Fault events said, and those past [`SAID_PER_WAY`] only counted.
    said: u64,
    unsaid: u64,
}

impl Way {
    fn new(name: &'static str, fates: Fates, chance: Chance) -> Way {
        Way {
            name,
            fates,
            chance,
            queue: Vec::new(),
            held: None,
            bytes: 0,
            counts: Counts::default(),
            tell: None,
            offset: 0,
            said: 0,
            unsaid: 0,
        }
    }

    /// Each fault applied said to `tell` (the first [`SAID_PER_WAY`]).
    fn telling(mut self, tell: &Teller) -> Way {
        self.tell = Some(tell.clone());
        self
    }

    /// A fault applied to the current datagram (`fault`: what it did),
    /// said with its number in the way (the first is 1) and its first
    /// byte's offset, or counted past the bound.
    fn applied(&mut self, fault: &str, what: &str, len: usize) {
        let Some(tell) = &self.tell else {
            return;
        };
        if self.said >= SAID_PER_WAY {
            self.unsaid += 1;
            return;
        }
        self.said += 1;
        let (n, at) = (self.counts.seen, self.offset);
        tell.say(
            &format!(
                "{fault} {}: datagram {n} ({len} bytes at byte {at}) {what}",
                self.name
            ),
            json!({"fault": fault, "direction": self.name, "datagram": n,
                   "at_byte": at, "bytes": len}),
        );
    }

    /// A datagram to this way's destination at `now`: lost, or queued
    /// (once or twice, maybe held back behind the next).
    pub fn take(&mut self, data: &[u8], now: Instant) {
        let f = self.fates;
        let lost = self.chance.happens(f.loss);
        let twice = self.chance.happens(f.duplicate);
        let hold = self.chance.happens(f.reorder);
        let jitter = self.chance.unit();
        self.counts.seen += 1;
        let len = data.len();
        self.take_fated(data, now, (lost, twice, hold), jitter);
        self.offset += len as u64;
    }

    /// [`Way::take`] once its draws are made.
    fn take_fated(&mut self, data: &[u8], now: Instant, fate: (bool, bool, bool), jitter: f64) {
        let f = self.fates;
        let (lost, twice, hold) = fate;
        if lost {
            self.counts.lost += 1;
            self.applied("loss", "lost", data.len());
            return;
        }
        let at = now + f.delay.map_or(Duration::ZERO, |d| wait(d, jitter));
        if twice {
            self.applied("duplicate", "sent twice", data.len());
        }
        if hold && self.held.is_none() && self.room_for(data.len()) {
            self.counts.reordered += 1;
            self.applied("reorder", "held back behind the next", data.len());
            self.bytes += data.len();
            self.held = Some((at.max(now + REORDER_HOLD), data.to_vec()));
            if twice {
                self.counts.duplicated += 1;
                self.queue_at(at, data);
            }
            return;
        }
        self.queue_at(at, data);
        if twice {
            self.counts.duplicated += 1;
            self.queue_at(at, data);
        }
        // The one held back goes right after this one.
        if let Some((_, d)) = self.held.take() {
            self.bytes -= d.len();
            self.queue_at(at, &d);
        }
    }

    /// Whether `len` more bytes may wait.
    fn room_for(&self, len: usize) -> bool {
        self.queue.len() < QUEUE && self.bytes + len <= QUEUE_BYTES
    }

    /// Queued in its moment's order (after those due at the same time).
    fn queue_at(&mut self, at: Instant, data: &[u8]) {
        if !self.room_for(data.len()) {
            self.counts.dropped += 1;
            self.applied("queue", "dropped: the way's queue is full", data.len());
            return;
        }
        self.bytes += data.len();
        let i = self.queue.partition_point(|(t, _)| *t <= at);
        self.queue.insert(i, (at, data.to_vec()));
    }

    /// What is due at `now`, in order (the one held back too, once it
    /// has waited long enough for a next one).
    pub fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
        if self.held.as_ref().is_some_and(|(at, _)| *at <= now) {
            if let Some((at, d)) = self.held.take() {
                self.bytes -= d.len();
                self.queue_at(at, &d);
            }
        }
        let n = self.queue.partition_point(|(t, _)| *t <= now);
        let due: Vec<Vec<u8>> = self.queue.drain(..n).map(|(_, d)| d).collect();
        self.bytes -= due.iter().map(Vec::len).sum::<usize>();
        due
    }

    /// When the next one is due.
    fn next_at(&self) -> Option<Instant> {
        let q = self.queue.first().map(|(t, _)| *t);
        let h = self.held.as_ref().map(|(t, _)| *t);
        match (q, h) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// `latency ± jitter` for a draw `u` in [0, 1).
/// A fault's chance (0: none).
fn chance_of(f: Option<Fault>) -> f64 {
    match f {
        Some(Fault::Loss(p) | Fault::Duplicate(p) | Fault::Reorder(p)) => p,
        _ => 0.0,
    }
}

fn wait(d: Delay, u: f64) -> Duration {
    let off = (u * 2.0 - 1.0) * d.jitter.as_nanos() as f64;
    Duration::from_nanos((d.latency.as_nanos() as f64 + off).max(0.0) as u64)
}

/// A session's faults: each way's (`None`: it passes as it is) and who
/// its events are about.
#[derive(Debug)]
pub struct DgramFaults {
    pub up: Option<Way>,
    pub down: Option<Way>,
    tell: Teller,
    /// `--control`: the changes this session has taken.
    watch: Option<Watch>,
}

impl DgramFaults {
    /// The faults `l` asks for, for the session of `peer` begun now
    /// (`None`: none, or `--fault-fraction` did not choose it). `-v`:
    /// one line that says them.
    pub fn start(l: &Layers, log: &Log, peer: impl Display) -> Option<Box<DgramFaults>> {
        if l.is_empty() {
            return None;
        }
        let conn = l.begun.fetch_add(1, Ordering::Relaxed);
        let mut chance = Chance::for_conn(l.seed, conn);
        let chosen = chance.happens(l.fraction);
        if !chosen && l.control.is_none() {
            return None;
        }
        // (A session `--fault-fraction` passed over still takes what the
        // control socket changes: it has its ways, with no fault yet.)
        let fates = match chosen {
            true => Fates {
                loss: l.loss.unwrap_or(0.0),
                duplicate: l.duplicate.unwrap_or(0.0),
                reorder: l.reorder.unwrap_or(0.0),
                delay: l.delay,
            },
            false => Fates::default(),
        };
        let live = l.control.is_some();
        let (up_draws, down_draws) = (chance.next_u64(), chance.next_u64());
        let tell = Teller::new(log, peer, conn);
        let mut faults = DgramFaults {
            up: (l.dir.up() || live).then(|| {
                let f = if l.dir.up() { fates } else { Fates::default() };
                Way::new("up", f, Chance::new(up_draws)).telling(&tell)
            }),
            down: (l.dir.down() || live).then(|| {
                let f = if l.dir.down() {
                    fates
                } else {
                    Fates::default()
                };
                Way::new("down", f, Chance::new(down_draws)).telling(&tell)
            }),
            tell,
            watch: None,
        };
        if let Some(c) = &l.control {
            let (seen, changes) = c.table.for_new(conn);
            for change in changes {
                let f = change
                    .value
                    .as_deref()
                    .and_then(|v| c.table.parse(&change.name, v).ok());
                faults.set(&change, f);
            }
            faults.watch = Some(Watch::new(c.table.clone(), seen, conn));
        }
        if !chosen || l.no_dgram_flag() {
            return Some(Box::new(faults));
        }
        let mut said = Vec::new();
        let pct = |p: f64| format!("{}%", (p * 1000.0).round() / 10.0);
        for (p, name) in [
            (l.loss, "loss"),
            (l.duplicate, "duplicate"),
            (l.reorder, "reorder"),
        ] {
            if let Some(p) = p {
                said.push(format!("{name} {}", pct(p)));
            }
        }
        if let Some(d) = l.delay {
            let jitter = match d.jitter.is_zero() {
                true => String::new(),
                false => format!(" ~{}", humantime::format_duration(d.jitter)),
            };
            said.push(format!(
                "delay {}{jitter}",
                humantime::format_duration(d.latency)
            ));
        }
        let way = match l.dir {
            Direction::Both => "both ways",
            d => d.as_str(),
        };
        faults.tell.say(
            &format!("datagrams: {} {way}", said.join(", ")),
            json!({"fault": "datagrams", "direction": l.dir.as_str(),
                   "loss": l.loss, "duplicate": l.duplicate, "reorder": l.reorder,
                   "latency_ms": l.delay.map(|d| d.latency.as_millis() as u64),
                   "jitter_ms": l.delay.map(|d| d.jitter.as_millis() as u64)}),
        );
        Some(Box::new(faults))
    }

    /// When a datagram waiting in either way is due.
    /// Take what the control socket changed since the last look
    /// (`--control`); every driver calls it through the session.
    pub fn refresh(&mut self) {
        let Some(changes) = self.watch.as_mut().and_then(Watch::changes) else {
            return;
        };
        for (c, f) in changes {
            self.set(&c, f);
        }
    }

    /// Whether the control socket may change its faults.
    pub fn is_live(&self) -> bool {
        self.watch.is_some()
    }

    /// One change: the fate it names set (or removed, `None`) each way
    /// its direction names, the others losing it. Datagrams already
    /// queued keep their moments: none is lost.
    fn set(&mut self, c: &Change, f: Option<Fault>) {
        let dir = c.dir;
        for (way, on) in [(&mut self.up, dir.up()), (&mut self.down, dir.down())] {
            let Some(w) = way.as_mut() else { continue };
            let f = f.filter(|_| on);
            match c.slot() {
                Some(Slot::Loss) => w.fates.loss = chance_of(f),
                Some(Slot::Duplicate) => w.fates.duplicate = chance_of(f),
                Some(Slot::Reorder) => w.fates.reorder = chance_of(f),
                Some(Slot::Delay) => {
                    w.fates.delay = match f {
                        Some(Fault::Delay(d)) => Some(d),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        let what = match &c.value {
            Some(v) => format!("control: {} {v} {}", c.name, dir.as_str()),
            None => format!("control: {} removed", c.name),
        };
        self.tell.say(
            &what,
            json!({"fault": c.name, "control": true, "value": c.value,
                   "direction": dir.as_str(), "version": c.version}),
        );
    }

    pub fn due(&self) -> Option<Instant> {
        let a = self.up.as_ref().and_then(Way::next_at);
        let b = self.down.as_ref().and_then(Way::next_at);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Drop for DgramFaults {
    /// The session has ended: what each way did (`-v`: one line a way).
    fn drop(&mut self) {
        for w in [&self.up, &self.down].into_iter().flatten() {
            let c = w.counts;
            let unsaid = match w.unsaid {
                0 => String::new(),
                n => format!(" ({n} more fault events not said one by one)"),
            };
            self.tell.say(
                &format!(
                    "datagrams {}: {} seen, {} lost, {} duplicated, {} reordered{unsaid}",
                    w.name, c.seen, c.lost, c.duplicated, c.reordered
                ),
                json!({"fault": "datagrams_done", "direction": w.name, "seen": c.seen,
                       "lost": c.lost, "duplicated": c.duplicated,
                       "reordered": c.reordered, "dropped": c.dropped,
                       "unsaid": w.unsaid}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_events_are_said_up_to_the_bound_then_counted() {
        let t0 = Instant::now();
        let log = crate::event::Log {
            level: crate::event::Level::Quiet,
            json: false,
            upstream: None,
        };
        let tell = Teller::new(&log, "peer", 0);
        let mut w = way(1.0, 0.0, 0.0, 3).telling(&tell);
        for i in 0..100u8 {
            w.take(&[i; 10], t0);
        }
        assert_eq!(w.said, SAID_PER_WAY);
        assert_eq!(w.unsaid, 100 - SAID_PER_WAY);
        assert_eq!(w.offset, 1000);
        assert_eq!(w.counts.lost, 100);
    }

    const MS: Duration = Duration::from_millis(1);

    fn way(loss: f64, duplicate: f64, reorder: f64, seed: u64) -> Way {
        let fates = Fates {
            loss,
            duplicate,
            reorder,
            delay: None,
        };
        Way::new("up", fates, Chance::new(seed))
    }

    #[test]
    fn delayed_datagrams_hold_a_bounded_number_of_bytes() {
        // A sender of big datagrams to a long delay: what waits is bound
        // in bytes, the rest dropped and counted, never held.
        let t0 = Instant::now();
        let fates = Fates {
            delay: Some(Delay {
                latency: Duration::from_secs(10),
                jitter: Duration::ZERO,
            }),
            reorder: 0.5,
            ..Fates::default()
        };
        let mut w = Way::new("up", fates, Chance::new(1));
        let big = vec![7u8; 60_000];
        for _ in 0..1000 {
            w.take(&big, t0);
            assert!(w.bytes <= QUEUE_BYTES, "{} bytes wait", w.bytes);
        }
        assert!(w.counts.dropped >= 990, "{:?}", w.counts);
        let due = w.due(t0 + Duration::from_secs(11));
        assert!(!due.is_empty() && due.len() <= QUEUE_BYTES / big.len());
        assert_eq!(w.bytes, 0);
    }

    #[test]
    fn the_same_draws_lose_and_duplicate_the_same_datagrams() {
        let t0 = Instant::now();
        let run = |seed| {
            let mut w = way(0.2, 0.2, 0.0, seed);
            let mut out = Vec::new();
            for i in 0u32..1000 {
                w.take(&i.to_be_bytes(), t0);
                out.extend(w.due(t0));
            }
            (out, w.counts.lost, w.counts.duplicated)
        };
        let (a, lost, dup) = run(5);
        assert_eq!(run(5).0, a);
        assert_ne!(run(6).0, a);
        assert_eq!(a.len() as u64, 1000 - lost + dup);
        // 200 each, sigma about 12.6.
        assert!((150..=250).contains(&lost), "{lost}");
        assert!((150..=250).contains(&dup), "{dup}");
    }

    #[test]
    fn a_reordered_datagram_goes_after_the_next_or_alone_after_a_while() {
        let t0 = Instant::now();
        let mut w = way(0.0, 0.0, 1.0, 1);
        w.take(b"a", t0);
        assert!(w.due(t0).is_empty(), "held back");
        assert_eq!(w.next_at(), Some(t0 + REORDER_HOLD));
        // (The next is held back too only when none is held.)
        w.take(b"b", t0 + MS);
        assert_eq!(w.due(t0 + MS), vec![b"b".to_vec(), b"a".to_vec()]);
        w.take(b"c", t0 + 2 * MS);
        assert!(w.due(t0 + 2 * MS).is_empty());
        assert_eq!(w.due(t0 + 2 * MS + REORDER_HOLD), vec![b"c".to_vec()]);
        assert_eq!(w.counts.reordered, 2);
    }

    #[test]
    fn a_delayed_datagram_goes_at_its_moment() {
        let t0 = Instant::now();
        let mut w = way(0.0, 0.0, 0.0, 1);
        w.fates.delay = Some(Delay {
            latency: 100 * MS,
            jitter: Duration::ZERO,
        });
        w.take(b"a", t0);
        w.take(b"b", t0 + 10 * MS);
        assert!(w.due(t0 + 99 * MS).is_empty());
        assert_eq!(w.next_at(), Some(t0 + 100 * MS));
        assert_eq!(w.due(t0 + 100 * MS), vec![b"a".to_vec()]);
        assert_eq!(w.due(t0 + 110 * MS), vec![b"b".to_vec()]);
    }
}
