//! [`TlsStream`]: a TLS session over a plain stream, which every model
//! reads and writes like the stream itself (see the module above).
//!
//! A connection owns its session: one thread (serve's loop, a pooled
//! thread, a child, send) reads and writes it, so the state sits in a
//! `RefCell` borrowed only within one method and never across a socket
//! call, and no lock guards it. What a driver waits for follows rustls,
//! as in its `tlsserver-mio` example: readable while the session reads,
//! writable only while ciphertext waits ([`TlsStream::has_pending`]).

use std::cell::{Cell, RefCell, RefMut};

use super::*;

struct State {
    conn: rustls::Connection,
    /// Ciphertext not on the wire yet (a non-blocking socket that was full).
    out: Vec<u8>,
    /// Shut the socket's write side once `out` is on the wire.
    shut_after: bool,
    /// The peer closed the socket without close_notify.
    truncated: bool,
    /// Ciphertext read but not yet taken in: TLS holds a bounded amount
    /// of decrypted bytes, and this waits until they are read.
    inbuf: Vec<u8>,
}

/// A TLS session over a plain stream (TCP or Unix), owned by its
/// connection (it is `Send`, not `Sync`).
pub struct TlsStream {
    sock: Stream,
    st: RefCell<State>,
    /// The handshake's outcome has been told (once per connection).
    told: Cell<bool>,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsStream({:?})", self.sock)
    }
}

impl TlsStream {
    /// The server side of a new connection; the handshake happens on the
    /// first reads ([`TlsStream::handshake`] for a blocking one).
    pub fn server(sock: Stream, tls: &ServerTls) -> io::Result<TlsStream> {
        let conn = rustls::ServerConnection::new(tls.config.clone())
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(TlsStream::new(sock, conn.into()))
    }

    /// The client side of a connection to `addr` (its name is what is
    /// verified, unless `--sni` names another).
    pub fn client(sock: Stream, tls: &ClientTls, addr: &Addr) -> io::Result<TlsStream> {
        let name = server_name(tls.sni.as_deref(), addr)?;
        let conn = rustls::ClientConnection::new(tls.config.clone(), name)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(TlsStream::new(sock, conn.into()))
    }

    fn new(sock: Stream, conn: rustls::Connection) -> TlsStream {
        TlsStream {
            sock,
            st: RefCell::new(State {
                conn,
                out: Vec::new(),
                shut_after: false,
                truncated: false,
                inbuf: Vec::new(),
            }),
            told: Cell::new(false),
        }
    }

    /// True once, the first time it is asked after the handshake is done:
    /// when to tell what it settled.
    pub fn newly_settled(&self) -> bool {
        !self.told.get() && !self.state().conn.is_handshaking() && !self.told.replace(true)
    }

    /// The session's state, for the length of one step: no borrow is held
    /// across a socket call or a call to another of these methods.
    fn state(&self) -> RefMut<'_, State> {
        self.st.borrow_mut()
    }

    /// The plain stream beneath.
    pub fn sock(&self) -> &Stream {
        &self.sock
    }

    /// Finish the handshake on a blocking socket, within `timeout`.
    pub fn handshake(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "tls: no handshake within {}",
                    humantime::format_duration(timeout)
                ),
            )
        };
        while self.state().conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.sock.set_read_timeout(Some(left))?;
            self.sock.set_write_timeout(Some(left))?;
            match self.step(false) {
                Ok(()) => {}
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
        self.flush_pending()
    }

    /// Move the handshake along on a non-blocking socket: `Ok(true)` once
    /// it is done, `Ok(false)` while it waits for the peer.
    pub fn handshake_nowait(&self) -> io::Result<bool> {
        loop {
            if !self.state().conn.is_handshaking() {
                return match self.flush_pending() {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
                    Err(e) => Err(e),
                };
            }
            match self.step(true) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// One round of the handshake: send what is due, then read once.
    /// A peer that closes or resets meanwhile ends it with an error that
    /// says so (a closed socket reads as ready forever: retrying spins).
    fn step(&self, nowait: bool) -> io::Result<()> {
        self.queue_output();
        match self.flush_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && nowait => {}
            Err(e) => return Err(during_handshake(e)),
        }
        if !self.state().conn.wants_read() {
            // Nothing to send and nothing TLS will read: no step can move
            // it now. Wait (for the time limit at worst) rather than spin.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.read_socket(nowait).map_err(during_handshake)
    }

    /// Move what the TLS state has to send into the pending ciphertext.
    fn queue_output(&self) {
        let mut st = self.state();
        let State { conn, out, .. } = &mut *st;
        while conn.wants_write() {
            if conn.write_tls(out).is_err() {
                break;
            }
        }
    }

    /// Read ciphertext from the socket once (or take what an earlier read
    /// left) and take it in. `Ok(())` when something was taken (or the
    /// peer closed); `WouldBlock` otherwise.
    fn read_socket(&self, nowait: bool) -> io::Result<()> {
        let left = std::mem::take(&mut self.state().inbuf);
        let r = if !left.is_empty() {
            self.take_in(&left, false)
        } else {
            let mut buf = [0u8; 16 * 1024];
            let n = if nowait {
                self.sock.read_nowait(&mut buf)?
            } else {
                (&self.sock).read(&mut buf)?
            };
            self.take_in(&buf[..n], n == 0)
        };
        // Answers the peer is owed (handshake messages, an alert), as far
        // as the socket takes them now; the rest waits in `out`.
        self.queue_output();
        let _ = self.flush_pending();
        r
    }

    /// Give TLS the ciphertext `data` (`eof`: the peer closed), as far as
    /// it takes it before its decrypted bytes must be read; keep the rest.
    fn take_in(&self, data: &[u8], eof: bool) -> io::Result<()> {
        let mut st = self.state();
        let mut rest = data;
        if eof {
            let _ = st.conn.read_tls(&mut rest);
            st.conn
                .process_new_packets()
                .map_err(|e| tls_err(&st.conn, e))?;
            if st.conn.is_handshaking() {
                // Nothing more will come: the handshake cannot finish.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    CLOSED_IN_HANDSHAKE,
                ));
            }
            return Ok(());
        }
        while !rest.is_empty() {
            if !st.conn.wants_read() {
                // Decrypted bytes wait to be read: the rest waits too.
                st.inbuf = rest.to_vec();
                break;
            }
            st.conn.read_tls(&mut rest)?;
            st.conn
                .process_new_packets()
                .map_err(|e| tls_err(&st.conn, e))?;
        }
        Ok(())
    }

    /// Send the pending ciphertext, as far as the socket takes it; shut
    /// the socket's write side after it if a shutdown waits for that.
    pub fn flush_pending(&self) -> io::Result<()> {
        loop {
            let chunk = {
                let mut st = self.state();
                if st.out.is_empty() {
                    if std::mem::take(&mut st.shut_after) {
                        drop(st);
                        return self.sock.shutdown(Shutdown::Write);
                    }
                    return Ok(());
                }
                std::mem::take(&mut st.out)
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
                // Put back what did not go, ahead of anything newer.
                let mut rest = chunk[done..].to_vec();
                rest.extend_from_slice(&st.out);
                st.out = rest;
            } else if st.out.is_empty() {
                // Keep the buffer: the next record reuses its capacity.
                let mut chunk = chunk;
                chunk.clear();
                st.out = chunk;
            }
            drop(st);
            r?;
        }
    }

    /// Whether ciphertext waits for the socket (the event loop then
    /// watches for writability).
    pub fn has_pending(&self) -> bool {
        let st = self.state();
        !st.out.is_empty() || st.shut_after
    }

    fn read_plain(&self, buf: &mut [u8], nowait: bool) -> io::Result<usize> {
        loop {
            {
                let mut st = self.state();
                match st.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        // Closed without close_notify: an end, noted.
                        st.truncated = true;
                        return Ok(0);
                    }
                    Err(e) => return Err(e),
                }
            }
            self.read_socket(nowait)?;
        }
    }

    fn write_plain(&self, data: &[u8]) -> io::Result<usize> {
        // What is pending goes first; a full socket takes nothing new.
        self.flush_pending()?;
        let n = {
            let mut st = self.state();
            if st.conn.is_handshaking() && st.conn.wants_read() {
                // Not before the handshake: the loop drives it by reading.
                drop(st);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = st
                .conn
                .writer()
                .write(&data[..data.len().min(WRITE_CHUNK)])?;
            let State { conn, out, .. } = &mut *st;
            while conn.wants_write() {
                conn.write_tls(out)?;
            }
            n
        };
        match self.flush_pending() {
            Ok(()) => Ok(n),
            // The plaintext is taken: its ciphertext waits in `out`.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Shut a direction. Writing: close_notify (TLS's FIN), then the
    /// socket's FIN once it is on the wire.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            {
                let mut st = self.state();
                st.conn.send_close_notify();
                st.shut_after = true;
            }
            self.queue_output();
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

    /// Whether the peer closed without close_notify (a warning: many
    /// servers do).
    pub fn truncated(&self) -> bool {
        self.state().truncated
    }

    /// What the handshake settled.
    pub fn settled(&self) -> Settled {
        let st = self.state();
        let c = &st.conn;
        let peer = c.peer_certificates().and_then(|p| p.first());
        Settled {
            version: c
                .protocol_version()
                .map(|v| match v {
                    rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
                    rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
                    v => format!("{v:?}"),
                })
                .unwrap_or_default(),
            cipher: c
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            alpn: c
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            peer_sha256: peer.map(|d| cert_fingerprint(d)),
            peer_subject: peer.and_then(|d| subject(d)),
        }
    }

    pub fn read_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plain(buf, true)
    }
}

impl Read for &TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plain(buf, false)
    }
}

impl Write for &TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_plain(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()
    }
}
