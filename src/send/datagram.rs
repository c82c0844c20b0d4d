//! `send` over UDP or a Unix datagram socket: each input line (or the
//! message) is one datagram, and replies are printed until `--wait` passes
//! without one.

use super::*;

/// UDP and Unix datagram: one datagram per message or stdin line; print
/// replies until `--wait` (default 1s) passes without one.
pub(super) fn datagrams(p: &Plan, input: Input) -> Result<()> {
    let d = transport::connect_dgram(&p.addr, &p.opts, p.source)?;
    let d = Arc::new(d);
    let wait = p.wait.unwrap_or(Duration::from_secs(1));
    let last_sent = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let (tx, rx) = mpsc::channel::<Result<()>>();
    {
        let d = d.clone();
        let last_sent = last_sent.clone();
        let (crlf, hex, label) = (p.crlf, p.hex, p.addr.to_string());
        std::thread::spawn(move || {
            let mut send = |dgram: &[u8]| -> Result<()> {
                let data = if crlf { to_crlf(dgram) } else { dgram.to_vec() };
                if hex {
                    hex_to_stderr(&label, '>', 0, &data);
                }
                d.send(&data).map_err(|e| Error::io("send datagram", e))?;
                last_sent.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                Ok(())
            };
            let r = match input {
                Input::Message(m) => send(&m),
                Input::File(f, _) => send_lines(io::BufReader::new(f), &mut send),
                Input::Stdin => send_lines(io::stdin().lock(), &mut send),
            };
            let _ = tx.send(r);
        });
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut input_done = false;
    let mut last_reply = Instant::now();
    loop {
        if !input_done {
            match rx.try_recv() {
                Ok(r) => {
                    r?;
                    input_done = true;
                    last_reply = Instant::now();
                }
                Err(mpsc::TryRecvError::Disconnected) => input_done = true,
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        let left = if input_done {
            let since = last_reply.elapsed().min(
                epoch
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last_sent.load(Ordering::Relaxed))),
            );
            let rem = wait.saturating_sub(since);
            if rem.is_zero() {
                return Ok(());
            }
            rem.min(Duration::from_millis(100))
        } else {
            Duration::from_millis(100)
        };
        d.set_read_timeout(Some(left))
            .map_err(|e| Error::io("set timeout", e))?;
        match d.recv(&mut buf) {
            Ok(n) => {
                last_reply = Instant::now();
                if p.hex {
                    hex_to_stderr(&p.addr.to_string(), '<', 0, &buf[..n]);
                }
                stdout_write(&buf[..n]).map_err(stdout_err)?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                return Err(Error::runtime(format!(
                    "{} {}: {}",
                    p.addr.kind(),
                    p.addr,
                    describe(&e)
                )));
            }
        }
    }
}

/// The longest input line that becomes one datagram. No socket takes a
/// datagram this large (UDP's limit is 64 KiB), so a longer line is an
/// error, found before it fills memory (`--file /dev/zero`).
pub(super) const MAX_LINE: usize = 1 << 20;

pub(super) fn send_lines(
    mut r: impl BufRead,
    send: &mut impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read input", e))?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            return Err(Error::runtime(format!(
                "an input line is longer than {} MiB: too long for one datagram",
                MAX_LINE >> 20
            )));
        }
        send(&line)?;
    }
}
