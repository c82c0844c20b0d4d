//! The one place where parsed arguments become validated configuration
//! (ripgrep's "low" and "high" arguments): addresses are parsed, handlers
//! chosen, access lists compiled and conflicting options refused here, and
//! no later code sees the raw strings.
//!
//! Nothing is made, bound or adopted here: what needs making (inherited
//! sockets adopted, a certificate generated or loaded, trust loaded, a
//! proxy's name looked up) is planned here and made by `start`, right
//! after. A server's checks leave no descriptor open, so that `start`
//! adopts `fd:N` before anything else holds a number.

use std::fs::File;
use std::net::SocketAddr;

use super::ThreadServeArgs;
use super::{
    ClientTlsArgs, CommonArgs, ForkServeArgs, HandlerArgs, LogFormat, SendArgs, ServeArgs,
    ServerArgs,
};
use crate::access::Access;
use crate::addr::{self, Addr, Family, Kind};
use crate::error::{Error, Result};
use crate::event::{Level, Log};
use crate::handler::Spec;
use crate::handler::drive::Drive;
use crate::handler::forward::Forward;
use crate::runtime;
use crate::send::{self, Input, Job, Plan, load, progress};
use crate::transport::{Opts, tls};

/// A server as its command line asks for it, checked, with nothing made
/// yet: `start::server` adopts or leaves to bind what `listen` names,
/// makes the TLS settings and the proxy, and gives the models their
/// `runtime::Config`.
pub struct Server {
    pub listen: Wanted,
    /// A TLS server's certificate and trust, to make.
    pub tls: Option<tls::ServerSpec>,
    pub handler: Handler,
    /// The socket options, without the TLS settings.
    pub opts: Opts,
    pub settings: runtime::Settings,
}

/// Where a server's sockets are to come from.
pub enum Wanted {
    /// An address, bound by `runtime::setup`.
    Bind(Addr),
    /// Inherited sockets (`fd:N`, `systemd[:NAME]`, `stdio`), adopted at
    /// start. `udp` is `-u`; `prints`: the handler writes to stdout.
    Inherit {
        which: addr::Inherited,
        udp: bool,
        prints: bool,
    },
}

/// The handler as checked: `--forward`'s upstream still needs its proxy
/// and TLS made.
pub enum Handler {
    Spec(Spec),
    Forward(Box<Upstream>),
}

/// `--forward`: the target, with options that lack the proxy and TLS, and
/// what to make of them.
pub struct Upstream {
    pub forward: Forward,
    pub client: Client,
}

/// What a client's connections need made at start: the proxy (its name
/// looked up) and TLS (trust and identity loaded).
#[derive(Default)]
pub struct Client {
    pub proxy: Option<addr::ProxyUrl>,
    pub tls: Option<tls::ClientSpec>,
}

/// `send` as checked: the job and its plan (whose options lack the proxy
/// and TLS), and what `start::send` makes for its connections.
pub struct Send {
    pub config: send::Config,
    pub client: Client,
}

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
pub fn serve(a: &ServeArgs) -> Result<Server> {
    let mut cfg = server("serve", &a.server, a.broker, u64::MAX)?;
    cfg.settings.stall = Some(a.stall_timeout);
    Ok(cfg)
}

/// `--max-children` unless given: room for a real client's keep-alive
/// pool (Python's ForkingMixIn stops at 40, and `ab -k -c 50` then left
/// ten connections in the backlog for good), within the user's process
/// limit, past which fork would fail anyway.
pub const MAX_CHILDREN: u64 = 256;

pub fn fork_serve(a: &ForkServeArgs) -> Result<Server> {
    let max = a.max_children.unwrap_or_else(|| {
        crate::sys::process_limit().map_or(MAX_CHILDREN, |l| l.clamp(1, MAX_CHILDREN))
    });
    server("fork-serve", &a.server, false, max)
}

pub fn thread_serve(a: &ThreadServeArgs) -> Result<Server> {
    server("thread-serve", &a.server, false, a.max_threads)
}

/// What the three servers share. `pool` is the model's own bound on
/// connections served at once (children, threads).
fn server(cmd: &str, args: &ServerArgs, broker: bool, pool: u64) -> Result<Server> {
    check_exec_order(cmd, args)?;
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
        if let Some(words) = split_one_word(argv) {
            spec = Spec::Exec(words.into());
        }
    }
    if let Spec::Exec(argv) = &spec {
        check_program(&argv[0]).map_err(|e| unsplit_line(argv).unwrap_or(e))?;
    }
    let raw = args
        .addr
        .clone()
        .unwrap_or_else(|| super::DEFAULT_SERVER_ADDR.into());
    let opts = Opts {
        family: family(&args.common),
        backlog: args.backlog,
        keepalive: args.common.keepalive,
        // A forwarder in the middle must not add Nagle's delay to small
        // writes on either side (nginx's stream proxy does the same); the
        // upstream side is set in `forward`.
        nodelay: args.common.nodelay || args.handler.forward.is_some(),
        mode: args.mode,
        proxy: None,
        tls_server: None,
        tls_client: None,
    };
    let (raw, tls) = strip_tls(&raw, args.tls.tls, args.common.udp)?;
    // With -U the argument is a path, whatever it looks like.
    let inherited = (!args.common.unix)
        .then(|| raw.to_str().and_then(addr::parse_inherited))
        .flatten()
        .transpose()?;
    // Ok: an address to bind; Err: inherited sockets.
    let wanted: std::result::Result<Addr, addr::Inherited> = match inherited {
        Some(which) => Err(which),
        None => Ok(address(&raw, args.common.udp, args.common.unix)?),
    };
    // The sockets' kind: known now for an address to bind; an inherited
    // socket tells its own once adopted, and `by_kind` checks it then.
    let kind = wanted.as_ref().ok().map(Addr::kind);
    let tls = if tls {
        Some(server_tls(&args.tls, &raw)?)
    } else {
        no_server_tls(&args.tls)?;
        None
    };
    let listen = match wanted {
        Ok(a) => Wanted::Bind(a),
        Err(which) => Wanted::Inherit {
            which,
            udp: args.common.udp,
            prints: matches!(spec, Spec::Print) && args.handler.forward.is_none(),
        },
    };
    let mut log = log(&args.common);
    let handler = match &args.handler.forward {
        Some(raw) => {
            let up = forward(raw, args)?;
            log.upstream = Some(up.forward.shown.clone());
            Handler::Forward(up.into())
        }
        None => Handler::Spec(spec),
    };
    if args.mode.is_some() && !matches!(listen, Wanted::Bind(Addr::Unix { .. })) {
        return Err(Error::usage(match (&listen, kind) {
            (Wanted::Bind(_), Some(kind)) => {
                format!("--mode sets a Unix socket file's permissions; {kind} has no file")
            }
            _ => "--mode sets the permissions of a socket file sockcat makes; an inherited \
                  socket's file belongs to whoever made it"
                .to_string(),
        }));
    }
    let mut plan = Server {
        listen,
        tls,
        handler,
        opts,
        settings: runtime::Settings {
            access: Access::new(&args.allow, &args.deny)?,
            log: log.clone(),
            limit: if args.once { Some(1) } else { args.count },
            max_conns: args.max_conns,
            pool,
            pool_flag: match cmd {
                "fork-serve" => "--max-children",
                "thread-serve" => "--max-threads",
                _ => "",
            },
            grace: args.grace,
            // Only serve relays between connections (stdin, --broker).
            stall: None,
            drive: Drive {
                log,
                idle: args.idle_timeout,
                hex: args.common.hex,
                count: args.common.verbose,
            },
        },
    };
    if let Some(k) = kind {
        by_kind(&mut plan, k)?;
    }
    Ok(plan)
}

/// What the listening sockets' kind decides: checked in [`server`] for an
/// address to bind, and by `start` for an inherited socket as soon as it
/// is adopted (the socket tells its kind), before anything is made.
pub fn by_kind(plan: &mut Server, kind: Kind) -> Result<()> {
    tls_kind(plan.tls.is_some(), kind)?;
    if let Handler::Forward(up) = &plan.handler {
        let target = &up.forward.addr;
        if kind.is_datagram() && !target.is_datagram() {
            return Err(Error::usage(format!(
                "--forward {target}: a {kind} server forwards datagrams to a datagram address \
                 (udp://HOST:PORT or unixgram:PATH)"
            )));
        }
        if kind.is_datagram() || target.is_datagram() {
            // A datagram session has no FIN to end it: only quiet does.
            let idle = &mut plan.settings.drive.idle;
            *idle = idle.or(Some(crate::handler::forward::SESSION_IDLE));
        }
    }
    if matches!(plan.handler, Handler::Spec(Spec::Broker)) && kind.is_datagram() {
        return Err(Error::usage(format!(
            "--broker relays between connections; {kind} has none (use tcp or unix)"
        )));
    }
    Ok(())
}

/// TLS on a listening socket of this kind: only a stream has it.
fn tls_kind(tls: bool, kind: Kind) -> Result<()> {
    if tls && kind.is_datagram() {
        Err(Error::usage(format!(
            "TLS runs over a TCP or Unix stream socket, not {kind}"
        )))
    } else {
        Ok(())
    }
}

/// `--exec` takes the rest of the line: with no address before it, an
/// address at its end was meant for the server (`serve --exec cat
/// 127.0.0.1:0` would bind the default and run `cat 127.0.0.1:0`). Say
/// the right order instead of doing that.
fn check_exec_order(cmd: &str, args: &ServerArgs) -> Result<()> {
    let (None, Some(argv)) = (&args.addr, &args.handler.exec) else {
        return Ok(());
    };
    let Some(last) = argv.last().and_then(|w| w.to_str()) else {
        return Ok(());
    };
    if argv.len() < 2 || !unmistakably_an_address(last) {
        return Ok(());
    }
    let prog: Vec<String> = argv[..argv.len() - 1]
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    Err(Error::usage(format!(
        "--exec takes the rest of the line, so '{last}' would go to {} as an argument; \
         put the address first: sockcat {cmd} {last} --exec {}",
        prog[0],
        prog.join(" ")
    )))
}

/// An address no program argument is likely to be: a sockcat scheme, a
/// Unix socket form, `[V6]:PORT`, or `HOST:PORT` / `:PORT` with a numeric
/// port (never a bare word or number).
fn unmistakably_an_address(w: &str) -> bool {
    if ["tcp://", "udp://", "unix:", "unixgram:"]
        .iter()
        .any(|p| w.starts_with(p))
    {
        return true;
    }
    let Some((host, port)) = w.rsplit_once(':') else {
        return false;
    };
    let port_ok =
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
    let host_ok = if let Some(v6) = host.strip_prefix('[') {
        v6.ends_with(']')
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    port_ok && host_ok
}

/// `--exec "/bin/cat -n"`: one word holding spaces is a command line typed
/// the ncat way; split it on whitespace (no shell), unless it names a file.
fn split_one_word(argv: &[std::ffi::OsString]) -> Option<Vec<std::ffi::OsString>> {
    let [one] = argv else { return None };
    let s = one.to_str()?;
    if !s.trim().contains(char::is_whitespace) || std::path::Path::new(s).exists() {
        return None;
    }
    Some(s.split_whitespace().map(Into::into).collect())
}

/// `--exec 'tr a-z A-Z' -v`: a quoted command line is split only when it
/// is `--exec`'s only word (the words after it could be its arguments or
/// be meant for sockcat), so no program has the name tried. Say what was
/// tried, and both ways to write what was meant.
fn unsplit_line(argv: &[std::ffi::OsString]) -> Option<Error> {
    let first = argv.first()?.to_str()?;
    if argv.len() < 2 || !first.trim().contains(char::is_whitespace) {
        return None;
    }
    let rest: Vec<_> = argv[1..].iter().map(|w| w.to_string_lossy()).collect();
    let rest = rest.join(" ");
    let words: Vec<&str> = first.split_whitespace().collect();
    Some(Error::usage(format!(
        "--exec '{first}' {rest}: no program is named '{first}'; a quoted command line \
         is split only when it is --exec's only word, and --exec takes the rest of the \
         line: for sockcat's {rest}, put it before --exec; for the program's, write the \
         words apart (--exec {} {rest})",
        words.join(" ")
    )))
}

/// Socket options of a connection sockcat opens (a client's, a
/// forwarder's upstream): no backlog, no socket file.
fn client_opts(c: &CommonArgs) -> Opts {
    Opts {
        family: family(c),
        backlog: 0,
        keepalive: c.keepalive,
        nodelay: c.nodelay,
        mode: None,
        proxy: None,
        tls_server: None,
        tls_client: None,
    }
}

/// `--proxy URL` for connections to `target`, parsed (`start` looks its
/// name up, once: the proxy is the same for every connection). Only TCP
/// goes through a proxy.
fn proxy(raw: Option<&str>, target: &Addr) -> Result<Option<addr::ProxyUrl>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let url = addr::parse_proxy(raw)?;
    if !matches!(
        target,
        Addr::Inet {
            proto: addr::Proto::Tcp,
            ..
        }
    ) {
        return Err(Error::usage(format!(
            "--proxy carries TCP connections; {} is a {} address",
            target,
            target.kind()
        )));
    }
    Ok(Some(url))
}

/// Said on stderr whenever `--insecure` is in force (by `start`, once the
/// client's TLS is made).
pub const INSECURE: &str = "--insecure: the server's certificate is not verified; \
                        anyone on the path can read and change the traffic";

/// `tls://REST` is `tcp://REST` with TLS; `--tls` (`flag`) asks for TLS on
/// any stream address. Returns the address without `tls://`, and whether
/// TLS was asked for. `udp` is `-u`, which `tls://` contradicts.
fn strip_tls(raw: &std::ffi::OsStr, flag: bool, udp: bool) -> Result<(std::ffi::OsString, bool)> {
    match raw.to_str().and_then(|s| s.strip_prefix("tls://")) {
        Some(_) if udp => Err(Error::usage(format!(
            "-u conflicts with the address '{}' (TLS runs over TCP)",
            raw.to_string_lossy()
        ))),
        Some(rest) => Ok((format!("tcp://{rest}").into(), true)),
        None => Ok((raw.to_owned(), flag)),
    }
}

/// The names a generated certificate carries: the host the server binds
/// (with both loopback addresses for `localhost`, and `localhost` for a
/// loopback address; this machine's name and loopback for a wildcard or an
/// inherited socket).
fn certificate_names(raw: &std::ffi::OsStr) -> Vec<String> {
    let loopback = || vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let host = match raw.to_str() {
        // An inherited socket (stdio, fd:N, systemd): any address, as a wildcard.
        Some(s) if addr::parse_inherited(s).is_some() => String::new(),
        Some(s) => match addr::parse(s) {
            Ok(Addr::Inet { host, .. }) => host,
            _ => return loopback(),
        },
        None => return loopback(),
    };
    let wildcard = host.is_empty()
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
    if wildcard {
        let mut names = loopback();
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let h = h.trim();
            if !h.is_empty() {
                names.insert(0, h.to_string());
            }
        }
        names
    } else if host == "localhost" {
        loopback()
    } else if host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        // A loopback address is also reached as localhost.
        vec![host, "localhost".into()]
    } else {
        vec![host]
    }
}

/// `--alpn h2,http/1.1`.
fn alpn(list: Option<&str>) -> Result<Vec<Vec<u8>>> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let protos: Vec<Vec<u8>> = list
        .split(',')
        .map(|p| p.trim().as_bytes().to_vec())
        .collect();
    if protos.iter().any(|p| p.is_empty() || p.len() > 255) {
        return Err(Error::usage(format!(
            "--alpn {list}: protocol names are 1-255 bytes, comma-separated"
        )));
    }
    Ok(protos)
}

/// A server's TLS, as `start` is to make it.
fn server_tls(t: &super::ServerTlsArgs, raw: &std::ffi::OsStr) -> Result<tls::ServerSpec> {
    Ok(tls::ServerSpec {
        identity: t.cert.clone().zip(t.key.clone()),
        save: t.save_cert.clone().zip(t.save_key.clone()),
        client_ca: t.client_ca.clone(),
        alpn: alpn(t.alpn.as_deref())?,
        names: certificate_names(raw),
    })
}

/// A server's TLS options without TLS: a mistake worth a word.
fn no_server_tls(t: &super::ServerTlsArgs) -> Result<()> {
    let given = [
        ("--cert", t.cert.is_some()),
        ("--save-cert", t.save_cert.is_some()),
        ("--client-ca", t.client_ca.is_some()),
        ("--alpn", t.alpn.is_some()),
    ];
    match given.iter().find(|g| g.1) {
        Some((flag, _)) => Err(Error::usage(format!(
            "{flag} is for a TLS server: listen on tls://HOST:PORT (or add --tls)"
        ))),
        None => Ok(()),
    }
}

/// A client's TLS for connections to `target`, as `start` is to make it
/// (None without TLS, where TLS options are refused). `what` names the
/// option, for a forwarder.
fn client_tls(t: &ClientTlsArgs, target: &Addr, what: &str) -> Result<Option<tls::ClientSpec>> {
    let trusts = t.cacert.is_some() || !t.pin.is_empty() || t.insecure || t.sni.is_some();
    if !t.tls {
        if trusts || t.cert.is_some() || t.alpn.is_some() {
            let target_hint = if what.is_empty() {
                "tls://HOST:PORT (or add --tls)"
            } else {
                "--forward tls://HOST:PORT"
            };
            return Err(Error::usage(format!(
                "--cacert, --pin, --insecure, --sni, --cert and --alpn are for TLS: \
                 connect to {target_hint}"
            )));
        }
        return Ok(None);
    }
    let stream = matches!(
        target,
        Addr::Inet {
            proto: addr::Proto::Tcp,
            ..
        } | Addr::Unix { dgram: false, .. }
    );
    if !stream {
        return Err(Error::usage(format!(
            "TLS runs over a TCP or Unix stream socket, not {}",
            target.kind()
        )));
    }
    if t.insecure && !t.pin.is_empty() {
        return Err(Error::usage(
            "--insecure and --pin contradict each other: a pin is verification",
        ));
    }
    if matches!(target, Addr::Unix { .. }) && t.pin.is_empty() && !t.insecure && t.sni.is_none() {
        return Err(Error::usage(
            "a Unix socket has no host name to verify: give --pin, or --cacert with --sni NAME",
        ));
    }
    let pins = t
        .pin
        .iter()
        .map(|p| tls::parse_pin(p))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(tls::ClientSpec {
        cacert: t.cacert.clone(),
        pins,
        insecure: t.insecure,
        sni: t.sni.clone(),
        identity: t.cert.clone().zip(t.key.clone()),
        alpn: alpn(t.alpn.as_deref())?,
    }))
}

/// `--forward ADDR`: the target (checked against the listening sockets'
/// kind by [`by_kind`]).
fn forward(raw: &std::ffi::OsStr, args: &ServerArgs) -> Result<Upstream> {
    // The target is written whole (udp://, unixgram:): -u and -U shape the
    // listening address only.
    let (raw, tls) = strip_tls(raw, false, false)?;
    let target = address(&raw, false, false).map_err(|e| match e {
        Error::Usage(m) => Error::usage(format!("--forward: {m}")),
        e => e,
    })?;
    if addr_port(&target) == Some(0) {
        return Err(Error::usage(format!(
            "--forward {target}: a forward connects to its upstream's real port; {}",
            send::scan::NO_PORT_0
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
    let mut opts = client_opts(&args.common);
    // No Nagle on the upstream side either (see `server`).
    opts.nodelay = true;
    let proxy = proxy(args.proxy.as_deref(), &target)?;
    let t = &args.tls;
    let verify = ClientTlsArgs {
        tls,
        cacert: t.cacert.clone(),
        pin: t.pin.clone(),
        insecure: t.insecure,
        sni: t.sni.clone(),
        ..ClientTlsArgs::default()
    };
    let tls_spec = client_tls(&verify, &target, "--forward")?;
    let shown = if tls { format!("tls://{shown}") } else { shown };
    let forward = Forward {
        addr: target,
        shown: shown.into(),
        opts,
        timeout: args
            .connect_timeout
            .unwrap_or(crate::handler::forward::CONNECT_TIMEOUT),
        half_close: args
            .half_close_timeout
            .unwrap_or(crate::handler::forward::HALF_CLOSE_TIMEOUT),
    };
    Ok(Upstream {
        forward,
        client: Client {
            proxy,
            tls: tls_spec,
        },
    })
}

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
    let (raw, tls) = strip_tls(&raw, args.tls.tls, args.common.udp)?;
    let addr = address(&raw, args.common.udp, args.common.unix)?;
    if addr_port(&addr) == Some(0) {
        return Err(Error::usage(format!("{addr}: {}", send::scan::NO_PORT_0)));
    }
    let source = args.source.as_deref().map(source).transpose()?;
    let opts = client_opts(&args.common);
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
    let job = if let Some(amount) = amount {
        Job::Load {
            amount,
            concurrency: args.concurrency.unwrap_or(1),
            message: message.unwrap_or_default(),
        }
    } else if args.probe {
        Job::Probe {
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
        Job::Exec(argv)
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
    Ok(Send {
        config: send::Config { plan, job },
        client,
    })
}

const HOLD_NOT_PROBE: &str = "--hold keeps a connection open after its input; -z sends nothing";

type Dur = std::time::Duration;

/// `--hold DUR` (what a stream exchange does after its input, and the
/// one `--wait` it may have): checked against the options it would
/// contradict. Datagrams already end after a quiet `--wait`, so there
/// `--hold` is that wait. Returns the stream's hold and the `--wait`.
fn hold(args: &SendArgs, datagram: bool) -> Result<(Option<Dur>, Option<Dur>)> {
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
fn send_exec(args: &SendArgs, words: &[String]) -> Result<Option<Vec<std::ffi::OsString>>> {
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

/// nc's `-q SECS` (`send -q 1 localhost 9000`): sockcat's -q is --quiet,
/// so the seconds became the address (port 1) and the real address the
/// message. A number-looking address with an address right after it is
/// that habit, and never what was meant; point to `--hold`, which does
/// what nc's -q does. (Port 1 with such a message is still `-q :1 …`.)
fn netcat_quit_after(args: &SendArgs) -> Result<()> {
    let Some(secs) = args.addr.to_str() else {
        return Ok(());
    };
    let number = !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && secs.parse::<f64>().is_ok();
    if !args.common.quiet || !number || args.common.unix {
        return Ok(());
    }
    let Some(first) = args.message.first() else {
        return Ok(());
    };
    let address = unmistakably_an_address(first)
        || netcat_form(first.as_ref(), &args.message[1..], false).is_some();
    if !address {
        return Ok(());
    }
    let to: Vec<&str> = match netcat_form(first.as_ref(), &args.message[1..], false) {
        Some(_) => args.message.iter().take(2).map(String::as_str).collect(),
        None => vec![first.as_str()],
    };
    let to = to.join(" ");
    let port = if secs.parse::<u16>().is_ok() {
        format!(" (to send to port {secs}, write :{secs})")
    } else {
        String::new()
    };
    Err(Error::usage(format!(
        "-q is --quiet, so '{secs}' was taken for the address and '{to}' for the message; \
         for nc's -q SECS (wait SECS after the input's end), write --hold {secs}s in its \
         place{port}"
    )))
}

/// Words after `-z`'s address: a message a probe does not send.
fn words_after_probe(words: &[String]) -> Error {
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
fn scan_job(args: &SendArgs, host: &str, spec: &str, words: &[String]) -> Result<Send> {
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
    let job = Job::Scan(scan::Scan {
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
fn addr_port(a: &Addr) -> Option<u16> {
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
fn netcat_form<'a>(
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

/// `send /tmp/x.sock`: a socket path written as nc -U takes it. A host
/// name never holds '/', so such a word (with no scheme) is a path; a
/// port-less name that is a socket file here could be either, so it is
/// refused with both spellings rather than looked up on port 10000.
fn socket_path_habit(s: &str, udp: bool, unix: bool) -> Option<Error> {
    use std::os::unix::fs::FileTypeExt;
    if unix || s.contains("://") || s.starts_with("unix:") || s.starts_with("unixgram:") {
        return None;
    }
    let scheme = if udp { "unixgram:" } else { "unix:" };
    if s.contains('/') {
        return Some(Error::usage(format!(
            "'{s}' is a path, not a host: a Unix socket is {scheme}{s}"
        )));
    }
    let socket = std::fs::metadata(s).is_ok_and(|m| m.file_type().is_socket());
    if socket && addr::is_portless_host(s) {
        return Some(Error::usage(format!(
            "'{s}' is a socket file here and also a host name without a port: write \
             {scheme}{s} for the socket, or {s}:{} for the host",
            addr::DEFAULT_PORT
        )));
    }
    None
}

/// An address argument. Host names are ASCII, but a Unix socket path is
/// any bytes Linux allows, so a path that is not UTF-8 is taken as bytes.
fn address(raw: &std::ffi::OsStr, udp: bool, unix: bool) -> Result<Addr> {
    use std::os::unix::ffi::OsStrExt;
    if let Some(s) = raw.to_str() {
        // Servers take these forms before they get here.
        if addr::parse_inherited(s).is_some() && !unix {
            return Err(Error::usage(format!(
                "'{s}' names an inherited socket, which only a server takes \
                 (to reach a host by that name, write tcp://{s})"
            )));
        }
        if let Some(e) = socket_path_habit(s, udp, unix) {
            return Err(e);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Cmd};
    use clap::Parser;

    fn serve_cfg(args: &[&str]) -> Result<Server> {
        let cli = Cli::try_parse_from(args).expect("parses");
        match cli.cmd {
            Cmd::Serve(a) => serve(&a),
            Cmd::ForkServe(a) => fork_serve(&a),
            Cmd::ThreadServe(a) => thread_serve(&a),
            Cmd::Send(_) => panic!("a server"),
        }
    }

    #[test]
    fn an_address_after_exec_is_refused_with_the_right_order() {
        for (cmd, last) in [
            ("serve", "127.0.0.1:0"),
            ("fork-serve", "localhost:7000"),
            ("thread-serve", "[::1]:80"),
            ("serve", "unix:/tmp/x.sock"),
            ("serve", "udp://127.0.0.1:5353"),
            ("serve", ":9000"),
        ] {
            let Err(e) = serve_cfg(&["sockcat", cmd, "--exec", "cat", last]) else {
                panic!("{cmd} --exec cat {last} was accepted");
            };
            let m = e.to_string();
            assert!(matches!(e, Error::Usage(_)), "{cmd} {last}: {m}");
            assert!(
                m.contains(&format!("sockcat {cmd} {last} --exec cat")),
                "{m}"
            );
        }
    }

    #[test]
    fn program_arguments_are_left_alone() {
        // Not addresses: a bare word or number, a URL-less word with a
        // colon that is not a port.
        for tail in [&["sleep", "30"][..], &["echo", "a:b"], &["date", "+%H:%M"]] {
            let mut args = vec!["sockcat", "serve", "--exec"];
            args.extend_from_slice(tail);
            assert!(serve_cfg(&args).is_ok(), "{tail:?}");
        }
        // With the address first, the program may take any argument.
        assert!(serve_cfg(&["sockcat", "serve", ":0", "--exec", "echo", "127.0.0.1:0"]).is_ok());
    }

    /// `send HOST PORT`: the address and the message it leaves.
    fn sent(args: &[&str]) -> (String, Option<String>) {
        let mut all = vec!["sockcat", "send"];
        all.extend_from_slice(args);
        let Cmd::Send(a) = Cli::try_parse_from(&all).expect("parses").cmd else {
            panic!("send")
        };
        let cfg = send(&a).expect("valid").config;
        let shown = match &cfg.plan.addr {
            Addr::Inet {
                proto: addr::Proto::Udp,
                ..
            } => format!("udp://{}", cfg.plan.addr),
            a => a.to_string(),
        };
        let msg = match cfg.job {
            Job::Exchange(Input::Message(m)) => Some(String::from_utf8(m).unwrap()),
            _ => None,
        };
        (shown, msg)
    }

    #[test]
    fn the_netcat_address_form() {
        let s = |a: &str, m: Option<&str>| (a.to_string(), m.map(str::to_string));
        assert_eq!(sent(&["localhost", "9000"]), s("localhost:9000", None));
        assert_eq!(
            sent(&["localhost", "9000", "hi", "there"]),
            s("localhost:9000", Some("hi there\n"))
        );
        assert_eq!(sent(&["[::1]", "80"]), s("[::1]:80", None));
        assert_eq!(
            sent(&["-u", "127.0.0.1", "53"]),
            s("udp://127.0.0.1:53", None)
        );
        assert_eq!(
            sent(&["udp://db", "53", "q"]),
            s("udp://db:53", Some("q\n"))
        );
        // The address written whole settles it: the digits are the message.
        assert_eq!(
            sent(&["localhost:10000", "9000"]),
            s("localhost:10000", Some("9000\n"))
        );
        // A bare number is a port, and what follows it a message.
        assert_eq!(sent(&["9000", "80"]), s("localhost:9000", Some("80\n")));
        // Not a port: a message.
        assert_eq!(sent(&["db", "70000"]), s("db:10000", Some("70000\n")));
        assert_eq!(sent(&["db", "hello"]), s("db:10000", Some("hello\n")));
    }

    /// Checking adopts nothing and makes nothing: a descriptor that is not
    /// open, and a TLS server's certificate, are `start`'s.
    #[test]
    fn checking_plans_what_start_makes() {
        let plan = serve_cfg(&["sockcat", "serve", "fd:99", "--tls"]).unwrap();
        assert!(matches!(plan.listen, Wanted::Inherit { .. }));
        assert!(plan.tls.is_some() && plan.opts.tls_server.is_none());
        let plan = serve_cfg(&["sockcat", "serve", ":0", "--forward", "tls://h:1"]).unwrap();
        let Handler::Forward(up) = plan.handler else {
            panic!("a forward")
        };
        assert!(up.client.tls.is_some() && up.forward.opts.tls_client.is_none());
    }

    #[test]
    fn one_quoted_word_with_spaces_is_split() {
        let cfg = serve_cfg(&["sockcat", "serve", ":0", "--exec", "cat -n"]).unwrap();
        let Handler::Spec(Spec::Exec(argv)) = cfg.handler else {
            panic!()
        };
        assert_eq!(&*argv, [std::ffi::OsString::from("cat"), "-n".into()]);
        let cfg = serve_cfg(&["sockcat", "serve", ":0", "--exec", "cat", "-n"]).unwrap();
        let Handler::Spec(Spec::Exec(argv)) = cfg.handler else {
            panic!()
        };
        assert_eq!(argv.len(), 2);
    }
}
