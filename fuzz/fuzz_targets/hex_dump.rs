//! Any bytes through the hex dumper: no panic, one line per 16 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::output::hex_dump;

fuzz_target!(|data: &[u8]| {
    let text = hex_dump('<', data.len() as u64, data);
    assert_eq!(text.lines().count(), data.len().div_ceil(16));
});
