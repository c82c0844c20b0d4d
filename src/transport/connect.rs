//! A client's connections: the blocking connect (the [`Connector`] waited
//! on, for `send` and load mode), a connect begun without waiting (each
//! of the Connector's attempts), and datagram clients.

use super::*;
use connector::{Interest, Upstream};

/// Connect a stream to `addr` (blocking): the [`Connector`] waited on.
pub fn connect(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    let c = Connector::new(addr, opts, timeout, source, Voice::Client);
    match wait(c, None)? {
        Upstream::Stream(s) => Ok(s),
        Upstream::Dgram(_) => Err(Error::usage(format!("{addr} is not a stream address"))),
    }
}

/// The order in which to try a name's addresses (RFC 8305, section 4):
/// families interleaved, IPv6 first, each family in resolver order.
pub fn interleave(targets: &[SocketAddr]) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = targets.iter().partition(|sa| sa.is_ipv6());
    let mut out = Vec::with_capacity(targets.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Whether a TCP connection to `peer` is to itself: a connect to a free
/// port in the ephemeral range can be given that same port as its source,
/// and TCP's simultaneous open then connects the socket to itself. Nothing
/// listens there, so it counts as refused (a scan would call the port
/// open, and a client would read back its own bytes). One getsockname:
/// every connect pays it.
pub fn self_connected(sock: &Socket, peer: SocketAddr) -> bool {
    sock.local_addr()
        .ok()
        .and_then(|l| l.as_socket())
        .is_some_and(|l| l == peer)
}

pub(super) fn refused_self() -> io::Error {
    io::Error::from_raw_os_error(libc::ECONNREFUSED)
}

/// A datagram client socket "connected" to `addr` (so only its replies
/// arrive). A Unix datagram client binds a name of its own, or the server
/// could not answer (see `unix::client_dgram`).
pub fn connect_dgram(addr: &Addr, opts: &Opts, source: Option<SocketAddr>) -> Result<Dgram> {
    match addr {
        Addr::Inet { host, port, .. } => {
            first_dgram(&addr::resolve(host, *port, opts.family)?, source)
        }
        Addr::Unix { name, .. } => unixgram_to(name),
    }
}

/// A UDP socket bound to `source` (or any local address of `sa`'s
/// family) and connected to `sa`, so that only its replies arrive.
pub fn udp_to(sa: SocketAddr, source: Option<SocketAddr>) -> io::Result<Dgram> {
    let local = source.unwrap_or_else(|| {
        if sa.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        }
    });
    let noting = ours::connecting();
    let s = UdpSocket::bind(local).and_then(|s| s.connect(sa).map(|_| s))?;
    noting.note(s.as_raw_fd(), sa);
    Ok(Dgram {
        local: s
            .local_addr()
            .map(Endpoint::Inet)
            .unwrap_or(Endpoint::Unknown),
        sock: DgramSock::Udp(s),
        kind: Kind::Udp,
        file: None,
    })
}

/// A Unix datagram client of `name` (see `unix::client_dgram`).
pub(super) fn unixgram_to(name: &addr::UnixName) -> Result<Dgram> {
    let (s, file) = unix::client_dgram(name)?;
    Ok(Dgram {
        local: s
            .local_addr()
            .map(|a| Endpoint::from_unix(&a))
            .unwrap_or(Endpoint::Unknown),
        sock: DgramSock::Unix(s),
        kind: Kind::Unixgram,
        file,
    })
}

/// One place a stream connect can go: a resolved inet address or a Unix
/// socket name.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Inet(SocketAddr),
    Unix(&'a addr::UnixName),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Inet(sa) => f.write_str(&addr::show(sa)),
            Target::Unix(n) => write!(f, "unix:{n}"),
        }
    }
}

/// Begin a stream connect that never waits (the event loop's way): the
/// stream comes back at once, non-blocking, and is connected once
/// [`Stream::connect_done`] says so. A Unix listener whose backlog is full
/// refuses at once here (EAGAIN) instead of making the caller wait.
pub fn connect_start(to: Target<'_>, opts: &Opts) -> io::Result<Stream> {
    connect_start_from(to, None, opts)
}

/// [`connect_start`] from a local address (`--source`; TCP only).
pub(super) fn connect_start_from(
    to: Target<'_>,
    source: Option<SocketAddr>,
    opts: &Opts,
) -> io::Result<Stream> {
    // Non-blocking from its creation: one system call less per connect.
    let stream = Type::STREAM.nonblocking();
    let (sock, sa) = match to {
        Target::Inet(sa) => {
            let sock = Socket::new(Domain::for_address(sa), stream, None)?;
            if let Some(src) = source {
                sock.set_reuse_address(true)?;
                sock.bind(&src.into())?;
            }
            (sock, socket2::SockAddr::from(sa))
        }
        Target::Unix(name) => {
            let sa = match name {
                addr::UnixName::Path(p) => socket2::SockAddr::unix(p)?,
                addr::UnixName::Abstract(n) => {
                    use std::os::unix::ffi::OsStrExt;
                    let mut b = vec![0u8];
                    b.extend_from_slice(n);
                    socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&b))?
                }
            };
            (Socket::new(Domain::UNIX, stream, None)?, sa)
        }
    };
    let noting = ours::connecting();
    match sock.connect(&sa) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "its backlog is full",
            ));
        }
        Err(e) => return Err(e),
    }
    if let Target::Inet(sa) = to {
        noting.note(sock.as_raw_fd(), sa);
    }
    let stream = match to {
        Target::Inet(_) => Stream::Tcp(sock.into()),
        Target::Unix(_) => Stream::Unix(sock.into()),
    };
    stream.apply(opts)?;
    Ok(stream)
}

impl Stream {
    /// Whether a connect begun by [`connect_start`] has finished: `Ok(true)`
    /// connected, `Ok(false)` still under way, `Err` why it failed.
    pub fn connect_done(&self) -> io::Result<bool> {
        let fd = match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            Stream::Tls(t) => return t.sock().connect_done(),
            Stream::Ws(w) => return w.sock().connect_done(),
        };
        let sock = socket2::SockRef::from(&fd);
        if let Some(e) = sock.take_error()? {
            return Err(e);
        }
        match sock.peer_addr() {
            // A connection to itself is refused here as in every connect.
            Ok(peer) if peer.as_socket().is_some_and(|p| self_connected(&sock, p)) => {
                Err(refused_self())
            }
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A non-blocking datagram socket connected to one resolved address or a
/// Unix datagram name (the event loop's forwarding upstream).
pub fn dgram_to(to: Target<'_>) -> Result<Dgram> {
    let d = match to {
        Target::Inet(sa) => {
            udp_to(sa, None).map_err(|e| Error::io(format!("connect to {}", addr::show(&sa)), e))?
        }
        Target::Unix(name) => unixgram_to(name)?,
    };
    d.set_nonblocking(true)
        .map_err(|e| Error::io("set O_NONBLOCK", e))?;
    Ok(d)
}

/// Connect, retrying until `deadline` while the server is not up yet.
pub fn connect_retry(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
    retry: Option<Duration>,
) -> Result<Stream> {
    let Some(window) = retry else {
        return connect(addr, opts, timeout, source);
    };
    let deadline = Instant::now() + window;
    let mut pause = Duration::from_millis(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let t = timeout
            .map_or(left, |t| t.min(left))
            .max(Duration::from_millis(1));
        match connect(addr, opts, Some(t), source) {
            Ok(s) => return Ok(s),
            Err(e @ Error::Usage(_)) => return Err(e),
            Err(e) => {
                // The last try is at the deadline itself: the whole window
                // is used, never cut short by the backoff.
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(format!(
                        "gave up after {}: {e}",
                        humantime::format_duration(window)
                    )));
                }
                std::thread::sleep(pause.min(left));
            }
        }
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Run a connect to its end, blocking: a name is looked up in place, then
/// [`Connector::step`] is waited on with poll(2). The result is in
/// blocking mode. `stop`, when given, is a descriptor whose readability
/// ends the wait at once ("closed at shutdown"): thread-serve's hard stop
/// must not wait out an upstream's connect or handshake.
pub fn wait(mut c: Connector, stop: Option<BorrowedFd<'_>>) -> Result<Upstream> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    c.be_patient();
    loop {
        let now = Instant::now();
        if let Some(u) = c.step(now)? {
            return blocking(u);
        }
        if let Some((host, port, family)) = c.lookup() {
            let answer = addr::resolve(host, port, family);
            c.resolved(answer);
            continue;
        }
        let (fds, until) = c.waits();
        let ms = until.map_or(PollTimeout::NONE, |u| {
            let left = u.saturating_duration_since(now).as_millis();
            // At least a millisecond: waking early would only spin.
            PollTimeout::try_from(left.clamp(1, 60_000) as i32).unwrap_or(PollTimeout::MAX)
        });
        let mut polled: Vec<PollFd<'_>> = fds
            .iter()
            .map(|(fd, how)| {
                let flags = match how {
                    Interest::Read => PollFlags::POLLIN,
                    Interest::Write => PollFlags::POLLOUT,
                    Interest::Both => PollFlags::POLLIN | PollFlags::POLLOUT,
                };
                PollFd::new(*fd, flags)
            })
            .collect();
        if let Some(s) = stop {
            polled.push(PollFd::new(s, PollFlags::POLLIN));
        }
        match poll(&mut polled, ms) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::io("poll", e.into())),
        }
        let stopped = stop.is_some()
            && polled
                .last()
                .and_then(|p| p.revents())
                .is_some_and(|r| !r.is_empty());
        if stopped {
            c.reset_on_close();
            return Err(Error::runtime("closed at shutdown"));
        }
    }
}

/// A connected upstream, in blocking mode for its blocking caller (a TLS
/// stream's last handshake bytes sent).
fn blocking(u: Upstream) -> Result<Upstream> {
    let set = |e| Error::io("set O_NONBLOCK", e);
    match &u {
        Upstream::Stream(s) => {
            s.set_nonblocking(false).map_err(set)?;
            if let Some(t) = s.tls() {
                t.flush_pending().map_err(|e| Error::io("tls", e))?;
            }
        }
        Upstream::Dgram(d) => d.set_nonblocking(false).map_err(set)?,
    }
    Ok(u)
}

/// A forwarder's datagram upstream: a UDP socket connected to the first
/// of `addrs` one opens for, or a Unix datagram client; non-blocking.
pub fn open_dgram(target: &Addr, addrs: &[SocketAddr]) -> Result<Dgram> {
    dgram_for(target, addrs, None)
}

/// [`open_dgram`] from `source`, if given.
pub(super) fn dgram_for(
    target: &Addr,
    addrs: &[SocketAddr],
    source: Option<SocketAddr>,
) -> Result<Dgram> {
    let d = match target {
        Addr::Unix { name, .. } => unixgram_to(name)?,
        Addr::Inet { .. } => first_dgram(addrs, source)?,
    };
    d.set_nonblocking(true)
        .map_err(|e| Error::io("set O_NONBLOCK", e))?;
    Ok(d)
}

/// A UDP socket connected to the first of `addrs` one opens for.
pub(super) fn first_dgram(addrs: &[SocketAddr], source: Option<SocketAddr>) -> Result<Dgram> {
    let mut last = Error::runtime("no address");
    for sa in addrs {
        match udp_to(*sa, source) {
            Ok(d) => return Ok(d),
            Err(e) => last = Error::io(format!("connect to {}", addr::show(sa)), e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod happy_eyeballs_tests {
    use super::interleave;
    use std::net::SocketAddr;

    /// A socket bound to a free port and connected to that same port is
    /// connected to itself (TCP's simultaneous open): the event loop's
    /// connect check refuses it, as the blocking connects do.
    #[test]
    fn a_connection_to_itself_is_refused_by_connect_done() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&port.into()).unwrap();
        sock.connect(&port.into()).unwrap();
        let stream = super::Stream::Tcp(sock.into());
        let e = stream.connect_done().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn families_interleave_ipv6_first() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let got = interleave(&[
            a("127.0.0.1:1"),
            a("10.0.0.1:1"),
            a("[::1]:1"),
            a("10.0.0.2:1"),
        ]);
        assert_eq!(
            got,
            [
                a("[::1]:1"),
                a("127.0.0.1:1"),
                a("10.0.0.1:1"),
                a("10.0.0.2:1")
            ]
        );
        assert_eq!(interleave(&[a("127.0.0.1:1")]), [a("127.0.0.1:1")]);
    }
}
