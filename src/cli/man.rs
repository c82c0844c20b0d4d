//! The man pages' prose: the sections clap cannot derive from the
//! definitions (examples, exit status, environment, events, see also). The
//! generator in `tests/generated.rs` renders clap's sections and appends
//! [`trailer`]; the rendered pages are committed under `man/`.

const DURATIONS: &str = r#".SH DURATIONS
Options that take a duration (\fIDUR\fR) accept humantime forms such as
\fB500ms\fR, \fB5s\fR, \fB2m\fR or \fB1h 30m\fR, or plain seconds
(\fB0.25\fR). A duration is at most one year. Timeouts
(\fB\-\-idle\-timeout\fR, \fB\-\-connect\-timeout\fR, \fB\-\-duration\fR)
must be longer than 0s; \fB\-\-grace 0s\fR and \fB\-\-wait 0s\fR mean no
grace period and no wait.
"#;

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
.B 0
Success; for \fBsend \-z\fR, the port accepts connections.
.TP
.B 1
A runtime failure: connection refused or reset, bind failed, a socket file
in the way, errors in load mode.
.TP
.B 2
A usage error: a bad flag, address, duration or CIDR.
.TP
.B 124
A time limit expired: \fB\-\-connect\-timeout\fR, \fB\-\-wait\fR,
\fB\-\-idle\-timeout\fR or \fB\-\-retry\fR; for \fBsend \-z\fR over UDP, no
answer came, so the port may be open or filtered.
.TP
.B 130
Interrupted by Ctrl\-C or SIGTERM.
.PP
A closed standard output (\fBsockcat send ... | head \-1\fR) ends quietly
with 0. Errors are one line on standard error:
\fBsockcat: error: connect to 127.0.0.1:9: Connection refused\fR.
"#;

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
Programs started by \fB\-\-exec\fR and \fB\-\-sh\-exec\fR get these
variables; for Unix sockets the address is the socket name and the port is
empty.
.TP
.B SOCKCAT_PEER_ADDR
The peer's address (for a Unix client, the name it bound, escaped; empty
when it bound none).
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
"#;

const EVENTS: &str = r#".SH EVENTS
Events go to standard error, data to standard output. A server prints one
readiness line per socket, such as \fBlistening on tcp 127.0.0.1:10000\fR,
before it accepts anything; scripts wait for it. \fB\-v\fR adds a line when
each connection closes and a summary on exit; \fB\-q\fR leaves only the
readiness lines and errors.
.PP
With \fB\-\-log\-format json\fR each event is one JSON object on a line, with
\fBevent\fR and \fBtime\fR (RFC 3339) fields and these others:
.TP
.B listening
\fBtransport\fR (tcp, udp, unix, unixgram), \fBaddress\fR.
.TP
.B connection
\fBtransport\fR, \fBpeer\fR (\fB\-\fR for a Unix client that bound no name;
control bytes in a Unix name appear as \fB\\xNN\fR), and for a Unix stream
client \fBuid\fR and \fBpid\fR. Text: \fBgot connection from PEER\fR (with
\fB(uid N, pid N)\fR for a Unix stream client).
.TP
.B datagram
the same fields, for each datagram a UDP or unixgram server receives (there
is no connection). Text: \fBgot datagram from PEER\fR.
.TP
.B closed
\fBtransport\fR, \fBpeer\fR, \fBbytes_in\fR, \fBbytes_out\fR,
\fBduration_ms\fR, and for a connection's program \fBexit_code\fR or
\fBsignal\fR (only under \fB\-v\fR, like the event itself).
.TP
.B connected
\fBtransport\fR, \fBaddress\fR, \fBlocal\fR: \fBsend \-v\fR is connected
(text: \fBconnected to ADDR (from LOCAL)\fR); its \fBclosed\fR event follows
at the end, with the bytes each way.
.TP
.B refused
\fBtransport\fR, \fBpeer\fR (turned away by \fB\-\-allow\fR/\fB\-\-deny\fR,
or a datagram a replying server drops: from port 0, 7 or 19, or from its
own address).
.TP
.B error
\fBmessage\fR, and \fBfatal\fR: true when the program exits because of it.
.TP
.B hex
\fBpeer\fR, \fBdirection\fR (\fBin\fR or \fBout\fR), \fBoffset\fR and
\fBbytes\fR (the block, as a hex string): what \fB\-\-hex\fR shows, one
event per block, so the stream stays one JSON object per line.
.TP
.B warning
\fBmessage\fR: something to know that does not stop the server (a program
served on an address that is not loopback, with no \fB\-\-allow\fR).
.TP
.B summary
\fBconnections\fR, \fBbytes_in\fR, \fBbytes_out\fR, \fBduration_ms\fR.
.TP
.B probe
\fBaddress\fR, \fBopen\fR: what \fBsend \-z\fR found (not under \fB\-q\fR).
.TP
.B load
the load\-mode summary of \fBsend \-\-count\fR or \fBsend \-\-duration\fR
(on standard output):
\fBcount\fR, \fBconcurrency\fR, \fBok\fR, \fBerrors\fR,
\fBerrors_by_kind\fR, \fBseconds\fR, \fBconnections_per_sec\fR,
\fBstalls\fR (exchanges of 1s or more),
\fBlatency_ms\fR (\fBp50\fR, \fBp90\fR, \fBp99\fR, \fBp99.9\fR, \fBmax\fR;
null when no exchange succeeded),
\fBbytes_out\fR, \fBbytes_in\fR; with \fB\-\-duration\fR also
\fBwarmup_seconds\fR, \fBwindow_seconds\fR, \fBok_in_window\fR (the
exchanges that finished inside the window: the rate counts these) and
\fBlate\fR (exchanges in flight when the window closed, waited for and
counted here rather than dropped).
"#;

const SEE_ALSO_MAIN: &str = r#".SH "SEE ALSO"
.BR sockcat\-serve (1),
.BR sockcat\-fork\-serve (1),
.BR sockcat\-thread\-serve (1),
.BR sockcat\-send (1),
.BR nc (1),
.BR ncat (1),
.BR socat (1)
"#;

fn see_also_sub() -> &'static str {
    r#".SH "SEE ALSO"
.BR sockcat (1),
.BR nc (1),
.BR ncat (1),
.BR socat (1)
"#
}

fn example(lines: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (what, cmd) in lines {
        s.push_str(&format!(".PP\n{what}\n.PP\n.RS 4\n.nf\n{cmd}\n.fi\n.RE\n"));
    }
    s
}

fn examples(page: &str) -> String {
    let common: Vec<(&str, &str)> = match page {
        "sockcat" => vec![
            (
                "The lesson's demo: a server that answers \\fBconnected\\fR, and a client.",
                "$ sockcat serve \\-\\-reply connected\nlistening on tcp 127.0.0.1:10000\nlistening on tcp [::1]:10000\n\n$ sockcat send localhost:10000 hello from client\nconnected",
            ),
            (
                "Copy a file: receive it on one side, send it from the other.",
                "$ sockcat serve :9000 \\-\\-once > copy.tar\n$ sockcat send :9000 \\-\\-file backup.tar",
            ),
            (
                "Run a program per connection, inetd style.",
                "$ sockcat fork\\-serve :7000 \\-\\-exec date",
            ),
            (
                "An echo service on a Unix socket, and a client for it.",
                "$ sockcat thread\\-serve unix:/tmp/echo.sock \\-\\-echo \\-\\-mode 600\n$ sockcat send unix:/tmp/echo.sock ping",
            ),
        ],
        "sockcat-serve" => vec![
            (
                "The lesson's demo server.",
                "$ sockcat serve \\-\\-reply connected",
            ),
            (
                "Receive one file, then exit.",
                "$ sockcat serve :9000 \\-\\-once > file.out",
            ),
            (
                "A chat room: what one client sends, the others see.",
                "$ sockcat serve 0.0.0.0:7000 \\-\\-broker \\-\\-allow 192.168.0.0/16 \\-\\-deny 192.168.0.13",
            ),
            (
                "A UDP echo service.",
                "$ sockcat serve udp://127.0.0.1:5353 \\-\\-echo",
            ),
            (
                "JSON events for a log collector.",
                "$ sockcat serve \\-\\-log\\-format json \\-v \\-\\-discard",
            ),
        ],
        "sockcat-fork-serve" => vec![
            (
                "Run a program per connection, with the socket as its stdin and stdout.",
                "$ sockcat fork\\-serve :7000 \\-\\-exec date",
            ),
            (
                "A shell command line per connection; the peer's address is in the environment.",
                "$ sockcat fork\\-serve :7000 \\-\\-sh\\-exec 'echo hello $SOCKCAT_PEER_ADDR'",
            ),
            (
                "At most 8 children; more connections wait.",
                "$ sockcat fork\\-serve :7000 \\-\\-max\\-children 8 \\-\\-exec cat",
            ),
        ],
        "sockcat-thread-serve" => vec![
            (
                "An echo service on a Unix socket.",
                "$ sockcat thread\\-serve unix:/tmp/echo.sock \\-\\-echo \\-\\-mode 600",
            ),
            (
                "Count bytes per connection.",
                "$ sockcat thread\\-serve :7000 \\-\\-exec wc \\-c",
            ),
        ],
        _ => vec![
            (
                "The lesson's demo client.",
                "$ sockcat send localhost:10000 hello from client",
            ),
            (
                "Send a file, with a progress bar on a terminal.",
                "$ sockcat send :9000 \\-\\-file backup.tar",
            ),
            (
                "The same from a script, with the bar forced into its log (or never: \\fB\\-\\-no\\-progress\\fR).",
                "$ sockcat send :9000 \\-\\-progress < backup.tar 2>> transfer.log",
            ),
            (
                "Wait for a server to come up, then talk to it.",
                "$ sockcat send \\-\\-retry 10s :8080 ping",
            ),
            (
                "Is the port open?",
                "$ sockcat send \\-z 127.0.0.1:22 && echo open",
            ),
            (
                "A line per datagram, over UDP.",
                "$ printf 'a\\\\nb\\\\n' | sockcat send udp://127.0.0.1:5353",
            ),
            (
                "Load test: 2000 exchanges, 32 at a time, each line ending in CRLF.",
                "$ sockcat send :8080 \\-\\-count 2000 \\-\\-concurrency 32 \\-\\-crlf hello",
            ),
            (
                "Load test for a fixed time: the rate inside a 3s window after 1s of warm-up, with stalls and p99.9.",
                "$ sockcat send :8080 \\-\\-duration 3s \\-\\-warmup 1s \\-\\-concurrency 64 hello",
            ),
            (
                "Show every byte as hex on stderr.",
                "$ sockcat send \\-\\-hex :7000 hi",
            ),
            (
                "Connect from a chosen local address, with TCP keepalive and no Nagle delay.",
                "$ sockcat send \\-\\-source 127.0.0.2 \\-\\-keepalive \\-\\-nodelay :7000 hi",
            ),
        ],
    };
    format!(".SH EXAMPLES\n{}", example(&common))
}

/// Everything that follows the options (and, on `sockcat.1`, the
/// subcommands) on the page `page` ("sockcat", "sockcat-serve", …).
pub fn trailer(page: &str) -> String {
    let mut out = examples(page);
    out.push_str(DURATIONS);
    out.push_str(EXIT_STATUS);
    if page == "sockcat" || page.ends_with("serve") {
        out.push_str(ENVIRONMENT);
    }
    out.push_str(EVENTS);
    out.push_str(if page == "sockcat" {
        SEE_ALSO_MAIN
    } else {
        see_also_sub()
    });
    out
}
