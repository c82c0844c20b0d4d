//! `send`'s command line checked and planned: the address (netcat's
//! `HOST PORT` too), the job (an exchange, a probe or scan, load mode, a
//! program), `--hold` and what each refuses beside the others.

use super::*;

/// `send`: what to do, and how.
pub fn send(args: &SendArgs) -> Result<Send> {
    netcat_quit_after(args)?;
    // netcat's `HOST PORT`: a port-less host followed by a port is one
    // address, not a host and a message.
    let joined = (!args.message_after_dashes)
        .then(|| netcat_form(&args.addr, &args.message, args.common.unix))
        .flatten();
    let (raw, words) = match joined {
        Some((a, rest)) => (a.into(), rest),
        None => (args.addr.clone(), &args.message[..]),
    };
    let exec = send_exec(args, words)?;
    // Several ports: `HOST PORTS` (above) or `HOST:PORTS`.
    let ports = raw
        .to_str()
        .and_then(|r| r.rsplit_once(':'))
        .filter(|(h, p)| !h.ends_with(':') && send::scan::is_port_list(p))
        .map(|(h, p)| {
            let h = if h.is_empty() { addr::DEFAULT_HOST } else { h };
            (h.to_string(), p.to_string())
        });
    if let Some((host, spec)) = &ports {
        return scan_job(args, host, spec, words);
    }
    let (raw, tls, ws_url) = strip_layers(&raw, args.tls.tls, args.common.udp, args.common.unix)?;
    unused_flags(&args.ws, &[], false, ws_url.is_some())?;
    let addr = address(&raw, args.common.udp, args.common.unix)?;
    if addr_port(&addr) == Some(0) {
        return Err(Error::usage(format!("{addr}: {}", send::scan::NO_PORT_0)));
    }
    let source = args.source.as_deref().map(source).transpose()?;
    let pp = &args.proxy_protocol;
    super::proxy_protocol::send_checks(pp, Some(&addr))?;
    let mut opts = client_opts(&args.common);
    opts.ws = ws_url
        .as_ref()
        .map(|u| client_ws(u, &args.ws, !args.no_newline));
    opts.send_proxy = super::proxy_protocol::send_proxy(pp.send_proxy, pp.proxy_source);
    let proxy = proxy(args.proxy.as_deref(), &addr)?;
    let mut t = args.tls.clone();
    t.tls = tls;
    let client = Client {
        proxy,
        tls: client_tls(&t, &addr, "")?,
    };
    let (hold, wait) = hold(args, addr.is_datagram())?;
    let plan = Plan {
        opts,
        source,
        connect_timeout: args.connect_timeout,
        retry: args.retry,
        idle: args.idle_timeout,
        wait,
        hold,
        no_shutdown: args.no_shutdown,
        crlf: args.crlf,
        hex: args.common.hex,
        progress: progress::Mode::from_flags(args.progress, args.no_progress),
        log: log(&args.common),
        addr,
    };
    let message = (!words.is_empty()).then(|| {
        let mut m = words.join(" ").into_bytes();
        if !args.no_newline {
            m.push(b'\n');
        }
        m
    });
    let amount = match (args.count, args.duration) {
        (Some(n), _) => Some(load::Amount::Count(n)),
        (None, Some(window)) => Some(load::Amount::Window {
            warmup: args.warmup,
            window,
        }),
        (None, None) => None,
    };
    if args.probe && !words.is_empty() && amount.is_none() {
        return Err(words_after_probe(words));
    }
    if args.open && (!args.probe || amount.is_some()) {
        return Err(Error::usage(
            "--open shows only the open ports of a probe or a scan: it goes with -z \
             (send -z --open HOST PORTS)",
        ));
    }
    if let (Some(u), true) = (&ws_url, amount.is_some() || args.probe) {
        let what = if args.probe { "-z" } else { "load mode" };
        return Err(Error::usage(format!(
            "{what} does not speak WebSocket: {u} is for an exchange or --exec"
        )));
    }
    let job = if let Some(amount) = amount {
        SendMode::Load {
            amount,
            concurrency: args.concurrency.unwrap_or(1),
            message: message.unwrap_or_default(),
        }
    } else if args.probe {
        SendMode::Probe {
            open_only: args.open,
        }
    } else if args.scan_timeout.is_some() {
        return Err(Error::usage(
            "--scan-timeout bounds a scan: -z with several ports (send -z HOST 20-30)",
        ));
    } else if args.concurrency.is_some() {
        return Err(Error::usage(
            "--concurrency is for load mode (--count N or --duration DUR) and scans (-z HOST PORTS)",
        ));
    } else if let Some(argv) = exec {
        if plan.addr.is_datagram() {
            return Err(Error::usage(format!(
                "--exec runs a program on a stream connection (TCP, TLS, Unix); \
                 {} is a {} address",
                plan.addr,
                plan.addr.kind()
            )));
        }
        SendMode::Exec(argv)
    } else {
        SendMode::Exchange(match (message, &args.file) {
            (Some(m), _) => Input::Message(m),
            (None, Some(path)) => {
                let f = File::open(path)
                    .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
                let len = f.metadata().ok().map(|m| m.len());
                Input::File(f, len)
            }
            (None, None) => Input::Stdin,
        })
    };
    Ok(Send {
        config: send::Config { plan, job },
        client,
    })
}

pub(super) const HOLD_NOT_PROBE: &str =
    "--hold keeps a connection open after its input; -z sends nothing";

pub(super) type Dur = std::time::Duration;

/// `--hold DUR` (what a stream exchange does after its input, and the
/// one `--wait` it may have): checked against the options it would
/// contradict. Datagrams already end after a quiet `--wait`, so there
/// `--hold` is that wait. Returns the stream's hold and the `--wait`.
pub(super) fn hold(args: &SendArgs, datagram: bool) -> Result<(Option<Dur>, Option<Dur>)> {
    let Some(hold) = args.hold else {
        return Ok((None, args.wait));
    };
    let dur = |d: Dur| humantime::format_duration(d).to_string();
    if args.probe {
        return Err(Error::usage(HOLD_NOT_PROBE));
    }
    if args.count.is_some() || args.duration.is_some() {
        return Err(Error::usage(
            "--hold is for one exchange; load mode (--count, --duration) ends each at the server's close",
        ));
    }
    if datagram {
        if args.wait.is_some() {
            return Err(Error::usage(
                "for datagrams --hold and --wait are the same (end after DUR without a reply): give one",
            ));
        }
        return Ok((None, Some(hold)));
    }
    if let Some(w) = args.wait.filter(|&w| w <= hold) {
        return Err(Error::usage(format!(
            "--wait {} must be longer than --hold {}: it bounds the time after the input, and the hold is part of it",
            dur(w),
            dur(hold)
        )));
    }
    if let Some(i) = args.idle_timeout.filter(|&i| i < hold) {
        return Err(Error::usage(format!(
            "--idle-timeout {} is shorter than --hold {}: a quiet peer would be an error before the hold ends it",
            dur(i),
            dur(hold)
        )));
    }
    Ok((Some(hold), args.wait))
}

/// `send --exec PROG ARGS…` / `--sh-exec CMDLINE`: the program's argv,
/// checked, with the options that mean nothing beside it refused (the
/// program's output is what is sent, and its exit ends the conversation).
pub(super) fn send_exec(
    args: &SendArgs,
    words: &[String],
) -> Result<Option<Vec<std::ffi::OsString>>> {
    let flag = if args.sh_exec.is_some() {
        "--sh-exec"
    } else {
        "--exec"
    };
    let mut argv: Vec<std::ffi::OsString> = match (&args.exec, &args.sh_exec) {
        (Some(argv), _) => argv.clone(),
        (None, Some(cmd)) if cmd.to_string_lossy().trim().is_empty() => {
            return Err(Error::usage("--sh-exec needs a command line"));
        }
        (None, Some(cmd)) => vec!["/bin/sh".into(), "-c".into(), cmd.clone()],
        (None, None) => return Ok(None),
    };
    let refuse = |what: &str| Err(Error::usage(format!("{flag} {what}")));
    if args.probe {
        return refuse("runs a program on a connection; -z only checks the port: use one");
    }
    if args.count.is_some() || args.duration.is_some() {
        return refuse("runs one program on one connection; it is not load mode");
    }
    if !words.is_empty() {
        return refuse(&format!(
            "sends what the program writes, not MESSAGE words ('{}')",
            words.join(" ")
        ));
    }
    if args.file.is_some() {
        return refuse("sends what the program writes, not --file");
    }
    if args.no_newline || args.crlf {
        return refuse("sends the program's bytes as they are (no -n, no --crlf)");
    }
    if args.no_shutdown || args.wait.is_some() || args.hold.is_some() {
        return refuse(
            "ends the conversation with the program: its end of output is the FIN, \
             its exit ends send (no --no-shutdown, --wait or --hold)",
        );
    }
    if args.progress {
        return refuse("has no input to show progress of (no --progress)");
    }
    // `send --exec nc 127.0.0.1:9`: the address went to the program.
    let last = argv.last().and_then(|w| w.to_str());
    if let (true, Some(last)) = (args.addr == "localhost:10000", last) {
        if argv.len() >= 2 && unmistakably_an_address(last) {
            let prog: Vec<String> = argv[..argv.len() - 1]
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect();
            return Err(Error::usage(format!(
                "--exec takes the rest of the line, so '{last}' would go to {} as an argument; \
                 put the address first: sockcat send {last} --exec {}",
                prog[0],
                prog.join(" ")
            )));
        }
    }
    if let Some(words) = split_one_word(&argv) {
        argv = words;
    }
    check_program(&argv[0]).map_err(|e| unsplit_line(&argv).unwrap_or(e))?;
    Ok(Some(argv))
}

/// nc's `-q SECS`: sockcat's -q is --quiet, so the seconds became the
/// address (`send -q 1 localhost 9000`: port 1, with the real address as
/// the message) or a word of the message (`send localhost 9000 -q 1`,
/// sent in place of the input). A number right after `-q` in either place
/// is that habit, never what was meant (before the address, only when an
/// address follows: `send -q 9000 hi` is a quiet send to port 9000);
/// point to `--hold`, which does what nc's -q does.
pub(super) fn netcat_quit_after(args: &SendArgs) -> Result<()> {
    let Some(secs) = args.word_after_quiet.as_deref() else {
        return Ok(());
    };
    let number = !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && secs.parse::<f64>().is_ok();
    if !number || args.common.unix {
        return Ok(());
    }
    let hold = format!(
        "for nc's -q SECS (wait SECS after the input's end), write --hold {secs}s in its place"
    );
    if args.message.iter().any(|m| m == secs) {
        return Err(Error::usage(format!(
            "-q is --quiet, so '{secs}' became a word of the message, sent in place of the \
             input; {hold} (to send '{secs}' quietly, put it after --)"
        )));
    }
    if args.addr.to_str() != Some(secs) {
        return Ok(());
    }
    let Some(first) = args.message.first() else {
        return Ok(());
    };
    let to: Vec<&str> = match netcat_form(first.as_ref(), &args.message[1..], false) {
        Some(_) => args.message.iter().take(2).map(String::as_str).collect(),
        None if unmistakably_an_address(first) => vec![first.as_str()],
        None => return Ok(()),
    };
    let to = to.join(" ");
    let port = if secs.parse::<u16>().is_ok() {
        format!(" (to send to port {secs}, write :{secs})")
    } else {
        String::new()
    };
    Err(Error::usage(format!(
        "-q is --quiet, so '{secs}' was taken for the address and '{to}' for the message; \
         {hold}{port}"
    )))
}

/// Words after `-z`'s address: a message a probe does not send.
pub(super) fn words_after_probe(words: &[String]) -> Error {
    let w = words.join(" ");
    // `-z HOST 65536`: digits that are no port were meant as one (a probe
    // sends no message), so say what is wrong with the port.
    let digits = !words[0].is_empty() && words[0].bytes().all(|b| b.is_ascii_digit());
    if digits && words[0].parse::<u16>().is_err() {
        return Error::usage(format!(
            "port {} is too large (the largest is 65535)",
            words[0]
        ));
    }
    // (Options may follow the address: a word here that starts with '-'
    // came after `--`, so it is a word of a message too.)
    Error::usage(format!(
        "-z only checks the port and sends nothing; drop the words '{w}'"
    ))
}

/// `send -z HOST PORTS`: a scan, checked (nothing to make: it goes
/// direct, without TLS).
pub(super) fn scan_job(args: &SendArgs, host: &str, spec: &str, words: &[String]) -> Result<Send> {
    use send::scan;
    // The scan's deadline starts before any of its work, parsing included.
    let started = std::time::Instant::now();
    if !args.probe {
        return Err(Error::usage(format!(
            "'{spec}' is several ports: scanning them needs -z (send -z {host} {spec})"
        )));
    }
    if args.count.is_some() || args.duration.is_some() {
        return Err(Error::usage(
            "a scan (-z with several ports) is not load mode",
        ));
    }
    if !words.is_empty() {
        return Err(words_after_probe(words));
    }
    if args.hold.is_some() {
        return Err(Error::usage(HOLD_NOT_PROBE));
    }
    super::proxy_protocol::send_checks(&args.proxy_protocol, None)?;
    if args.proxy.is_some() {
        return Err(Error::usage(
            "a scan (-z with several ports) goes direct, not through --proxy: \
             probe one port at a time through a proxy (send -z --proxy URL HOST PORT)",
        ));
    }
    let (host, udp) = match host.strip_prefix("udp://") {
        Some(h) => (h, true),
        None => (host.strip_prefix("tcp://").unwrap_or(host), args.common.udp),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ports = scan::parse_ports(spec).map_err(Error::usage)?;
    let plan_log = log(&args.common);
    // The plan is only for the job's log: a scan connects per port.
    let plan = Plan {
        opts: client_opts(&args.common),
        source: None,
        connect_timeout: args.connect_timeout,
        retry: None,
        idle: None,
        wait: args.wait,
        hold: None,
        no_shutdown: false,
        crlf: false,
        hex: false,
        progress: progress::Mode::from_flags(false, true),
        log: plan_log,
        addr: addr::parse_with(&format!("{host}:1"), udp, false)
            .or_else(|_| addr::parse_with(&format!("[{host}]:1"), udp, false))?,
    };
    let job = SendMode::Scan(scan::Scan {
        host: host.to_string(),
        udp,
        ports,
        concurrency: args.concurrency.unwrap_or(scan::CONCURRENCY),
        per_port: args
            .connect_timeout
            .or(if udp { args.wait } else { None })
            .unwrap_or(scan::PORT_TIMEOUT),
        deadline: args.scan_timeout,
        started,
        family: family(&args.common),
        open_only: args.open,
    });
    Ok(Send {
        config: send::Config { plan, job },
        client: Client::default(),
    })
}

/// An Internet address's port (None for a Unix one).
pub(super) fn addr_port(a: &Addr) -> Option<u16> {
    match a {
        Addr::Inet { port, .. } => Some(*port),
        Addr::Unix { .. } => None,
    }
}

/// The netcat address form, `send HOST PORT`: when the address names a
/// host without a port (`localhost`, `[::1]`, `udp://db`) and the first
/// word is a port, they are one address (`localhost:9000`), and the words
/// after it are the message. A message of digits alone after a port-less
/// host is the rare case; writing the address whole settles it
/// (`send localhost:10000 9000`).
pub(super) fn netcat_form<'a>(
    addr: &std::ffi::OsStr,
    words: &'a [String],
    unix: bool,
) -> Option<(String, &'a [String])> {
    let (first, rest) = words.split_first()?;
    let a = addr.to_str()?;
    if unix || !addr::is_portless_host(a) {
        return None;
    }
    let one_port = !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_digit())
        && first.parse::<u16>().is_ok();
    if !one_port && !send::scan::is_port_list(first) {
        return None;
    }
    Some((format!("{a}:{first}"), rest))
}
