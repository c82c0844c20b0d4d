//! The command line: four subcommands and the option groups they share.
//!
//! Everything here is declarative (clap derive); the completions and man
//! pages are generated from these definitions. Raw strings become checked
//! values in each subcommand's `run`, never later.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod config;
pub mod faults;
pub mod man;
pub mod netcat;
pub mod proxy_protocol;
pub mod ws;

const EXAMPLES: &str = "\
Examples:
  sockcat serve --reply connected               # listen on localhost:10000
  sockcat send localhost:10000 hello from client
  sockcat serve :9000 --once > file.out         # receive one file
  sockcat send :9000 --file file.in
  sockcat fork-serve :7000 --exec date          # inetd style
  sockcat serve :8080 --forward localhost:80    # a port forwarder
  sockcat thread-serve unix:/tmp/echo.sock --echo";

/// The address forms, the same for every subcommand (the first
/// positional is always the address).
const ADDR_HELP: &str = "The address: HOST:PORT, :PORT, PORT, [V6]:PORT, HOST (port 10000), \
tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH, wss://HOST:PORT/PATH, udp://HOST:PORT, unix:PATH, unix:@NAME (abstract), unixgram:PATH, \
unixgram:@NAME. A bare PORT or :PORT means localhost; 0.0.0.0:PORT or [::]:PORT is every \
interface";

/// [`ADDR_HELP`] for the servers, with the default spelled out.
const SERVER_ADDR_HELP: &str = "The address: HOST:PORT, :PORT, PORT, [V6]:PORT, HOST (port 10000), \
tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH, wss://HOST:PORT/PATH, udp://HOST:PORT, unix:PATH, unix:@NAME (abstract), unixgram:PATH, \
unixgram:@NAME. A bare PORT or :PORT means localhost; 0.0.0.0:PORT or [::]:PORT is every \
interface. fd:N, systemd and systemd:NAME serve inherited sockets (systemd's socket \
activation); stdio serves the one connection handed over on stdin (inetd, Accept=yes) \
[default: localhost:10000]";

/// What a server binds when no address is given.
pub const DEFAULT_SERVER_ADDR: &str = "localhost:10000";

#[derive(Debug, Parser)]
#[command(
    name = "sockcat",
    version,
    about = "Play either side of a socket conversation: TCP, UDP and Unix sockets",
    long_about = "sockcat plays either side of a socket conversation. Its servers \
(serve, fork-serve, thread-serve) share one set of handlers and differ only in \
how work is scheduled; send is the client.\n\nData goes to stdout; events and \
errors go to stderr. A server prints one readiness line per socket, such as \
'listening on tcp 127.0.0.1:10000', before it accepts anything.",
    after_help = EXAMPLES,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve many connections from one thread and one event loop
    #[command(long_about = "Serve many connections at once from one thread and one \
mio event loop. With no handler flag, what peers send is written to stdout and \
stdin is relayed to every connected peer; the end of stdin is the server's FIN. \
(Stdin that is /dev/null, closed, or a terminal the server is in the background \
of is not relayed, and the server answers each peer's FIN with its own.)")]
    Serve(ServeArgs),
    /// Serve each connection (or datagram) in a child process
    #[command(
        long_about = "Serve each connection (each datagram for UDP) in a child \
process, like Python's ForkingMixIn. At --max-children the server stops accepting \
until a child exits; new connections wait in the backlog, and an event says so once \
per burst. A forking server needs such a bound, or a flood of connections forks the \
machine to a halt: ForkingMixIn's max_children is 40. That is fewer than a client's \
keep-alive pool holds (ab -k -c 50 left ten connections in the backlog for good), \
so sockcat's default is 256, or the user's process limit if that is lower."
    )]
    ForkServe(ForkServeArgs),
    /// Serve each connection (or datagram) in a thread
    #[command(
        long_about = "Serve each connection (each datagram for UDP) in its own \
thread, like Python's ThreadingMixIn. At --max-threads the server stops accepting \
until a thread ends; new connections wait in the backlog, and an event says so once \
per burst."
    )]
    ThreadServe(ThreadServeArgs),
    /// Connect, send a message or stdin, print the reply
    #[command(
        long_about = "Connect to ADDR, send the MESSAGE words (joined by spaces, \
plus a newline) or else stdin, shut the write side, and print the reply until the \
server closes its side. netcat's HOST PORT form works too: when ADDR is a host \
without a port and the next word is a port, they are one address \
(`sockcat send localhost 9000` connects to localhost:9000). To send digits as the \
message, write the address whole: `sockcat send localhost:10000 9000`. Options are \
options wherever they stand, after the message too; `--` ends them, and every word \
after it is a word of the message (`sockcat send localhost:9000 -- -v` sends `-v`)."
    )]
    Send(SendArgs),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event
    #[default]
    Text,
    /// One JSON object per line
    Json,
}

/// Options every subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Log more: a closing line per connection and a summary on exit
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Log nothing but errors
    #[arg(short, long)]
    pub quiet: bool,

    /// Format of the events written to stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Use IPv4 addresses only
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use IPv6 addresses only
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Use UDP (or a Unix datagram socket with -U)
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,

    /// Read the address as a Unix socket path
    #[arg(short = 'U', long = "unix")]
    pub unix: bool,

    /// Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)
    #[arg(long)]
    pub hex: bool,

    /// Turn on TCP keepalive probes
    #[arg(long)]
    pub keepalive: bool,

    /// Turn off Nagle's algorithm (TCP_NODELAY); --forward always does, on both sides
    #[arg(long)]
    pub nodelay: bool,
}

/// What each connection gets. The flags exclude one another.
#[derive(Debug, Args, Clone, Default)]
#[group(id = "handler", multiple = false)]
pub struct HandlerArgs {
    /// Send TEXT and a newline at once, then shut the write side; the peer's bytes are still printed
    #[arg(long, value_name = "TEXT")]
    pub reply: Option<OsString>,

    /// Send back every byte received; pass the peer's FIN on after the echo drains
    #[arg(long)]
    pub echo: bool,

    /// Read and count the bytes, print nothing
    #[arg(long)]
    pub discard: bool,

    /// Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat's options go before it. A quoted command line ('cat -n') is split on whitespace, as ncat does (no shell), when it is the only word
    #[arg(
        long,
        value_name = "PROG",
        num_args = 1..,
        allow_hyphen_values = true,
        value_hint = clap::ValueHint::CommandName
    )]
    pub exec: Option<Vec<OsString>>,

    /// Like --exec, through /bin/sh -c CMDLINE
    #[arg(long, value_name = "CMDLINE", value_hint = clap::ValueHint::CommandString)]
    pub sh_exec: Option<OsString>,

    /// Connect to ADDR for each connection (each peer's session on a datagram socket) and relay bytes both ways; each side's FIN travels on its own
    #[arg(long, value_name = "ADDR")]
    pub forward: Option<OsString>,
}

/// Options the three servers share.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// (No default in clap's sense: config applies it, so that it can tell
    /// an address given from none, for --exec's word order.)
    #[arg(value_name = "ADDR", help = SERVER_ADDR_HELP)]
    pub addr: Option<OsString>,

    /// Serve one connection (one datagram for UDP), then exit
    #[arg(long, conflicts_with = "count")]
    pub once: bool,

    /// Serve N connections (datagrams for UDP), then exit
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_conns: Option<u64>,

    /// Close a connection after DUR with no traffic (500ms, 5s, 2m); its --exec program is stopped (SIGTERM, then SIGKILL 2s later) [a forwarded datagram session: 60s]
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub idle_timeout: Option<Duration>,

    /// With --forward: give up connecting to ADDR after DUR [default: 10s]
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration, requires = "forward")]
    pub connect_timeout: Option<Duration>,

    /// With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration, requires = "forward")]
    pub half_close_timeout: Option<Duration>,

    /// With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)
    // A URL: no file names to complete (clap_complete gives bash file
    // names for ValueHint::Url, nothing for Other).
    #[arg(
        long,
        value_name = "URL",
        value_hint = clap::ValueHint::Other,
        requires = "forward"
    )]
    pub proxy: Option<String>,

    /// Length of the listen backlog
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub backlog: u32,

    /// On Ctrl-C or SIGTERM, let open connections finish for up to DUR
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub grace: Duration,

    /// Accept only peers in CIDR, or Unix clients of uid:N (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<String>,

    /// Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)
    #[arg(long, value_name = "CIDR")]
    pub deny: Vec<String>,

    /// netcat's -k (keep listening): sockcat's servers do so anyway
    #[arg(short = 'k', long = "keep-open", hide = true)]
    pub netcat_keep_open: bool,

    /// Permissions of a Unix socket file, in octal (600, 0660)
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    pub mode: Option<u32>,

    #[command(flatten)]
    pub handler: HandlerArgs,

    #[command(flatten)]
    pub faults: faults::FaultArgs,

    #[command(flatten)]
    pub tls: ServerTlsArgs,

    #[command(flatten)]
    pub ws: ws::WsServerArgs,

    #[command(flatten)]
    pub proxy_protocol: proxy_protocol::ServerProxyArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// A server's TLS (tls://, --tls), and how --forward trusts a TLS upstream.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerTlsArgs {
    /// Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)
    #[arg(long)]
    pub tls: bool,

    /// The server's certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed
    #[arg(long, value_name = "FILE", requires = "key", value_hint = clap::ValueHint::FilePath)]
    pub cert: Option<PathBuf>,

    /// The key of --cert (PEM: PKCS#8, SEC1 or RSA)
    #[arg(long, value_name = "FILE", requires = "cert", value_hint = clap::ValueHint::FilePath)]
    pub key: Option<PathBuf>,

    /// Write the generated certificate to FILE, for the next start's --cert (with --save-key)
    #[arg(
        long,
        value_name = "FILE",
        requires = "save_key",
        conflicts_with = "cert"
    )]
    pub save_cert: Option<PathBuf>,

    /// Write the generated key to FILE (mode 600), for the next start's --key
    #[arg(long, value_name = "FILE", requires = "save_cert")]
    pub save_key: Option<PathBuf>,

    /// Require a client certificate signed by a CA in FILE (mutual TLS)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub client_ca: Option<PathBuf>,

    /// The protocols to offer in ALPN, comma-separated (h2,http/1.1)
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,

    /// With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system's
    #[arg(long, value_name = "FILE", requires = "forward", value_hint = clap::ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)
    #[arg(long, value_name = "FINGERPRINT", requires = "forward")]
    pub pin: Vec<String>,

    /// With --forward tls://...: do not verify the upstream's certificate (says so on stderr)
    #[arg(long, requires = "forward")]
    pub insecure: bool,

    /// With --forward tls://...: the name to ask for and verify, instead of the address's host
    #[arg(long, value_name = "NAME", requires = "forward")]
    pub sni: Option<String>,
}

/// A client's TLS (tls://, --tls).
#[derive(Debug, Args, Clone, Default)]
pub struct ClientTlsArgs {
    /// Speak TLS to the TCP or Unix stream address (tls://HOST:PORT says the same)
    #[arg(long)]
    pub tls: bool,

    /// Trust the CA (or self-signed) certificates in FILE instead of the system's
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// Accept exactly the certificate (sha256:..., as a sockcat server prints it) or key (spki-sha256:... or curl's sha256//BASE64) with this fingerprint (repeatable)
    #[arg(long, value_name = "FINGERPRINT")]
    pub pin: Vec<String>,

    /// Do not verify the server's certificate (says so on stderr)
    #[arg(long)]
    pub insecure: bool,

    /// The name to ask for (SNI) and verify, instead of the address's host
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,

    /// A client certificate chain to present (PEM), for mutual TLS
    #[arg(long, value_name = "FILE", requires = "key", value_hint = clap::ValueHint::FilePath)]
    pub cert: Option<PathBuf>,

    /// The key of --cert (PEM)
    #[arg(long, value_name = "FILE", requires = "cert", value_hint = clap::ValueHint::FilePath)]
    pub key: Option<PathBuf>,

    /// The protocols to offer in ALPN, comma-separated (h2,http/1.1)
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Relay what each client sends to every other client (chat)
    #[arg(long, conflicts_with = "handler")]
    pub broker: bool,

    /// Drop a peer that has not read for DUR while it holds the others back (the stdin relay, --broker); a peer alone is waited for
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_positive_duration)]
    pub stall_timeout: Duration,

    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct ForkServeArgs {
    /// Run at most N children at once; more connections wait in the backlog [default: 256, or the user's process limit (ulimit -u) if lower]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_children: Option<u64>,

    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct ThreadServeArgs {
    /// Run at most N connection threads at once; more connections wait in the backlog
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_threads: u64,

    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[arg(value_name = "ADDR", default_value = "localhost:10000", help = ADDR_HELP)]
    pub addr: OsString,

    /// Words to send, joined by spaces, plus a newline; without them stdin is sent. Options may stand before or after them; every word after -- is a word of the message (-- -v sends -v)
    #[arg(value_name = "MESSAGE")]
    pub message: Vec<String>,

    /// Whether MESSAGE's first word came after `--`, so it is a word of
    /// the message even where netcat's `HOST PORT` would take it for the
    /// port (clap does not say; `main` sets it from the command line).
    #[arg(skip)]
    pub message_after_dashes: bool,

    /// The word right after a bare `-q` on the command line, for nc's
    /// `-q SECS` habit (`main` sets it from the command line).
    #[arg(skip)]
    pub word_after_quiet: Option<String>,

    /// Do not add a newline to the MESSAGE words
    #[arg(short = 'n')]
    pub no_newline: bool,

    /// Send the contents of PATH instead of stdin
    #[arg(long, value_name = "PATH", conflicts_with = "message")]
    pub file: Option<PathBuf>,

    /// Keep the write side open after the input ends
    #[arg(long)]
    pub no_shutdown: bool,

    /// After the input ends, keep the write side open (no half-close) and end, exit 0, once the peer has sent nothing for DUR (nc's -q SECS, socat's -t): for peers and proxies that end the whole connection at a half-close; the peer's close still ends it sooner. Unlike nc's fixed delay it waits while the peer keeps talking: --wait bounds the whole time after the input. Datagrams: the same as --wait
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub hold: Option<Duration>,

    /// After the input ends, wait at most DUR for the reply [UDP default: 1s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub wait: Option<Duration>,

    /// Give up connecting after DUR (-w, as in ncat): the whole attempt, over all of a name's addresses, which are tried Happy Eyeballs style (IPv6 first, the next 250ms after the last)
    #[arg(long, short_alias = 'w', value_name = "DUR", value_parser = parse_positive_duration)]
    pub connect_timeout: Option<Duration>,

    /// Give up after DUR with no traffic in either direction
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub idle_timeout: Option<Duration>,

    /// Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (names resolved here), socks5h:// (names resolved by the proxy) or http:// (CONNECT); --connect-timeout bounds reaching it and its answer [default: 30s]
    // A URL: no file names to complete, as for the server's --proxy.
    #[arg(long, value_name = "URL", value_hint = clap::ValueHint::Other)]
    pub proxy: Option<String>,

    /// Keep trying to connect for up to DUR (until the server is up)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub retry: Option<Duration>,

    /// Only check that the port accepts connections, then close; with several ports (20-30,443), scan them; one line per port on stdout (127.0.0.1:22 open)
    #[arg(short = 'z', long = "probe")]
    pub probe: bool,

    /// With -z: print only the ports that are open (no line for the others; the exit status still tells)
    #[arg(long)]
    pub open: bool,

    /// Send CRLF line endings instead of LF (-C, as in nc)
    #[arg(long, short_alias = 'C')]
    pub crlf: bool,

    /// netcat's -N (shut down after the input's end): sockcat does so anyway
    #[arg(short = 'N', hide = true)]
    pub netcat_shutdown: bool,

    /// Local address and/or port to connect from (HOST:PORT, :PORT, HOST)
    #[arg(long, value_name = "ADDR")]
    pub source: Option<String>,

    /// Load mode: repeat the whole exchange N times and print a summary
    #[arg(long, value_name = "N", group = "load", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Load mode: repeat the exchange for DUR and report the rate inside that window
    #[arg(long, value_name = "DUR", group = "load", value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Load mode with --duration: run exchanges for DUR first and leave them out of the figures
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration, requires = "duration")]
    pub warmup: Duration,

    /// Load mode: run C exchanges in parallel; a scan (-z with several ports): probe C ports at once [default: 1; a scan: 64]
    #[arg(long, value_name = "C", value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub concurrency: Option<u64>,

    /// A scan (-z with several ports): give up on the ports not yet probed after DUR
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub scan_timeout: Option<Duration>,

    /// Show a progress bar on stderr even when it is not a terminal
    #[arg(long, conflicts_with = "no_progress")]
    pub progress: bool,

    /// Never show a progress bar
    #[arg(long)]
    pub no_progress: bool,

    /// Connect, then run PROG with the connection as its stdin and stdout (ncat's -e, socat's EXEC:); takes the rest of the line, so the address goes before it. sockcat exits with the program's status
    #[arg(
        long,
        value_name = "PROG",
        num_args = 1..,
        allow_hyphen_values = true,
        conflicts_with = "sh_exec",
        value_hint = clap::ValueHint::CommandName
    )]
    pub exec: Option<Vec<OsString>>,

    /// Like --exec, through /bin/sh -c CMDLINE
    #[arg(long, value_name = "CMDLINE", value_hint = clap::ValueHint::CommandString)]
    pub sh_exec: Option<OsString>,

    #[command(flatten)]
    pub tls: ClientTlsArgs,

    #[command(flatten)]
    pub ws: ws::WsArgs,

    #[command(flatten)]
    pub proxy_protocol: proxy_protocol::SendProxyArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// The longest duration any option takes. Longer ones would overflow the
/// deadlines computed from them (`now + DUR`); a year is longer than any
/// wait a script means.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// A duration: humantime (`500ms`, `5s`, `2m`, `1h 30m`) or plain seconds,
/// at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(|f| Duration::try_from_secs_f64(f).ok())
            .ok_or_else(|| format!("invalid duration '{s}'"))?
    } else {
        humantime::parse_duration(t)
            .map_err(|e| format!("invalid duration '{s}': {e} (try 500ms, 5s, 2m)"))?
    };
    if d > MAX_DURATION {
        return Err(format!(
            "duration '{s}' is longer than the limit of one year"
        ));
    }
    Ok(d)
}

/// A duration that must be longer than zero (a timeout of 0 would end
/// every connection, or every connect, at once).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("'{s}': must be longer than 0s"));
    }
    Ok(d)
}

/// Permission bits only: setuid, setgid and sticky (04000, 02000, 01000)
/// mean nothing useful on a socket file, and a mode that sets them is a
/// slip (`7777` for `777`) more likely than a wish.
fn parse_mode(s: &str) -> Result<u32, String> {
    let m = u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .map_err(|_| format!("invalid mode '{s}': expected octal such as 600 or 0660"))?;
    if m > 0o777 {
        return Err(format!(
            "invalid mode '{s}': only permission bits (000 to 777), \
             not setuid, setgid or sticky bits"
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests;
