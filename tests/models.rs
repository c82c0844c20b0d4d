//! fork-serve and thread-serve under load: every connection answered, no
//! zombie, descriptors and threads back where they started, limits kept.

use std::time::{Duration, Instant};

use crate::handlers::exchange;
use crate::util::*;

fn load(addr: &str, count: u32, conc: u32) -> Out {
    run_in(
        &[
            "send",
            "--count",
            &count.to_string(),
            "--concurrency",
            &conc.to_string(),
            addr,
            "hello",
        ],
        b"",
        Duration::from_secs(120),
    )
}

#[test]
fn two_thousand_connections_leave_nothing_behind() {
    for model in ["fork-serve", "thread-serve", "serve"] {
        let s = Server::start(&[model, "127.0.0.1:0", "--reply", "connected", "-q"]);
        // Warm up once so lazily opened descriptors are counted in the base.
        assert_eq!(exchange(s.addr(), b"x\n"), b"connected\n");
        wait_until("the warm-up child to be reaped", T, || {
            children(s.pid()).is_empty()
        });
        let fds = fd_count(s.pid());
        let out = load(s.addr(), 2000, 64);
        out.expect_code(0);
        assert!(
            out.stdout_str().starts_with("2000 ok, 0 errors"),
            "{model}: {out}"
        );
        wait_until("children to be reaped", T, || children(s.pid()).is_empty());
        wait_until("descriptors to return", T, || fd_count(s.pid()) <= fds);
        // main thread + the signal thread
        wait_until("threads to be joined", T, || thread_count(s.pid()) <= 2);
        s.wait_out("hello\n");
        assert_eq!(s.out_str().matches("hello\n").count(), 2000, "{model}");
    }
}

#[test]
fn worker_limits_queue_instead_of_refusing() {
    for (model, flag) in [
        ("fork-serve", "--max-children"),
        ("thread-serve", "--max-threads"),
    ] {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            flag,
            "4",
            "-q",
            "--sh-exec",
            "read l; sleep 0.1; echo ok",
        ]);
        let pid = s.pid();
        let addr = s.addr().to_string();
        let mut client = spawn(&["send", "--count", "32", "--concurrency", "32", &addr, "hi"]);
        let mut most = 0;
        let end = Instant::now() + Duration::from_secs(60);
        while client.is_running() && Instant::now() < end {
            most = most.max(children(pid).len());
            std::thread::sleep(Duration::from_millis(2));
        }
        let out = client.finish(T);
        out.expect_code(0);
        assert!(
            out.stdout_str().starts_with("32 ok, 0 errors"),
            "{model}: {out}"
        );
        assert!(most <= 4, "{model}: {most} workers at once");
        assert!(most >= 2, "{model}: never ran in parallel ({most})");
    }
}

#[test]
fn print_lines_never_interleave() {
    for model in ["fork-serve", "thread-serve", "serve"] {
        let s = Server::start(&[model, "127.0.0.1:0", "-q"]);
        let addr = s.addr().to_string();
        let line = format!("{}\n", "y".repeat(3000));
        let out = run_in(
            &[
                "send",
                "--count",
                "200",
                "--concurrency",
                "16",
                &addr,
                &line[..line.len() - 1],
            ],
            b"",
            Duration::from_secs(60),
        );
        out.expect_code(0);
        wait_until("all lines", T, || s.out().len() >= 200 * line.len());
        for l in s.out_str().lines() {
            assert_eq!(l.len(), 3000, "{model}: a line was split or mixed");
        }
    }
}
