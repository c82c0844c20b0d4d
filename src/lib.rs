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
pub mod send;
mod serve;
pub mod servers;
mod start;
pub mod sys;
mod thread_serve;
pub mod transport;

use cli::{Cli, Cmd};

/// Run the subcommand the command line chose: check the whole command
/// line first (`cli::config`), then make what it asks for (`start`:
/// inherited sockets adopted first), then run.
pub fn run(cli: Cli) -> error::Result<()> {
    use cli::config;
    sys::close_inherited_on_exec();
    match cli.cmd {
        Cmd::Serve(a) => serve::run(start::server(config::serve(&a)?)?),
        Cmd::ForkServe(a) => fork_serve::run(start::server(config::fork_serve(&a)?)?),
        Cmd::ThreadServe(a) => thread_serve::run(start::server(config::thread_serve(&a)?)?),
        Cmd::Send(a) => send::run(start::send(config::send(&a)?)?),
    }
}

/// Entry points for the cargo-fuzz targets in `fuzz/`, and nothing else:
/// not an API, and free to change. Only what a target cannot reach through
/// the public API is here (the proxy's `Handshake` is public already).
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    use crate::error::Result;
    use crate::transport::tls;

    /// `--cert` and `--key` from their contents, as `load_identity` reads
    /// them once the files are read.
    pub fn pem_identity(cert: &[u8], key: &[u8]) -> Result<tls::Identity> {
        tls::identity_from_pem(cert, Path::new("CERT"), key, Path::new("KEY"))
    }

    /// `--cacert` from its contents: how many trusted certificates it adds.
    pub fn pem_roots(pem: &[u8]) -> Result<usize> {
        Ok(tls::roots_from_pem(pem, Path::new("CA"), "--cacert")?.len())
    }
}
