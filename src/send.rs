//! `sockcat send`: the client.
//!
//! TCP and Unix stream: send the message (or stdin, or a file) on one
//! thread while the reply is printed on this one; after the input ends,
//! shut the write side (FIN) and print until the server's FIN (with
//! `--hold DUR`: no FIN; print until the server's FIN or DUR without a
//! byte from it, whichever comes first). Datagram
//! transports send one datagram per message or stdin line and print
//! replies until `--wait` passes without one.

use std::fs::File;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::addr::Addr;
use crate::error::{Error, Result, describe, stdout_err};
use crate::event::Log;
use crate::output::{hex_to_stderr, stdout_write};
use crate::transport::{self, Opts, Stream};

mod datagram;
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
pub enum Job {
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
    pub job: Job,
}

pub fn run(cfg: Config) -> Result<()> {
    let Config { plan, job } = cfg;
    crate::output::hex_as_json(plan.log.json);
    let input = match job {
        Job::Load {
            amount,
            concurrency,
            message,
        } => {
            return load::run(&plan_load(&plan), amount, concurrency, &message, plan.log);
        }
        Job::Probe { open_only } => return probe(&plan, open_only),
        Job::Scan(s) => return scan::run(&s, plan.log),
        Job::Exec(argv) => return exec::run(&plan, &argv),
        Job::Exchange(input) => input,
    };
    if plan.addr.is_datagram() {
        return datagrams(&plan, input);
    }
    let stream = open(&plan)?;
    let began = Instant::now();
    let kind = plan.addr.kind();
    let proxy = plan.opts.proxy.as_ref().map(|p| p.url.to_string());
    let tls = match &stream {
        Stream::Tls(t) => Some(t.clone()),
        _ => None,
    };
    let end = exchange(&plan, stream, input)?;
    let truncated = tls.as_ref().is_some_and(|t| t.truncated());
    if let Some(w) = cut_warning(&plan, &end, truncated, proxy.as_deref()) {
        plan.log
            .warning_with(&w, serde_json::json!({"truncated": truncated}));
    }
    let tally = crate::event::Tally {
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

/// Shared between the sending thread and the printing one.
struct Shared {
    /// When anything last moved, in ms since `epoch`, for `--idle-timeout`.
    last: AtomicU64,
    epoch: Instant,
    sent: AtomicU64,
    /// When the write side was shut, in ms since `epoch`, plus one (0: not).
    shut: AtomicU64,
    /// The server's address, heading `--hex` dumps.
    label: String,
}

impl Shared {
    fn touch(&self) {
        self.last
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
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

/// The lesson's exchange (with `--hold`: without the half-close, ended
/// by the peer's quiet).
fn exchange(p: &Plan, stream: Stream, input: Input) -> Result<End> {
    let stream = Arc::new(stream);
    let shared = Arc::new(Shared {
        last: AtomicU64::new(0),
        epoch: Instant::now(),
        sent: AtomicU64::new(0),
        shut: AtomicU64::new(0),
        label: p.addr.to_string(),
    });
    let interactive = matches!(input, Input::Stdin) && io::stdin().is_terminal();
    let (done_tx, done_rx) = mpsc::channel::<std::result::Result<(), Error>>();
    {
        let stream = stream.clone();
        let shared = shared.clone();
        let (crlf, hex, progress) = (p.crlf, p.hex, p.progress);
        let no_shutdown = p.no_shutdown || p.hold.is_some();
        // Not scoped: a thread blocked reading a terminal must not keep the
        // process alive once the conversation is over.
        std::thread::Builder::new()
            .name("send".into())
            .spawn(move || {
                let r = send_input(&stream, input, crlf, hex, progress, &shared);
                if r.is_err() {
                    // Wake the reading side (its read returns 0) so that the
                    // error is reported now, not after the server gives up.
                    let _ = stream.shutdown(Shutdown::Both);
                }
                let r = r.and_then(|()| {
                    if no_shutdown {
                        Ok(())
                    } else {
                        // Noted first: the peer's answer to it cannot come before.
                        let at = shared.epoch.elapsed().as_millis() as u64;
                        shared.shut.store(at + 1, Ordering::Relaxed);
                        stream
                            .shutdown(Shutdown::Write)
                            .map_err(|e| Error::io("shutdown", e))
                    }
                });
                let _ = done_tx.send(r);
            })
            .map_err(|e| Error::io("start sending thread", e))?;
    }

    let mut buf = vec![0u8; 256 * 1024];
    let mut input_done: Option<Instant> = None;
    let mut received: u64 = 0;
    // The last bytes from the peer, for --hold's quiet.
    let mut last_in: Option<Instant> = None;
    // Without --wait, --idle-timeout or --hold, reads simply block until
    // the reply ends; with them, they wake often enough to keep the
    // deadlines.
    let timed = p.idle.is_some() || p.wait.is_some() || p.hold.is_some();
    let mut held = false;
    loop {
        if timed && input_done.is_none() {
            match done_rx.try_recv() {
                Ok(r) => {
                    r?;
                    input_done = Some(Instant::now());
                }
                Err(mpsc::TryRecvError::Disconnected) => input_done = Some(Instant::now()),
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        if timed {
            let mut left = Duration::from_millis(100);
            // First: a hold no longer than --idle-timeout and shorter than
            // --wait (checked) ends in success where they would fail.
            if let (Some(hold), Some(t)) = (p.hold, input_done) {
                let quiet = last_in.map_or(t, |l| l.max(t)).elapsed();
                let rem = hold.saturating_sub(quiet);
                if rem.is_zero() {
                    held = true;
                    break;
                }
                left = left.min(rem);
            }
            // After the input, a hold's quiet is the end, not an idle
            // connection (an --idle-timeout is no shorter: checked).
            if let Some(idle) = p.idle.filter(|_| p.hold.is_none() || input_done.is_none()) {
                let rem = idle.saturating_sub(shared.idle_for());
                if rem.is_zero() {
                    return Err(Error::Timeout(format!(
                        "idle for {}",
                        humantime::format_duration(idle)
                    )));
                }
                left = left.min(rem);
            }
            if let (Some(wait), Some(t)) = (p.wait, input_done) {
                let rem = wait.saturating_sub(t.elapsed());
                if rem.is_zero() {
                    return Err(Error::Timeout(format!(
                        "no end of reply within {}",
                        humantime::format_duration(wait)
                    )));
                }
                left = left.min(rem);
            }
            let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        }
        match (&*stream).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                shared.touch();
                last_in = Some(Instant::now());
                if p.hex {
                    hex_to_stderr(&shared.label, '<', received, &buf[..n]);
                }
                if received == 0 && stream.tls().is_none() && is_tls_alert(&buf[..n]) {
                    return Err(Error::runtime(format!(
                        "{} answered with a TLS alert: it speaks TLS (connect to tls://{})",
                        p.addr, p.addr
                    )));
                }
                received += n as u64;
                stdout_write(&buf[..n]).map_err(stdout_err)?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(format!("receive from {}", p.addr), e)),
        }
    }
    let closed_at = shared.epoch.elapsed();
    if held {
        // The end of a held exchange: close_notify for TLS (best effort:
        // the process closes the socket anyway).
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = stream.shutdown(Shutdown::Write);
        return Ok(End {
            sent: shared.sent.load(Ordering::Relaxed),
            received,
            closed_at_half_close: false,
        });
    }
    let shut = shared.shut.load(Ordering::Relaxed);
    let closed_at_half_close =
        shut > 0 && closed_at.saturating_sub(Duration::from_millis(shut - 1)) <= QUICK_CLOSE;
    // The server sent FIN. Input still flowing from a pipe or file goes on
    // (the server may still be reading it); a person at a terminal is done.
    if input_done.is_none() && !interactive {
        let _ = stream.set_read_timeout(None);
        loop {
            let wait = match (p.idle, p.wait) {
                (Some(i), _) => i.saturating_sub(shared.idle_for()),
                _ => Duration::from_secs(3600),
            };
            match done_rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                Ok(r) => {
                    r?;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) if p.idle.is_some() => {
                    return Err(Error::Timeout("idle while sending".into()));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
    Ok(End {
        sent: shared.sent.load(Ordering::Relaxed),
        received,
        closed_at_half_close,
    })
}

/// Copy the input to the socket: sendfile for files, splice for pipes,
/// plain copies where bytes must be looked at (`--crlf`, `--hex`).
fn send_input(
    s: &Stream,
    input: Input,
    crlf: bool,
    hex: bool,
    progress: progress::Mode,
    shared: &Shared,
) -> Result<()> {
    let transform = crlf || hex;
    let what = "send";
    // Zero copy only where the bytes need no looking at and the stream has
    // a plain descriptor to move them into.
    let plain = s.plain_fd().filter(|_| !transform);
    match input {
        Input::Message(m) => write_chunk(s, &m, crlf, hex, shared).map_err(|e| Error::io(what, e)),
        Input::File(f, len) => {
            let bar = progress::Bar::start(progress, len);
            let r = match plain {
                Some(sock) => zero_copy(s, sock, f.as_fd(), true, shared, &bar),
                None => copy_reader(s, f, crlf, hex, shared, &bar),
            };
            bar.finish();
            r.map_err(|e| Error::io(what, e))
        }
        Input::Stdin => {
            let (len, is_file, is_pipe) = stdin_kind();
            let bar = progress::Bar::start(progress, len);
            let stdin = io::stdin();
            let r = match plain {
                Some(sock) if is_file || is_pipe => {
                    zero_copy(s, sock, stdin.as_fd(), is_file, shared, &bar)
                }
                _ => copy_reader(s, stdin.lock(), crlf, hex, shared, &bar),
            };
            bar.finish();
            r.map_err(|e| Error::io(what, e))
        }
    }
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

fn write_chunk(s: &Stream, data: &[u8], crlf: bool, hex: bool, shared: &Shared) -> io::Result<()> {
    let converted;
    let data = if crlf {
        converted = to_crlf(data);
        &converted[..]
    } else {
        data
    };
    if hex {
        hex_to_stderr(
            &shared.label,
            '>',
            shared.sent.load(Ordering::Relaxed),
            data,
        );
    }
    let mut w = s;
    w.write_all(data)?;
    shared.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
    shared.touch();
    Ok(())
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

fn copy_reader(
    s: &Stream,
    mut r: impl Read,
    crlf: bool,
    hex: bool,
    shared: &Shared,
    bar: &progress::Bar,
) -> io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let what = format!("read the input: {}", describe(&e));
                return Err(io::Error::new(e.kind(), what));
            }
        };
        write_chunk(s, &buf[..n], crlf, hex, shared)?;
        bar.set(shared.sent.load(Ordering::Relaxed));
    }
}

/// sendfile(2) from a file, splice(2) from a pipe: the bytes never enter
/// this process. Falls back to plain copies where the kernel says no.
fn zero_copy(
    s: &Stream,
    sock: BorrowedFd<'_>,
    src: BorrowedFd<'_>,
    is_file: bool,
    shared: &Shared,
    bar: &progress::Bar,
) -> io::Result<()> {
    const CHUNK: usize = 4 << 20;
    loop {
        let r = if is_file {
            crate::sys::sendfile(sock, src, CHUNK)
        } else {
            crate::sys::splice(src, sock, CHUNK)
        };
        match r {
            Ok(0) => return Ok(()),
            Ok(n) => {
                shared.sent.fetch_add(n as u64, Ordering::Relaxed);
                shared.touch();
                bar.set(shared.sent.load(Ordering::Relaxed));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS))
                    && shared.sent.load(Ordering::Relaxed) == 0 =>
            {
                let f = File::from(src.try_clone_to_owned()?);
                return copy_reader(s, &f, false, false, shared, bar);
            }
            Err(e) => return Err(e),
        }
    }
}
