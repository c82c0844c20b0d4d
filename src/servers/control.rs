//! `--control PATH`: the control socket of a forwarding server (issue
//! 23: faults changed while it runs, as toxiproxy's API changes its
//! toxics). One thread in the server's process accepts on a Unix socket
//! made like a server's own (a live socket at PATH is never taken over,
//! mode 0600, removed at exit) and answers each JSON object a client
//! sends, one a line, with one JSON object a line; what it changes it
//! writes to the fault table (`relay::live`), which every connection of
//! every model reads between its steps.
//!
//! A client cannot stall the server: the thread never holds the table
//! while it waits on a client, a line is bounded ([`MAX_LINE`]), a
//! client that does not read its answers within [`WRITE_TIMEOUT`] is
//! dropped, and so is one that sends nothing for [`READ_TIMEOUT`], and
//! at most [`MAX_CLIENTS`] are served at once.

use std::io::{BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::addr::UnixName;
use crate::error::{Error, Result};
use crate::event::Log;
use crate::relay::live::{self, Begun, Change, Control, FaultTable, Scope};
use crate::transport::unix::SocketFile;

/// The longest line a client may send (bytes, newline included).
pub const MAX_LINE: usize = 4096;

/// How long an answer may wait for a client to read it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a client may send nothing before it is dropped (so clients
/// that connect and stay silent cannot hold every place for good).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The most clients served at once (one more is told so and closed).
pub const MAX_CLIENTS: usize = 8;

/// The control socket's file, removed by [`close`] when the server ends
/// (its thread never does).
static FILE: std::sync::Mutex<Option<SocketFile>> = std::sync::Mutex::new(None);

/// Remove the control socket's file (the server's end, in every model).
pub fn close() {
    let file = FILE.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(file);
}

/// Make the table and bind the socket (the server's setup, before its
/// readiness lines: a path that cannot be bound is an error before the
/// server says it is ready).
pub fn bind(c: &Control) -> Result<UnixListener> {
    c.table
        .open()
        .map_err(|e| Error::io("--control: the fault table".to_string(), e))?;
    let name = UnixName::Path(c.path.clone());
    let (listener, file) = crate::transport::unix::bind_stream(&name, Some(0o600), 16)?;
    if let Some(f) = &file {
        // (Also removed by a second Ctrl-C's exit at once.)
        super::register_socket_file(f.path.clone());
    }
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = file;
    Ok(listener)
}

/// Say where it listens (after the readiness lines) and serve it on a
/// thread of its own.
pub fn start(listener: UnixListener, c: &Control, begun: Begun, log: &Log) -> Result<()> {
    log.emit(
        format_args!("control socket on unix:{}", c.path.display()),
        || json!({"event": "control", "transport": "unix", "address": c.path.display().to_string()}),
    );
    let table = c.table.clone();
    let flags = json!({"faults": c.flags, "dir": c.dir.as_str(), "datagram": c.datagram});
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || accept(&listener, &table, &begun, &flags))
        .map_err(|e| Error::io("--control: start its thread".to_string(), e))?;
    Ok(())
}

fn accept(listener: &UnixListener, table: &Arc<FaultTable>, begun: &Begun, flags: &Value) {
    let clients = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_write_timeout(Some(WRITE_TIMEOUT));
        let _ = conn.set_read_timeout(Some(READ_TIMEOUT));
        if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::SeqCst);
            let _ = reply(&mut conn, &error("too many control clients at once"));
            continue;
        }
        let (table, begun, clients) = (table.clone(), begun.clone(), clients.clone());
        let flags = flags.clone();
        let spawned = std::thread::Builder::new()
            .name("control client".into())
            .spawn(move || {
                serve(conn, &table, &begun, &flags);
                clients.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // (Its count is the thread's to give back; none started.)
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Answer one client's lines until its end (or it stops reading).
fn serve(conn: UnixStream, table: &FaultTable, begun: &Begun, flags: &Value) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(conn);
    while let Ok(Some((line, over))) = live::read_line(&mut lines, MAX_LINE) {
        let answer = if over {
            error(&format!("line longer than {MAX_LINE} bytes"))
        } else if line.trim_ascii().is_empty() {
            continue;
        } else {
            answer(&line, table, begun, flags)
        };
        if reply(&mut out, &answer).is_err() {
            return;
        }
    }
}

fn reply(out: &mut UnixStream, v: &Value) -> std::io::Result<()> {
    let mut text = v.to_string();
    text.push('\n');
    out.write_all(text.as_bytes())
}

fn error(message: &str) -> Value {
    json!({"ok": false, "error": message})
}

/// The answer to one line (`flags`: the fault flags the server began
/// with, which `list` shows beside the changes).
pub fn answer(line: &[u8], table: &FaultTable, begun: &Begun, flags: &Value) -> Value {
    let req: Value = match serde_json::from_slice(line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return error("expected a JSON object, such as {\"op\":\"list\"}"),
        Err(e) => return error(&format!("invalid JSON: {e}")),
    };
    let op = req.get("op").and_then(Value::as_str).unwrap_or("");
    match op {
        "list" => json!({"ok": true, "version": table.version(),
                         "connections": begun.load(Ordering::Relaxed), "flags": flags,
                         "changes": table.changes().iter().map(Change::to_json).collect::<Vec<_>>()}),
        "add" | "set" | "change" | "remove" => match change(&req, op == "remove", table, begun)
            .and_then(|c| match live::misfit(&c.name, flags["datagram"] == true) {
                Some(why) => Err(why),
                None => Ok(c),
            }) {
            Ok(c) => match table.publish(c) {
                Ok(v) => json!({"ok": true, "version": v}),
                Err(e) => error(&format!("the fault table: {e}")),
            },
            Err(m) => error(&m),
        },
        "" => error("missing \"op\": expected add, change, remove or list"),
        other => error(&format!(
            "unknown op '{other}': expected add, change, remove or list"
        )),
    }
}

/// The change a line asks for, checked (its fault read by the flag's
/// own parser).
fn change(
    req: &Value,
    remove: bool,
    table: &FaultTable,
    begun: &Begun,
) -> std::result::Result<Change, String> {
    let name = match req.get("fault") {
        Some(Value::String(s)) => s.trim_start_matches("--").to_string(),
        _ => {
            return Err(format!(
                "missing \"fault\": expected one of {}",
                live::NAMES
            ));
        }
    };
    if live::Slot::of(&name).is_none() {
        return Err(format!(
            "unknown fault '{name}': expected one of {}",
            live::NAMES
        ));
    }
    let dir = match req.get("dir") {
        None => crate::relay::layers::Direction::Both,
        Some(Value::String(s)) => live::direction(s)
            .ok_or_else(|| format!("invalid dir '{s}': expected up, down or both"))?,
        Some(v) => return Err(format!("invalid dir {v}: expected up, down or both")),
    };
    let scope = match req.get("scope") {
        None => Scope::All,
        Some(Value::String(s)) if s == "all" => Scope::All,
        Some(Value::String(s)) if s == "new" => Scope::New,
        Some(v) => match v.as_u64() {
            Some(n) if n < begun.load(Ordering::Relaxed) => Scope::Conn(n),
            Some(n) => return Err(format!("no connection {n} has begun")),
            None => {
                return Err(format!(
                    "invalid scope {v}: expected \"all\", \"new\" or a connection's number"
                ));
            }
        },
    };
    let value = match (remove, req.get("value")) {
        (true, _) => None,
        (false, Some(Value::String(s))) => Some(s.clone()),
        (false, Some(Value::Number(n))) => Some(n.to_string()),
        // `--blackhole` alone: for good.
        (false, None) if name == "blackhole" => Some("0s".to_string()),
        (false, _) => return Err(format!("missing \"value\" for {name}")),
    };
    if let Some(v) = &value {
        table
            .parse(&name, v)
            .map_err(|e| format!("--{name} {v}: {e}"))?;
    }
    Ok(Change {
        version: 0,
        scope,
        name,
        value,
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> FaultTable {
        let t = FaultTable::new(crate::cli::faults::parse_fault);
        t.open().unwrap();
        t
    }

    /// A line that looks like a request, with any fault, value, way and
    /// scope.
    fn request_like() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("delay".to_string()),
            Just("loss".to_string()),
            Just("reset-after".to_string()),
            Just("blackhole".to_string()),
            "[ -~]{0,12}",
        ];
        (
            prop_oneof!["add", "remove", "list", "change", "[a-z]{0,6}"],
            word,
            "[ -~]{0,16}",
            prop_oneof!["up", "down", "both", "[a-z]{0,5}"],
            prop_oneof![
                Just("\"all\"".to_string()),
                Just("\"new\"".to_string()),
                "[0-9]{1,20}",
                "-?[0-9.e]{1,8}"
            ],
        )
            .prop_map(|(op, fault, value, dir, scope)| {
                format!(
                    r#"{{"op":"{op}","fault":{},"value":{},"dir":"{dir}","scope":{scope}}}"#,
                    serde_json::Value::from(fault),
                    serde_json::Value::from(value)
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_get_an_answer_and_never_a_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let t = table();
            let v = answer(&line, &t, &Begun::default(), &Value::Null);
            prop_assert!(v["ok"].is_boolean());
        }

        #[test]
        fn any_request_gets_an_answer_and_never_a_panic(line in request_like()) {
            let t = table();
            let begun = Begun::default();
            begun.store(3, Ordering::Relaxed);
            let v = answer(line.as_bytes(), &t, &begun, &Value::Null);
            prop_assert!(v["ok"].is_boolean(), "{}", v);
            if v["ok"] == false {
                prop_assert!(v["error"].is_string());
            }
        }
    }

    #[test]
    fn a_change_is_checked_before_it_is_made() {
        let t = table();
        let begun = Begun::default();
        let v = answer(
            br#"{"op":"add","fault":"delay","value":"200ms~20ms","dir":"down"}"#,
            &t,
            &begun,
            &Value::Null,
        );
        assert_eq!(v["ok"], true, "{v}");
        let v = answer(
            br#"{"op":"add","fault":"reset-after","value":"0s"}"#,
            &t,
            &begun,
            &Value::Null,
        );
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(t.changes().len(), 1);
        assert_eq!(t.changes()[0].value.as_deref(), Some("200ms~20ms"));
    }
}
