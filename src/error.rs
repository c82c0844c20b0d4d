//! The error type: one line for the user, one exit code for the script.
//!
//! Every failure the program can report is an [`Error`]; `main` prints it as
//! `sockcat: error: …` and exits with [`Error::exit_code`]. Nothing is ever
//! reported by panicking.

use std::fmt;
use std::io;

/// Exit codes, as documented in the man pages (EXIT STATUS) and the README.
pub mod code {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TIMEOUT: u8 = 124;
    pub const INTERRUPTED: u8 = 130;
    /// SIGHUP: 128 + 1, as a shell reports a process it ended.
    pub const HUNG_UP: u8 = 129;
    /// A second SIGTERM, which ends a server at once: 128 + 15.
    pub const TERMINATED: u8 = 143;
}

#[derive(Debug)]
pub enum Error {
    /// Bad command line or bad address: exit 2.
    Usage(String),
    /// Refused, reset, bind failed, …: exit 1.
    Runtime(String),
    /// A time limit expired: exit 124.
    Timeout(String),
    /// Ctrl-C: exit 130, nothing printed. (SIGTERM is a requested stop:
    /// a server ends with 0 after its graceful shutdown.)
    Interrupted,
    /// SIGHUP: exit 129, nothing printed.
    HungUp,
    /// Stdout was closed by its reader (`| head -1`): exit 0, nothing printed.
    StdoutClosed,
    /// A failure already reported where it belongs (load mode's summary
    /// counts its errors on stdout): exit 1, nothing more printed.
    Reported,
    /// Exit with this code, nothing printed: `send --exec`'s program ended
    /// with it (killed by signal N: 128+N), or a stop signal asked for it.
    Exit(u8),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }

    pub fn runtime(msg: impl Into<String>) -> Error {
        Error::Runtime(msg.into())
    }

    /// An I/O error that happened while doing `what`. A broken pipe on
    /// stdout is not an error for a pipeline, so callers that write stdout
    /// turn it into [`Error::StdoutClosed`] with [`stdout_err`].
    pub fn io(what: impl fmt::Display, err: io::Error) -> Error {
        match err.kind() {
            io::ErrorKind::TimedOut => Error::Timeout(format!("{what}: timed out")),
            _ => Error::Runtime(format!("{what}: {}", describe(&err))),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => code::USAGE,
            Error::Runtime(_) | Error::Reported => code::FAILURE,
            Error::Timeout(_) => code::TIMEOUT,
            Error::Interrupted => code::INTERRUPTED,
            Error::HungUp => code::HUNG_UP,
            Error::StdoutClosed => code::OK,
            Error::Exit(c) => *c,
        }
    }

    /// The one-line message, or `None` for outcomes that print nothing.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Usage(m) | Error::Runtime(m) | Error::Timeout(m) => Some(m),
            Error::Interrupted
            | Error::HungUp
            | Error::StdoutClosed
            | Error::Reported
            | Error::Exit(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(m) => f.write_str(m),
            None => f.write_str(match self {
                Error::Interrupted => "interrupted",
                Error::HungUp => "hung up",
                Error::Reported => "failed",
                Error::Exit(_) => "the program failed",
                _ => "stdout closed",
            }),
        }
    }
}

/// Whether an error means only that the peer went away (a reset, or a
/// write after it closed): routine for a server, so every model logs it
/// only under -v.
pub fn peer_went_away(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// `std::io::Error`'s Display adds " (os error 111)"; users want the text.
pub fn describe(err: &io::Error) -> String {
    let s = err.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Map a failed write to stdout: a closed reader ends the program quietly.
pub fn stdout_err(err: io::Error) -> Error {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Error::StdoutClosed
    } else {
        Error::io("write to stdout", err)
    }
}

/// Attach what was being done to an `io::Result`.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::io(what, e))
    }
}
