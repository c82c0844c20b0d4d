//! The man pages' EVENTS section (what stderr says, in text and JSON), in
//! roff, as `trailer` appends it.

pub(super) const EVENTS: &str = r#".SH EVENTS
Events go to standard error, data to standard output. A server prints one
readiness line per socket, such as \fBlistening on tcp 127.0.0.1:10000\fR,
before it accepts anything; scripts wait for it. \fB\-v\fR adds a line when
each connection closes and a summary on exit; \fB\-q\fR leaves only the
readiness lines and errors.
.PP
With \fB\-\-log\-format json\fR each event is one JSON object on a line, with
\fBevent\fR and \fBtime\fR (RFC 3339) fields and these others. An event
that carries an address (\fBaddress\fR or \fBpeer\fR) also carries it
split, for scripts: \fBhost\fR (an IPv6 address without brackets) and
\fBport\fR (a number), or for a Unix socket \fBsocket_path\fR (none for a
client that bound no name); \fBlocal\fR and \fBupstream\fR likewise as
\fBlocal_host\fR, \fBlocal_port\fR, \fBupstream_host\fR,
\fBupstream_port\fR (or \fBlocal_socket_path\fR,
\fBupstream_socket_path\fR).
.TP
.B listening
\fBtransport\fR (tcp, udp, unix, unixgram), \fBaddress\fR.
.TP
.B control
\fBtransport\fR (unix), \fBaddress\fR: the control socket
(\fB\-\-control\fR) listens, after the readiness lines. Text:
\fBcontrol socket on unix:PATH\fR.
.TP
.B connection
\fBtransport\fR, \fBpeer\fR (\fB\-\fR for a Unix client that bound no name;
control bytes in a Unix name appear as \fB\\xNN\fR), and for a Unix stream
client \fBuid\fR and \fBpid\fR. Text: \fBgot connection from PEER\fR (with
\fB(uid N, pid N)\fR for a Unix stream client).
.TP
.B datagram
the same fields, for each datagram a UDP or unixgram server receives (there
is no connection); with \fB\-\-forward\fR, for a session's first datagram.
Text: \fBgot datagram from PEER\fR.
.TP
.B closed
\fBtransport\fR, \fBpeer\fR, \fBbytes_in\fR, \fBbytes_out\fR,
\fBduration_ms\fR, for a connection's program \fBexit_code\fR or
\fBsignal\fR, and for a forwarded connection \fBupstream\fR (the
\fB\-\-forward\fR address) and \fBpath\fR (\fBsplice\fR or \fBcopy\fR);
\fBbytes_in\fR came from the peer, \fBbytes_out\fR went to it (only under
\fB\-v\fR, like the event itself). \fBsend\fR's also has \fBtruncated\fR:
\fBtrue\fR when a TLS server closed without close_notify, \fBfalse\fR
otherwise (see TLS).
.TP
.B fault
\fBpeer\fR, \fBconnection\fR (its number, 0 the first), \fBfault\fR (\fBrate\fR, \fBdelay\fR, \fBslow_close\fR, \fBblackhole\fR, \fBcut\fR, \fBreset\fR, \fBrefuse\fR), \fBdirection\fR (\fBup\fR,
\fBdown\fR or \fBboth\fR) and the fault's settings (\fBbytes_per_sec\fR,
\fBburst\fR; \fBlatency_ms\fR, \fBjitter_ms\fR; \fBhold_ms\fR; \fBfor_ms\fR; \fBat_byte\fR, the byte a cut or reset acted at; \fBafter_ms\fR): a
fault applied to a forwarded connection, as it begins (a rate, a delay, a slow
close, a black hole) or as it acts (a cut, a reset, a refusal; \fB\-v\fR; see FAULTS). Text: \fBPEER: rate 64KiB/s up\fR,
\fBPEER: cut up at byte 1000\fR. A change the control socket made, as a
connection takes it: \fBcontrol\fR true, \fBfault\fR (its name),
\fBvalue\fR (\fBnull\fR: removed), \fBdirection\fR, \fBversion\fR
(text: \fBPEER: control: delay 300ms down\fR). A fault applied to one
datagram: \fBfault\fR (\fBloss\fR, \fBduplicate\fR, \fBreorder\fR,
\fBqueue\fR), \fBdatagram\fR, \fBat_byte\fR, \fBbytes\fR.
.TP
.B connected
\fBtransport\fR, \fBaddress\fR, \fBlocal\fR: \fBsend \-v\fR is connected
(text: \fBconnected to ADDR (from LOCAL)\fR); its \fBclosed\fR event follows
at the end, with the bytes each way.
.TP
.B refused
\fBtransport\fR, \fBpeer\fR (turned away by \fB\-\-allow\fR/\fB\-\-deny\fR,
or a datagram a replying server drops: from port 0, 7 or 19, or from its
own address); with \fB\-\-proxy\-protocol\fR, also a connection without a
valid PROXY protocol header or not from a \fB\-\-proxy\-from\fR source,
with its \fBreason\fR. Text: \fBrefused PEER (access list)\fR, or the
reason in its place.
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
served on an address that is not loopback, with no \fB\-\-allow\fR; a
datagram dropped because no session could start for its peer). \fBsend\fR's
warning about how an exchange ended (a TLS server's close without
close_notify, a reply lost at the half-close) also has \fBtruncated\fR
(\fBtrue\fR for the first).
.TP
.B summary
\fBconnections\fR, \fBbytes_in\fR, \fBbytes_out\fR, \fBduration_ms\fR.
Text: \fBserved N connections: ...\fR; a datagram server, which has no
connections, says \fBsessions\fR with \fB\-\-forward\fR and
\fBdatagrams\fR otherwise (the JSON field is \fBconnections\fR all the same).
.TP
.B port
what \fBsend \-z\fR found for one port, of a scan or the one port of a
probe, on standard output (it is the data; none under \fB\-q\fR, and under
\fB\-\-open\fR only the open ports):
\fBtransport\fR, \fBaddress\fR, \fBhost\fR and \fBport\fR (or
\fBsocket_path\fR), \fBstate\fR (\fBopen\fR,
\fBclosed\fR, \fBfiltered\fR: no answer to a TCP connect;
\fBopen|filtered\fR: no answer to an empty UDP datagram, which an open
port that ignores it and a filtered one both give; \fBerror\fR, with
\fBmessage\fR), and \fBwaited_ms\fR for the last two. Text:
\fB127.0.0.1:22 open\fR, one line per port, in port order. A probe of
one port says why on standard error only when the line cannot
(\fBerror\fR: a proxy that could not be reached, say); closed and
filtered ports are said by the line and the exit status.
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
