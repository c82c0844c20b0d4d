//! The faults' random choices (`--fault-fraction`, and any layer that
//! draws), made to repeat: SplitMix64, whose n-th draw from a seed is a
//! pure function of the two, so the n-th connection's choices are the
//! same in every run and every model (a forked child computes them from
//! its number without the parent's state).

/// SplitMix64's step: the golden ratio's 64-bit fraction.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream of random draws (SplitMix64).
#[derive(Clone, Debug)]
pub struct Chance(u64);

impl Chance {
    /// Draws that begin where `seed` says.
    pub fn new(seed: u64) -> Chance {
        Chance(seed)
    }

    /// The draws of connection number `n` (0 the first) of a server whose
    /// seed is `seed`: apart from every other connection's.
    pub fn for_conn(seed: u64, n: u64) -> Chance {
        Chance(mix(seed ^ mix(n.wrapping_add(1).wrapping_mul(GAMMA))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// A draw in [0, 1), to 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (0 never, 1 always).
    pub fn happens(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A seed no one gave: different in every run (std's hasher keys are
/// drawn from the system's randomness).
pub fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_gives_its_known_sequence() {
        // SplitMix64 from seed 0 (the reference implementation's output).
        let mut c = Chance::new(0);
        assert_eq!(c.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(c.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn a_connections_draws_repeat_and_differ_from_its_neighbours() {
        let draws = |n| {
            let mut c = Chance::for_conn(7, n);
            [c.next_u64(), c.next_u64()]
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
        assert_ne!(
            Chance::for_conn(7, 3).next_u64(),
            Chance::for_conn(8, 3).next_u64()
        );
    }

    #[test]
    fn happens_keeps_to_its_probability() {
        let mut c = Chance::new(1);
        let hits = (0..100_000).filter(|_| c.happens(0.3)).count();
        // 4.5 standard deviations (about 145) either side of 30000.
        assert!((29_350..=30_650).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| !c.happens(0.0)));
        assert!((0..1000).all(|_| c.happens(1.0)));
    }
}
