//! `sockcat send`: the client.
//!
//! TCP and Unix stream: send the message (or stdin, or a file) while the
//! reply is printed, on one thread ([`exchange`]); after the input ends,
//! shut the write side (FIN) and print until the server's FIN (with
//! `--hold DUR`: no FIN; print until the server's FIN or DUR without a
//! byte from it, whichever comes first). Datagram
//! transports send one datagram per message or stdin line and print
//! replies until `--wait` passes without one.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::addr::Addr;
use crate::error::{Error, Result, describe, stdout_err};
use crate::event::Log;
use crate::output::{hex_to_stderr, stdout_write};
use crate::transport::{self, Opts, Stream};

mod datagram;
mod exchange;
pub mod exec;
pub mod load;
mod probe;
pub mod progress;
pub mod scan;

use datagram::*;
use probe::*;

/// What the client sends.
pub enum Input {
    Message(Vec<u8>),
    File(File, Option<u64>),
    Stdin,
}

/// Checked options for one exchange.
pub struct Plan {
    pub addr: Addr,
    pub opts: Opts,
    pub source: Option<SocketAddr>,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<Duration>,
    pub idle: Option<Duration>,
    pub wait: Option<Duration>,
    /// `--hold`: no half-close; end once the peer is quiet this long.
    pub hold: Option<Duration>,
    pub no_shutdown: bool,
    pub crlf: bool,
    pub hex: bool,
    pub progress: progress::Mode,
    pub log: Log,
}

/// What the client was asked to do.
pub enum SendMode {
    /// Send the input, print the reply (the lesson's client).
    Exchange(Input),
    /// `-z`: only see whether the port accepts connections; `open_only`:
    /// `--open`, print the result only if it does.
    Probe { open_only: bool },
    /// `-z` with several ports: a scan.
    Scan(scan::Scan),
    /// `--exec` / `--sh-exec`: run this program on the connection.
    Exec(Vec<std::ffi::OsString>),
    /// Load mode: repeat the exchange with `message`.
    Load {
        amount: load::Amount,
        concurrency: u64,
        message: Vec<u8>,
    },
}

/// The client's validated configuration (made by `cli::config::send`).
pub struct Config {
    pub plan: Plan,
    pub job: SendMode,
}

pub fn run(cfg: Config) -> Result<()> {
    let Config { plan, job } = cfg;
    crate::output::hex_as_json(plan.log.json);
    let input = match job {
        SendMode::Load {
            amount,
            concurrency,
            message,
        } => {
            return load::run(&plan_load(&plan), amount, concurrency, &message, plan.log);
        }
        SendMode::Probe { open_only } => return probe(&plan, open_only),
        SendMode::Scan(s) => return scan::run(&s, plan.log),
        SendMode::Exec(argv) => return exec::run(&plan, &argv),
        SendMode::Exchange(input) => input,
    };
    if plan.addr.is_datagram() {
        return datagrams(&plan, input);
    }
    let stream = open(&plan)?;
    let began = Instant::now();
    let kind = plan.addr.kind();
    let proxy = plan.opts.proxy.as_ref().map(|p| p.url.to_string());
    let end = exchange::exchange(&plan, &stream, input)?;
    let truncated = stream.tls().is_some_and(|t| t.truncated());
    if let Some(w) = stream.ws() {
        // Our Close, if the exchange ended without one (a hold, the
        // peer's Close), as far as the socket takes it now.
        let _ = stream.shutdown(std::net::Shutdown::Write);
        w.tell_close(&plan.log, &plan.addr.to_string());
    }
    if let Some(w) = cut_warning(&plan, &end, truncated, proxy.as_deref()) {
        plan.log
            .warning_with(&w, serde_json::json!({"truncated": truncated}));
    }
    let tally = crate::event::ConnStats {
        bytes_in: end.received,
        bytes_out: end.sent,
        truncated: Some(truncated),
        ..Default::default()
    };
    plan.log
        .closed(kind, &plan.addr.to_string(), tally, began.elapsed());
    Ok(())
}

/// Connect as the plan says (retrying, through the proxy, TLS) and say so:
/// the `connected` event, and what a TLS handshake settled.
pub(crate) fn open(p: &Plan) -> Result<Stream> {
    let stream = transport::connect_retry(&p.addr, &p.opts, p.connect_timeout, p.source, p.retry)?;
    let proxy = p.opts.proxy.as_ref().map(|x| x.url.to_string());
    p.log.connected(
        p.addr.kind(),
        &p.addr.to_string(),
        &stream.local().to_string(),
        proxy.as_deref(),
    );
    if let Some(t) = stream.tls() {
        p.log.tls(&p.addr.to_string(), &t.settled(), false);
    }
    if let Some(w) = stream.ws() {
        w.tell_open(&p.log, &p.addr.to_string());
    }
    Ok(stream)
}

fn plan_load(p: &Plan) -> load::Target {
    load::Target {
        addr: p.addr.clone(),
        opts: p.opts.clone(),
        connect_timeout: p.connect_timeout,
        wait: p.wait,
        source: p.source,
    }
}

/// How an exchange ended.
struct End {
    sent: u64,
    received: u64,
    /// The peer closed within [`QUICK_CLOSE`] of our half-close.
    closed_at_half_close: bool,
}

/// A peer that closes this soon after our half-close (FIN, or TLS's
/// close_notify) closed because of it: a proxy or TLS peer that ends the
/// whole connection there, or a server with nothing to say.
const QUICK_CLOSE: Duration = Duration::from_secs(1);

/// The one warning a cut-looking end gets, naming `--hold`: an empty
/// reply through a proxy whose tunnel ended right after our half-close
/// (microsocks and tinyproxy end it there), and a TLS peer that closed
/// without close_notify (right after ours: for the same reason). A TLS
/// peer that answers our close_notify with its own and closes gets none:
/// a server that owed nothing (a sink for an upload) does the same.
fn cut_warning(p: &Plan, end: &End, truncated: bool, proxy: Option<&str>) -> Option<String> {
    let addr = p.addr.to_string();
    let quick = end.closed_at_half_close;
    let fix = "keep the write side open with --hold DUR (end after DUR of quiet)";
    if truncated && quick {
        let what = if end.received == 0 {
            "with no reply"
        } else {
            "and what came may be truncated"
        };
        return Some(format!(
            "{addr} closed the TLS connection without close_notify right after send's \
             half-close, {what}: if it ends the connection there, {fix}"
        ));
    }
    if truncated {
        return Some(crate::transport::tls::truncation(&addr));
    }
    match proxy {
        // A server that owed nothing closes the same way: "if one was due".
        Some(proxy) if quick && end.received == 0 => Some(format!(
            "the connection to {addr} through {proxy} ended right after send's half-close, \
             with no reply: if one was due, the proxy may end the tunnel there; {fix}"
        )),
        _ => None,
    }
}

/// Whether a plain connection's whole first answer is one TLS alert
/// record (content type 21, version 3.x, length 2): what a TLS server
/// says to a client that spoke plaintext to it.
fn is_tls_alert(b: &[u8]) -> bool {
    matches!(b, [0x15, 0x03, 0x01..=0x04, 0x00, 0x02, _, _])
}

/// Stdin's remaining length (a regular file), and whether it is a file or
/// a pipe, for the zero-copy paths.
fn stdin_kind() -> (Option<u64>, bool, bool) {
    use std::io::Seek;
    use std::os::unix::fs::FileTypeExt;
    let Ok(dup) = io::stdin().as_fd().try_clone_to_owned() else {
        return (None, false, false);
    };
    // The duplicate shares stdin's file offset; dropping it closes only itself.
    let mut f = File::from(dup);
    let Ok(meta) = f.metadata() else {
        return (None, false, false);
    };
    let is_file = meta.file_type().is_file();
    let len = is_file.then(|| {
        let pos = f.stream_position().unwrap_or(0);
        meta.len().saturating_sub(pos)
    });
    (len, is_file, meta.file_type().is_fifo())
}

/// LF becomes CRLF, as `nc -C` does.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + data.len() / 16);
    for &b in data {
        if b == b'\n' {
            v.push(b'\r');
        }
        v.push(b);
    }
    v
}
