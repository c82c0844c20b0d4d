//! Any bytes as the first bytes of a `--proxy-protocol` connection (a
//! PROXY protocol v1 or v2 header, then the client's own): no panic; a
//! header found never claims more bytes than were given; every prefix of
//! a whole header is a beginning that waits for more; and gathered off a
//! socket a piece at a time (`Gather`, as the server reads), it never
//! takes a byte past the header and finds the same one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcat::transport::proxy_protocol::{Gather, parse};

fuzz_target!(|data: &[u8]| {
    let whole = parse(data);
    if let Ok(Some((len, _))) = &whole {
        assert!(*len <= data.len());
        for end in 0..*len {
            assert_eq!(parse(&data[..end]), Ok(None), "prefix {end} of {len}");
        }
    }
    let mut g = Gather::default();
    let mut at = 0;
    let gathered = loop {
        if at == data.len() {
            break Ok(None);
        }
        let peeked = &data[at..(at + g.want()).min(data.len())];
        let n = g.take(peeked);
        assert!(n >= 1 && n <= peeked.len());
        at += n;
        match g.push(&peeked[..n]) {
            Ok(None) => {}
            Ok(Some(h)) => break Ok(Some(h)),
            Err(e) => break Err(e),
        }
    };
    match (whole, gathered) {
        (Ok(Some((len, h))), Ok(Some(g))) => {
            assert_eq!(len, at, "gathered past the header");
            assert_eq!(h, g);
        }
        (Ok(Some(_)), other) => panic!("parse found a header, gathering {other:?}"),
        (_, Ok(Some(_))) => panic!("gathering found a header parse did not"),
        _ => {}
    }
});
