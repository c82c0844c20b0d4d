//! Faults on forwarded datagram sessions (issue 23), in every model:
//! `--loss`, `--duplicate`, `--reorder` and `--delay` per datagram, each
//! way, chosen the same way in every run with the same `--seed`.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::handlers::MODELS;
use crate::util::*;

const N: u32 = 1000;

/// Silence that ends a receiver's count (the sends are paced far faster).
const SILENCE: Duration = Duration::from_millis(500);

/// Sends datagrams 0..N (their numbers, 4 bytes each, with a filler) from
/// `c`, paced so no socket buffer on the way overflows on a loaded
/// machine (a datagram the kernel drops before the forward would shift
/// every draw after it): ten every two milliseconds.
fn send_numbered(c: &UdpSocket) {
    for i in 0..N {
        let mut m = vec![7u8; 64];
        m[..4].copy_from_slice(&i.to_be_bytes());
        c.send(&m).unwrap();
        if i % 10 == 9 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// The numbers of the datagrams `s` receives, in their order, until a
/// silence (each reply echoed to `echo_to`'s sender first, when asked).
fn receive_numbers(s: &UdpSocket, echo: bool) -> Vec<u32> {
    s.set_read_timeout(Some(T)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let (n, from) = match s.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => return got,
        };
        s.set_read_timeout(Some(SILENCE)).unwrap();
        if echo {
            s.send_to(&buf[..n], from).unwrap();
        }
        if n >= 4 {
            got.push(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        }
    }
}

/// One run through a datagram forward with `faults` each way `dir`
/// names: what the far end received (the upstream for up; for down the
/// client, of what the upstream echoed), and the forward's log.
fn one_run(model: &str, dir: &str, faults: &[&str]) -> (Vec<u32>, String) {
    let up = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("udp://{}", up.local_addr().unwrap());
    let mut args = vec![
        model,
        "-u",
        "127.0.0.1:0",
        "-v",
        "--idle-timeout",
        "1s",
        "--forward",
        &target,
        "--fault-dir",
        dir,
    ];
    args.extend_from_slice(faults);
    let f = Server::start(&args);
    let addr = f.addr().trim_start_matches("udp://").to_string();
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.connect(&addr).unwrap();
    let far = match dir {
        "up" => std::thread::spawn(move || receive_numbers(&up, false)),
        _ => {
            let echo = std::thread::spawn(move || receive_numbers(&up, true));
            let client = c.try_clone().unwrap();
            let got = std::thread::spawn(move || receive_numbers(&client, false));
            send_numbered(&c);
            let _ = echo.join().unwrap();
            let got = got.join().unwrap();
            wait_until("the session's end", T, || f.err().contains(" seen, "));
            return (got, f.err());
        }
    };
    send_numbered(&c);
    let got = far.join().unwrap();
    wait_until("the session's end", T, || f.err().contains(" seen, "));
    (got, f.err())
}

/// [`one_run`] in which every datagram reached the faults: a datagram a
/// loaded machine drops on the way (a full buffer: "its session lags
/// behind") shifts every draw after it, so such a run is run again (three
/// tries).
fn whole_run(model: &str, dir: &str, faults: &[&str]) -> (Vec<u32>, String) {
    let mut tries = 0;
    loop {
        let (got, log) = one_run(model, dir, faults);
        tries += 1;
        if said(&log, dir, "seen") == u64::from(N) {
            return (got, log);
        }
        eprintln!("{model} --fault-dir {dir}: not every datagram reached the faults: {log}");
        assert!(
            tries < 3,
            "{model} --fault-dir {dir}: three runs lost datagrams on the way"
        );
    }
}

/// The count a session's end line gives for `what` (`lost`, ...).
fn said(log: &str, dir: &str, what: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains(&format!("datagrams {dir}: ")))
        .unwrap_or_else(|| panic!("no end line for {dir}: {log}"));
    // (The last count may be followed by the events left unsaid.)
    let before = line
        .split(", ")
        .map(|p| p.split(" (").next().unwrap_or(p))
        .find(|p| p.ends_with(what))
        .unwrap_or_else(|| panic!("no {what} in {line}"));
    before
        .trim_end_matches(what)
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what} in {line}"))
}

/// `P` of `N` within four standard deviations of the binomial.
fn within_binomial(what: &str, k: u64, p: f64) {
    let mean = N as f64 * p;
    let sigma = (N as f64 * p * (1.0 - p)).sqrt();
    eprintln!(
        "{what}: {k} of {N} (expected {mean:.0} ± {:.0})",
        4.0 * sigma
    );
    assert!(
        (k as f64 - mean).abs() <= 4.0 * sigma,
        "{what}: {k} of {N}, expected {mean} ± {}",
        4.0 * sigma
    );
}

/// `--loss 0.1 --duplicate 0.1 --seed 5`, each way, in every model: the
/// same datagrams lost and duplicated in two runs and in every model,
/// each rate within a binomial bound over 1000 datagrams, and the counts
/// the session's end says are what the far end saw.
#[test]
fn loss_and_duplication_repeat_with_the_seed_in_every_model() {
    let faults = ["--loss", "0.1", "--duplicate", "0.1", "--seed", "5"];
    for dir in ["up", "down"] {
        let mut first: Option<Vec<u32>> = None;
        for model in MODELS {
            let (a, log) = whole_run(model, dir, &faults);
            let (b, _) = whole_run(model, dir, &faults);
            let what = format!("{model} --fault-dir {dir}");
            assert!(
                a == b,
                "{what}: two runs differ ({} and {})",
                a.len(),
                b.len()
            );
            let mut distinct = a.clone();
            distinct.dedup();
            let lost = u64::from(N) - distinct.len() as u64;
            let duplicated = (a.len() - distinct.len()) as u64;
            within_binomial(&format!("{what} lost"), lost, 0.1);
            // Of those not lost.
            let p = duplicated as f64 / distinct.len() as f64;
            eprintln!("{what}: duplicated {duplicated} ({p:.3} of those that went)");
            assert!((0.06..=0.14).contains(&p), "{what}: {p}");
            assert_eq!(said(&log, dir, "lost"), lost, "{what}: {log}");
            assert_eq!(said(&log, dir, "duplicated"), duplicated, "{what}: {log}");
            assert!(log.contains(&format!("datagrams: loss 10%, duplicate 10% {dir}")));
            match &first {
                None => first = Some(a),
                Some(f) => assert!(f == &a, "{what}: differs from {}", MODELS[0]),
            }
        }
    }
}

/// `--reorder 0.1 --seed 3` up, in every model: every datagram arrives
/// once; a reordered one comes right after the one that overtook it, as
/// many swaps as the session's end counts, within a binomial bound.
#[test]
fn reorder_swaps_a_datagram_with_the_next_in_every_model() {
    for model in MODELS {
        let (got, log) = one_run(model, "up", &["--reorder", "0.1", "--seed", "3"]);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert!(
            sorted == (0..N).collect::<Vec<_>>(),
            "{model}: {} arrived",
            got.len()
        );
        let swaps = got.windows(2).filter(|w| w[0] > w[1]).count() as u64;
        assert!(
            got.windows(2).all(|w| w[0] < w[1] || w[0] == w[1] + 1),
            "{model}: a datagram went further than one place"
        );
        assert_eq!(said(&log, "up", "reordered"), swaps, "{model}: {log}");
        // A draw when one is already held back holds nothing: about p(1-p).
        within_binomial(&format!("{model} swaps"), swaps, 0.1 * 0.9);
    }
}

/// `--delay 150ms` down on a datagram forward, in every model: each
/// reply comes no sooner than the delay after the request.
#[test]
fn datagram_delay_holds_each_datagram_in_every_model() {
    let echo = Server::start(&["serve", "-u", "127.0.0.1:0", "--echo", "-q"]);
    for model in MODELS {
        let f = Server::start(&[
            model,
            "-u",
            "127.0.0.1:0",
            "--forward",
            echo.addr(),
            "--delay",
            "150ms",
            "--fault-dir",
            "down",
            "-q",
        ]);
        let addr = f.addr().trim_start_matches("udp://").to_string();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.connect(&addr).unwrap();
        let mut buf = [0u8; 64];
        for i in 0..3u8 {
            let t0 = Instant::now();
            c.send(&[i; 8]).unwrap();
            let n = c.recv(&mut buf).unwrap();
            let took = t0.elapsed();
            eprintln!("{model}: datagram {i} back after {took:?}");
            assert_eq!(&buf[..n], &[i; 8], "{model}");
            assert!(took >= Duration::from_millis(150), "{model}: {took:?}");
            assert!(took < Duration::from_secs(3), "{model}: {took:?}");
        }
    }
}

/// Stream faults on a datagram forward, and datagram faults on a stream
/// one: each a one-line usage error.
#[test]
fn faults_are_refused_where_they_cannot_act() {
    for (args, says) in [
        (
            &[
                "serve",
                "-u",
                "127.0.0.1:0",
                "--forward",
                "udp://127.0.0.1:9",
                "--rate",
                "1k",
            ][..],
            "--rate acts on stream connections",
        ),
        (
            &[
                "serve",
                "-u",
                "127.0.0.1:0",
                "--forward",
                "udp://127.0.0.1:9",
                "--slice",
                "10",
            ],
            "--slice acts on stream connections",
        ),
        (
            &[
                "serve",
                "127.0.0.1:0",
                "--forward",
                "127.0.0.1:9",
                "--loss",
                "0.1",
            ],
            "--loss acts on datagrams",
        ),
        (
            &[
                "thread-serve",
                "127.0.0.1:0",
                "--forward",
                "udp://127.0.0.1:9",
                "--reorder",
                "0.1",
            ],
            "--reorder acts on datagrams",
        ),
        (
            &[
                "serve",
                "-u",
                "127.0.0.1:0",
                "--forward",
                "udp://127.0.0.1:9",
                "--loss",
                "1.5",
            ],
            "1.5",
        ),
    ] {
        let out = run(args, b"");
        out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out}");
        assert!(out.stderr.contains(says), "{args:?}: {out}");
    }
}

/// Each datagram a fault applies to is an event (`-v`): the fault, the
/// way, the datagram's number in its session and its first byte's
/// offset; the first 32 a way, then only counted, the count said at the
/// session's end, in every model.
#[test]
fn each_datagram_fault_is_an_event_up_to_a_bound_in_every_model() {
    for model in MODELS {
        let (_, log) = whole_run(model, "up", &["--loss", "0.5", "--seed", "3"]);
        let events: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(": loss up: datagram "))
            .collect();
        assert_eq!(events.len(), 32, "{model}: {log}");
        for e in &events {
            // Datagram k (the first is 1) begins at byte 64 (k - 1).
            let (_, rest) = e.split_once("datagram ").unwrap();
            let (k, rest) = rest.split_once(' ').unwrap();
            let k: u64 = k.parse().unwrap();
            let at = format!("(64 bytes at byte {}) lost", 64 * (k - 1));
            assert!(rest == at, "{model}: {e}");
        }
        let lost = said(&log, "up", "lost");
        let unsaid = format!("({} more fault events not said one by one)", lost - 32);
        assert!(log.contains(&unsaid), "{model}: {unsaid}: {log}");
    }
}
