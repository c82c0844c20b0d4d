//! `--blackhole [DUR]`: a forwarded connection that accepts bytes and
//! passes none (toxiproxy's timeout), as a layer ([`Holed`]) over each
//! side.
//!
//! The side whose bytes the hole swallows is read as usual (its sender's
//! writes go through; TCP's window never fills) and what is read is
//! dropped; its end of stream still passes. For good, or, with DUR,
//! until DUR after the connection began: then both sides' reads answer
//! the end, so each peer gets a FIN and the connection closes (the
//! moment wakes the bridge through [`Held::wake`]).

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::half::{Held, Port};
use super::layers::Direction;

/// What the `-v` event says of `--blackhole [DUR]`.
pub fn describe(for_: Option<Duration>, dir: Direction) -> (String, Value) {
    let way = match dir {
        Direction::Both => "both ways",
        d => d.as_str(),
    };
    let (text, ms) = match for_ {
        Some(d) => (
            format!(
                "blackhole {way} for {}, then close",
                humantime::format_duration(d)
            ),
            Some(d.as_millis() as u64),
        ),
        None => (format!("blackhole {way}"), None),
    };
    (
        text,
        json!({"fault": "blackhole", "direction": dir.as_str(), "for_ms": ms}),
    )
}

/// The end of a black hole with a time: when both sides close.
#[derive(Debug)]
pub struct Closes {
    at: Instant,
}

impl Closes {
    pub fn new(after: Duration, start: Instant) -> Closes {
        Closes { at: start + after }
    }
}

/// A side's port whose bytes a hole swallows (`swallow`) and whose reads
/// end at a moment (`closes`); neither: it passes everything through,
/// its plain descriptor too.
#[derive(Debug)]
pub struct Holed<'a, P> {
    inner: P,
    swallow: bool,
    closes: Option<&'a Closes>,
    now: Instant,
}

impl<'a, P> Holed<'a, P> {
    pub fn new(inner: P, swallow: bool, closes: Option<&'a Closes>, now: Instant) -> Holed<'a, P> {
        Holed {
            inner,
            swallow,
            closes,
            now,
        }
    }

    fn closed(&self) -> bool {
        self.closes.is_some_and(|c| self.now >= c.at)
    }
}

impl<P: Port> Port for Holed<'_, P> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.inner)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.closed() {
            return Ok(None);
        }
        if !self.swallow || buf.is_empty() {
            return self.inner.read(buf);
        }
        // Read until the socket has no more (`WouldBlock`, passed up),
        // keeping nothing.
        loop {
            match self.inner.read(buf)? {
                Some(0) => return Err(io::ErrorKind::WouldBlock.into()),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.inner.write(data)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match (self.swallow, self.closes) {
            (false, None) => self.inner.plain_fd(),
            // The bytes are dropped here, or the end made here: a copy.
            _ => None,
        }
    }
    fn check_end(&self) -> io::Result<()> {
        match self.closed() {
            // The end this layer made is one.
            true => Ok(()),
            false => self.inner.check_end(),
        }
    }
    fn shut_write(&self) {
        self.inner.shut_write()
    }
    fn held(&self) -> Held {
        let mine = Held {
            wake: self.closes.map(|c| c.at),
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
    fn a_hole_drops_what_it_reads_and_passes_the_end() {
        let t0 = Instant::now();
        let side = Fake::new(&[Cue::Data(vec![1; 10]), Cue::Data(vec![2; 5])]);
        let p = Holed::new(&side, true, None, t0);
        let mut buf = [0u8; 64];
        let e = p.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "nothing passes");
        assert!(side.reads.borrow().is_empty(), "all of it read and dropped");
        assert!(p.plain_fd().is_none());
        side.cue(Cue::Eof);
        assert_eq!(p.read(&mut buf).unwrap(), None, "the end passes");
    }

    #[test]
    fn a_timed_hole_ends_both_sides_at_its_moment() {
        let t0 = Instant::now();
        let closes = Closes::new(300 * MS, t0);
        let side = Fake::new(&[Cue::Data(vec![1; 10])]);
        let mut buf = [0u8; 64];
        let p = Holed::new(&side, false, Some(&closes), t0);
        assert_eq!(p.read(&mut buf).unwrap(), Some(10), "the other way passes");
        assert_eq!(p.held().wake, Some(t0 + 300 * MS));
        let p = Holed::new(&side, false, Some(&closes), t0 + 300 * MS);
        assert_eq!(p.read(&mut buf).unwrap(), None, "then the end");
        assert!(p.check_end().is_ok(), "an end of its own making is one");
    }
}

#[cfg(test)]
mod bridge_tests {
    //! A timed hole in a level-triggered bridge: woken at its moment with
    //! nothing ready, it ends both ways.
    use super::*;
    use crate::relay::bridge::{Bridge, Next, Ready, Rules};
    use crate::relay::half::tests::{Cue, Fake};

    #[test]
    fn a_timed_hole_closes_a_level_triggered_bridge_at_its_moment() {
        let t0 = Instant::now();
        let closes = Closes::new(Duration::from_millis(300), t0);
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
                Holed::new(&client, true, Some(&closes), now),
                Holed::new(&up, false, Some(&closes), now),
            );
            b.step(&c, &u, &mut scratch, None, ready, now)
        };
        let r = step(Ready::ALL, t0);
        assert!(
            matches!(r, Ok(Next::Wait(w)) if w.deadline == Some(t0 + Duration::from_millis(300)))
        );
        assert!(up.got().is_empty(), "the client's bytes dropped");
        let none = Ready::NONE;
        let r = step(none, t0 + Duration::from_millis(300));
        assert!(matches!(r, Ok(Next::Done)), "{r:?}");
        assert!(up.shut.get() && client.shut.get(), "a FIN each way");
    }
}
