//! Load mode: `send --count N --concurrency C` repeats the whole exchange
//! N times over C parallel connections and reports rates, latencies and
//! errors by kind. netcat does not load-test; sockcat does, and the
//! project's benchmark uses it to drive servers.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::addr::Addr;
use crate::error::{Error, Result, describe};
use crate::event::Log;
use crate::output::stdout_write;
use crate::transport::{self, Opts};

pub struct Target {
    pub addr: Addr,
    pub opts: Opts,
    pub connect_timeout: Option<Duration>,
    pub wait: Option<Duration>,
    pub source: Option<SocketAddr>,
}

/// How much load to offer.
#[derive(Clone, Copy, Debug)]
pub enum Amount {
    /// Exactly N exchanges; the rate is N over the time they took.
    Count(u64),
    /// As many exchanges as fit in `window`, after a `warmup` whose
    /// exchanges are left out. The rate counts the exchanges that finished
    /// inside the window. Exchanges still in flight when it closes are
    /// waited for (each is bounded by its own connect and reply timeouts)
    /// and reported as late; every exchange that finished after the warm-up
    /// is in the latencies, so a peer stuck in SYN retransmits shows up as
    /// stalls, not as a silently smaller sample.
    Window { warmup: Duration, window: Duration },
}

/// An exchange that took at least this long is a stall: on loopback nothing
/// but a lost SYN or a lost segment (a retransmit timer) costs a second.
const STALL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Results {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
    bytes_in: u64,
    bytes_out: u64,
    /// Exchanges that succeeded and finished inside the window (or at all, for a count).
    ok_in_window: u64,
    /// Exchanges (ok or not) still in flight when the window closed.
    late: u64,
}

impl Results {
    fn merge(&mut self, other: Results) {
        self.latencies_us.extend(other.latencies_us);
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.ok_in_window += other.ok_in_window;
        self.late += other.late;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    /// The latency at percentile `p` (nearest rank), in ms; None without samples.
    fn percentile(&self, p: f64) -> Option<f64> {
        let n = self.latencies_us.len();
        if n == 0 {
            return None;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Some(self.latencies_us[rank.clamp(1, n) - 1] as f64 / 1000.0)
    }

    fn stalls(&self) -> usize {
        let bound = STALL.as_micros() as u64;
        self.latencies_us.iter().filter(|&&l| l >= bound).count()
    }
}

pub fn run(t: &Target, amount: Amount, concurrency: u64, msg: &[u8], log: Log) -> Result<()> {
    let next = AtomicU64::new(0);
    let all = Mutex::new(Results::default());
    let started = Instant::now();
    let (workers, open, close) = match amount {
        Amount::Count(n) => (concurrency.min(n), started, None),
        Amount::Window { warmup, window } => (
            concurrency,
            started + warmup,
            Some(started + warmup + window),
        ),
    };
    // Whether a worker may start another exchange.
    let more = || match (amount, close) {
        (Amount::Count(n), _) => next.fetch_add(1, Ordering::Relaxed) < n,
        (_, Some(close)) => Instant::now() < close,
        (_, None) => false,
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut mine = Results::default();
                while more() {
                    let t0 = Instant::now();
                    let outcome = one(t, msg);
                    let t1 = Instant::now();
                    if t1 <= open {
                        continue; // a warm-up exchange
                    }
                    let in_window = close.is_none_or(|c| t1 <= c);
                    if !in_window {
                        mine.late += 1;
                    }
                    match outcome {
                        Ok(got) => {
                            mine.latencies_us.push((t1 - t0).as_micros() as u64);
                            mine.bytes_in += got;
                            mine.bytes_out += msg.len() as u64;
                            if in_window {
                                mine.ok_in_window += 1;
                            }
                        }
                        Err(kind) => *mine.errors.entry(kind).or_default() += 1,
                    }
                }
                all.lock().unwrap_or_else(|e| e.into_inner()).merge(mine);
            });
        }
    });
    let took = started.elapsed();
    let mut r = all.into_inner().unwrap_or_else(|e| e.into_inner());
    r.latencies_us.sort_unstable();
    let ok = r.latencies_us.len() as u64;
    let failed: u64 = r.errors.values().sum();
    let (seconds, rate) = match amount {
        Amount::Count(_) => (took.as_secs_f64(), ok as f64 / took.as_secs_f64().max(1e-9)),
        Amount::Window { window, .. } => (
            window.as_secs_f64(),
            r.ok_in_window as f64 / window.as_secs_f64(),
        ),
    };
    let ms = |p: Option<f64>| p.map_or(serde_json::Value::Null, |v| json!(v));
    let text = if log.json {
        let mut v = json!({
            "event": "load",
            "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "address": t.addr.to_string(),
            "count": ok + failed,
            "concurrency": workers,
            "ok": ok,
            "errors": failed,
            "errors_by_kind": r.errors,
            "seconds": seconds,
            "connections_per_sec": rate,
            "stalls": r.stalls(),
            "latency_ms": {"p50": ms(r.percentile(50.0)), "p90": ms(r.percentile(90.0)),
                           "p99": ms(r.percentile(99.0)), "p99.9": ms(r.percentile(99.9)),
                           "max": ms(r.percentile(100.0))},
            "bytes_out": r.bytes_out,
            "bytes_in": r.bytes_in,
        });
        if let Amount::Window { warmup, window } = amount {
            v["warmup_seconds"] = json!(warmup.as_secs_f64());
            v["window_seconds"] = json!(window.as_secs_f64());
            v["ok_in_window"] = json!(r.ok_in_window);
            v["late"] = json!(r.late);
        }
        crate::event::place(&mut v, "", Some(t.addr.kind()), &t.addr.to_string());
        format!("{v}\n")
    } else {
        let mut s = match amount {
            Amount::Count(_) => {
                format!("{ok} ok, {failed} errors in {seconds:.3}s: {rate:.1} connections/s\n")
            }
            Amount::Window { warmup, window } => format!(
                "{} ok in a {} window (after {} of warm-up): {rate:.1} connections/s\n\
                 {} more were in flight when it closed and finished after it; {failed} errors\n",
                r.ok_in_window,
                humantime::format_duration(window),
                humantime::format_duration(warmup),
                r.late,
            ),
        };
        let f = |p: f64| {
            r.percentile(p)
                .map_or("n/a".to_string(), |v| format!("{v:.3}"))
        };
        s.push_str(&format!(
            "latency ms: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n\
             stalls (exchanges of 1s or more): {}\n\
             bytes: {} out, {} in\n",
            f(50.0),
            f(90.0),
            f(99.0),
            f(99.9),
            f(100.0),
            r.stalls(),
            r.bytes_out,
            r.bytes_in,
        ));
        for (k, v) in &r.errors {
            s.push_str(&format!("error: {v} x {k}\n"));
        }
        s
    };
    stdout_write(text.as_bytes()).map_err(crate::error::stdout_err)?;
    if failed > 0 {
        // The summary just printed says what failed, with its kinds; a
        // second line on another stream would only split the story.
        return Err(Error::Reported);
    }
    Ok(())
}

/// One whole exchange; an error comes back as its kind, for counting.
fn one(t: &Target, msg: &[u8]) -> std::result::Result<u64, String> {
    let timeout = t.connect_timeout.or(Some(Duration::from_secs(10)));
    let wait = t
        .wait
        .unwrap_or(Duration::from_secs(if t.addr.is_datagram() {
            1
        } else {
            30
        }));
    let mut buf = [0u8; 16 * 1024];
    if t.addr.is_datagram() {
        let d = transport::connect_dgram(&t.addr, &t.opts, t.source)
            .map_err(|e| kind_of(&e.to_string()))?;
        d.send(msg).map_err(|e| describe(&e))?;
        d.set_read_timeout(Some(wait)).map_err(|e| describe(&e))?;
        return match d.recv(&mut buf) {
            Ok(n) => Ok(n as u64),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err("no reply".into())
            }
            Err(e) => Err(describe(&e)),
        };
    }
    let s = transport::connect(&t.addr, &t.opts, timeout, t.source)
        .map_err(|e| kind_of(&e.to_string()))?;
    s.set_read_timeout(Some(wait)).map_err(|e| describe(&e))?;
    (&s).write_all(msg).map_err(|e| describe(&e))?;
    s.shutdown(Shutdown::Write).map_err(|e| describe(&e))?;
    let mut got = 0u64;
    loop {
        match (&s).read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err("reply timed out".into());
            }
            Err(e) => return Err(describe(&e)),
        }
    }
}

/// "connect to 127.0.0.1:9: Connection refused" counts as "Connection refused".
fn kind_of(msg: &str) -> String {
    msg.rsplit(": ").next().unwrap_or(msg).to_string()
}
