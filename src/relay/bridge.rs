//! A forwarded connection: two [`Half`]s (client → upstream, upstream →
//! client) and the rules that end it, written once for every model.
//!
//! It makes no I/O waits: given a moment at which its ports may be ready,
//! [`Bridge::step`] moves what it can and answers what each port waits
//! for next (read or write interest) and its next deadline, or how it
//! ended. serve's loop calls it once per turn with what its events saw;
//! `polled::bridge` waits with poll(2) for what it answered, on one
//! thread.
//!
//! The rules: each direction ends on its own, its source's FIN passed on
//! to its destination (the lesson's half-close, through a relay); once
//! one has ended, the other's source may stay quiet for the half-close
//! timeout at most; a datagram upstream has no FIN, so after the client's
//! its quiet ([`Rules::quiet`]) is its end; no traffic either way for the
//! idle timeout ends both with a FIN; a reset or failure on either side
//! resets both.
//!
//! A port whose layer waits on time (a rate limit: see
//! [`Port::held`]) is not watched while held: its moment joins the
//! deadline the step answers, and at that moment it is tried again.

use std::io;
use std::time::{Duration, Instant};

use super::half::{Half, Port, Progress};
use super::{ByteCounts, HalfError, RelayEnd};
use crate::event::Via;

/// The timeouts of a forwarded connection.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// No traffic either way for this long ends the connection (`None`:
    /// the driver applies its own, as serve's loop does for every
    /// connection).
    pub idle: Option<Duration>,
    /// After one direction has ended, how long the other's source may
    /// stay quiet.
    pub half_close: Duration,
    /// After the client's FIN, how long a datagram upstream may stay
    /// quiet; and the quiet after which an end owed to a port whose end
    /// ends both ways (a WebSocket's Close) goes.
    pub quiet: Duration,
}

/// What a driver waits for on one port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

/// What a driver saw ready before a step. A direction is tried when its
/// source was seen readable, or its destination writable while it holds
/// bytes for it: a writable destination is news only to a half that
/// waits for it (an edge-triggered loop sees sockets writable with every
/// event), and a half that holds nothing stopped at its source's
/// `WouldBlock` (or at its budget, after which the driver passes
/// [`Ready::ALL`]), so only its source's readiness can give it more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub client: Interest,
    pub upstream: Interest,
    /// An end (a hang-up, an error) may be among what was seen on the
    /// client's socket, and on the upstream's: true unless an
    /// edge-triggered driver's events showed none (see
    /// [`Half::pump_seen`]).
    pub client_end: bool,
    pub upstream_end: bool,
}

impl Ready {
    /// Nothing seen: a step for a deadline moves nothing.
    pub const NONE: Ready = Ready {
        client: Interest {
            read: false,
            write: false,
        },
        upstream: Interest {
            read: false,
            write: false,
        },
        client_end: false,
        upstream_end: false,
    };

    pub const ALL: Ready = Ready {
        client: Interest {
            read: true,
            write: true,
        },
        upstream: Interest {
            read: true,
            write: true,
        },
        client_end: true,
        upstream_end: true,
    };
}

/// What the bridge waits for before its next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    pub client: Interest,
    pub upstream: Interest,
    /// When to step again even if nothing is ready (a timeout is due).
    pub deadline: Option<Instant>,
    /// A direction stopped at its budget: step again at once.
    pub again: bool,
}

/// What a step leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Wait(Wait),
    /// Both directions ended cleanly and everything went out.
    Done,
}

/// A forwarded connection's relay; see the module's comment.
#[derive(Debug)]
pub struct Bridge {
    to_up: Half,
    to_down: Half,
    rules: Rules,
    /// The last byte moved either way (or a direction's end).
    last: Instant,
    /// The last byte from the upstream.
    last_down: Instant,
    /// When one direction (not both) had ended.
    half_at: Option<Instant>,
}

impl Bridge {
    /// A bridge whose halves splice bulk when `splice` (see
    /// [`may_splice`](super::half::may_splice) and
    /// [`Half::splice_bulk_only`]: small requests and answers are
    /// copied), started at `now`.
    pub fn new(splice: bool, rules: Rules, now: Instant) -> Bridge {
        let half = || {
            let mut h = Half::new(splice);
            h.splice_bulk_only();
            // A WebSocket's Close waits for the other way's quiet (below).
            h.owes_ends();
            h
        };
        Bridge {
            to_up: half(),
            to_down: half(),
            rules,
            last: now,
            last_down: now,
            half_at: None,
        }
    }

    /// Driven by a level-triggered wait: see [`Half::level_triggered`].
    pub fn level_triggered(mut self) -> Bridge {
        self.to_up.level_triggered();
        self.to_down.level_triggered();
        self
    }

    /// What moved: from the client, to the client.
    pub fn moved(&self) -> ByteCounts {
        ByteCounts {
            up: self.to_up.moved(),
            down: self.to_down.moved(),
        }
    }

    /// How the bytes went: the splice path (bulk spliced, small chunks
    /// copied: [`Half::splice_bulk_only`]), unless any bytes had to go
    /// through a buffer (`--hex`, TLS, a datagram, no pipe to lend).
    pub fn via(&self) -> Via {
        if self.to_up.copied() || self.to_down.copied() {
            Via::Copy
        } else {
            Via::Splice
        }
    }

    /// The last traffic either way.
    pub fn last_traffic(&self) -> Instant {
        self.last
    }

    /// Both directions have ended (the ports may still hold output).
    pub fn halves_done(&self) -> bool {
        self.to_up.is_done() && self.to_down.is_done()
    }

    /// Give back the pipes the halves hold (the connection is closing).
    pub fn release(&mut self) {
        self.to_up.release();
        self.to_down.release();
    }

    /// End the connection with a reset on both sides (a failure, or the
    /// server cutting it: a FIN would make a cut transfer look complete).
    pub fn fail(&mut self, client: &impl Port, up: &impl Port, e: io::Error) -> RelayEnd {
        client.reset_on_close();
        up.reset_on_close();
        self.to_up.stop();
        self.to_down.stop();
        RelayEnd::Endpoint(e)
    }

    /// Move what can move at `now` (of the directions `ready` allows),
    /// then answer what to wait for, or how the connection ended. `hex`
    /// names the client in hex dumps (`--hex`).
    pub fn step(
        &mut self,
        client: &impl Port,
        up: &impl Port,
        scratch: &mut Vec<u8>,
        hex: Option<&str>,
        ready: Ready,
        now: Instant,
    ) -> Result<Next, RelayEnd> {
        let dump = |dir: char| super::hex_dump(hex, dir);
        // A port a layer held by time is tried once its moment has come,
        // whatever the driver saw ready (it was not asked to watch it).
        let due = |at: Option<Instant>| at.is_some_and(|at| now >= at);
        let (held_c, held_u) = (client.held(), up.held());
        let woken = due(held_c.wake) || due(held_u.wake);
        let up_ready = ready.client.read
            || (ready.upstream.write && self.to_up.holding())
            || due(held_c.read)
            || due(held_u.write)
            || woken;
        let down_ready = ready.upstream.read
            || (ready.client.write && self.to_down.holding())
            || due(held_u.read)
            || due(held_c.write)
            || woken;
        let moved = flush(client)
            .and_then(|_| flush(up))
            .and_then(|_| match up_ready {
                true => self.to_up.pump_seen(
                    client,
                    up,
                    scratch,
                    dump('<'),
                    ready.client.read && !ready.client_end,
                ),
                false => Ok(Progress::default()),
            })
            .and_then(|a| {
                let b = match down_ready {
                    true => self.to_down.pump_seen(
                        up,
                        client,
                        scratch,
                        dump('>'),
                        ready.upstream.read && !ready.upstream_end,
                    )?,
                    false => Progress::default(),
                };
                Ok((a, b))
            });
        let (a, b) = match moved {
            Ok(x) => x,
            Err(HalfError::Read(e) | HalfError::Write(e)) => return Err(self.fail(client, up, e)),
        };
        if a.moved + b.moved > 0 {
            self.last = now;
        }
        if b.moved > 0 {
            self.last_down = now;
        }
        let mut deadline = None;
        if let Some(at) = layers_busy_until(client, up, now) {
            // Bytes a layer holds for a moment to come (a delay's line, a
            // slice's gap, a held FIN) are traffic under way: the
            // connection is not quiet until then (for serve's own idle
            // check too, which reads `last_traffic`), and an idle timeout
            // must not drop them behind a FIN.
            self.last = self.last.max(at);
        }
        if let Some(idle) = self.rules.idle {
            let at = self.last + idle;
            if now >= at {
                // Both ends get a FIN.
                self.to_up.stop();
                self.to_down.stop();
                client.shut_write();
                up.shut_write();
                return Err(RelayEnd::Idle);
            }
            deadline = Some(at);
        }
        // An end owed to a port whose end ends both ways (a WebSocket's
        // Close) goes once the connection has been quiet a moment, or at
        // once when the other way has ended too.
        let (up_done, down_done) = (self.to_up.is_done(), self.to_down.is_done());
        for (half, to, other_done) in [
            (&mut self.to_up, up as &dyn Port, down_done),
            (&mut self.to_down, client as &dyn Port, up_done),
        ] {
            if half.end_owed() {
                let until = self.last + self.rules.quiet;
                if other_done || now >= until {
                    half.pass_end(&to);
                } else {
                    deadline = earliest(deadline, until);
                }
            }
        }
        if up.is_dgram() && self.to_up.is_done() && !self.to_down.is_done() {
            // A datagram upstream has no FIN: after the client's, quiet
            // ends it.
            let until = self.last_down.max(self.last) + self.rules.quiet;
            if now >= until {
                self.to_down.finish(client);
            } else {
                deadline = earliest(deadline, until);
            }
        } else if self.to_up.is_done() != self.to_down.is_done() {
            // One direction ended: the other gets the half-close timeout
            // without traffic (measured from that end, or its last byte).
            let half_at = *self.half_at.get_or_insert(now);
            let until = self.last.max(half_at) + self.rules.half_close;
            if now >= until {
                self.to_up.finish(up);
                self.to_down.finish(client);
                return Err(RelayEnd::HalfClosed(self.rules.half_close));
            }
            deadline = earliest(deadline, until);
        }
        let owed = self.to_up.end_owed() || self.to_down.end_owed();
        if self.halves_done() && !owed && !client.holds_output() && !up.holds_output() {
            return Ok(Next::Done);
        }
        // What a layer holds by time is waited for until its moment, not
        // by the descriptor's readiness.
        let (held_c, held_u) = (client.held(), up.held());
        let (up_reads, up_writes) = (self.to_up.wants_read(), self.to_up.wants_write());
        let (down_reads, down_writes) = (self.to_down.wants_read(), self.to_down.wants_write());
        for (wanted, at) in [
            (up_reads, held_c.read),
            (up_writes, held_u.write),
            (down_reads, held_u.read),
            (down_writes, held_c.write),
        ] {
            if let (true, Some(at)) = (wanted, at) {
                deadline = earliest(deadline, at);
            }
        }
        // A wake still to come is waited for; one past has woken this
        // step (a layer that still shows it waits on its descriptors).
        for at in [held_c.wake, held_u.wake].into_iter().flatten() {
            if at > now {
                deadline = earliest(deadline, at);
            }
        }
        Ok(Next::Wait(Wait {
            client: Interest {
                read: up_reads && held_c.read.is_none(),
                write: (down_writes && held_c.write.is_none()) || client.holds_output(),
            },
            upstream: Interest {
                read: down_reads && held_u.read.is_none(),
                write: (up_writes && held_u.write.is_none()) || up.holds_output(),
            },
            deadline,
            again: a.more || b.more,
        }))
    }
}

/// Send what a port's layer holds (TLS); a full socket is no failure.
fn flush(p: &impl Port) -> Result<(), HalfError> {
    match p.flush() {
        Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(HalfError::Write(e)),
        _ => Ok(()),
    }
}

/// The last moment still to come that a layer of either port waits on.
fn layers_busy_until(client: &impl Port, up: &impl Port, now: Instant) -> Option<Instant> {
    let (c, u) = (client.held(), up.held());
    [c.read, c.write, c.wake, u.read, u.write, u.wake]
        .into_iter()
        .flatten()
        .filter(|&at| at > now)
        .max()
}

fn earliest(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

#[cfg(test)]
mod tests;
