//! Datagram sockets in the event loop: one datagram is one request. The
//! byte-level handlers answer at once; `--exec` programs run with their
//! pipes in the loop, so a slow one holds up no other datagram.

use std::io;
use std::process::Child;
use std::time::Instant;

use super::EventLoop;
use super::program::{DatagramPeer, LoopProgram};
use crate::error::{Error, Result};
use crate::event::ConnStats;
use crate::handler::{self, End};
use crate::handler::{Spec, exec};
use crate::output::hex_to_stderr;
use crate::relay::RelayEnd;
use crate::transport::{Endpoint, ReplyTo};

/// A program `--exec` runs for one datagram: the datagram goes to its
/// stdin, its output comes back as the reply. Its pipes are in the loop
/// like a connection's, so a slow program stalls no other datagram.
pub(super) struct DgramProgram {
    program: LoopProgram,
    /// The datagram, and the program's reply as it comes.
    exchange: DatagramPeer,
    /// Which datagram socket it came in on, and who to answer.
    sock: usize,
    to: ReplyTo,
    peer: Endpoint,
    started: Instant,
    bytes_in: u64,
}

impl DgramProgram {
    pub(super) fn child(self) -> Child {
        self.program.close()
    }

    /// The end of the grace period cut it: shown and counted as every
    /// model shows a cut request; its program is the caller's to end.
    pub(super) fn cut(
        self,
        server: &crate::servers::Server,
        totals: &mut crate::servers::ServerTotals,
    ) -> Child {
        let tally = ConnStats {
            bytes_in: self.bytes_in,
            ..ConnStats::default()
        };
        server.closed_at_shutdown(&self.peer, tally, self.started.elapsed(), totals);
        self.child()
    }
}

/// At most this many datagram programs run at once (unless --max-conns
/// says otherwise); further datagrams wait in the socket's buffer.
const DGRAM_JOBS: u64 = 64;

impl EventLoop {
    /// The next datagram on socket `i` (its length in the loop's buffer,
    /// where to answer, the sender): `None` when none waits now, or when
    /// the socket failed (said once here).
    pub(super) fn receive(&mut self, i: usize) -> Option<(usize, ReplyTo, Endpoint)> {
        loop {
            let d = self.dgrams.get(i)?;
            match d.recv_from(&mut self.buf) {
                Ok(r) => return Some(r),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.server
                        .service
                        .settings
                        .log
                        .error(&format!("receive: {}", crate::error::describe(&e)));
                    return None;
                }
            }
        }
    }

    pub(super) fn datagrams(&mut self, i: usize) -> Result<()> {
        if let Spec::Forward(f) = &self.server.service.spec {
            let f = f.clone();
            self.forward_datagrams(i, &f);
            return Ok(());
        }
        // A server is all datagram sockets or all stream ones, so draining
        // the socket here starves no connection.
        let max_jobs = self.server.service.settings.max_conns.unwrap_or(DGRAM_JOBS);
        while self
            .server
            .service
            .settings
            .limit
            .is_none_or(|l| self.served < l)
        {
            if (self.dgram_jobs.len() as u64) >= max_jobs {
                return Ok(()); // read on once a program finishes
            }
            let Some((n, to, peer)) = self.receive(i) else {
                return Ok(());
            };
            let Some(d) = self.dgrams.get(i) else {
                return Ok(());
            };
            if !self
                .server
                .admit_datagram(d.kind, &peer, &d.local, &mut self.served)
            {
                continue;
            }
            let started = Instant::now();
            let data = &self.buf[..n];
            if self.server.service.settings.drive.hex {
                hex_to_stderr(&peer.to_string(), '<', 0, data);
            }
            if let Spec::Exec(argv) = &self.server.service.spec {
                let argv = argv.clone();
                let data = data.to_vec();
                self.start_dgram_job(&argv, i, data, to, peer, started)?;
                continue;
            }
            let tally = ConnStats {
                bytes_in: n as u64,
                bytes_out: 0,
                ..ConnStats::default()
            };
            match handler::datagram::answer(&self.server.service.spec, data, &peer, &d.local) {
                Ok((reply, _)) => self.answer(i, &reply, &to, &peer, tally, started),
                Err(End::StdoutClosed) => return Err(Error::StdoutClosed),
                Err(e) => {
                    self.server.service.settings.log.error(&e.message(&peer));
                    self.answer(i, &[], &to, &peer, tally, started);
                }
            }
        }
        self.close_dgrams_at_limit();
        Ok(())
    }

    /// Send a datagram's reply (nothing when it is empty) and log its end.
    fn answer(
        &mut self,
        sock: usize,
        reply: &[u8],
        to: &ReplyTo,
        peer: &Endpoint,
        mut tally: ConnStats,
        started: Instant,
    ) {
        let kind = self.server.kind;
        let silent = reply.is_empty() && !self.server.service.spec.answers_empty();
        if let (false, Some(d)) = (silent, self.dgrams.get(sock)) {
            if self.server.service.settings.drive.hex {
                hex_to_stderr(&peer.to_string(), '>', 0, reply);
            }
            match d.send_to(reply, to) {
                Ok(m) => tally.bytes_out = m as u64,
                Err(e) => self
                    .server
                    .service
                    .settings
                    .log
                    .error(&format!("{peer}: {}", crate::error::describe(&e))),
            }
        }
        self.server
            .service
            .settings
            .log
            .closed(kind, &peer.to_string(), tally, started.elapsed());
        self.totals.conns += 1;
        self.totals.add(tally);
    }

    fn start_dgram_job(
        &mut self,
        argv: &[std::ffi::OsString],
        sock: usize,
        data: Vec<u8>,
        to: ReplyTo,
        peer: Endpoint,
        started: Instant,
    ) -> Result<()> {
        let id = self.next_id;
        self.next_id += 1;
        let local = self.dgrams[sock].local.clone();
        let spawned = LoopProgram::spawn(
            &mut exec::command(argv, &peer, &local),
            self.poll.registry(),
            id,
            None,
        );
        let program = match spawned {
            Ok(p) => p,
            Err(e) => {
                self.server.service.settings.log.error(&format!(
                    "{peer}: {}",
                    exec::describe_spawn_error(&argv[0], &e)
                ));
                let tally = ConnStats {
                    bytes_in: data.len() as u64,
                    bytes_out: 0,
                    ..ConnStats::default()
                };
                self.answer(sock, &[], &to, &peer, tally, started);
                return Ok(());
            }
        };
        exec::started(program.child.id() as i32);
        let bytes_in = data.len() as u64;
        self.dgram_jobs.insert(
            id,
            DgramProgram {
                program,
                exchange: DatagramPeer::new(data, exec::MAX_REPLY),
                sock,
                bytes_in,
                to,
                peer,
                started,
            },
        );
        self.drive_dgram_job(id)
    }

    /// Feed a datagram program its input, collect its output, and answer
    /// once its stdout closes (or a whole datagram's worth has come).
    pub(super) fn drive_dgram_job(&mut self, id: usize) -> Result<()> {
        let Some(mut j) = self.dgram_jobs.remove(&id) else {
            return Ok(());
        };
        // (What it answers is dumped and counted when it is sent.)
        let stepped = j
            .program
            .step(&j.exchange, &mut self.buf, None, Instant::now());
        let failed = match stepped {
            Ok(asked) => {
                let answered = j.program.output_ended() || j.exchange.full();
                if !answered {
                    if asked.again {
                        self.again.push(id);
                    }
                    self.dgram_jobs.insert(id, j);
                    return Ok(());
                }
                None
            }
            Err(RelayEnd::Endpoint(e) | RelayEnd::Program(e)) => Some(e),
            // (No timeout is set on a datagram's program.)
            Err(RelayEnd::Idle | RelayEnd::HalfClosed(_)) => None,
        };
        if let Some(e) = failed {
            self.server.service.settings.log.error(&format!(
                "{}: {}",
                j.peer,
                crate::error::describe(&e)
            ));
        }
        let reply = j.exchange.take_reply();
        let (sock, to, peer, started, bytes_in) =
            (j.sock, j.to.clone(), j.peer.clone(), j.started, j.bytes_in);
        let program = self.done_with(j.child());
        let tally = ConnStats {
            bytes_in,
            program,
            ..ConnStats::default()
        };
        self.answer(sock, &reply, &to, &peer, tally, started);
        // A slot is free: read the datagrams that waited.
        for i in 0..self.dgrams.len() {
            self.datagrams(i)?;
        }
        self.close_dgrams_at_limit();
        Ok(())
    }

    /// After --once / --count, close the datagram sockets, but only once
    /// every program has answered through them.
    pub(super) fn close_dgrams_at_limit(&mut self) {
        if self
            .server
            .service
            .settings
            .limit
            .is_some_and(|l| self.served >= l)
            && self.dgram_jobs.is_empty()
            && self.sessions.is_empty()
        {
            self.dgrams.clear();
        }
    }
}
