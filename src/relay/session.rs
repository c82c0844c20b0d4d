//! A forwarded datagram peer's *session*, for the blocking models.
//!
//! A session begins with a peer's first datagram and ends after the idle
//! timeout without traffic either way. The server's main loop keeps the
//! only receiving hold on the listening socket: it hands each peer's
//! datagrams to that peer's session through an inbox (a `SOCK_SEQPACKET`
//! socket pair, which keeps each datagram whole), and the session's worker
//! (a thread, or a child process) sends them upstream from a socket of its
//! own and sends the replies back from the listening socket, so the peer
//! sees them come from the address it wrote to.
//!
//! Ending without losing a datagram: the worker shuts its inbox's read
//! side first (the main loop's next delivery then fails, and it starts a
//! new session), then forwards what was already queued.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::event::{Tally, Via};
use crate::output::hex_to_stderr;
use crate::transport::{Dgram, ReplyTo};

/// Each message in an inbox starts with this byte, so that an empty
/// datagram is not an empty message (which reads like the end).
const TAG: u8 = b'd';

/// Big enough for any datagram either socket kind delivers.
const BUF: usize = 256 * 1024 + 1;

/// The main loop's end of a session's inbox.
#[derive(Debug)]
pub struct Inbox(OwnedFd);

/// What became of a datagram handed to a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    /// The inbox is full (the session's worker lags): dropped, as a full
    /// socket buffer drops it.
    Dropped,
    /// The session has ended: start a new one.
    Gone,
}

/// A new inbox: the main loop's end and the worker's.
pub fn inbox() -> std::io::Result<(Inbox, OwnedFd)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Inbox(a), b))
}

impl Inbox {
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        raw(&self.0)
    }

    /// Hand a datagram to the session, never waiting.
    pub fn deliver(&self, data: &[u8]) -> Delivered {
        let mut msg = Vec::with_capacity(data.len() + 1);
        msg.push(TAG);
        msg.extend_from_slice(data);
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        loop {
            match socket::send(
                std::os::fd::AsRawFd::as_raw_fd(&self.0.as_fd()),
                &msg,
                flags,
            ) {
                Ok(_) => return Delivered::Sent,
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return Delivered::Dropped,
                Err(_) => return Delivered::Gone,
            }
        }
    }
}

/// Options of a session worker.
#[derive(Clone, Copy, Debug)]
pub struct SessionOpts<'a> {
    pub idle: Duration,
    pub hex: bool,
    /// The peer, as hex dumps name it.
    pub label: &'a str,
    /// After the main loop closes the inbox (shutdown), how long to wait
    /// for the upstream's last replies.
    pub quiet: Duration,
}

/// Serve one peer's session: `first` (its first datagram) and what
/// arrives in `inbox` go to `upstream`; what `upstream` answers goes back
/// to `to` from `listen`. Returns the session's tally.
pub fn run(
    inbox: OwnedFd,
    first: &[u8],
    upstream: &Dgram,
    listen: &Dgram,
    to: &ReplyTo,
    o: SessionOpts<'_>,
) -> Tally {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut t = Tally {
        via: Some(Via::Copy),
        ..Tally::default()
    };
    let mut buf = vec![0u8; BUF];
    let mut last = Instant::now();
    let up = |data: &[u8], t: &mut Tally| {
        if o.hex {
            hex_to_stderr(o.label, '<', t.bytes_in, data);
        }
        t.bytes_in += data.len() as u64;
        // A datagram the upstream cannot take now is dropped, as UDP does.
        let _ = upstream.send(data);
    };
    up(first, &mut t);
    // While the inbox is open, the session lasts `idle` past the last
    // traffic; once it is closed, `quiet` past it.
    let mut open = true;
    let mut limit = o.idle;
    loop {
        let left = limit.saturating_sub(last.elapsed());
        if left.is_zero() {
            if !open {
                break;
            }
            // Idle: no more deliveries, then forward what already came.
            let _ = socket::shutdown(raw(&inbox), socket::Shutdown::Read);
            open = false;
            limit = o.quiet;
            let mut drained = false;
            while let Ok(n) = socket::recv(raw(&inbox), &mut buf, MsgFlags::MSG_DONTWAIT) {
                if n == 0 {
                    break;
                }
                drained = true;
                up(&buf[1..n], &mut t);
            }
            if !drained {
                break;
            }
            last = Instant::now();
            continue;
        }
        let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let inbox_fd = inbox.as_fd();
        let up_fd = upstream.as_fd();
        let mut fds = vec![PollFd::new(up_fd, PollFlags::POLLIN)];
        if open {
            fds.push(PollFd::new(inbox_fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
        let (up_ready, in_ready) = (ready(&fds[0]), fds.get(1).is_some_and(ready));
        drop(fds);
        if up_ready {
            while let Ok(n) = upstream.recv_nowait(&mut buf) {
                last = Instant::now();
                let data = &buf[..n];
                if o.hex {
                    hex_to_stderr(o.label, '>', t.bytes_out, data);
                }
                if listen.send_to(data, to).is_ok() {
                    t.bytes_out += n as u64;
                }
            }
        }
        if in_ready {
            loop {
                match socket::recv(raw(&inbox), &mut buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(0) => {
                        // The server is stopping: wait a moment for replies.
                        open = false;
                        limit = o.quiet;
                        last = Instant::now();
                        break;
                    }
                    Ok(n) => {
                        last = Instant::now();
                        up(&buf[1..n], &mut t);
                    }
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
        }
    }
    t
}

fn raw(fd: &OwnedFd) -> std::os::fd::RawFd {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}
