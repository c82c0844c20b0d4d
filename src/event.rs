//! Events on stderr: readiness, connections, errors and summaries.
//!
//! Each event is formatted whole and written with one `write` call, so lines
//! from threads or forked children never interleave inside a line. Text mode
//! is for people; `--log-format json` gives one JSON object per line with a
//! stable field set (documented in the man page).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

mod ws;

/// The four transports, as readiness lines, events and errors name them
/// (here, below every layer that names one; `addr` re-exports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Udp,
    Unix,
    Unixgram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Udp => "udp",
            Kind::Unix => "unix",
            Kind::Unixgram => "unixgram",
        }
    }

    pub fn is_datagram(self) -> bool {
        matches!(self, Kind::Udp | Kind::Unixgram)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a TLS handshake settled, for events and programs (made by
/// `transport::tls`, which re-exports it).
#[derive(Clone, Debug, Default)]
pub struct Settled {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
    /// The peer's certificate (a server's, or a client's under mTLS).
    pub peer_sha256: Option<String>,
    pub peer_subject: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Quiet,
    Normal,
    Verbose,
}

/// ServerTotals for one connection (or one datagram), reported when it closes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// How the connection's program ended, when it had one and it was
    /// waited for.
    pub program: Option<Exit>,
    /// How a forwarded connection's bytes moved (`--forward`).
    pub via: Option<Via>,
    /// `send` over TLS: whether the peer closed without close_notify
    /// (`send` reports `false` for any other ending and transport).
    pub truncated: Option<bool>,
}

/// The path a relay's bytes took: `splice(2)` between two plain sockets
/// (the kernel moves pages, no copy through sockcat; a forwarded
/// connection copies its small chunks, reads under 16 KiB until one fills
/// that, as a read and a write cost less than two splices), or a buffer in
/// sockcat for every byte (`--hex`, datagrams, anything else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Splice,
    Copy,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Splice => "splice",
            Via::Copy => "copy",
        }
    }
}

/// A program's end, as the closing event reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn from_status(s: std::process::ExitStatus) -> Option<Exit> {
        use std::os::unix::process::ExitStatusExt;
        s.code()
            .map(Exit::Code)
            .or_else(|| s.signal().map(Exit::Signal))
    }
}

#[derive(Clone, Debug)]
pub struct Log {
    pub level: Level,
    pub json: bool,
    /// Where a forwarding server sends its connections (`--forward`), for
    /// the events about them.
    pub upstream: Option<std::sync::Arc<str>>,
}

impl Log {
    /// The readiness line. Printed even under `-q`: scripts wait for it.
    pub fn listening(&self, kind: Kind, local: &str) {
        self.emit(format_args!("listening on {kind} {local}"), || {
            let mut v = json!({"event": "listening", "transport": kind.as_str(), "address": local});
            place(&mut v, "", Some(kind), local);
            v
        });
    }

    /// A TLS server's certificate, before its readiness lines: printed
    /// even under `-q`, since a client pins it.
    /// `curl` is the key's hash as curl's `--pinnedpubkey` takes it.
    pub fn certificate(&self, sha256: &str, spki: &str, curl: &str) {
        self.emit(
            format_args!("tls certificate {sha256} (key {spki}) (curl {curl})"),
            || {
                json!({"event": "tls_certificate", "sha256": sha256, "spki_sha256": spki,
                       "curl_pin": curl})
            },
        );
    }

    /// What a TLS handshake settled (`-v`), and the client's verified
    /// certificate under mutual TLS (shown without `-v` too).
    pub fn tls(&self, peer: &str, s: &Settled, server: bool) {
        // A server names a client's certificate without -v: that is who came.
        let client = server && s.peer_sha256.is_some();
        if self.level < Level::Verbose && !(client && self.level >= Level::Normal) {
            return;
        }
        let mut text = format!("tls with {peer}: {} {}", s.version, s.cipher);
        if let Some(a) = &s.alpn {
            text.push_str(&format!(", alpn {a}"));
        }
        if let Some(fp) = &s.peer_sha256 {
            let subject = s.peer_subject.as_deref().unwrap_or("-");
            text.push_str(&format!(", certificate {subject} {fp}"));
        }
        self.emit(format_args!("{text}"), || {
            let mut v = json!({"event": "tls", "peer": peer, "version": s.version,
                   "cipher": s.cipher, "alpn": s.alpn, "peer_subject": s.peer_subject,
                   "peer_sha256": s.peer_sha256});
            place(&mut v, "", None, peer);
            v
        });
    }

    /// A connection was accepted, or (on a datagram socket, where there is
    /// no connection) a datagram arrived: the event says which.
    pub fn connection(&self, kind: Kind, peer: &str, cred: Option<(u32, i32)>) {
        if self.level >= Level::Normal {
            let datagram = matches!(kind, Kind::Udp | Kind::Unixgram);
            let (what, event) = if datagram {
                ("datagram", "datagram")
            } else {
                ("connection", "connection")
            };
            let who = cred.map_or(String::new(), |(uid, pid)| {
                format!(" (uid {uid}, pid {pid})")
            });
            self.emit(format_args!("got {what} from {peer}{who}"), || {
                let mut v = json!({"event": event, "transport": kind.as_str(), "peer": peer});
                place(&mut v, "", Some(kind), peer);
                if let Some((uid, pid)) = cred {
                    v["uid"] = json!(uid);
                    v["pid"] = json!(pid);
                }
                v
            });
        }
    }

    pub fn closed(&self, kind: Kind, peer: &str, t: ConnStats, took: Duration) {
        if self.level >= Level::Verbose {
            let program = match t.program {
                Some(Exit::Code(c)) => format!(", program exited {c}"),
                Some(Exit::Signal(n)) => format!(", program killed by signal {n}"),
                None => String::new(),
            };
            let forwarded = match (self.upstream.as_deref(), t.via) {
                (Some(up), Some(via)) => format!(", forwarded to {up} by {}", via.as_str()),
                _ => String::new(),
            };
            let cut = match t.truncated {
                Some(true) => ", truncated (no close_notify)",
                _ => "",
            };
            self.emit(
                format_args!(
                    "closed {peer}: {} bytes in, {} bytes out, {}{program}{forwarded}{cut}",
                    t.bytes_in,
                    t.bytes_out,
                    show_duration(took)
                ),
                || {
                    let mut v = json!({"event": "closed", "transport": kind.as_str(), "peer": peer,
                       "bytes_in": t.bytes_in, "bytes_out": t.bytes_out,
                       "duration_ms": millis(took)});
                    place(&mut v, "", Some(kind), peer);
                    match t.program {
                        Some(Exit::Code(c)) => v["exit_code"] = json!(c),
                        Some(Exit::Signal(n)) => v["signal"] = json!(n),
                        None => {}
                    }
                    if let Some(up) = self.upstream.as_deref() {
                        v["upstream"] = json!(up);
                        place(&mut v, "upstream_", None, up);
                    }
                    if let Some(via) = t.via {
                        v["path"] = json!(via.as_str());
                    }
                    if let Some(cut) = t.truncated {
                        v["truncated"] = json!(cut);
                    }
                    v
                },
            );
        }
    }

    /// A fault (a layer on a forwarded connection, such as `--rate`)
    /// applied to the connection from `peer` (`-v`): `what` in words,
    /// `fields` its JSON fields (`fault`, `direction`, its settings).
    pub fn fault(&self, peer: &str, what: &str, fields: Value) {
        if self.level >= Level::Verbose {
            self.emit(format_args!("{peer}: {what}"), || {
                let mut v = json!({"event": "fault", "peer": peer});
                if let (Value::Object(m), Value::Object(f)) = (&mut v, fields) {
                    m.extend(f);
                }
                place(&mut v, "", None, peer);
                v
            });
        }
    }

    /// `send -v`: the connection is up, from this local address (to the
    /// proxy, when it goes through one).
    pub fn connected(&self, kind: Kind, addr: &str, local: &str, proxy: Option<&str>) {
        if self.level >= Level::Verbose {
            let via = proxy.map_or(String::new(), |p| format!(" through {p}"));
            self.emit(
                format_args!("connected to {addr}{via} (from {local})"),
                || {
                    let mut v = json!({"event": "connected", "transport": kind.as_str(),
                       "address": addr, "local": local});
                    place(&mut v, "", Some(kind), addr);
                    place(&mut v, "local_", Some(kind), local);
                    if let Some(p) = proxy {
                        v["proxy"] = json!(p);
                    }
                    v
                },
            );
        }
    }

    pub fn refused(&self, kind: Kind, peer: &str) {
        if self.level >= Level::Normal {
            self.emit(format_args!("refused {peer} (access list)"), || {
                let mut v = json!({"event": "refused", "transport": kind.as_str(), "peer": peer});
                place(&mut v, "", Some(kind), peer);
                v
            });
        }
    }

    /// A connection refused for `why` (`--proxy-protocol`: no valid
    /// header, or not from a trusted balancer).
    pub fn refused_because(&self, kind: Kind, peer: &str, why: &str) {
        if self.level >= Level::Normal {
            self.emit(format_args!("refused {peer} ({why})"), || {
                let mut v = json!({"event": "refused", "transport": kind.as_str(),
                    "peer": peer, "reason": why});
                place(&mut v, "", Some(kind), peer);
                v
            });
        }
    }

    /// A failure that ends one connection but not the server. Shown under `-q` too.
    pub fn error(&self, msg: &str) {
        self.emit(
            format_args!("sockcat: {msg}"),
            || json!({"event": "error", "message": msg}),
        );
    }

    /// Something the user should know that does not stop the server.
    pub fn warning(&self, msg: &str) {
        if self.level >= Level::Normal {
            self.emit(
                format_args!("sockcat: warning: {msg}"),
                || json!({"event": "warning", "message": msg}),
            );
        }
    }

    /// A warning whose JSON event carries more fields (`extra`, an
    /// object) beside the message, for scripts to test.
    pub fn warning_with(&self, msg: &str, extra: Value) {
        if self.level >= Level::Normal {
            self.emit(format_args!("sockcat: warning: {msg}"), || {
                let mut v = json!({"event": "warning", "message": msg});
                if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
                    m.extend(x);
                }
                v
            });
        }
    }

    /// A fatal error, just before exit (`main` uses it).
    pub fn fatal(&self, msg: &str) {
        self.emit(
            format_args!("sockcat: error: {msg}"),
            || json!({"event": "error", "message": msg, "fatal": true}),
        );
    }

    /// An error (or, with `error` false, a warning) that can repeat for
    /// every datagram or every turn of a loop while its cause lasts (no
    /// room for another session, no descriptor left): shown at most once a
    /// second for each `kind`, and the next one shown says how many were
    /// held back meanwhile, so a flood of one cause cannot flood the log.
    ///
    /// When a burst ends (a second with none shown), [`Log::flush_repeated`]
    /// says how many were held back since the last one shown; the servers'
    /// loops call it every turn and wake for it ([`repeated_due`]).
    pub fn repeated(&self, kind: &'static str, error: bool, msg: &str) {
        {
            let mut bursts = BURSTS.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let b = bursts.entry(kind).or_insert(Burst {
                shown: None,
                held: 0,
                error,
            });
            if b.shown.is_some_and(|t| now.duration_since(t) < BURST) {
                b.held += 1;
                return;
            }
            b.shown = Some(now);
        }
        self.say(error, msg);
    }

    /// Count the repeated events held back, for each kind whose second has
    /// passed (or every kind, with `all`, as a server stops): one line
    /// each, so no held event goes unreported.
    pub fn flush_repeated(&self, all: bool) {
        let due: Vec<(&'static str, u64, bool)> = {
            let mut bursts = BURSTS.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            bursts
                .iter_mut()
                .filter(|(_, b)| {
                    b.held > 0 && (all || b.shown.is_none_or(|t| now.duration_since(t) >= BURST))
                })
                .map(|(kind, b)| {
                    b.shown = Some(now);
                    (*kind, std::mem::take(&mut b.held), b.error)
                })
                .collect()
        };
        for (kind, held, error) in due {
            let s = if held == 1 { "" } else { "s" };
            self.say(error, &format!("{held} more '{kind}' event{s} not shown"));
        }
    }

    fn say(&self, error: bool, msg: &str) {
        if error {
            self.error(msg);
        } else {
            self.warning(msg);
        }
    }

    /// `unit` is what the server counts: "connection", or for a datagram
    /// server "session" (`--forward`) or "datagram". (The JSON field stays
    /// `connections`, which scripts read.)
    pub fn summary(&self, conns: u64, unit: &str, t: ConnStats, took: Duration) {
        if self.level >= Level::Verbose {
            self.emit(
                format_args!(
                    "served {conns} {unit}{}: {} bytes in, {} bytes out, {}",
                    if conns == 1 { "" } else { "s" },
                    t.bytes_in,
                    t.bytes_out,
                    show_duration(took)
                ),
                || {
                    json!({"event": "summary", "connections": conns,
                       "bytes_in": t.bytes_in, "bytes_out": t.bytes_out,
                       "duration_ms": millis(took)})
                },
            );
        }
    }

    /// Any other event, as already-built text and JSON (load mode's summary).
    pub fn emit(&self, text: std::fmt::Arguments<'_>, obj: impl FnOnce() -> Value) {
        let line = if self.json {
            let mut v = obj();
            if let Value::Object(m) = &mut v {
                let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
                m.insert("time".into(), Value::String(now));
            }
            format!("{v}\n")
        } else {
            let mut line = one_line(&text.to_string()).into_owned();
            line.push('\n');
            line
        };
        // One write per event; a failed write to stderr has nowhere to go.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Add where an address is, for scripts, to a JSON event beside the
/// address as shown (`127.0.0.1:5`, `[::1]:5`, `/run/s.sock`): an
/// Internet address as `{prefix}host` (no brackets) and `{prefix}port` (a
/// number), a Unix one as `{prefix}socket_path` (a file path, or `@NAME`
/// in the abstract namespace; none for an unnamed client, shown as `-`).
/// Not `path`: a forwarded connection's `closed` event has a `path`
/// already (`splice` or `copy`). `kind`
/// says which, when the caller knows; without it, a `unix:`/`unixgram:`
/// prefix, a leading `/`, `.` or `@`, or no `:PORT` at the end means a
/// Unix name. `tls://` and `udp://` prefixes (a `--forward` target as
/// shown) are dropped.
pub fn place(v: &mut Value, prefix: &str, kind: Option<Kind>, shown: &str) {
    let Value::Object(m) = v else { return };
    let s = shown.strip_prefix("tls://").unwrap_or(shown);
    let s = s.strip_prefix("udp://").unwrap_or(s);
    let (unix, s) = match s
        .strip_prefix("unix:")
        .or_else(|| s.strip_prefix("unixgram:"))
    {
        Some(name) => (true, name),
        None => (
            kind.map_or(s.starts_with(['/', '.', '@']), |k| {
                matches!(k, Kind::Unix | Kind::Unixgram)
            }),
            s,
        ),
    };
    let inet = (!unix)
        .then(|| s.rsplit_once(':'))
        .flatten()
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)));
    match inet {
        Some((h, p)) => {
            let h = h
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(h);
            m.insert(format!("{prefix}host"), json!(h));
            m.insert(format!("{prefix}port"), json!(p));
        }
        None if s.is_empty() || s == "-" || s == "?" => {}
        None if unix || kind.is_none() => {
            m.insert(format!("{prefix}socket_path"), json!(s));
        }
        None => {}
    }
}

/// A text event is one line. A control character in it came from a peer
/// or a file (a certificate's subject, an SNI name, a proxy's reason
/// phrase, a socket's name): shown as `\xNN` per byte, as Unix peer names
/// are, it can neither end the line early (and forge another event) nor
/// drive the terminal.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(hidden) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden(c) {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// How long one kind of repeated event stays quiet after it is shown.
const BURST: Duration = Duration::from_secs(1);

/// One kind of repeated event: when one was last shown (or counted), how
/// many have been held back since, and whether they are errors.
struct Burst {
    shown: Option<Instant>,
    held: u64,
    error: bool,
}

/// A loop's wait, shortened so that it wakes when held-back repeated
/// events are due to be counted.
pub fn until_repeated_due(timeout: Option<Duration>) -> Option<Duration> {
    match repeated_due() {
        None => timeout,
        Some(at) => {
            let left = at.saturating_duration_since(Instant::now());
            Some(timeout.map_or(left, |t| t.min(left)))
        }
    }
}

/// When held-back repeated events are due to be counted, if any are held:
/// a server's loop wakes then (see [`Log::flush_repeated`]).
pub fn repeated_due() -> Option<Instant> {
    let bursts = BURSTS.lock().unwrap_or_else(|e| e.into_inner());
    bursts
        .values()
        .filter(|b| b.held > 0)
        .filter_map(|b| b.shown.map(|t| t + BURST))
        .min()
}

/// For each kind of repeated event: when it was last shown, and how many
/// have been held back since. Process-wide, since every thread of a
/// server logs through its own copy of `Log`.
static BURSTS: std::sync::Mutex<std::collections::BTreeMap<&'static str, Burst>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// A character that must not reach a log line as it is: a control
/// character, a line or paragraph separator (a line break to some
/// viewers), or a bidirectional override (it reorders what follows).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub fn show_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{:.3}s", ms / 1e3)
    }
}

#[cfg(test)]
mod tests;
