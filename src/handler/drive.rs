//! The blocking driver: one connection, one thread or child process.
//!
//! `thread-serve` and `fork-serve` run a connection here: a byte-level
//! session's [`Conversation`] driven by poll(2) (its output limit bounds
//! memory when a peer stops reading), a program's relay or a forwarded
//! connection's bridge.

use std::io;
use std::time::Duration;

use super::conversation;
use super::forward::{self, Forward, Upstream};
use super::{End, Served, Session, Spec, exec};
use crate::event::ConnStats;
use crate::output::hex_to_stderr;
use crate::relay::layers::ConnLayers;
use crate::relay::{RelaySocket, polled, program};
use crate::transport::{Dgram, Endpoint, ReplyTo, Stream};

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
}

/// Serve one blocking stream connection with `spec` to its end.
pub fn stream(
    stream: &Stream,
    peer: &Endpoint,
    spec: &Spec,
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    let Some(t) = stream.tls() else {
        return serve_stream(stream, peer, spec, d, tally);
    };
    // A client silent for --idle-timeout is dropped during the handshake too.
    let limit = crate::transport::tls::HANDSHAKE_TIMEOUT;
    t.handshake(d.idle.map_or(limit, |i| i.min(limit)))
        .map_err(End::Io)?;
    if t.newly_settled() {
        d.log.tls(&peer.to_string(), &t.settled(), true);
    }
    let r = serve_stream(stream, peer, spec, d, tally);
    if t.truncated() {
        d.log
            .warning(&crate::transport::tls::truncation(&peer.to_string()));
    }
    r
}

fn serve_stream(
    stream: &Stream,
    peer: &Endpoint,
    spec: &Spec,
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    let session = match spec.served() {
        Served::Session(s) => s,
        Served::Exec(argv) => return exec_stream(stream, peer, argv, d, tally),
        Served::Forward(f) => return forward_stream(stream, peer, f, d, tally),
    };
    let label = d.hex.then(|| peer.to_string());
    conversation::poll(stream, session, label.as_deref(), d.idle, tally)
}

/// `--exec` on a blocking connection. The program gets the socket itself
/// as stdin and stdout (inetd style, no copying), unless `--hex` or
/// `--idle-timeout` need to see the bytes: then they flow through pipes and
/// the relay's blocking pump. Either way the connection ends with a
/// lingering close once the program has exited.
fn exec_stream(
    stream: &Stream,
    peer: &Endpoint,
    argv: &[std::ffi::OsString],
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    // The program gets the socket itself unless something must see the
    // bytes: --hex, --idle-timeout, -v's byte counts, or TLS.
    let copying = d.hex || d.idle.is_some() || d.count || stream.plain_fd().is_none();
    let spawned = if copying {
        let mut cmd = exec::command(argv, peer, &stream.local());
        exec::tls_env(&mut cmd, stream);
        exec::spawn_piped(&mut cmd).map(|(c, to_prog, from_prog)| (c, Some((to_prog, from_prog))))
    } else {
        exec::spawn_on_socket(argv, stream, peer).map(|c| (c, None))
    };
    let (mut child, pipes) = match spawned {
        Ok(c) => c,
        Err(e) => {
            // End the conversation cleanly: FIN now, and read what the peer
            // sends so it gets no reset.
            polled::linger_close(stream);
            return Err(End::Exec(exec::describe_spawn_error(&argv[0], &e)));
        }
    };
    let pid = child.id() as libc::pid_t;
    exec::started(pid);
    let mut ended = None;
    if let Some((to_prog, from_prog)) = pipes {
        let opts = program::PumpOpts {
            idle: d.idle,
            hex: d.hex,
        };
        let (moved, end) =
            program::pump(stream, &peer.to_string(), to_prog, from_prog, opts, || {
                exec::terminate(pid)
            });
        tally.bytes_in = moved.up;
        tally.bytes_out = moved.down;
        ended = end;
    }
    let r = child.wait();
    exec::ended(pid);
    if let Ok(status) = &r {
        tally.program = crate::event::Exit::from_status(*status);
    }
    if !copying {
        // The program's output is already in the socket; its exit is our FIN.
        polled::linger_close(stream);
    }
    r.map_err(End::Io)?;
    ended.map_or(Ok(()), |e| Err(e.into()))
}

/// `--forward` on a blocking connection: connect to the target, then
/// bridge the two until both directions have ended.
fn forward_stream(
    stream: &Stream,
    peer: &Endpoint,
    f: &Forward,
    d: &Drive,
    tally: &mut ConnStats,
) -> Result<(), End> {
    // Looked at again here, as late as can be: the worker whose upstream
    // this connection may be could have noted its socket only after the
    // accepting loop looked.
    if let (Endpoint::Inet(p), Endpoint::Inet(l)) = (peer, stream.local()) {
        if crate::transport::ours::looped(*p, l) {
            polled::linger_close(stream);
            return Err(End::Forward(f.failed(
                "the connection comes from this server's own upstream (a forwarding loop)",
            )));
        }
    }
    // The client is owed an answer from here on: until the bridge ends
    // cleanly, a close (a failed connect, this process killed at the end
    // of the grace period) is a reset, never a FIN that looks like an
    // empty answer.
    stream.reset_on_close();
    let layers = ConnLayers::start(&f.layers, &d.log, peer, std::time::Instant::now());
    let up = match f.connect_until(polled::cut_signal()) {
        Ok(up) => up,
        Err(m) => return Err(End::Forward(m)),
    };
    let side = match &up {
        Upstream::Stream(s) => RelaySocket::Stream(s),
        Upstream::Dgram(g) => RelaySocket::Dgram(g),
    };
    let label = peer.to_string();
    let opts = polled::BridgeOpts {
        idle: d.idle,
        hex: d.hex,
        label: &label,
        quiet: forward::DGRAM_QUIET,
        half_close: f.half_close,
        layers: &layers,
    };
    let (moved, via, end) = polled::bridge(stream, side, opts);
    tally.bytes_in = moved.up;
    tally.bytes_out = moved.down;
    tally.via = Some(via);
    end.map_or(Ok(()), |e| Err(e.into()))
}

fn stdout_end(e: io::Error) -> End {
    if e.kind() == io::ErrorKind::BrokenPipe {
        End::StdoutClosed
    } else {
        End::Io(e)
    }
}

/// One datagram as one request: returns the reply (empty: send nothing,
/// unless the handler answers empty datagrams) and, for a program, how it
/// ended.
pub fn datagram(
    spec: &Spec,
    data: &[u8],
    peer: &Endpoint,
    local: &Endpoint,
) -> Result<(Vec<u8>, Option<crate::event::Exit>), End> {
    let mut out = Vec::new();
    match spec {
        Spec::Exec(argv) => {
            return exec::run_datagram(argv, data, peer, local)
                .map_err(|e| End::Exec(exec::describe_spawn_error(&argv[0], &e)));
        }
        _ => Session::datagram(spec, data, &mut out).map_err(stdout_end)?,
    }
    Ok((out, None))
}

/// Serve one datagram on a worker (thread or child): run the handler,
/// send the reply back to the sender.
pub fn serve_datagram(
    spec: &Spec,
    data: &[u8],
    peer: &Endpoint,
    to: &ReplyTo,
    sock: &Dgram,
    hex: bool,
) -> (ConnStats, Option<End>) {
    let mut tally = ConnStats {
        bytes_in: data.len() as u64,
        bytes_out: 0,
        ..ConnStats::default()
    };
    if hex {
        hex_to_stderr(&peer.to_string(), '<', 0, data);
    }
    let end = match datagram(spec, data, peer, &sock.local) {
        Ok((reply, program)) if reply.is_empty() && !spec.answers_empty() => {
            tally.program = program;
            None
        }
        Ok((reply, program)) => {
            tally.program = program;
            if hex {
                hex_to_stderr(&peer.to_string(), '>', 0, &reply);
            }
            match sock.send_to(&reply, to) {
                Ok(n) => {
                    tally.bytes_out = n as u64;
                    None
                }
                Err(e) => Some(End::Io(e)),
            }
        }
        Err(e) => Some(e),
    };
    (tally, end)
}

/// Serve one forwarded datagram session on a worker (thread or child):
/// connect to the target, then relay until the session has ended.
pub fn forward_session(
    f: &Forward,
    inbox: std::os::fd::OwnedFd,
    first: &[u8],
    peer: &Endpoint,
    to: &ReplyTo,
    sock: &std::sync::Arc<Dgram>,
    d: &Drive,
) -> (ConnStats, Option<End>) {
    use crate::relay::dgram_session::{self, DgramSession, ReplyPath, Timers};
    let up = match f.connect_until(polled::cut_signal()) {
        Ok(Upstream::Dgram(g)) => g,
        Ok(Upstream::Stream(_)) => {
            // Refused when the arguments were checked.
            return (
                ConnStats::default(),
                Some(End::Forward(f.failed("not a datagram address"))),
            );
        }
        Err(m) => {
            let t = ConnStats {
                bytes_in: first.len() as u64,
                ..ConnStats::default()
            };
            return (t, Some(End::Forward(m)));
        }
    };
    // Never wait on the upstream: a datagram it cannot take now is
    // dropped, as a full socket buffer would drop it.
    if let Err(e) = up.set_nonblocking(true) {
        return (ConnStats::default(), Some(End::Io(e)));
    }
    let back = ReplyPath {
        sock: sock.clone(),
        to: to.clone(),
    };
    let timers = Timers {
        idle: d.idle.unwrap_or(forward::SESSION_IDLE),
        quiet: forward::DGRAM_QUIET,
    };
    let now = std::time::Instant::now();
    let mut s = DgramSession::new(peer.clone(), Some(up), back, timers, d.hex, now);
    s.from_peer(first, now);
    dgram_session::run(inbox, &mut s);
    (s.tally(), None)
}
