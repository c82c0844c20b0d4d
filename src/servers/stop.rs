//! How every model stops, one implementation: the first stop signal (or a
//! closed stdout) ends accepting and starts the grace period (`--grace`);
//! a second signal ends the process at once (its handler, in
//! [`install_signals`]); once the grace period is over, what is still
//! open is cut, and a worker that outlives the cut by [`HARD_STOP`] is
//! abandoned. A cut connection is shown the same way in every model:
//! one warning with the count, then each one's `closed at shutdown` line,
//! its `closed` event, and its place in the summary's count.

use std::time::Instant;

use super::*;

/// How long past the grace period cut workers get before the server exits
/// anyway.
pub const HARD_STOP: Duration = Duration::from_secs(2);

/// What a cut connection's error line says, in every model.
pub const CLOSED_AT_SHUTDOWN: &str = "closed at shutdown";

/// Where a server is in its stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No stop was asked for.
    Serving,
    /// Stopping: nothing new is accepted; open work may finish.
    Grace,
    /// The grace period just ended: cut what is still open (once).
    Cut,
    /// Cut, and waiting for the cut workers to end.
    Cutting,
    /// The cut workers had [`HARD_STOP`] more and are still there: exit.
    Abandon,
}

/// A server's stop: when its grace period ends, and whether what was open
/// has been cut.
#[derive(Debug, Default)]
pub struct Stop {
    /// The end of the grace period, once a stop began.
    deadline: Option<Instant>,
    /// When the open work was cut.
    cut_at: Option<Instant>,
}

impl Stop {
    /// Once per turn of a model's loop: begin the stop if a signal came or
    /// stdout closed (returns true that once: the caller closes its
    /// listening sockets then).
    pub fn begins(&mut self, server: &Server, stdout_closed: bool) -> bool {
        if self.deadline.is_some() {
            return false;
        }
        self.deadline = server.stop_deadline(stdout_closed);
        if self.deadline.is_some() {
            notify("STOPPING=1");
        }
        self.deadline.is_some()
    }

    /// Whether the server is stopping (accepts nothing new).
    pub fn stopping(&self) -> bool {
        self.deadline.is_some()
    }

    /// What the stop asks for now. [`Phase::Cut`] comes once; after it,
    /// [`Phase::Cutting`] until [`HARD_STOP`] has passed.
    pub fn phase(&mut self, now: Instant) -> Phase {
        match (self.deadline, self.cut_at) {
            (None, _) => Phase::Serving,
            (Some(d), None) if now < d => Phase::Grace,
            (Some(_), None) => {
                self.cut_at = Some(now);
                Phase::Cut
            }
            (Some(_), Some(c)) if now < c + HARD_STOP => Phase::Cutting,
            (Some(_), Some(_)) => Phase::Abandon,
        }
    }

    /// The next moment the stop asks something of the loop, if any: the
    /// end of the grace period, then the hard stop.
    pub fn due(&self) -> Option<Instant> {
        match (self.deadline, self.cut_at) {
            (Some(d), None) => Some(d),
            (_, Some(c)) => Some(c + HARD_STOP),
            (None, None) => None,
        }
    }

    /// Whether the open work has been cut.
    pub fn was_cut(&self) -> bool {
        self.cut_at.is_some()
    }
}

impl Server {
    /// One connection (or session, or datagram's program) the end of the
    /// grace period cut: its error line, its `closed` event and its place
    /// in the count, the same in every model. `tally` holds what is known
    /// of its bytes (a killed child's are not).
    pub fn closed_at_shutdown(
        &self,
        peer: &crate::transport::Endpoint,
        tally: crate::event::ConnStats,
        took: Duration,
        totals: &mut ServerTotals,
    ) {
        let log = &self.service.settings.log;
        log.error(&format!("{peer}: {CLOSED_AT_SHUTDOWN}"));
        log.closed(self.kind, &peer.to_string(), tally, took);
        totals.conns += 1;
        totals.add(tally);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop_at(deadline: Instant) -> Stop {
        Stop {
            deadline: Some(deadline),
            cut_at: None,
        }
    }

    #[test]
    fn a_server_not_stopping_serves() {
        let mut s = Stop::default();
        assert_eq!(s.phase(Instant::now()), Phase::Serving);
        assert!(!s.stopping());
        assert_eq!(s.due(), None);
    }

    #[test]
    fn the_grace_period_then_one_cut_then_the_hard_stop() {
        let t0 = Instant::now();
        let mut s = stop_at(t0 + Duration::from_secs(1));
        assert_eq!(s.phase(t0), Phase::Grace);
        assert_eq!(s.due(), Some(t0 + Duration::from_secs(1)));
        let end = t0 + Duration::from_secs(1);
        assert_eq!(s.phase(end), Phase::Cut);
        assert!(s.was_cut());
        // The cut comes once; the hard stop counts from it.
        assert_eq!(s.phase(end), Phase::Cutting);
        assert_eq!(s.due(), Some(end + HARD_STOP));
        assert_eq!(s.phase(end + HARD_STOP / 2), Phase::Cutting);
        assert_eq!(s.phase(end + HARD_STOP), Phase::Abandon);
    }

    #[test]
    fn a_late_turn_cuts_before_it_abandons() {
        // A loop that looks long after the deadline still cuts first, and
        // gives the cut workers the whole hard stop.
        let t0 = Instant::now();
        let mut s = stop_at(t0);
        let late = t0 + HARD_STOP * 3;
        assert_eq!(s.phase(late), Phase::Cut);
        assert_eq!(s.phase(late), Phase::Cutting);
    }
}
