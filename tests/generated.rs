//! Completions and man pages are generated from the clap definitions and
//! committed. This test renders them and compares; it writes the files only
//! when asked (UPDATE_GENERATED=1), so a read-only packaging tree is never
//! touched. The completions are also loaded into the real shells.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use clap_complete::Shell;

use sockcat::cli;

use crate::util::{needs, sh_quote};

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

fn man_page(cmd: clap::Command, page: &str) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page.to_uppercase())
        .manual("sockcat manual");
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    // clap_mangen's synopsis lists every flag without its value; a short
    // one with placeholders reads better, and OPTIONS has the rest.
    out.extend_from_slice(synopsis(page).as_bytes());
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    if page == "sockcat" {
        man.render_subcommands_section(&mut out).unwrap();
    }
    out.extend_from_slice(cli::man::trailer(page).as_bytes());
    man.render_version_section(&mut out).unwrap();
    out
}

fn synopsis(page: &str) -> String {
    let (cmd, args) = match page {
        "sockcat" => ("sockcat", r"[\fIOPTIONS\fR] \fICOMMAND\fR [\fIARGS\fR]"),
        "sockcat-send" => (
            "sockcat send",
            r"[\fIOPTIONS\fR] [\fIADDR\fR] [\fIMESSAGE\fR]...",
        ),
        _ => (
            "",
            r"[\fIOPTIONS\fR] [\fIADDR\fR] [\fB\-\-exec\fR \fIPROG\fR [\fIARG\fR]...]",
        ),
    };
    let cmd = if cmd.is_empty() {
        page.replacen('-', " ", 1)
    } else {
        cmd.to_string()
    };
    format!(".SH SYNOPSIS\n\\fB{}\\fR {args}\n", cmd.replace('-', "\\-"))
}

fn man_pages() -> Vec<(String, Vec<u8>)> {
    // `sockcat help` works, but is no page of its own: say `--help`.
    let top = cli::Cli::command().disable_help_subcommand(true);
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
                    "source /usr/share/bash-completion/bash_completion; source {}; \
                     COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
                     _sockcat sockcat '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                    sh_quote(dir.join("sockcat.bash").display())
                ),
            )
        }
        "fish" => sh(
            "fish",
            &format!(
                "source {}; complete -C '{line}'",
                sh_quote(dir.join("sockcat.fish").display())
            ),
        ),
        "zsh" => {
            // Drive an interactive zsh through zpty and list the matches.
            let script = format!(
                r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=({qdir} \$fpath); autoload -Uz compinit; compinit -u -D"
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
                qdir = sh_quote(dir.display())
            );
            sh("zsh", &script)
        }
        _ => unreachable!(),
    }
}

#[test]
fn completions_work_in_real_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let what: &[&str] = match shell {
            "bash" => &["bash", "/usr/share/bash-completion/bash_completion"],
            other => &[other],
        };
        if !needs(what) {
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
        // --proxy takes a URL: no file names (issue 21, item 7), where a
        // file option offers them (the shells run in the crate's root).
        let got = complete(shell, "sockcat send --file Car");
        assert!(
            got.contains("Cargo."),
            "{shell}: '--file Car' offers:\n{got}"
        );
        for line in [
            "sockcat send --proxy Car",
            "sockcat serve --forward :1 --proxy Car",
        ] {
            let got = complete(shell, line);
            assert!(!got.contains("Cargo."), "{shell}: '{line}' offers:\n{got}");
        }
    }
}

#[test]
fn man_pages_render_without_warnings() {
    if !needs(&["man"]) {
        return;
    }
    for (rel, content) in man_pages() {
        // Plain ASCII: a page must read right under LC_ALL=C too.
        assert!(content.is_ascii(), "{rel} holds non-ASCII text");
        assert!(
            !String::from_utf8_lossy(&content).contains("sockcat\\-help"),
            "{rel} refers to a sockcat-help page that does not exist"
        );
        let out = Command::new("man")
            .args(["--warnings", "-l", &root().join(&rel).display().to_string()])
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .env("LC_ALL", "C")
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
