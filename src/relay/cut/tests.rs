//! A cut port on scripted ends: the exact byte it ends at, a FIN or a
//! reset, and a reset at its moment in a bridge that nothing wakes.

use std::time::{Duration, Instant};

use super::{Budget, Cutting, Deadline, How};
use crate::relay::RelayEnd;
use crate::relay::bridge::{Bridge, Next, Ready, Rules};
use crate::relay::half::Port;
use crate::relay::half::tests::{Cue, Fake};

fn rules() -> Rules {
    Rules {
        idle: None,
        half_close: Duration::from_secs(60),
        quiet: Duration::from_secs(1),
    }
}

#[test]
fn a_cut_port_reads_its_budget_exactly_then_ends() {
    let t0 = Instant::now();
    let b = Budget::new(How::Fin, 100, "up");
    let side = Fake::new(&[Cue::Data(vec![7; 64]), Cue::Data(vec![8; 64])]);
    let p = Cutting::new(&side, Some(&b), None, None, t0);
    let mut buf = [0u8; 64];
    assert_eq!(p.read(&mut buf).unwrap(), Some(64));
    assert_eq!(p.read(&mut buf).unwrap(), Some(36), "no more than is left");
    assert_eq!(p.read(&mut buf).unwrap(), None, "then the end");
    assert!(p.check_end().is_ok(), "an end of its own making is one");
    assert!(p.plain_fd().is_none(), "its bytes are counted: a copy");
    let r = Budget::new(How::Reset, 0, "down");
    let p = Cutting::new(&side, Some(&r), None, None, t0);
    let e = p.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
}

/// Through a bridge: the upstream receives exactly the budget, then a FIN
/// (a cut) or nothing more and a reset of both sides (a reset).
#[test]
fn a_bridge_passes_the_budget_then_a_fin_or_a_reset() {
    for how in [How::Fin, How::Reset] {
        let t0 = Instant::now();
        let budget = Budget::new(how, 300, "up");
        let client = Fake::new(&[Cue::Data(vec![1; 1000])]);
        let up = Fake::new(&[]);
        let mut b = Bridge::new(false, rules(), t0);
        let mut scratch = vec![0u8; 128];
        let (c, u) = (
            Cutting::new(&client, Some(&budget), None, None, t0),
            Cutting::new(&up, None, None, None, t0),
        );
        let r = b.step(&c, &u, &mut scratch, None, Ready::ALL, t0);
        assert_eq!(up.got().len(), 300, "{how:?}: exactly the budget");
        match how {
            How::Fin => {
                assert!(matches!(r, Ok(Next::Wait(_))), "{how:?}: {r:?}");
                assert!(up.shut.get(), "a FIN after it");
                assert!(!up.reset.get() && !client.reset.get());
            }
            How::Reset => {
                assert!(matches!(r, Err(RelayEnd::Endpoint(_))), "{r:?}");
                assert!(!up.shut.get(), "no FIN");
                assert!(up.reset.get() && client.reset.get(), "both reset");
            }
        }
    }
}

/// A reset after a time: the bridge answers its moment though nothing is
/// held, and stepped then with nothing ready it resets both sides.
#[test]
fn a_reset_at_a_moment_wakes_the_bridge_and_resets_both_sides() {
    let t0 = Instant::now();
    let at = Deadline::new(Duration::from_millis(500), t0);
    let client = Fake::new(&[Cue::Data(vec![1; 10])]);
    let up = Fake::new(&[]);
    let mut b = Bridge::new(false, rules(), t0).level_triggered();
    let mut scratch = vec![0u8; 64];
    let mut step = |ready, now| {
        let (c, u) = (
            Cutting::new(&client, None, Some(&at), None, now),
            Cutting::new(&up, None, Some(&at), None, now),
        );
        b.step(&c, &u, &mut scratch, None, ready, now)
    };
    match step(Ready::ALL, t0) {
        Ok(Next::Wait(w)) => {
            assert_eq!(w.deadline, Some(t0 + Duration::from_millis(500)));
            assert!(w.client.read, "bytes still flow until then");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(up.got().len(), 10);
    let none = Ready::NONE;
    let r = step(none, t0 + Duration::from_millis(500));
    assert!(matches!(r, Err(RelayEnd::Endpoint(_))), "{r:?}");
    assert!(up.reset.get() && client.reset.get(), "both reset");
    assert!(!up.shut.get() && !client.shut.get(), "no FIN");
}

/// A cut's FIN is passed at once, and what the cut side still sends is
/// read and dropped until its own end: the bridge does not end (and close
/// with unread bytes, a reset that would destroy what the other way
/// delivered) while that side still sends.
#[test]
fn after_a_cut_the_rest_is_read_and_dropped_until_the_peers_end() {
    let t0 = Instant::now();
    let budget = Budget::new(How::Fin, 300, "down");
    let client = Fake::new(&[Cue::Data(b"request".to_vec()), Cue::Eof]);
    let up = Fake::new(&[Cue::Data(vec![2; 1000]), Cue::Block]);
    let mut b = Bridge::new(false, rules(), t0);
    let mut scratch = vec![0u8; 128];
    let (c, u) = (
        Cutting::new(&client, None, None, None, t0),
        Cutting::new(&up, Some(&budget), None, None, t0).reading_down(),
    );
    let r = b.step(&c, &u, &mut scratch, None, Ready::ALL, t0);
    assert_eq!(client.got().len(), 300, "exactly the budget");
    assert!(client.shut.get(), "then its FIN");
    assert_eq!(up.got(), b"request", "the other way whole");
    assert!(up.shut.get(), "with its FIN");
    assert!(
        matches!(r, Ok(Next::Wait(_))),
        "the upstream still sends: {r:?}"
    );
    // It sends more, then ends: dropped, and then the bridge is done.
    up.cue(Cue::Data(vec![3; 500]));
    up.cue(Cue::Eof);
    let mut r = b.step(&c, &u, &mut scratch, None, Ready::ALL, t0);
    // (A short read may stop a step before the end, which comes as an
    // event of its own.)
    if matches!(r, Ok(Next::Wait(_))) {
        r = b.step(&c, &u, &mut scratch, None, Ready::ALL, t0);
    }
    assert_eq!(client.got().len(), 300, "nothing past the cut");
    assert!(matches!(r, Ok(Next::Done)), "{r:?}");
    assert!(!up.reset.get() && !client.reset.get(), "a clean close");
}
