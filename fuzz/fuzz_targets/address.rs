//! Any bytes as an address: no panic, and a parsed address prints back to
//! itself (with its scheme).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::addr::{self, Kind};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for (udp, unix) in [(false, false), (true, false), (false, true), (true, true)] {
        let _ = addr::parse_with(s, udp, unix);
    }
    if let Ok(a) = addr::parse(s) {
        let scheme = match a.kind() {
            Kind::Tcp => "tcp://",
            Kind::Udp => "udp://",
            Kind::Unix => "unix:",
            Kind::Unixgram => "unixgram:",
        };
        assert_eq!(addr::parse(&format!("{scheme}{a}")).ok(), Some(a));
    }
});
