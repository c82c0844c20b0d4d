//! `--proxy-protocol`: the one rule every model applies to a connection's
//! PROXY protocol header. The accepting side takes the connection only
//! from a trusted balancer (`--proxy-from`, in `servers::Server::admit`);
//! then the header is read (serve's loop steps a
//! `transport::proxy_protocol::Reading` on its events, a blocking model's
//! worker waits on it here with poll(2)), and [`admit`] turns what it
//! read into the peer every event, `--allow`/`--deny` and
//! `SOCKCAT_PEER_*` see, or refuses the connection with one event.

use std::sync::Arc;

use super::Drive;
use crate::access::Access;
use crate::addr::Kind;
use crate::event::Log;
use crate::transport::proxy_protocol::{self, Header};
use crate::transport::{Endpoint, Stream};

/// Whose header is taken, and who may then be served.
#[derive(Debug)]
pub struct ProxyRule {
    /// `--proxy-from`: the balancers (the connection's own peer).
    pub from: Access,
    /// `--allow`/`--deny`, applied to the client the header names.
    pub access: Access,
}

/// What a header read says of a connection from `real` (a trusted
/// balancer): `Ok`, the client to serve it as (logged as any new
/// connection is); `Err` when it is refused (logged once: a bad or missing
/// header, or a client the access list refuses), with the peer its
/// closing event names: the client a header named, or else `real`.
pub fn admit(
    rule: &ProxyRule,
    log: &Log,
    stream: &Stream,
    real: &Endpoint,
    read: Result<Header, String>,
) -> Result<Endpoint, Endpoint> {
    let kind = kind_of(stream);
    let header = match read {
        Ok(h) => h,
        Err(why) => {
            log.refused_because(kind, &real.to_string(), &why);
            return Err(real.clone());
        }
    };
    let peer = header.peer(real);
    let cred = peer.credentials().map(|c| c.0);
    if !rule.access.permits(peer.ip(), cred) {
        log.refused(kind, &peer.to_string());
        return Err(peer);
    }
    log.connection(kind, &peer.to_string(), peer.credentials());
    Ok(peer)
}

/// A blocking model's worker: the header read (bounded by
/// `proxy_protocol::HEADER_TIMEOUT`, or a shorter `--idle-timeout`) and
/// admitted, `peer` replaced by the client it names. `false`: refused.
pub fn read_blocking(
    rule: &Arc<ProxyRule>,
    d: &Drive,
    stream: &Stream,
    peer: &mut Endpoint,
) -> bool {
    let read = proxy_protocol::read_blocking(stream, d.idle);
    match admit(rule, &d.log, stream, peer, read) {
        Ok(p) => {
            *peer = p;
            true
        }
        Err(p) => {
            *peer = p;
            false
        }
    }
}

/// The transport's name for events: TCP or a Unix stream (under a layer,
/// the socket beneath).
fn kind_of(stream: &Stream) -> Kind {
    match stream.innermost() {
        Stream::Unix(_) => Kind::Unix,
        _ => Kind::Tcp,
    }
}
