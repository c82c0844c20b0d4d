//! `send -z HOST PORTS`: a port scan. Ports are probed concurrently (at
//! most `--concurrency` at once, 64 by default), each bounded by
//! `--connect-timeout` (1s by default), the whole scan by `--scan-timeout`;
//! one result line per port goes to stdout, in port order, as soon as the
//! ports before it are known. A probe of one port (`send -z HOST PORT`,
//! in `send.rs`) prints its result in the same form ([`show`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::addr::{self, Family, Kind};
use crate::error::{Error, Result};
use crate::event::{Level, Log};

/// How long a port may take to answer, unless `--connect-timeout` says.
pub const PORT_TIMEOUT: Duration = Duration::from_secs(1);
/// Ports probed at once, unless `--concurrency` says.
pub const CONCURRENCY: u64 = 64;

/// A checked scan.
#[derive(Debug)]
pub struct Scan {
    pub host: String,
    pub udp: bool,
    pub ports: Ports,
    pub concurrency: u64,
    pub per_port: Duration,
    pub deadline: Option<Duration>,
    /// When the deadline's clock started: before the port list was
    /// parsed, so nothing the scan does escapes it.
    pub started: Instant,
    pub family: Family,
    /// `--open`: show only the open ports.
    pub open_only: bool,
}

/// What a probe learned about one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Open,
    Closed,
    /// TCP: no answer in time (a firewall dropping the SYN, say).
    Filtered(Duration),
    /// UDP: no answer, which an open port that ignores empty datagrams
    /// and a filtered one both give.
    OpenOrFiltered(Duration),
    Error(String),
}

impl State {
    fn text(&self) -> String {
        match self {
            State::Open => "open".into(),
            State::Closed => "closed".into(),
            State::Filtered(t) => {
                format!("filtered (no answer in {})", humantime::format_duration(*t))
            }
            State::OpenOrFiltered(t) => format!(
                "open|filtered (no answer in {}; UDP cannot tell which)",
                humantime::format_duration(*t)
            ),
            State::Error(m) => format!("error ({m})"),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Filtered(_) => "filtered",
            State::OpenOrFiltered(_) => "open|filtered",
            State::Error(_) => "error",
        }
    }
}

/// A port list: `22`, `20-30`, `20-30,443,8000-8010`, kept as sorted,
/// merged ranges rather than a list of ports, so that a spec repeating
/// `1-65535` a thousand times costs a sort of a thousand pairs, not a
/// dedup of 65 million ports. Each port once, in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    /// Disjoint, not touching, ascending.
    ranges: Vec<(u16, u16)>,
    /// `before[i]`: how many ports the ranges before `ranges[i]` hold.
    before: Vec<usize>,
}

impl Ports {
    /// How many ports (at most 65,535).
    pub fn len(&self) -> usize {
        match (self.ranges.last(), self.before.last()) {
            (Some(&(a, b)), Some(&n)) => n + usize::from(b - a) + 1,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The `i`th port in ascending order.
    pub fn get(&self, i: usize) -> Option<u16> {
        if i >= self.len() {
            return None;
        }
        let r = self.before.partition_point(|&n| n <= i) - 1;
        Some(self.ranges[r].0 + (i - self.before[r]) as u16)
    }

    /// The ports, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a..=b)
    }
}

/// Why a client refuses port 0 (a scan's, `send`'s, a `--forward`
/// target's): connecting to it only ever fails, so naming it is a mistake.
pub const NO_PORT_0: &str = "port 0 is not a port to connect to (ports are 1-65535)";

/// Parse a port list (see [`Ports`]); port 0 is no port.
pub fn parse_ports(spec: &str) -> std::result::Result<Ports, String> {
    let mut ranges = Vec::new();
    for item in spec.split(',') {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        // The item, not the whole spec: a spec may be thousands of items.
        let p = |s: &str| -> std::result::Result<u16, String> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "invalid port '{s}' in '{item}' (ports are 1-65535)"
                ));
            }
            match s.parse::<u16>() {
                Ok(0) => Err(format!(
                    "port 0 in '{item}' is not a port to connect to (ports are 1-65535)"
                )),
                Ok(p) => Ok(p),
                Err(_) => Err(format!(
                    "port {s} in '{item}' is too large (the largest is 65535)"
                )),
            }
        };
        let (a, b) = (p(a)?, p(b)?);
        if a > b {
            return Err(format!("the range {a}-{b} runs backwards"));
        }
        ranges.push((a, b));
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            // Overlapping or adjacent (20-30,31-40): one range.
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut before = Vec::with_capacity(merged.len());
    let mut n = 0;
    for &(a, b) in &merged {
        before.push(n);
        n += usize::from(b - a) + 1;
    }
    Ok(Ports {
        ranges: merged,
        before,
    })
}

/// Whether a word is a port list rather than one port.
pub fn is_port_list(w: &str) -> bool {
    (w.contains('-') || w.contains(','))
        && w.bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b',')
}

/// Run the scan. Exit 0 when every port is open, 1 when any is not, 124
/// when the deadline ended the scan first.
pub fn run(s: &Scan, log: Log) -> Result<()> {
    let ip: IpAddr = addr::resolve(&s.host, 0, s.family)?[0].ip();
    // The name lookup counts too: a scan past its deadline after it
    // probes nothing (each worker sees no time left) and says so.
    let until = s.deadline.map(|d| s.started + d);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, State)>();
    let workers = (s.concurrency as usize).clamp(1, s.ports.len().max(1));
    let mut results: Vec<Option<State>> = vec![None; s.ports.len()];
    let mut shown = 0;
    let mut all_open = true;
    let mut stdout_gone = false;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(port) = s.ports.get(i) else { return };
                    let left = until.map(|u| u.saturating_duration_since(Instant::now()));
                    if left.is_some_and(|l| l.is_zero()) {
                        return;
                    }
                    let t = left.map_or(s.per_port, |l| l.min(s.per_port));
                    let sa = SocketAddr::new(ip, port);
                    let state = if s.udp {
                        probe_udp(sa, t)
                    } else {
                        probe_tcp(sa, t)
                    };
                    if tx.send((i, state)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        loop {
            let r = match until {
                Some(u) => rx.recv_timeout(u.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            let Ok((i, state)) = r else { break };
            results[i] = Some(state);
            while let Some(Some(st)) = results.get(shown) {
                all_open &= *st == State::Open;
                if !stdout_gone {
                    let at =
                        addr::show(&SocketAddr::new(ip, s.ports.get(shown).unwrap_or_default()));
                    let kind = if s.udp { Kind::Udp } else { Kind::Tcp };
                    stdout_gone = show(&log, s.open_only, kind, &at, st).is_err();
                }
                shown += 1;
            }
        }
    });
    if shown < s.ports.len() {
        return Err(Error::Timeout(format!(
            "the scan's deadline ({}) came first: {} of {} ports not probed",
            humantime::format_duration(s.deadline.unwrap_or_default()),
            s.ports.len() - shown,
            s.ports.len()
        )));
    }
    if all_open {
        Ok(())
    } else {
        Err(Error::Reported)
    }
}

/// One port's result on stdout, for a scan and a probe of one port alike:
/// `ADDR STATE`, or with --log-format json a `port` event (`transport`,
/// `address`, `host` and `port`, or `socket_path` for a Unix socket, `state`,
/// and `waited_ms` or `message`). Nothing under `-q`, nor under `--open`
/// (`open_only`) for a port that is not open.
pub fn show(log: &Log, open_only: bool, kind: Kind, at: &str, st: &State) -> io::Result<()> {
    if log.level < Level::Normal || (open_only && *st != State::Open) {
        return Ok(());
    }
    let line = if log.json {
        let mut v = serde_json::json!({"event": "port", "transport": kind.as_str(),
            "address": at});
        crate::event::place(&mut v, "", Some(kind), at);
        v["state"] = serde_json::json!(st.name());
        match st {
            State::Filtered(t) | State::OpenOrFiltered(t) => {
                v["waited_ms"] = serde_json::json!(t.as_millis() as u64)
            }
            State::Error(m) => v["message"] = serde_json::json!(m),
            _ => {}
        }
        format!("{v}\n")
    } else {
        // One line per port, whatever a socket path holds.
        crate::event::one_line(&format!("{at} {}", st.text())).into_owned() + "\n"
    };
    crate::output::stdout_write(line.as_bytes())
}

fn probe_tcp(sa: SocketAddr, t: Duration) -> State {
    match std::net::TcpStream::connect_timeout(&sa, t.max(Duration::from_millis(1))) {
        Ok(s) if crate::transport::self_connected(&socket2::SockRef::from(&s), sa) => State::Closed,
        Ok(_) => State::Open,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => State::Closed,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            State::Filtered(t)
        }
        Err(e) => State::Error(crate::error::describe(&e)),
    }
}

/// An empty datagram: an answer means open, ICMP port unreachable means
/// closed, silence means either open (a service that ignores it) or
/// filtered.
fn probe_udp(sa: SocketAddr, t: Duration) -> State {
    let sock = match crate::transport::udp_to(sa, None) {
        Ok(s) => s,
        Err(e) => return State::Error(crate::error::describe(&e)),
    };
    if let Err(e) = sock
        .set_read_timeout(Some(t.max(Duration::from_millis(1))))
        .and_then(|_| sock.send(&[]))
    {
        return match e.kind() {
            io::ErrorKind::ConnectionRefused => State::Closed,
            _ => State::Error(crate::error::describe(&e)),
        };
    }
    let mut buf = [0u8; 1];
    match sock.recv(&mut buf) {
        Ok(_) => State::Open,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => State::Closed,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            State::OpenOrFiltered(t)
        }
        Err(e) => State::Error(crate::error::describe(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists() {
        let list = |s: &str| parse_ports(s).unwrap().iter().collect::<Vec<_>>();
        assert_eq!(list("22"), [22]);
        assert_eq!(list("20-23"), [20, 21, 22, 23]);
        assert_eq!(list("20-22,443,21"), [20, 21, 22, 443]);
        // Overlapping, touching and repeated ranges: each port once, in order.
        assert_eq!(
            list("443,25-27,20-22,21-26,22"),
            [20, 21, 22, 23, 24, 25, 26, 27, 443]
        );
        assert_eq!(list("65535,1,65534-65535"), [1, 65534, 65535]);
        let all = parse_ports("1-65535").unwrap();
        assert_eq!(all.len(), 65535);
        assert_eq!(
            (all.get(0), all.get(65534), all.get(65535)),
            (Some(1), Some(65535), None)
        );
        let spread = parse_ports("5,10-12,100").unwrap();
        let by_index: Vec<_> = (0..spread.len()).map_while(|i| spread.get(i)).collect();
        assert_eq!(by_index, spread.iter().collect::<Vec<_>>());
        assert_eq!(spread.get(5), None);
        // A thousand copies of the whole range: one range, at once.
        let spec = vec!["1-65535"; 1000].join(",");
        let t = Instant::now();
        assert_eq!(parse_ports(&spec).unwrap(), all);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        for (bad, why) in [
            ("0", "port 0 in '0' is not a port to connect to"),
            ("0-10", "port 0 in '0-10' is not a port to connect to"),
            ("30-20", "runs backwards"),
            ("a-b", "invalid port 'a'"),
            ("70000", "port 70000 in '70000' is too large"),
            ("1-65536", "port 65536 in '1-65536' is too large"),
            ("1-", "invalid port ''"),
            (",", "invalid port"),
            ("22,,23", "invalid port '' in ''"),
        ] {
            let e = parse_ports(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(is_port_list("20-30") && is_port_list("22,443"));
        assert!(!is_port_list("22") && !is_port_list("x-y"));
    }
}
