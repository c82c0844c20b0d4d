//! `send -z` of one port: connect (or send an empty datagram), say what
//! the port is in the scan's one format, and exit as a scan would.

use super::*;

/// `-z`: connect and close. Exit 0 when the port accepts connections.
/// The result is one line on stdout, as each port of a scan has; only
/// what the line cannot say (an `error` state) also explains itself on
/// stderr.
pub(super) fn probe(p: &Plan, open_only: bool) -> Result<()> {
    if p.addr.is_datagram() {
        return probe_datagram(p, open_only);
    }
    let began = Instant::now();
    let e = match transport::connect_retry(&p.addr, &p.opts, p.connect_timeout, p.source, p.retry) {
        Ok(s) => {
            let _ = s.shutdown(Shutdown::Both);
            probe_result(p, open_only, &scan::State::Open);
            return Ok(());
        }
        Err(e) => e,
    };
    let state = match &e {
        Error::Usage(_) => return Err(e),
        Error::Timeout(_) => scan::State::Filtered(to_millis(began.elapsed())),
        e if refused_by_target(p, e) => scan::State::Closed,
        e => scan::State::Error(e.to_string()),
    };
    Err(concluded(p, open_only, state, e))
}

/// Whether a failed connect means the target refused: our own words for
/// ECONNREFUSED (error::describe), directly or after a retry's; through a
/// proxy, only its SOCKS answer "connection refused" (reply 5) says that
/// (the proxy refusing us says nothing about the target, and an HTTP
/// proxy's error status does not say why).
pub(super) fn refused_by_target(p: &Plan, e: &Error) -> bool {
    let text = e.to_string();
    match p.opts.proxy {
        Some(_) => text.ends_with("(SOCKS reply 5)"),
        None => text.ends_with("Connection refused"),
    }
}

/// A failed probe's line, and its error once the line is out: a closed
/// or silent port is said there, so only the exit code stays (as in a
/// scan, and `-q` silences both); an `error` still explains itself on
/// stderr.
fn concluded(p: &Plan, open_only: bool, state: scan::State, e: Error) -> Error {
    probe_result(p, open_only, &state);
    match state {
        scan::State::Error(_) => e,
        _ => Error::Exit(e.exit_code()),
    }
}

/// A probe's time, to the millisecond (as a scan's is given).
pub(super) fn to_millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// A probe's result line; a closed stdout only loses it (the exit code
/// still says).
pub(super) fn probe_result(p: &Plan, open_only: bool, state: &scan::State) {
    let _ = scan::show(&p.log, open_only, p.addr.kind(), &p.addr.to_string(), state);
}

/// UDP cannot confirm an open port: only a closed one answers (with ICMP
/// port unreachable). Say which of the two we know.
pub(super) fn probe_datagram(p: &Plan, open_only: bool) -> Result<()> {
    let d = transport::connect_dgram(&p.addr, &p.opts, p.source)?;
    let refused = |e: io::Error| {
        let state = if e.kind() == io::ErrorKind::ConnectionRefused {
            scan::State::Closed
        } else {
            scan::State::Error(crate::error::describe(&e))
        };
        concluded(p, open_only, state, probe_refused(p, e))
    };
    d.send(&[]).map_err(refused)?;
    let wait = p.wait.unwrap_or(Duration::from_secs(1));
    d.set_read_timeout(Some(wait))
        .map_err(|e| Error::io("set timeout", e))?;
    let mut buf = [0u8; 1];
    match d.recv(&mut buf) {
        Ok(_) => {
            probe_result(p, open_only, &scan::State::Open);
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            let timeout = Error::Exit(crate::error::code::TIMEOUT);
            Err(concluded(
                p,
                open_only,
                scan::State::OpenOrFiltered(wait),
                timeout,
            ))
        }
        Err(e) => Err(refused(e)),
    }
}

pub(super) fn probe_refused(p: &Plan, e: io::Error) -> Error {
    Error::io(format!("{} {}", p.addr.kind(), p.addr), e)
}
