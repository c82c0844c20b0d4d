//! The one count of what a server has open against its budget
//! (`--max-conns`, `--max-children`, `--max-threads`, `--count`'s end):
//! every open connection or worker holds a [`HeldSlot`], and the slot is
//! free again the moment that guard drops, however its holder ends
//! (closed, cut, dropped by a panic's unwinding, its worker reaped). No
//! model counts its active connections by hand, so no path that forgets
//! to count one out can leave `--once` or `--count` waiting forever.

use std::cell::Cell;
use std::rc::Rc;

/// The slots a model's loop has given out (one thread's loop: the count
/// is not shared across threads; thread-serve's workers give theirs back
/// through a [`super::Slot`] message the loop turns into a drop here).
#[derive(Debug, Default)]
pub struct Slots(Rc<Cell<usize>>);

/// One slot, held by one connection or worker until it drops.
#[derive(Debug)]
pub struct HeldSlot(Rc<Cell<usize>>);

impl Slots {
    /// Take a slot (whether there is room is [`super::may_accept`]'s to
    /// say, before the connection is taken).
    pub fn hold(&self) -> HeldSlot {
        self.0.set(self.0.get() + 1);
        HeldSlot(self.0.clone())
    }

    /// How many slots are held now.
    pub fn in_use(&self) -> usize {
        self.0.get()
    }
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_comes_back_when_its_holder_drops() {
        let slots = Slots::default();
        let a = slots.hold();
        let b = slots.hold();
        assert_eq!(slots.in_use(), 2);
        drop(a);
        assert_eq!(slots.in_use(), 1);
        // Dropped by a panic's unwinding too.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = b;
            panic!("a bug while serving");
        }));
        assert!(r.is_err());
        assert_eq!(slots.in_use(), 0);
    }
}
