//! Unit tests of `addr.rs`.

use super::*;

#[test]
fn proxy_urls() {
    let p = parse_proxy("socks5h://al%40ice:p%3Ass@[::1]:9050/").unwrap();
    assert_eq!(p.kind, ProxyKind::Socks5h);
    assert_eq!((p.host.as_str(), p.port), ("::1", 9050));
    assert_eq!(p.auth, Some(("al@ice".into(), "p:ss".into())));
    assert_eq!(p.to_string(), "socks5h://al@ice@[::1]:9050");
    assert!(!format!("{p:?}").contains("p:ss"));
    let p = parse_proxy("http://proxy.example").unwrap();
    assert_eq!((p.kind, p.port, p.auth), (ProxyKind::Http, 3128, None));
    assert_eq!(parse_proxy("socks5://127.0.0.1").unwrap().port, 1080);
    assert_eq!(parse_proxy("socks5://[::1]").unwrap().port, 1080);
    for bad in [
        "127.0.0.1:1080",
        "https://p:443",
        "socks4://p:1080",
        "socks5://",
        "socks5://p:0",
        "socks5://p:99999",
        "http://p:3128/path",
        "socks5://:pw@p:1",
        "socks5://u:%zz@p:1",
    ] {
        let e = parse_proxy(bad).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad}");
        assert!(
            e.to_string().starts_with(&format!("--proxy {bad}: ")),
            "{e}"
        );
    }
}

#[test]
fn inherited_forms() {
    let ok = |s: &str| parse_inherited(s).unwrap().unwrap();
    assert_eq!(ok("fd:3"), Inherited::Fd(3));
    assert_eq!(ok("systemd"), Inherited::Systemd(None));
    assert_eq!(ok("systemd:web"), Inherited::Systemd(Some("web".into())));
    assert_eq!(ok("stdio"), Inherited::Stdio);
    for bad in ["fd:0", "fd:2", "fd:x", "fd:", "systemd:", "systemd:a:b"] {
        let e = parse_inherited(bad).unwrap().unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad}");
    }
    // Every other form, and a host named fd written whole, is an address.
    for other in [
        "tcp://fd:3",
        "fd",
        "systemdx:1",
        "localhost:3",
        "unix:fd:3",
        "tcp://stdio",
        "stdio:1",
    ] {
        assert!(parse_inherited(other).is_none(), "{other}");
    }
    assert_eq!(
        parse("tcp://fd:3").unwrap(),
        Addr::Inet {
            proto: Proto::Tcp,
            host: "fd".into(),
            port: 3
        }
    );
}

#[test]
fn which_names_need_the_resolver() {
    for quick in [
        "localhost",
        "LOCALHOST.",
        "a.localhost",
        "127.0.0.1",
        "::1",
        "x.invalid.",
    ] {
        assert!(!needs_lookup(quick), "{quick}");
        assert!(resolve(quick, 1, Family::Any).is_ok() != quick.contains("invalid"));
    }
    for slow in ["example.org", "vm", "db.internal"] {
        assert!(needs_lookup(slow), "{slow}");
    }
}

fn inet(proto: Proto, host: &str, port: u16) -> Addr {
    Addr::Inet {
        proto,
        host: host.into(),
        port,
    }
}

#[test]
fn good_forms() {
    use Proto::*;
    let cases = [
        ("localhost:10000", inet(Tcp, "localhost", 10000)),
        ("example.org:80", inet(Tcp, "example.org", 80)),
        (":8080", inet(Tcp, "localhost", 8080)),
        ("8080", inet(Tcp, "localhost", 8080)),
        ("0", inet(Tcp, "localhost", 0)),
        ("[::1]:99", inet(Tcp, "::1", 99)),
        ("[::1]", inet(Tcp, "::1", DEFAULT_PORT)),
        ("tcp://127.0.0.1:5", inet(Tcp, "127.0.0.1", 5)),
        ("udp://[::1]:53", inet(Udp, "::1", 53)),
        ("udp://:53", inet(Udp, "localhost", 53)),
        ("somehost", inet(Tcp, "somehost", DEFAULT_PORT)),
        ("127.0.0.1:65535", inet(Tcp, "127.0.0.1", 65535)),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text).unwrap(), want, "{text}");
    }
}

#[test]
fn unix_forms() {
    assert_eq!(
        parse("unix:/tmp/a.sock").unwrap(),
        Addr::Unix {
            name: UnixName::Path("/tmp/a.sock".into()),
            dgram: false
        }
    );
    assert_eq!(
        parse("unixgram:rel.sock").unwrap(),
        Addr::Unix {
            name: UnixName::Path("rel.sock".into()),
            dgram: true
        }
    );
    assert_eq!(
        parse("unix:@name").unwrap(),
        Addr::Unix {
            name: UnixName::Abstract(b"name".to_vec()),
            dgram: false
        }
    );
}

/// Found by the `address` fuzz target: `unix:////:` was the path
/// `//:`, printed as `//:`, which read back as the `unix://` form of
/// the path `:`. And `-U //tmp/s` lost its `//` the same way.
#[test]
fn a_unix_path_with_leading_slashes_prints_back_to_itself() {
    let path = |s: &str| UnixName::Path(s.into());
    for (text, want) in [
        ("unix:////:", "/:"),
        ("unix:///run/s", "/run/s"),
        ("unix://rel", "rel"),
        ("unix://///x", "/x"),
        ("unix://////", "/"),
    ] {
        let a = parse(text).unwrap();
        assert_eq!(
            a,
            Addr::Unix {
                name: path(want),
                dgram: false
            },
            "{text}"
        );
        assert_eq!(parse(&format!("unix:{a}")).unwrap(), a, "{text}");
    }
    for (raw, want) in [("//tmp/s", "/tmp/s"), ("/tmp/s", "/tmp/s"), ("s", "s")] {
        assert_eq!(
            parse_with(raw, false, true).unwrap(),
            Addr::Unix {
                name: path(want),
                dgram: false
            },
            "-U {raw}"
        );
    }
}

#[test]
fn bad_forms() {
    let cases = [
        ("", "empty address"),
        ("host:", "missing port"),
        (":", "missing port"),
        (":99999", "too large"),
        ("65536", "too large"),
        ("[::1", "missing ']'"),
        ("[::1]x", "unexpected"),
        ("[nothost]:5", "not an IPv6 address"),
        ("ftp://host:21", "unknown scheme 'ftp'"),
        ("host:abc", "invalid port 'abc'"),
        ("host:-1", "invalid port"),
        ("::1:80", "need brackets"),
        ("bad host:80", "invalid host name"),
        ("b\u{fc}cher.example:80", "international domain name"),
        ("[fe80::1%]:80", "invalid zone"),
        ("unix:", "empty Unix socket path"),
        ("unixgram:", "empty Unix socket path"),
        ("tcp://", "empty host and port"),
    ];
    for (text, want) in cases {
        let err = parse(text).expect_err(text).to_string();
        assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
    }
}

#[test]
fn shorthands() {
    assert_eq!(
        parse_with("127.0.0.1:5", true, false).unwrap(),
        inet(Proto::Udp, "127.0.0.1", 5)
    );
    assert_eq!(
        parse_with("/tmp/s", false, true).unwrap().kind(),
        Kind::Unix
    );
    assert_eq!(
        parse_with("/tmp/s", true, true).unwrap().kind(),
        Kind::Unixgram
    );
    assert_eq!(
        parse_with("unix:/tmp/s", true, false).unwrap().kind(),
        Kind::Unixgram
    );
    assert!(parse_with("tcp://h:1", true, false).is_err());
    assert!(parse_with("tcp://h:1", false, true).is_err());
}

#[test]
fn localhost_gives_both_loopbacks() {
    let all = resolve("localhost", 7, Family::Any).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].is_ipv4() && all[1].is_ipv6());
    let v6 = resolve("localhost", 7, Family::V6).unwrap();
    assert_eq!(v6, vec!["[::1]:7".parse().unwrap()]);
    assert!(resolve("127.0.0.1", 7, Family::V6).is_err());
    assert_eq!(resolve("app.localhost", 7, Family::V4).unwrap().len(), 1);
    let e = resolve("no-such-host.invalid", 7, Family::Any).unwrap_err();
    assert!(e.to_string().contains("not known"), "{e}");
}

#[test]
fn show_brackets_v6() {
    assert_eq!(show(&"[::1]:5".parse().unwrap()), "[::1]:5");
    assert_eq!(show(&"127.0.0.1:5".parse().unwrap()), "127.0.0.1:5");
}
