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
use crate::handler::Drive;
use crate::handler::Spec;
use crate::handler::forward::Forward;
use crate::send::{self, Input, Plan, SendMode, load, progress};
use crate::servers;
use crate::transport::{Opts, tls};

mod forward_plan;
mod program;
mod proxy_protocol;
mod send_plan;
mod tls_plan;
mod ws_plan;

use forward_plan::*;
use program::*;
pub use send_plan::send;
use send_plan::*;
pub use tls_plan::INSECURE;
use tls_plan::*;
use ws_plan::*;

/// A server as its command line asks for it, checked, with nothing made
/// yet: `start::server` adopts or leaves to bind what `listen` names,
/// makes the TLS settings and the proxy, and gives the models their
/// `servers::Config`.
pub struct Server {
    pub listen: Wanted,
    /// A TLS server's certificate and trust, to make.
    pub tls: Option<tls::ServerSpec>,
    pub handler: Handler,
    /// The socket options, without the TLS settings.
    pub opts: Opts,
    pub settings: servers::Settings,
}

/// Where a server's sockets are to come from.
pub enum Wanted {
    /// An address, bound by `servers::setup`.
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

/// The first flag given that only a `--forward`'s upstream connection
/// uses.
fn upstream_flag(args: &ServerArgs) -> Option<&'static str> {
    let t = &args.tls;
    [
        (args.connect_timeout.is_some(), "--connect-timeout"),
        (args.half_close_timeout.is_some(), "--half-close-timeout"),
        (args.proxy.is_some(), "--proxy"),
        (t.cacert.is_some(), "--cacert"),
        (!t.pin.is_empty(), "--pin"),
        (t.insecure, "--insecure"),
        (t.sni.is_some(), "--sni"),
        (args.proxy_protocol.send_proxy.is_some(), "--send-proxy"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
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
    if let (Some(flag), None) = (args.faults.fault.flag(), &args.handler.forward) {
        // (clap's `requires` lets it pass beside another handler's flag.)
        return Err(Error::usage(format!(
            "{flag} acts on forwarded connections: it needs --forward ADDR"
        )));
    }
    if let (Some(_), None) = (&args.faults.control, &args.handler.forward) {
        return Err(Error::usage(
            "--control changes the faults of forwarded connections: it needs --forward ADDR",
        ));
    }
    if let (Some(flag), None) = (upstream_flag(args), &args.handler.forward) {
        // (The same: `--echo --connect-timeout 5s` would pass, and do
        // nothing.)
        return Err(Error::usage(format!(
            "{flag} is about the upstream connection: it needs --forward ADDR"
        )));
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
    let mut opts = Opts {
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
        ws: None,
        send_proxy: None,
    };
    let (raw, tls, ws_url) = strip_layers(&raw, args.tls.tls, args.common.udp, args.common.unix)?;
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
    opts.ws = ws_url.as_ref().map(|u| server_ws(u, &args.ws));
    let mut log = log(&args.common);
    let handler = match &args.handler.forward {
        Some(raw) => {
            let up = forward(raw, args)?;
            log.upstream = Some(up.forward.shown.clone());
            Handler::Forward(up.into())
        }
        None => Handler::Spec(spec),
    };
    server_ws_flags(&args.ws, ws_url.is_some(), &handler)?;
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
        settings: servers::Settings {
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
                proxy_protocol: proxy_protocol::rule(args)?,
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
    proxy_protocol::by_kind(plan, kind)?;
    if let Handler::Forward(up) = &plan.handler {
        let target = &up.forward.addr;
        if let (Some(flag), true) = (up.forward.layers.stream_flag(), kind.is_datagram()) {
            return Err(Error::usage(format!(
                "{flag} acts on stream connections; a {kind} server forwards datagrams"
            )));
        }
        if let (Some(flag), false) = (up.forward.layers.dgram_flag(), kind.is_datagram()) {
            return Err(Error::usage(format!(
                "{flag} acts on datagrams; a {kind} server forwards streams"
            )));
        }
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
        ws: None,
        send_proxy: None,
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
mod tests;
