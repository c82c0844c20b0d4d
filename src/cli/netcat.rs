//! netcat's habits: what sockcat says to a flag it does not take, and to
//! a netcat line with no subcommand.
//!
//! People bring nc's and ncat's flags with them. The exact equivalents with
//! no clash are hidden aliases in the clap definitions (`-C`, `-w`, and
//! `-k` and `-N`, which ask for what sockcat does anyway); a flag sockcat
//! spells differently, or cannot do, gets one line naming the sockcat way
//! here instead of clap's generic advice. Letters sockcat uses for
//! something else (`-q`, `-n`) keep sockcat's meaning: the man page's
//! netcat section says so.

/// The one-line pointer for a netcat flag sockcat does not take, in the
/// subcommand `sub` (None: before any subcommand). `flag` is as clap
/// reports it: `-l`, `--proxy`. `port` is a port the command line gave
/// (`nc -l 9000`), to show the whole sockcat command.
pub fn pointer(flag: &str, sub: Option<&str>, port: Option<&str>) -> Option<String> {
    let server = sub.is_some_and(|s| s.ends_with("serve"));
    let send = sub == Some("send");
    let says = |what: &str| Some(format!("sockcat has no {flag}: {what}"));
    match flag {
        "-l" | "--listen" if server => says(&format!(
            "a server listens anyway: run 'sockcat {} {}'",
            sub.unwrap_or("serve"),
            port.unwrap_or("PORT")
        )),
        "-l" | "--listen" => says(&format!(
            "to listen, run 'sockcat serve {}' (or fork-serve, thread-serve)",
            port.unwrap_or("PORT")
        )),
        "-p" | "--source-port" if server => says(&format!(
            "a server's port is part of its address: run 'sockcat {} {}'",
            sub.unwrap_or("serve"),
            port.unwrap_or(":PORT")
        )),
        "-p" | "--source-port" => says(
            "a server's port is part of its address ('sockcat serve :PORT'); \
             a client's own port is --source :PORT",
        ),
        "-s" => {
            says("a client's local address is --source ADDR; a server's is part of its address")
        }
        "-e" => says(
            "run a program with --exec PROG ARGS... (a server's per connection, send's once connected)",
        ),
        "-c" => says(
            "run a command line with --sh-exec CMDLINE (a server's per connection, send's once connected)",
        ),
        "-X" => says(
            "a proxy is --proxy URL: -X 5 -x HOST:PORT is --proxy socks5://HOST:PORT, \
             -X connect is --proxy http://HOST:PORT",
        ),
        "--proxy-type" | "--proxy-auth" | "-P" | "--proxy-dns" => says(
            "the proxy's type, user and password go in --proxy's URL: \
             socks5://USER:PASS@HOST:PORT (socks5h:// lets the proxy resolve names), \
             http://USER:PASS@HOST:PORT",
        ),
        "-x" => says(
            "nc's -x HOST:PORT (a proxy) is --proxy socks5://HOST:PORT; \
             ncat's -x FILE (a hex dump) is --hex 2> FILE",
        ),
        "--proxy" if !send && !server => {
            says("--proxy is an option of send (and of a server's --forward)")
        }
        "--hex-dump" => says("use --hex, which dumps to stderr (--hex 2> FILE)"),
        "--ssl" => says("TLS is a tls://HOST:PORT address (or --tls), verified by default"),
        "--ssl-cert" | "--ssl-key" => says("use --cert FILE and --key FILE"),
        "--ssl-verify" => says("a client verifies by default (--cacert FILE, --pin FINGERPRINT)"),
        "--ssl-trustfile" => says("use --cacert FILE"),
        "--ssl-alpn" => says("use --alpn LIST"),
        "-o" | "--output" => says("redirect stdout (> FILE); --hex 2> FILE for a hex dump"),
        "-d" | "--recv-only" => says("to send nothing, give 'send' no input: < /dev/null"),
        "--send-only" => says("'send' prints the reply; send it away with > /dev/null"),
        "-i" => says(
            "ncat's -i is --idle-timeout DUR; OpenBSD nc's pause between lines has no equivalent",
        ),
        "-m" => says("at most N connections at once is --max-conns N"),
        "--chat" => says("a chat room is 'sockcat serve --broker'"),
        "--nodns" => says(
            "sockcat looks up only a name, never an IP address: give an IP address and there is no lookup",
        ),
        "--unixsock" => says("use -U (or a unix:PATH address)"),
        "-w" if server => says(
            "a server's timeouts are --idle-timeout DUR and, with --forward, --connect-timeout DUR",
        ),
        "-C" if server => says("CRLF line endings are 'send --crlf' (-C)"),
        "-N" if server => says("a server passes each side's FIN on already"),
        "-k" | "--keep-open" if send => says("keeping a listener open is what the servers do"),
        "-z" if server => says("probing a port is 'sockcat send -z HOST:PORT'"),
        "-b" => says("broadcast datagrams have no equivalent"),
        "-D" => says("socket debugging has no equivalent"),
        "-F" => says("passing the socket to another process has no equivalent"),
        "-I" | "-O" => says("the kernel sizes the socket buffers"),
        "-M" => says("the TTL has no equivalent"),
        "-r" => says("random ports have no equivalent"),
        "-S" => says("TCP MD5 signatures have no equivalent"),
        "-T" => says("the TOS has no equivalent"),
        "-t" => says("telnet negotiation has no equivalent"),
        "-V" => says("routing tables have no equivalent"),
        "-W" => says("use 'send --wait DUR' to bound the wait for a reply"),
        "-Z" => says("DCCP has no equivalent"),
        "-g" | "-G" => says("source routing has no equivalent"),
        _ => None,
    }
}

/// `sockcat localhost 9000`, `sockcat -zv 127.0.0.1 20-30`: a netcat line
/// with no subcommand. When the words make a `send` line with an address
/// in it (a port, a scheme, a Unix form), name that line; a bare word
/// (`sockcat frobnicate`) is left to clap's "unrecognized subcommand".
pub fn no_subcommand(args: &[std::ffi::OsString]) -> Option<String> {
    use clap::Parser;
    let words: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .collect::<Option<_>>()?;
    let line: Vec<&str> = ["sockcat", "send"]
        .into_iter()
        .chain(words.iter().copied())
        .collect();
    let super::Cmd::Send(s) = super::Cli::try_parse_from(&line).ok()?.cmd else {
        return None;
    };
    let addr = s.addr.to_str()?;
    let port = |w: &str| {
        !w.is_empty()
            && (w.bytes().all(|b| b.is_ascii_digit()) && w.parse::<u16>().is_ok()
                || crate::send::scan::is_port_list(w))
    };
    let run = format!("'sockcat send {}'", shell_words(&words));
    let bare = addr.trim_start_matches(':');
    if port(bare) && !bare.contains(['-', ',']) && s.message.is_empty() && !s.probe {
        // `sockcat 9000`: nc connects, `nc -l` listens; say both.
        return Some(format!(
            "no subcommand: to connect to port {bare}, run {run}; to listen on it, \
             'sockcat serve {bare}'"
        ));
    }
    let with_port = addr.rsplit_once(':').is_some_and(|(_, p)| port(p));
    let scheme = addr.contains("://") || addr.starts_with("unix:") || addr.starts_with("unixgram:");
    let host_port =
        crate::addr::is_portless_host(addr) && s.message.first().is_some_and(|w| port(w));
    if !(with_port || scheme || host_port || s.probe && crate::addr::is_portless_host(addr)) {
        return None;
    }
    let what = if s.probe { "to probe" } else { "to connect" };
    Some(format!("no subcommand: {what}, run {run}"))
}

/// The word right after a bare `-q` (before any `--`): nc's `-q SECS`
/// habit, which sockcat's `-q` (`--quiet`) turns into an address or a
/// message word; `config` says which, and points to `--hold`.
pub fn word_after_quiet(args: &[std::ffi::OsString]) -> Option<String> {
    let words: Vec<&str> = args
        .iter()
        .map_while(|a| a.to_str())
        .take_while(|w| *w != "--")
        .collect();
    words
        .windows(2)
        .find(|w| w[0] == "-q")
        .map(|w| w[1].to_string())
}

/// How many words follow the first `--` on a command line (0 without
/// one): the words clap takes as they are, never as options.
pub fn after_dashes(args: &[std::ffi::OsString]) -> usize {
    args.iter()
        .position(|a| a == "--")
        .map_or(0, |i| args.len() - i - 1)
}

/// Words as a shell would take them back: quoted when they hold anything
/// but plain characters.
fn shell_words(words: &[&str]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:@,+=%[]".contains(&b))
    };
    words
        .iter()
        .map(|w| {
            if plain(w) {
                w.to_string()
            } else {
                let mut q = String::from("\"");
                for c in w.chars() {
                    if matches!(c, '"' | '\\' | '$' | '`') {
                        q.push('\\');
                    }
                    q.push(c);
                }
                q.push('"');
                q
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first port-like word on a command line (digits alone), for the
/// `-l` pointer.
pub fn port_word(args: &[std::ffi::OsString]) -> Option<String> {
    // nc's `-p PORT` (`-lp 9000`) names it outright.
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    if let Some(w) = words.windows(2).find_map(|w| {
        let flag = w[0].starts_with('-') && !w[0].starts_with("--") && w[0].ends_with('p');
        (flag && !w[1].is_empty() && w[1].bytes().all(|b| b.is_ascii_digit())).then_some(w[1])
    }) {
        return Some(w.to_string());
    }
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .map(|a| a.trim_start_matches(':'))
        .find(|a| !a.is_empty() && a.len() <= 5 && a.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
}

/// The subcommand on a command line, if any (the first word that names
/// one), for pointers and for naming the right `--help`.
pub fn subcommand(args: &[std::ffi::OsString]) -> Option<&'static str> {
    // (Any word: a subcommand's name is never a flag's value in practice.)
    const SUBS: [&str; 4] = ["serve", "fork-serve", "thread-serve", "send"];
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find_map(|a| SUBS.iter().find(|s| **s == a).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pointer_is_one_line_naming_the_flag() {
        for flag in [
            "-l",
            "-p",
            "-s",
            "-e",
            "-c",
            "-X",
            "-x",
            "-P",
            "-o",
            "-d",
            "-i",
            "-m",
            "-b",
            "-D",
            "-F",
            "-I",
            "-O",
            "-M",
            "-r",
            "-S",
            "-T",
            "-t",
            "-V",
            "-W",
            "-Z",
            "-g",
            "-G",
            "--listen",
            "--proxy-type",
            "--ssl",
            "--chat",
            "--nodns",
            "--send-only",
            "--recv-only",
        ] {
            let p = pointer(flag, Some("send"), None).unwrap_or_else(|| panic!("{flag}"));
            assert!(p.starts_with(&format!("sockcat has no {flag}: ")), "{p}");
            assert!(!p.contains('\n'), "{p}");
        }
        // Flags sockcat takes get no pointer where it takes them.
        assert!(pointer("-w", Some("send"), None).is_none());
        assert!(pointer("-w", Some("serve"), None).is_some());
        assert!(pointer("-k", Some("serve"), None).is_none());
        assert!(pointer("-k", Some("send"), None).is_some());
        assert!(
            pointer("-l", None, Some("9000"))
                .unwrap()
                .contains("run 'sockcat serve 9000'")
        );
    }
}
