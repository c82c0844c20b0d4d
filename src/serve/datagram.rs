//! Datagram sockets in the event loop: one datagram is one request. The
//! byte-level handlers answer at once; `--exec` programs run with their
//! pipes in the loop, so a slow one holds up no other datagram.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::{CONN_BASE, Loop, PART_CHILD_IN, PART_CHILD_OUT};
use crate::error::{Error, Result};
use crate::event::Tally;
use crate::handler::drive::{self, End};
use crate::handler::{Spec, exec};
use crate::output::hex_to_stderr;
use crate::transport::{Peer, ReplyTo, set_nonblocking_fd};

/// A program `--exec` runs for one datagram: the datagram goes to its
/// stdin, its whole output comes back as the reply. Its pipes are in the
/// loop like a connection's, so a slow program stalls no other datagram.
pub(super) struct DgramJob {
    pub(super) child: Child,
    stdin: Option<ChildStdin>,
    input: Vec<u8>,
    stdout: Option<ChildStdout>,
    output: Vec<u8>,
    /// Which datagram socket it came in on, and who to answer.
    sock: usize,
    to: ReplyTo,
    peer: Peer,
    started: Instant,
    bytes_in: u64,
}

/// At most this many datagram programs run at once (unless --max-conns
/// says otherwise); further datagrams wait in the socket's buffer.
const DGRAM_JOBS: u64 = 64;

impl Loop {
    pub(super) fn datagrams(&mut self, i: usize) -> Result<()> {
        // A server is all datagram sockets or all stream ones, so draining
        // the socket here starves no connection.
        let max_jobs = self.server.max_conns.unwrap_or(DGRAM_JOBS);
        while self.server.limit.is_none_or(|l| self.served < l) {
            if (self.dgram_jobs.len() as u64) >= max_jobs {
                return Ok(()); // read on once a program finishes
            }
            let Some(d) = self.dgrams.get(i) else {
                return Ok(());
            };
            let (n, to, peer) = match d.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.server
                        .log
                        .error(&format!("receive: {}", crate::error::describe(&e)));
                    return Ok(());
                }
            };
            if !self.server.admit(d.kind, &peer, &mut self.served) {
                continue;
            }
            let started = Instant::now();
            let data = &self.buf[..n];
            if self.server.drive.hex {
                hex_to_stderr('<', 0, data);
            }
            if let Spec::Exec(argv) = &self.server.spec {
                let argv = argv.clone();
                let data = data.to_vec();
                self.start_dgram_job(&argv, i, data, to, peer, started)?;
                continue;
            }
            let tally = Tally {
                bytes_in: n as u64,
                bytes_out: 0,
            };
            match drive::datagram(&self.server.spec, data, &peer, &d.local) {
                Ok(reply) => self.answer(i, &reply, &to, &peer, tally, started),
                Err(End::StdoutClosed) => return Err(Error::StdoutClosed),
                Err(e) => {
                    self.server.log.error(&e.message(&peer));
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
        peer: &Peer,
        mut tally: Tally,
        started: Instant,
    ) {
        let kind = self.server.kind;
        if let (false, Some(d)) = (reply.is_empty(), self.dgrams.get(sock)) {
            if self.server.drive.hex {
                hex_to_stderr('>', 0, reply);
            }
            match d.send_to(reply, to) {
                Ok(m) => tally.bytes_out = m as u64,
                Err(e) => self
                    .server
                    .log
                    .error(&format!("{peer}: {}", crate::error::describe(&e))),
            }
        }
        self.server
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
        peer: Peer,
        started: Instant,
    ) -> Result<()> {
        let id = self.next_id;
        self.next_id += 1;
        let local = self.dgrams[sock].local.clone();
        let spawned = exec::command(argv, &peer, &local)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                self.server.log.error(&format!(
                    "{peer}: {}",
                    exec::describe_spawn_error(&argv[0], &e)
                ));
                let tally = Tally {
                    bytes_in: data.len() as u64,
                    bytes_out: 0,
                };
                self.answer(sock, &[], &to, &peer, tally, started);
                return Ok(());
            }
        };
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let reg = self.poll.registry();
        let ok = set_nonblocking_fd(stdin.as_fd()).is_ok()
            && set_nonblocking_fd(stdout.as_fd()).is_ok()
            && reg
                .register(
                    &mut SourceFd(&stdin.as_raw_fd()),
                    Token(CONN_BASE + 4 * id + PART_CHILD_IN),
                    Interest::WRITABLE,
                )
                .is_ok()
            && reg
                .register(
                    &mut SourceFd(&stdout.as_raw_fd()),
                    Token(CONN_BASE + 4 * id + PART_CHILD_OUT),
                    Interest::READABLE,
                )
                .is_ok();
        if !ok {
            let _ = child.kill();
            self.lingering.push(child);
            return Ok(());
        }
        self.dgram_jobs.insert(
            id,
            DgramJob {
                child,
                stdin: Some(stdin),
                stdout: Some(stdout),
                output: Vec::new(),
                sock,
                bytes_in: data.len() as u64,
                input: data,
                to,
                peer,
                started,
            },
        );
        self.drive_dgram_job(id)
    }

    /// Feed a datagram program its input, collect its output, and answer
    /// once its stdout closes.
    pub(super) fn drive_dgram_job(&mut self, id: usize) -> Result<()> {
        let Some(mut j) = self.dgram_jobs.remove(&id) else {
            return Ok(());
        };
        let mut failed = None;
        if let Some(stdin) = &mut j.stdin {
            let mut sent = 0;
            while sent < j.input.len() {
                match stdin.write(&j.input[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // It stopped reading: what it read is what it gets.
                    Err(_) => sent = j.input.len(),
                }
            }
            j.input.drain(..sent);
            if j.input.is_empty() {
                j.stdin = None; // EOF: the whole datagram is in
            }
        }
        if let Some(stdout) = &mut j.stdout {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) => {
                        j.stdout = None;
                        break;
                    }
                    Ok(n) => j.output.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        failed = Some(e);
                        j.stdout = None;
                        break;
                    }
                }
            }
        }
        if j.stdout.is_some() {
            self.dgram_jobs.insert(id, j);
            return Ok(());
        }
        if let Some(e) = failed {
            self.server
                .log
                .error(&format!("{}: {}", j.peer, crate::error::describe(&e)));
        }
        let tally = Tally {
            bytes_in: j.bytes_in,
            bytes_out: 0,
        };
        let reply = std::mem::take(&mut j.output);
        self.answer(j.sock, &reply, &j.to, &j.peer, tally, j.started);
        drop(j.stdin.take());
        match j.child.try_wait() {
            Ok(Some(_)) => {}
            _ => self.lingering.push(j.child),
        }
        // A slot is free: read the datagrams that waited.
        for i in 0..self.dgrams.len() {
            self.datagrams(i)?;
        }
        self.close_dgrams_at_limit();
        Ok(())
    }

    /// After --once / --count, close the datagram sockets, but only once
    /// every program has answered through them.
    fn close_dgrams_at_limit(&mut self) {
        if self.server.limit.is_some_and(|l| self.served >= l) && self.dgram_jobs.is_empty() {
            self.dgrams.clear();
        }
    }
}
