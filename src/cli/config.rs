//! The one place where parsed arguments become validated configuration
//! (ripgrep's "low" and "high" arguments): addresses are parsed, handlers
//! chosen, access lists compiled and conflicting options refused here, and
//! no later code sees the raw strings.

use std::fs::File;
use std::net::SocketAddr;

use super::ThreadServeArgs;
use super::{CommonArgs, ForkServeArgs, HandlerArgs, LogFormat, SendArgs, ServeArgs, ServerArgs};
use crate::access::Access;
use crate::addr::{self, Addr, Family};
use crate::error::{Error, Result};
use crate::event::{Level, Log};
use crate::handler::Spec;
use crate::handler::drive::Drive;
use crate::handler::forward::Forward;
use crate::runtime;
use crate::send::{self, Input, Job, Plan, load, progress};
use crate::transport::Opts;

/// How events are logged.
pub fn log(c: &CommonArgs) -> Log {
    let level = if c.quiet {
        Level::Quiet
    } else if c.verbose {
        Level::Verbose
    } else {
        Level::Normal
    };
    Log {
        level,
        json: c.log_format == LogFormat::Json,
        upstream: None,
    }
}

pub fn family(c: &CommonArgs) -> Family {
    if c.ipv4 {
        Family::V4
    } else if c.ipv6 {
        Family::V6
    } else {
        Family::Any
    }
}

/// The handler chosen on the command line (`--forward`'s target is
/// checked apart, in [`server`]).
pub fn handler(h: &HandlerArgs, broker: bool) -> Spec {
    if broker {
        Spec::Broker
    } else if let Some(text) = &h.reply {
        // Bytes as given (Linux arguments need not be UTF-8); the newline
        // is added once here, not per connection.
        use std::os::unix::ffi::OsStrExt;
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(b'\n');
        Spec::Reply(bytes.into())
    } else if h.echo {
        Spec::Echo
    } else if h.discard {
        Spec::Discard
    } else if let Some(argv) = &h.exec {
        Spec::Exec(argv.iter().cloned().collect())
    } else if let Some(cmd) = &h.sh_exec {
        Spec::Exec(vec!["/bin/sh".into(), "-c".into(), cmd.clone()].into())
    } else {
        Spec::Print
    }
}

/// `serve`: no pool of workers; `--max-conns` alone bounds it.
pub fn serve(a: &ServeArgs) -> Result<runtime::Config> {
    let mut cfg = server(&a.server, a.broker, u64::MAX)?;
    cfg.stall = Some(a.stall_timeout);
    Ok(cfg)
}

pub fn fork_serve(a: &ForkServeArgs) -> Result<runtime::Config> {
    server(&a.server, false, a.max_children)
}

pub fn thread_serve(a: &ThreadServeArgs) -> Result<runtime::Config> {
    server(&a.server, false, a.max_threads)
}

/// What the three servers share. `pool` is the model's own bound on
/// connections served at once (children, threads).
fn server(args: &ServerArgs, broker: bool, pool: u64) -> Result<runtime::Config> {
    if args
        .handler
        .sh_exec
        .as_deref()
        .is_some_and(|c| c.to_string_lossy().trim().is_empty())
    {
        return Err(Error::usage("--sh-exec needs a command line"));
    }
    let mut spec = handler(&args.handler, broker);
    if let Spec::Exec(argv) = &spec {
        check_program(&argv[0])?;
    }
    let addr = address(&args.addr, args.common.udp, args.common.unix)?;
    let mut log = log(&args.common);
    let mut idle = args.idle_timeout;
    if let Some(raw) = &args.handler.forward {
        let f = forward(raw, args, &addr)?;
        if addr.is_datagram() || f.addr.is_datagram() {
            // A datagram session has no FIN to end it: only quiet does.
            idle = idle.or(Some(crate::handler::forward::SESSION_IDLE));
        }
        log.upstream = Some(f.shown);
        spec = Spec::Forward(f.into());
    }
    if args.mode.is_some() && !matches!(addr, Addr::Unix { .. }) {
        return Err(Error::usage(format!(
            "--mode sets a Unix socket file's permissions; {} has no file",
            addr.kind()
        )));
    }
    if matches!(spec, Spec::Broker) && addr.is_datagram() {
        return Err(Error::usage(format!(
            "--broker relays between connections; {} has none (use tcp or unix)",
            addr.kind()
        )));
    }
    Ok(runtime::Config {
        access: Access::new(&args.allow, &args.deny)?,
        opts: Opts {
            family: family(&args.common),
            backlog: args.backlog,
            keepalive: args.common.keepalive,
            nodelay: args.common.nodelay,
            mode: args.mode,
        },
        addr,
        spec,
        log,
        limit: if args.once { Some(1) } else { args.count },
        max_conns: args.max_conns,
        pool,
        grace: args.grace,
        // Only serve relays between connections (stdin, --broker).
        stall: None,
        drive: Drive {
            idle,
            hex: args.common.hex,
            count: args.common.verbose,
        },
    })
}

/// `--forward ADDR`: the target, checked against the listening address.
fn forward(raw: &std::ffi::OsStr, args: &ServerArgs, listen: &Addr) -> Result<Forward> {
    // The target is written whole (udp://, unixgram:): -u and -U shape the
    // listening address only.
    let target = address(raw, false, false).map_err(|e| match e {
        Error::Usage(m) => Error::usage(format!("--forward: {m}")),
        e => e,
    })?;
    if listen.is_datagram() && !target.is_datagram() {
        return Err(Error::usage(format!(
            "--forward {target}: a {} server forwards datagrams to a datagram address \
             (udp://HOST:PORT or unixgram:PATH)",
            listen.kind()
        )));
    }
    // One string for the server's life, shown in every event about it.
    let shown = match &target {
        Addr::Inet {
            proto: addr::Proto::Udp,
            ..
        } => format!("udp://{target}"),
        Addr::Inet { .. } => target.to_string(),
        Addr::Unix { dgram: true, .. } => format!("unixgram:{target}"),
        Addr::Unix { dgram: false, .. } => format!("unix:{target}"),
    };
    let shown: &'static str = Box::leak(shown.into_boxed_str());
    Ok(Forward {
        addr: target,
        shown,
        opts: Opts {
            family: family(&args.common),
            backlog: 0,
            keepalive: args.common.keepalive,
            nodelay: args.common.nodelay,
            mode: None,
        },
        timeout: args
            .connect_timeout
            .unwrap_or(crate::handler::forward::CONNECT_TIMEOUT),
    })
}

/// `send`: what to do, and how.
pub fn send(args: &SendArgs) -> Result<send::Config> {
    let addr = address(&args.addr, args.common.udp, args.common.unix)?;
    let source = args.source.as_deref().map(source).transpose()?;
    let plan = Plan {
        opts: Opts {
            family: family(&args.common),
            backlog: 0,
            keepalive: args.common.keepalive,
            nodelay: args.common.nodelay,
            mode: None,
        },
        source,
        connect_timeout: args.connect_timeout,
        retry: args.retry,
        idle: args.idle_timeout,
        wait: args.wait,
        no_shutdown: args.no_shutdown,
        crlf: args.crlf,
        hex: args.common.hex,
        progress: progress::Mode::from_flags(args.progress, args.no_progress),
        log: log(&args.common),
        addr,
    };
    let message = (!args.message.is_empty()).then(|| {
        let mut m = args.message.join(" ").into_bytes();
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
    if args.probe && !args.message.is_empty() && amount.is_none() {
        return Err(Error::usage(format!(
            "-z only checks the port and sends nothing; drop the words '{}'",
            args.message.join(" ")
        )));
    }
    let job = if let Some(amount) = amount {
        Job::Load {
            amount,
            concurrency: args.concurrency,
            message: message.unwrap_or_default(),
        }
    } else if args.probe {
        Job::Probe
    } else {
        Job::Exchange(match (message, &args.file) {
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
    Ok(send::Config { plan, job })
}

/// `--source`: `HOST:PORT`, `:PORT` or `HOST` (an IP address).
fn source(s: &str) -> Result<SocketAddr> {
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 0));
    }
    match addr::parse(s)? {
        Addr::Inet { host, port, .. } => {
            let host = if s.starts_with(':') {
                "0.0.0.0".to_string()
            } else {
                host
            };
            let all = addr::resolve(&host, port, addr::Family::Any)?;
            Ok(all[0])
        }
        Addr::Unix { .. } => Err(Error::usage("--source takes an IP address and/or port")),
    }
}

/// `--exec PROG`: PROG must name an executable file, found the way exec
/// finds it (a path, or a name looked up in PATH). Found at start, not by
/// the first client.
fn check_program(prog: &std::ffi::OsStr) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let shown = prog.to_string_lossy();
    if shown.contains('/') {
        if runnable(Path::new(prog)) {
            return Ok(());
        }
        return Err(Error::usage(format!(
            "--exec {shown}: no executable file there"
        )));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| runnable(&d.join(prog))) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "--exec {shown}: no such program in PATH"
    )))
}

/// An address argument. Host names are ASCII, but a Unix socket path is
/// any bytes Linux allows, so a path that is not UTF-8 is taken as bytes.
fn address(raw: &std::ffi::OsStr, udp: bool, unix: bool) -> Result<Addr> {
    use std::os::unix::ffi::OsStrExt;
    if let Some(s) = raw.to_str() {
        return addr::parse_with(s, udp, unix);
    }
    let bytes = raw.as_bytes();
    let (rest, dgram) = if let Some(r) = bytes.strip_prefix(b"unixgram:") {
        (r, true)
    } else if let Some(r) = bytes.strip_prefix(b"unix:") {
        (r, udp)
    } else if unix {
        (bytes, udp)
    } else {
        return Err(Error::usage(format!(
            "invalid address '{}': only a Unix socket path may hold bytes that are not UTF-8",
            raw.to_string_lossy()
        )));
    };
    if rest.is_empty() {
        return Err(Error::usage("empty Unix socket path"));
    }
    let name = match rest.strip_prefix(b"@") {
        Some(n) => addr::UnixName::Abstract(n.to_vec()),
        None => addr::UnixName::Path(std::ffi::OsStr::from_bytes(rest).into()),
    };
    Ok(Addr::Unix { name, dgram })
}
