//! The token bucket on a fake clock, and a rated port in a bridge driven
//! by scripted ends: what it lets through, when it says to come back, and
//! that a held side is not watched.

use std::time::{Duration, Instant};

use super::{Bucket, Rate, Rated};
use crate::relay::bridge::{Bridge, Next, Ready, Rules};
use crate::relay::half::tests::{Cue, Fake};
use crate::relay::half::{Held, Port};

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_full_bucket_gives_its_burst_then_refills_at_the_rate() {
    let t0 = Instant::now();
    let b = Bucket::new(
        Rate {
            per_sec: 1000,
            burst: 100,
        },
        t0,
    );
    assert_eq!(b.allowance(t0), 100);
    b.spend(100);
    assert_eq!(b.allowance(t0), 0);
    // The quantum is 10 ms of the rate: 10 bytes.
    assert_eq!(b.held_until(), Some(t0 + 10 * MS));
    assert_eq!(b.allowance(t0 + 9 * MS), 0, "below the quantum: none");
    assert_eq!(b.allowance(t0 + 10 * MS), 10);
    assert_eq!(b.held_until(), None);
    b.spend(10);
    // Never more than the burst, however long the quiet.
    assert_eq!(b.allowance(t0 + Duration::from_secs(60)), 100);
}

#[test]
fn the_rate_holds_over_many_small_steps() {
    let t0 = Instant::now();
    let b = Bucket::new(
        Rate {
            per_sec: 3000,
            burst: 50,
        },
        t0,
    );
    let mut sent = 0;
    let mut t = t0;
    // Steps of 0.3 ms, each sending what it may: no rounding adds or loses
    // a byte over 2 s.
    while t < t0 + Duration::from_secs(2) {
        let n = b.allowance(t);
        b.spend(n);
        sent += n;
        t += Duration::from_micros(300);
    }
    // The burst, two seconds' worth, less what waits below the quantum
    // (30 bytes) at the end.
    let expected = 50 + 2 * 3000;
    assert!(
        (expected - 30..=expected).contains(&sent),
        "sent {sent}, expected about {expected}"
    );
}

#[test]
fn held_until_is_when_the_allowance_reaches_the_quantum() {
    let t0 = Instant::now();
    let b = Bucket::new(
        Rate {
            per_sec: 333,
            burst: 50,
        },
        t0,
    );
    b.spend(50);
    let at = b.held_until().unwrap();
    assert!(b.allowance(at) >= 3, "the quantum is there at that moment");
    let b2 = Bucket::new(
        Rate {
            per_sec: 333,
            burst: 50,
        },
        t0,
    );
    b2.spend(50);
    assert_eq!(
        b2.allowance(at - Duration::from_nanos(1)),
        0,
        "and not before"
    );
}

#[test]
fn the_default_burst_is_a_tenth_of_a_second() {
    assert_eq!(Rate::new(65536).burst, 6553);
    assert_eq!(Rate::new(5).burst, 1);
}

#[test]
fn a_rated_port_reads_no_more_than_its_bucket_and_copies() {
    let t0 = Instant::now();
    let b = Bucket::new(
        Rate {
            per_sec: 1000,
            burst: 100,
        },
        t0,
    );
    let side = Fake::new(&[Cue::Data(vec![7; 500])]);
    let p = Rated::new(&side, Some(&b), t0);
    let mut buf = [0u8; 64];
    assert_eq!(p.read(&mut buf).unwrap(), Some(64));
    assert_eq!(p.read(&mut buf).unwrap(), Some(36));
    let e = p.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(
        p.held(),
        Held {
            read: Some(t0 + 10 * MS),
            ..Held::default()
        }
    );
    assert!(p.plain_fd().is_none(), "a rated side is copied");
    let open = Rated::new(&side, None, t0);
    assert_eq!(open.held(), Held::default());
    assert_eq!(
        open.read(&mut buf).unwrap(),
        Some(64),
        "no bucket: as it is"
    );
}

fn rules() -> Rules {
    Rules {
        idle: None,
        half_close: Duration::from_secs(60),
        quiet: Duration::from_secs(1),
    }
}

/// A level-triggered driver (poll) with a readable, rated client: while
/// its bucket is empty the bridge does not ask to watch the client (poll
/// would answer at once, every time) but answers the bucket's moment, and
/// at that moment, with nothing seen ready, it reads again.
#[test]
fn a_held_side_is_not_watched_and_is_tried_at_its_moment() {
    let t0 = Instant::now();
    let bucket = Bucket::new(
        Rate {
            per_sec: 1000,
            burst: 100,
        },
        t0,
    );
    let client = Fake::new(&[Cue::Data(vec![1; 1000])]);
    let up = Fake::new(&[]);
    let mut b = Bridge::new(false, rules(), t0).level_triggered();
    let mut scratch = vec![0u8; 64];
    let step = |b: &mut Bridge, scratch: &mut Vec<u8>, ready, now| {
        let (c, u) = (
            Rated::new(&client, Some(&bucket), now),
            Rated::new(&up, None, now),
        );
        match b.step(&c, &u, scratch, None, ready, now) {
            Ok(Next::Wait(w)) => w,
            other => panic!("{other:?}"),
        }
    };
    let w = step(&mut b, &mut scratch, Ready::ALL, t0);
    assert_eq!(up.got().len(), 100, "the burst went at once");
    assert!(!w.client.read, "the held client is not watched");
    assert!(w.upstream.read, "the other way is");
    assert_eq!(w.deadline, Some(t0 + 10 * MS), "its moment answered");
    let none = Ready::NONE;
    let w = step(&mut b, &mut scratch, none, t0 + 10 * MS);
    assert_eq!(
        up.got().len(),
        110,
        "tried at its moment, nothing seen ready"
    );
    assert_eq!(w.deadline, Some(t0 + 20 * MS));
    // A second later: the burst's worth again, no more.
    step(&mut b, &mut scratch, none, t0 + Duration::from_secs(1));
    assert_eq!(up.got().len(), 210);
}
