use super::*;

/// A frame as a peer would send it: `mask` for a client's.
fn frame(fin: bool, op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | op];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut p = payload.to_vec();
    if let Some(k) = mask {
        f.extend_from_slice(&k);
        unmask(&mut p, k, 0);
    }
    f.extend_from_slice(&p);
    f
}

const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

fn decode_all(c: &mut Codec, bytes: &[u8]) -> Result<Vec<u8>, Failed> {
    c.inbuf.extend_from_slice(bytes);
    let mut all = Vec::new();
    loop {
        let mut plain = Vec::new();
        c.decode(&mut plain, 7)?;
        if plain.is_empty() {
            return Ok(all);
        }
        all.extend_from_slice(&plain);
    }
}

/// The frames in `out` as (opcode, payload), unmasking a client's.
fn frames_of(out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut c = Codec::new(Role::Server, Framing::default());
    let mut got = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let mut cur = Cursor::new(rest);
        let Ok(Some((h, len))) = FrameHeader::parse(&mut cur) else {
            panic!("bad frame in {rest:?}");
        };
        let head = cur.position() as usize;
        let mut p = rest[head..head + len as usize].to_vec();
        if let Some(k) = h.mask {
            unmask(&mut p, k, 0);
        }
        let op: u8 = h.opcode.into();
        got.push((op, p));
        rest = &rest[head + len as usize..];
    }
    c.out.clear();
    got
}

#[test]
fn text_messages_are_lines_and_binary_ones_are_bytes() {
    let mut c = Codec::new(Role::Server, Framing::default());
    let mut bytes = frame(true, 1, b"hello", KEY);
    bytes.extend(frame(true, 2, b"\x00\x01", KEY));
    bytes.extend(frame(true, 1, b"", KEY));
    // websocat's lines come with their newline: no second one.
    bytes.extend(frame(false, 1, b"line", KEY));
    bytes.extend(frame(true, 0, b"\n", KEY));
    assert_eq!(
        decode_all(&mut c, &bytes).unwrap(),
        b"hello\n\x00\x01\nline\n"
    );
}

#[test]
fn no_newline_leaves_text_as_it_came() {
    let framing = Framing {
        binary: false,
        newline: false,
    };
    let mut c = Codec::new(Role::Client, framing);
    let bytes = [frame(true, 1, b"a", None), frame(true, 1, b"b", None)].concat();
    assert_eq!(decode_all(&mut c, &bytes).unwrap(), b"ab");
}

#[test]
fn a_fragmented_message_is_reassembled_with_a_ping_between() {
    let mut c = Codec::new(Role::Server, Framing::default());
    let bytes = [
        frame(false, 1, b"hel", KEY),
        frame(true, 9, b"p!", KEY),
        frame(false, 0, b"lo ", KEY),
        frame(true, 0, b"there", KEY),
    ]
    .concat();
    // Byte by byte: every split point of a header and a payload.
    let mut all = Vec::new();
    for b in &bytes {
        all.extend(decode_all(&mut c, &[*b]).unwrap());
    }
    assert_eq!(all, b"hello there\n");
    assert_eq!(frames_of(&c.out), vec![(0xA, b"p!".to_vec())]);
}

#[test]
fn a_close_is_the_end_and_its_code_is_kept() {
    let mut c = Codec::new(Role::Client, Framing::default());
    let mut close = vec![0x03, 0xE9];
    close.extend_from_slice(b"going away");
    let bytes = [
        frame(true, 1, b"x", None),
        frame(true, 8, &close, None),
        frame(true, 1, b"after", None),
    ]
    .concat();
    assert_eq!(decode_all(&mut c, &bytes).unwrap(), b"x\n");
    let their = c.their_close().cloned().unwrap();
    assert_eq!(
        (their.code, their.reason.as_str()),
        (Some(1001), "going away")
    );
    // Our end echoes their code.
    c.finish();
    let sent = frames_of(&c.out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 8);
    assert_eq!(&sent[0].1[..2], &[0x03, 0xE9]);
}

#[test]
fn masking_rules_each_way_fail_with_1002() {
    let mut server = Codec::new(Role::Server, Framing::default());
    let e = decode_all(&mut server, &frame(true, 1, b"hi", None)).unwrap_err();
    assert_eq!(e.code, PROTOCOL_ERROR);
    assert!(e.why.contains("unmasked"), "{e:?}");
    let sent = frames_of(&server.out);
    assert_eq!((sent[0].0, &sent[0].1[..2]), (8, &[0x03, 0xEA][..]));
    let mut client = Codec::new(Role::Client, Framing::default());
    let e = decode_all(&mut client, &frame(true, 1, b"hi", KEY)).unwrap_err();
    assert!(e.why.contains("masked frame from the server"), "{e:?}");
}

#[test]
fn protocol_errors_are_refused() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (frame(true, 0, b"x", KEY), "continuation"),
        (
            [frame(false, 1, b"x", KEY), frame(true, 2, b"y", KEY)].concat(),
            "inside a fragmented",
        ),
        (frame(true, 3, b"x", KEY), "opcode"),
        (frame(false, 9, b"x", KEY), "control frame"),
        (frame(true, 9, &[0; 126], KEY), "control frame"),
        (frame(true, 8, b"x", KEY), "one byte"),
        (vec![0xC1, 0x80, 0, 0, 0, 0], "reserved bits"),
        (frame(true, 8, &[0x03, 0xE7], KEY), "code 999"),
        (frame(true, 8, &[0x03, 0xED], KEY), "code 1005"),
        (frame(true, 8, &[0x07, 0xD0], KEY), "code 2000"),
        (
            [&[0x82u8, 0xFF][..], &[0xFF; 8], &[0; 4]].concat(),
            "top bit",
        ),
    ];
    for (bytes, why) in cases {
        let mut c = Codec::new(Role::Server, Framing::default());
        let e = decode_all(&mut c, &bytes).unwrap_err();
        assert!(e.why.contains(why), "{why}: {e:?}");
        assert!(c.our_close().is_some());
    }
}

#[test]
fn lines_go_as_text_messages_and_reads_as_binary_ones() {
    let mut c = Codec::new(Role::Client, Framing::default());
    c.send_data(b"one\ntw");
    c.send_data(b"o\n\xff\nlast");
    c.finish();
    let sent = frames_of(&c.out);
    let ops: Vec<u8> = sent.iter().map(|f| f.0).collect();
    assert_eq!(ops, vec![1, 1, 2, 1, 8]);
    assert_eq!(sent[1].1, b"two");
    // Not UTF-8: binary, its newline kept (the peer writes it as it is).
    assert_eq!(sent[2].1, b"\xff\n");
    assert_eq!(sent[3].1, b"last");
    assert_eq!(sent[4].1, [0x03, 0xE8]);
    // A client masks every frame; a server none.
    assert!(c.out.chunks(1).nth(1).is_some_and(|b| b[0] & 0x80 != 0));
    let framing = Framing {
        binary: true,
        newline: true,
    };
    let mut s = Codec::new(Role::Server, framing);
    s.send_data(&[7; 70_000]);
    assert_eq!(s.out[1], 127);
    assert_eq!(frames_of(&s.out), vec![(2, vec![7; 70_000])]);
}

#[test]
fn a_long_line_goes_as_binary_messages_of_its_bytes() {
    let mut c = Codec::new(Role::Server, Framing::default());
    c.send_data(&vec![b'a'; MAX_LINE + 10]);
    let sent = frames_of(&c.out);
    assert_eq!(sent, vec![(2, vec![b'a'; MAX_LINE])]);
    c.send_data(b"bc\nshort\n");
    let sent = frames_of(&c.out);
    assert_eq!(sent.len(), 3);
    let mut rest = vec![b'a'; 10];
    rest.extend_from_slice(b"bc\n");
    assert_eq!(sent[1], (2, rest), "the rest, newline included");
    assert_eq!(sent[2], (1, b"short".to_vec()), "then text again");
}

/// Text framing loses and adds no byte, whatever the lines hold: what one
/// codec sends, another writes back as the same bytes (each line ends
/// with its newline here: a last line without one gains it, as documented).
#[test]
fn text_framing_round_trips_every_byte() {
    use proptest::prelude::*;
    let lines = prop::collection::vec(
        prop_oneof![
            prop::collection::vec(
                any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
                0..40
            ),
            Just(vec![0xce; 3]),
            Just("é".repeat(20).into_bytes()),
        ],
        0..12,
    );
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(&(lines, 1usize..64), |(lines, cut)| {
            let mut input = Vec::new();
            for l in &lines {
                input.extend_from_slice(l);
                input.push(b'\n');
            }
            let mut tx = Codec::new(Role::Client, Framing::default());
            for chunk in input.chunks(cut) {
                tx.send_data(chunk);
            }
            tx.finish();
            let mut rx = Codec::new(Role::Server, Framing::default());
            let got = decode_all(&mut rx, &tx.out).unwrap();
            prop_assert_eq!(got, input);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_big_frame_is_passed_on_as_it_arrives() {
    let mut c = Codec::new(
        Role::Client,
        Framing {
            binary: true,
            newline: true,
        },
    );
    let payload = vec![9u8; 100_000];
    let f = frame(true, 2, &payload, None);
    // Only the first 20 000 bytes have come: they are readable already.
    c.inbuf.extend_from_slice(&f[..20_000]);
    let mut plain = Vec::new();
    c.decode(&mut plain, 1 << 20).unwrap();
    assert_eq!(plain.len(), 20_000 - 10);
}

#[test]
fn unmasking_matches_the_bytewise_rule_at_every_offset() {
    let data: Vec<u8> = (0..37u8).collect();
    let mask = [0x11, 0x22, 0x33, 0x44];
    for offset in 0..8 {
        let mut fast = data.clone();
        unmask(&mut fast, mask, offset);
        let slow: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[(offset + i) % 4])
            .collect();
        assert_eq!(fast, slow, "offset {offset}");
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                       server in any::<bool>(), room in 1usize..64) {
            let role = if server { Role::Server } else { Role::Client };
            let mut c = Codec::new(role, Framing::default());
            c.inbuf.extend_from_slice(&bytes);
            for _ in 0..bytes.len() + 1 {
                let mut plain = Vec::new();
                if c.decode(&mut plain, room).is_err() || plain.is_empty() {
                    break;
                }
            }
        }
    }
}
