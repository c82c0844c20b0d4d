//! `--broker` (serve only): what one client sends goes to every other client.
//!
//! The event loop owns the connections, so the broker is a rule the loop
//! applies: a chunk read from one connection is queued on every other one.
//! A client whose queue is full (it stopped reading) is dropped rather than
//! allowed to stall the room.

/// What to do with one recipient of a broadcast chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Deliver {
    Queue,
    /// Its queue would pass the limit: disconnect it.
    Drop,
}

pub fn deliver(queued: usize, chunk: usize, limit: usize) -> Deliver {
    if queued + chunk > limit {
        Deliver::Drop
    } else {
        Deliver::Queue
    }
}
