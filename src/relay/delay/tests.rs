//! A delayed port on scripted ends and a fake clock: chunks go at their
//! moment and in order, the end after the last, the same jitter for the
//! same seed, and a full line stops reading its socket.

use std::time::{Duration, Instant};

use super::{Delay, Delayed, Line, QUEUE_BYTES};
use crate::relay::bridge::{Bridge, Next, Ready, Rules};
use crate::relay::chance::Chance;
use crate::relay::half::Port;
use crate::relay::half::tests::{Cue, Fake};

const MS: Duration = Duration::from_millis(1);

fn delay(latency: Duration, jitter: Duration) -> Delay {
    Delay { latency, jitter }
}

#[test]
fn a_chunk_goes_at_its_moment_and_the_end_after_it() {
    let t0 = Instant::now();
    let line = Line::new(delay(100 * MS, Duration::ZERO), Chance::new(1));
    let side = Fake::new(&[Cue::Data(vec![7; 10])]);
    let mut buf = [0u8; 64];
    let p = Delayed::new(&side, Some(&line), t0);
    let e = p.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    let h = p.held();
    assert_eq!(h.wake, Some(t0 + 100 * MS), "woken at its moment");
    assert_eq!(h.read, None, "the socket is still watched");
    assert!(p.plain_fd().is_none(), "a delayed side is copied");
    // More arrives later, and then the end: each counted from its arrival.
    side.cue(Cue::Data(vec![8; 5]));
    side.cue(Cue::Eof);
    let p = Delayed::new(&side, Some(&line), t0 + 50 * MS);
    assert!(p.read(&mut buf).is_err(), "not yet");
    assert_eq!(
        p.held().read,
        Some(t0 + 100 * MS),
        "the end read: not watched"
    );
    let p = Delayed::new(&side, Some(&line), t0 + 100 * MS);
    assert_eq!(p.read(&mut buf).unwrap(), Some(10));
    assert!(p.read(&mut buf).is_err(), "the second chunk is not due");
    let p = Delayed::new(&side, Some(&line), t0 + 150 * MS);
    assert_eq!(p.read(&mut buf).unwrap(), Some(5));
    assert_eq!(p.read(&mut buf).unwrap(), None, "then the end");
}

/// Jittered moments never go backwards (order is kept), spread over the
/// jitter, and repeat for the same draws.
#[test]
fn jitter_keeps_order_and_repeats_with_its_seed() {
    let moments = |seed| {
        let t0 = Instant::now();
        let line = Line::new(delay(100 * MS, 50 * MS), Chance::new(seed));
        (0..200)
            .map(|i| line.due(t0 + i * MS) - t0)
            .collect::<Vec<_>>()
    };
    let a = moments(9);
    assert!(a.windows(2).all(|w| w[0] <= w[1]), "in order");
    assert!(a.iter().all(|d| *d >= 50 * MS && *d <= 350 * MS));
    assert!(a[0] <= 150 * MS);
    assert_eq!(a, moments(9), "the same seed, the same moments");
    assert_ne!(a, moments(10));
}

/// A source with far more than the line holds: the line fills to its
/// bound and no further, then waits for its front instead of the socket.
#[test]
fn a_full_line_stops_reading_its_socket() {
    let t0 = Instant::now();
    let line = Line::new(delay(100 * MS, Duration::ZERO), Chance::new(1));
    let cues: Vec<Cue> = (0..64).map(|_| Cue::Data(vec![1; 16 * 1024])).collect();
    let side = Fake::new(&cues);
    let p = Delayed::new(&side, Some(&line), t0);
    let mut buf = vec![0u8; 64 * 1024];
    assert!(p.read(&mut buf).is_err());
    assert_eq!(line.queued(), QUEUE_BYTES, "filled to its bound");
    assert!(
        !side.reads.borrow().is_empty(),
        "the rest waits in the socket"
    );
    let h = p.held();
    assert_eq!(
        h.read,
        Some(t0 + 100 * MS),
        "full: the socket is not watched"
    );
    // At the moment a chunk goes, the room it leaves is read again.
    let p = Delayed::new(&side, Some(&line), t0 + 100 * MS);
    assert_eq!(p.read(&mut buf).unwrap(), Some(16 * 1024));
    assert!(line.queued() <= QUEUE_BYTES);
}

/// In a level-triggered bridge: a delayed chunk goes at its moment with
/// nothing seen ready (the moment wakes the bridge), not before.
#[test]
fn a_delayed_chunk_goes_at_its_moment_in_a_bridge() {
    let t0 = Instant::now();
    let line = Line::new(delay(100 * MS, Duration::ZERO), Chance::new(1));
    let client = Fake::new(&[Cue::Data(vec![1; 10])]);
    let up = Fake::new(&[]);
    let rules = Rules {
        idle: None,
        half_close: Duration::from_secs(60),
        quiet: Duration::from_secs(1),
    };
    let mut b = Bridge::new(false, rules, t0).level_triggered();
    let mut scratch = vec![0u8; 64];
    let mut step = |ready, now| {
        let (c, u) = (
            Delayed::new(&client, Some(&line), now),
            Delayed::new(&up, None, now),
        );
        match b.step(&c, &u, &mut scratch, None, ready, now) {
            Ok(Next::Wait(w)) => w,
            other => panic!("{other:?}"),
        }
    };
    let w = step(Ready::ALL, t0);
    assert!(up.got().is_empty(), "held");
    assert_eq!(w.deadline, Some(t0 + 100 * MS), "its moment waited for");
    assert!(w.client.read, "the socket still watched");
    let none = Ready::NONE;
    let w = step(none, t0 + 100 * MS);
    assert_eq!(up.got(), vec![1; 10], "gone at its moment");
    assert_eq!(w.deadline, None, "nothing more to wait for");
}
