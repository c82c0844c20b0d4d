use super::*;
use proptest::prelude::*;

fn inet(src: &str, dst: &str) -> Addresses {
    Addresses::Inet {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
    }
}

fn whole(buf: &[u8]) -> (usize, Header) {
    parse(buf).unwrap().unwrap()
}

#[test]
fn version_1_examples_from_the_spec() {
    let line = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    let (len, h) = whole(line);
    assert_eq!(len, line.len());
    assert_eq!(h.version, Version::V1);
    assert_eq!(
        h.addresses,
        inet("255.255.255.255:65535", "255.255.255.255:65535")
    );
    let six = b"PROXY TCP6 ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    assert!(parse(six).is_err(), "the spec's elided form is no address");
    let six = b"PROXY TCP6 2001:db8::1 ::1 56324 443\r\nGET / HTTP/1.1\r\n";
    let (len, h) = whole(six);
    assert_eq!(&six[len..], b"GET / HTTP/1.1\r\n");
    assert_eq!(h.addresses, inet("[2001:db8::1]:56324", "[::1]:443"));
    let (len, h) = whole(b"PROXY UNKNOWN\r\n");
    assert_eq!((len, h.addresses), (15, Addresses::Unknown));
    // What follows UNKNOWN is ignored.
    let (_, h) = whole(b"PROXY UNKNOWN ffff:: ffff:: 1 2\r\n");
    assert_eq!(h.addresses, Addresses::Unknown);
}

#[test]
fn version_1_refusals() {
    let bad: &[&[u8]] = &[
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY TCP4 ::1 ::1 1 2\r\n",
        b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
        b"GET / HTTP/1.1\r\n",
        b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    ];
    for b in bad {
        assert!(parse(b).is_err(), "{:?}", String::from_utf8_lossy(b));
    }
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(V1_MAX, b'x');
    assert_eq!(parse(&long), Err(Invalid::Oversize));
    // 107 bytes with the CRLF is the longest there is.
    long.truncate(V1_MAX - 2);
    long.extend_from_slice(b"\r\n");
    assert_eq!(whole(&long).0, V1_MAX);
}

#[test]
fn beginnings_wait_for_more() {
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n";
    for end in 0..line.len() {
        assert_eq!(parse(&line[..end]), Ok(None), "{end}");
    }
    let v2 = encode(Version::V2, Some(ends("192.0.2.1:1234", "198.51.100.2:80")));
    for end in 0..v2.len() {
        assert_eq!(parse(&v2[..end]), Ok(None), "{end}");
    }
    assert_eq!(parse(b"PROXX"), Err(Invalid::Signature));
    assert_eq!(parse(b"\r\n\r\n\0\r\nQUIX"), Err(Invalid::Signature));
}

fn ends(s: &str, d: &str) -> (SocketAddr, SocketAddr) {
    (s.parse().unwrap(), d.parse().unwrap())
}

#[test]
fn version_2_as_the_spec_lays_it_out() {
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2, 0x04, 0xd2, 0, 80]);
    assert_eq!(
        h,
        encode(Version::V2, Some(ends("192.0.2.1:1234", "198.51.100.2:80")))
    );
    let (len, got) = whole(&h);
    assert_eq!(len, 28);
    assert_eq!(got.version, Version::V2);
    assert_eq!(got.addresses, inet("192.0.2.1:1234", "198.51.100.2:80"));

    // TLVs after the addresses are skipped, and counted in the length.
    let mut t = h.clone();
    t[15] = 12 + 7;
    t.extend_from_slice(&[0x01, 0, 2, b'h', b'2', 0x04, 0]);
    t.extend_from_slice(&[0, 0]);
    let (len, got) = whole(&t);
    assert_eq!(len, 16 + 19);
    assert_eq!(got.addresses, inet("192.0.2.1:1234", "198.51.100.2:80"));
}

#[test]
fn version_2_families_and_commands() {
    let six = encode(Version::V2, Some(ends("[2001:db8::1]:5", "[::1]:443")));
    assert_eq!((six[12], six[13], six.len()), (0x21, 0x21, 16 + 36));
    assert_eq!(
        whole(&six).1.addresses,
        inet("[2001:db8::1]:5", "[::1]:443")
    );
    // LOCAL: the addresses are ignored, whatever they say.
    let mut local = six.clone();
    local[12] = 0x20;
    assert_eq!(whole(&local).1.addresses, Addresses::Unknown);
    assert_eq!(encode(Version::V2, None)[12..], [0x20, 0, 0, 0]);
    // UNSPEC with a PROXY command: no addresses either.
    let mut unspec = V2_SIGNATURE.to_vec();
    unspec.extend_from_slice(&[0x21, 0x00, 0, 3, 9, 9, 9]);
    assert_eq!(
        whole(&unspec),
        (
            19,
            Header {
                version: Version::V2,
                addresses: Addresses::Unknown
            }
        )
    );
    // AF_UNIX: two 108-byte names.
    let mut unix = V2_SIGNATURE.to_vec();
    unix.extend_from_slice(&[0x21, 0x31, 0, 216]);
    let mut src = [0u8; 108];
    src[..9].copy_from_slice(b"/run/a.sk");
    let mut dst = [0u8; 108];
    dst[..4].copy_from_slice(b"/b.s");
    unix.extend_from_slice(&src);
    unix.extend_from_slice(&dst);
    assert_eq!(
        whole(&unix).1.addresses,
        Addresses::Unix {
            src: b"/run/a.sk".to_vec(),
            dst: b"/b.s".to_vec()
        }
    );
    // Families that differ: both as IPv6, the IPv4 one mapped.
    let mixed = encode(Version::V2, Some(ends("192.0.2.1:1", "[::1]:2")));
    assert_eq!(
        whole(&mixed).1.addresses,
        inet("[::ffff:192.0.2.1]:1", "[::1]:2")
    );
}

#[test]
fn version_2_refusals() {
    let good = encode(Version::V2, Some(ends("192.0.2.1:1234", "198.51.100.2:80")));
    let with = |at: usize, b: u8| {
        let mut h = good.clone();
        h[at] = b;
        parse(&h)
    };
    assert!(with(12, 0x11).is_err(), "version 1 in the binary form");
    assert!(with(12, 0x22).is_err(), "command 2");
    assert!(with(13, 0x41).is_err(), "family 4");
    assert!(with(13, 0x13).is_err(), "protocol 3");
    assert!(with(15, 11).is_err(), "shorter than its addresses");
    assert_eq!(with(14, 0x10), Err(Invalid::Oversize));
    // The version byte is looked at as soon as it comes.
    assert!(parse(&[&V2_SIGNATURE[..], &[0x11]].concat()).is_err());
}

#[test]
fn version_1_encodings() {
    let e = encode(Version::V1, Some(ends("192.0.2.1:1234", "198.51.100.2:80")));
    assert_eq!(e, b"PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n");
    let e = encode(Version::V1, Some(ends("[2001:db8::1]:1", "[::1]:2")));
    assert_eq!(e, b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n");
    assert_eq!(encode(Version::V1, None), b"PROXY UNKNOWN\r\n");
    let longest = encode(
        Version::V1,
        Some(ends(
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
        )),
    );
    assert_eq!(longest.len(), 104);
    assert_eq!(whole(&longest).0, 104);
}

#[test]
fn gathering_never_takes_a_byte_past_the_header() {
    for header in [
        encode(Version::V1, Some(ends("192.0.2.1:1234", "198.51.100.2:80"))),
        encode(Version::V1, None),
        encode(Version::V2, Some(ends("[2001:db8::1]:5", "[::1]:443"))),
        encode(Version::V2, None),
    ] {
        let mut wire = header.clone();
        wire.extend_from_slice(b"\x16\x03\x01 client bytes\r\n and more\n");
        let mut g = Gather::default();
        let mut at = 0;
        let got = loop {
            let peeked = &wire[at..(at + g.want()).min(wire.len())];
            let n = g.take(peeked);
            assert!(n >= 1);
            at += n;
            if let Some(h) = g.push(&peeked[..n]).unwrap() {
                break h;
            }
        };
        assert_eq!(at, header.len());
        assert_eq!(whole(&header).1, got);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_nor_claim_too_much(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(Some((len, _))) = parse(&bytes) {
            prop_assert!(len <= bytes.len());
        }
        let mut g = Gather::default();
        let mut at = 0;
        while at < bytes.len() {
            let peeked = &bytes[at..(at + g.want()).min(bytes.len())];
            let n = g.take(peeked);
            prop_assert!(n >= 1 && n <= peeked.len());
            at += n;
            match g.push(&peeked[..n]) {
                Ok(None) => {}
                _ => break,
            }
        }
    }

    #[test]
    fn a_header_and_each_of_its_truncations(
        v6 in any::<bool>(), a in any::<[u8; 16]>(), p in any::<(u16, u16)>(),
        v2 in any::<bool>(), cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (s, d) = if v6 {
            (SocketAddr::from((a, p.0)), SocketAddr::from(([a[15]; 16], p.1)))
        } else {
            (SocketAddr::from(([a[0], a[1], a[2], a[3]], p.0)),
             SocketAddr::from(([a[4], a[5], a[6], a[7]], p.1)))
        };
        let version = if v2 { Version::V2 } else { Version::V1 };
        let header = encode(version, Some((s, d)));
        let mut wire = header.clone();
        wire.extend_from_slice(&tail);
        let (len, h) = parse(&wire).unwrap().unwrap();
        prop_assert_eq!(len, header.len());
        prop_assert_eq!(h.addresses, Addresses::Inet { src: s, dst: d });
        let end = cut.index(header.len());
        prop_assert_eq!(parse(&header[..end]), Ok(None));
    }
}

#[test]
fn reading_takes_the_header_and_leaves_what_follows() {
    use crate::transport::Stream;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    for header in [
        encode(Version::V1, Some(ends("192.0.2.1:1234", "198.51.100.2:80"))),
        encode(Version::V2, Some(ends("[2001:db8::1]:5", "[::1]:443"))),
    ] {
        let (mut client, server) = UnixStream::pair().unwrap();
        let server = Stream::Unix(server);
        let now = std::time::Instant::now();
        let mut r = Reading::new(now, None);
        // A piece, then nothing: it waits; the rest and the client's
        // bytes: the header, and the client's bytes left on the socket.
        client.write_all(&header[..5]).unwrap();
        assert_eq!(r.step(&server, now), Ok(None));
        client.write_all(&header[5..]).unwrap();
        client.write_all(b"\x16\x03\x01hello").unwrap();
        let h = r.step(&server, now).unwrap().unwrap();
        assert_eq!(Some(h), parse(&header).unwrap().map(|(_, h)| h));
        drop(client);
        let mut rest = Vec::new();
        (&server).read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"\x16\x03\x01hello");
    }
    // Late, and cut short.
    let (mut client, server) = UnixStream::pair().unwrap();
    let server = Stream::Unix(server);
    let now = std::time::Instant::now();
    let mut r = Reading::new(now, Some(std::time::Duration::from_millis(1)));
    assert!(
        r.step(&server, now + std::time::Duration::from_millis(2))
            .is_err()
    );
    let mut r = Reading::new(now, None);
    client.write_all(b"PROXY TCP4").unwrap();
    drop(client);
    let why = r.step(&server, now).unwrap_err();
    assert!(why.contains("ended inside"), "{why}");
    // A bare connect and close (a health check).
    let (client, server) = UnixStream::pair().unwrap();
    drop(client);
    let why = Reading::new(now, None).step(&Stream::Unix(server), now);
    assert!(why.unwrap_err().contains("ended before"));
}
