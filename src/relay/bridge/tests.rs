//! A [`Bridge`] driven by scripted ends and a scripted clock: what it
//! moves, what it waits for, and when and how it ends.

use std::time::{Duration, Instant};

use super::{Bridge, Interest, Next, Ready, Rules, Wait};
use crate::relay::RelayEnd;
use crate::relay::half::tests::{Cue, Fake};

const HALF: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_secs(1);

fn rules(idle: Option<Duration>) -> Rules {
    Rules {
        idle,
        half_close: HALF,
        quiet: QUIET,
    }
}

fn step(b: &mut Bridge, client: &Fake, up: &Fake, now: Instant) -> Result<Next, RelayEnd> {
    let mut scratch = vec![0u8; 64];
    b.step(client, up, &mut scratch, None, Ready::ALL, now)
}

fn waiting(r: Result<Next, RelayEnd>) -> Wait {
    match r {
        Ok(Next::Wait(w)) => w,
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[test]
fn the_client_s_fin_then_the_upstream_s_ends_it_cleanly() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Data(b"req".to_vec()), Cue::Eof]);
    let up = Fake::new(&[]);
    let mut b = Bridge::new(false, rules(None), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert_eq!(up.got(), b"req");
    assert!(up.shut.get(), "the client's FIN passed on");
    assert!(!client.shut.get());
    assert_eq!(
        w.client,
        Interest::default(),
        "nothing more from the client"
    );
    assert_eq!(
        w.upstream,
        Interest {
            read: true,
            write: false
        }
    );
    assert_eq!(w.deadline, Some(t0 + HALF), "the half-close bound answered");
    up.cue(Cue::Data(b"resp".to_vec()));
    up.cue(Cue::Eof);
    assert!(matches!(
        step(&mut b, &client, &up, t0 + Duration::from_secs(1)),
        Ok(Next::Done)
    ));
    assert_eq!(client.got(), b"resp");
    assert!(client.shut.get());
    assert!(!client.reset.get() && !up.reset.get());
    assert_eq!((b.moved().up, b.moved().down), (3, 4));
}

#[test]
fn the_upstream_s_fin_first_leaves_the_client_s_direction_open() {
    let t0 = Instant::now();
    let client = Fake::new(&[]);
    let up = Fake::new(&[Cue::Data(b"banner".to_vec()), Cue::Eof]);
    let mut b = Bridge::new(false, rules(None), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert_eq!(client.got(), b"banner");
    assert!(client.shut.get() && !up.shut.get());
    assert!(w.client.read && !w.upstream.read);
    client.cue(Cue::Data(b"more".to_vec()));
    client.cue(Cue::Eof);
    assert!(matches!(step(&mut b, &client, &up, t0), Ok(Next::Done)));
    assert_eq!(up.got(), b"more");
}

#[test]
fn the_open_direction_quiet_past_the_half_close_bound_ends_it() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Eof]);
    let up = Fake::new(&[]);
    let mut b = Bridge::new(false, rules(None), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert_eq!(w.deadline, Some(t0 + HALF));
    // Traffic the other way moves the bound.
    let t1 = t0 + Duration::from_secs(3);
    up.cue(Cue::Data(b"x".to_vec()));
    let w = waiting(step(&mut b, &client, &up, t1));
    assert_eq!(w.deadline, Some(t1 + HALF));
    match step(&mut b, &client, &up, t1 + HALF) {
        Err(RelayEnd::HalfClosed(d)) => assert_eq!(d, HALF),
        other => panic!("{other:?}"),
    }
    assert!(client.shut.get(), "the open direction's end passed on");
}

#[test]
fn a_reset_on_one_side_resets_both() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Data(b"a".to_vec())]);
    let up = Fake::new(&[Cue::Reset]);
    let mut b = Bridge::new(false, rules(None), t0);
    match step(&mut b, &client, &up, t0) {
        Err(RelayEnd::Endpoint(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("{other:?}"),
    }
    assert!(client.reset.get() && up.reset.get());
    assert!(
        !client.shut.get(),
        "no FIN: a cut transfer must not look complete"
    );
}

#[test]
fn a_failed_write_resets_both() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Data(b"a".to_vec())]);
    let up = Fake::new(&[]);
    up.went_away();
    let mut b = Bridge::new(false, rules(None), t0);
    assert!(matches!(
        step(&mut b, &client, &up, t0),
        Err(RelayEnd::Endpoint(_))
    ));
    assert!(client.reset.get() && up.reset.get());
}

#[test]
fn no_traffic_for_the_idle_timeout_ends_both_with_a_fin() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(10);
    let client = Fake::new(&[]);
    let up = Fake::new(&[]);
    let mut b = Bridge::new(false, rules(Some(idle)), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert_eq!(w.deadline, Some(t0 + idle), "the idle bound answered");
    assert!(w.client.read && w.upstream.read);
    let t1 = t0 + Duration::from_secs(4);
    client.cue(Cue::Data(b"x".to_vec()));
    let w = waiting(step(&mut b, &client, &up, t1));
    assert_eq!(w.deadline, Some(t1 + idle), "traffic moves it");
    assert!(matches!(
        step(&mut b, &client, &up, t1 + idle),
        Err(RelayEnd::Idle)
    ));
    assert!(client.shut.get() && up.shut.get());
    assert!(!client.reset.get());
}

#[test]
fn a_datagram_upstream_s_quiet_after_the_client_s_fin_is_its_end() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Data(b"q".to_vec()), Cue::Eof]);
    let up = Fake {
        dgram: true,
        ..Fake::default()
    };
    let mut b = Bridge::new(false, rules(None), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert_eq!(
        w.deadline,
        Some(t0 + QUIET),
        "the quiet bound, not half-close"
    );
    let t1 = t0 + Duration::from_millis(500);
    up.cue(Cue::Data(b"answer".to_vec()));
    let w = waiting(step(&mut b, &client, &up, t1));
    assert_eq!(w.deadline, Some(t1 + QUIET));
    assert!(matches!(
        step(&mut b, &client, &up, t1 + QUIET),
        Ok(Next::Done)
    ));
    assert_eq!(client.got(), b"answer");
    assert!(client.shut.get(), "a clean end: FIN");
}

#[test]
fn a_client_that_reads_nothing_stops_the_upstream_s_reads() {
    let t0 = Instant::now();
    let client = Fake::new(&[]);
    client.room(Some(0));
    let up = Fake::new(&[]);
    for _ in 0..50 {
        up.cue(Cue::Data(vec![1u8; 64]));
    }
    let mut b = Bridge::new(false, rules(None), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert!(!w.upstream.read, "no read interest while a chunk waits");
    assert!(w.client.write, "waits for the client to take it");
    let tried = up.reads_tried.get();
    waiting(step(&mut b, &client, &up, t0));
    assert_eq!(up.reads_tried.get(), tried);
    client.room(None);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert!(w.upstream.read && !w.client.write);
    assert_eq!(client.got().len(), 50 * 64);
}

/// What an edge-triggered loop saw: `client`/`upstream` readiness, with
/// no end among it.
fn seen(client: Interest, upstream: Interest) -> Ready {
    Ready {
        client,
        upstream,
        client_end: false,
        upstream_end: false,
    }
}

/// Readable (and writable, as an edge-triggered event shows a socket
/// with room).
const READABLE: Interest = Interest {
    read: true,
    write: true,
};
const WRITABLE: Interest = Interest {
    read: false,
    write: true,
};

/// A writable destination is news only to a half that holds bytes for
/// it: an edge-triggered loop sees sockets writable with every event, and
/// trying the other direction then costs a read that finds nothing.
#[test]
fn a_writable_destination_tries_only_a_half_that_holds_bytes_for_it() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Data(b"req".to_vec())]);
    let up = Fake::new(&[]);
    let mut b = Bridge::new(false, rules(None), t0);
    let mut scratch = Vec::new();
    b.step(
        &client,
        &up,
        &mut scratch,
        None,
        seen(READABLE, WRITABLE),
        t0,
    )
    .unwrap();
    assert_eq!(up.got(), b"req");
    assert_eq!(up.reads_tried.get(), 0, "the upstream's direction untried");

    // A full client holds the answer back; its writability lets it go.
    client.room(Some(0));
    up.cue(Cue::Data(b"answer".to_vec()));
    let none = Interest::default();
    b.step(&client, &up, &mut scratch, None, seen(none, READABLE), t0)
        .unwrap();
    assert!(client.got().is_empty());
    client.room(None);
    let tried = client.reads_tried.get();
    b.step(&client, &up, &mut scratch, None, seen(WRITABLE, none), t0)
        .unwrap();
    assert_eq!(client.got(), b"answer");
    assert_eq!(
        client.reads_tried.get(),
        tried,
        "the client's direction untried"
    );
}

/// Seen readable with no end, a socket's short read is its last this
/// step; seen with an end (a hang-up), the half reads to the FIN behind
/// the data and passes it on.
#[test]
fn an_end_seen_with_the_data_is_read_and_passed_on() {
    let t0 = Instant::now();
    let socket = |cues: &[Cue]| Fake {
        takes_all: true,
        ..Fake::new(cues)
    };
    let none = Interest::default();
    let client = socket(&[Cue::Data(b"last".to_vec()), Cue::Eof]);
    let up = socket(&[]);
    let mut b = Bridge::new(false, rules(None), t0);
    let mut scratch = Vec::new();
    b.step(&client, &up, &mut scratch, None, seen(READABLE, none), t0)
        .unwrap();
    assert_eq!(up.got(), b"last");
    assert_eq!(client.reads_tried.get(), 1);
    assert!(!up.shut.get(), "no end was seen: none read yet");
    let hangup = Ready {
        client_end: true,
        ..seen(READABLE, none)
    };
    b.step(&client, &up, &mut scratch, None, hangup, t0)
        .unwrap();
    assert!(up.shut.get(), "the FIN passed on");
}

/// A port whose end ends both ways (a WebSocket's Close): the client's FIN
/// is owed to it until the upstream has been quiet for the quiet bound, so
/// a reply still coming is not cut off; then it goes, and the upstream's
/// own end ends the bridge.
#[test]
fn an_end_that_ends_both_ways_waits_for_the_other_way_s_quiet() {
    let t0 = Instant::now();
    let client = Fake::new(&[Cue::Data(b"ask".to_vec()), Cue::Eof]);
    let up = Fake {
        ends_both: true,
        ..Fake::default()
    };
    let mut b = Bridge::new(false, rules(None), t0);
    let w = waiting(step(&mut b, &client, &up, t0));
    assert_eq!(up.got(), b"ask");
    assert!(!up.shut.get(), "the end is owed");
    assert_eq!(w.deadline, Some(t0 + QUIET));
    // The reply comes a moment later: the quiet starts again.
    let t1 = t0 + QUIET / 2;
    up.cue(Cue::Data(b"answer".to_vec()));
    let w = waiting(step(&mut b, &client, &up, t1));
    assert_eq!(client.got(), b"answer");
    assert!(!up.shut.get());
    assert_eq!(w.deadline, Some(t1 + QUIET));
    // Quiet: the end goes.
    let w = waiting(step(&mut b, &client, &up, t1 + QUIET));
    assert!(up.shut.get(), "passed on");
    assert!(w.upstream.read, "the upstream's end is still read");
    up.cue(Cue::Eof);
    assert!(matches!(
        step(&mut b, &client, &up, t1 + QUIET),
        Ok(Next::Done)
    ));
    assert!(client.shut.get());
}
