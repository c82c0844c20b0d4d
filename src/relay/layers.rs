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

use super::blackhole::{Closes, Holed};
use super::chance::Chance;
use super::cut::{Budget, Cutting, Deadline, Ending};
use super::delay::{Delay, Delayed, Line};
use super::half::Port;
use super::live::{Control, Fault, Slot, Watch};
use super::rate::{self, Bucket, Rated};
use super::slice::{Slice, Sliced, Slicing};
use super::slow_close::{Closing, SlowClosed};
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
    /// `--control`: the faults changed while the server runs.
    pub control: Option<Control>,
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
            control: None,
        }
    }
}

impl Layers {
    /// No layer is asked for, and none may be (`--control`) (a new
    /// layer's field joins this test).
    pub fn is_empty(&self) -> bool {
        self.control.is_none() && self.no_flag()
    }

    /// No fault flag is given.
    fn no_flag(&self) -> bool {
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
        (!rest.no_flag()).then(|| rest.flag())
    }

    /// No fault flag for datagrams is given (`--loss`, `--duplicate`,
    /// `--reorder`, `--delay`).
    pub fn no_dgram_flag(&self) -> bool {
        self.dgram_flag().is_none() && self.delay.is_none()
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
    /// The connection's draws, for a layer the control socket adds.
    chance: Chance,
    /// `--control`: the changes this connection has taken.
    watch: Option<Watch>,
}

/// A connection's fault events: its peer and number.
#[derive(Clone, Debug)]
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
        let tell = Teller::new(log, peer, conn);
        // `--control`: what the changes for new connections set, over
        // the flags.
        let (seen, changes) = match &l.control {
            Some(c) => c.table.for_new(conn),
            None => (0, Vec::new()),
        };
        let parsed: Vec<_> = changes
            .into_iter()
            .map(|c| {
                let f = c
                    .value
                    .as_deref()
                    .zip(l.control.as_ref())
                    .and_then(|(v, ctl)| ctl.table.parse(&c.name, v).ok());
                (c, f)
            })
            .collect();
        let refuse = match parsed
            .iter()
            .rev()
            .find(|(c, _)| c.slot() == Some(Slot::Refuse))
        {
            Some((_, Some(Fault::Refuse(p)))) => Some(*p),
            Some(_) => None,
            None => l.refuse,
        };
        if refuse.is_some_and(|p| chance.happens(p)) {
            // A refused connection has no other fault: the reset is at once.
            tell.say(
                "refused (reset at once)",
                serde_json::json!({"fault": "refuse", "direction": "both"}),
            );
            return Err(Refused);
        }
        let chosen = chance.happens(l.fraction);
        if !chosen && l.control.is_none() {
            return Ok(ConnLayers(None));
        }
        // (A connection `--fault-fraction` passed over still takes what
        // the control socket changes.)
        let none = Layers {
            dir: l.dir,
            ..Layers::default()
        };
        let mut state = State::new(if chosen { l } else { &none }, chance, tell, now);
        for (c, f) in parsed {
            if let Some(slot) = c.slot() {
                state.set(slot, f, c.dir, now);
                // (A fault removed before this connection began is none
                // of its news.)
                if c.value.is_some() {
                    state.said(&c);
                }
            }
        }
        state.watch = l
            .control
            .as_ref()
            .map(|c| Watch::new(c.table.clone(), seen, conn));
        Ok(ConnLayers(Some(Box::new(state))))
    }

    /// Between two steps: take what the control socket changed since the
    /// last (`--control`), and drop what a removed layer kept only to
    /// release what it held, once it is all gone. Every driver calls it
    /// before [`ConnLayers::ports`]. `true`: a layer changed (the
    /// driver tries both sides: bytes a layer let go wait with no event).
    pub fn refresh(&mut self, now: Instant) -> bool {
        let Some(state) = self.0.as_deref_mut() else {
            return false;
        };
        state.tidy();
        let Some(changes) = state.watch.as_mut().and_then(Watch::changes) else {
            return false;
        };
        for (c, f) in changes {
            if let Some(slot) = c.slot() {
                state.set(slot, f, c.dir, now);
                state.said(&c);
            }
        }
        true
    }

    /// Whether the control socket may change this connection's layers
    /// (then its halves copy: a splice would pass bytes no layer added
    /// later could see).
    pub fn is_live(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.watch.is_some())
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
            )
            .reading_down(),
        )
    }
}

mod state;
