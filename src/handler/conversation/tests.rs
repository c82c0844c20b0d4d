//! A [`Conversation`] driven by a scripted peer: no sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Clock, Conversation, Next, OUT_LIMIT};
use crate::event::ConnStats;
use crate::handler::{End, Session, reply};
use crate::relay::half::tests::{Cue, Fake};

/// A conversation and what its driver keeps.
struct Driven {
    c: Conversation,
    tally: ConnStats,
    clock: Clock,
    buf: Vec<u8>,
}

impl Driven {
    fn new(session: Session, idle: Option<Duration>, now: Instant) -> Driven {
        Driven {
            c: Conversation::new(session),
            tally: ConnStats::default(),
            clock: Clock { idle, last: now },
            buf: vec![0u8; OUT_LIMIT],
        }
    }

    fn try_step(&mut self, peer: &Fake, now: Instant) -> Result<Next, End> {
        let d = self;
        d.c.step(peer, &mut d.buf, None, &mut d.tally, &mut d.clock, now)
    }

    fn step(&mut self, peer: &Fake, now: Instant) -> Next {
        match self.try_step(peer, now) {
            Ok(n) => n,
            Err(e) => panic!("the conversation failed: {e:?}"),
        }
    }

    fn moved(&self) -> (u64, u64) {
        (self.tally.bytes_in, self.tally.bytes_out)
    }
}

#[test]
fn an_echo_answers_then_its_fin_follows_the_peer_s() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Data(b"hello".to_vec()), Cue::Eof]);
    let mut c = Driven::new(Session::Echo, None, now);
    assert_eq!(c.step(&peer, now), Next::Done);
    assert_eq!(peer.got(), b"hello");
    assert!(peer.shut.get(), "our FIN after the last byte");
    assert_eq!(c.moved(), (5, 5));
}

#[test]
fn a_full_output_stops_the_reading_and_the_fin_waits_for_it() {
    let now = Instant::now();
    let (a, b) = (vec![b'a'; OUT_LIMIT], vec![b'b'; 10]);
    let peer = Fake::new(&[Cue::Data(a.clone()), Cue::Data(b.clone()), Cue::Eof]);
    peer.room(Some(0));
    let mut c = Driven::new(Session::Echo, None, now);
    let Next::Wait { peer: want, .. } = c.step(&peer, now) else {
        panic!("expected a wait");
    };
    assert!(!want.read, "the output is full: no more reading");
    assert!(want.write, "waits for the peer to take it");
    assert_eq!(c.moved().0, OUT_LIMIT as u64, "one read, no more");
    peer.room(None);
    assert_eq!(c.step(&peer, now), Next::Done);
    assert_eq!(peer.got(), [a, b].concat());
    assert!(peer.shut.get());
}

#[test]
fn a_reply_greets_shuts_and_still_reads_the_peer_to_its_fin() {
    let now = Instant::now();
    let text: Arc<[u8]> = Arc::from(&b"hi\n"[..]);
    let session = Session::Reply(reply::Reply::new(text));
    let peer = Fake::default();
    let mut c = Driven::new(session, None, now);
    let Next::Wait { peer: want, .. } = c.step(&peer, now) else {
        panic!("expected a wait");
    };
    assert_eq!(peer.got(), b"hi\n");
    assert!(peer.shut.get(), "the reply's FIN");
    assert!(want.read, "the peer's input is still read");
    peer.cue(Cue::Eof);
    assert_eq!(c.step(&peer, now), Next::Done);
}

#[test]
fn a_peer_quiet_for_the_idle_timeout_ends_it() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(3);
    let peer = Fake::default();
    let mut c = Driven::new(Session::Discard, Some(idle), t0);
    let Next::Wait { deadline, .. } = c.step(&peer, t0) else {
        panic!("expected a wait");
    };
    assert_eq!(deadline, Some(t0 + idle));
    peer.cue(Cue::Data(b"x".to_vec()));
    let t1 = t0 + Duration::from_secs(2);
    let Next::Wait { deadline, .. } = c.step(&peer, t1) else {
        panic!("expected a wait");
    };
    assert_eq!(deadline, Some(t1 + idle), "a byte moves the deadline");
    let end = c.try_step(&peer, t1 + idle);
    assert!(matches!(end, Err(End::IdleTimeout)), "{end:?}");
}

#[test]
fn a_reset_peer_ends_it_with_the_error() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Reset]);
    let mut c = Driven::new(Session::Echo, None, now);
    let end = c.try_step(&peer, now);
    assert!(matches!(end, Err(End::Io(_))), "{end:?}");
}
