//! The PROXY protocol's flags checked: the header a client writes
//! (`--send-proxy`, `--proxy-source`), and the transports it fits.

use std::net::SocketAddr;

use super::Server;
use crate::addr::Addr;
use crate::cli::proxy_protocol::{ProxyVersion, SendProxyArgs};
use crate::error::{Error, Result};
use crate::transport::proxy_protocol::{SendProxy, Version};

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
pub(super) fn by_kind(plan: &Server, target: Option<&Addr>) -> Result<()> {
    match target {
        Some(t) if t.is_datagram() && plan_sends(plan) => Err(Error::usage(format!(
            "--send-proxy begins a stream with its header; --forward {t} is a {} address",
            t.kind()
        ))),
        _ => Ok(()),
    }
}

fn plan_sends(plan: &Server) -> bool {
    match &plan.handler {
        super::Handler::Forward(up) => up.forward.opts.send_proxy.is_some(),
        _ => false,
    }
}
