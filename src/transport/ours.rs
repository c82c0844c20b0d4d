//! Telling a connection that comes from this server itself. `--forward`
//! to an address that leads back to the server opens a connection per
//! connection, each taking a descriptor, a thread or a child, until none
//! is left. Two checks stop it: at start, an upstream that names one of
//! the server's own sockets is refused ([`leads_here`]); at run time, the
//! local address of every outgoing inet socket this process (or one of a
//! fork-serve's children) opens is noted here, and a peer whose address
//! is one of them, talking to the address that socket connected to, is
//! our own upstream ([`looped`]): a name or another interface that leads
//! here, which no check at start can see.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::addr::{Addr, UnixName};

use super::{Bound, DgramSock, ListenSock};

/// Who holds a noted socket.
#[derive(Clone, Copy)]
enum Owner {
    /// This process, at this descriptor (checked again before it counts:
    /// the descriptor may have been closed and reused since).
    Fd(RawFd),
    /// A fork-serve child, until it is reaped.
    Child(libc::pid_t),
}

/// Local address → (owner, the address it connected to). A local address
/// can serve several connections to different places.
type Table = HashMap<SocketAddr, Vec<(Owner, SocketAddr)>>;

#[derive(Default)]
struct State {
    table: Table,
    /// Connects this process has begun and not yet noted (another
    /// thread's, in thread-serve).
    pending: usize,
    /// fork-serve's parent: connects each child has begun and not yet
    /// reported.
    children: HashMap<libc::pid_t, usize>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);
static CHANGED: Condvar = Condvar::new();

/// Only a forwarding server notes its sockets (a client or another
/// handler never accepts what it opened).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The table's size at which stale entries are swept out next.
static SWEEP: AtomicUsize = AtomicUsize::new(SWEEP_AT);

/// Entries past which stale ones are swept out.
const SWEEP_AT: usize = 4096;

/// The longest an accepted connection from this host waits for a connect
/// under way (begun, its socket not yet noted) to be noted. A connect
/// that does not wait is noted a few microseconds after it begins, so
/// this is only reached by a worker preempted in between.
const SETTLE: Duration = Duration::from_millis(20);

/// fork-serve: the pipe children report their sockets through (the
/// parent reads its first end, children write the second, which does not
/// block: a report that does not fit is lost, not waited for).
static FROM_CHILDREN: OnceLock<(std::fs::File, std::fs::File)> = OnceLock::new();
static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// Records on that pipe, `RECORD` bytes each (one atomic write): the
/// kind, the child's pid, and for a socket its local and remote address.
const RECORD: usize = 48;
const BEGIN: u8 = 1;
const SOCKET: u8 = 2;
const DONE: u8 = 3;

fn state() -> MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    f(state().get_or_insert_with(State::default))
}

/// Note outgoing sockets from now on (a forwarding server, at start).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// fork-serve's parent, before its first fork: children report to it.
pub fn hear_children() -> std::io::Result<()> {
    let (rx, tx) = crate::sys::pipe()?;
    super::set_nonblocking_fd(rx.as_fd())?;
    super::set_nonblocking_fd(tx.as_fd())?;
    let _ = FROM_CHILDREN.set((OwnedFd::into(rx), OwnedFd::into(tx)));
    Ok(())
}

/// In a fork-serve child: report to the parent from now on.
pub fn in_child() {
    IN_CHILD.store(true, Ordering::Relaxed);
}

fn to_parent() -> Option<&'static std::fs::File> {
    if IN_CHILD.load(Ordering::Relaxed) {
        FROM_CHILDREN.get().map(|(_, tx)| tx)
    } else {
        None
    }
}

fn report(tx: &std::fs::File, kind: u8, pair: Option<(SocketAddr, SocketAddr)>) {
    let mut rec = [0u8; RECORD];
    rec[0] = kind;
    rec[4..8].copy_from_slice(&(std::process::id() as i32).to_ne_bytes());
    if let Some((local, remote)) = pair {
        encode(local, &mut rec[8..27]);
        encode(remote, &mut rec[28..47]);
    }
    let _ = crate::sys::write_all(tx, &rec);
}

/// A connect about to begin: until it is noted (or given up), a
/// connection accepted from this host waits a moment for it.
pub struct Connecting(bool);

pub fn connecting() -> Connecting {
    if !ENABLED.load(Ordering::Relaxed) {
        return Connecting(false);
    }
    match to_parent() {
        Some(tx) => report(tx, BEGIN, None),
        None => with(|s| s.pending += 1),
    }
    Connecting(true)
}

impl Connecting {
    /// The connect to `remote` has begun on `fd` (its local address is
    /// chosen by then): note it.
    pub fn note(mut self, fd: RawFd, remote: SocketAddr) {
        if !std::mem::take(&mut self.0) {
            return;
        }
        let local = local_of(fd);
        if let Some(tx) = to_parent() {
            report(
                tx,
                if local.is_some() { SOCKET } else { DONE },
                local.map(|l| (l, remote)),
            );
            return;
        }
        with(|s| {
            s.pending = s.pending.saturating_sub(1);
            if let Some(local) = local {
                insert(&mut s.table, local, Owner::Fd(fd), remote);
            }
        });
        CHANGED.notify_all();
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        if !std::mem::take(&mut self.0) {
            return;
        }
        match to_parent() {
            Some(tx) => report(tx, DONE, None),
            None => with(|s| s.pending = s.pending.saturating_sub(1)),
        }
        CHANGED.notify_all();
    }
}

fn insert(t: &mut Table, local: SocketAddr, owner: Owner, remote: SocketAddr) {
    if t.len() >= SWEEP.load(Ordering::Relaxed) {
        t.retain(|l, owners| {
            owners.retain(|(o, _)| match o {
                Owner::Fd(fd) => local_of(*fd) == Some(*l),
                Owner::Child(_) => true,
            });
            !owners.is_empty()
        });
        // Thousands of live connections: sweep again only once the table
        // has doubled, so noting stays cheap on average.
        SWEEP.store((t.len() * 2).max(SWEEP_AT), Ordering::Relaxed);
    }
    let owners = t.entry(local).or_default();
    if let Owner::Fd(fd) = owner {
        owners.retain(|(o, _)| !matches!(o, Owner::Fd(f) if *f == fd));
    }
    owners.push((owner, remote));
}

/// fork-serve's parent: read what the children reported. Called every
/// turn of its loop too, so the pipe never fills.
pub fn hear() {
    if IN_CHILD.load(Ordering::Relaxed) {
        return;
    }
    if let Some(s) = state().as_mut() {
        hear_into(s);
    }
}

fn hear_into(s: &mut State) {
    let Some((rx, _)) = FROM_CHILDREN.get() else {
        return;
    };
    let mut buf = [0u8; RECORD * 64];
    loop {
        let n = match (&*rx).read(&mut buf) {
            Ok(n) if n > 0 => n,
            _ => return,
        };
        // Writes of RECORD bytes are atomic and reads take a multiple of
        // it, so a read never splits a record.
        for r in buf[..n].chunks_exact(RECORD) {
            let pid = i32::from_ne_bytes([r[4], r[5], r[6], r[7]]);
            match r[0] {
                BEGIN => *s.children.entry(pid).or_default() += 1,
                SOCKET | DONE => {
                    if let Some(n) = s.children.get_mut(&pid) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            s.children.remove(&pid);
                        }
                    }
                    if let (SOCKET, Some(l), Some(to)) =
                        (r[0], decode(&r[8..27]), decode(&r[28..47]))
                    {
                        insert(&mut s.table, l, Owner::Child(pid), to);
                    }
                }
                _ => {}
            }
        }
    }
}

/// In fork-serve's parent: a child was reaped, and its sockets with it.
pub fn child_gone(pid: libc::pid_t) {
    with(|s| {
        s.children.remove(&pid);
        s.table.retain(|_, owners| {
            owners.retain(|(o, _)| !matches!(o, Owner::Child(p) if *p == pid));
            !owners.is_empty()
        })
    });
}

/// Whether a peer at `peer`, talking to our socket at `local` (which may
/// be a wildcard, for a datagram socket), is one of our own outgoing
/// sockets: a forwarding loop. Only a peer at an address of this host
/// can be; for one, a connect under way elsewhere (another thread, a
/// child) is waited for, briefly, since the connection may be its.
pub fn looped(peer: SocketAddr, local: SocketAddr) -> bool {
    let peer = unmapped(peer);
    let local = unmapped(local);
    if !ENABLED.load(Ordering::Relaxed) || !is_local_ip(peer.ip()) {
        return false;
    }
    let until = Instant::now() + SETTLE;
    let mut g = state();
    loop {
        let s = g.get_or_insert_with(State::default);
        if !IN_CHILD.load(Ordering::Relaxed) {
            hear_into(s);
        }
        if found(&mut s.table, peer, local) {
            return true;
        }
        let now = Instant::now();
        if now >= until || (s.pending == 0 && s.children.is_empty()) {
            return false;
        }
        if s.children.is_empty() {
            g = CHANGED
                .wait_timeout(g, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        } else {
            drop(g);
            if let Some((rx, _)) = FROM_CHILDREN.get() {
                use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
                let ms = (until - now).as_millis().clamp(1, 20) as u16;
                let _ = poll(
                    &mut [PollFd::new(rx.as_fd(), PollFlags::POLLIN)],
                    PollTimeout::from(ms),
                );
            }
            g = state();
        }
    }
}

fn found(t: &mut Table, peer: SocketAddr, local: SocketAddr) -> bool {
    let Some(owners) = t.get_mut(&peer) else {
        return false;
    };
    // Forget what was closed since (its descriptor may be reused).
    owners.retain(|(o, _)| match o {
        Owner::Fd(fd) => local_of(*fd) == Some(peer),
        Owner::Child(_) => true,
    });
    let hit = owners.iter().any(|(_, remote)| {
        let remote = unmapped(*remote);
        remote == local
            || (local.ip().is_unspecified()
                && remote.port() == local.port()
                && is_local_ip(remote.ip()))
    });
    if owners.is_empty() {
        t.remove(&peer);
    }
    hit
}

/// An inet address in 19 bytes: 4 or 6, the port, 16 bytes of address.
fn encode(a: SocketAddr, out: &mut [u8]) {
    out[1..3].copy_from_slice(&a.port().to_be_bytes());
    match a.ip() {
        IpAddr::V4(v4) => {
            out[0] = 4;
            out[3..7].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out[0] = 6;
            out[3..19].copy_from_slice(&v6.octets());
        }
    }
}

fn decode(b: &[u8]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes([b[1], b[2]]);
    let ip: IpAddr = match b[0] {
        4 => <[u8; 4]>::try_from(&b[3..7]).ok()?.into(),
        6 => <[u8; 16]>::try_from(&b[3..19]).ok()?.into(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn local_of(fd: RawFd) -> Option<SocketAddr> {
    let a: nix::sys::socket::SockaddrStorage = nix::sys::socket::getsockname(fd).ok()?;
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

fn unmapped(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => a,
        },
        SocketAddr::V4(_) => a,
    }
}

/// An address a connect from this host reaches this host at: loopback,
/// the unspecified address (which Linux takes to mean this host), or an
/// address of one of its interfaces.
fn is_local_ip(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    // The interfaces' addresses, looked up at most once a second (this
    // runs for connections a busy server accepts).
    static IFS: Mutex<Option<(Instant, Vec<IpAddr>)>> = Mutex::new(None);
    let mut g = IFS.lock().unwrap_or_else(|e| e.into_inner());
    if g.as_ref()
        .is_none_or(|(at, _)| at.elapsed() >= Duration::from_secs(1))
    {
        let ips = nix::ifaddrs::getifaddrs()
            .map(|ifs| {
                ifs.filter_map(|i| i.address)
                    .filter_map(|a| {
                        a.as_sockaddr_in()
                            .map(|v4| IpAddr::V4(v4.ip()))
                            .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        *g = Some((Instant::now(), ips));
    }
    g.as_ref().is_some_and(|(_, ips)| ips.contains(&ip))
}

/// Whether `to`, a forwarder's upstream, is one of the server's own
/// sockets in `bound`: the same address, a local address on the port of a
/// wildcard bind, or the same socket file (or abstract name). Only
/// literal addresses are checked: a name is looked up when a connection
/// needs it (it may not resolve yet, or resolve elsewhere later), and a
/// loop through one is caught by [`looped`].
pub fn leads_here(bound: &Bound, to: &Addr) -> Option<String> {
    match to {
        Addr::Inet { host, port, .. } => {
            let ip: IpAddr = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?;
            let target = unmapped(SocketAddr::new(ip, *port));
            let locals: Vec<SocketAddr> = match bound {
                Bound::Stream(ls) if !to.is_datagram() => ls
                    .iter()
                    .filter_map(|l| match l.local {
                        super::Endpoint::Inet(a) => Some(a),
                        _ => None,
                    })
                    .collect(),
                Bound::Dgram(ds) if to.is_datagram() => ds
                    .iter()
                    .filter_map(|d| match d.local {
                        super::Endpoint::Inet(a) => Some(a),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            locals.into_iter().find_map(|l| {
                let same_family = l.is_ipv4() == target.is_ipv4();
                let hit = l == target
                    || (l.port() == target.port()
                        && same_family
                        && (l.ip().is_unspecified() || target.ip().is_unspecified())
                        && is_local_ip(target.ip())
                        && is_local_ip(l.ip()));
                hit.then(|| crate::addr::show(&l))
            })
        }
        Addr::Unix { name, dgram } => {
            let addrs: Vec<std::os::unix::net::SocketAddr> = match bound {
                Bound::Stream(ls) if !dgram => ls
                    .iter()
                    .filter_map(|l| match &l.sock {
                        ListenSock::Unix(u) => u.local_addr().ok(),
                        _ => None,
                    })
                    .collect(),
                Bound::Dgram(ds) if *dgram => ds
                    .iter()
                    .filter_map(|d| match &d.sock {
                        DgramSock::Unix(u) => u.local_addr().ok(),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            addrs
                .iter()
                .find(|a| same_unix(a, name))
                .map(super::unix::show)
        }
    }
}

fn same_unix(a: &std::os::unix::net::SocketAddr, name: &UnixName) -> bool {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::fs::MetadataExt;
    match name {
        UnixName::Abstract(n) => a.as_abstract_name() == Some(n.as_slice()),
        UnixName::Path(p) => {
            let Some(ours) = a.as_pathname() else {
                return false;
            };
            match (std::fs::metadata(ours), std::fs::metadata(p)) {
                (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_ours_only_while_our_socket_has_its_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = l.local_addr().unwrap();
        let s = std::net::TcpStream::connect(to).unwrap();
        let from = s.local_addr().unwrap();
        let (_accepted, peer) = l.accept().unwrap();
        assert_eq!(peer, from);
        assert!(!looped(peer, to), "not noted yet");
        use std::os::fd::AsRawFd;
        enable();
        connecting().note(s.as_raw_fd(), to);
        assert!(looped(peer, to));
        let wildcard = SocketAddr::from(([0, 0, 0, 0], to.port()));
        assert!(looped(peer, wildcard), "a wildcard socket on the same port");
        let other = SocketAddr::from(([127, 0, 0, 1], to.port().wrapping_add(1)));
        assert!(!looped(peer, other), "a connection to somewhere else");
        drop(s);
        assert!(!looped(peer, to), "closed: no longer ours");
    }
}
