//! The benchmark script keeps working: `bench/run` in its smoke mode (the
//! already-built binary, sockcat's cells only, tiny sizes, no installs).
//! Nothing here looks at the numbers; the benchmark is not a timed test.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

#[test]
fn bench_run_smoke() {
    if !needs(&["python3"]) {
        return;
    }
    let (out, v) = run_bench(
        &[
            "--quick",
            "--only",
            "sockcat",
            "--bin",
            BIN,
            "--repeat",
            "1",
            "--window",
            "0.3",
            "--warmup",
            "0.1",
            "--concurrency",
            "1,4",
            "--bulk-mib",
            "16",
            "--idle",
            "100",
        ],
        Duration::from_secs(60),
    );
    for needle in [
        "machine: ",
        "versions: ",
        "pinning: ",
        "== bulk",
        "== connections/s",
        "== forward, bulk",
        "== forward, connections/s",
        "sockcat serve --forward",
        "== faults: bulk",
        "== faults, memory",
        "== memory",
        "sockcat serve",
        "sockcat fork-serve",
        "sockcat thread-serve",
        "== latency",
    ] {
        assert!(out.contains(needle), "{needle} missing from\n{out}");
    }
    assert_eq!(v["connections"].as_array().unwrap().len(), 6, "{v}");
    for cell in v["connections"].as_array().unwrap() {
        assert!(
            cell["rate"]["median"].is_number(),
            "a cell did not run: {cell}"
        );
        assert!(
            cell["command"]
                .as_str()
                .unwrap()
                .contains("--reply connected")
        );
    }
    assert!(
        v["bulk"]["gib_per_s"]["sockcat send -> serve --once"]["median"].is_number(),
        "{v}"
    );
    // Unpinned always runs (pinned too where there are two cores).
    assert!(
        v["bulk"]["by_placement"]["sockcat send -> serve --once"]["unpinned"]["median"].is_number(),
        "{v}"
    );
    assert!(
        v["memory"]["bytes_per_connection"]["sockcat serve"]["median"].is_number(),
        "{v}"
    );
    assert!(
        v["latency"]["microseconds"]["sockcat send"]["median_us"].is_number(),
        "{v}"
    );
    for cell in v["forward"]["connections"].as_array().unwrap() {
        assert!(
            cell["rate"]["median"].is_number(),
            "a forward cell did not run: {cell}"
        );
    }
    assert!(
        v["forward"]["bulk_gib_per_s"]["sockcat serve --forward"]["median"].is_number(),
        "{v}"
    );
    for row in [
        "sockcat serve, no fault",
        "sockcat fork-serve, no fault",
        "sockcat thread-serve, no fault",
        "sockcat serve, --delay 1ms",
    ] {
        assert!(
            v["faults"]["bulk_gib_per_s"][row]["median"].is_number(),
            "{row}: {v}"
        );
    }
    for size in v["faults"]["memory"]["sizes_mib"].as_array().unwrap() {
        assert!(
            v["faults"]["memory"]["peak_rss_kib"][size.to_string()]["median"].is_number(),
            "{size}: {v}"
        );
    }
}

/// The small-request section with one real client (wrk) against the HTTP
/// responder (nginx, or Python's http.server without it), direct and
/// through sockcat's three models; the numbers are not looked at.
#[test]
fn bench_run_smallreq_smoke() {
    if !needs(&["python3", "wrk"]) {
        return;
    }
    let (out, v) = run_bench(
        &[
            "--only",
            "sockcat",
            "--bin",
            BIN,
            "--sections",
            "smallreq",
            "--repeat",
            "1",
            "--window",
            "0.3",
        ],
        Duration::from_secs(90),
    );
    assert!(out.contains("== small requests"), "{out}");
    let rows = &v["smallreq"]["cells"]["wrk -c 1"]["rows"];
    for path in [
        "direct (no relay)",
        "sockcat serve --forward",
        "sockcat fork-serve --forward",
        "sockcat thread-serve --forward",
    ] {
        assert!(
            rows[path]["rate"]["median"].is_number(),
            "{path} did not run: {v}\n{out}"
        );
        assert!(rows[path]["p50_us"]["median"].is_number(), "{path}: {v}");
    }
}

/// Run `bench/run` with `args` and `--json`, within `limit`: its stdout
/// and the JSON it wrote. Its output goes to files, not pipes: a pipe
/// read only after the exit would stall the script once it filled.
fn run_bench(args: &[&str], limit: Duration) -> (String, Value) {
    let dir = TempDir::new();
    let json = dir.path("run.json");
    let mut child = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/run"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.path("out")).unwrap())
        .stderr(std::fs::File::create(dir.path("err")).unwrap())
        .spawn()
        .expect("run bench/run (needs python3)");
    let status = wait_child(&mut child, limit);
    let out = std::fs::read_to_string(dir.path("out")).unwrap();
    let err = std::fs::read_to_string(dir.path("err")).unwrap();
    assert!(status.success(), "bench/run failed\n{out}\n{err}");
    let v = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (out, v)
}

/// The WebSocket section: sockcat on both ends and beside Python's
/// `websockets`, bulk and messages/s; the numbers are not looked at.
#[test]
fn bench_run_ws_smoke() {
    if !needs(&[
        "python3",
        "/usr/lib/python3/dist-packages/websockets/__init__.py",
    ]) {
        return;
    }
    let (out, v) = run_bench(
        &[
            "--quick",
            "--sections",
            "ws",
            "--bin",
            BIN,
            "--repeat",
            "1",
            "--bulk-mib",
            "8",
        ],
        Duration::from_secs(60),
    );
    assert!(out.contains("== websocket"), "{out}");
    for mode in ["binary", "text"] {
        for cell in [
            "sockcat send -> serve --once",
            "python websockets -> sockcat serve --once",
            "sockcat send -> python websockets",
        ] {
            assert!(
                v["ws"][mode]["rates"][cell]["median"].is_number(),
                "{mode} {cell}: {v}"
            );
        }
    }
}
