//! Listening sockets a server inherits instead of binding: `fd:N`, and
//! systemd's socket activation (`systemd`, `systemd:NAME`), where the
//! service manager binds and passes descriptors 3, 4, … with `LISTEN_FDS`
//! (how many), `LISTEN_PID` (for which process) and `LISTEN_FDNAMES`
//! (their names, colon-separated).
//!
//! The sockets are adopted while the command line is checked, before
//! anything else in the process opens a descriptor, so a number can only
//! name what was inherited. The socket decides the transport (a TCP,
//! UDP, Unix stream or Unix datagram socket); a server never removes an
//! inherited socket's file, which belongs to whoever made it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};

use socket2::{Domain, Socket, Type};

use super::{Bound, Dgram, DgramSock, Endpoint, ListenSock, Listener, Opts};
use crate::addr::{Inherited, Kind};
use crate::error::{Error, Result, describe};

/// The first descriptor systemd passes (SD_LISTEN_FDS_START).
const FIRST: RawFd = 3;

/// Adopt the sockets `which` names. `udp` is the `-u` flag: it must agree
/// with what the socket is. `prints` says the handler is the default one,
/// which writes the peer's bytes to stdout: `stdio` must check where.
pub fn adopt(which: &Inherited, opts: &Opts, udp: bool, prints: bool) -> Result<Bound> {
    let fds = match which {
        Inherited::Stdio => return stdio(opts, udp, prints),
        Inherited::Fd(n) => vec![(*n, format!("fd:{n}"))],
        Inherited::Systemd(name) => {
            let var = |k: &str| std::env::var(k).ok();
            let all = listen_fds(
                var("LISTEN_PID").as_deref(),
                var("LISTEN_FDS").as_deref(),
                var("LISTEN_FDNAMES").as_deref(),
                std::process::id(),
            )?;
            pick(all, name.as_deref())?
        }
    };
    let mut listeners = Vec::new();
    let mut dgrams = Vec::new();
    let mut first: Option<(Kind, String)> = None;
    for (fd, label) in fds {
        let owned = crate::sys::adopt_fd(fd).map_err(|e| {
            if e.raw_os_error() == Some(libc::EBADF) {
                Error::runtime(format!("{label}: descriptor {fd} is not open"))
            } else {
                Error::runtime(format!("{label}: {}", describe(&e)))
            }
        })?;
        let (kind, sock) = inspect(owned, &label)?;
        if udp && !kind.is_datagram() {
            return Err(Error::usage(format!(
                "-u asks for datagrams, but {label} is a {kind} socket"
            )));
        }
        match &first {
            Some((k, l)) if *k != kind => {
                return Err(Error::usage(format!(
                    "{l} is a {k} socket and {label} a {kind} one: a server serves one kind; \
                     pick the sockets by name (systemd:NAME, FileDescriptorName= in the unit)"
                )));
            }
            Some(_) => {}
            None => first = Some((kind, label.clone())),
        }
        match sock {
            Adopted::Listener(sock, local) => listeners.push(Listener {
                sock,
                local,
                kind,
                opts: opts.clone(),
                file: None,
            }),
            Adopted::Dgram(sock, local) => dgrams.push(Dgram {
                sock,
                local,
                kind,
                file: None,
            }),
        }
    }
    Ok(if dgrams.is_empty() {
        Bound::Stream(listeners)
    } else {
        Bound::Dgram(dgrams)
    })
}

enum Adopted {
    Listener(ListenSock, Endpoint),
    Dgram(DgramSock, Endpoint),
}

/// Which of sockcat's four kinds a socket is, if any (a SEQPACKET or a
/// netlink socket is none of them).
fn kind_of(sock: &Socket) -> std::io::Result<Option<Kind>> {
    let ty = sock.r#type()?;
    let domain = sock.domain()?;
    let inet = domain == Domain::IPV4 || domain == Domain::IPV6;
    Ok(match (inet, domain == Domain::UNIX, ty) {
        (true, _, Type::STREAM) => Some(Kind::Tcp),
        (true, _, Type::DGRAM) => Some(Kind::Udp),
        (_, true, Type::STREAM) => Some(Kind::Unix),
        (_, true, Type::DGRAM) => Some(Kind::Unixgram),
        _ => None,
    })
}

/// What an inherited descriptor is, and the socket made of it.
fn inspect(owned: OwnedFd, label: &str) -> Result<(Kind, Adopted)> {
    let fd = owned.as_raw_fd();
    let sock = Socket::from(owned);
    let not_socket = |e: std::io::Error| {
        if e.raw_os_error() == Some(libc::ENOTSOCK) {
            Error::runtime(format!("{label}: descriptor {fd} is not a socket"))
        } else {
            Error::runtime(format!("{label}: {}", describe(&e)))
        }
    };
    let Some(kind) = kind_of(&sock).map_err(not_socket)? else {
        return Err(Error::runtime(format!(
            "{label}: a socket sockcat cannot serve (only TCP, UDP, Unix stream \
             and Unix datagram sockets)"
        )));
    };
    if !kind.is_datagram() && !sock.is_listener().map_err(not_socket)? {
        return Err(Error::runtime(format!(
            "{label}: a {kind} socket that is not listening (a connection, from a \
             .socket unit with Accept=yes? serve it with the address stdio and \
             StandardInput=socket, or use Accept=no and sockcat accepts itself)"
        )));
    }
    // The models set the mode they want; start from blocking, as bind does.
    sock.set_nonblocking(false)
        .map_err(|e| Error::runtime(format!("{label}: {}", describe(&e))))?;
    let inet_local = || {
        sock.local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map_or(Endpoint::Unknown, Endpoint::Inet)
    };
    Ok((
        kind,
        match kind {
            Kind::Tcp => {
                let local = inet_local();
                Adopted::Listener(ListenSock::Tcp(OwnedFd::from(sock).into()), local)
            }
            Kind::Udp => {
                let local = inet_local();
                Adopted::Dgram(DgramSock::Udp(OwnedFd::from(sock).into()), local)
            }
            Kind::Unix => {
                let l = UnixListener::from(OwnedFd::from(sock));
                let local = l
                    .local_addr()
                    .map_or(Endpoint::Unknown, |a| Endpoint::from_unix(&a));
                Adopted::Listener(ListenSock::Unix(l), local)
            }
            Kind::Unixgram => {
                let d = UnixDatagram::from(OwnedFd::from(sock));
                let local = d
                    .local_addr()
                    .map_or(Endpoint::Unknown, |a| Endpoint::from_unix(&a));
                Adopted::Dgram(DgramSock::Unix(d), local)
            }
        },
    ))
}

/// `stdio`: the connection on stdin, which inetd (`nowait`),
/// `systemd-socket-activate --inetd` or a unit with `Accept=yes` and
/// `StandardInput=socket` accepted for this process. It is taken off
/// descriptor 0 (which then reads /dev/null, so `serve` relays nothing
/// from it), and stdout and stderr are pointed at /dev/null when they are
/// the same socket, as inetd leaves them: events and printed data must
/// never be mixed into the connection's bytes. What stdin is not (a pipe,
/// a terminal, a datagram or listening socket) is refused with a pointer.
fn stdio(opts: &Opts, udp: bool, prints: bool) -> Result<Bound> {
    use nix::sys::stat::SFlag;
    use std::os::fd::AsFd;
    let label = "stdio";
    let stdin = std::io::stdin();
    let what = match crate::sys::file_kind(stdin.as_fd()) {
        None => Some("closed"),
        Some(SFlag::S_IFSOCK) => None,
        Some(SFlag::S_IFIFO) => Some("a pipe"),
        // A closed stdin is reopened on /dev/null before main (Rust's
        // runtime does that), so the two read the same.
        Some(SFlag::S_IFCHR) if is_dev_null(stdin.as_fd()) => Some("/dev/null (or closed)"),
        Some(SFlag::S_IFCHR) => Some("a terminal or device"),
        Some(SFlag::S_IFDIR) => Some("a directory"),
        Some(_) => Some("a file"),
    };
    if let Some(what) = what {
        return Err(Error::runtime(format!(
            "{label}: stdin is {what}, not a connected socket: stdio serves the connection \
             that inetd or systemd (Accept=yes, StandardInput=socket) hands over on stdin \
             (to try it: socat - EXEC:'sockcat serve stdio --echo' gives it a socket pair)"
        )));
    }
    let owned = stdin
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::runtime(format!("{label}: {}", describe(&e))))?;
    let sock = Socket::from(owned);
    let fail = |e: std::io::Error| Error::runtime(format!("{label}: {}", describe(&e)));
    let Some(kind) = kind_of(&sock).map_err(fail)? else {
        return Err(Error::runtime(format!(
            "{label}: stdin is a socket sockcat cannot serve (only TCP and Unix \
             stream connections)"
        )));
    };
    if kind.is_datagram() {
        return Err(Error::runtime(format!(
            "{label}: stdin is a {kind} socket (inetd's dgram wait?): stdio serves one \
             stream connection; for datagrams let systemd pass the socket (ListenDatagram=, \
             Accept=no) and serve systemd"
        )));
    }
    if udp {
        return Err(Error::usage(format!(
            "-u asks for datagrams, but stdin is a {kind} connection"
        )));
    }
    if sock.is_listener().map_err(fail)? {
        return Err(Error::runtime(format!(
            "{label}: stdin is a listening {kind} socket (inetd's wait, or \
             systemd-socket-activate --inetd without --accept?): stdio serves a connection \
             handed over (inetd's nowait, --accept, Accept=yes); to serve a listener, let \
             systemd pass it (Accept=no) and serve systemd"
        )));
    }
    // A socket never connected (a fresh one, not a connection handed
    // over) has no peer; a TCP connection the peer already reset has none
    // either, but keeps its port, and is served (it ends at once).
    let never_connected = sock
        .peer_addr()
        .is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN))
        && (kind == Kind::Unix
            || sock
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .is_none_or(|a| a.port() == 0));
    if never_connected {
        return Err(Error::runtime(format!(
            "{label}: stdin is a {kind} socket that is not connected: stdio serves a \
             connection handed over (inetd's nowait, --accept, Accept=yes)"
        )));
    }
    let same = |fd: std::os::fd::BorrowedFd<'_>| crate::sys::same_file(fd, sock.as_fd());
    let stdout_is_conn = same(std::io::stdout().as_fd());
    if stdout_is_conn && prints {
        return Err(Error::usage(format!(
            "{label}: stdout is the connection too (as inetd hands it over), so the \
             peer's bytes, which this handler prints, would go back to the peer: send \
             stdout elsewhere (StandardOutput=journal in the unit, or >FILE), or choose a \
             handler (--echo, --exec, ...)"
        )));
    }
    let stderr_is_conn = same(std::io::stderr().as_fd());
    crate::sys::null_stdio(true, stdout_is_conn, stderr_is_conn).map_err(fail)?;
    sock.set_nonblocking(false).map_err(fail)?;
    let (stream, peer, local) = if kind == Kind::Tcp {
        let s = std::net::TcpStream::from(OwnedFd::from(sock));
        let peer = s.peer_addr().map_or(Endpoint::Unknown, Endpoint::Inet);
        let local = s.local_addr().map_or(Endpoint::Unknown, Endpoint::Inet);
        (super::Stream::Tcp(s), peer, local)
    } else {
        let s = std::os::unix::net::UnixStream::from(OwnedFd::from(sock));
        let peer = super::unix_peer(&s);
        // A socket pair has no name: the readiness line says stdio.
        let local = match s.local_addr().map(|a| Endpoint::from_unix(&a)) {
            Ok(Endpoint::Unix(n)) => Endpoint::Unix(n),
            _ => Endpoint::Unix(label.into()),
        };
        (super::Stream::Unix(s), peer, local)
    };
    let l = Listener::handed(stream, peer, local, kind, opts).map_err(fail)?;
    Ok(Bound::Stream(vec![l]))
}

fn is_dev_null(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::fd::AsFd;
    std::fs::File::open("/dev/null").is_ok_and(|n| crate::sys::same_file(fd, n.as_fd()))
}

/// The descriptors systemd passed, with their names, from the values of
/// `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` (pure, for the tests).
fn listen_fds(
    pid: Option<&str>,
    count: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Vec<(RawFd, String)>> {
    let (Some(pid), Some(count)) = (pid, count) else {
        return Err(Error::runtime(
            "systemd: no sockets were passed (LISTEN_PID and LISTEN_FDS are not set; \
             run from a .socket unit or under systemd-socket-activate)",
        ));
    };
    if pid.trim().parse::<u32>().ok() != Some(me) {
        return Err(Error::runtime(format!(
            "systemd: the sockets were passed to process {pid}, not to this one ({me})"
        )));
    }
    let n = match count.trim().parse::<RawFd>() {
        Ok(n) if (1..=4096).contains(&n) => n,
        _ => {
            return Err(Error::runtime(format!(
                "systemd: LISTEN_FDS={count} passes no sockets"
            )));
        }
    };
    let names: Vec<&str> = names.map_or(Vec::new(), |s| s.split(':').collect());
    Ok((0..n)
        .map(|i| {
            let fd = FIRST + i;
            // systemd names an unnamed socket "unknown" (sd_listen_fds_with_names).
            let name = names.get(i as usize).copied().unwrap_or("unknown");
            (fd, format!("systemd:{name} (fd {fd})"))
        })
        .collect())
}

/// The sockets named `name` (all of them for `None`).
fn pick(all: Vec<(RawFd, String)>, name: Option<&str>) -> Result<Vec<(RawFd, String)>> {
    let Some(name) = name else {
        return Ok(all);
    };
    let wanted = format!("systemd:{name} ");
    let known: Vec<String> = all
        .iter()
        .map(|(_, l)| l.split(' ').next().unwrap_or_default().to_string())
        .collect();
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|(_, l)| l.starts_with(&wanted))
        .collect();
    if chosen.is_empty() {
        return Err(Error::runtime(format!(
            "systemd:{name}: no socket of that name was passed (there are {})",
            known.join(", ")
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_fds_reads_systemds_variables() {
        let got = listen_fds(Some("7"), Some("3"), Some("web:admin"), 7).unwrap();
        let fds: Vec<RawFd> = got.iter().map(|(f, _)| *f).collect();
        assert_eq!(fds, [3, 4, 5]);
        assert_eq!(got[0].1, "systemd:web (fd 3)");
        assert_eq!(got[2].1, "systemd:unknown (fd 5)");
        let picked = pick(got.clone(), Some("admin")).unwrap();
        assert_eq!(picked, [(4, "systemd:admin (fd 4)".to_string())]);
        let e = pick(got, Some("nope")).unwrap_err().to_string();
        assert!(
            e.contains("systemd:web, systemd:admin, systemd:unknown"),
            "{e}"
        );
    }

    #[test]
    fn listen_fds_refuses_what_is_not_for_this_process() {
        for (pid, count, want) in [
            (None, Some("1"), "not set"),
            (Some("8"), Some("1"), "process 8"),
            (Some("7"), Some("0"), "passes no sockets"),
            (Some("7"), Some("x"), "passes no sockets"),
        ] {
            let e = listen_fds(pid, count, None, 7).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
            assert_eq!(e.exit_code(), 1);
        }
    }
}
