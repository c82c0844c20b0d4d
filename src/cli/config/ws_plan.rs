//! The WebSocket's plan: a ws:// or wss:// address split into the TCP
//! address beneath, TLS, and the Upgrade's Host and path; the WebSocket
//! flags checked (`--binary`, `--ws-protocol`, `--allow-origin`) and made
//! into what `transport::Opts` carries (nothing to make: it is data).

use std::ffi::{OsStr, OsString};
use std::sync::Arc;

use crate::addr::{self, WsUrl};
use crate::cli::ws::{WsArgs, WsServerArgs};
use crate::error::{Error, Result};
use crate::transport::ws::{Framing, Rules, Ws};

/// `raw` as the address beneath its layers' schemes (ws://, wss://,
/// tls://), whether TLS carries it (or `--tls`, `tls_flag`, says so), and
/// the WebSocket's URL.
pub(super) fn strip_layers(
    raw: &OsStr,
    tls_flag: bool,
    udp: bool,
    unix: bool,
) -> Result<(OsString, bool, Option<WsUrl>)> {
    let (raw, ws) = strip_ws(raw, udp, unix)?;
    let (raw, tls) = super::tls_plan::strip_tls(&raw, tls_flag, udp)?;
    Ok((raw, tls || ws.as_ref().is_some_and(|u| u.tls), ws))
}

/// How events show a --forward target: its URL, `tls://` before a TLS one.
pub(super) fn shown_with_layers(ws: Option<&WsUrl>, tls: bool, plain: String) -> String {
    match ws {
        Some(u) => u.to_string(),
        None if tls => format!("tls://{plain}"),
        None => plain,
    }
}

/// A server's WebSocket flags: refused unless it serves a WebSocket
/// (`serves`) or forwards to one.
pub(super) fn server_ws_flags(
    args: &WsServerArgs,
    serves: bool,
    handler: &super::Handler,
) -> Result<()> {
    let upstream = matches!(handler, super::Handler::Forward(up) if up.forward.opts.ws.is_some());
    unused_flags(&args.ws, &args.allow_origin, serves, serves || upstream)
}

/// `raw` as `tcp://HOST:PORT` when it is a ws:// or wss:// URL, and the URL.
fn strip_ws(raw: &OsStr, udp: bool, unix: bool) -> Result<(OsString, Option<WsUrl>)> {
    let Some(parsed) = raw.to_str().and_then(addr::parse_ws) else {
        return Ok((raw.to_owned(), None));
    };
    let url = parsed?;
    if udp || unix {
        let flag = if udp { "-u" } else { "-U" };
        return Err(Error::usage(format!(
            "{flag} conflicts with the address '{url}' (a WebSocket runs over TCP)"
        )));
    }
    Ok((url.addr.clone().into(), Some(url)))
}

/// A client's WebSocket (send's, a --forward upstream's) for `url`.
pub(super) fn client_ws(url: &WsUrl, args: &WsArgs, newline: bool) -> Arc<Ws> {
    Arc::new(Ws::Client {
        host: url.host.clone(),
        path: url.path.clone(),
        protocol: args.ws_protocol.clone(),
        framing: Framing {
            binary: args.binary,
            newline,
        },
    })
}

/// A server's WebSocket for `url` (the path it serves: any, for `/`).
pub(super) fn server_ws(url: &WsUrl, args: &WsServerArgs) -> Arc<Ws> {
    let path = url.path.split('?').next().unwrap_or("/").to_string();
    Arc::new(Ws::Server {
        rules: Rules {
            path,
            protocol: args.ws.ws_protocol.clone(),
            origins: args.allow_origin.clone(),
        },
        framing: Framing {
            binary: args.ws.binary,
            newline: true,
        },
    })
}

/// The WebSocket flags refused where no WebSocket is made: `server` says
/// whether the listening address is one (only it takes --allow-origin),
/// `any` whether any WebSocket is.
pub(super) fn unused_flags(
    args: &WsArgs,
    origins: &[String],
    server: bool,
    any: bool,
) -> Result<()> {
    let flag = if !origins.is_empty() && !server {
        Some(
            "--allow-origin checks a WebSocket client's Origin: it needs a ws:// or wss:// address to serve",
        )
    } else if args.binary && !any {
        Some("--binary chooses WebSocket messages: it needs a ws:// or wss:// address")
    } else if args.ws_protocol.is_some() && !any {
        Some("--ws-protocol names a WebSocket subprotocol: it needs a ws:// or wss:// address")
    } else {
        None
    };
    flag.map_or(Ok(()), |m| Err(Error::usage(m)))
}
