//! The Upgrade's two sides, free of I/O.

use super::handshake::*;

fn server_rules() -> Rules {
    Rules {
        path: "/chat".into(),
        protocol: Some("v1".into()),
        origins: vec![],
    }
}

fn upgrade(path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn status(a: &Answer) -> String {
    let r = match a {
        Answer::Upgrade { response, .. } | Answer::Refuse { response, .. } => response,
    };
    String::from_utf8_lossy(&r[..12]).into_owned()
}

#[test]
fn a_request_is_answered_with_the_rfc_accept_value() {
    let req = upgrade(
        "/chat?room=1",
        "Sec-WebSocket-Protocol: v0, v1\r\nOrigin: http://a\r\n",
    );
    let (took, a) = answer(&req, &server_rules()).unwrap();
    assert_eq!(took, req.len());
    let Answer::Upgrade { response, accepted } = a else {
        panic!("refused: {a:?}");
    };
    let text = String::from_utf8(response).unwrap();
    // RFC 6455 §1.3's example key and its answer.
    assert!(
        text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{text}"
    );
    assert!(text.contains("Sec-WebSocket-Protocol: v1\r\n"));
    assert_eq!(accepted.path, "/chat?room=1");
    assert_eq!(accepted.origin.as_deref(), Some("http://a"));
}

#[test]
fn a_partial_request_waits_and_bad_ones_are_refused() {
    let req = upgrade("/chat", "");
    assert!(answer(&req[..req.len() - 1], &server_rules()).is_none());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (upgrade("/other", ""), "HTTP/1.1 404"),
        (b"POST /chat HTTP/1.1\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (b"\x16\x03\x01garbage\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (
            String::from_utf8(upgrade("/chat", ""))
                .unwrap()
                .replace("dGhlIHNhbXBsZSBub25jZQ==", "short")
                .into_bytes(),
            "HTTP/1.1 400",
        ),
        (
            String::from_utf8(upgrade("/chat", ""))
                .unwrap()
                .replace("Version: 13", "Version: 8")
                .into_bytes(),
            "HTTP/1.1 426",
        ),
        (vec![b'a'; MAX_HEAD + 1], "HTTP/1.1 4"),
    ];
    for (req, want) in cases {
        let (_, a) = answer(&req, &server_rules()).unwrap();
        assert!(matches!(a, Answer::Refuse { .. }), "{want}: {a:?}");
        assert!(status(&a).starts_with(want), "{want}: {}", status(&a));
    }
}

#[test]
fn origin_is_checked_when_allowed_origins_are_given() {
    let rules = Rules {
        path: "/".into(),
        protocol: None,
        origins: vec!["https://good.example".into()],
    };
    let ok = upgrade("/any", "Origin: https://GOOD.example\r\n");
    assert!(matches!(
        answer(&ok, &rules).unwrap().1,
        Answer::Upgrade { .. }
    ));
    for extra in ["Origin: https://evil.example\r\n", ""] {
        let a = answer(&upgrade("/any", extra), &rules).unwrap().1;
        assert_eq!(status(&a), "HTTP/1.1 403");
    }
}

#[test]
fn a_client_checks_the_answer() {
    let req = request("h:1", "/p", Some("v1"));
    let text = String::from_utf8(req.bytes.clone()).unwrap();
    assert!(text.starts_with("GET /p HTTP/1.1\r\nHost: h:1\r\n"));
    let (_, a) = answer(&req.bytes, &server_rules_any()).unwrap();
    let Answer::Upgrade { mut response, .. } = a else {
        panic!("refused");
    };
    let head = response.len();
    assert_eq!(
        check_answer(&response[..head - 1], &req, Some("v1")),
        Ok(None)
    );
    response.extend_from_slice(b"\x81\x00");
    assert_eq!(
        check_answer(&response, &req, Some("v1")),
        Ok(Some((head, Some("v1".into()))))
    );
    let other = request("h:1", "/p", None);
    assert!(check_answer(&response, &other, None).is_err());
    let refused = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let e = check_answer(refused, &req, None).unwrap_err();
    assert!(e.contains("404 Not Found"), "{e}");
    // An extension we did not offer changes the frames: refused.
    let text = String::from_utf8(response[..head].to_vec()).unwrap();
    let with_ext = text.replacen(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        1,
    );
    let e = check_answer(with_ext.as_bytes(), &req, Some("v1")).unwrap_err();
    assert!(e.contains("permessage-deflate"), "{e}");
}

fn server_rules_any() -> Rules {
    Rules {
        path: String::new(),
        protocol: Some("v1".into()),
        origins: vec![],
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_requests_and_answers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = answer(&bytes, &server_rules());
            let req = request("h", "/", None);
            let _ = check_answer(&bytes, &req, None);
        }
    }
}
