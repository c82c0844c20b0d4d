//! Property tests over the parsers and the hex dumper: no input panics, and
//! what is printed parses back to the same value.

use std::net::IpAddr;
use std::time::Duration;

use proptest::prelude::*;
use sockcat::access::Cidr;
use sockcat::addr::{self, Addr, Kind};
use sockcat::cli::{MAX_DURATION, parse_duration};
use sockcat::output::hex_dump;

/// An address printed with its scheme, so that it names the same socket.
fn with_scheme(a: &Addr) -> String {
    let scheme = match a.kind() {
        Kind::Tcp => "tcp://",
        Kind::Udp => "udp://",
        Kind::Unix => "unix:",
        Kind::Unixgram => "unixgram:",
    };
    format!("{scheme}{a}")
}

fn address_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9.:\\[\\]@/-]{0,40}",
        (any::<u16>(), "[a-z]{1,10}(\\.[a-z]{1,5})?").prop_map(|(p, h)| format!("{h}:{p}")),
        any::<u16>().prop_map(|p| format!(":{p}")),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(|(s, p)| {
            let v6 = std::net::Ipv6Addr::from(s);
            format!("[{v6}]:{p}")
        }),
        (
            prop_oneof!["tcp://", "udp://", "unix:", "unixgram:", "unix:@", ""],
            "[ -~]{0,30}"
        )
            .prop_map(|(a, b)| format!("{a}{b}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_address_parses_or_errs_and_round_trips(s in address_like(), udp: bool, unix: bool) {
        let _ = addr::parse_with(&s, udp, unix);
        if let Ok(a) = addr::parse(&s) {
            let again = addr::parse(&with_scheme(&a));
            prop_assert_eq!(again.ok(), Some(a));
        }
    }

    #[test]
    fn any_duration_parses_or_errs(s in "\\PC{0,30}") {
        if let Ok(d) = parse_duration(&s) {
            prop_assert!(d <= MAX_DURATION);
        }
    }

    #[test]
    fn durations_round_trip(ns in 0u64..=MAX_DURATION.as_nanos() as u64) {
        let d = Duration::from_nanos(ns);
        let text = humantime::format_duration(d).to_string();
        prop_assert_eq!(parse_duration(&text), Ok(d));
    }

    #[test]
    fn any_cidr_parses_or_errs_and_round_trips(s in "[0-9a-f.:/\\[\\]]{0,45}") {
        if let Ok(c) = Cidr::parse(&s) {
            prop_assert_eq!(Cidr::parse(&c.to_string()).ok(), Some(c));
        }
    }

    #[test]
    fn a_network_contains_its_own_addresses(raw: [u8; 16], v4: bool, bits in 0u8..=128) {
        let ip: IpAddr = if v4 {
            IpAddr::from([raw[0], raw[1], raw[2], raw[3]])
        } else {
            IpAddr::from(raw)
        };
        let bits = if v4 { bits % 33 } else { bits };
        let c = Cidr::parse(&format!("{ip}/{bits}")).unwrap();
        prop_assert!(c.contains(ip));
        // /0 holds every address of its family.
        let all = Cidr::parse(&format!("{ip}/0")).unwrap();
        let other: IpAddr = if v4 {
            IpAddr::from([raw[4], raw[5], raw[6], raw[7]])
        } else {
            IpAddr::from(raw.map(|b| !b))
        };
        prop_assert!(all.contains(other));
    }

    #[test]
    fn the_hex_dump_reads_back_as_the_data(data in proptest::collection::vec(any::<u8>(), 0..300), off in 0u64..1 << 40) {
        let text = hex_dump('>', off, &data);
        prop_assert_eq!(text.lines().count(), data.len().div_ceil(16));
        let mut back = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let prefix = format!("> {:08x} ", off + 16 * i as u64);
            prop_assert!(line.starts_with(&prefix), "{} lacks {}", line, prefix);
            // The hex columns sit between the offset and the `|ascii|` part.
            let hex = &line[prefix.len()..line.find('|').unwrap()];
            for byte in hex.split_whitespace() {
                back.push(u8::from_str_radix(byte, 16).unwrap());
            }
        }
        prop_assert_eq!(back, data);
    }
}
