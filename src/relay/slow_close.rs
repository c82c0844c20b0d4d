//! `--slow-close DUR`: a way's end of stream (its FIN) passed on a time
//! after it was read (toxiproxy's slow_close), as a layer
//! ([`SlowClosed`]) over the side whose end it holds.
//!
//! The bytes pass as they come; when the side's read answers the end, the
//! layer answers `WouldBlock` until its moment instead, holding the
//! side's reads till then ([`Held::read`]: an ended socket stays
//! readable, so it is not watched), then the end.

use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::half::{Held, Port};
use super::layers::Direction;

/// What the `-v` event says of `--slow-close DUR`.
pub fn describe(hold: Duration, dir: Direction) -> (String, Value) {
    let way = match dir {
        Direction::Both => "both ways",
        d => d.as_str(),
    };
    (
        format!("slow close {} {way}", humantime::format_duration(hold)),
        json!({"fault": "slow_close", "direction": dir.as_str(),
               "hold_ms": hold.as_millis() as u64}),
    )
}

/// One way's held end, kept between steps.
#[derive(Debug)]
pub struct Closing {
    hold: Duration,
    /// The end was read: when it may be passed on.
    end_due: Cell<Option<Instant>>,
}

impl Closing {
    pub fn new(hold: Duration) -> Closing {
        Closing {
            hold,
            end_due: Cell::new(None),
        }
    }

    /// The end was read and waits for its moment.
    pub fn holds_end(&self) -> bool {
        self.end_due.get().is_some()
    }

    /// The held end may go at `now` (the control socket removed the
    /// fault).
    pub fn release(&self, now: Instant) {
        self.end_due.set(self.end_due.get().map(|t| t.min(now)));
    }
}

/// A side's port whose end a `Closing` holds (`None`: it passes
/// everything through, its plain descriptor too).
#[derive(Debug)]
pub struct SlowClosed<'a, P> {
    inner: P,
    closing: Option<&'a Closing>,
    now: Instant,
}

impl<'a, P> SlowClosed<'a, P> {
    pub fn new(inner: P, closing: Option<&'a Closing>, now: Instant) -> SlowClosed<'a, P> {
        SlowClosed {
            inner,
            closing,
            now,
        }
    }
}

impl<P: Port> Port for SlowClosed<'_, P> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.inner)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(c) = self.closing else {
            return self.inner.read(buf);
        };
        let at = match c.end_due.get() {
            Some(at) => at,
            None => match self.inner.read(buf)? {
                Some(n) => return Ok(Some(n)),
                None => {
                    let at = self.now + c.hold;
                    c.end_due.set(Some(at));
                    at
                }
            },
        };
        match at <= self.now {
            true => Ok(None),
            false => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.inner.write(data)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self.closing {
            // The end must be seen here, not by splice: a copy.
            Some(_) => None,
            None => self.inner.plain_fd(),
        }
    }
    fn shut_write(&self) {
        self.inner.shut_write()
    }
    fn held(&self) -> Held {
        let mine = Held {
            read: self.closing.and_then(|c| c.end_due.get()),
            ..Held::default()
        };
        mine.and(self.inner.held())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::half::tests::{Cue, Fake};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_end_is_passed_on_its_hold_after_it_was_read() {
        let t0 = Instant::now();
        let c = Closing::new(300 * MS);
        let side = Fake::new(&[Cue::Data(vec![1; 10]), Cue::Eof]);
        let mut buf = [0u8; 64];
        let p = SlowClosed::new(&side, Some(&c), t0);
        assert_eq!(p.read(&mut buf).unwrap(), Some(10), "bytes pass at once");
        assert!(p.read(&mut buf).is_err(), "the end is held");
        assert_eq!(p.held().read, Some(t0 + 300 * MS), "not watched till then");
        assert!(p.plain_fd().is_none());
        let p = SlowClosed::new(&side, Some(&c), t0 + 299 * MS);
        assert!(p.read(&mut buf).is_err());
        let p = SlowClosed::new(&side, Some(&c), t0 + 300 * MS);
        assert_eq!(p.read(&mut buf).unwrap(), None, "then the end");
    }
}
