//! Why a connect failed ([`Failure`]), in its caller's words
//! ([`Voice`]): the texts each caller has always shown.

use super::{Connector, Voice, proxy};
use crate::error::{Error, describe};
use std::io;

/// Why a connect failed, worded by [`Connector::fail`].
pub(super) enum Failure {
    /// Said as it is (a resolver's answer, a usage error).
    Given(Error),
    /// Every attempt failed: the last one's address and error.
    Refused {
        at: String,
        err: io::Error,
    },
    NoAddress,
    TimedOut {
        at: String,
    },
    ResolverSilent,
    /// The proxy refused, closed, or failed (in its words).
    Proxy(String),
    ProxySilent,
    TlsSetup(io::Error),
    Tls(io::Error),
    TlsSilent,
    /// The WebSocket's Upgrade was not answered in time.
    WsSilent,
}

impl Connector {
    /// A failure in its caller's words.
    pub(super) fn fail(&self, f: Failure) -> Error {
        let proxied = matches!(f, Failure::Refused { .. } | Failure::TimedOut { .. })
            && self.opts.proxy.is_some();
        let waited = || {
            humantime::format_duration(self.window.unwrap_or(proxy::HANDSHAKE_TIMEOUT)).to_string()
        };
        let e = match (self.voice, f) {
            (_, Failure::Given(e)) => return e,
            (_, Failure::NoAddress) => Error::runtime("no address"),
            (Voice::Client, Failure::Refused { at, err }) => {
                Error::io(format!("connect to {at}"), err)
            }
            (Voice::Forwarder, Failure::Refused { at, err }) => {
                Error::runtime(format!("connect to {at}: {}", describe(&err)))
            }
            (Voice::Client, Failure::TimedOut { at }) => {
                Error::Timeout(format!("connect to {at}: timed out"))
            }
            (Voice::Forwarder, Failure::TimedOut { at }) => {
                Error::Timeout(format!("connect to {at}: timed out after {}", waited()))
            }
            (_, Failure::ResolverSilent) => {
                Error::Timeout(format!("no answer from the resolver in {}", waited()))
            }
            (_, Failure::Proxy(why)) => return self.proxy_said(Error::runtime(why)),
            (_, Failure::ProxySilent) => {
                return self.proxy_said(Error::Timeout(format!("no answer within {}", waited())));
            }
            (Voice::Client, Failure::TlsSetup(e)) => Error::io("tls", e),
            (Voice::Client, Failure::Tls(e)) => Error::io(format!("connect to {}", self.target), e),
            (Voice::Client, Failure::TlsSilent) => {
                Error::Timeout(format!("connect to {}: timed out", self.target))
            }
            (Voice::Forwarder, Failure::TlsSetup(e) | Failure::Tls(e)) => {
                Error::runtime(describe(&e))
            }
            (Voice::Client, Failure::WsSilent) => Error::Timeout(format!(
                "connect to {}: websocket: no answer to the upgrade",
                self.target
            )),
            (Voice::Forwarder, Failure::WsSilent) => {
                Error::Timeout(format!("websocket: no upgrade within {}", waited()))
            }
            (Voice::Forwarder, Failure::TlsSilent) => {
                Error::Timeout(format!("tls: no handshake within {}", waited()))
            }
        };
        if proxied { self.proxy_said(e) } else { e }
    }

    /// `e`, said of the proxy.
    fn proxy_said(&self, e: Error) -> Error {
        let Some(p) = &self.opts.proxy else {
            return e;
        };
        match e {
            Error::Timeout(m) => Error::Timeout(format!("proxy {}: {m}", p.url)),
            e => p.error(e),
        }
    }
}
