//! A [`Half`]'s copy path: bytes through the driver's read buffer, what
//! the destination would not take kept in the half until it does. Every
//! chunk goes this way when the half cannot splice; small chunks when it
//! splices only bulk ([`Half::splice_bulk_only`]).

use std::io;

use super::{COPY_BUF, HALF_BUDGET, Half, Port, SPLICE_FROM, State};
use crate::relay::HalfError;

impl Half {
    pub(super) fn pump_copy(
        &mut self,
        from: &impl Port,
        to: &impl Port,
        scratch: &mut Vec<u8>,
        hex: &mut impl FnMut(u64, &[u8]),
        copy: Copying,
        short_read_ends: bool,
    ) -> Result<Copied, HalfError> {
        let room = match copy {
            Copying::Small | Copying::ThenSplice => SPLICE_FROM,
            Copying::All => COPY_BUF,
        };
        // Made when a copy first needs it, zeroed by the allocator
        // (calloc: pages nobody has written stay out of the RSS, so a
        // connection whose reads find nothing costs no memory); one made
        // for small chunks grows when every chunk must be copied.
        if scratch.is_empty() {
            *scratch = vec![0; room];
        } else if copy == Copying::All && scratch.len() == SPLICE_FROM {
            scratch.resize(room, 0);
        }
        let chunk = scratch.len().min(to.max_chunk()).min(match copy {
            Copying::Small => SPLICE_FROM,
            _ => usize::MAX,
        });
        let (mut moved, mut dropped) = (0, 0);
        while moved + dropped < HALF_BUDGET {
            if !self.pending.is_empty() {
                match write_some(to, &self.pending) {
                    Ok(None) => return Ok(Copied::Stopped(false)),
                    Ok(Some(k)) => {
                        moved += k;
                        self.moved += k as u64;
                        self.pending.drain(..k);
                        if self.pending.is_empty() {
                            // Nothing in flight: hold no buffer.
                            self.pending = Vec::new();
                        }
                        continue;
                    }
                    Err(e) => return Err(HalfError::Write(e)),
                }
            }
            if self.state != State::Running {
                break;
            }
            if self.bulk && copy != Copying::All {
                return Ok(Copied::Splice);
            }
            let n = match from.read(&mut scratch[..chunk]) {
                Ok(None) => {
                    from.check_end().map_err(HalfError::Read)?;
                    self.state = State::ShuttingDown;
                    break;
                }
                Ok(Some(n)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Copied::Stopped(false));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(HalfError::Read(e)),
            };
            // A short read took all there was: once it is out, stop (see
            // `pump_seen`).
            let emptied = short_read_ends && n < chunk;
            self.bulk |= copy == Copying::Small && n == chunk;
            let data = &scratch[..n];
            hex(self.read, data);
            self.read += n as u64;
            if self.discard {
                // Read to keep the close clean; nobody takes it.
                dropped += n;
                if emptied {
                    return Ok(Copied::Stopped(false));
                }
                continue;
            }
            if n == 0 && !to.is_dgram() {
                continue; // an empty datagram is nothing in a stream
            }
            // Straight from the shared buffer; only what the destination
            // would not take is kept.
            match write_some(to, data) {
                Ok(Some(k)) => {
                    moved += k;
                    self.moved += k as u64;
                    self.pending.extend_from_slice(&data[k..]);
                }
                // (An empty datagram that would block is dropped: there is
                // nothing to keep of it.)
                Ok(None) => self.pending.extend_from_slice(data),
                Err(e) => return Err(HalfError::Write(e)),
            }
            if emptied && self.pending.is_empty() {
                return Ok(Copied::Stopped(false));
            }
        }
        Ok(Copied::Stopped(self.state == State::Running))
    }
}

/// How a copy goes on (see [`Half::splice_bulk_only`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Copying {
    /// Every chunk, as long as the source sends.
    All,
    /// Chunks of at most [`SPLICE_FROM`], until one fills it.
    Small,
    /// What is held, then on by splice.
    ThenSplice,
}

/// Where a copy stopped.
pub(super) enum Copied {
    /// Stopped; whether by the budget (more may wait). What was
    /// delivered is counted in the half as it goes.
    Stopped(bool),
    /// Bulk comes: on by splice.
    Splice,
}

/// Write what `to` takes now: `None` when it would block.
fn write_some(to: &impl Port, data: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match to.write(data) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
