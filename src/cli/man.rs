//! The man pages' prose: the sections clap cannot derive from the
//! definitions (examples, exit status, environment, events, see also). The
//! generator in `tests/generated.rs` renders clap's sections and appends
//! [`trailer`]; the rendered pages are committed under `man/`.

mod events;
mod sections;

use events::*;
use sections::*;

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
                "Forward a port, or expose a Unix socket on TCP.",
                "$ sockcat serve :8080 \\-\\-forward localhost:80\n$ sockcat fork\\-serve :2375 \\-\\-forward unix:/var/run/docker.sock",
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
                "A port forwarder; with \\fB\\-v\\fR each closing line says how the bytes moved.",
                "$ sockcat serve :8080 \\-\\-forward localhost:80 \\-v",
            ),
            (
                "Behind a load balancer that sends the PROXY protocol (HAProxy's send\\-proxy): its client is the peer; in front of nginx's proxy_protocol listener.",
                "$ sockcat serve 127.0.0.1:9000 \\-\\-proxy\\-protocol \\-\\-echo\n$ sockcat serve :8080 \\-\\-forward 127.0.0.1:8081 \\-\\-send\\-proxy v2",
            ),
            (
                "Reach a TCP service through a Unix socket, and a UDP relay for DNS (one session per client).",
                "$ sockcat serve unix:/run/web.sock \\-\\-forward example.org:80\n$ sockcat serve \\-u :5353 \\-\\-forward udp://127.0.0.1:53",
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
            (
                "Expose a Unix socket on TCP, a child per connection.",
                "$ sockcat fork\\-serve 127.0.0.1:2375 \\-\\-forward unix:/var/run/docker.sock",
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
            (
                "Forward to another host, giving up on it after 3s.",
                "$ sockcat thread\\-serve :8080 \\-\\-forward example.org:80 \\-\\-connect\\-timeout 3s",
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
                "Is the port open? (One line on stdout, 127.0.0.1:22 open or closed; \\-q for the exit status alone.)",
                "$ sockcat send \\-z 127.0.0.1:22",
            ),
            (
                "Scan ports, 64 at a time, each given 1s, the whole scan 10s; one line per port.",
                "$ sockcat send \\-z 127.0.0.1 20\\-30,443 \\-\\-scan\\-timeout 10s",
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
                "Through a proxy that ends the tunnel at a half-close (microsocks, tinyproxy): no FIN after the file; done, exit 0, once the server has been quiet for 1s.",
                "$ sockcat send \\-\\-proxy socks5://127.0.0.1:1080 \\-\\-hold 1s \\-\\-file req.bin host:80",
            ),
            (
                "Test a server behind a load balancer: claim a client in a PROXY protocol header.",
                "$ sockcat send :9000 \\-\\-send\\-proxy v1 \\-\\-proxy\\-source 192.0.2.7:4000 hello",
            ),
            (
                "Show every byte as hex on stderr.",
                "$ sockcat send \\-\\-hex :7000 hi",
            ),
            (
                "Connect from a chosen local address, with TCP keepalive and no Nagle delay.",
                "$ sockcat send \\-\\-source 127.0.0.2 \\-\\-keepalive \\-\\-nodelay :7000 hi",
            ),
            (
                "Run a program on the connection, as ncat's \\fB\\-e\\fR does on the connecting side; sockcat exits with its status.",
                "$ sockcat send :7000 \\-\\-sh\\-exec 'echo hello; read reply; echo \"got $reply\" >&2'",
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
        out.push_str(DATAGRAMS);
        out.push_str(FORWARDING);
        out.push_str(super::faults::MAN);
        out.push_str(ACTIVATION);
        out.push_str(ENVIRONMENT);
    }
    out.push_str(EVENTS);
    out.push_str(TLS);
    out.push_str(super::ws::MAN);
    if page == "sockcat" || page == "sockcat-send" || page.ends_with("serve") {
        out.push_str(PROXIES);
    }
    if page == "sockcat" || page == "sockcat-send" || page == "sockcat-serve" {
        out.push_str(NETCAT);
    }
    out.push_str(if page == "sockcat" {
        SEE_ALSO_MAIN
    } else {
        see_also_sub()
    });
    out
}
