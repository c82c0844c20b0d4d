//! `--forward ADDR`: each connection (each peer's session on a datagram
//! socket) gets a connection of its own to ADDR, and bytes move both ways.
//!
//! What a forwarder does is the relay's job (`relay::bridge::Bridge`, which
//! serve's loop steps and `relay::polled::bridge` drives for the blocking
//! models, and the datagram sessions in `relay::dgram_session`); this module holds the target
//! and the rules every model shares.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::{Drive, End};
use crate::addr::Addr;
use crate::event::ConnStats;
use crate::relay::layers::ConnLayers;
use crate::relay::{RelaySocket, polled};
use crate::transport::{self, Connector, Dgram, Endpoint, Opts, ReplyTo, Stream, Voice};

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

/// Whose connection an upstream connect is for: the client, and the
/// address it connected to (named by `--send-proxy`'s header).
#[derive(Clone, Copy)]
pub struct Client<'a> {
    pub peer: &'a Endpoint,
    pub local: &'a Endpoint,
}

/// A forwarder's connection to its target.
pub use crate::transport::Upstream;

impl Forward {
    /// Connect (blocking, bounded by the timeout): the thread-serve and
    /// fork-serve way, and the datagram session's. It ends at once
    /// ("closed at shutdown") when `stop` becomes readable: the hard stop
    /// need not wait out an upstream's connect or handshake.
    pub fn connect_until(
        &self,
        client: Client<'_>,
        stop: Option<BorrowedFd<'_>>,
    ) -> Result<Upstream, String> {
        transport::wait(self.connector(client), stop).map_err(|e| self.failed(&e.to_string()))
    }

    /// The upstream's connect for `client`'s connection, not begun: every
    /// model's. `--send-proxy`'s header names the client and the address
    /// it reached (a Unix client: none).
    pub fn connector(&self, client: Client<'_>) -> Connector {
        let c = Connector::new(
            &self.addr,
            &self.opts,
            Some(self.timeout),
            None,
            Voice::Forwarder,
        );
        match (client.peer, client.local) {
            (Endpoint::Inet(p), Endpoint::Inet(l)) => c.on_behalf_of(Some((*p, *l))),
            _ => c.on_behalf_of(None),
        }
    }

    /// The event text of a failed upstream connection.
    pub fn failed(&self, why: &str) -> String {
        format!("forward to {} failed: {why}", self.shown)
    }
}

/// `--forward` on a blocking model's connection (a thread's or a child's): connect to the target, then
/// bridge the two until both directions have ended.
pub fn serve_stream(
    stream: &Stream,
    peer: &Endpoint,
    f: &Forward,
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    // Looked at again here, as late as can be: the worker whose upstream
    // this connection may be could have noted its socket only after the
    // accepting loop looked.
    if let (Endpoint::Inet(p), Endpoint::Inet(l)) = (peer, stream.local()) {
        if crate::transport::ours::looped(*p, l) {
            polled::linger_close(stream);
            return Err(End::Forward(f.failed(
                "the connection comes from this server's own upstream (a forwarding loop)",
            )));
        }
    }
    // The client is owed an answer from here on: until the bridge ends
    // cleanly, a close (a failed connect, this process killed at the end
    // of the grace period) is a reset, never a FIN that looks like an
    // empty answer.
    stream.reset_on_close();
    let Ok(mut layers) = ConnLayers::start(&f.layers, &d.log, peer, std::time::Instant::now())
    else {
        return Ok(()); // `--refuse`: reset (as set above), no connect
    };
    let local = stream.local();
    let client = Client {
        peer,
        local: &local,
    };
    let up = match f.connect_until(client, polled::cut_signal()) {
        Ok(up) => up,
        Err(m) => return Err(End::Forward(m)),
    };
    let side = match &up {
        Upstream::Stream(s) => RelaySocket::Stream(s),
        Upstream::Dgram(g) => RelaySocket::Dgram(g),
    };
    let label = peer.to_string();
    let opts = polled::BridgeOpts {
        idle: d.idle,
        hex: d.hex,
        label: &label,
        quiet: DGRAM_QUIET,
        half_close: f.half_close,
    };
    let (moved, via, end) = polled::bridge(stream, side, &mut layers, opts);
    tally.bytes_in = moved.up;
    tally.bytes_out = moved.down;
    tally.via = Some(via);
    end.map_or(Ok(()), |e| Err(e.into()))
}

/// Serve one forwarded datagram session on a worker (thread or child):
/// connect to the target, then relay until the session has ended.
pub fn serve_session(
    f: &Forward,
    inbox: std::os::fd::OwnedFd,
    first: &[u8],
    peer: &Endpoint,
    to: &ReplyTo,
    sock: &std::sync::Arc<Dgram>,
    d: &Drive,
) -> (ConnStats, Option<End>) {
    use crate::relay::dgram_session::{self, DgramSession, ReplyPath, Timers};
    let local = sock.local.clone();
    let client = Client {
        peer,
        local: &local,
    };
    let up = match f.connect_until(client, polled::cut_signal()) {
        Ok(Upstream::Dgram(g)) => g,
        Ok(Upstream::Stream(_)) => {
            // Refused when the arguments were checked.
            return (
                ConnStats::default(),
                Some(End::Forward(f.failed("not a datagram address"))),
            );
        }
        Err(m) => {
            let t = ConnStats {
                bytes_in: first.len() as u64,
                ..ConnStats::default()
            };
            return (t, Some(End::Forward(m)));
        }
    };
    // Never wait on the upstream: a datagram it cannot take now is
    // dropped, as a full socket buffer would drop it.
    if let Err(e) = up.set_nonblocking(true) {
        return (ConnStats::default(), Some(End::Io(e)));
    }
    let back = ReplyPath {
        sock: sock.clone(),
        to: to.clone(),
    };
    let timers = Timers {
        idle: d.idle.unwrap_or(SESSION_IDLE),
        quiet: DGRAM_QUIET,
    };
    let now = std::time::Instant::now();
    let mut s = DgramSession::new(peer.clone(), Some(up), back, timers, d.hex, now);
    s.faults(crate::relay::dgram_faults::DgramFaults::start(
        &f.layers, &d.log, peer,
    ));
    s.from_peer(first, now);
    dgram_session::run(inbox, &mut s);
    (s.tally(), None)
}
