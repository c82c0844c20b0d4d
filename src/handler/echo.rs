//! `--echo`: every byte comes back. The drivers stop reading from a peer
//! whose output buffer is full, so a peer that never reads cannot make the
//! server's memory grow.

use super::Talk;

pub fn input(data: &[u8], out: &mut Vec<u8>) -> Talk {
    out.extend_from_slice(data);
    Talk::Continue
}
