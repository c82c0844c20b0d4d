//! `ws://` and `wss://` URLs: split into the TCP address beneath, TLS,
//! and the WebSocket Upgrade's Host and path (pure, like the rest of
//! `addr`).

use std::fmt;

use super::split_host_port;
use crate::error::{Error, Result};

/// A `ws://` or `wss://` URL split: the TCP address beneath, whether TLS
/// carries the WebSocket, and the Upgrade's Host header and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    pub tls: bool,
    /// `tcp://HOST:PORT` (port 80 or 443 when the URL names none).
    pub addr: String,
    /// The Host header: the URL's host and port as written.
    pub host: String,
    /// The path and query (`/` when the URL has none).
    pub path: String,
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.host, self.path)
    }
}

/// `ws://HOST[:PORT][/PATH]` and `wss://…`: `None` for any other address.
pub fn parse_ws(s: &str) -> Option<Result<WsUrl>> {
    let (tls, rest) = if let Some(r) = s.strip_prefix("ws://") {
        (false, r)
    } else {
        (true, s.strip_prefix("wss://")?)
    };
    let rest = rest.split('#').next().unwrap_or("");
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    let bad = |m: &str| Some(Err(Error::usage(format!("{m} in address '{s}'"))));
    if authority.is_empty() {
        return bad("no host");
    }
    if authority.contains('@') {
        return bad("a user name is not part of a WebSocket address");
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return bad("a space or control character in the path");
    }
    // A port is the digits after the last ':' (after ']' for IPv6).
    let tail = authority.rsplit(']').next().unwrap_or("");
    let has_port = tail
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let with_port = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    if let Err(m) = split_host_port(&with_port) {
        return bad(&m);
    }
    Some(Ok(WsUrl {
        tls,
        addr: format!("tcp://{with_port}"),
        host: authority.to_string(),
        path,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_the_address_and_the_upgrade() {
        let cases = [
            (
                "ws://h:8080/chat?x=1",
                false,
                "tcp://h:8080",
                "h:8080",
                "/chat?x=1",
            ),
            (
                "wss://example.com",
                true,
                "tcp://example.com:443",
                "example.com",
                "/",
            ),
            ("ws://[::1]/p#frag", false, "tcp://[::1]:80", "[::1]", "/p"),
            ("ws://h:1?q", false, "tcp://h:1", "h:1", "/?q"),
        ];
        for (raw, tls, addr, host, path) in cases {
            let u = parse_ws(raw).unwrap().unwrap();
            assert_eq!(
                (u.tls, u.addr.as_str(), u.host.as_str(), u.path.as_str()),
                (tls, addr, host, path),
                "{raw}"
            );
        }
        assert_eq!(
            parse_ws("wss://h/p").unwrap().unwrap().to_string(),
            "wss://h/p"
        );
        assert!(parse_ws("tcp://h:1").is_none());
        for bad in [
            "ws://",
            "ws:///p",
            "ws://u@h/",
            "ws://h/a b",
            "ws://h:99999/",
            "ws://::1/",
        ] {
            assert!(parse_ws(bad).unwrap().is_err(), "{bad}");
        }
    }
}
