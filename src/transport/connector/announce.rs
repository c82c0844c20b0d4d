//! The Connector's PROXY protocol stage (`--send-proxy`): the header
//! written first on a connected stream (inside the proxy's tunnel, before
//! TLS's hello), naming a forwarder's client or the socket's own ends.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Connector, Failure, Next, Stage};
use crate::error::Error;
use crate::transport::Stream;
use crate::transport::proxy_protocol::Announce;

impl Connector {
    /// A forwarder's: `--send-proxy`'s header names its client and the
    /// address that client reached (`None`: a Unix client, named by
    /// version 1's UNKNOWN and version 2's LOCAL, as HAProxy does).
    pub fn on_behalf_of(mut self, client: Option<(SocketAddr, SocketAddr)>) -> Connector {
        self.on_behalf = Some(client);
        self
    }

    /// A connected stream (through the tunnel, if any): `--send-proxy`'s
    /// header to write first, or on to TLS.
    pub(super) fn announce(&self, stream: Stream) -> Result<Next, Failure> {
        let Some(send) = &self.opts.send_proxy else {
            return self.secure(stream);
        };
        let out = Announce::new(send, self.on_behalf, &stream);
        Ok(Next::Stage(Stage::Announcing { stream, out }))
    }

    /// The header's step: on to TLS once written, or wait for writable
    /// within the deadline.
    pub(super) fn announcing(
        &mut self,
        stream: Stream,
        mut out: Announce,
        now: Instant,
    ) -> Result<Next, Failure> {
        match out.step(&stream) {
            Ok(true) => self.secure(stream),
            Ok(false) if self.until(true).is_none_or(|d| now < d) => {
                Ok(Next::Wait(Stage::Announcing { stream, out }))
            }
            Ok(false) => Err(Failure::TimedOut {
                at: self.target.to_string(),
            }),
            Err(e) => Err(Failure::Given(Error::io("send the PROXY header", e))),
        }
    }
}
