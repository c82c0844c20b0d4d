//! The session's decisions, scripted: a fake upstream and a fake peer
//! (and, for the inbox driver, real sockets).

use super::*;
use std::cell::RefCell;
use std::collections::VecDeque;

/// A scripted upstream: what it was sent, and the replies it has
/// ready (then `WouldBlock`).
#[derive(Default)]
struct FakeUp {
    sent: RefCell<Vec<Vec<u8>>>,
    replies: RefCell<VecDeque<Vec<u8>>>,
}

impl Upstream for &FakeUp {
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        self.sent.borrow_mut().push(data.to_vec());
        Ok(data.len())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self.replies.borrow_mut().pop_front() {
            Some(d) => {
                buf[..d.len()].copy_from_slice(&d);
                Ok(d.len())
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// A scripted way back to the peer: what reached it.
#[derive(Default)]
struct FakePeer(RefCell<Vec<Vec<u8>>>);

impl Replies for &FakePeer {
    fn reply(&self, data: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().push(data.to_vec());
        Ok(data.len())
    }
}

const IDLE: Duration = Duration::from_secs(60);
const QUIET: Duration = Duration::from_millis(500);

fn session<'a>(
    up: Option<&'a FakeUp>,
    peer: &'a FakePeer,
    now: Instant,
) -> DgramSession<&'a FakeUp, &'a FakePeer> {
    let timers = Timers {
        idle: IDLE,
        quiet: QUIET,
    };
    let who = Endpoint::Inet("127.0.0.1:9".parse().unwrap());
    DgramSession::new(who, up, peer, timers, false, now)
}

#[test]
fn datagrams_go_upstream_and_replies_back_counted() {
    let (up, peer, t0) = (FakeUp::default(), FakePeer::default(), Instant::now());
    let mut s = session(Some(&up), &peer, t0);
    s.from_peer(b"ping", t0);
    s.from_peer(b"", t0);
    assert_eq!(*up.sent.borrow(), [b"ping".to_vec(), vec![]]);
    up.replies
        .borrow_mut()
        .extend([b"pong".to_vec(), b"!".to_vec()]);
    let mut buf = [0u8; 16];
    assert!(!s.from_upstream(&mut buf, t0), "drained");
    assert_eq!(*peer.0.borrow(), [b"pong".to_vec(), b"!".to_vec()]);
    let t = s.tally();
    assert_eq!((t.bytes_in, t.bytes_out, t.via), (4, 5, Some(Via::Copy)));
}

#[test]
fn it_ends_after_the_idle_timeout_without_traffic_either_way() {
    let (up, peer, t0) = (FakeUp::default(), FakePeer::default(), Instant::now());
    let mut s = session(Some(&up), &peer, t0);
    s.from_peer(b"a", t0);
    assert_eq!(s.next(t0), Next::Until(t0 + IDLE));
    // A reply is traffic too: it moves the end.
    let t1 = t0 + Duration::from_secs(30);
    up.replies.borrow_mut().push_back(b"b".to_vec());
    s.from_upstream(&mut [0u8; 4], t1);
    assert_eq!(s.next(t1), Next::Until(t1 + IDLE));
    assert_eq!(s.next(t1 + IDLE), Next::Ended);
}

#[test]
fn quiet_waits_a_moment_past_the_last_traffic_for_replies() {
    let (up, peer, t0) = (FakeUp::default(), FakePeer::default(), Instant::now());
    let mut s = session(Some(&up), &peer, t0);
    s.from_peer(b"question", t0);
    // The server stops a little after the peer's last datagram.
    let stop = t0 + Duration::from_millis(100);
    s.quiet(stop);
    assert!(s.is_quiet());
    assert_eq!(s.next(stop), Next::Until(stop + QUIET));
    // The answer in flight arrives within the quiet: it is delivered,
    // and the session waits a moment more past it.
    let t1 = stop + Duration::from_millis(300);
    up.replies.borrow_mut().push_back(b"answer".to_vec());
    s.from_upstream(&mut [0u8; 16], t1);
    assert_eq!(*peer.0.borrow(), [b"answer".to_vec()]);
    assert_eq!(s.next(t1), Next::Until(t1 + QUIET));
    assert_eq!(s.next(t1 + QUIET), Next::Ended);
    // A second stop does not move the quiet.
    s.quiet(t1 + QUIET);
    assert_eq!(s.next(t1 + QUIET), Next::Ended);
}

#[test]
fn quiet_after_a_long_silence_ends_it_a_moment_later() {
    let (up, peer, t0) = (FakeUp::default(), FakePeer::default(), Instant::now());
    let mut s = session(Some(&up), &peer, t0);
    s.from_peer(b"a", t0);
    let stop = t0 + Duration::from_secs(10);
    s.quiet(stop);
    assert_eq!(s.next(stop), Next::Until(stop + QUIET));
}

#[test]
fn datagrams_before_the_upstream_opens_wait_a_few_then_go_first() {
    let (up, peer, t0) = (FakeUp::default(), FakePeer::default(), Instant::now());
    let mut s = session(None, &peer, t0);
    for i in 0..(WAITING + 10) {
        s.from_peer(&[i as u8], t0);
    }
    // Nothing to read from yet.
    assert!(!s.from_upstream(&mut [0u8; 4], t0));
    s.opened(&up);
    s.from_peer(b"after", t0);
    let sent = up.sent.borrow();
    assert_eq!(sent.len(), WAITING + 1, "the excess is dropped");
    assert_eq!(sent[0], [0]);
    assert_eq!(sent[WAITING], b"after");
    assert_eq!(s.tally().bytes_in, (WAITING + 10 + 5) as u64, "all counted");
}

#[test]
fn a_flood_of_replies_is_taken_a_turn_at_a_time() {
    let (up, peer, t0) = (FakeUp::default(), FakePeer::default(), Instant::now());
    let mut s = session(Some(&up), &peer, t0);
    up.replies
        .borrow_mut()
        .extend((0..DGRAMS_PER_TURN + 1).map(|_| b"x".to_vec()));
    let mut buf = [0u8; 4];
    assert!(s.from_upstream(&mut buf, t0), "more waits");
    assert!(!s.from_upstream(&mut buf, t0));
    assert_eq!(peer.0.borrow().len(), DGRAMS_PER_TURN + 1);
}

/// The worker's end of an inbox, driven by [`run`]: a delivery after
/// the idle end fails (the router then starts a new session), and a
/// closed inbox (the server stops) ends the session after the quiet.
#[test]
fn an_inbox_session_shuts_its_inbox_at_its_idle_end() {
    let up_peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let up = crate::transport::dgram_to(crate::transport::Target::Inet(
        up_peer.local_addr().unwrap(),
    ))
    .unwrap();
    up.set_nonblocking(true).unwrap();
    let peer = FakePeer::default();
    let timers = Timers {
        idle: Duration::from_millis(50),
        quiet: QUIET,
    };
    let who = Endpoint::Inet("127.0.0.1:9".parse().unwrap());
    let mut s = DgramSession::new(who, Some(up), &peer, timers, false, Instant::now());
    let (main, worker) = inbox().unwrap();
    assert_eq!(main.deliver(b"first"), Delivered::Sent);
    let began = Instant::now();
    run(worker, &mut s);
    assert!(began.elapsed() < QUIET, "nothing drained at the idle end");
    assert_eq!(main.deliver(b"late"), Delivered::Gone);
    let mut b = [0u8; 16];
    let n = up_peer.recv(&mut b).unwrap();
    assert_eq!(&b[..n], b"first");
    assert_eq!(s.tally().bytes_in, 5);
}
