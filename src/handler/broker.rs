//! `--broker` (serve only): what one client sends goes to every other client.
//!
//! The event loop owns the connections, so the broker is a rule the loop
//! applies: a chunk read from one client is queued on every other one.
//! Reading from senders pauses while any receiver's queue is full, so a
//! slow reader is not overrun; a receiver whose full queue has not moved
//! for [`STALL`] has stopped reading and is dropped, so it cannot stall the
//! room for longer than that.

use std::time::Duration;

/// How long a full queue may sit without draining before its client is dropped.
pub const STALL: Duration = Duration::from_secs(2);

/// Whether a receiver has stopped reading: its queue is full and has not
/// drained for [`STALL`].
pub fn stalled(queued: usize, limit: usize, since_drained: Duration) -> bool {
    queued >= limit && since_drained >= STALL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_and_stuck_receivers_are_dropped() {
        assert!(!stalled(10, 100, STALL * 2));
        assert!(!stalled(100, 100, Duration::from_millis(10)));
        assert!(stalled(100, 100, STALL));
    }
}
