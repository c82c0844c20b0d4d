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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    let format = match &cli.cmd {
        Cmd::Send(a) => a.common.log_format,
        Cmd::Serve(a) => a.server.common.log_format,
        Cmd::ForkServe(a) => a.server.common.log_format,
        Cmd::ThreadServe(a) => a.server.common.log_format,
    };
    let result = sockcat::run(cli);
    match result {
        Ok(()) => ExitCode::from(code::OK),
        Err(e) => {
            if let Some(msg) = e.message() {
                let log = event::Log {
                    level: event::Level::Normal,
                    json: format == cli::LogFormat::Json,
                    upstream: None,
                };
                log.fatal(msg);
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Help and version go to stdout with exit 0; usage errors become one
/// line, `sockcat: error: …`, and exit 2.
fn clap_exit(e: clap::Error) -> ExitCode {
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
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let mut msg = first.to_string();
            // "the following required arguments were not provided:" names
            // them on the lines below; keep the names on the one line.
            if msg.ends_with(':') {
                let names: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:")).collect();
                msg = format!("{} {}", msg, names.join(", "));
            }
            if let Some(tip) = rendered
                .lines()
                .find_map(|l| l.trim().strip_prefix("tip: "))
            {
                msg.push_str(&format!(" ({tip})"));
            }
            let _ = writeln!(
                std::io::stderr(),
                "sockcat: error: {msg}; see 'sockcat --help'"
            );
            ExitCode::from(code::USAGE)
        }
    }
}
