//! A [`Conversation`] driven by a scripted peer: no sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Conversation, Next};
use crate::handler::{End, Session, reply};
use crate::relay::half::tests::{Cue, Fake};

fn step(c: &mut Conversation, peer: &Fake, idle: Option<Duration>, now: Instant) -> Next {
    let mut buf = vec![0u8; 16];
    match c.step(peer, &mut buf, None, idle, now) {
        Ok(n) => n,
        Err(e) => panic!("the conversation failed: {e:?}"),
    }
}

#[test]
fn an_echo_answers_then_its_fin_follows_the_peer_s() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Data(b"hello".to_vec()), Cue::Eof]);
    let mut c = Conversation::new(Session::Echo, 1024, now).unwrap();
    assert_eq!(step(&mut c, &peer, None, now), Next::Done);
    assert_eq!(peer.got(), b"hello");
    assert!(peer.shut.get(), "our FIN after the last byte");
    assert_eq!(c.moved(), (5, 5));
}

#[test]
fn a_full_output_stops_the_reading_and_the_fin_waits_for_it() {
    let now = Instant::now();
    let peer = Fake::new(&[
        Cue::Data(b"0123456789".to_vec()),
        Cue::Data(b"abcdefghij".to_vec()),
        Cue::Eof,
    ]);
    peer.room(Some(0));
    let mut c = Conversation::new(Session::Echo, 8, now).unwrap();
    let Next::Wait { peer: want, .. } = step(&mut c, &peer, None, now) else {
        panic!("expected a wait");
    };
    assert!(!want.read, "the output is full: no more reading");
    assert!(want.write, "waits for the peer to take it");
    assert_eq!(c.moved().0, 10, "one read, no more");
    peer.room(None);
    assert_eq!(step(&mut c, &peer, None, now), Next::Done);
    assert_eq!(peer.got(), b"0123456789abcdefghij");
    assert!(peer.shut.get());
}

#[test]
fn a_reply_greets_shuts_and_still_reads_the_peer_to_its_fin() {
    let now = Instant::now();
    let text: Arc<[u8]> = Arc::from(&b"hi\n"[..]);
    let session = Session::Reply(reply::Reply::new(text));
    let peer = Fake::default();
    let mut c = Conversation::new(session, 1024, now).unwrap();
    let Next::Wait { peer: want, .. } = step(&mut c, &peer, None, now) else {
        panic!("expected a wait");
    };
    assert_eq!(peer.got(), b"hi\n");
    assert!(peer.shut.get(), "the reply's FIN");
    assert!(want.read, "the peer's input is still read");
    peer.cue(Cue::Eof);
    assert_eq!(step(&mut c, &peer, None, now), Next::Done);
}

#[test]
fn a_peer_quiet_for_the_idle_timeout_ends_it() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(3);
    let peer = Fake::default();
    let mut c = Conversation::new(Session::Discard, 1024, t0).unwrap();
    let Next::Wait { deadline, .. } = step(&mut c, &peer, Some(idle), t0) else {
        panic!("expected a wait");
    };
    assert_eq!(deadline, Some(t0 + idle));
    peer.cue(Cue::Data(b"x".to_vec()));
    let t1 = t0 + Duration::from_secs(2);
    let Next::Wait { deadline, .. } = step(&mut c, &peer, Some(idle), t1) else {
        panic!("expected a wait");
    };
    assert_eq!(deadline, Some(t1 + idle), "a byte moves the deadline");
    let mut buf = vec![0u8; 16];
    let end = c.step(&peer, &mut buf, None, Some(idle), t1 + idle);
    assert!(matches!(end, Err(End::IdleTimeout)), "{end:?}");
}

#[test]
fn a_reset_peer_ends_it_with_the_error() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Reset]);
    let mut c = Conversation::new(Session::Echo, 1024, now).unwrap();
    let mut buf = vec![0u8; 16];
    let end = c.step(&peer, &mut buf, None, None, now);
    assert!(matches!(end, Err(End::Io(_))), "{end:?}");
}
