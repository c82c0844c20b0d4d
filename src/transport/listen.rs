//! A server's sockets: bind (or take over) a listening stream socket or a
//! datagram socket, accept from it, and the options every socket sockcat
//! opens gets.

use super::*;

/// A listening stream socket.
#[derive(Debug)]
pub struct Listener {
    pub(super) sock: ListenSock,
    pub local: Endpoint,
    pub kind: crate::addr::Kind,
    pub(super) opts: Opts,
    /// The socket file, removed when the listener is dropped.
    pub file: Option<SocketFile>,
}

#[derive(Debug)]
pub(super) enum ListenSock {
    Tcp(TcpListener),
    Unix(UnixListener),
    /// `stdio`: one connection someone else accepted (inetd), given out
    /// by the first `accept`; then the listener is spent. An event loop
    /// watches `ready`, a pipe at its end (always readable), in place of
    /// a listening socket.
    Handed {
        conn: std::sync::Mutex<Option<(Stream, Endpoint)>>,
        ready: OwnedFd,
    },
}

/// A Unix stream peer as events show it: its name, if it bound one, and
/// the uid and pid the kernel vouches for (SO_PEERCRED).
pub(super) fn unix_peer(s: &UnixStream) -> Endpoint {
    let peer = s
        .peer_addr()
        .map(|a| Endpoint::from_unix(&a))
        .unwrap_or(Endpoint::Unnamed);
    match crate::sys::peer_credentials(s) {
        Some((uid, pid)) => Endpoint::Credited {
            name: match peer {
                Endpoint::Unix(n) => Some(n),
                _ => None,
            },
            uid,
            pid,
        },
        None => peer,
    }
}

impl Listener {
    /// Accept one connection. `nonblocking` sets O_NONBLOCK on the new
    /// socket in the same call (accept4), as the event loop wants.
    pub fn accept(&self, nonblocking: bool) -> io::Result<(Stream, Endpoint)> {
        // socket2 accepts with accept4(SOCK_CLOEXEC).
        let (sock, sa) = match &self.sock {
            ListenSock::Tcp(l) => socket2::SockRef::from(l).accept()?,
            ListenSock::Unix(l) => socket2::SockRef::from(l).accept()?,
            ListenSock::Handed { conn, .. } => {
                let taken = conn.lock().unwrap_or_else(|e| e.into_inner()).take();
                let (stream, peer) = taken.ok_or(io::ErrorKind::WouldBlock)?;
                stream.set_nonblocking(nonblocking)?;
                return self.finish_accept(stream, peer);
            }
        };
        if nonblocking {
            sock.set_nonblocking(true)?;
        }
        let owned = OwnedFd::from(sock);
        let (stream, peer) = match self.sock {
            ListenSock::Tcp(_) => {
                let peer = sa
                    .as_socket()
                    .map(Endpoint::Inet)
                    .unwrap_or(Endpoint::Unknown);
                (Stream::Tcp(TcpStream::from(owned)), peer)
            }
            // (A handed connection returned above.)
            ListenSock::Unix(_) | ListenSock::Handed { .. } => {
                let s = UnixStream::from(owned);
                let peer = unix_peer(&s);
                (Stream::Unix(s), peer)
            }
        };
        self.finish_accept(stream, peer)
    }

    /// What every accepted stream gets: the socket options, and TLS.
    fn finish_accept(&self, stream: Stream, peer: Endpoint) -> io::Result<(Stream, Endpoint)> {
        stream.apply(&self.opts)?;
        // TLS: the handshake is the worker's (or the loop's), not accept's.
        let stream = match self.opts.tls_server.as_deref() {
            Some(t) => Stream::Tls(Box::new(tls::TlsStream::server(stream, t)?)),
            None => stream,
        };
        // A WebSocket over it (over TLS, if any): its Upgrade is the
        // worker's too.
        let stream =
            match self.opts.ws.as_deref() {
                Some(ws::Ws::Server { rules, framing }) => Stream::Ws(Box::new(
                    ws::WsStream::server(stream, rules.clone(), *framing),
                )),
                _ => stream,
            };
        Ok((stream, peer))
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match &self.sock {
            ListenSock::Tcp(l) => l.set_nonblocking(on),
            ListenSock::Unix(l) => l.set_nonblocking(on),
            // The connection gets its mode when it is taken.
            ListenSock::Handed { .. } => Ok(()),
        }
    }

    /// `stdio`'s listener once its one connection was taken: nothing more
    /// will come, and the server ends when that connection does.
    pub fn spent(&self) -> bool {
        match &self.sock {
            ListenSock::Handed { conn, .. } => {
                conn.lock().unwrap_or_else(|e| e.into_inner()).is_none()
            }
            _ => false,
        }
    }

    /// A listener for the one connection `stream` (from `peer`), handed
    /// over already accepted.
    pub(crate) fn handed(
        stream: Stream,
        peer: Endpoint,
        local: Endpoint,
        kind: Kind,
        opts: &Opts,
    ) -> io::Result<Listener> {
        // At its end at once: readable for good, so the loop accepts.
        let (ready, _) = crate::sys::pipe()?;
        Ok(Listener {
            sock: ListenSock::Handed {
                conn: std::sync::Mutex::new(Some((stream, peer))),
                ready,
            },
            local,
            kind,
            opts: opts.clone(),
            file: None,
        })
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.sock {
            ListenSock::Tcp(l) => l.as_fd(),
            ListenSock::Unix(l) => l.as_fd(),
            ListenSock::Handed { ready, .. } => ready.as_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A bound datagram socket (UDP or Unix datagram).
#[derive(Debug)]
pub struct Dgram {
    pub(super) sock: DgramSock,
    pub local: Endpoint,
    pub kind: crate::addr::Kind,
    pub file: Option<SocketFile>,
}

#[derive(Debug)]
pub(super) enum DgramSock {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// Where a datagram came from, so the reply can go back there.
#[derive(Clone, Debug)]
pub enum ReplyTo {
    Inet(SocketAddr),
    Unix(Option<std::path::PathBuf>, Option<Vec<u8>>),
}

impl Dgram {
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, ReplyTo, Endpoint)> {
        match &self.sock {
            DgramSock::Udp(s) => {
                let (n, a) = s.recv_from(buf)?;
                Ok((n, ReplyTo::Inet(a), Endpoint::Inet(a)))
            }
            DgramSock::Unix(s) => {
                let (n, a) = s.recv_from(buf)?;
                let to = ReplyTo::Unix(
                    a.as_pathname().map(|p| p.to_path_buf()),
                    unix::abstract_name(&a),
                );
                Ok((n, to, Endpoint::from_unix(&a)))
            }
        }
    }

    pub fn send_to(&self, buf: &[u8], to: &ReplyTo) -> io::Result<usize> {
        match (&self.sock, to) {
            (DgramSock::Udp(s), ReplyTo::Inet(a)) => s.send_to(buf, a),
            (DgramSock::Unix(s), ReplyTo::Unix(Some(p), _)) => s.send_to(buf, p),
            (DgramSock::Unix(s), ReplyTo::Unix(None, Some(name))) => {
                s.send_to_addr(buf, &unix::abstract_addr(name)?)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "the sender has no address to reply to",
            )),
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match &self.sock {
            DgramSock::Udp(s) => s.set_nonblocking(on),
            DgramSock::Unix(s) => s.set_nonblocking(on),
        }
    }

    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match &self.sock {
            DgramSock::Udp(s) => s.set_read_timeout(d),
            DgramSock::Unix(s) => s.set_read_timeout(d),
        }
    }

    /// The largest datagram this socket sends: 65,507 bytes for UDP (an
    /// IPv4 datagram's limit), the send buffer for a Unix datagram socket.
    pub fn max_datagram(&self) -> usize {
        match &self.sock {
            DgramSock::Udp(_) => 65_507,
            DgramSock::Unix(s) => socket2::SockRef::from(s)
                .send_buffer_size()
                .map(|n| n.saturating_sub(32).max(1024))
                .unwrap_or(64 * 1024),
        }
    }

    /// Receive one datagram without waiting, whatever the blocking mode.
    pub fn recv_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        crate::sys::recv_nowait(self.as_fd(), buf)
    }

    /// Send to the connected peer (client side).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.sock {
            DgramSock::Udp(s) => s.send(buf),
            DgramSock::Unix(s) => s.send(buf),
        }
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.sock {
            DgramSock::Udp(s) => s.recv(buf),
            DgramSock::Unix(s) => s.recv(buf),
        }
    }
}

impl AsFd for Dgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.sock {
            DgramSock::Udp(s) => s.as_fd(),
            DgramSock::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Dgram {
    fn as_raw_fd(&self) -> RawFd {
        match &self.sock {
            DgramSock::Udp(s) => s.as_raw_fd(),
            DgramSock::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// The sockets a server listens on: stream listeners or datagram sockets.
#[derive(Debug)]
pub enum Bound {
    Stream(Vec<Listener>),
    Dgram(Vec<Dgram>),
}

impl Bound {
    /// Give every listener the server's options once they are complete:
    /// inherited sockets are adopted before the TLS settings are made.
    pub fn set_opts(&mut self, opts: &Opts) {
        if let Bound::Stream(ls) = self {
            for l in ls {
                l.opts = opts.clone();
            }
        }
    }

    /// The transport, as events name it (every socket in a `Bound` is
    /// of one kind).
    pub fn kind(&self) -> Kind {
        match self {
            Bound::Stream(ls) => ls.first().map_or(Kind::Tcp, |l| l.kind),
            Bound::Dgram(ds) => ds.first().map_or(Kind::Udp, |d| d.kind),
        }
    }
}

/// Where a server's sockets come from: an address to bind, or sockets it
/// inherited (adopted at start, before anything else opens a descriptor).
#[derive(Debug)]
pub enum Listen {
    Bind(Addr),
    Inherited(Bound),
}

impl Listen {
    pub fn kind(&self) -> Kind {
        match self {
            Listen::Bind(a) => a.kind(),
            Listen::Inherited(b) => b.kind(),
        }
    }
}

/// Bind every address `addr` names. `localhost` binds 127.0.0.1 and ::1;
/// with port 0 the later sockets reuse the port the kernel gave the first,
/// so one port number reaches them all.
pub fn bind(addr: &Addr, opts: &Opts) -> Result<Bound> {
    match addr {
        Addr::Inet { proto, host, port } => {
            let targets = addr::resolve(host, *port, opts.family)?;
            let many = targets.len() > 1;
            let mut chosen_port = *port;
            let mut socks = Vec::new();
            for mut sa in targets {
                if chosen_port != 0 {
                    sa.set_port(chosen_port);
                }
                match bind_inet(*proto, sa, opts) {
                    Ok((sock, local)) => {
                        chosen_port = local.port();
                        socks.push((sock, local));
                    }
                    // localhost names ::1 even where IPv6 is off: skip what
                    // this host cannot have, as long as something binds.
                    Err(e)
                        if many
                            && matches!(
                                e.raw_os_error(),
                                Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT)
                            ) => {}
                    Err(e) => {
                        return Err(Error::runtime(format!(
                            "bind {}: {}",
                            addr::show(&sa),
                            describe(&e)
                        )));
                    }
                }
            }
            if socks.is_empty() {
                return Err(Error::runtime(format!("bind {addr}: no usable address")));
            }
            Ok(match proto {
                Proto::Tcp => Bound::Stream(
                    socks
                        .into_iter()
                        .map(|(s, local)| Listener {
                            sock: ListenSock::Tcp(s.into()),
                            local: Endpoint::Inet(local),
                            kind: Kind::Tcp,
                            opts: opts.clone(),
                            file: None,
                        })
                        .collect(),
                ),
                Proto::Udp => Bound::Dgram(
                    socks
                        .into_iter()
                        .map(|(s, local)| Dgram {
                            sock: DgramSock::Udp(s.into()),
                            local: Endpoint::Inet(local),
                            kind: Kind::Udp,
                            file: None,
                        })
                        .collect(),
                ),
            })
        }
        Addr::Unix { name, dgram } => {
            if *dgram {
                let (s, file) = unix::bind_dgram(name, opts.mode)?;
                Ok(Bound::Dgram(vec![Dgram {
                    sock: DgramSock::Unix(s),
                    local: Endpoint::Unix(name.to_string()),
                    kind: Kind::Unixgram,
                    file,
                }]))
            } else {
                let (l, file) = unix::bind_stream(name, opts.mode, opts.backlog)?;
                Ok(Bound::Stream(vec![Listener {
                    sock: ListenSock::Unix(l),
                    local: Endpoint::Unix(name.to_string()),
                    kind: Kind::Unix,
                    opts: opts.clone(),
                    file,
                }]))
            }
        }
    }
}

pub(super) fn bind_inet(
    proto: Proto,
    sa: SocketAddr,
    opts: &Opts,
) -> io::Result<(Socket, SocketAddr)> {
    let ty = match proto {
        Proto::Tcp => Type::STREAM,
        Proto::Udp => Type::DGRAM,
    };
    let sock = Socket::new(Domain::for_address(sa), ty, None)?;
    // TCP: restart at once on the same port (docs/ARCHITECTURE.md,
    // "Sockets"); a live listener still refuses a second bind. UDP: never,
    // since on a datagram socket SO_REUSEADDR lets a second socket (another
    // user's, even) bind the same port and take our datagrams.
    if proto == Proto::Tcp {
        sock.set_reuse_address(true)?;
    }
    if sa.is_ipv6() {
        // [::] and 0.0.0.0 are separate sockets here, as for 127.0.0.1 and ::1.
        sock.set_only_v6(true)?;
    }
    sock.bind(&sa.into())?;
    if proto == Proto::Tcp {
        sock.listen(opts.backlog.min(i32::MAX as u32) as i32)?;
    }
    let local = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no inet address"))?;
    Ok((sock, local))
}
