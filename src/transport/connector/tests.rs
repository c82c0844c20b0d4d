//! The Connector against real loopback sockets: Happy Eyeballs' order and
//! fallback, its deadline, a stop descriptor, and a proxy's handshake.

use super::*;
use crate::transport::{connect::wait, proxy::Proxy};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;

/// A name that needs the resolver, so the test hands in the addresses.
fn named(port: u16) -> Addr {
    Addr::Inet {
        proto: crate::addr::Proto::Tcp,
        host: "upstream.test".into(),
        port,
    }
}

/// A port on 127.0.0.1 nothing listens on.
fn refused() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A listener whose backlog is full, and the connections that fill it:
/// a SYN to it is dropped, so a connect there stays under way.
fn silent() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    l.listen(0).unwrap();
    let at = l.local_addr().unwrap().as_socket().unwrap();
    let fill = (0..8)
        .filter_map(|_| TcpStream::connect_timeout(&at, Duration::from_millis(100)).ok())
        .collect();
    (l, fill, at)
}

/// Step a connect with the given addresses until it ends, polling its
/// descriptors as a blocking caller would.
fn run(mut c: Connector, addrs: Vec<SocketAddr>) -> Result<Upstream> {
    c.step(Instant::now()).map(|u| assert!(u.is_none()))?;
    assert!(c.lookup().is_some(), "the name waits for the resolver");
    c.resolved(Ok(addrs));
    wait(c, None)
}

fn peer(u: &Upstream) -> SocketAddr {
    let Upstream::Stream(Stream::Tcp(s)) = u else {
        panic!("a TCP stream")
    };
    s.peer_addr().unwrap()
}

#[test]
fn a_refused_address_gives_way_to_the_next_at_once() {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = open.local_addr().unwrap();
    let c = Connector::new(&named(1), &Opts::default(), None, None, Voice::Client);
    let t0 = Instant::now();
    let u = run(c, vec![refused(), to]).unwrap();
    assert_eq!(peer(&u), to);
    assert!(
        t0.elapsed() < ATTEMPT_DELAY,
        "no attempt delay after a refusal"
    );
}

#[test]
fn a_silent_address_gets_a_second_attempt_beside_it_after_the_delay() {
    let (_l, _fill, quiet) = silent();
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = open.local_addr().unwrap();
    let mut c = Connector::new(&named(1), &Opts::default(), None, None, Voice::Client);
    c.step(Instant::now()).unwrap();
    c.resolved(Ok(vec![quiet, to]));
    let now = Instant::now();
    assert!(c.step(now).unwrap().is_none(), "the first is under way");
    let w = c.watch();
    assert_eq!(w.fds.len(), 1, "one attempt, watched for writing");
    assert_eq!(w.fds[0].1, Interest::Write);
    let next = w.until.expect("the next attempt's start");
    assert!(next >= now + ATTEMPT_DELAY - Duration::from_millis(5));
    assert_eq!(c.started().len(), 1, "one socket for a loop to register");
    let u = wait(c, None).unwrap();
    assert_eq!(peer(&u), to);
}

#[test]
fn every_address_refused_says_the_last() {
    let (a, b) = (refused(), refused());
    let c = Connector::new(&named(1), &Opts::default(), None, None, Voice::Forwarder);
    let e = run(c, vec![a, b]).err().unwrap().to_string();
    assert_eq!(e, format!("connect to {b}: Connection refused"));
}

#[test]
fn the_deadline_bounds_the_connect_in_each_voice() {
    let (_l, _fill, quiet) = silent();
    let t = Duration::from_millis(150);
    for (voice, want) in [
        (Voice::Client, format!("connect to {quiet}: timed out")),
        (
            Voice::Forwarder,
            format!("connect to {quiet}: timed out after 150ms"),
        ),
    ] {
        let c = Connector::new(&named(1), &Opts::default(), Some(t), None, voice);
        let t0 = Instant::now();
        let e = run(c, vec![quiet]).err().unwrap();
        assert!(matches!(e, Error::Timeout(_)), "{e}");
        assert_eq!(e.to_string(), want);
        assert!(t0.elapsed() >= t && t0.elapsed() < t * 10, "{voice:?}");
    }
}

#[test]
fn a_stop_descriptor_ends_the_wait_at_once() {
    let (_l, _fill, quiet) = silent();
    let (r, w) = nix::unistd::pipe().unwrap();
    let c = Connector::new(&named(1), &Opts::default(), None, None, Voice::Forwarder);
    let mut c = c;
    c.step(Instant::now()).unwrap();
    c.resolved(Ok(vec![quiet]));
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        nix::unistd::write(&w, b"x").unwrap();
    });
    let t0 = Instant::now();
    let e = wait(c, Some(r.as_fd())).err().unwrap();
    assert_eq!(e.to_string(), "closed at shutdown");
    assert!(t0.elapsed() < Duration::from_secs(2));
    stopper.join().unwrap();
}

/// A SOCKS5 proxy on loopback that answers a scripted conversation, and
/// then says `hello` through the tunnel.
#[test]
fn a_proxy_handshake_then_the_tunnel() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = proxy.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = proxy.accept().unwrap();
        let mut got = [0u8; 3];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, [5, 1, 0], "no authentication offered");
        // The method, in two writes: the handshake reads what it may.
        s.write_all(&[5]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.write_all(&[0]).unwrap();
        let mut req = [0u8; 4 + 1 + 13 + 2];
        s.read_exact(&mut req).unwrap();
        assert_eq!(&req[..5], [5, 1, 0, 3, 13]);
        assert_eq!(&req[5..18], b"upstream.test");
        // Success, then the tunnel's first bytes in the same write.
        s.write_all(&[5, 0, 0, 1, 10, 0, 0, 1, 0, 80, b'h', b'i'])
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
    });
    let url = crate::addr::parse_proxy(&format!("socks5h://{at}")).unwrap();
    let opts = Opts {
        proxy: Some(Arc::new(Proxy {
            url,
            addrs: vec![at],
        })),
        ..Opts::default()
    };
    let c = Connector::new(
        &named(80),
        &opts,
        Some(Duration::from_secs(5)),
        None,
        Voice::Client,
    );
    let Upstream::Stream(s) = wait(c, None).unwrap() else {
        panic!("a stream")
    };
    let mut got = Vec::new();
    use std::io::Read;
    (&s).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hi", "nothing past the proxy's answer was taken");
    server.join().unwrap();
}

#[test]
fn a_silent_proxy_is_a_timeout_said_of_the_proxy() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let at = proxy.local_addr().unwrap();
    let url = crate::addr::parse_proxy(&format!("socks5h://{at}")).unwrap();
    let shown = url.to_string();
    let opts = Opts {
        proxy: Some(Arc::new(Proxy {
            url,
            addrs: vec![at],
        })),
        ..Opts::default()
    };
    let t = Some(Duration::from_millis(100));
    let c = Connector::new(&named(80), &opts, t, None, Voice::Client);
    let e = wait(c, None).err().unwrap();
    assert!(matches!(e, Error::Timeout(_)));
    assert_eq!(
        e.to_string(),
        format!("proxy {shown}: no answer within 100ms")
    );
}
