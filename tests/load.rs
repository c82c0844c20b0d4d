//! Load mode (`send --count`, `send --duration`): the figures the benchmark
//! is built on. A window counts only exchanges that start and finish inside
//! it; exchanges in flight at its close are waited for and reported, never
//! dropped.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

#[test]
fn duration_mode_reports_a_window() {
    let s = Server::start(&["serve", "127.0.0.1:0", "-q", "--reply", "connected"]);
    let out = run(
        &[
            "send",
            "--duration",
            "500ms",
            "--warmup",
            "200ms",
            "--concurrency",
            "4",
            "--log-format",
            "json",
            s.addr(),
            "hello",
        ],
        b"",
    );
    out.expect_code(0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["event"], "load");
    assert_eq!(v["window_seconds"], 0.5);
    assert_eq!(v["warmup_seconds"], 0.2);
    assert_eq!(v["concurrency"], 4);
    let in_window = v["ok_in_window"].as_u64().unwrap();
    assert!(in_window > 0, "{out}");
    let rate = v["connections_per_sec"].as_f64().unwrap();
    assert!((rate - in_window as f64 / 0.5).abs() < 1e-6, "{out}");
    // At most one exchange per worker can be in flight at the close.
    assert!(v["late"].as_u64().unwrap() <= 4, "{out}");
    assert_eq!(
        v["ok"].as_u64().unwrap(),
        in_window + v["late"].as_u64().unwrap()
    );
    for p in ["p50", "p90", "p99", "p99.9", "max"] {
        assert!(v["latency_ms"][p].as_f64().unwrap() > 0.0, "{p}: {out}");
    }
    assert!(v["stalls"].is_u64(), "{out}");

    let text = run(&["send", "--duration", "200ms", s.addr(), "hello"], b"");
    text.expect_code(0);
    let t = text.stdout_str();
    assert!(
        t.contains("ok in a 200ms window (after 0s of warm-up)"),
        "{text}"
    );
    assert!(
        t.contains("p99.9") && t.contains("stalls (exchanges of 1s or more): "),
        "{text}"
    );
}

/// A peer that answers only after the window has closed: its exchange is
/// waited for and reported as late, with its latency in the figures, and
/// it does not count towards the rate.
#[test]
fn an_exchange_in_flight_at_the_close_is_waited_for_not_dropped() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let peer = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut line = Vec::new();
        let _ = c.read_to_end(&mut line); // until the client's FIN
        // Answer well after the 300 ms window has closed.
        std::thread::sleep(Duration::from_millis(700));
        c.write_all(b"late\n").unwrap();
        // Refuse whatever comes next, so that only one exchange succeeds.
        drop(l);
    });
    let out = run(
        &[
            "send",
            "--duration",
            "300ms",
            "--log-format",
            "json",
            &addr,
            "hello",
        ],
        b"",
    );
    peer.join().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["ok"], 1, "{out}");
    assert_eq!(v["ok_in_window"], 0, "{out}");
    assert_eq!(v["late"], 1, "{out}");
    assert_eq!(v["connections_per_sec"], 0.0, "{out}");
    assert!(v["latency_ms"]["max"].as_f64().unwrap() >= 600.0, "{out}");
    assert_eq!(v["bytes_in"], 5, "{out}");
}

#[test]
fn all_failed_says_n_a_not_zero() {
    let addr = format!("127.0.0.1:{}", closed_port());
    let out = run(&["send", "--duration", "100ms", &addr, "x"], b"");
    out.expect_code(1);
    let t = out.stdout_str();
    assert!(t.starts_with("0 ok in a 100ms window"), "{out}");
    assert!(t.contains("latency ms: p50 n/a"), "{out}");
    assert!(t.contains("x Connection refused"), "{out}");
    let out = run(
        &[
            "send",
            "--duration",
            "100ms",
            "--log-format",
            "json",
            &addr,
            "x",
        ],
        b"",
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(v["latency_ms"]["p50"].is_null(), "{out}");
}

#[test]
fn load_flags_are_checked() {
    for (args, needle) in [
        (&["send", "--duration", "0s", ":1", "x"][..], "--duration"),
        (&["send", "--warmup", "1s", ":1", "x"][..], "--duration"),
        (
            &["send", "--count", "3", "--duration", "1s", ":1", "x"][..],
            "cannot be used with",
        ),
        (&["send", "--concurrency", "4", ":1", "x"][..], "--count"),
        (
            &["send", "--duration", "soon", ":1", "x"][..],
            "invalid duration",
        ),
    ] {
        let out = run(args, b"");
        out.expect_code(2);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(lines[0].starts_with("sockcat: error: "), "{out}");
        assert!(lines[0].contains(needle), "{needle}: {out}");
    }
}
