//! `--forward ADDR`: each connection (each peer's session on a datagram
//! socket) gets a connection of its own to ADDR, and bytes move both ways.
//!
//! What a forwarder does is the relay's job (`relay::bridge::Bridge`, which
//! serve's loop steps and `relay::polled::bridge` drives for the blocking
//! models, and the datagram sessions in `relay::dgram_session`); this module holds the target
//! and the rules every model shares.

use std::time::Duration;

use crate::addr::Addr;
use std::os::fd::BorrowedFd;

use crate::transport::{self, Connector, Opts, Voice};

/// How long a forwarder waits for its upstream to accept, unless
/// `--connect-timeout` says otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Once one direction of a forwarded stream has ended, how long the other
/// may go without traffic before the connection ends, unless
/// `--half-close-timeout` says otherwise (nginx's `proxy_timeout`, socat's
/// `-t`): an upstream that never closes must not hold a slot for good.
pub const HALF_CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a forwarded datagram session lives without traffic, unless
/// `--idle-timeout` says otherwise.
pub const SESSION_IDLE: Duration = Duration::from_secs(60);

/// After a stream client's FIN, how long a datagram upstream may stay
/// quiet before the connection ends (socat's `-t`, the same 0.5 s): a
/// datagram socket has no FIN to wait for.
pub const DGRAM_QUIET: Duration = Duration::from_millis(500);

/// Where to forward, and how to connect there.
#[derive(Debug)]
pub struct Forward {
    pub addr: Addr,
    /// The address as events show it.
    pub shown: std::sync::Arc<str>,
    pub opts: Opts,
    pub timeout: Duration,
    /// After one direction's end, how long the other may stay quiet.
    pub half_close: Duration,
    /// The layers on each stream connection (`--rate`).
    pub layers: crate::relay::layers::Layers,
}

/// A forwarder's connection to its target.
pub use crate::transport::Upstream;

impl Forward {
    /// Connect (blocking, bounded by the timeout): the thread-serve and
    /// fork-serve way, and the datagram session's. It ends at once
    /// ("closed at shutdown") when `stop` becomes readable: the hard stop
    /// need not wait out an upstream's connect or handshake.
    pub fn connect_until(&self, stop: Option<BorrowedFd<'_>>) -> Result<Upstream, String> {
        transport::wait(self.connector(), stop).map_err(|e| self.failed(&e.to_string()))
    }

    /// The upstream's connect, not begun: every model's.
    pub fn connector(&self) -> Connector {
        Connector::new(
            &self.addr,
            &self.opts,
            Some(self.timeout),
            None,
            Voice::Forwarder,
        )
    }

    /// The event text of a failed upstream connection.
    pub fn failed(&self, why: &str) -> String {
        format!("forward to {} failed: {why}", self.shown)
    }
}
