//! The layers on a forwarded connection (issue 23's faults: a rate limit
//! now): what the flags ask of every connection ([`Layers`]), one
//! connection's state ([`ConnLayers`]), and the one place its two
//! [`Port`]s are built ([`ConnLayers::ports`]), for every model: serve's
//! loop and `polled::bridge` step a [`Bridge`](super::bridge::Bridge)
//! over what it returns.
//!
//! A layer is a `Port` that wraps the one beneath (in one file beside
//! this one, as `rate.rs` is) and changes what its reads or writes do. A
//! layer that waits on time answers `WouldBlock` until its moment and
//! says when ([`Port::held`]); a layer that sees or holds the bytes
//! answers `plain_fd() == None`, so the halves copy. With no layer the
//! ports are the sockets as they are, and splice stays on.
//!
//! A new layer: its file, a field in [`Layers`] (set from its flag by
//! `cli::config`) and in `State` (what [`ConnLayers`] holds), and its wrapping in
//! [`ConnLayers::ports`] (the [`Layered`] type names the stack).

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;

use super::blackhole::{self, Closes, Holed};
use super::chance::Chance;
use super::cut::{Budget, Cutting, Deadline, Ending};
use super::delay::{Delay, Delayed, Line};
use super::half::Port;
use super::rate::{self, Bucket, Rated};
use super::slice::{Slice, Sliced, Slicing};
use super::slow_close::{self, Closing, SlowClosed};
use crate::event::Log;

/// Which way a layer acts (`--fault-dir`): `Up` is the client's bytes to
/// the upstream, `Down` the upstream's to the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    #[default]
    Both,
}

impl Direction {
    pub fn up(self) -> bool {
        self != Direction::Down
    }

    pub fn down(self) -> bool {
        self != Direction::Up
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }
}

/// What the flags ask of every forwarded connection: no field set, no
/// layer (and nothing in the way of splice).
#[derive(Clone, Debug)]
pub struct Layers {
    /// `--rate`: a byte rate each way `dir` names.
    pub rate: Option<rate::Rate>,
    /// `--cut-after`, `--reset-after`: the connection ended on purpose.
    pub ending: Option<Ending>,
    /// `--delay`: each chunk held for a latency (± a jitter).
    pub delay: Option<Delay>,
    /// `--slice`: each way's writes cut into pieces a gap apart.
    pub slice: Option<Slice>,
    /// `--slow-close`: each way's end held this long.
    pub slow_close: Option<std::time::Duration>,
    /// `--blackhole [DUR]`: each way's bytes dropped (`Some(None)`: for
    /// good; `Some(Some(d))`: until `d`, then both sides closed).
    pub blackhole: Option<Option<std::time::Duration>>,
    /// `--refuse`: the chance a new connection is reset at once (drawn
    /// apart from `fraction`).
    pub refuse: Option<f64>,
    /// `--loss`, `--duplicate`, `--reorder`: each datagram's chances (a
    /// datagram session's faults, `relay::dgram_faults`).
    pub loss: Option<f64>,
    pub duplicate: Option<f64>,
    pub reorder: Option<f64>,
    /// `--fault-dir`: which way the layers act.
    pub dir: Direction,
    /// `--fault-fraction`: the chance a connection has its faults (1:
    /// every one).
    pub fraction: f64,
    /// `--seed`: where every connection's draws begin.
    pub seed: u64,
    /// The connections begun so far (shared by a server's threads; a
    /// forked child counts on its copy, its parent by [`Layers::forked`]).
    pub begun: Arc<AtomicU64>,
}

impl Default for Layers {
    fn default() -> Layers {
        Layers {
            rate: None,
            ending: None,
            delay: None,
            slice: None,
            slow_close: None,
            blackhole: None,
            refuse: None,
            loss: None,
            duplicate: None,
            reorder: None,
            dir: Direction::Both,
            fraction: 1.0,
            seed: 0,
            begun: Arc::default(),
        }
    }
}

impl Layers {
    /// No layer is asked for (a new layer's field joins this test).
    pub fn is_empty(&self) -> bool {
        self.rate.is_none()
            && self.ending.is_none()
            && self.delay.is_none()
            && self.slice.is_none()
            && self.slow_close.is_none()
            && self.blackhole.is_none()
            && self.refuse.is_none()
            && self.dgram_flag().is_none()
    }

    /// The first fault given that acts on streams alone, for a message.
    pub fn stream_flag(&self) -> Option<&'static str> {
        let rest = Layers {
            delay: None,
            loss: None,
            duplicate: None,
            reorder: None,
            ..self.clone()
        };
        (!rest.is_empty()).then(|| rest.flag())
    }

    /// The first fault given that acts on datagrams alone, for a message.
    pub fn dgram_flag(&self) -> Option<&'static str> {
        [
            (self.loss, "--loss"),
            (self.duplicate, "--duplicate"),
            (self.reorder, "--reorder"),
        ]
        .into_iter()
        .find_map(|(p, flag)| p.map(|_| flag))
    }

    /// The first fault's flag, for a message.
    pub fn flag(&self) -> &'static str {
        match (self.rate, self.ending, self.delay) {
            (Some(_), _, _) => "--rate",
            (None, Some(Ending::Bytes(super::cut::How::Fin, _)), _) => "--cut-after",
            (None, Some(_), _) => "--reset-after",
            (None, None, Some(_)) => "--delay",
            (None, None, None) if self.slice.is_some() => "--slice",
            (None, None, None) if self.slow_close.is_some() => "--slow-close",
            (None, None, None) if self.blackhole.is_some() => "--blackhole",
            (None, None, None) if self.refuse.is_some() => "--refuse",
            (None, None, None) if self.dgram_flag().is_some() => {
                self.dgram_flag().unwrap_or("a fault")
            }
            (None, None, None) => "a fault",
        }
    }

    /// fork-serve's parent: a child began a connection on its copy of
    /// the count, so the next child's number is one more.
    pub fn forked(&self) {
        self.begun.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fault event's fields with the connection's number (0 the first
/// this server began: what `--seed` makes repeat).
fn with_conn(mut fields: Value, conn: u64) -> Value {
    if let Value::Object(m) = &mut fields {
        m.insert("connection".into(), conn.into());
    }
    fields
}

/// `--refuse` chose a new connection: its client is reset before the
/// upstream is connected.
#[derive(Debug)]
pub struct Refused;

/// One connection's layers: what they keep between steps (`None`: no
/// layer, and a connection pays one pointer for the seam).
#[derive(Debug, Default)]
pub struct ConnLayers(Option<Box<State>>);

/// The layers' state, for a connection that has any.
#[derive(Debug)]
struct State {
    /// `--rate`'s token buckets: the client's bytes to the upstream, the
    /// upstream's to the client.
    rate_up: Option<Bucket>,
    rate_down: Option<Bucket>,
    /// `--cut-after`, `--reset-after BYTES`: each way's budget; `--reset-after DUR`: its moment.
    cut_up: Option<Budget>,
    cut_down: Option<Budget>,
    reset_at: Option<Deadline>,
    /// `--delay`'s queues of timed chunks, each way.
    delay_up: Option<Line>,
    delay_down: Option<Line>,
    /// `--slice`'s cut writes, each way (`up`: the writes to the
    /// upstream).
    slice_up: Option<Slicing>,
    slice_down: Option<Slicing>,
    /// `--slow-close`'s held ends, each way.
    close_up: Option<Closing>,
    close_down: Option<Closing>,
    /// `--blackhole`: which ways drop their bytes, and when both close.
    hole_up: bool,
    hole_down: bool,
    hole_closes: Option<Closes>,
    /// Who a fault event is about, for a layer that says it as it acts.
    tell: Teller,
}

/// A connection's fault events: its peer and number.
#[derive(Debug)]
pub struct Teller {
    log: Log,
    peer: String,
    conn: u64,
}

impl Teller {
    /// Events about connection number `conn` (0 the first), from `peer`.
    pub fn new(log: &Log, peer: impl Display, conn: u64) -> Teller {
        Teller {
            log: log.clone(),
            peer: peer.to_string(),
            conn,
        }
    }

    /// A fault applied: `what` in words (`-v`), `fields` in JSON (the
    /// connection's number joins them).
    pub fn say(&self, what: &str, fields: Value) {
        self.log
            .fault(&self.peer, what, with_conn(fields, self.conn));
    }
}

/// The ports a forwarded connection's bridge steps: each socket under
/// its layers (a layer absent passes everything through).
pub type Layered<'a, P> =
    Cutting<'a, Delayed<'a, SlowClosed<'a, Holed<'a, Rated<'a, Sliced<'a, P>>>>>>;

impl ConnLayers {
    /// The layers `l` asks for, begun at `now`, and said to the log for
    /// the connection from `peer` (`-v`: one line per layer).
    /// With `--fault-fraction`, a connection not chosen gets no layer (and
    /// splices). `Err(Refused)`: `--refuse` chose this one (said to the
    /// log): the driver resets the client before the upstream's connect
    /// begins, so the upstream never sees it.
    pub fn start(
        l: &Layers,
        log: &Log,
        peer: impl Display,
        now: Instant,
    ) -> Result<ConnLayers, Refused> {
        if l.is_empty() {
            return Ok(ConnLayers(None));
        }
        let conn = l.begun.fetch_add(1, Ordering::Relaxed);
        let mut chance = Chance::for_conn(l.seed, conn);
        if l.refuse.is_some_and(|p| chance.happens(p)) {
            // A refused connection has no other fault: the reset is at once.
            let tell = Teller {
                log: log.clone(),
                peer: peer.to_string(),
                conn,
            };
            tell.say(
                "refused (reset at once)",
                serde_json::json!({"fault": "refuse", "direction": "both"}),
            );
            return Err(Refused);
        }
        if !chance.happens(l.fraction) {
            return Ok(ConnLayers(None));
        }
        let bucket = |on: bool| l.rate.filter(|_| on).map(|r| Bucket::new(r, now));
        let budget = |on: bool, way| match l.ending {
            Some(Ending::Bytes(how, n)) if on => Some(Budget::new(how, n, way)),
            _ => None,
        };
        let closing = |on: bool| l.slow_close.filter(|_| on).map(Closing::new);
        let state = State {
            rate_up: bucket(l.dir.up()),
            rate_down: bucket(l.dir.down()),
            cut_up: budget(l.dir.up(), "up"),
            cut_down: budget(l.dir.down(), "down"),
            delay_up: l
                .delay
                .filter(|_| l.dir.up())
                .map(|d| Line::new(d, Chance::new(chance.next_u64()))),
            delay_down: l
                .delay
                .filter(|_| l.dir.down())
                .map(|d| Line::new(d, Chance::new(chance.next_u64()))),
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
            tell: Teller {
                log: log.clone(),
                peer: peer.to_string(),
                conn,
            },
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
        Ok(ConnLayers(Some(Box::new(state))))
    }

    /// The client's and the upstream's ports for a step at `now`, each
    /// over its socket (`client`, `up`: a driver's own port on it).
    pub fn ports<'a, P: Port>(
        &'a self,
        client: P,
        up: P,
        now: Instant,
    ) -> (Layered<'a, P>, Layered<'a, P>) {
        // The rate holds the reads of the side whose bytes it limits:
        // what is not read stays in the socket, whose window slows the
        // sender, and nothing waits in memory.
        // A slice cuts the writes to a side: the client's port slices
        // the bytes going down, the upstream's those going up.
        // A cut ends a side's reads after its bytes; a reset at a moment
        // fails both sides from then on.
        let state = self.0.as_deref();
        let reset_at = state.and_then(|s| s.reset_at.as_ref());
        let tell = state.map(|s| &s.tell);
        (
            Cutting::new(
                Delayed::new(
                    SlowClosed::new(
                        Holed::new(
                            Rated::new(
                                Sliced::new(client, state.and_then(|s| s.slice_down.as_ref()), now),
                                state.and_then(|s| s.rate_up.as_ref()),
                                now,
                            ),
                            state.is_some_and(|s| s.hole_up),
                            state.and_then(|s| s.hole_closes.as_ref()),
                            now,
                        ),
                        state.and_then(|s| s.close_up.as_ref()),
                        now,
                    ),
                    state.and_then(|s| s.delay_up.as_ref()),
                    now,
                ),
                state.and_then(|s| s.cut_up.as_ref()),
                reset_at,
                tell,
                now,
            ),
            Cutting::new(
                Delayed::new(
                    SlowClosed::new(
                        Holed::new(
                            Rated::new(
                                Sliced::new(up, state.and_then(|s| s.slice_up.as_ref()), now),
                                state.and_then(|s| s.rate_down.as_ref()),
                                now,
                            ),
                            state.is_some_and(|s| s.hole_down),
                            state.and_then(|s| s.hole_closes.as_ref()),
                            now,
                        ),
                        state.and_then(|s| s.close_down.as_ref()),
                        now,
                    ),
                    state.and_then(|s| s.delay_down.as_ref()),
                    now,
                ),
                state.and_then(|s| s.cut_down.as_ref()),
                reset_at,
                tell,
                now,
            ),
        )
    }
}
