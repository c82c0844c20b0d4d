//! Completions and man pages are generated from the clap definitions and
//! committed. This test renders them and compares; it writes the files only
//! when asked (UPDATE_GENERATED=1), so a read-only packaging tree is never
//! touched. The completions are also loaded into the real shells.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use clap_complete::Shell;

#[path = "../src/cli.rs"]
#[allow(dead_code)]
mod cli;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ensure(path: &Path, want: &[u8]) -> Result<(), String> {
    let have = std::fs::read(path).unwrap_or_default();
    if have == want {
        return Ok(());
    }
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, want).unwrap();
        return Ok(());
    }
    Err(format!("{} is stale", path.display()))
}

fn completions() -> Vec<(String, Vec<u8>)> {
    let shells = [
        (Shell::Bash, "sockcat.bash"),
        (Shell::Zsh, "_sockcat"),
        (Shell::Fish, "sockcat.fish"),
        (Shell::Elvish, "sockcat.elv"),
        (Shell::PowerShell, "_sockcat.ps1"),
    ];
    shells
        .into_iter()
        .map(|(shell, file)| {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cli::Cli::command(), "sockcat", &mut buf);
            (format!("completions/{file}"), buf)
        })
        .collect()
}

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
The peer's address.
.TP
.B SOCKCAT_PEER_PORT
The peer's port.
.TP
.B SOCKCAT_LOCAL_ADDR
The local address the connection arrived on.
.TP
.B SOCKCAT_LOCAL_PORT
The local port.
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
\fBtransport\fR, \fBpeer\fR.
.TP
.B closed
\fBtransport\fR, \fBpeer\fR, \fBbytes_in\fR, \fBbytes_out\fR,
\fBduration_ms\fR.
.TP
.B refused
\fBtransport\fR, \fBpeer\fR (turned away by \fB\-\-allow\fR/\fB\-\-deny\fR).
.TP
.B error
\fBmessage\fR, and \fBfatal\fR: true when the program exits because of it.
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

fn man_page(cmd: clap::Command, page: &str) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page.to_uppercase())
        .manual("sockcat manual");
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    if page == "sockcat" {
        man.render_subcommands_section(&mut out).unwrap();
    }
    out.extend_from_slice(examples(page).as_bytes());
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    if page == "sockcat" || page.ends_with("serve") {
        out.extend_from_slice(ENVIRONMENT.as_bytes());
    }
    out.extend_from_slice(EVENTS.as_bytes());
    out.extend_from_slice(
        if page == "sockcat" {
            SEE_ALSO_MAIN
        } else {
            see_also_sub()
        }
        .as_bytes(),
    );
    man.render_version_section(&mut out).unwrap();
    out
}

fn man_pages() -> Vec<(String, Vec<u8>)> {
    let top = cli::Cli::command();
    let mut pages = vec![(
        "man/sockcat.1".to_string(),
        man_page(top.clone(), "sockcat"),
    )];
    for sub in top.get_subcommands() {
        let name = format!("sockcat-{}", sub.get_name());
        // clap wants a 'static name without its "string" feature.
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        let cmd = sub
            .clone()
            .name(leaked)
            .bin_name(format!("sockcat {}", sub.get_name()))
            .version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("man/{name}.1"), man_page(cmd, &name)));
    }
    pages
}

#[test]
fn generated_files_are_current() {
    let mut stale = Vec::new();
    for (rel, content) in completions().into_iter().chain(man_pages()) {
        if let Err(e) = ensure(&root().join(&rel), &content) {
            stale.push(e);
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with: UPDATE_GENERATED=1 cargo test --locked --test tests generated",
        stale.join("\n")
    );
}

#[test]
fn generated_files_are_reproducible() {
    for (rel, content) in completions().into_iter().chain(man_pages()) {
        let text = String::from_utf8(content).unwrap();
        assert!(
            !text.contains(env!("CARGO_MANIFEST_DIR")),
            "{rel} holds an absolute path"
        );
        assert!(!text.contains("2026-"), "{rel} holds a date");
    }
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn sh(shell: &str, script: &str) -> String {
    let out = Command::new(shell)
        .args(["-c", script])
        .output()
        .expect("run shell");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// What the shell offers to complete `line` with.
fn complete(shell: &str, line: &str) -> String {
    let dir = root().join("completions");
    match shell {
        "bash" => {
            let parts: Vec<&str> = line.split(' ').collect();
            let words = parts
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" ");
            let cword = parts.len() - 1;
            // As `complete -F` calls it: command, current word, previous word.
            let (cur, prev) = (parts[cword], parts[cword - 1]);
            sh(
                "bash",
                &format!(
                    "source /usr/share/bash-completion/bash_completion; source {}/sockcat.bash; \
                     COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
                     _sockcat sockcat '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                    dir.display()
                ),
            )
        }
        "fish" => sh(
            "fish",
            &format!(
                "source {}/sockcat.fish; complete -C '{line}'",
                dir.display()
            ),
        ),
        "zsh" => {
            // Drive an interactive zsh through zpty and list the matches.
            let script = format!(
                r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=({dir} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w -n z '{line}'$'\t'
# Read until the shell has been quiet for half a second after showing
# the completion, or for at most 10 s.
out=""; quiet=0
for i in {{1..200}}; do
  if zpty -r -t z chunk; then out+=$chunk; quiet=0
  else (( quiet++ )); sleep 0.05; fi
  [[ $out == *$'\a'* || $out == *'{line}'?* ]] && (( quiet > 10 )) && break
done
print -r -- "$out"
zpty -d z"#,
                dir = dir.display()
            );
            sh("zsh", &script)
        }
        _ => unreachable!(),
    }
}

#[test]
fn completions_work_in_real_shells() {
    for shell in ["bash", "zsh", "fish"] {
        if !have(shell)
            || (shell == "bash"
                && !Path::new("/usr/share/bash-completion/bash_completion").exists())
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "{shell} is missing in CI: .ci/run installs it"
            );
            eprintln!("skipping {shell}: not installed");
            continue;
        }
        let got = complete(shell, "sockcat se");
        assert!(
            got.contains("send") && got.contains("serve"),
            "{shell}: 'sockcat se' offers:\n{got}"
        );
        let got = complete(shell, "sockcat serve --re");
        assert!(
            got.contains("--reply"),
            "{shell}: 'sockcat serve --re' offers:\n{got}"
        );
        let got = complete(shell, "sockcat serve --log-format ");
        assert!(
            got.contains("json"),
            "{shell}: '--log-format ' offers:\n{got}"
        );
    }
}

#[test]
fn man_pages_render_without_warnings() {
    if !have("man") {
        assert!(
            std::env::var_os("CI").is_none(),
            "man is missing in CI: .ci/run installs man-db"
        );
        return;
    }
    for (rel, _) in man_pages() {
        let out = Command::new("man")
            .args(["--warnings", "-l", &root().join(&rel).display().to_string()])
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "{rel}: {err}"
        );
        // Drop grotty's overstrike bold ("D\bD") before looking for words.
        let raw = String::from_utf8_lossy(&out.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        for section in ["DESCRIPTION", "EXAMPLES", "EXIT STATUS", "SEE ALSO"] {
            assert!(text.contains(section), "{rel} lacks {section}");
        }
    }
}

#[test]
fn clap_definitions_debug_assert() {
    cli::Cli::command().debug_assert();
}
