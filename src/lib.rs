//! sockcat: play either side of a socket conversation.
//!
//! The library holds everything; the binary (`main.rs`) only parses the
//! command line, calls [`run`], and maps the outcome to an exit code. The
//! layers and where new code goes are described in `docs/ARCHITECTURE.md`.
//!
//! sockcat targets Linux: it relies on pidfds, splice(2), sendfile(2),
//! abstract Unix sockets and `/proc`.

#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

pub mod access;
pub mod addr;
pub mod cli;
pub mod error;
pub mod event;
mod fork_serve;
pub mod handler;
pub mod output;
pub mod relay;
pub mod runtime;
pub mod send;
mod serve;
pub mod sys;
mod thread_serve;
pub mod transport;

use cli::{Cli, Cmd};

/// Run the subcommand the command line chose.
pub fn run(cli: Cli) -> error::Result<()> {
    use cli::config;
    sys::close_inherited_on_exec();
    match cli.cmd {
        Cmd::Serve(a) => serve::run(config::serve(&a)?),
        Cmd::ForkServe(a) => fork_serve::run(config::fork_serve(&a)?),
        Cmd::ThreadServe(a) => thread_serve::run(config::thread_serve(&a)?),
        Cmd::Send(a) => send::run(config::send(&a)?),
    }
}
