//! sockcat: play either side of a socket conversation.
//!
//! `main` only parses, dispatches, and turns the outcome into an exit code
//! and at most one line on stderr.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use sockcat::cli::{self, Cli, Cmd};
use sockcat::error::code;
use sockcat::event;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let port = cli::netcat::port_word(&argv);
            return clap_exit(e, &argv, port.as_deref());
        }
    };
    if let Cmd::Send(a) = &mut cli.cmd {
        a.message_after_dashes = cli::netcat::after_dashes(&argv) >= a.message.len();
        a.word_after_quiet = cli::netcat::word_after_quiet(&argv);
    }
    let format = match &cli.cmd {
        Cmd::Send(a) => a.common.log_format,
        Cmd::Serve(a) => a.server.common.log_format,
        Cmd::ForkServe(a) => a.server.common.log_format,
        Cmd::ThreadServe(a) => a.server.common.log_format,
    };
    let sub = match &cli.cmd {
        Cmd::Send(_) => "send",
        Cmd::Serve(_) => "serve",
        Cmd::ForkServe(_) => "fork-serve",
        Cmd::ThreadServe(_) => "thread-serve",
    };
    let result = sockcat::run(cli);
    if let Some(code) = sockcat::servers::forced_exit() {
        return ExitCode::from(code);
    }
    match result {
        Ok(()) => ExitCode::from(code::OK),
        Err(e) => {
            if let Some(msg) = e.message() {
                let log = event::Log {
                    level: event::Level::Normal,
                    json: format == cli::LogFormat::Json,
                    upstream: None,
                };
                // A usage error names the help that says how it is done.
                if let sockcat::error::Error::Usage(_) = e {
                    log.fatal(&format!("{msg}; see 'sockcat {sub} --help'"));
                } else {
                    log.fatal(msg);
                }
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Help and version go to stdout with exit 0; usage errors become one
/// line, `sockcat: error: …` ending with the subcommand's `--help`, and
/// exit 2. A netcat flag gets a pointer to the sockcat way instead of
/// clap's advice.
fn clap_exit(e: clap::Error, argv: &[std::ffi::OsString], port: Option<&str>) -> ExitCode {
    use clap::error::{ContextKind, ContextValue};
    let sub = cli::netcat::subcommand(argv);
    let help = match sub {
        Some(s) => format!("see 'sockcat {s} --help'"),
        None => "see 'sockcat --help'".to_string(),
    };
    match e.kind() {
        // One name for the program, whichever subcommand was asked
        // (clap would say "sockcat-serve 0.1.0").
        ErrorKind::DisplayVersion => {
            let _ = writeln!(std::io::stdout(), "sockcat {}", env!("CARGO_PKG_VERSION"));
            ExitCode::from(code::OK)
        }
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            let code = if e.kind() == ErrorKind::DisplayHelp {
                code::OK
            } else {
                code::USAGE
            };
            ExitCode::from(code)
        }
        _ => {
            let invalid = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(a)) => Some(a.clone()),
                _ => None,
            };
            let flag = invalid.as_deref().map(|a| {
                // "-l <PORT>", "--proxy=x": the flag alone.
                a.split([' ', '=']).next().unwrap_or(a)
            });
            if let Some(p) = flag.and_then(|f| cli::netcat::pointer(f, sub, port)) {
                let _ = writeln!(std::io::stderr(), "sockcat: error: {p}; {help}");
                return ExitCode::from(code::USAGE);
            }
            // `sockcat localhost 9000`, `sockcat -zv HOST 20-30`: a netcat
            // line with no subcommand, which `send` would take.
            let unknown = matches!(
                e.kind(),
                ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument
            );
            if let Some(p) = (sub.is_none() && unknown)
                .then(|| cli::netcat::no_subcommand(argv))
                .flatten()
            {
                let _ = writeln!(
                    std::io::stderr(),
                    "sockcat: error: {p}; see 'sockcat send --help'"
                );
                return ExitCode::from(code::USAGE);
            }
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let mut msg = first.to_string();
            // A word holding a line break would cut clap's line short and
            // give the error a second line: name the whole word here, and
            // escape the line as events are.
            if let (ErrorKind::UnknownArgument, Some(word)) = (e.kind(), invalid.as_deref()) {
                if word.contains(['\n', '\r']) {
                    msg = format!("unexpected argument '{word}' found");
                }
            }
            // "the following required arguments were not provided:" names
            // them on the lines below; keep the names on the one line.
            if msg.ends_with(':') {
                let names: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:")).collect();
                msg = format!("{} {}", msg, names.join(", "));
            }
            if let Some(values) = rendered
                .lines()
                .find_map(|l| l.trim().strip_prefix("[possible values: "))
            {
                msg.push_str(&format!(" (possible values: {}", values));
                if msg.ends_with(']') {
                    msg.pop();
                }
                msg.push(')');
            }
            // clap's "to pass '-x' as a value, use '-- -x'" is wrong advice
            // for a flag someone expected to exist; other tips stay. Only
            // send's message takes such words: there it says how.
            if let Some(tip) = rendered
                .lines()
                .find_map(|l| l.trim().strip_prefix("tip: "))
            {
                if !tip.starts_with("to pass '") {
                    msg.push_str(&format!(" ({tip})"));
                } else if let (Some("send"), Some(word)) = (sub, invalid.as_deref()) {
                    msg.push_str(&format!(
                        " (to send '{word}' as a word of the message, put it after '--')"
                    ));
                }
            }
            let msg = event::one_line(&msg);
            let _ = writeln!(std::io::stderr(), "sockcat: error: {msg}; {help}");
            ExitCode::from(code::USAGE)
        }
    }
}
