//! The PROXY protocol's flags checked: who may send a server the header
//! (`--proxy-from`, loopback by default), the header a client writes
//! (`--send-proxy`, `--proxy-source`), and the transports they fit.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Server;
use crate::access::Access;
use crate::addr::{Addr, Kind};
use crate::cli::ServerArgs;
use crate::cli::proxy_protocol::{ProxyVersion, SendProxyArgs};
use crate::error::{Error, Result};
use crate::handler::proxied::ProxyRule;
use crate::transport::proxy_protocol::{SendProxy, Version};

/// Whom `--proxy-from` trusts without a list: a balancer on this host,
/// and on a Unix socket one running as the server's own user (with no
/// uid rule, every local user who may open the socket would be trusted).
/// Trusting anyone by default would let every client name any address
/// and walk past `--allow`.
pub const DEFAULT_FROM: [&str; 2] = ["127.0.0.0/8", "::1"];

/// `--proxy-protocol`: the sources whose header is taken and the access
/// list for the clients it names (`None`: no header is asked for).
pub(super) fn rule(server: &ServerArgs) -> Result<Option<Arc<ProxyRule>>> {
    let args = &server.proxy_protocol;
    if !args.proxy_protocol {
        return Ok(None);
    }
    let from: Vec<String> = match args.proxy_from.is_empty() {
        true => DEFAULT_FROM
            .iter()
            .map(|s| s.to_string())
            .chain([format!("uid:{}", nix::unistd::geteuid())])
            .collect(),
        false => args.proxy_from.clone(),
    };
    let from = Access::new(&from, &[]).map_err(|e| match e {
        Error::Usage(m) => Error::usage(format!("--proxy-from: {m}")),
        e => e,
    })?;
    let access = Access::new(&server.allow, &server.deny)?;
    Ok(Some(Arc::new(ProxyRule { from, access })))
}

/// `--send-proxy VERSION`, with the source `send` may claim.
pub(super) fn send_proxy(
    version: Option<ProxyVersion>,
    source: Option<SocketAddr>,
) -> Option<SendProxy> {
    let version = match version? {
        ProxyVersion::V1 => Version::V1,
        ProxyVersion::V2 => Version::V2,
    };
    Some(SendProxy { version, source })
}

/// `send --send-proxy`: a header starts a stream. A scan's bare connects
/// write nothing.
pub(super) fn send_checks(args: &SendProxyArgs, addr: Option<&Addr>) -> Result<()> {
    if args.send_proxy.is_none() {
        return Ok(());
    }
    match addr {
        None => Err(Error::usage(
            "--send-proxy writes a header on one connection, not on a scan's (-z with several ports)",
        )),
        Some(a) if a.is_datagram() => Err(Error::usage(format!(
            "--send-proxy begins a stream with its header; {a} is a {} address",
            a.kind()
        ))),
        Some(_) => Ok(()),
    }
}

/// What the listening sockets' kind decides (see `config::by_kind`).
pub(super) fn by_kind(plan: &Server, kind: Kind) -> Result<()> {
    if plan.settings.drive.proxy_protocol.is_some() && kind.is_datagram() {
        return Err(Error::usage(format!(
            "--proxy-protocol reads a header at the start of a stream; a {kind} server has none"
        )));
    }
    match &plan.handler {
        super::Handler::Forward(up)
            if up.forward.addr.is_datagram() && up.forward.opts.send_proxy.is_some() =>
        {
            let t = &up.forward.addr;
            Err(Error::usage(format!(
                "--send-proxy begins a stream with its header; --forward {t} is a {} address",
                t.kind()
            )))
        }
        _ => Ok(()),
    }
}
