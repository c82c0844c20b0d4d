//! The Connector's layer stages: TLS's handshake begun on a connected
//! stream (its PROXY protocol header written), then a WebSocket's
//! Upgrade over it; each a `Stage::Securing` the Connector steps through
//! `Stream::handshake_nowait`.

use std::time::Instant;

use super::{Connector, Failure, Next, Stage, Upstream};
use crate::transport::tls::{self, TlsStream};
use crate::transport::{Stream, ws};

impl Connector {
    /// A connected stream with its header written: done, or its TLS
    /// handshake begun.
    pub(super) fn secure(&self, stream: Stream) -> Result<Next, Failure> {
        let Some(t) = self.opts.tls_client.as_deref() else {
            return Ok(self.upgrade(stream));
        };
        let tls = TlsStream::client(stream, t, &self.target).map_err(Failure::TlsSetup)?;
        let until = self
            .deadline
            .or_else(|| Some(Instant::now() + tls::HANDSHAKE_TIMEOUT));
        Ok(Next::Stage(Stage::Securing {
            stream: Stream::Tls(Box::new(tls)),
            until,
        }))
    }

    /// A connected stream (secured, with TLS): done, or its WebSocket's
    /// Upgrade begun.
    pub(super) fn upgrade(&self, stream: Stream) -> Next {
        match ws::client_over(self.opts.ws.as_deref(), stream) {
            Err(plain) => Next::Done(Upstream::Stream(plain)),
            Ok(ws) => Next::Stage(Stage::Securing {
                stream: ws,
                until: self
                    .deadline
                    .or_else(|| Some(Instant::now() + ws::HANDSHAKE_TIMEOUT)),
            }),
        }
    }
}
