//! `--broker` (serve only): what one client sends goes to every other client.
//!
//! The event loop owns the connections, so the broker is a rule the loop
//! applies: a chunk read from one client is queued on every other one.
//! Reading from senders pauses while any receiver's queue is full, so a
//! slow reader is not overrun; a receiver whose full queue has not moved
//! for `--stall-timeout` has stopped reading and is dropped, so it cannot
//! stall the room for longer than that.

use std::time::Duration;

/// Whether a receiver has stopped reading: its queue is full and has not
/// drained for `bound` (`--stall-timeout`). The same rule drops a peer
/// that holds back `serve`'s stdin relay.
pub fn stalled(queued: usize, limit: usize, since_drained: Duration, bound: Duration) -> bool {
    queued >= limit && since_drained >= bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_and_stuck_receivers_are_dropped() {
        let bound = Duration::from_secs(2);
        assert!(!stalled(10, 100, bound * 2, bound));
        assert!(!stalled(100, 100, Duration::from_millis(10), bound));
        assert!(stalled(100, 100, bound, bound));
    }
}
