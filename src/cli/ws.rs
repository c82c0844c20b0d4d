//! The WebSocket flags (issue 24: ws:// and wss:// addresses): how bytes
//! become messages, the subprotocol, and a server's Origin rule. They
//! apply to every WebSocket a command makes (a server's, its --forward
//! upstream's, send's); `cli::config` refuses them without one.

use clap::Args;

/// The flags every subcommand takes.
#[derive(Debug, Args, Clone, Default)]
pub struct WsArgs {
    /// ws:// and wss://: send each read as one binary message, not each line as a text message
    #[arg(long)]
    pub binary: bool,

    /// ws:// and wss://: the subprotocol to offer (send, --forward) or to choose when a client offers it (a server)
    #[arg(long, value_name = "NAME")]
    pub ws_protocol: Option<String>,
}

/// The flag only a server takes.
#[derive(Debug, Args, Clone, Default)]
pub struct WsServerArgs {
    /// A ws:// or wss:// server: accept only clients whose Origin header is ORIGIN (repeatable; others get 403)
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,

    #[command(flatten)]
    pub ws: WsArgs,
}

/// The man pages' WEBSOCKET section.
pub const MAN: &str = r#".SH WEBSOCKET
\fBws://HOST[:PORT][/PATH]\fR and \fBwss://...\fR (a WebSocket over
sockcat's TLS, with every trust option: \fB\-\-cacert\fR, \fB\-\-pin\fR,
\fB\-\-insecure\fR, \fB\-\-sni\fR) are addresses for \fBsend\fR, for the
three servers and for \fB\-\-forward\fR, in every model and with every
handler; \fBsend\fR (an exchange, or \fB\-\-exec\fR; not \fB\-z\fR
or load mode) and \fB\-\-forward\fR reach them through \fB\-\-proxy\fR
too. The port is 80 or 443 when none is given. A WebSocket's bytes are
framed, so nothing is spliced around it (as with TLS).
.PP
Messages: each line is one text message (its newline dropped; a line
that is not UTF-8, or one over 1 MiB, goes as binary messages of its
bytes as they are, its newline included, so the peer gets every byte),
and a newline is written after each text message that comes,
unless it ends with one (websocat sends its lines with theirs; \fBsend
\-n\fR adds none); a binary message's bytes are written as
they come. \fB\-\-binary\fR sends each read as one binary message, for
bytes that are not lines. Fragmented messages are put together, pings are
answered, a client masks its frames and a server does not, and a frame
that breaks those rules ends the connection with Close 1002.
.PP
The Close frame is the WebSocket's FIN: ours goes when our side ends (the
input's end, the handler's, the upstream's FIN), and the peer's is our
EOF, so a reply owed after the client's end still comes from sockcat's
servers. Many WebSocket servers end the whole connection at a Close, as
some TCP peers do at a half-close: \fBsend \-\-hold DUR\fR keeps the
Close back until the server has been quiet for DUR (a last line without
its newline still goes at the input's end); a \fB\-\-forward\fR does so by
itself: an end towards a WebSocket goes once the other way has been quiet
for 0.5s, or has ended. \fB\-v\fR shows the path and
both sides' Close codes; JSON: a \fBwebsocket\fR event (\fBpeer\fR,
\fBpath\fR, \fBprotocol\fR, \fBorigin\fR) after the Upgrade and a
\fBwebsocket_closed\fR event (\fBtheir_code\fR, \fBtheir_reason\fR,
\fBour_code\fR, \fBour_reason\fR; null for a side that sent no Close).
.PP
A server answers a request for its path (any path, for \fB/\fR or none)
with 101 and the RFC 6455 accept value; another path gets 404, a request
that is not a WebSocket Upgrade (no valid \fBSec\-WebSocket\-Key\fR, for
one) 400, each closed at once. \fB\-\-ws\-protocol NAME\fR is chosen when
the client offers it (and offered by \fBsend\fR and \fB\-\-forward\fR);
\fB\-\-allow\-origin ORIGIN\fR (repeatable) accepts only those Origins
(403 otherwise). Programs get \fBSOCKCAT_WS_PATH\fR (the path asked for,
with its query), and \fBSOCKCAT_WS_PROTOCOL\fR and \fBSOCKCAT_WS_ORIGIN\fR
when there are such.
.PP
Examples:
.PP
.nf
.RS
$ sockcat serve ws://127.0.0.1:8080/chat \-\-echo
$ sockcat send ws://127.0.0.1:8080/chat hello
$ sockcat serve ws://:8080/ \-\-binary \-\-forward 127.0.0.1:22
$ sockcat serve 127.0.0.1:9000 \-\-forward wss://example.com/feed
.RE
.fi
"#;
