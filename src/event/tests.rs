//! Unit tests of `event.rs`.

use super::{Kind, one_line, place};
use serde_json::json;

#[test]
fn events_say_host_and_port_or_path() {
    let at = |kind, shown: &str| {
        let mut v = json!({});
        place(&mut v, "", kind, shown);
        v
    };
    let tcp = Some(Kind::Tcp);
    assert_eq!(
        at(tcp, "127.0.0.1:5"),
        json!({"host": "127.0.0.1", "port": 5})
    );
    assert_eq!(at(tcp, "[::1]:5"), json!({"host": "::1", "port": 5}));
    assert_eq!(
        at(tcp, "localhost:80"),
        json!({"host": "localhost", "port": 80})
    );
    assert_eq!(
        at(Some(Kind::Unix), "/run/a:1"),
        json!({"socket_path": "/run/a:1"})
    );
    assert_eq!(
        at(Some(Kind::Unixgram), "@name"),
        json!({"socket_path": "@name"})
    );
    assert_eq!(at(Some(Kind::Unix), "-"), json!({}));
    assert_eq!(
        at(None, "tls://[::1]:443"),
        json!({"host": "::1", "port": 443})
    );
    assert_eq!(at(None, "udp://db:53"), json!({"host": "db", "port": 53}));
    assert_eq!(at(None, "unix:/run/s"), json!({"socket_path": "/run/s"}));
    assert_eq!(
        at(None, "tls://unix:/run/s"),
        json!({"socket_path": "/run/s"})
    );
    assert_eq!(
        at(None, "/tmp/x.sock"),
        json!({"socket_path": "/tmp/x.sock"})
    );
    let mut v = json!({});
    place(&mut v, "upstream_", None, "10.0.0.1:8080");
    assert_eq!(
        v,
        json!({"upstream_host": "10.0.0.1", "upstream_port": 8080})
    );
}

#[test]
fn control_characters_cannot_end_an_event_line() {
    assert_eq!(
        one_line("got connection from 127.0.0.1:5"),
        "got connection from 127.0.0.1:5"
    );
    assert_eq!(
        one_line("CN=evil\ngot connection from 1.2.3.4"),
        "CN=evil\\x0agot connection from 1.2.3.4"
    );
    assert_eq!(
        one_line("\u{1b}[31mred\r\u{85}é"),
        "\\x1b[31mred\\x0d\\xc2\\x85é"
    );
    // A line separator and a right-to-left override, as UTF-8 bytes.
    assert_eq!(
        one_line("a\u{2028}b\u{202e}c"),
        "a\\xe2\\x80\\xa8b\\xe2\\x80\\xaec"
    );
}
