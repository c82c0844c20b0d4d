//! `--slice BYTES[/DUR]`: a way's bytes written to their destination in
//! pieces of at most BYTES, DUR apart (toxiproxy's slicer, without its
//! size variation), as a layer ([`Sliced`]) over the destination's port.
//!
//! A write takes at most a piece; after one, the port's writes answer
//! `WouldBlock` until the gap has passed and it says when
//! ([`Held::write`]), so the half keeps the rest of its chunk (its one
//! buffer: memory stays bounded) and the bridge waits for the moment, not
//! for the socket's room. With no gap the pieces go one after another.

use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::half::{Held, Port};
use super::layers::Direction;

/// `--slice`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// The most one write takes (at least 1).
    pub bytes: usize,
    /// The time between two pieces (zero: none).
    pub gap: Duration,
}

impl Slice {
    /// What the `-v` event says of it: its text and its JSON fields.
    pub fn describe(&self, dir: Direction) -> (String, Value) {
        let way = match dir {
            Direction::Both => "both ways",
            d => d.as_str(),
        };
        let every = match self.gap.is_zero() {
            true => String::new(),
            false => format!(" every {}", humantime::format_duration(self.gap)),
        };
        (
            format!("slice {}B{every} {way}", self.bytes),
            json!({"fault": "slice", "direction": dir.as_str(),
                   "bytes": self.bytes, "gap_us": self.gap.as_micros() as u64}),
        )
    }
}

/// One way's slicing, kept between steps.
#[derive(Debug)]
pub struct Slicing {
    slice: Slice,
    /// When the next piece may go (after one went, with a gap).
    next: Cell<Option<Instant>>,
}

impl Slicing {
    pub fn new(slice: Slice) -> Slicing {
        Slicing {
            slice,
            next: Cell::new(None),
        }
    }
}

/// A destination's port whose writes a `Slicing` cuts (`None`: it passes
/// everything through, its plain descriptor too).
#[derive(Debug)]
pub struct Sliced<'a, P> {
    inner: P,
    slicing: Option<&'a Slicing>,
    now: Instant,
}

impl<'a, P> Sliced<'a, P> {
    pub fn new(inner: P, slicing: Option<&'a Slicing>, now: Instant) -> Sliced<'a, P> {
        Sliced {
            inner,
            slicing,
            now,
        }
    }

    /// The next piece's moment, while it is still to come.
    fn waiting(&self) -> Option<Instant> {
        self.slicing
            .and_then(|s| s.next.get())
            .filter(|&at| at > self.now)
    }
}

impl<P: Port> Port for Sliced<'_, P> {
    fn beneath(&self) -> Option<&dyn Port> {
        Some(&self.inner)
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.inner.read(buf)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        let Some(s) = self.slicing else {
            return self.inner.write(data);
        };
        if self.waiting().is_some() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // The moment has come: from here the socket's room decides.
        s.next.set(None);
        let piece = &data[..data.len().min(s.slice.bytes)];
        let n = self.inner.write(piece)?;
        if n > 0 && !s.slice.gap.is_zero() {
            s.next.set(Some(self.now + s.slice.gap));
        }
        Ok(n)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self.slicing {
            // The writes must be cut here, not spliced whole: a copy.
            Some(_) => None,
            None => self.inner.plain_fd(),
        }
    }
    fn shut_write(&self) {
        self.inner.shut_write()
    }
    fn held(&self) -> Held {
        // A moment come but not yet tried still shows: a bridge stepped
        // with nothing ready tries the writes then (the descriptor is
        // not watched meanwhile).
        let mine = Held {
            write: self.slicing.and_then(|s| s.next.get()),
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
    fn writes_go_in_pieces_a_gap_apart() {
        let t0 = Instant::now();
        let s = Slicing::new(Slice {
            bytes: 100,
            gap: 5 * MS,
        });
        let side = Fake::new(&[]);
        let p = Sliced::new(&side, Some(&s), t0);
        assert!(p.plain_fd().is_none());
        assert_eq!(p.write(&[7; 250]).unwrap(), 100, "one piece");
        assert!(p.write(&[7; 150]).is_err(), "then the gap");
        assert_eq!(p.held().write, Some(t0 + 5 * MS), "not watched till then");
        let p = Sliced::new(&side, Some(&s), t0 + 4 * MS);
        assert!(p.write(&[7; 150]).is_err());
        let p = Sliced::new(&side, Some(&s), t0 + 5 * MS);
        assert_eq!(p.held().write, Some(t0 + 5 * MS), "due: a step tries it");
        assert_eq!(p.write(&[7; 150]).unwrap(), 100);
        let p = Sliced::new(&side, Some(&s), t0 + 10 * MS);
        assert_eq!(p.write(&[7; 50]).unwrap(), 50, "the rest");
        assert_eq!(side.got(), vec![7; 250]);
        // A full socket at the moment: the moment is spent, the socket
        // watched.
        side.room(Some(0));
        let p = Sliced::new(&side, Some(&s), t0 + 15 * MS);
        assert!(p.write(&[7; 10]).is_err());
        assert_eq!(p.held().write, None);
    }

    #[test]
    fn with_no_gap_the_pieces_follow_at_once() {
        let t0 = Instant::now();
        let s = Slicing::new(Slice {
            bytes: 3,
            gap: Duration::ZERO,
        });
        let side = Fake::new(&[Cue::Eof]);
        let p = Sliced::new(&side, Some(&s), t0);
        assert_eq!(p.write(b"abcdefg").unwrap(), 3);
        assert_eq!(p.write(b"defg").unwrap(), 3);
        assert_eq!(p.held(), Held::default());
        assert_eq!(p.read(&mut [0u8; 8]).unwrap(), None, "reads pass");
    }
}
