//! Any text as a duration: no panic, never more than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::cli::{MAX_DURATION, parse_duration};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(d) = parse_duration(s) {
            assert!(d <= MAX_DURATION);
        }
    }
});
