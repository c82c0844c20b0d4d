//! The loop's datagram sessions with real sockets: a panic in one.

use super::*;
use crate::addr::{Addr, Proto};
use crate::handler::Spec;
use crate::transport::{Bound, Endpoint};
use std::net::UdpSocket;
use std::time::Duration;

/// A panic while one datagram session's replies go back ends that
/// session alone: the other peer's session goes on.
#[test]
fn a_panic_ends_its_datagram_session_alone() {
    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let port = upstream.local_addr().unwrap().port();
    let target = Arc::new(Forward {
        addr: Addr::Inet {
            proto: Proto::Udp,
            host: "127.0.0.1".into(),
            port,
        },
        shown: format!("udp://127.0.0.1:{port}").into(),
        opts: Default::default(),
        timeout: Duration::from_secs(5),
        half_close: Duration::from_secs(5),
        layers: Default::default(),
    });
    let mut lp = super::super::tests::a_loop(Spec::Forward(target.clone()));
    let listen = Addr::Inet {
        proto: Proto::Udp,
        host: "127.0.0.1".into(),
        port: 0,
    };
    let Bound::Dgram(socks) = crate::transport::bind(&listen, &Default::default()).unwrap() else {
        panic!("a datagram socket")
    };
    socks[0].set_nonblocking(true).unwrap();
    let Endpoint::Inet(server) = socks[0].local.clone() else {
        panic!("an inet address")
    };
    lp.dgrams = socks.into_iter().map(Arc::new).collect();
    let peers = [(); 2].map(|_| UdpSocket::bind("127.0.0.1:0").unwrap());
    for (p, data) in peers.iter().zip([b"a", b"b"]) {
        p.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        p.send_to(data, server).unwrap();
    }
    let until = Instant::now() + Duration::from_secs(5);
    while lp.sessions.len() < 2 && Instant::now() < until {
        lp.forward_datagrams(0, &target);
    }
    let id = |lp: &EventLoop, p: &UdpSocket| {
        let who = Endpoint::Inet(p.local_addr().unwrap());
        let found = lp.sessions.iter().find(|(_, s)| *s.session.peer() == who);
        *found.unwrap().0
    };
    let (a, b) = (id(&lp, &peers[0]), id(&lp, &peers[1]));
    lp.drive_session_with(a, |_, _| panic!("a bug in a handler"));
    assert!(!lp.sessions.contains_key(&a), "it is ended");
    assert_eq!(lp.routes.len(), 1, "and its route gone");
    assert_eq!(lp.totals.conns, 1, "and counted");
    // The other session's upstream answers, and the answer reaches b.
    let mut buf = [0u8; 16];
    let from_b = loop {
        let (n, from) = upstream.recv_from(&mut buf).unwrap();
        if &buf[..n] == b"b" {
            break from;
        }
    };
    upstream.send_to(b"to b", from_b).unwrap();
    let got = loop {
        lp.drive_session(b);
        match peers[1].recv(&mut buf) {
            Ok(n) => break n,
            Err(_) if Instant::now() < until => {}
            Err(e) => panic!("b got no answer: {e}"),
        }
    };
    assert_eq!(&buf[..got], b"to b");
}
