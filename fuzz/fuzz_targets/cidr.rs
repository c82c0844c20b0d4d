//! Any text as an access-list entry: no panic, and a parsed one prints back
//! to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::access::Cidr;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = Cidr::parse(s) {
            assert_eq!(Cidr::parse(&c.to_string()).ok(), Some(c));
        }
    }
});
