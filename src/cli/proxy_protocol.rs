//! The PROXY protocol's flags: `--send-proxy` (a forwarder's upstream,
//! `send`), `--proxy-protocol` and `--proxy-from` (the servers), and
//! `send --proxy-source`. Checked in `cli::config::proxy_protocol`.

use clap::{Args, ValueEnum};

/// Which header `--send-proxy` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProxyVersion {
    /// The text line (PROXY TCP4 ...)
    V1,
    /// The binary header
    V2,
}

/// A server's PROXY protocol options.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerProxyArgs {
    /// With --forward: begin each upstream connection with a PROXY protocol header (v1 text, v2 binary) naming the client and the address it connected to, as HAProxy's send-proxy does (before TLS, inside a --proxy tunnel; a Unix client: v1 UNKNOWN, v2 LOCAL). Stream upstreams only
    #[arg(long, value_name = "VERSION", requires = "forward")]
    pub send_proxy: Option<ProxyVersion>,

    /// Require a PROXY protocol header (v1 or v2, told apart) before each connection's first byte (and before TLS): its source is the peer in events, --allow/--deny and SOCKCAT_PEER_*. A connection without a valid one within 5s is refused. Stream servers only
    #[arg(long)]
    pub proxy_protocol: bool,

    /// With --proxy-protocol: take the header only from peers in CIDR, or Unix clients of uid:N (repeatable, or comma-separated); others are refused [default: 127.0.0.0/8,::1 and the server's own uid: a balancer on this host]
    #[arg(
        long,
        value_name = "CIDR",
        value_delimiter = ',',
        requires = "proxy_protocol"
    )]
    pub proxy_from: Vec<String>,
}

/// `send`'s PROXY protocol options.
#[derive(Debug, Args, Clone, Default)]
pub struct SendProxyArgs {
    /// Begin the connection with a PROXY protocol header (v1 text, v2 binary), to test a server that requires one; it names this socket's own ends unless --proxy-source says otherwise
    #[arg(long, value_name = "VERSION")]
    pub send_proxy: Option<ProxyVersion>,

    /// With --send-proxy: the client address the header claims (to test a server's --allow/--deny) [default: the socket's own]
    #[arg(long, value_name = "ADDR:PORT", requires = "send_proxy")]
    pub proxy_source: Option<std::net::SocketAddr>,
}
