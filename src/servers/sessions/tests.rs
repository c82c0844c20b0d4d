//! The router's rules, scripted: deliveries are closures that answer as a
//! session would, and the one socket is only for the admission's names.

use super::*;
use crate::addr::{Addr, Proto};
use crate::transport::Bound;

fn server(limit: Option<u64>, max_conns: Option<u64>) -> Server {
    Server {
        bound: Bound::Dgram(Vec::new()),
        service: super::Service {
            spec: crate::handler::Spec::Discard,
            settings: Settings {
                limit,
                max_conns,
                ..Settings::quiet(Duration::from_secs(1))
            },
        },
        signals: Signals::default(),
        kind: crate::addr::Kind::Udp,
    }
}

fn a_socket() -> Dgram {
    let listen = Addr::Inet {
        proto: Proto::Udp,
        host: "127.0.0.1".into(),
        port: 0,
    };
    match crate::transport::bind(&listen, &Default::default()) {
        Ok(Bound::Dgram(mut socks)) if !socks.is_empty() => socks.remove(0),
        _ => panic!("a datagram socket"),
    }
}

fn peer(port: u16) -> Endpoint {
    Endpoint::Inet(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

fn quiet_log() -> crate::event::Log {
    server(None, None).service.settings.log
}

#[test]
fn a_peer_with_a_session_is_routed_to_it_and_a_new_one_is_not() {
    let mut r = SessionRouter::new();
    r.started(0, peer(1), 10usize);
    let mut got = Vec::new();
    let routed = r.route(0, &peer(1), b"a", &quiet_log(), |id, d| {
        got.push((*id, d.to_vec()));
        Delivered::Sent
    });
    assert_eq!(routed, Routed::Delivered);
    assert_eq!(got, [(10, b"a".to_vec())]);
    // Another peer, or the same peer on another listening socket.
    for (sock, p) in [(0, peer(2)), (1, peer(1))] {
        let routed = r.route(sock, &p, b"b", &quiet_log(), |_, _| panic!("no session"));
        assert_eq!(routed, Routed::NewPeer);
    }
}

#[test]
fn a_delivery_that_fails_starts_a_new_session() {
    let mut r = SessionRouter::new();
    r.started(0, peer(1), 10usize);
    // The session shut its inbox (its idle end) between two datagrams.
    let routed = r.route(0, &peer(1), b"a", &quiet_log(), |_, _| Delivered::Gone);
    assert_eq!(routed, Routed::NewPeer, "the datagram is not lost");
    assert!(r.is_empty(), "the old route is gone");
    r.started(0, peer(1), 11);
    let mut to = None;
    r.route(0, &peer(1), b"b", &quiet_log(), |id, _| {
        to = Some(*id);
        Delivered::Sent
    });
    assert_eq!(to, Some(11), "the next datagram goes to the new session");
}

#[test]
fn a_lagging_session_keeps_its_route() {
    let mut r = SessionRouter::new();
    r.started(0, peer(1), 10usize);
    let routed = r.route(0, &peer(1), b"a", &quiet_log(), |_, _| Delivered::Dropped);
    assert_eq!(routed, Routed::Delivered);
    assert_eq!(r.len(), 1);
}

#[test]
fn a_real_inbox_shut_by_its_session_fails_the_delivery() {
    let mut r = SessionRouter::new();
    let (main, worker) = dgram_session::inbox().unwrap();
    r.started(0, peer(1), main);
    let deliver = |i: &Inbox, d: &[u8]| i.deliver(d);
    assert_eq!(
        r.route(0, &peer(1), b"a", &quiet_log(), deliver),
        Routed::Delivered
    );
    drop(worker);
    assert_eq!(
        r.route(0, &peer(1), b"b", &quiet_log(), deliver),
        Routed::NewPeer
    );
}

#[test]
fn no_room_for_another_session() {
    let sock = a_socket();
    let r = SessionRouter::<usize>::new();
    // (--count, --max-conns, sessions served, sessions open, stopping, admitted)
    let cases = [
        (None, None, 0, 0, false, true),
        (None, Some(1), 0, 1, false, false),
        (None, Some(2), 1, 1, false, true),
        (Some(1), None, 1, 0, false, false),
        (Some(2), None, 1, 0, false, true),
        (None, None, 0, 0, true, false),
    ];
    for (limit, max, served, open, stopping, want) in cases {
        let s = server(limit, max);
        let mut counted = served;
        let got = r.admit(&s, &sock, &peer(1), &mut counted, open, stopping);
        let case = (limit, max, served, open, stopping);
        assert_eq!(got, want, "{case:?}");
        assert_eq!(counted, served + u64::from(want), "{case:?}: counted once");
    }
}

#[test]
fn an_ended_worker_loses_its_routes_and_a_newer_session_stays() {
    let mut s = Sessions::<u64>::new();
    let sock = Arc::new(a_socket());
    let (a, _wa) = dgram_session::inbox().unwrap();
    let (b, _wb) = dgram_session::inbox().unwrap();
    s.started(&sock, peer(1), 1, a);
    s.started(&sock, peer(2), 2, b);
    assert_eq!(s.fds().len(), 2);
    s.ended(1);
    assert_eq!(s.fds().len(), 1);
    s.close_all();
    assert!(s.fds().is_empty());
}
