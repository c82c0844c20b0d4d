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

#[derive(Default)]
struct Results {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
    bytes_in: u64,
    bytes_out: u64,
}

pub fn run(t: &Target, count: u64, concurrency: u64, msg: &[u8], log: Log) -> Result<()> {
    let next = AtomicU64::new(0);
    let all = Mutex::new(Results::default());
    let started = Instant::now();
    let workers = concurrency.min(count);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut mine = Results::default();
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let t0 = Instant::now();
                    match one(t, msg) {
                        Ok(got) => {
                            mine.latencies_us.push(t0.elapsed().as_micros() as u64);
                            mine.bytes_in += got;
                            mine.bytes_out += msg.len() as u64;
                        }
                        Err(kind) => *mine.errors.entry(kind).or_default() += 1,
                    }
                }
                let mut a = all.lock().unwrap_or_else(|e| e.into_inner());
                a.latencies_us.extend(mine.latencies_us);
                a.bytes_in += mine.bytes_in;
                a.bytes_out += mine.bytes_out;
                for (k, v) in mine.errors {
                    *a.errors.entry(k).or_default() += v;
                }
            });
        }
    });
    let took = started.elapsed();
    let mut r = all.into_inner().unwrap_or_else(|e| e.into_inner());
    r.latencies_us.sort_unstable();
    let ok = r.latencies_us.len() as u64;
    let failed: u64 = r.errors.values().sum();
    let pct = |p: f64| -> f64 {
        if r.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (r.latencies_us.len() - 1) as f64).round() as usize;
        r.latencies_us[i] as f64 / 1000.0
    };
    let rate = ok as f64 / took.as_secs_f64().max(1e-9);
    let text = if log.json {
        let v = json!({
            "event": "load",
            "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "address": t.addr.to_string(),
            "count": count,
            "concurrency": workers,
            "ok": ok,
            "errors": failed,
            "errors_by_kind": r.errors,
            "seconds": took.as_secs_f64(),
            "connections_per_sec": rate,
            "latency_ms": {"p50": pct(50.0), "p90": pct(90.0), "p99": pct(99.0),
                            "max": r.latencies_us.last().map_or(0.0, |m| *m as f64 / 1000.0)},
            "bytes_out": r.bytes_out,
            "bytes_in": r.bytes_in,
        });
        format!("{v}\n")
    } else {
        let mut s = format!(
            "{ok} ok, {failed} errors in {:.3}s: {rate:.1} connections/s\n\
             latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}\n\
             bytes: {} out, {} in\n",
            took.as_secs_f64(),
            pct(50.0),
            pct(90.0),
            pct(99.0),
            r.latencies_us.last().map_or(0.0, |m| *m as f64 / 1000.0),
            r.bytes_out,
            r.bytes_in,
        );
        for (k, v) in &r.errors {
            s.push_str(&format!("error: {v} x {k}\n"));
        }
        s
    };
    stdout_write(text.as_bytes()).map_err(crate::error::stdout_err)?;
    if failed > 0 {
        return Err(Error::runtime(format!(
            "{failed} of {count} exchanges failed"
        )));
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
