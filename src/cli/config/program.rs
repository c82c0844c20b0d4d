//! `--exec PROG ARGS…` checked: the program found as exec finds it, a
//! quoted command line split the ncat way, and the words around it.

use super::*;

/// `--exec` takes the rest of the line: with no address before it, an
/// address at its end was meant for the server (`serve --exec cat
/// 127.0.0.1:0` would bind the default and run `cat 127.0.0.1:0`). Say
/// the right order instead of doing that.
pub(super) fn check_exec_order(cmd: &str, args: &ServerArgs) -> Result<()> {
    let (None, Some(argv)) = (&args.addr, &args.handler.exec) else {
        return Ok(());
    };
    let Some(last) = argv.last().and_then(|w| w.to_str()) else {
        return Ok(());
    };
    if argv.len() < 2 || !unmistakably_an_address(last) {
        return Ok(());
    }
    let prog: Vec<String> = argv[..argv.len() - 1]
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    Err(Error::usage(format!(
        "--exec takes the rest of the line, so '{last}' would go to {} as an argument; \
         put the address first: sockcat {cmd} {last} --exec {}",
        prog[0],
        prog.join(" ")
    )))
}

/// An address no program argument is likely to be: a sockcat scheme, a
/// Unix socket form, `[V6]:PORT`, or `HOST:PORT` / `:PORT` with a numeric
/// port (never a bare word or number).
pub(super) fn unmistakably_an_address(w: &str) -> bool {
    if ["tcp://", "udp://", "unix:", "unixgram:"]
        .iter()
        .any(|p| w.starts_with(p))
    {
        return true;
    }
    let Some((host, port)) = w.rsplit_once(':') else {
        return false;
    };
    let port_ok =
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
    let host_ok = if let Some(v6) = host.strip_prefix('[') {
        v6.ends_with(']')
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    port_ok && host_ok
}

/// `--exec "/bin/cat -n"`: one word holding spaces is a command line typed
/// the ncat way; split it on whitespace (no shell), unless it names a file.
pub(super) fn split_one_word(argv: &[std::ffi::OsString]) -> Option<Vec<std::ffi::OsString>> {
    let [one] = argv else { return None };
    let s = one.to_str()?;
    if !s.trim().contains(char::is_whitespace) || std::path::Path::new(s).exists() {
        return None;
    }
    Some(s.split_whitespace().map(Into::into).collect())
}

/// `--exec 'tr a-z A-Z' -v`: a quoted command line is split only when it
/// is `--exec`'s only word (the words after it could be its arguments or
/// be meant for sockcat), so no program has the name tried. Say what was
/// tried, and both ways to write what was meant.
pub(super) fn unsplit_line(argv: &[std::ffi::OsString]) -> Option<Error> {
    let first = argv.first()?.to_str()?;
    if argv.len() < 2 || !first.trim().contains(char::is_whitespace) {
        return None;
    }
    let rest: Vec<_> = argv[1..].iter().map(|w| w.to_string_lossy()).collect();
    let rest = rest.join(" ");
    let words: Vec<&str> = first.split_whitespace().collect();
    Some(Error::usage(format!(
        "--exec '{first}' {rest}: no program is named '{first}'; a quoted command line \
         is split only when it is --exec's only word, and --exec takes the rest of the \
         line: for sockcat's {rest}, put it before --exec; for the program's, write the \
         words apart (--exec {} {rest})",
        words.join(" ")
    )))
}

/// `--exec PROG`: PROG must name an executable file, found the way exec
/// finds it (a path, or a name looked up in PATH). Found at start, not by
/// the first client.
pub(super) fn check_program(prog: &std::ffi::OsStr) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let shown = prog.to_string_lossy();
    if shown.contains('/') {
        if runnable(Path::new(prog)) {
            return Ok(());
        }
        return Err(Error::usage(format!(
            "--exec {shown}: no executable file there"
        )));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| runnable(&d.join(prog))) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "--exec {shown}: no such program in PATH"
    )))
}
