//! Handlers: what each connection (or datagram) gets, whatever the server model.
//!
//! A [`Session`] is a small state machine fed with the peer's bytes; it puts
//! what the peer should receive in an output buffer and says when the write
//! side may be shut. The event loop (`serve`) and the blocking drivers
//! (`thread-serve`, `fork-serve`: [`serve_stream`]) feed the same sessions, so a
//! peer cannot tell the models apart. `--exec` and `--broker` need the
//! driver's help (child processes, other connections) and live in their own
//! modules.

pub mod broker;
pub mod conversation;
pub mod datagram;
pub mod echo;
pub mod exec;
pub mod forward;
pub mod print;
pub mod proxied;
pub mod reply;

use std::ffi::OsString;
use std::io;

use std::sync::Arc;
use std::time::Duration;

use crate::event::ConnStats;
use crate::transport::{Endpoint, Stream};

/// The handler chosen on the command line.
#[derive(Clone, Debug)]
pub enum Spec {
    Print,
    Reply(Arc<[u8]>),
    Echo,
    Discard,
    Exec(Arc<[OsString]>),
    Broker,
    Forward(Arc<forward::Forward>),
}

/// Why a connection ended other than by a clean close.
#[derive(Debug)]
pub enum End {
    Io(io::Error),
    IdleTimeout,
    /// A forwarded connection's open direction was quiet for
    /// `--half-close-timeout` after the other had ended.
    HalfClosed(std::time::Duration),
    /// Our stdout was closed (`| head`).
    StdoutClosed,
    /// `--exec`'s program could not start.
    Exec(String),
    /// `--forward`'s upstream could not be reached (the message says why).
    Forward(String),
    /// The worker serving the connection panicked (a bug in sockcat).
    Panicked,
}

/// A relay's end (a forwarded connection, a program's pipes) as a
/// connection's: the one place the relay's ends are mapped.
impl From<crate::relay::RelayEnd> for End {
    fn from(e: crate::relay::RelayEnd) -> End {
        use crate::relay::RelayEnd;
        match e {
            RelayEnd::Idle => End::IdleTimeout,
            RelayEnd::HalfClosed(d) => End::HalfClosed(d),
            RelayEnd::Endpoint(e) | RelayEnd::Program(e) => End::Io(e),
        }
    }
}

impl End {
    pub fn message(&self, peer: &Endpoint) -> String {
        match self {
            End::Io(e) => format!("{peer}: {}", crate::error::describe(e)),
            End::IdleTimeout => format!("{peer}: idle timeout"),
            End::HalfClosed(d) => format!(
                "{peer}: half-closed and quiet for {} (--half-close-timeout)",
                humantime::format_duration(*d)
            ),
            End::StdoutClosed => "stdout closed".into(),
            End::Exec(m) | End::Forward(m) => format!("{peer}: {m}"),
            End::Panicked => format!("{peer}: the worker serving it failed (a bug in sockcat)"),
        }
    }
}

impl End {
    /// A failure writing to stdout: its reader gone ends the server (as
    /// a print's does), anything else this connection.
    pub fn from_stdout(e: io::Error) -> End {
        if e.kind() == io::ErrorKind::BrokenPipe {
            End::StdoutClosed
        } else {
            End::Io(e)
        }
    }
}

/// Options that shape how one connection is driven.
#[derive(Clone, Debug)]
pub struct Drive {
    /// For what a connection's TLS handshake settled.
    pub log: crate::event::Log,
    pub idle: Option<Duration>,
    pub hex: bool,
    /// Count the bytes even where a program could be given the socket
    /// itself (`-v` reports them).
    pub count: bool,
    /// `--proxy-protocol`: each connection's header is read first.
    pub proxy_protocol: Option<std::sync::Arc<proxied::ProxyRule>>,
}

/// Serve one blocking stream connection with `spec` to its end: with
/// `--proxy-protocol`, its header first (before TLS), which makes `peer`
/// the client it names (a refused one is closed, with its one event).
pub fn serve_stream(
    stream: &Stream,
    peer: &mut Endpoint,
    spec: &Spec,
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    if let Some(rule) = &d.proxy_protocol {
        if !proxied::read_blocking(rule, d, stream, peer) {
            return Ok(());
        }
    }
    let peer: &Endpoint = peer;
    if !stream.has_handshake() {
        return run_stream(stream, peer, spec, d, tally);
    }
    // A client silent for --idle-timeout is dropped during the handshake too.
    let limit = crate::transport::tls::HANDSHAKE_TIMEOUT;
    stream
        .handshake(d.idle.map_or(limit, |i| i.min(limit)))
        .map_err(End::Io)?;
    let shown = peer.to_string();
    if let Some(t) = stream.tls().filter(|t| t.newly_settled()) {
        d.log.tls(&shown, &t.settled(), true);
    }
    if let Some(w) = stream.ws().filter(|w| w.newly_open()) {
        w.tell_open(&d.log, &shown);
    }
    let r = run_stream(stream, peer, spec, d, tally);
    if stream.tls().is_some_and(|t| t.truncated()) {
        d.log.warning(&crate::transport::tls::truncation(&shown));
    }
    if let Some(w) = stream.ws() {
        w.tell_close(&d.log, &shown);
    }
    r
}

fn run_stream(
    stream: &Stream,
    peer: &Endpoint,
    spec: &Spec,
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    let session = match spec.served() {
        Served::Session(s) => s,
        Served::Exec(argv) => return exec::serve_stream(stream, peer, argv, d, tally),
        Served::Forward(f) => return forward::serve_stream(stream, peer, f, d, tally),
    };
    let label = d.hex.then(|| peer.to_string());
    conversation::poll(stream, session, label.as_deref(), d.idle, tally)
}

impl Spec {
    /// Whether an empty reply is still a reply: an echo answers an empty
    /// datagram with an empty one (RFC 862); other handlers send nothing.
    pub fn answers_empty(&self) -> bool {
        matches!(self, Spec::Echo)
    }

    /// Whether the handler sends anything back to a datagram's sender.
    pub fn replies(&self) -> bool {
        !matches!(self, Spec::Print | Spec::Discard | Spec::Broker)
    }
}

/// A datagram that a replying server must drop, so that two servers (or a
/// forged source address) cannot make it bounce datagrams forever: from
/// port 0 (no real sender), 7 (echo) or 19 (chargen), or from the
/// server's own address.
pub fn reflection(peer: &Endpoint, local: &Endpoint) -> bool {
    match peer {
        Endpoint::Inet(a) => matches!(a.port(), 0 | 7 | 19) || peer == local,
        _ => peer == local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_sources_are_recognised() {
        let ep = |s: &str| Endpoint::Inet(s.parse().unwrap());
        let local = ep("127.0.0.1:5000");
        for bad in ["10.0.0.1:7", "10.0.0.1:19", "10.0.0.1:0", "127.0.0.1:5000"] {
            assert!(reflection(&ep(bad), &local), "{bad}");
        }
        for good in ["127.0.0.1:5001", "10.0.0.1:53000", "[::1]:7000"] {
            assert!(!reflection(&ep(good), &local), "{good}");
        }
    }
}

/// What the driver should do after a session call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Talk {
    Continue,
    /// Shut the write side (send FIN) once the output has drained.
    Finish,
}

/// Per-connection state of the byte-level handlers.
#[derive(Debug)]
pub enum Session {
    Print(print::Print),
    Reply(reply::Reply),
    Echo,
    /// `--discard` keeps no state: the drivers count the bytes, then drop them.
    Discard,
}

/// What serves one connection: a byte-level [`Session`], or the driver
/// itself with a second byte stream (a program, an upstream).
pub enum Served<'a> {
    Session(Session),
    Exec(&'a [OsString]),
    Forward(&'a Arc<forward::Forward>),
}

impl Spec {
    /// What serves a new connection with this handler.
    pub fn served(&self) -> Served<'_> {
        match self {
            Spec::Print | Spec::Broker => Served::Session(Session::Print(print::Print::default())),
            Spec::Reply(text) => Served::Session(Session::Reply(reply::Reply::new(text.clone()))),
            Spec::Echo => Served::Session(Session::Echo),
            Spec::Discard => Served::Session(Session::Discard),
            Spec::Exec(argv) => Served::Exec(argv),
            Spec::Forward(f) => Served::Forward(f),
        }
    }
}

impl Session {
    /// The session for `spec`, or `None` for handlers a driver runs itself.
    pub fn new(spec: &Spec) -> Option<Session> {
        match spec.served() {
            Served::Session(s) => Some(s),
            Served::Exec(_) | Served::Forward(_) => None,
        }
    }

    /// The connection opened.
    pub fn start(&mut self, _out: &mut Vec<u8>) -> io::Result<Talk> {
        match self {
            Session::Reply(r) => Ok(r.start()),
            _ => Ok(Talk::Continue),
        }
    }

    /// Bytes every connection sends first, shared rather than copied into
    /// each connection's output (`--reply`). Sent before anything `start`
    /// or `input` put in the output.
    pub fn greeting(&self) -> Option<Arc<[u8]>> {
        match self {
            Session::Reply(r) => Some(r.greeting()),
            _ => None,
        }
    }

    /// The greeting's bytes, borrowed (no handle taken: a driver asks on
    /// every write).
    pub fn greeting_text(&self) -> Option<&[u8]> {
        match self {
            Session::Reply(r) => Some(r.text()),
            _ => None,
        }
    }

    /// Bytes arrived from the peer.
    pub fn input(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<Talk> {
        match self {
            Session::Print(p) => p.input(data).map(|_| Talk::Continue),
            Session::Reply(r) => r.print.input(data).map(|_| Talk::Continue),
            Session::Echo => Ok(echo::input(data, out)),
            Session::Discard => Ok(Talk::Continue),
        }
    }

    /// The peer has nothing more for now: show any partial line.
    pub fn idle(&mut self) -> io::Result<()> {
        match self {
            Session::Print(p) | Session::Reply(reply::Reply { print: p, .. }) => p.flush(),
            _ => Ok(()),
        }
    }

    /// The peer sent FIN. Every handler finishes then: nothing more can be
    /// asked of it (docs/ARCHITECTURE.md: a client reads the reply "until the
    /// server's FIN").
    pub fn end(&mut self, _out: &mut Vec<u8>) -> io::Result<Talk> {
        self.idle()?;
        Ok(Talk::Finish)
    }

    /// Run a whole datagram as one request: the reply is what the session
    /// produced for it, or nothing at all.
    pub fn datagram(spec: &Spec, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if let Some(mut s) = Session::new(spec) {
            s.start(out)?;
            if let Some(g) = s.greeting() {
                // A datagram reply is one buffer: here it is copied.
                out.splice(0..0, g.iter().copied());
            }
            if let Session::Print(p) | Session::Reply(reply::Reply { print: p, .. }) = &mut s {
                // A datagram is a whole message: print it in one write.
                return p.whole(data);
            }
            s.input(data, out)?;
            s.end(out)?;
        }
        Ok(())
    }
}
