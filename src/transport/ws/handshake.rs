//! The WebSocket opening handshake (RFC 6455 §4), an HTTP/1.1 Upgrade,
//! free of I/O: the request we send and the check of the answer (client),
//! the check of a request and the answer to it (server). httparse reads
//! the HTTP; tungstenite makes the key and its accept value.

use tungstenite::handshake::client::generate_key;
use tungstenite::handshake::derive_accept_key;

/// How much of a request or an answer we read before refusing it.
pub const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// A client's request, and the key its answer must prove it saw.
pub struct Request {
    pub bytes: Vec<u8>,
    pub key: String,
}

/// The request for `path` on `host` (the Host header), offering `protocol`.
pub fn request(host: &str, path: &str, protocol: Option<&str>) -> Request {
    let key = generate_key();
    let mut r = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(p) = protocol {
        r.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    r.push_str("\r\n");
    Request {
        bytes: r.into_bytes(),
        key,
    }
}

fn header<'a>(headers: &'a [httparse::Header<'a>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The server's answer to our request: `Ok(None)` while it is incomplete,
/// else the bytes it took and the protocol it chose.
pub fn check_answer(
    buf: &[u8],
    req: &Request,
    protocol: Option<&str>,
) -> Result<Option<(usize, Option<String>)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let took = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => return Err("the server's answer is too long".into()),
        Err(e) => return Err(format!("the server's answer is not HTTP ({e})")),
    };
    let code = resp.code.unwrap_or(0);
    if code != 101 {
        return Err(format!(
            "the server answered {code} {} instead of upgrading",
            resp.reason.unwrap_or("")
        ));
    }
    let h = resp.headers;
    if !has_token(header(h, "Upgrade"), "websocket")
        || !has_token(header(h, "Connection"), "upgrade")
    {
        return Err("the server's 101 has no Upgrade: websocket".into());
    }
    if header(h, "Sec-WebSocket-Accept") != Some(derive_accept_key(req.key.as_bytes()).as_str()) {
        return Err("the server's Sec-WebSocket-Accept does not match our key".into());
    }
    // We offer no extension: one the server says it uses would change the
    // frames (RFC 6455 4.1: the client fails the connection).
    if let Some(ext) = header(h, "Sec-WebSocket-Extensions").filter(|e| !e.trim().is_empty()) {
        return Err(format!(
            "the server uses the extension '{ext}', which we did not offer"
        ));
    }
    let chosen = header(h, "Sec-WebSocket-Protocol").map(str::to_string);
    if let Some(c) = &chosen {
        if protocol != Some(c.as_str()) {
            return Err(format!(
                "the server chose the protocol '{c}', which we did not offer"
            ));
        }
    }
    Ok(Some((took, chosen)))
}

/// What a server accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// The path a request must ask for (its query aside); any, if empty or `/`.
    pub path: String,
    /// `--ws-protocol`: chosen when the client offers it.
    pub protocol: Option<String>,
    /// `--allow-origin`: the Origins accepted (any, if none is given).
    pub origins: Vec<String>,
}

/// What a server learned from the request it accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The path the client asked for, with its query.
    pub path: String,
    pub protocol: Option<String>,
    pub origin: Option<String>,
}

/// A server's answer to a complete request.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Upgrade {
        response: Vec<u8>,
        accepted: Accepted,
    },
    Refuse {
        response: Vec<u8>,
        why: String,
    },
}

fn refuse(status: &str, why: String) -> Answer {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Sec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n{why}\n",
        why.len() + 1
    );
    Answer::Refuse {
        response: response.into_bytes(),
        why: format!("{status}: {why}"),
    }
}

/// The answer to the request at the start of `buf`: `None` while it is
/// incomplete, else the bytes it took and the answer.
pub fn answer(buf: &[u8], rules: &Rules) -> Option<(usize, Answer)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let took = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return None,
        Ok(httparse::Status::Partial) => {
            return Some((
                buf.len(),
                refuse(
                    "431 Request Header Fields Too Large",
                    "the request is too long".into(),
                ),
            ));
        }
        Err(e) => {
            return Some((
                buf.len(),
                refuse("400 Bad Request", format!("not an HTTP request ({e})")),
            ));
        }
    };
    Some((took, judge(&req, rules)))
}

fn judge(req: &httparse::Request<'_, '_>, rules: &Rules) -> Answer {
    let h = &*req.headers;
    let bad = |why: &str| refuse("400 Bad Request", why.to_string());
    if req.method != Some("GET") || req.version != Some(1) {
        return bad("a WebSocket upgrade is a GET over HTTP/1.1");
    }
    if !has_token(header(h, "Upgrade"), "websocket")
        || !has_token(header(h, "Connection"), "upgrade")
    {
        return bad("not a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)");
    }
    if header(h, "Sec-WebSocket-Version") != Some("13") {
        return refuse(
            "426 Upgrade Required",
            "Sec-WebSocket-Version must be 13".into(),
        );
    }
    let key = header(h, "Sec-WebSocket-Key").unwrap_or("");
    let key_ok = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 16)
    };
    if !key_ok {
        return bad("Sec-WebSocket-Key must be 16 bytes in base64");
    }
    let path = req.path.unwrap_or("/").to_string();
    let wanted = rules.path.as_str();
    let bare = path.split('?').next().unwrap_or("");
    if !(wanted.is_empty() || wanted == "/" || bare == wanted) {
        return refuse("404 Not Found", format!("no WebSocket at {bare}"));
    }
    let origin = header(h, "Origin").map(str::to_string);
    if !rules.origins.is_empty() {
        let allowed = origin
            .as_deref()
            .is_some_and(|o| rules.origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if !allowed {
            let shown = origin.as_deref().unwrap_or("none");
            return refuse("403 Forbidden", format!("origin {shown} is not allowed"));
        }
    }
    let protocol = rules
        .protocol
        .as_ref()
        .filter(|p| has_token(header(h, "Sec-WebSocket-Protocol"), p))
        .cloned();
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = &protocol {
        response.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    response.push_str("\r\n");
    Answer::Upgrade {
        response: response.into_bytes(),
        accepted: Accepted {
            path,
            protocol,
            origin,
        },
    }
}
