//! One connection's layers as they begin ([`State::new`], from the
//! flags) and as the control socket changes them between two steps
//! ([`State::set`], one fault at a time): written once, for every model.
//!
//! A change never loses a byte a layer holds: a removed `--delay` lets
//! its queue go at once, in order (its line stays, with no latency, until
//! it is empty), a removed `--slow-close` passes a held end at once, and
//! a changed delay keeps its queue (new chunks take the new latency,
//! never passing the ones ahead). `--rate` and `--slice` hold no bytes
//! (the rate leaves them in the socket, a slice in the half).

use std::time::{Duration, Instant};

use serde_json::json;

use super::super::blackhole::{self, Closes};
use super::super::chance::Chance;
use super::super::cut::{Budget, Deadline, Ending};
use super::super::delay::{Delay, Line};
use super::super::live::{Change, Fault, Slot};
use super::super::rate::Bucket;
use super::super::slice::Slicing;
use super::super::slow_close::{self, Closing};
use super::{Direction, Layers, State, Teller};

impl State {
    /// The layers `l` asks for, begun at `now`, each said to the log.
    pub(super) fn new(l: &Layers, mut chance: Chance, tell: Teller, now: Instant) -> State {
        let bucket = |on: bool| l.rate.filter(|_| on).map(|r| Bucket::new(r, now));
        let budget = |on: bool, way| match l.ending {
            Some(Ending::Bytes(how, n)) if on => Some(Budget::new(how, n, way)),
            _ => None,
        };
        let closing = |on: bool| l.slow_close.filter(|_| on).map(Closing::new);
        let delay_up = l
            .delay
            .filter(|_| l.dir.up())
            .map(|d| Line::new(d, Chance::new(chance.next_u64())));
        let delay_down = l
            .delay
            .filter(|_| l.dir.down())
            .map(|d| Line::new(d, Chance::new(chance.next_u64())));
        let state = State {
            rate_up: bucket(l.dir.up()),
            rate_down: bucket(l.dir.down()),
            cut_up: budget(l.dir.up(), "up"),
            cut_down: budget(l.dir.down(), "down"),
            delay_up,
            delay_down,
            slice_up: l.slice.filter(|_| l.dir.up()).map(Slicing::new),
            slice_down: l.slice.filter(|_| l.dir.down()).map(Slicing::new),
            close_up: closing(l.dir.up()),
            close_down: closing(l.dir.down()),
            hole_up: l.blackhole.is_some() && l.dir.up(),
            hole_down: l.blackhole.is_some() && l.dir.down(),
            hole_closes: l.blackhole.flatten().map(|d| Closes::new(d, now)),
            reset_at: match l.ending {
                Some(Ending::Time(after)) => Some(Deadline::new(after, now)),
                _ => None,
            },
            tell,
            chance,
            watch: None,
        };
        if let Some(r) = l.rate {
            let (text, fields) = r.describe(l.dir);
            state.tell.say(&text, fields);
        }
        if let Some(d) = l.delay {
            let (text, fields) = d.describe(l.dir);
            state.tell.say(&text, fields);
        }
        if let Some(s) = l.slice {
            let (text, fields) = s.describe(l.dir);
            state.tell.say(&text, fields);
        }
        if let Some(hold) = l.slow_close {
            let (text, fields) = slow_close::describe(hold, l.dir);
            state.tell.say(&text, fields);
        }
        if let Some(for_) = l.blackhole {
            let (text, fields) = blackhole::describe(for_, l.dir);
            state.tell.say(&text, fields);
        }
        state
    }

    /// One fault set (`Some`) or removed (`None`) at `now`, each way
    /// `dir` names (the others lose it). A fault that does not act on a
    /// stream (`--loss`, ...; `--refuse`, which acts at a connection's
    /// start) changes nothing here.
    pub(super) fn set(&mut self, slot: Slot, fault: Option<Fault>, dir: Direction, now: Instant) {
        let up = fault.is_some() && dir.up();
        let down = fault.is_some() && dir.down();
        match slot {
            Slot::Rate => {
                let r = match fault {
                    Some(Fault::Rate(r)) => Some(r),
                    _ => None,
                };
                self.rate_up = r.filter(|_| up).map(|r| Bucket::new(r, now));
                self.rate_down = r.filter(|_| down).map(|r| Bucket::new(r, now));
            }
            Slot::Ending => {
                // Counted from the change: the bytes that passed before
                // it are not the new budget's.
                self.cut_up = None;
                self.cut_down = None;
                self.reset_at = None;
                match fault {
                    Some(Fault::Ending(Ending::Bytes(how, n))) => {
                        self.cut_up = up.then(|| Budget::new(how, n, "up"));
                        self.cut_down = down.then(|| Budget::new(how, n, "down"));
                    }
                    Some(Fault::Ending(Ending::Time(after))) => {
                        self.reset_at = Some(Deadline::new(after, now));
                    }
                    _ => {}
                }
            }
            Slot::Delay => {
                let d = match fault {
                    Some(Fault::Delay(d)) => Some(d),
                    _ => None,
                };
                set_line(&mut self.delay_up, d.filter(|_| up), &mut self.chance, now);
                set_line(
                    &mut self.delay_down,
                    d.filter(|_| down),
                    &mut self.chance,
                    now,
                );
            }
            Slot::Slice => {
                let s = match fault {
                    Some(Fault::Slice(s)) => Some(s),
                    _ => None,
                };
                self.slice_up = s.filter(|_| up).map(Slicing::new);
                self.slice_down = s.filter(|_| down).map(Slicing::new);
            }
            Slot::SlowClose => {
                let hold = match fault {
                    Some(Fault::SlowClose(d)) => Some(d),
                    _ => None,
                };
                set_closing(&mut self.close_up, hold.filter(|_| up), now);
                set_closing(&mut self.close_down, hold.filter(|_| down), now);
            }
            Slot::Blackhole => {
                self.hole_up = up;
                self.hole_down = down;
                self.hole_closes = match fault {
                    Some(Fault::Blackhole(Some(d))) => Some(Closes::new(d, now)),
                    _ => None,
                };
            }
            Slot::Refuse | Slot::Loss | Slot::Duplicate | Slot::Reorder => {}
        }
    }

    /// Drop a removed delay's line once it has let go of all it held.
    pub(super) fn tidy(&mut self) {
        for line in [&mut self.delay_up, &mut self.delay_down] {
            if line.as_ref().is_some_and(Line::drained) {
                *line = None;
            }
        }
    }

    /// A change taken, to the log (`-v`).
    pub(super) fn said(&self, c: &Change) {
        let what = match &c.value {
            Some(v) => format!("control: {} {v} {}", c.name, c.dir.as_str()),
            None => format!("control: {} removed", c.name),
        };
        self.tell.say(
            &what,
            json!({"fault": c.name, "control": true, "value": c.value,
                   "direction": c.dir.as_str(), "version": c.version}),
        );
    }
}

/// A way's delay set to `delay` (`None`: removed): a line that holds
/// chunks keeps them, in order (released at once when removed).
fn set_line(line: &mut Option<Line>, delay: Option<Delay>, chance: &mut Chance, now: Instant) {
    match (line.as_mut(), delay) {
        (Some(l), Some(d)) => l.set_delay(d),
        (None, Some(d)) => *line = Some(Line::new(d, Chance::new(chance.next_u64()))),
        (Some(l), None) => l.release(now),
        (None, None) => {}
    }
}

/// A way's slow close set to `hold` (`None`: removed): an end already
/// held goes at once when removed, at its moment otherwise.
fn set_closing(closing: &mut Option<Closing>, hold: Option<Duration>, now: Instant) {
    match (closing.as_ref(), hold) {
        (Some(c), None) if c.holds_end() => c.release(now),
        (Some(c), Some(_)) if c.holds_end() => {}
        (_, h) => *closing = h.map(Closing::new),
    }
}
