//! Unit tests of `servers/mod.rs`: the slot guard.

use super::*;
use std::sync::mpsc;

/// The guard thread-serve's workers hold: a worker that panics still
/// gives its slot back and wakes the loop.
#[test]
fn a_panicking_worker_frees_its_slot() {
    let mut poll = mio::Poll::new().unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).unwrap());
    let (tx, rx) = mpsc::channel::<&'static str>();
    // The accepting loop keeps its own handle on the waker, as here.
    let for_worker = waker.clone();
    let worker = std::thread::spawn(move || {
        let _slot = Slot::new(tx, for_worker, "freed by drop");
        panic!("a bug in a handler");
    });
    assert!(worker.join().is_err(), "the worker panicked");
    assert_eq!(rx.try_recv(), Ok("freed by drop"));
    let mut events = mio::Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(
        events.iter().any(|e| e.token() == WAKE),
        "the loop was woken"
    );
}

#[test]
fn a_finished_worker_reports_its_outcome() {
    let poll = mio::Poll::new().unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).unwrap());
    let (tx, rx) = mpsc::channel::<&'static str>();
    Slot::new(tx, waker, "panicked").finish("done");
    assert_eq!(rx.try_recv(), Ok("done"));
    assert!(rx.try_recv().is_err(), "one message per slot");
}
