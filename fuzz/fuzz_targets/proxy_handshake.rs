//! Any bytes as a proxy's answer to the `--proxy` handshake (SOCKS5 with
//! and without a user and password, socks5h, HTTP CONNECT), in any
//! chunking, with partial writes of what it says: no panic, it always
//! either wants at least one more byte or is done (a driver that reads
//! `want()` bytes never waits for nothing), it never asks for a byte past
//! the end of the proxy's answer, and it is done exactly at that end.
//!
//! Input: byte 0 picks the proxy (its low bits) and the destination; bytes
//! 1 and 2 seed the chunk and partial-write sizes; the rest is what the
//! proxy says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::addr::{ProxyKind, parse_proxy};
use sockcat::transport::proxy::{Destination, Handshake};

const PROXIES: [&str; 6] = [
    "socks5://p:1080",
    "socks5://u:pw@p:1080",
    "socks5h://p:1080",
    "socks5h://%75s%3Aer:p%40ss@p:1080",
    "http://p:3128",
    "http://al:ice@p:3128",
];

/// The longest answer header `Handshake` takes (proxy.rs's `MAX_HEADER`).
const MAX_HEADER: usize = 16 * 1024;

/// Where the proxy's answer ends, read by the RFCs rather than by the
/// state machine: `Some(n)` when the first `n` bytes are the whole answer
/// (a success or a refusal), `None` when `a` holds no complete one.
fn answer_end(kind: ProxyKind, auth: bool, a: &[u8]) -> Option<usize> {
    if kind == ProxyKind::Http {
        // The header ends with an empty line; each line ends with CRLF or
        // a bare LF.
        return (1..=a.len()).find(|&i| a[..i].ends_with(b"\n\n") || a[..i].ends_with(b"\n\r\n"));
    }
    // The method: VER METHOD.
    let m = a.get(..2)?;
    if m[0] != 5 {
        return Some(2);
    }
    let reply = match (m[1], auth) {
        (0, _) => 2,
        // RFC 1929: VER STATUS.
        (2, true) => {
            if a.get(3)? != &0 {
                return Some(4);
            }
            4
        }
        _ => return Some(2),
    };
    // VER REP RSV ATYP, then the bound address and port.
    let r = a.get(reply..reply + 5)?;
    if r[0] != 5 || r[1] != 0 {
        return Some(reply + 5);
    }
    let len = match r[3] {
        1 => 4 + 4 + 2,
        4 => 4 + 16 + 2,
        3 => 4 + 1 + r[4] as usize + 2,
        _ => return Some(reply + 5),
    };
    (a.len() >= reply + len).then_some(reply + len)
}

/// A small xorshift for the chunk and write sizes.
struct Sizes(u32);

impl Sizes {
    fn up_to(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        1 + (self.0 as usize % max.max(1))
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, s0, s1, answer @ ..] = data else {
        return;
    };
    let url = parse_proxy(PROXIES[*pick as usize % PROXIES.len()]).unwrap();
    let dest = match (url.kind, pick >> 4 & 3) {
        (ProxyKind::Socks5, 0 | 2) => Destination::Addr("10.1.2.3:80".parse().unwrap()),
        (ProxyKind::Socks5, _) => Destination::Addr("[2001:db8::1]:443".parse().unwrap()),
        (_, 0) => Destination::Name("example.org".into(), 80),
        (_, 1) => Destination::Name("::1".into(), 22),
        (_, 2) => Destination::Name("192.0.2.7".into(), 8080),
        _ => Destination::Name("a".repeat(253), 65535),
    };
    let auth = url.auth.is_some();
    let kind = url.kind;
    let end = answer_end(kind, auth, answer);
    let mut sizes = Sizes(u32::from(*s0) << 8 | u32::from(*s1) | 1 << 16);
    let mut h = Handshake::new(&url, dest);
    let mut at = 0;
    let outcome = loop {
        // Send what it has to say, perhaps a piece at a time.
        while !h.output().is_empty() {
            let n = sizes.up_to(h.output().len());
            h.wrote(n);
        }
        if h.is_done() {
            break Ok(true);
        }
        let want = h.want();
        assert!(want > 0, "neither done nor wanting a byte after {at}");
        if let Some(end) = end {
            assert!(
                at + want <= end,
                "at {at} it wants {want} bytes, past the answer's end at {end}"
            );
        }
        if at == answer.len() {
            // The proxy closed: the driver reports that.
            break Ok(false);
        }
        let n = sizes.up_to(want).min(answer.len() - at);
        let r = h.feed(&answer[at..at + n]);
        at += n;
        match r {
            Ok(true) => break Ok(true),
            Ok(false) => {}
            Err(e) => break Err(e),
        }
    };
    match outcome {
        Ok(true) => {
            assert!(h.is_done());
            assert_eq!(h.want(), 0);
            assert_eq!(Some(at), end, "done after {at} bytes");
            if kind == ProxyKind::Http {
                // A status line of HTTP/…, a space, and 2xx.
                let line = answer.split(|&b| b == b'\n').next().unwrap();
                let line = String::from_utf8_lossy(line);
                let mut words = line.trim_end().split(' ');
                assert!(words.next().unwrap().starts_with("HTTP/"), "{line:?}");
                let code = words.next().unwrap_or_default().as_bytes();
                assert!(
                    code.len() == 3 && code[0] == b'2' && code.iter().all(u8::is_ascii_digit),
                    "{line:?}"
                );
            }
        }
        Ok(false) => assert!(end.is_none_or(|e| at < e)),
        Err(e) => {
            assert!(!e.is_empty());
            // A refusal is known by the end of the answer at the latest
            // (an HTTP header past the limit is refused on its way).
            match end {
                Some(end) => assert!(at <= end, "refused after {at}, past {end}"),
                None => assert!(kind == ProxyKind::Http && at > MAX_HEADER, "{e}"),
            }
        }
    }
});
