//! send's stream exchange, on ONE thread: the input to the socket and the
//! socket to stdout are two relay [`Half`]s (the engine every model
//! drives), waited on with poll(2) here.
//!
//! The input is a [`Port`] over the message, a file or stdin (splice(2)
//! from a file or a pipe into a plain socket, as a bridge splices, when
//! nothing must see the bytes); stdout is a `Port` that takes every chunk
//! whole. The rules are send's: the half-close once the input ends (none
//! with `--hold` or `-N`), `--hold`'s quiet, `--wait` after the input,
//! `--idle-timeout` for both directions, and after the server's FIN the
//! input still goes on from a pipe or a file (a person at a terminal is
//! done).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::{End, Input, Plan, QUICK_CLOSE, is_tls_alert, progress, stdin_kind, to_crlf};
use crate::error::{Error, Result, describe, stdout_err};
use crate::output::{hex_to_stderr, stdout_write};
use crate::relay::half::{self, Half, Port};
use crate::relay::{HalfError, RelaySocket};
use crate::sys::PollWant;
use crate::transport::Stream;

/// What the input is read from.
enum Source {
    /// The message (LF already made CRLF with `--crlf`), and how much of
    /// it was taken.
    Message { data: Vec<u8>, taken: Cell<usize> },
    /// A file, or stdin (a file, a pipe or a terminal).
    Reader {
        file: File,
        /// A pipe or a terminal: a read may wait, so one is made only
        /// once poll(2) says there is something (or the end).
        waits: bool,
        /// Bytes pass as they are: splice(2) may move them.
        plain: bool,
        crlf: bool,
        /// `--crlf`'s unconverted read, kept between reads.
        raw: RefCell<Vec<u8>>,
    },
}

impl Source {
    fn new(p: &Plan, input: Input) -> io::Result<(Source, Option<u64>, bool)> {
        let plain = !p.crlf && !p.hex;
        let reader = |file: File, waits: bool, zero_copy: bool| Source::Reader {
            file,
            waits,
            plain: plain && zero_copy,
            crlf: p.crlf,
            raw: RefCell::new(Vec::new()),
        };
        Ok(match input {
            Input::Message(m) => {
                let data = if p.crlf { to_crlf(&m) } else { m };
                let taken = Cell::new(0);
                (Source::Message { data, taken }, None, false)
            }
            Input::File(f, len) => {
                // `--file` may name a pipe (`<(cmd)`): it is waited on.
                let kind = f.metadata().map(|m| m.file_type());
                let is_file = kind.as_ref().is_ok_and(|k| k.is_file());
                let is_pipe = kind.is_ok_and(|k| std::os::unix::fs::FileTypeExt::is_fifo(&k));
                (reader(f, !is_file, is_file || is_pipe), len, true)
            }
            Input::Stdin => {
                let (len, is_file, is_pipe) = stdin_kind();
                // A descriptor of our own: it shares stdin's offset, and
                // reads go straight to it (no buffer in between).
                match io::stdin().as_fd().try_clone_to_owned() {
                    Ok(dup) => (
                        reader(File::from(dup), !is_file, is_file || is_pipe),
                        len,
                        true,
                    ),
                    // No stdin at all (closed): an empty input, as std's
                    // stdin reads it.
                    Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                        let (data, taken) = (Vec::new(), Cell::new(0));
                        (Source::Message { data, taken }, len, true)
                    }
                    Err(e) => return Err(e),
                }
            }
        })
    }

    /// The descriptor poll(2) waits on before a read (a pipe, a terminal).
    fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Source::Reader {
                file, waits: true, ..
            } => Some(file.as_fd()),
            _ => None,
        }
    }
}

impl Port for Source {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let (file, waits, crlf, raw) = match self {
            Source::Message { data, taken } => {
                let at = taken.get();
                let n = buf.len().min(data.len() - at);
                buf[..n].copy_from_slice(&data[at..at + n]);
                taken.set(at + n);
                return Ok((n > 0).then_some(n));
            }
            Source::Reader {
                file,
                waits,
                crlf,
                raw,
                ..
            } => (file, *waits, *crlf, raw),
        };
        if waits && !ready(file.as_fd())? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = if crlf {
            // Each LF may become two bytes: read at most half a buffer.
            let mut raw = raw.borrow_mut();
            raw.resize(buf.len() / 2, 0);
            let n = (&*file).read(&mut raw)?;
            let converted = to_crlf(&raw[..n]);
            buf[..converted.len()].copy_from_slice(&converted);
            converted.len()
        } else {
            (&*file).read(buf)?
        };
        Ok((n > 0).then_some(n))
    }
    fn write(&self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Source::Reader {
                file, plain: true, ..
            } => Some(file.as_fd()),
            _ => None,
        }
    }
    fn shut_write(&self) {}
}

/// Whether a read of `fd` would not wait now.
fn ready(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut fds = [PollWant {
        fd: fd.as_raw_fd(),
        read: true,
        write: false,
        readable: false,
        writable: false,
    }];
    crate::sys::poll_ready(&mut fds, Some(Duration::ZERO))?;
    Ok(fds[0].readable)
}

/// The socket as the input's destination: the half-close is the
/// exchange's to make (or not), with its error told.
struct ToSocket<'a>(RelaySocket<'a>);

impl Port for ToSocket<'_> {
    fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.0.read(buf)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.0.write(data)
    }
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        self.0.plain_fd()
    }
    fn shut_write(&self) {}
}

/// Stdout as the reply's destination: every chunk goes whole (a full
/// stdout waits, as a print does). A plain connection's first reply that
/// is a TLS alert is refused, and noted.
struct Stdout {
    check_alert: bool,
    first: Cell<bool>,
    alert: Cell<bool>,
}

impl Port for Stdout {
    fn read(&self, _: &mut [u8]) -> io::Result<Option<usize>> {
        Ok(None)
    }
    fn write(&self, data: &[u8]) -> io::Result<usize> {
        if self.first.replace(false) && self.check_alert && is_tls_alert(data) {
            self.alert.set(true);
            return Err(io::Error::other("a TLS alert"));
        }
        stdout_write(data)?;
        Ok(data.len())
    }
    fn shut_write(&self) {}
}

/// Where the input's half-close stands, for [`End::closed_at_half_close`].
fn shut(stream: &Stream) -> Result<Instant> {
    let at = Instant::now();
    stream
        .shutdown(Shutdown::Write)
        .map_err(|e| Error::io("shutdown", e))?;
    Ok(at)
}

/// The exchange (with `--hold`: without the half-close, ended by the
/// peer's quiet).
pub(super) fn exchange(p: &Plan, stream: &Stream, input: Input) -> Result<End> {
    let interactive = matches!(input, Input::Stdin) && io::IsTerminal::is_terminal(&io::stdin());
    let (src, len, show_bar) = Source::new(p, input).map_err(|e| Error::io("send", e))?;
    // Finished (taken) once the input has ended: it stops drawing while
    // the reply comes.
    let mut bar = show_bar.then(|| progress::Bar::start(p.progress, len));
    stream
        .set_nonblocking(true)
        .map_err(|e| Error::io("send", e))?;
    let r = run(p, stream, &src, &mut bar, interactive);
    if let Some(b) = bar.take() {
        b.finish();
    }
    r
}

fn run(
    p: &Plan,
    stream: &Stream,
    src: &Source,
    bar: &mut Option<progress::Bar>,
    interactive: bool,
) -> Result<End> {
    let label = p.addr.to_string();
    let no_shutdown = p.no_shutdown || p.hold.is_some();
    let from_sock = RelaySocket::Stream(stream);
    let to_sock = ToSocket(RelaySocket::Stream(stream));
    let stdout = Stdout {
        check_alert: stream.tls().is_none(),
        first: Cell::new(true),
        alert: Cell::new(false),
    };
    let mut up = Half::new(half::may_splice(src, &to_sock, p.hex));
    let mut down = Half::new(false);
    let mut scratch = Vec::new();
    let mut last_move = Instant::now();
    let mut last_in: Option<Instant> = None;
    let mut input_done: Option<Instant> = None;
    let mut shut_at: Option<Instant> = None;
    let mut closed_at: Option<Instant> = None;
    let timed = p.idle.is_some() || p.wait.is_some() || p.hold.is_some();
    loop {
        let mut more = false;
        // Ciphertext TLS still holds (a close_notify, a record the socket
        // would not take) goes first.
        match Port::flush(&from_sock) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                return Err(Error::io("send", e));
            }
            _ => {}
        }
        if closed_at.is_none() {
            let read = down.read();
            let hex = |at: u64, d: &[u8]| {
                if p.hex {
                    hex_to_stderr(&label, '<', at, d);
                }
            };
            match down.pump(&from_sock, &stdout, &mut scratch, hex) {
                Ok(step) => more |= step.more,
                Err(HalfError::Read(e)) => {
                    return Err(Error::io(format!("receive from {}", p.addr), e));
                }
                Err(HalfError::Write(_)) if stdout.alert.get() => {
                    return Err(Error::runtime(format!(
                        "{} answered with a TLS alert: it speaks TLS (connect to tls://{})",
                        p.addr, p.addr
                    )));
                }
                Err(HalfError::Write(e)) => return Err(stdout_err(e)),
            }
            if down.read() > read {
                last_move = Instant::now();
                last_in = Some(last_move);
            }
            if down.state() != half::State::Running {
                closed_at = Some(Instant::now());
            }
        }
        let sending = input_done.is_none() && !(closed_at.is_some() && interactive);
        if sending {
            let sent = up.moved();
            let hex = |at: u64, d: &[u8]| {
                if p.hex {
                    hex_to_stderr(&label, '>', at, d);
                }
            };
            match up.pump(src, &to_sock, &mut scratch, hex) {
                Ok(step) => more |= step.more,
                Err(HalfError::Read(e)) if up.read() == 0 && zero_copy_refused(&up, &e) => {
                    // The kernel will not splice from this input: copy.
                    up = Half::new(false);
                    more = true;
                }
                Err(HalfError::Read(e)) => {
                    let what = format!("read the input: {}", describe(&e));
                    return Err(Error::io("send", io::Error::new(e.kind(), what)));
                }
                Err(HalfError::Write(e)) => return Err(Error::io("send", e)),
            }
            if up.moved() > sent {
                last_move = Instant::now();
                if let Some(b) = bar {
                    b.set(up.moved());
                }
            }
            if up.is_done() {
                if let Some(b) = bar.take() {
                    b.finish();
                }
                input_done = Some(Instant::now());
                if !no_shutdown {
                    shut_at = Some(shut(stream)?);
                } else if let Some(w) = stream.ws() {
                    // A last line without its newline goes now, not with
                    // the Close at the end of the hold.
                    w.send_partial_line();
                }
            }
        }
        let now = Instant::now();
        let mut deadline: Option<Instant> = None;
        let mut until = |d: Instant| deadline = Some(deadline.map_or(d, |x| x.min(d)));
        if let Some(closed) = closed_at {
            // The server sent FIN. Input still flowing from a pipe or file
            // goes on (the server may still be reading it); a person at a
            // terminal is done.
            if input_done.is_some() || interactive {
                // (A half-close made after the server's FIN did not cause it.)
                let quick = shut_at.is_some_and(|s| s <= closed && closed - s <= QUICK_CLOSE);
                return Ok(end(&up, &down, quick));
            }
            if let Some(idle) = p.idle {
                if now >= last_move + idle {
                    return Err(Error::Timeout("idle while sending".into()));
                }
                until(last_move + idle);
            }
        } else if timed {
            // First: a hold no longer than --idle-timeout and shorter than
            // --wait (checked) ends in success where they would fail.
            if let (Some(hold), Some(t)) = (p.hold, input_done) {
                let quiet_since = last_in.map_or(t, |l| l.max(t));
                if now >= quiet_since + hold {
                    return held(stream, &up, &down);
                }
                until(quiet_since + hold);
            }
            // After the input, a hold's quiet is the end, not an idle
            // connection (an --idle-timeout is no shorter: checked).
            if let Some(idle) = p.idle.filter(|_| p.hold.is_none() || input_done.is_none()) {
                if now >= last_move + idle {
                    return Err(Error::Timeout(format!(
                        "idle for {}",
                        humantime::format_duration(idle)
                    )));
                }
                until(last_move + idle);
            }
            if let (Some(wait), Some(t)) = (p.wait, input_done) {
                if now >= t + wait {
                    return Err(Error::Timeout(format!(
                        "no end of reply within {}",
                        humantime::format_duration(wait)
                    )));
                }
                until(t + wait);
            }
        }
        let sending = input_done.is_none() && !(closed_at.is_some() && interactive);
        let timeout = if more {
            Some(Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(now))
        };
        let mut fds = [
            PollWant {
                fd: stream.poll_fd(),
                read: closed_at.is_none() && down.wants_read(),
                write: (sending && up.wants_write()) || Port::holds_output(&from_sock),
                readable: false,
                writable: false,
            },
            PollWant {
                fd: src.wait_fd().map_or(-1, |f| f.as_raw_fd()),
                read: sending && up.wants_read() && src.wait_fd().is_some(),
                write: false,
                readable: false,
                writable: false,
            },
        ];
        crate::sys::poll_ready(&mut fds, timeout).map_err(|e| Error::io("poll", e))?;
    }
}

/// Whether splice(2) was refused for what the input is (and a copy will
/// do): only before anything moved.
fn zero_copy_refused(up: &Half, e: &io::Error) -> bool {
    !up.copied() && matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS))
}

fn end(up: &Half, down: &Half, closed_at_half_close: bool) -> End {
    End {
        sent: up.moved(),
        received: down.moved(),
        closed_at_half_close,
    }
}

/// The end of a held exchange: close_notify for TLS (best effort, for a
/// second at most: the process closes the socket anyway).
fn held(stream: &Stream, up: &Half, down: &Half) -> Result<End> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.shutdown(Shutdown::Write);
    Ok(end(up, down, false))
}
