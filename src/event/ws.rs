//! The WebSocket's events: its Upgrade and its Close frames.

use serde_json::{Value, json};

use super::{Level, Log, place};

impl Log {
    /// A WebSocket's Upgrade done (`-v`): the path asked for, the
    /// protocol chosen and the client's Origin (`None` where there is none).
    pub fn websocket(&self, peer: &str, path: &str, protocol: Option<&str>, origin: Option<&str>) {
        if self.level < Level::Verbose {
            return;
        }
        let mut text = format!("websocket with {peer}: path {path}");
        if let Some(p) = protocol {
            text.push_str(&format!(", protocol {p}"));
        }
        if let Some(o) = origin {
            text.push_str(&format!(", origin {o}"));
        }
        self.emit(format_args!("{text}"), || {
            let mut v = json!({"event": "websocket", "peer": peer, "path": path,
                   "protocol": protocol, "origin": origin});
            place(&mut v, "", None, peer);
            v
        });
    }

    /// A WebSocket's end (`-v`): each side's Close frame, as a code and a
    /// reason (`None`: that side sent none; a code of `None` in one that
    /// came: a Close without a code).
    pub fn websocket_closed(
        &self,
        peer: &str,
        theirs: Option<(Option<u16>, &str)>,
        ours: Option<(Option<u16>, &str)>,
    ) {
        if self.level < Level::Verbose {
            return;
        }
        let said = |c: Option<(Option<u16>, &str)>| match c {
            None => "none".to_string(),
            Some((None, _)) => "no code".to_string(),
            Some((Some(code), "")) => code.to_string(),
            Some((Some(code), reason)) => format!("{code} ({reason})"),
        };
        let fields = |c: Option<(Option<u16>, &str)>| match c {
            None => (Value::Null, Value::Null),
            Some((code, reason)) => (json!(code), json!(reason)),
        };
        self.emit(
            format_args!(
                "websocket with {peer} closed: their close {}, ours {}",
                said(theirs),
                said(ours)
            ),
            || {
                let (their_code, their_reason) = fields(theirs);
                let (our_code, our_reason) = fields(ours);
                let mut v = json!({"event": "websocket_closed", "peer": peer,
                       "their_code": their_code, "their_reason": their_reason,
                       "our_code": our_code, "our_reason": our_reason});
                place(&mut v, "", None, peer);
                v
            },
        );
    }
}
