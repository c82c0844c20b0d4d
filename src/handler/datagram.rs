//! A datagram as one request, for the handlers that answer each datagram
//! on its own (print, reply, echo, discard, exec): the answer, and how a
//! blocking model's worker (a thread or a child) serves one. serve's loop
//! asks [`answer`] too. (A forwarded datagram peer gets a session instead:
//! `relay::dgram_session`.)

use super::{End, Session, Spec};
use crate::event::ConnStats;
use crate::output::hex_to_stderr;
use crate::transport::{Dgram, Endpoint, ReplyTo};

/// One datagram as one request: returns the reply (empty: send nothing,
/// unless the handler answers empty datagrams) and, for a program, how it
/// ended.
pub fn answer(
    spec: &Spec,
    data: &[u8],
    peer: &Endpoint,
    local: &Endpoint,
) -> Result<(Vec<u8>, Option<crate::event::Exit>), End> {
    let mut out = Vec::new();
    match spec {
        Spec::Exec(argv) => {
            return super::exec::run_datagram(argv, data, peer, local)
                .map_err(|e| End::Exec(super::exec::describe_spawn_error(&argv[0], &e)));
        }
        _ => Session::datagram(spec, data, &mut out).map_err(End::from_stdout)?,
    }
    Ok((out, None))
}

/// Serve one datagram on a worker (thread or child): run the handler,
/// send the reply back to the sender.
pub fn serve(
    spec: &Spec,
    data: &[u8],
    peer: &Endpoint,
    to: &ReplyTo,
    sock: &Dgram,
    hex: bool,
) -> (ConnStats, Option<End>) {
    let mut tally = ConnStats {
        bytes_in: data.len() as u64,
        bytes_out: 0,
        ..ConnStats::default()
    };
    if hex {
        hex_to_stderr(&peer.to_string(), '<', 0, data);
    }
    let end = match answer(spec, data, peer, &sock.local) {
        Ok((reply, program)) if reply.is_empty() && !spec.answers_empty() => {
            tally.program = program;
            None
        }
        Ok((reply, program)) => {
            tally.program = program;
            if hex {
                hex_to_stderr(&peer.to_string(), '>', 0, &reply);
            }
            match sock.send_to(&reply, to) {
                Ok(n) => {
                    tally.bytes_out = n as u64;
                    None
                }
                Err(e) => Some(End::Io(e)),
            }
        }
        Err(e) => Some(e),
    };
    (tally, end)
}
