//! The man pages' fixed sections (durations, exit status, datagrams,
//! forwarding, netcat users, TLS, proxies, inherited sockets, environment;
//! events in `events.rs`), in roff, as `trailer` appends them.

pub(super) const DURATIONS: &str = r#".SH DURATIONS
Options that take a duration (\fIDUR\fR) accept humantime forms such as
\fB500ms\fR, \fB5s\fR, \fB2m\fR or \fB1h 30m\fR, or plain seconds
(\fB0.25\fR). A duration is at most one year. Timeouts
(\fB\-\-idle\-timeout\fR, \fB\-\-connect\-timeout\fR, \fB\-\-duration\fR)
must be longer than 0s; \fB\-\-grace 0s\fR and \fB\-\-wait 0s\fR mean no
grace period and no wait.
"#;

pub(super) const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
.B 0
Success; for \fBsend \-z\fR, the port accepts connections (in a scan,
every port does). A server
stopped by SIGTERM (a requested stop, as systemd sends) exits 0 after its
graceful shutdown, also when the grace period had to cut connections
(a warning says how many).
.TP
.B 1
A runtime failure: connection refused or reset, bind failed, a socket file
in the way, errors in load mode; in a scan, a port that is not open.
.TP
.B 2
A usage error: a bad flag, address, duration or CIDR.
.TP
.B 124
A time limit expired: \fB\-\-connect\-timeout\fR, \fB\-\-wait\fR,
\fB\-\-idle\-timeout\fR or \fB\-\-retry\fR; for \fBsend \-z\fR over UDP, no
answer came, so the port may be open or filtered; for a scan,
\fB\-\-scan\-timeout\fR came before every port was probed.
.TP
.B 129
A server ended by SIGHUP.
.TP
.B 130
Interrupted by Ctrl\-C.
.TP
.B 143
A server's second SIGTERM, which ends it at once (a second Ctrl\-C or
SIGHUP ends it at once with 130 or 129).
.PP
\fBsend \-\-exec\fR and \fBsend \-\-sh\-exec\fR exit with the program's
status (killed by signal N: 128+N), unless sockcat's own code says more:
2 before connecting, 1 when connecting failed (refused, unreachable), 124
when \fB\-\-idle\-timeout\fR or \fB\-\-connect\-timeout\fR expired, 130,
143 or 129 when Ctrl\-C, SIGTERM or SIGHUP stopped it (the program is
asked to stop with SIGTERM and killed if it has not ended two seconds
later; what it left running gets the same two seconds after that, so a
stop takes at most about five seconds). Once connected, what happens to
the connection (a reset, the peer's close) is the program's to see: the
exit status is then its own. Nothing the program started outlives
\fBsend\fR, unless \fBsend\fR itself is killed with SIGKILL.
.PP
A closed standard output (\fBsockcat send ... | head \-1\fR) ends quietly
with 0. Errors are one line on standard error:
\fBsockcat: error: connect to 127.0.0.1:9: Connection refused\fR.
"#;

pub(super) const DATAGRAMS: &str = r#".SH DATAGRAMS
A UDP or unixgram server has no connections. With every handler but
\fB\-\-forward\fR, each datagram is one request: the handler sees it whole
and its reply goes back to the sender as one datagram (a program's reply is
at most 65,507 bytes). \fB\-\-count\fR and \fB\-\-once\fR count
datagrams, and each one gets a \fBdatagram\fR event.
.PP
With \fB\-\-forward\fR, a peer's datagrams form a \fIsession\fR: it
begins with the peer's first datagram (the one \fBdatagram\fR event, the
access list's check, the one that \fB\-\-count\fR counts) and ends after
\fB\-\-idle\-timeout\fR (60s unless given) without traffic either way,
with a \fBclosed\fR event. Each session has an upstream socket of its own;
what the upstream answers goes back to that peer only, sent from the
listening socket, so the peer sees the address it wrote to. The server
alone receives on the listening socket and hands each datagram to its
peer's session: in the loop (\fBserve\fR), or through a socket pair to the
session's thread (\fBthread\-serve\fR) or child (\fBfork\-serve\fR).
\fB\-\-max\-children\fR, \fB\-\-max\-threads\fR and
\fB\-\-max\-conns\fR bound the sessions at once; a new peer's datagram
beyond them is dropped with a warning, and peers with a session go on
being served.
"#;

pub(super) const FORWARDING: &str = r#".SH FORWARDING
\fB\-\-forward\fR \fIADDR\fR connects to \fIADDR\fR (any address form:
\fBHOST:PORT\fR, \fBtcp://\fR, \fBudp://\fR, \fBunix:\fR, \fBunix:@\fR,
\fBunixgram:\fR) for each connection, and relays bytes both ways until
both directions have ended.
.IP \(bu 2
Half-close travels each way on its own: the client's FIN becomes a
shutdown of the upstream's write side, and the upstream's FIN a shutdown of
the client's; the connection ends when both directions are done. A reset
on one side resets the other (a Unix stream has no reset: it is closed).
.IP \(bu 2
When the upstream cannot be reached (refused, a name that does not
resolve, or no answer within \fB\-\-connect\-timeout\fR, 10s unless
given), the client's connection is reset (it was owed an answer, and a
FIN would look like an empty one), one event says why
(\fBforward to ADDR failed: ...\fR), and the server goes on serving.
A transfer cut by the end of \fB\-\-grace\fR, or by a failure on either
side, is reset too; only a connection whose two directions both ended
is closed with a FIN.
A name's addresses are tried Happy Eyeballs style (IPv6 first, the next
250ms after the last, the first to connect wins), and the timeout bounds
the whole attempt. \fBserve\fR looks a name up on a helper thread, so a slow resolver never
holds up its loop (a datagram session keeps up to 64 datagrams meanwhile),
and uses the answer for a second.
.IP \(bu 2
Between two plain stream sockets bulk moves with \fBsplice\fR(2)
through a pipe, never through sockcat's memory; small requests and
answers (reads under 16 KiB, until a read fills that) are copied, as a
read and a write cost less than two splices. \fB\-\-hex\fR and
datagram sockets need the bytes, so they are copied through a buffer. The
closing event (\fB\-v\fR) names the path: \fB... forwarded to ADDR by
splice\fR (small chunks copied) or \fBby copy\fR (every byte). A side that stops reading stops the reading
of the other, so memory stays bounded.
.IP \(bu 2
From a stream to a datagram address (\fBserve :9000 \-\-forward
udp://127.0.0.1:53\fR), as socat does, each chunk read from the stream goes
out as one datagram (at most 65,507 bytes for UDP; for unixgram, the
socket's send buffer), and each datagram that comes back is written to the
stream. A datagram socket has no FIN: after the client's, the connection
ends once the upstream has been quiet for 0.5s (or at
\fB\-\-idle\-timeout\fR). A datagram server forwards to datagram addresses
only; see DATAGRAMS for its sessions.
.IP \(bu 2
An upstream that is the server's own address (the same address, a
loopback or local address on a wildcard bind's port, the same socket file
or abstract name) is refused at start (exit 2): each connection would be
forwarded to the server itself. A loop through a name or another
interface is caught at run time: a connection (or datagram) from one of
the server's own upstream sockets is refused at once, with one event line
however often it repeats.
.IP \(bu 2
The access list, \fB\-\-max\-conns\fR, \fB\-\-max\-children\fR,
\fB\-\-max\-threads\fR, \fB\-\-idle\-timeout\fR, \fB\-\-hex\fR (both
directions, \fB<\fR from the client, \fB>\fR to it), JSON events and
Ctrl\-C's grace period apply as to any handler.
"#;

pub(super) const NETCAT: &str = r#".SH "FOR NETCAT USERS"
The habits of nc, ncat and socat, and the sockcat way. A flag sockcat
spells differently gets a one-line pointer (exit 2), and so do a netcat
line with no subcommand (\fBsockcat host 9000\fR, \fBsockcat \-zv host
20\-30\fR: it names the \fBsend\fR line), a socket path written without
\fBunix:\fR, and nc's \fB\-q SECS\fR before the address.
.TP
.B nc \-l 9000\fR, \fBncat \-lk 9000
\fBsockcat serve 9000\fR (servers keep listening; \fB\-k\fR is accepted).
\fBfork\-serve\fR and \fBthread\-serve\fR serve a connection per process
or thread.
.TP
.B nc \-N host 9000 < file
\fBsockcat send host 9000 < file\fR: netcat's \fBHOST PORT\fR form is read
as one address, and the half-close after the input is the default
(\fB\-N\fR is accepted).
.TP
.B nc \-q 1 host 9000\fR, \fBsocat \-t 1 \- TCP:host:9000
\fBsockcat send \-\-hold 1s host 9000\fR: no half-close after the input;
the exchange ends (exit 0) once the server has sent nothing for 1s, or at
its close. For servers and proxies that end the whole connection at a
half-close. nc's and socat's delay is fixed; \fB\-\-hold\fR counts quiet, so a
server that keeps talking keeps it open: \fB\-\-wait DUR\fR bounds the whole
time after the input (exit 124 when it runs out).
.TP
.B nc \-nvz host 22\fR, \fBnc \-zv host 20\-30
\fBsockcat send \-nvz host 22\fR; \fBsockcat send \-z host 20\-30,443\fR
scans, several ports at once; one port or many, one line per port on
standard output (\fB\-\-open\fR: only the open ones).
.TP
.B nc \-u host 53\fR, \fBnc \-U /tmp/s
\fBsockcat send \-u host 53\fR, \fBsockcat send \-U /tmp/s\fR (or
\fBunix:/tmp/s\fR).
.TP
.B ncat \-lk 9000 \-e /bin/cat\fR, \fBnc \-c CMD
\fBsockcat fork\-serve 9000 \-\-exec /bin/cat\fR, \fB\-\-sh\-exec CMD\fR.
\fB\-\-exec\fR takes the rest of the line, so the address goes first.
.TP
.B ncat host 9000 \-e PROG\fR, \fBsocat TCP:host:9000 EXEC:PROG
\fBsockcat send host:9000 \-\-exec PROG ARGS...\fR (\fB\-\-sh\-exec
CMD\fR for \fBncat \-c\fR and \fBSYSTEM:\fR), over TLS and \fB\-\-proxy\fR
too: the program's output goes to the server, the server's bytes to its
input. Its end of output is sockcat's FIN; its exit ends the conversation,
and whatever it started and left running is ended too (SIGTERM, then
SIGKILL). sockcat exits with the program's status.
.TP
.B ncat \-\-broker\fR, \fBncat \-\-chat
\fBsockcat serve \-\-broker\fR.
.TP
.B nc \-C\fR, \fBncat \-w 3
\fB\-\-crlf\fR (also \fB\-C\fR), \fB\-\-connect\-timeout 3s\fR (also
\fB\-w\fR, ncat's meaning; OpenBSD nc's \fB\-w\fR also bounds idle time:
add \fB\-\-idle\-timeout 3s\fR).
.TP
.B ncat \-x FILE
\fB\-\-hex 2> FILE\fR.
.TP
.B nc \-X 5 \-x proxy:1080 host 22\fR, \fBncat \-\-proxy proxy:3128 \-\-proxy\-type http
\fBsockcat send \-\-proxy socks5://proxy:1080 host 22\fR (\fBsocks5h://\fR
lets the proxy resolve names), \fB\-\-proxy http://proxy:3128\fR (CONNECT);
a user and password go in the URL. See PROXIES.
.TP
.B ncat \-\-ssl \-lk 8443\fR, \fBncat \-\-ssl host 443
\fBsockcat serve tls://:8443\fR (a fresh certificate whose fingerprint it
prints), \fBsockcat send tls://host:443\fR (verified; ncat's \fB\-\-ssl\fR
verifies nothing unless \fB\-\-ssl\-verify\fR). See TLS.
.TP
.B socat ACCEPT\-FD:3\fR, \fBsystemd socket activation
\fBsockcat serve fd:3\fR, \fBsockcat serve systemd\fR (see INHERITED
SOCKETS on the server pages).
.TP
.B inetd\fR, \fBsystemd Accept=yes\fR (as \fBsocat STDIO TCP:host:80\fR there)
\fBsockcat serve stdio \-\-forward host:80\fR, or any handler: the
connection handed over on stdin (see INHERITED SOCKETS on the server pages).
.TP
.B socat TCP\-LISTEN:8080,fork TCP:localhost:80
\fBsockcat serve 8080 \-\-forward localhost:80\fR (any model).
.TP
.B socat TCP\-LISTEN:2375,fork UNIX\-CONNECT:/var/run/docker.sock
\fBsockcat serve 2375 \-\-forward unix:/var/run/docker.sock\fR.
.PP
Letters sockcat uses for something else keep sockcat's meaning:
\fB\-q\fR is \fB\-\-quiet\fR (nc's \fB\-q 1\fR, wait after the
input's end, is \fB\-\-hold 1s\fR; without it sockcat half-closes at once
and reads until the server's FIN);
\fB\-n\fR leaves the newline off the message words. (nc's \fB\-n\fR, "no
DNS", needs no flag here: sockcat uses an IP address as it is and looks up
only a name.) With \fB\-z\fR, where there is no message, \fB\-n\fR is
accepted and ignored, so \fBnc \-nvz\fR's habit works; \fBsend \-\-wait DUR\fR bounds the
wait for a reply (ncat's \fB\-\-wait\fR is the connect timeout).
"#;

pub(super) const TLS: &str = r#".SH TLS
\fBtls://HOST:PORT\fR (or \fB\-\-tls\fR with a TCP or Unix stream address)
speaks TLS 1.2 or 1.3, in every server model, with every handler, and in
\fBsend\fR and load mode. No code path moves bytes around the TLS session:
zero-copy and programs given the socket itself fall back to copying.
.PP
A server without \fB\-\-cert\fR and \fB\-\-key\fR makes a fresh self-signed
certificate (ECDSA P-256) for the names and addresses it binds, and prints
its fingerprint before the readiness lines, under \fB\-q\fR too:
\fBtls certificate sha256:AB:CD:... (key spki-sha256:...) (curl sha256//...)\fR.
That fingerprint is all a client needs (\fB\-\-pin\fR); the last form is
the key's hash as curl's \fB\-\-pinnedpubkey\fR takes it, and
\fB\-\-pin\fR takes it too. \fB\-\-save\-cert FILE
\-\-save\-key FILE\fR keep the pair for the next start's \fB\-\-cert\fR and
\fB\-\-key\fR; the \fBspki-sha256\fR pin names the key, so it holds when the
certificate is re-issued for the same key. \fB\-\-cert\fR takes a PEM chain;
\fB\-\-key\fR a PKCS#8, SEC1 or RSA key.
.PP
A client verifies the server against the system's trusted certificates
and the host name (\fB\-\-sni NAME\fR names another), or against
\fB\-\-cacert FILE\fR (a CA, or the server's own certificate, such as
the one \fB\-\-save\-cert\fR writes or a self-signed one that \fBopenssl
req \-x509\fR makes: a server certificate that is itself in FILE is
trusted as curl's \fB\-\-cacert\fR trusts it, its name still checked), or
accepts exactly the certificate or key a \fB\-\-pin\fR names.
\fB\-\-insecure\fR verifies nothing and says so on standard error. A failure
is one line naming the reason, exit 1. A Unix socket has no host name:
verify by \fB\-\-pin\fR, or by \fB\-\-cacert\fR with \fB\-\-sni\fR.
.PP
\fB\-\-client\-ca FILE\fR makes a server require a client certificate
signed by a CA in FILE (mutual TLS); the client presents one with
\fB\-\-cert\fR and \fB\-\-key\fR. The verified client's subject and
fingerprint appear in the server's events and in \fB\-\-exec\fR programs'
environment (\fBSOCKCAT_TLS_PEER_SUBJECT\fR, \fBSOCKCAT_TLS_PEER_SHA256\fR,
and \fBSOCKCAT_TLS_VERSION\fR for any TLS connection). \fB\-\-alpn LIST\fR
offers protocols on either side; \fB\-v\fR (and JSON) shows the version,
cipher suite and protocol each handshake settled.
.PP
close_notify is TLS's FIN. With TLS 1.3 the lesson's exchange (send,
half-close, read the reply until the server closes) works exactly as over
TCP with a server that keeps sending after the client's close_notify, as
sockcat's servers do. TLS 1.2 prescribes answering close_notify with
close_notify, and many peers (TLS 1.2 ones, and ncat and \fBopenssl
s_server\fR whatever the version) end the whole connection there: a reply
that comes after the client's half-close can be lost; use
\fBsend \-\-hold DUR\fR with them (no close_notify after the input; the
exchange ends, exit 0, once the server has sent nothing for DUR, or at its
close). A server that answers send's close_notify with its own and
closes gets no warning: one that owed nothing (a sink for an upload)
closes the same way.
.PP
A peer that closes without close_notify gets a warning naming the
truncation (and \fB\-\-hold\fR, when it closed within a second of send's
close_notify); the exit code is unchanged, 0: many servers close this way,
and curl too reads such an ending as the end (only \fBopenssl s_client\fR
calls it an error, \fBunexpected eof while reading\fR, exit 1). A script
that must know tests \fBtruncated\fR in the JSON events (\fB\-\-log\-format
json\fR): \fBtrue\fR in that warning, and in \fBsend \-v\fR's \fBclosed\fR
event, which says \fBfalse\fR for any other ending. \fBopenssl s_client\fR
needs \fB\-ign_eof\fR to read a reply after its input ends.
.PP
Examples:
.PP
.nf
.RS
$ sockcat serve tls://:8443 \-\-reply hello
tls certificate sha256:3A:...:9F (key spki-sha256:...) (curl sha256//Xk...=)
$ sockcat send tls://localhost:8443 \-\-pin sha256:3A:...:9F
$ curl \-k \-\-pinnedpubkey 'sha256//Xk...=' https://localhost:8443/
$ openssl s_client \-connect localhost:8443 </dev/null 2>/dev/null |
      openssl x509 \-noout \-fingerprint \-sha256

$ sockcat fork\-serve tls://:8443 \-\-cert srv.pem \-\-key srv.key \e
      \-\-client\-ca ca.pem \-\-sh\-exec 'echo "hi $SOCKCAT_TLS_PEER_SUBJECT"'
$ sockcat send tls://srv:8443 \-\-cacert ca.pem \-\-cert me.pem \-\-key me.key

$ sockcat serve tls://:443 \-\-cert srv.pem \-\-key srv.key \-\-forward localhost:8080
$ sockcat serve :8080 \-\-forward tls://example.org:443
.RE
.fi
"#;

pub(super) const PROXIES: &str = r#".SH PROXIES
\fB\-\-proxy URL\fR sends a client connection (\fBsend\fR, load mode, a
server's \fB\-\-forward\fR upstream) through a proxy:
\fBsocks5://\fR[\fIUSER\fR:\fIPASS\fR@]\fIHOST\fR[:\fIPORT\fR] (SOCKS5;
the target's name is looked up here and its first address asked for, as
curl does), \fBsocks5h://\fR (the proxy looks the name up: use it for
names only the proxy's side can resolve), or \fBhttp://\fR (HTTP CONNECT;
port 3128 unless given; 1080 for SOCKS). A user and password with
\fB@\fR or \fB:\fR in them are percent-encoded (\fB%40\fR, \fB%3A\fR). The
proxy's own name is looked up once, at start, and its addresses are tried
Happy Eyeballs style. \fB\-\-connect\-timeout\fR bounds reaching the proxy
and its answer together (30s without it). Only TCP goes through a proxy.
.PP
A proxy that will not connect is a one-line error naming its reason, exit
1: \fBproxy socks5://127.0.0.1:1080: it could not connect to
example.org:80: connection refused (SOCKS reply 5)\fR, or \fBproxy
http://127.0.0.1:3128: CONNECT example.org:80 refused: 403 Forbidden\fR.
.PP
Some proxies (microsocks, tinyproxy) end the whole tunnel when the client
half-closes, instead of passing the FIN on: \fBsend\fR's FIN after its
input then cuts the reply short or loses it, and sockcat cannot tell
that from a server that closed (exit 0; when the reply was empty and the
tunnel ended within a second of the FIN, a warning names \fB\-\-hold\fR).
Keep the write side open with \fB\-\-hold DUR\fR: no FIN after the input,
and the exchange ends, exit 0, once the server has sent nothing for DUR
(or at its close): \fBsend \-\-proxy socks5://127.0.0.1:1080 \-\-hold 1s
\-\-file req.bin host:80\fR. Pick DUR longer than the server's longest
pause. Dante passes the half-close on, as a direct connection does.
"#;

pub(super) const ACTIVATION: &str = r#".SH "INHERITED SOCKETS"
A server can serve sockets that whoever started it bound, instead of
binding its own. The address \fBfd:N\fR takes descriptor N (3 or above),
left open for sockcat. \fBsystemd\fR takes every socket systemd passed
(socket activation: \fBLISTEN_FDS\fR, checked against \fBLISTEN_PID\fR);
\fBsystemd:NAME\fR takes those named NAME in \fBLISTEN_FDNAMES\fR (the
\fBFileDescriptorName=\fR of a \fB.socket\fR unit). These forms win over
host names: \fBtcp://fd:3\fR reaches a host named fd.
.PP
The socket decides the transport: a TCP, UDP, Unix stream or Unix datagram
socket, which must be bound, and listening for a stream socket (a
\fB.socket\fR unit with \fBAccept=no\fR, the default; \fBAccept=yes\fR
passes connections: serve those with \fBstdio\fR, below). Every socket a server takes
must be of one transport. \fB\-\-backlog\fR and \fB\-\-mode\fR do not
apply, and a server never removes an inherited socket's file: it is not
sockcat's. Programs started by \fB\-\-exec\fR do not inherit the sockets
or the \fBLISTEN_*\fR variables.
.PP
A socket-activated echo service (the files are in \fBcontrib/systemd/\fR):
.PP
.nf
.RS
# sockcat-echo.socket
[Socket]
ListenStream=7007
FileDescriptorName=echo

# sockcat-echo.service
[Service]
Type=notify
ExecStart=/usr/bin/sockcat serve systemd:echo \-\-echo
.RE
.fi
.PP
To try it without systemd:
\fBsystemd\-socket\-activate \-l 7007 \-\-fdname=echo sockcat serve systemd:echo \-\-echo\fR.
SIGTERM, systemd's stop, lets open connections finish for \fB\-\-grace\fR
and exits 0.
.PP
.B inetd mode.
The address \fBstdio\fR serves the one connection already accepted and
handed over on stdin: by inetd (\fBnowait\fR), by
\fBsystemd\-socket\-activate \-\-inetd \-\-accept\fR, or by a
\fB.socket\fR unit with \fBAccept=yes\fR whose service has
\fBStandardInput=socket\fR. Every model and every handler serve it (with
\fB\-\-tls\fR too: \fBserve stdio \-\-tls\fR), and the server exits
when it ends: 0, as after \fB\-\-once\fR. The peer in events and in
\fBSOCKCAT_PEER_*\fR is the socket's own (a TCP or Unix stream
connection); the readiness line names its local address. sockcat takes
the connection off descriptor 0 (which then reads /dev/null), and points
stdout and stderr at /dev/null when they are the connection too, as inetd
leaves them: events and printed bytes are never mixed into the
connection. So in a unit, send \fBStandardError=\fR (and, for the default
handler, which prints the peer's bytes and is refused when stdout is the
connection, \fBStandardOutput=\fR) to the journal. Stdin must be a
connected stream socket: a pipe or terminal, a datagram socket (inetd's
\fBdgram wait\fR) or a listening one (inetd's \fBwait\fR) is refused
with a pointer. To try it by hand, socat's \fBEXEC:\fR gives its program
a socket pair: \fBsocat \- EXEC:'sockcat serve stdio \-\-echo'\fR. The
example \fBcontrib/systemd/sockcat\-echo\-inetd.socket\fR and
\fBsockcat\-echo\-inetd@.service\fR run an echo service a process per
connection:
.PP
.nf
.RS
# sockcat-echo-inetd.socket
[Socket]
ListenStream=7008
Accept=yes

# sockcat-echo-inetd@.service
[Service]
ExecStart=/usr/bin/sockcat serve stdio \-\-echo
StandardInput=socket
StandardError=journal
.RE
.fi
.PP
To try it without systemd:
\fBsystemd\-socket\-activate \-\-inetd \-\-accept \-l 7008 sockcat serve stdio \-\-echo\fR.
"#;

pub(super) const ENVIRONMENT: &str = r#".SH ENVIRONMENT
Programs started by \fB\-\-exec\fR and \fB\-\-sh\-exec\fR get these
variables; for Unix sockets the address is the socket name and the port is
empty. For \fBsend \-\-exec\fR the peer is the server (through
\fB\-\-proxy\fR, the address asked for, a name when the proxy resolves
it), and the TLS variables describe the server's certificate.
.TP
.B SOCKCAT_PEER_ADDR
The peer's address (for a Unix client, the name it bound, escaped; empty
when it bound none; with \fB\-\-proxy\-protocol\fR, the client its
header names).
.TP
.B SOCKCAT_PEER_PORT
The peer's port.
.TP
.B SOCKCAT_LOCAL_ADDR
The local address the connection arrived on.
.TP
.B SOCKCAT_LOCAL_PORT
The local port.
.TP
.B SOCKCAT_PEER_UID\fR, \fBSOCKCAT_PEER_PID
For a Unix stream client, its uid and pid as the kernel reported them when
it connected (SO_PEERCRED); \fB\-\-allow uid:N\fR and \fB\-\-deny uid:N\fR
match the uid.
.TP
.B SOCKCAT_TLS_VERSION
Over TLS: the version the handshake settled (\fBTLSv1.3\fR, \fBTLSv1.2\fR).
.TP
.B SOCKCAT_TLS_PEER_SUBJECT\fR, \fBSOCKCAT_TLS_PEER_SHA256
Under mutual TLS (\fB\-\-client\-ca\fR): the verified client certificate's
subject (\fBCN=...,O=...\fR) and fingerprint (\fBsha256:...\fR).
.TP
.B SOCKCAT_WS_PATH\fR, \fBSOCKCAT_WS_PROTOCOL\fR, \fBSOCKCAT_WS_ORIGIN
Over a WebSocket: the path asked for, the protocol chosen, the Origin (see
WEBSOCKET).
.PP
A server itself reads \fBNOTIFY_SOCKET\fR, which systemd sets for a
\fBType=notify\fR service: it sends \fBREADY=1\fR (with a \fBSTATUS=\fR
line naming its sockets) once it listens, \fBSTATUS=\fR lines with the
connections served and open (at most once a second), and \fBSTOPPING=1\fR
when a stop begins. Programs it starts see neither \fBNOTIFY_SOCKET\fR nor
\fBLISTEN_FDS\fR, \fBLISTEN_PID\fR and \fBLISTEN_FDNAMES\fR.
"#;

pub(super) const SEE_ALSO_MAIN: &str = r#".SH "SEE ALSO"
.BR sockcat\-serve (1),
.BR sockcat\-fork\-serve (1),
.BR sockcat\-thread\-serve (1),
.BR sockcat\-send (1),
.BR nc (1),
.BR ncat (1),
.BR socat (1)
"#;
