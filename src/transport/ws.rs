//! [`WsStream`]: a WebSocket (ws://, wss://) over a plain or TLS stream,
//! which every model reads and writes like the stream itself.
//!
//! Its shape is TLS's: `Stream::Ws` wraps the stream beneath, answers
//! `plain_fd() == None` (its bytes are framed, so nothing splices around
//! it), its handshake (an HTTP Upgrade, after TLS's) is a stage of the
//! Connector for a client and is driven by `handler::serve_stream` or
//! serve's `progress` for a server, and frames a full socket did not take
//! wait in it ([`WsStream::has_pending`]), as TLS's ciphertext does.
//! Bytes and messages map as [`frames`] says: by default one line is one
//! text message and a newline follows each text message received;
//! `--binary` sends each read as a binary message. The peer's Close is our
//! EOF; our shutdown of the write side sends our Close, and the socket's
//! FIN follows once both Close frames have passed.
//! handshake.rs makes and checks the Upgrade, frames.rs the frames (both
//! free of I/O).

pub mod frames;
pub mod handshake;

use std::cell::{Cell, RefCell, RefMut};

use super::*;
pub use frames::{Close, Framing, Role};
pub use handshake::{Accepted, Rules};

/// What a connection's WebSocket is to be, from the command line.
#[derive(Clone, Debug)]
pub enum Ws {
    /// A client's: the Host header and path it asks for.
    Client {
        host: String,
        path: String,
        protocol: Option<String>,
        framing: Framing,
    },
    /// A server's: what it accepts.
    Server { rules: Rules, framing: Framing },
}

/// A client's WebSocket over `stream`, if `ws` plans one (`Err`: the
/// stream as it was).
pub fn client_over(ws: Option<&Ws>, stream: Stream) -> std::result::Result<Stream, Stream> {
    match ws {
        Some(Ws::Client {
            host,
            path,
            protocol,
            framing,
        }) => Ok(Stream::Ws(Box::new(WsStream::client(
            stream,
            host,
            path,
            protocol.as_deref(),
            *framing,
        )))),
        _ => Err(stream),
    }
}

/// How long a server waits for a client's request (as for TLS's handshake).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

enum Phase {
    /// The request is sent (or waits in `out`); the answer is awaited.
    Asking {
        req: handshake::Request,
        protocol: Option<String>,
    },
    /// A request is awaited.
    Awaiting(Rules),
    Open,
}

impl State {
    /// Whether the socket's write side is to be shut now its frames are
    /// out: after a refusal's answer, or once both Close frames have
    /// passed. Not after ours alone: our Close is the WebSocket's
    /// half-close, and a FIN then would end the connection at many a
    /// proxy (and RFC 6455 has the server close TCP first).
    fn shut_due(&self) -> bool {
        let both = self.codec.our_close().is_some() && self.codec.their_close().is_some();
        !self.shut_done && (self.shut_after || both)
    }
}

struct State {
    phase: Phase,
    codec: frames::Codec,
    /// Decoded bytes not yet read, from `at`.
    plain: Vec<u8>,
    at: usize,
    /// Shut the socket's write side once the frames are on the wire (a
    /// refusal's answer).
    shut_after: bool,
    /// The socket's write side was shut.
    shut_done: bool,
    /// The peer's socket closed without a Close frame.
    truncated: bool,
    accepted: Accepted,
}

/// A WebSocket over a plain or TLS stream, owned by its connection.
pub struct WsStream {
    sock: Stream,
    st: RefCell<State>,
    /// The handshake's outcome has been told.
    told: Cell<bool>,
}

impl std::fmt::Debug for WsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WsStream({:?})", self.sock)
    }
}

fn closed_in_handshake() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "websocket: the peer closed during the handshake",
    )
}

impl WsStream {
    fn new(sock: Stream, phase: Phase, role: Role, framing: Framing) -> WsStream {
        WsStream {
            sock,
            st: RefCell::new(State {
                phase,
                codec: frames::Codec::new(role, framing),
                plain: Vec::new(),
                at: 0,
                shut_after: false,
                shut_done: false,
                truncated: false,
                accepted: Accepted::default(),
            }),
            told: Cell::new(false),
        }
    }

    /// The server side of a new connection; the Upgrade is read by
    /// [`WsStream::handshake_nowait`] or [`WsStream::handshake`].
    pub fn server(sock: Stream, rules: Rules, framing: Framing) -> WsStream {
        WsStream::new(sock, Phase::Awaiting(rules), Role::Server, framing)
    }

    /// The client side: the request waits to be sent by the handshake.
    pub fn client(
        sock: Stream,
        host: &str,
        path: &str,
        protocol: Option<&str>,
        framing: Framing,
    ) -> WsStream {
        let req = handshake::request(host, path, protocol);
        let ws = WsStream::new(
            sock,
            Phase::Asking {
                req,
                protocol: protocol.map(str::to_string),
            },
            Role::Client,
            framing,
        );
        {
            let mut st = ws.state();
            let State {
                phase,
                codec,
                accepted,
                ..
            } = &mut *st;
            if let Phase::Asking { req, .. } = phase {
                codec.out.extend_from_slice(&req.bytes);
            }
            accepted.path = path.to_string();
        }
        ws
    }

    fn state(&self) -> RefMut<'_, State> {
        self.st.borrow_mut()
    }

    /// The stream beneath (plain or TLS).
    pub fn sock(&self) -> &Stream {
        &self.sock
    }

    /// What the server's handshake accepted (the path asked for, the
    /// protocol chosen, the Origin); a client's chosen protocol.
    pub fn accepted(&self) -> Accepted {
        self.state().accepted.clone()
    }

    /// True once, the first time it is asked after the handshake is done.
    pub fn newly_open(&self) -> bool {
        !self.told.get() && matches!(self.state().phase, Phase::Open) && !self.told.replace(true)
    }

    /// The Close frames exchanged: the peer's and ours.
    pub fn closes(&self) -> (Option<Close>, Option<Close>) {
        let st = self.state();
        (
            st.codec.their_close().cloned(),
            st.codec.our_close().cloned(),
        )
    }

    /// Say what the Upgrade settled (`-v`).
    pub fn tell_open(&self, log: &crate::event::Log, peer: &str) {
        let a = self.accepted();
        log.websocket(peer, &a.path, a.protocol.as_deref(), a.origin.as_deref());
    }

    /// Say how it closed (`-v`): each side's Close, if it sent one.
    pub fn tell_close(&self, log: &crate::event::Log, peer: &str) {
        if !matches!(self.state().phase, Phase::Open) {
            return;
        }
        let (theirs, ours) = self.closes();
        fn part(c: &Option<Close>) -> Option<(Option<u16>, &str)> {
            c.as_ref().map(|c| (c.code, c.reason.as_str()))
        }
        log.websocket_closed(peer, part(&theirs), part(&ours));
    }

    /// Whether the peer's socket closed without a Close frame.
    pub fn truncated(&self) -> bool {
        self.state().truncated
    }

    /// Move the handshake (TLS's beneath first) on a non-blocking socket:
    /// `Ok(true)` once it is done.
    pub fn handshake_nowait(&self) -> io::Result<bool> {
        if let Some(t) = self.sock.tls() {
            if !t.handshake_nowait()? {
                return Ok(false);
            }
        }
        loop {
            match self.step(true) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Finish the handshake on a blocking socket, within `timeout`.
    pub fn handshake(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        if let Some(t) = self.sock.tls() {
            t.handshake(timeout)?;
        }
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "websocket: no handshake within {}",
                    humantime::format_duration(timeout)
                ),
            )
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.sock.set_read_timeout(Some(left))?;
            self.sock.set_write_timeout(Some(left))?;
            match self.step(false) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(timed_out());
                }
                Err(e) => return Err(e),
            }
        }
        self.sock.set_read_timeout(None)?;
        self.sock.set_write_timeout(None)?;
        Ok(())
    }

    /// One round of the Upgrade: send what waits, take what came, read
    /// once. `Ok(true)` once open.
    fn step(&self, nowait: bool) -> io::Result<bool> {
        match self.flush_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && nowait => {}
            Err(e) => return Err(e),
        }
        {
            let mut st = self.state();
            let State {
                phase,
                codec,
                accepted,
                shut_after,
                ..
            } = &mut *st;
            match phase {
                Phase::Open => return Ok(true),
                Phase::Asking { req, protocol } => {
                    match handshake::check_answer(&codec.inbuf, req, protocol.as_deref()) {
                        Ok(Some((took, chosen))) => {
                            codec.inbuf.drain(..took);
                            accepted.protocol = chosen;
                            *phase = Phase::Open;
                            return Ok(true);
                        }
                        Ok(None) => {}
                        Err(why) => {
                            return Err(io::Error::new(
                                io::ErrorKind::ConnectionRefused,
                                format!("websocket: {why}"),
                            ));
                        }
                    }
                }
                Phase::Awaiting(rules) => match handshake::answer(&codec.inbuf, rules) {
                    Some((
                        took,
                        handshake::Answer::Upgrade {
                            response,
                            accepted: a,
                        },
                    )) => {
                        codec.inbuf.drain(..took);
                        codec.out.extend_from_slice(&response);
                        *accepted = a;
                        *phase = Phase::Open;
                        drop(st);
                        // The 101 goes now (a full socket keeps it in `out`).
                        match self.flush_pending() {
                            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                            _ => return Ok(true),
                        }
                    }
                    Some((_, handshake::Answer::Refuse { response, why })) => {
                        codec.inbuf.clear();
                        codec.out.extend_from_slice(&response);
                        *shut_after = true;
                        drop(st);
                        let _ = self.flush_pending();
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("websocket: refused {why}"),
                        ));
                    }
                    None => {}
                },
            }
        }
        let mut buf = [0u8; 4096];
        let n = if nowait {
            self.sock.read_nowait(&mut buf)?
        } else {
            (&self.sock).read(&mut buf)?
        };
        if n == 0 {
            return Err(closed_in_handshake());
        }
        self.state().codec.inbuf.extend_from_slice(&buf[..n]);
        Ok(false)
    }

    /// Send the frames that wait, as far as the socket takes them; shut
    /// the socket's write side after them if our end waits for that.
    pub fn flush_pending(&self) -> io::Result<()> {
        loop {
            let chunk = {
                let mut st = self.state();
                if st.codec.out.is_empty() {
                    break;
                }
                std::mem::take(&mut st.codec.out)
            };
            let mut done = 0;
            let r = loop {
                if done == chunk.len() {
                    break Ok(());
                }
                match (&self.sock).write(&chunk[done..]) {
                    Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            let mut st = self.state();
            if done < chunk.len() {
                let mut rest = chunk[done..].to_vec();
                rest.extend_from_slice(&st.codec.out);
                st.codec.out = rest;
            } else if st.codec.out.is_empty() {
                let mut chunk = chunk;
                chunk.clear();
                st.codec.out = chunk;
            }
            drop(st);
            r?;
        }
        let shut = {
            let mut st = self.state();
            let due = st.shut_due();
            st.shut_done |= due;
            due
        };
        if shut {
            self.sock.shutdown(Shutdown::Write)?;
        }
        match self.sock.tls() {
            Some(t) => t.flush_pending(),
            None => Ok(()),
        }
    }

    /// Whether frames (or TLS's ciphertext beneath) wait for the socket.
    pub fn has_pending(&self) -> bool {
        let mine = {
            let st = self.state();
            !st.codec.out.is_empty() || st.shut_due()
        };
        mine || self.sock.tls().is_some_and(|t| t.has_pending())
    }

    fn read_plain(&self, buf: &mut [u8], nowait: bool) -> io::Result<usize> {
        if !matches!(self.state().phase, Phase::Open) {
            if nowait {
                if !self.handshake_nowait()? {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
            } else {
                self.handshake(HANDSHAKE_TIMEOUT)?;
            }
        }
        loop {
            let decoded = {
                let mut st = self.state();
                if st.at < st.plain.len() {
                    let State { plain, at, .. } = &mut *st;
                    let n = buf.len().min(plain.len() - *at);
                    buf[..n].copy_from_slice(&plain[*at..*at + n]);
                    *at += n;
                    return Ok(n);
                }
                let State {
                    plain, at, codec, ..
                } = &mut *st;
                plain.clear();
                *at = 0;
                codec.decode(plain, buf.len().max(1))
            };
            // Pongs (or our Close for an error) go as the socket takes them.
            match self.flush_pending() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock && decoded.is_ok() => {
                    return Err(e);
                }
                _ => {}
            }
            if let Err(f) = decoded {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("websocket: {} (closed with {})", f.why, f.code),
                ));
            }
            {
                let st = self.state();
                if !st.plain.is_empty() {
                    continue;
                }
                if st.codec.their_close().is_some() || st.truncated {
                    return Ok(0);
                }
            }
            let mut tmp = [0u8; 16 * 1024];
            let n = if nowait {
                self.sock.read_nowait(&mut tmp)?
            } else {
                (&self.sock).read(&mut tmp)?
            };
            let mut st = self.state();
            if n == 0 {
                st.truncated = true;
                return Ok(0);
            }
            st.codec.inbuf.extend_from_slice(&tmp[..n]);
        }
    }

    fn write_plain(&self, data: &[u8]) -> io::Result<usize> {
        // What waits goes first; a full socket takes nothing new.
        self.flush_pending()?;
        let mut st = self.state();
        if !matches!(st.phase, Phase::Open) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if st.codec.our_close().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "websocket: our Close was sent",
            ));
        }
        let n = data.len().min(64 * 1024);
        st.codec.send_data(&data[..n]);
        drop(st);
        match self.flush_pending() {
            Ok(()) => Ok(n),
            // The bytes are taken: their frames wait in `out`.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Text framing: send a line still without its newline as a message
    /// now (the input ended, but the write side stays open).
    pub fn send_partial_line(&self) {
        self.state().codec.send_partial_line();
        let _ = self.flush_pending();
    }

    /// Shut a direction. Writing: our Close (after a partial line); the
    /// socket's FIN once the peer's Close has come too.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            {
                let mut st = self.state();
                if matches!(st.phase, Phase::Open) {
                    st.codec.finish();
                } else {
                    // No WebSocket yet: the socket's FIN is the end.
                    st.shut_after = true;
                }
            }
            match self.flush_pending() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.sock.shutdown(Shutdown::Read)?;
        }
        Ok(())
    }

    pub fn read_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plain(buf, true)
    }
}

impl Read for &WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plain(buf, false)
    }
}

impl Write for &WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_plain(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()
    }
}

#[cfg(test)]
mod tests;
