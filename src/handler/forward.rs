//! `--forward ADDR`: each connection (each peer's session on a datagram
//! socket) gets a connection of its own to ADDR, and bytes move both ways.
//!
//! What a forwarder does is the relay's job (`relay::blocking::bridge` for
//! the blocking models, `relay::nonblocking::Half` in the loop, and the
//! datagram sessions in `relay::dgram_session`); this module holds the target
//! and the rules every model shares.

use std::time::Duration;

use crate::addr::Addr;
use crate::transport::{self, Dgram, Opts, Stream};

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
}

/// A forwarder's connection to its target.
pub enum Upstream {
    Stream(Stream),
    Dgram(Dgram),
}

impl Forward {
    /// Connect (blocking, bounded by the timeout): the thread-serve and
    /// fork-serve way, and the datagram session's.
    pub fn connect(&self) -> Result<Upstream, String> {
        let r = if self.addr.is_datagram() {
            transport::connect_dgram(&self.addr, &self.opts, None).map(Upstream::Dgram)
        } else {
            transport::connect_upstream(&self.addr, &self.opts, Some(self.timeout))
                .map(Upstream::Stream)
        };
        r.map_err(|e| self.failed(&e.to_string()))
    }

    /// The event text of a failed upstream connection.
    pub fn failed(&self, why: &str) -> String {
        format!("forward to {} failed: {why}", self.shown)
    }
}
