//! A client's connections: a name's addresses tried Happy Eyeballs style,
//! then the proxy's tunnel, then TLS (blocking, for `send`, load mode and
//! the blocking models' forwards), a connect begun without waiting (the
//! event loop's), and datagram clients.

use super::*;

/// Connect a stream to `addr`, trying each resolved address in turn.
pub fn connect(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    connect_as(addr, opts, timeout, source, true)
}

/// [`connect`] for a forwarder's upstream: a failed TLS handshake says
/// only why (`tls: …`), as the event loop's forwarder says it, since the
/// event already names the upstream (`forward to tls://… failed: …`); the
/// three models then say the same.
pub fn connect_upstream(addr: &Addr, opts: &Opts, timeout: Option<Duration>) -> Result<Stream> {
    connect_as(addr, opts, timeout, None, false)
}

/// `named`: whether a failed TLS handshake names the address.
pub(super) fn connect_as(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
    named: bool,
) -> Result<Stream> {
    let started = Instant::now();
    let plain = if let Some(p) = opts.proxy.as_deref() {
        proxy::connect(p, addr, opts, timeout, source)?
    } else {
        connect_plain(addr, opts, timeout, source)?
    };
    let Some(t) = opts.tls_client.as_deref() else {
        return Ok(plain);
    };
    // The handshake gets what is left of --connect-timeout.
    let left = timeout.map_or(tls::HANDSHAKE_TIMEOUT, |t| {
        t.saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    });
    secure(plain, addr, t, left, named)
}

/// Begin TLS on a connected stream as a client, and finish the handshake
/// within `timeout`.
pub(super) fn secure(
    plain: Stream,
    addr: &Addr,
    t: &tls::ClientTls,
    timeout: Duration,
    named: bool,
) -> Result<Stream> {
    let s = tls::TlsStream::client(plain, t, addr).map_err(|e| Error::io("tls", e))?;
    s.handshake(timeout).map_err(|e| {
        if named {
            Error::io(format!("connect to {addr}"), e)
        } else {
            Error::runtime(crate::error::describe(&e))
        }
    })?;
    Ok(Stream::Tls(std::sync::Arc::new(s)))
}

pub(super) fn connect_plain(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    match addr {
        Addr::Inet { host, port, .. } => {
            let targets = addr::resolve(host, *port, opts.family)?;
            connect_addrs(&targets, opts, timeout, source).map_err(|e| match e {
                Error::Usage(_) => {
                    Error::usage(format!("--source has no address of the family of {addr}"))
                }
                e => e,
            })
        }
        Addr::Unix { name, .. } => unix::connect_stream(name)
            .map(Stream::Unix)
            .map_err(|e| Error::io(format!("connect to unix:{name}"), e)),
    }
}

/// Connect to one of `targets` (a name's addresses), Happy Eyeballs style
/// when there are several; `timeout` bounds the whole attempt. A usage
/// error when `source` leaves no address of its family.
pub(super) fn connect_addrs(
    targets: &[SocketAddr],
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    let targets: Vec<SocketAddr> = targets
        .iter()
        .copied()
        .filter(|sa| source.is_none_or(|src| src.is_ipv4() == sa.is_ipv4()))
        .collect();
    if targets.is_empty() {
        return Err(Error::usage("--source has no address of that family"));
    }
    // A forwarder notes its upstream sockets before their connect can
    // complete (`ours`), which the blocking connect cannot do.
    let r = if targets.len() == 1 && !ours::enabled() {
        connect_inet(targets[0], timeout, source).map_err(|e| (targets[0], e))
    } else {
        happy_eyeballs(&targets, timeout, source)
    };
    match r {
        Ok(s) => {
            let stream = Stream::Tcp(s);
            stream
                .apply(opts)
                .map_err(|e| Error::io("set socket options", e))?;
            Ok(stream)
        }
        Err((sa, e)) => Err(Error::io(format!("connect to {}", addr::show(&sa)), e)),
    }
}

/// How long Happy Eyeballs waits for one attempt before it starts the
/// next beside it (RFC 8305's recommended Connection Attempt Delay).
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

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

/// Happy Eyeballs (RFC 8305): connect to every address, in
/// [`interleave`]'s order, starting the next attempt [`ATTEMPT_DELAY`]
/// after the last (or at once when one fails) while the earlier ones go
/// on; the first to connect wins and the others are closed. `timeout`
/// bounds the whole attempt, not each address.
pub(super) fn happy_eyeballs(
    targets: &[SocketAddr],
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> std::result::Result<TcpStream, (SocketAddr, io::Error)> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let order = interleave(targets);
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut attempts: Vec<(Socket, SocketAddr)> = Vec::new();
    let mut next = 0;
    let mut next_start = Instant::now();
    let mut last: Option<(SocketAddr, io::Error)> = None;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            let sa = attempts.first().map_or(order[0], |(_, sa)| *sa);
            return Err((
                sa,
                io::Error::new(io::ErrorKind::TimedOut, "connection timed out"),
            ));
        }
        if next < order.len() && (attempts.is_empty() || now >= next_start) {
            let sa = order[next];
            next += 1;
            next_start = now + ATTEMPT_DELAY;
            match start_connect(sa, source) {
                Ok(sock) => attempts.push((sock, sa)),
                Err(e) => {
                    last = Some((sa, e));
                    next_start = now; // on to the next at once
                }
            }
            continue;
        }
        if attempts.is_empty() {
            return Err(
                last.unwrap_or_else(|| (order[0], io::Error::other("no address to connect to")))
            );
        }
        let mut wait = deadline.map(|d| d.saturating_duration_since(now));
        if next < order.len() {
            let until_next = next_start.saturating_duration_since(now);
            wait = Some(wait.map_or(until_next, |w| w.min(until_next)));
        }
        let ms = wait.map_or(PollTimeout::NONE, |w| {
            PollTimeout::try_from(w.as_millis().clamp(1, 60_000) as i32).unwrap_or(PollTimeout::MAX)
        });
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = attempts
                .iter()
                .map(|(s, _)| PollFd::new(s.as_fd(), PollFlags::POLLOUT))
                .collect();
            match poll(&mut fds, ms) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err((order[0], e.into())),
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        let mut i = 0;
        let mut k = 0;
        while i < attempts.len() {
            if !ready[k] {
                i += 1;
                k += 1;
                continue;
            }
            k += 1;
            let (sock, sa) = &attempts[i];
            let sa = *sa;
            let state = sock.take_error().map(|e| (e, sock.peer_addr().is_ok()));
            match state {
                Ok((None, true)) if self_connected(sock, sa) => {
                    last = Some((sa, refused_self()));
                    attempts.remove(i);
                    next_start = Instant::now();
                }
                Ok((None, true)) => {
                    let (sock, _) = attempts.swap_remove(i);
                    // The other attempts are closed here, at once.
                    drop(attempts);
                    return sock
                        .set_nonblocking(false)
                        .map(|_| sock.into())
                        .map_err(|e| (sa, e));
                }
                Ok((None, false)) => i += 1,
                Ok((Some(e), _)) | Err(e) => {
                    last = Some((sa, e));
                    attempts.remove(i);
                    next_start = Instant::now(); // a failure starts the next at once
                }
            }
        }
    }
}

/// A non-blocking connect to `sa`, under way.
pub(super) fn start_connect(sa: SocketAddr, source: Option<SocketAddr>) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    if let Some(src) = source {
        sock.set_reuse_address(true)?;
        sock.bind(&src.into())?;
    }
    sock.set_nonblocking(true)?;
    let noting = ours::connecting();
    match sock.connect(&sa.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    noting.note(sock.as_raw_fd(), sa);
    Ok(sock)
}

pub(super) fn connect_inet(
    sa: SocketAddr,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    if let Some(src) = source {
        sock.set_reuse_address(true)?;
        sock.bind(&src.into())?;
    }
    if let Some(t) = timeout {
        // A blocking connect honours SO_SNDTIMEO (Linux): one setsockopt
        // instead of the non-blocking connect-and-poll dance, which matters
        // when load mode opens thousands of connections.
        sock.set_write_timeout(Some(t.max(Duration::from_millis(1))))?;
    }
    match sock.connect(&sa.into()) {
        Ok(()) => {}
        Err(e)
            if timeout.is_some()
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EINPROGRESS) | Some(libc::EAGAIN)
                ) =>
        {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
        Err(e) => return Err(e),
    }
    if self_connected(&sock, sa) {
        return Err(refused_self());
    }
    if timeout.is_some() {
        sock.set_write_timeout(None)?;
    }
    Ok(sock.into())
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
            let targets = addr::resolve(host, *port, opts.family)?;
            let mut last = None;
            for sa in &targets {
                match udp_to(*sa, source) {
                    Ok(d) => return Ok(d),
                    Err(e) => last = Some((*sa, e)),
                }
            }
            let (sa, e) = last.expect("resolve returns at least one address");
            Err(Error::io(format!("connect to {}", addr::show(&sa)), e))
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
    let (sock, sa) = match to {
        Target::Inet(sa) => (
            Socket::new(Domain::for_address(sa), Type::STREAM, None)?,
            socket2::SockAddr::from(sa),
        ),
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
            (Socket::new(Domain::UNIX, Type::STREAM, None)?, sa)
        }
    };
    sock.set_nonblocking(true)?;
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
