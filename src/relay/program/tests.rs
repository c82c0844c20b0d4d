//! A [`ProgramRelay`] driven by scripted ports (the peer, the program's
//! stdin and stdout): no sockets, no program.

use std::time::{Duration, Instant};

use super::{LINGER, Next, ProgramRelay, Rules, Wait};
use crate::relay::RelayEnd;
use crate::relay::half::tests::{Cue, Fake};

fn step(r: &mut ProgramRelay, peer: &Fake, stdin: &Fake, stdout: &Fake, now: Instant) -> Next {
    let mut scratch = vec![0u8; 16];
    match r.step(peer, stdin, stdout, &mut scratch, None, now) {
        Ok(n) => n,
        Err(e) => panic!("the relay failed: {e:?}"),
    }
}

fn waits(n: Next) -> Wait {
    match n {
        Next::Wait(w) => w,
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[test]
fn the_peer_s_fin_closes_the_program_s_stdin_after_its_bytes() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Data(b"hello".to_vec()), Cue::Eof]);
    let (stdin, stdout) = (Fake::default(), Fake::default());
    let mut r = ProgramRelay::new(Rules::default(), now);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, now));
    assert_eq!(stdin.got(), b"hello");
    assert!(stdin.shut.get(), "the program's EOF");
    assert!(!peer.shut.get(), "the program still talks");
    assert!(!w.peer.read, "the peer's direction ended");
    assert!(w.stdout.read, "waits for the program's output");
    assert_eq!(r.moved().up, 5);
}

#[test]
fn the_program_s_end_of_output_is_our_fin_then_the_peer_s_ends_it() {
    let now = Instant::now();
    let peer = Fake::default();
    let stdin = Fake::default();
    let stdout = Fake::new(&[Cue::Data(b"reply".to_vec()), Cue::Eof]);
    let mut r = ProgramRelay::new(Rules::default(), now);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, now));
    assert_eq!(peer.got(), b"reply");
    assert!(peer.shut.get(), "our FIN after the last byte");
    assert!(r.output_ended());
    assert!(w.peer.read, "the peer may still send");
    assert_eq!(w.deadline, None, "no linger bound: until its FIN");
    peer.cue(Cue::Data(b"more".to_vec()));
    peer.cue(Cue::Eof);
    assert_eq!(step(&mut r, &peer, &stdin, &stdout, now), Next::Done);
    assert_eq!(stdin.got(), b"more");
    assert_eq!((r.moved().up, r.moved().down), (4, 5));
}

#[test]
fn a_program_that_stopped_reading_gets_nothing_more_and_the_rest_is_dropped() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Data(b"one".to_vec()), Cue::Data(b"two".to_vec())]);
    let (stdin, stdout) = (Fake::default(), Fake::default());
    stdin.went_away();
    let mut r = ProgramRelay::new(Rules::default(), now);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, now));
    assert!(stdin.shut.get(), "its stdin is closed");
    assert!(
        w.peer.read,
        "the peer is still read (no reset at the close)"
    );
    assert!(!w.stdin.write);
    peer.cue(Cue::Data(b"three".to_vec()));
    peer.cue(Cue::Eof);
    stdout.cue(Cue::Eof);
    assert_eq!(step(&mut r, &peer, &stdin, &stdout, now), Next::Done);
    assert!(stdin.got().is_empty());
    assert_eq!(r.moved().up, 11, "what was read counts, dropped or not");
}

#[test]
fn a_program_that_takes_little_holds_the_peer_back() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Data(b"hello".to_vec())]);
    let (stdin, stdout) = (Fake::default(), Fake::default());
    stdin.room(Some(2));
    let mut r = ProgramRelay::new(Rules::default(), now);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, now));
    assert_eq!(stdin.got(), b"he");
    assert!(w.stdin.write, "waits for the program to take the rest");
    assert!(!w.peer.read, "and reads no more from the peer meanwhile");
    stdin.room(None);
    waits(step(&mut r, &peer, &stdin, &stdout, now));
    assert_eq!(stdin.got(), b"hello");
}

#[test]
fn the_idle_deadline_stops_the_program_and_names_the_end() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(5);
    let (peer, stdin, stdout) = (Fake::default(), Fake::default(), Fake::default());
    let rules = Rules {
        idle: Some(idle),
        linger: None,
    };
    let mut r = ProgramRelay::new(rules, t0);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0));
    assert_eq!(w.deadline, Some(t0 + idle));
    assert!(!w.stop_program);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle));
    assert!(w.stop_program, "the driver stops the program");
    assert!(stdin.shut.get(), "its input ended");
    assert!(!w.peer.read);
    assert_eq!(w.deadline, Some(t0 + idle + LINGER), "the kill's moment");
    assert!(!w.kill_program);
    // The stopped program's output ends: so does the relay, by the idle
    // timeout.
    stdout.cue(Cue::Eof);
    let mut scratch = vec![0u8; 16];
    let end = r.step(&peer, &stdin, &stdout, &mut scratch, None, t0 + idle);
    assert!(matches!(end, Err(RelayEnd::Idle)), "{end:?}");
}

#[test]
fn a_stopped_program_that_goes_on_is_killed_after_the_linger_bound() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(5);
    let (peer, stdin, stdout) = (Fake::default(), Fake::default(), Fake::default());
    let rules = Rules {
        idle: Some(idle),
        linger: None,
    };
    let mut r = ProgramRelay::new(rules, t0);
    assert!(waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle)).stop_program);
    // It ignored SIGTERM: its output runs on.
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle + LINGER / 2));
    assert!(!w.stop_program && !w.kill_program);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle + LINGER));
    assert!(w.kill_program, "the driver kills it");
    let later = t0 + idle + LINGER + LINGER / 2;
    let w = waits(step(&mut r, &peer, &stdin, &stdout, later));
    assert!(!w.kill_program, "once");
    // Its output ends as it dies: the relay ends, by the idle timeout.
    stdout.cue(Cue::Eof);
    let mut scratch = vec![0u8; 16];
    let end = r.step(&peer, &stdin, &stdout, &mut scratch, None, later);
    assert!(matches!(end, Err(RelayEnd::Idle)), "{end:?}");
}

#[test]
fn traffic_restarts_the_idle_clock() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(5);
    let peer = Fake::default();
    let (stdin, stdout) = (Fake::default(), Fake::default());
    let rules = Rules {
        idle: Some(idle),
        linger: None,
    };
    let mut r = ProgramRelay::new(rules, t0);
    // The peer talks just inside the timeout, twice; the program answers.
    let mut at = t0;
    for _ in 0..2 {
        at += idle - Duration::from_secs(1);
        peer.cue(Cue::Data(b"ping".to_vec()));
        stdout.cue(Cue::Data(b"pong".to_vec()));
        let w = waits(step(&mut r, &peer, &stdin, &stdout, at));
        assert!(!w.stop_program, "talked {:?} after the start", at - t0);
        assert_eq!(w.deadline, Some(at + idle), "the clock starts again");
    }
    // Then quiet: the timeout counts from the last traffic.
    let w = waits(step(&mut r, &peer, &stdin, &stdout, at + idle));
    assert!(w.stop_program);
}

#[test]
fn quiet_while_the_program_holds_the_peer_back_is_no_idleness() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(5);
    let peer = Fake::new(&[Cue::Data(b"hello".to_vec())]);
    let (stdin, stdout) = (Fake::default(), Fake::default());
    stdin.room(Some(0));
    let rules = Rules {
        idle: Some(idle),
        linger: None,
    };
    let mut r = ProgramRelay::new(rules, t0);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle * 2));
    assert!(!w.stop_program, "the relay was not waiting for the peer");
    assert_eq!(w.deadline, None);
}

#[test]
fn after_the_program_s_output_the_peer_gets_the_linger_bound() {
    let t0 = Instant::now();
    let linger = Duration::from_secs(2);
    let (peer, stdin) = (Fake::default(), Fake::default());
    let stdout = Fake::new(&[Cue::Eof]);
    let rules = Rules {
        idle: None,
        linger: Some(linger),
    };
    let mut r = ProgramRelay::new(rules, t0);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0));
    assert!(peer.shut.get());
    assert_eq!(w.deadline, Some(t0 + linger));
    assert_eq!(
        step(&mut r, &peer, &stdin, &stdout, t0 + linger),
        Next::LingerOver
    );
    assert!(stdin.shut.get());
}

#[test]
fn a_reset_peer_ends_the_relay_at_once() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Reset]);
    let (stdin, stdout) = (Fake::default(), Fake::default());
    let mut r = ProgramRelay::new(Rules::default(), now);
    let mut scratch = vec![0u8; 16];
    let end = r.step(&peer, &stdin, &stdout, &mut scratch, None, now);
    assert!(matches!(end, Err(RelayEnd::Endpoint(_))), "{end:?}");
    assert!(stdin.shut.get(), "the program's EOF");
}

/// Under an edge-triggered driver (serve's) the peer's bytes that wait
/// when the program stops reading bring no new event: they are read (and
/// dropped) in the same step, up to the peer's FIN.
#[test]
fn what_waits_when_the_program_stops_reading_is_read_at_once() {
    let now = Instant::now();
    let peer = Fake::new(&[Cue::Data(b"first".to_vec())]);
    let (stdin, stdout) = (Fake::default(), Fake::default());
    stdin.room(Some(2));
    let mut r = ProgramRelay::new(Rules::default(), now);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, now));
    assert!(w.stdin.write, "held for the program");
    // The program exits without reading; the peer sent the rest, and its
    // FIN, while the relay waited for the program's stdin.
    stdin.went_away();
    peer.cue(Cue::Data(b"second".to_vec()));
    peer.cue(Cue::Eof);
    stdout.cue(Cue::Eof);
    assert_eq!(step(&mut r, &peer, &stdin, &stdout, now), Next::Done);
    assert_eq!(r.moved().up, 11);
}

/// A stopped, killed program whose output a peer does not read: the relay
/// gives up on it one more linger bound later (it waited for ever).
#[test]
fn output_a_peer_does_not_read_is_given_up_after_the_kill() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(1);
    let (peer, stdin, stdout) = (Fake::default(), Fake::default(), Fake::default());
    peer.room(Some(0));
    let rules = Rules {
        idle: Some(idle),
        linger: None,
    };
    let mut r = ProgramRelay::new(rules, t0);
    // The program writes; the peer takes nothing.
    stdout.cue(Cue::Data(vec![5; 100]));
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0));
    assert!(w.peer.write, "the output waits for the peer");
    assert!(waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle)).stop_program);
    let w = waits(step(&mut r, &peer, &stdin, &stdout, t0 + idle + LINGER));
    assert!(w.kill_program);
    assert_eq!(
        w.deadline,
        Some(t0 + idle + LINGER * 2),
        "the give-up moment"
    );
    let mut scratch = vec![0u8; 16];
    let end = r.step(
        &peer,
        &stdin,
        &stdout,
        &mut scratch,
        None,
        t0 + idle + LINGER * 2,
    );
    assert!(matches!(end, Err(RelayEnd::Idle)), "{end:?}");
}
