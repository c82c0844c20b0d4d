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

pub mod exec;
pub mod load;
pub mod progress;
pub mod scan;

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
    let stream = transport::connect_retry(
        &plan.addr,
        &plan.opts,
        plan.connect_timeout,
        plan.source,
        plan.retry,
    )?;
    let began = Instant::now();
    let kind = plan.addr.kind();
    let proxy = plan.opts.proxy.as_ref().map(|p| p.url.to_string());
    plan.log.connected(
        kind,
        &plan.addr.to_string(),
        &stream.local().to_string(),
        proxy.as_deref(),
    );
    let tls = match &stream {
        Stream::Tls(t) => Some(t.clone()),
        _ => None,
    };
    if let Some(t) = &tls {
        plan.log.tls(&plan.addr.to_string(), &t.settled(), false);
    }
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

fn plan_load(p: &Plan) -> load::Target {
    load::Target {
        addr: p.addr.clone(),
        opts: p.opts.clone(),
        connect_timeout: p.connect_timeout,
        wait: p.wait,
        source: p.source,
    }
}

/// `-z`: connect and close. Exit 0 when the port accepts connections.
/// The result is one line on stdout, as each port of a scan has (a
/// failure also says why on stderr, as any failed connection does).
fn probe(p: &Plan, open_only: bool) -> Result<()> {
    if p.addr.is_datagram() {
        return probe_datagram(p, open_only);
    }
    let began = Instant::now();
    let r = transport::connect_retry(&p.addr, &p.opts, p.connect_timeout, p.source, p.retry);
    let state = match &r {
        Ok(s) => {
            let _ = s.shutdown(Shutdown::Both);
            scan::State::Open
        }
        Err(Error::Usage(_)) => return r.map(|_| ()),
        Err(Error::Timeout(_)) => scan::State::Filtered(to_millis(began.elapsed())),
        Err(e) if refused_by_target(p, e) => scan::State::Closed,
        Err(e) => scan::State::Error(e.to_string()),
    };
    probe_result(p, open_only, &state);
    r.map(|_| ()).map_err(|e| said_on_stdout(p, e))
}

/// Whether a failed connect means the target refused: our own words for
/// ECONNREFUSED (error::describe), directly or after a retry's; through a
/// proxy, only its SOCKS answer "connection refused" (reply 5) says that
/// (the proxy refusing us says nothing about the target, and an HTTP
/// proxy's error status does not say why).
fn refused_by_target(p: &Plan, e: &Error) -> bool {
    let text = e.to_string();
    match p.opts.proxy {
        Some(_) => text.ends_with("(SOCKS reply 5)"),
        None => text.ends_with("Connection refused"),
    }
}

/// A probe's error once its result line is out: a closed or silent port
/// is said there, so only its exit code stays (as in a scan, and `-q`
/// silences both); anything else still explains itself on stderr.
fn said_on_stdout(p: &Plan, e: Error) -> Error {
    match &e {
        Error::Timeout(_) => Error::Exit(e.exit_code()),
        _ if refused_by_target(p, &e) => Error::Exit(e.exit_code()),
        _ => e,
    }
}

/// A probe's time, to the millisecond (as a scan's is given).
fn to_millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// A probe's result line; a closed stdout only loses it (the exit code
/// still says).
fn probe_result(p: &Plan, open_only: bool, state: &scan::State) {
    let _ = scan::show(&p.log, open_only, p.addr.kind(), &p.addr.to_string(), state);
}

/// UDP cannot confirm an open port: only a closed one answers (with ICMP
/// port unreachable). Say which of the two we know.
fn probe_datagram(p: &Plan, open_only: bool) -> Result<()> {
    let d = transport::connect_dgram(&p.addr, &p.opts, p.source)?;
    let refused = |e: io::Error| {
        let state = if e.kind() == io::ErrorKind::ConnectionRefused {
            scan::State::Closed
        } else {
            scan::State::Error(crate::error::describe(&e))
        };
        probe_result(p, open_only, &state);
        said_on_stdout(p, probe_refused(p, e))
    };
    d.send(&[]).map_err(refused)?;
    let wait = p.wait.unwrap_or(Duration::from_secs(1));
    d.set_read_timeout(Some(wait))
        .map_err(|e| Error::io("set timeout", e))?;
    let mut buf = [0u8; 1];
    match d.recv(&mut buf) {
        Ok(_) => {
            probe_result(p, open_only, &scan::State::Open);
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            probe_result(p, open_only, &scan::State::OpenOrFiltered(wait));
            Err(Error::Exit(crate::error::code::TIMEOUT))
        }
        Err(e) => Err(refused(e)),
    }
}

fn probe_refused(p: &Plan, e: io::Error) -> Error {
    Error::io(format!("{} {}", p.addr.kind(), p.addr), e)
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

/// UDP and Unix datagram: one datagram per message or stdin line; print
/// replies until `--wait` (default 1s) passes without one.
fn datagrams(p: &Plan, input: Input) -> Result<()> {
    let d = transport::connect_dgram(&p.addr, &p.opts, p.source)?;
    let d = Arc::new(d);
    let wait = p.wait.unwrap_or(Duration::from_secs(1));
    let last_sent = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let (tx, rx) = mpsc::channel::<Result<()>>();
    {
        let d = d.clone();
        let last_sent = last_sent.clone();
        let (crlf, hex, label) = (p.crlf, p.hex, p.addr.to_string());
        std::thread::spawn(move || {
            let mut send = |dgram: &[u8]| -> Result<()> {
                let data = if crlf { to_crlf(dgram) } else { dgram.to_vec() };
                if hex {
                    hex_to_stderr(&label, '>', 0, &data);
                }
                d.send(&data).map_err(|e| Error::io("send datagram", e))?;
                last_sent.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                Ok(())
            };
            let r = match input {
                Input::Message(m) => send(&m),
                Input::File(f, _) => send_lines(io::BufReader::new(f), &mut send),
                Input::Stdin => send_lines(io::stdin().lock(), &mut send),
            };
            let _ = tx.send(r);
        });
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut input_done = false;
    let mut last_reply = Instant::now();
    loop {
        if !input_done {
            match rx.try_recv() {
                Ok(r) => {
                    r?;
                    input_done = true;
                    last_reply = Instant::now();
                }
                Err(mpsc::TryRecvError::Disconnected) => input_done = true,
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        let left = if input_done {
            let since = last_reply.elapsed().min(
                epoch
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last_sent.load(Ordering::Relaxed))),
            );
            let rem = wait.saturating_sub(since);
            if rem.is_zero() {
                return Ok(());
            }
            rem.min(Duration::from_millis(100))
        } else {
            Duration::from_millis(100)
        };
        d.set_read_timeout(Some(left))
            .map_err(|e| Error::io("set timeout", e))?;
        match d.recv(&mut buf) {
            Ok(n) => {
                last_reply = Instant::now();
                if p.hex {
                    hex_to_stderr(&p.addr.to_string(), '<', 0, &buf[..n]);
                }
                stdout_write(&buf[..n]).map_err(stdout_err)?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                return Err(Error::runtime(format!(
                    "{} {}: {}",
                    p.addr.kind(),
                    p.addr,
                    describe(&e)
                )));
            }
        }
    }
}

/// The longest input line that becomes one datagram. No socket takes a
/// datagram this large (UDP's limit is 64 KiB), so a longer line is an
/// error, found before it fills memory (`--file /dev/zero`).
const MAX_LINE: usize = 1 << 20;

fn send_lines(mut r: impl BufRead, send: &mut impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read input", e))?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            return Err(Error::runtime(format!(
                "an input line is longer than {} MiB: too long for one datagram",
                MAX_LINE >> 20
            )));
        }
        send(&line)?;
    }
}
