//! A connection's second byte stream and the pumps that move bytes between
//! it and the peer.
//!
//! Today the second stream is a program's pipes (`--exec`); a forwarded
//! socket is the next. The relay knows streams and pipes, not handlers: the
//! types it returns (how a transfer ended, what it moved) live here.
//!
//! * [`blocking`]: the pump for the forking and threading models, one
//!   thread per direction, and the lingering close every model ends with.
//! * [`nonblocking`]: the pump for the event loop, the program's pipes
//!   watched beside the socket.

pub mod blocking;
pub mod nonblocking;

/// What a relay moved, each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// From the peer to the second stream.
    pub up: u64,
    /// From the second stream to the peer.
    pub down: u64,
}
