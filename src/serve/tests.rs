//! Unit tests of serve's loop: a panic ends its connection alone.

use super::conn::isolated;
use super::*;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// A quiet loop serving `spec`, with no listeners: the tests add
/// connections themselves.
pub(super) fn a_loop(spec: Spec) -> EventLoop {
    let server = Server {
        bound: Bound::Stream(Vec::new()),
        service: servers::Service {
            spec,
            settings: servers::Settings::quiet(Duration::from_secs(1)),
        },
        signals: servers::Signals::default(),
        kind: crate::addr::Kind::Unix,
    };
    let poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
    EventLoop::new(server, poll, waker).unwrap()
}

/// A connection on the loop, and its client's end.
fn connect(lp: &mut EventLoop) -> (usize, UnixStream) {
    let (client, server) = UnixStream::pair().unwrap();
    server.set_nonblocking(true).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let id = lp.next_id;
    lp.add(Stream::Unix(server), Endpoint::Unnamed);
    (id, client)
}

#[test]
fn isolated_turns_a_panic_into_its_end() {
    assert!(isolated(|| Ok(())).is_ok());
    assert!(matches!(
        isolated(|| Err(End::IdleTimeout)),
        Err(End::IdleTimeout)
    ));
    assert!(matches!(
        isolated(|| panic!("a bug in a handler")),
        Err(End::Panicked)
    ));
}

/// A panic while one connection is handled ends that connection, and
/// the loop serves the others on.
#[test]
fn a_panic_ends_its_connection_alone() {
    let mut lp = a_loop(Spec::Echo);
    let (a, mut a_client) = connect(&mut lp);
    let (b, mut b_client) = connect(&mut lp);
    lp.drive_with(a, |_, _, _| panic!("a bug in a handler"))
        .unwrap();
    assert!(!lp.conns.contains_key(&a), "it is closed");
    assert_eq!(lp.totals.conns, 1, "and counted as ended");
    let mut buf = [0u8; 16];
    assert_eq!(
        a_client.read(&mut buf).unwrap(),
        0,
        "its client sees the end"
    );
    b_client.write_all(b"hi").unwrap();
    lp.drive(b).unwrap();
    assert!(lp.conns.contains_key(&b));
    let n = b_client.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hi", "the other connection is served on");
}

/// A forwarded connection that panicked is cut on both sides: a
/// reset, to the client and to the upstream, so that neither takes
/// the cut transfer for a whole one.
#[test]
fn a_panicking_forwarded_connection_is_reset_both_ways() {
    use std::net::{TcpListener, TcpStream};
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = upstream.local_addr().unwrap().port();
    let target = crate::handler::forward::Forward {
        addr: crate::addr::Addr::Inet {
            proto: crate::addr::Proto::Tcp,
            host: "127.0.0.1".into(),
            port,
        },
        shown: format!("127.0.0.1:{port}").into(),
        opts: crate::transport::Opts::default(),
        timeout: Duration::from_secs(5),
        half_close: Duration::from_secs(5),
        layers: Default::default(),
    };
    let mut lp = a_loop(Spec::Forward(Arc::new(target)));
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(front.local_addr().unwrap()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (served, peer) = front.accept().unwrap();
    served.set_nonblocking(true).unwrap();
    let id = lp.next_id;
    lp.add(Stream::Tcp(served), Endpoint::Inet(peer));
    let (mut up, _) = upstream.accept().unwrap();
    up.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Driven until the bytes are through: the connect is done, and a
    // pipe is lent to the direction that moved them.
    client.write_all(b"hi").unwrap();
    let mut buf = [0u8; 16];
    up.set_nonblocking(true).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    let n = loop {
        lp.drive(id).unwrap();
        match up.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("the upstream got nothing: {e}"),
        }
    };
    assert_eq!(&buf[..n], b"hi");
    up.set_nonblocking(false).unwrap();
    lp.drive_with(id, |_, _, _| panic!("a bug in a handler"))
        .unwrap();
    assert!(lp.conns.is_empty());
    let reset =
        |r: io::Result<usize>| matches!(r, Err(e) if e.kind() == io::ErrorKind::ConnectionReset);
    assert!(reset(client.read(&mut buf)), "the client is reset");
    assert!(reset(up.read(&mut buf)), "the upstream is reset");
}

/// A connection that panicked gives back what it held: its program
/// is ended (a `sleep 30` would otherwise outlive it), its slot in
/// the budget is free.
#[test]
fn a_panicking_connection_s_program_is_ended() {
    let argv: Arc<[OsString]> = ["sleep", "30"].map(OsString::from).into();
    let mut lp = a_loop(Spec::Exec(argv));
    lp.server.service.settings.max_conns = Some(1);
    let (a, _client) = connect(&mut lp);
    assert!(lp.conns[&a].child.is_some(), "its program runs");
    assert!(!lp.can_accept(), "the one slot is taken");
    lp.drive_with(a, |_, _, _| panic!("a bug in a handler"))
        .unwrap();
    assert!(lp.conns.is_empty());
    assert!(lp.can_accept(), "its slot is free");
    let until = Instant::now() + Duration::from_secs(5);
    while !lp.lingering.is_empty() && Instant::now() < until {
        lp.lingering
            .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(lp.lingering.is_empty(), "its program was ended");
}
