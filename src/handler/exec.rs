//! `--exec PROG ARGS…` and `--sh-exec CMDLINE`: a program serves the connection.
//!
//! The program gets the connection as its stdin and stdout, and the peer's
//! and our address in `SOCKCAT_PEER_ADDR`, `SOCKCAT_PEER_PORT`,
//! `SOCKCAT_LOCAL_ADDR` and `SOCKCAT_LOCAL_PORT`. Where the model allows it
//! (thread-serve, fork-serve) the socket itself becomes stdin and stdout,
//! as inetd does: no copying in between.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Child, Command, Stdio};

use crate::transport::{Peer, Stream};

/// The environment variables a program sees, in order.
pub fn env_vars(peer: &Peer, local: &Peer) -> [(&'static str, String); 4] {
    let (pa, pp) = peer.env_parts();
    let (la, lp) = local.env_parts();
    [
        ("SOCKCAT_PEER_ADDR", pa),
        ("SOCKCAT_PEER_PORT", pp),
        ("SOCKCAT_LOCAL_ADDR", la),
        ("SOCKCAT_LOCAL_PORT", lp),
    ]
}

pub fn command(argv: &[OsString], peer: &Peer, local: &Peer) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    for (k, v) in env_vars(peer, local) {
        cmd.env(k, v);
    }
    cmd
}

pub fn describe_spawn_error(argv0: &OsStr, e: &io::Error) -> String {
    format!(
        "exec {}: {}",
        argv0.to_string_lossy(),
        crate::error::describe(e)
    )
}

/// Start the program on a blocking socket: the socket is its stdin and stdout.
pub fn spawn_on_socket(argv: &[OsString], stream: &Stream, peer: &Peer) -> io::Result<Child> {
    let local = stream.local();
    command(argv, peer, &local)
        .stdin(Stdio::from(stream.dup_fd()?))
        .stdout(Stdio::from(stream.dup_fd()?))
        .spawn()
}

/// Run the program for one datagram: the datagram on its stdin, its whole
/// output as the reply.
pub fn run_datagram(
    argv: &[OsString],
    data: &[u8],
    peer: &Peer,
    local: &Peer,
) -> io::Result<Vec<u8>> {
    let mut child = command(argv, peer, local)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut reply = Vec::new();
    // Feed stdin from a second thread: a program that answers before it
    // has read everything must not deadlock against us.
    let r = std::thread::scope(|s| {
        s.spawn(move || {
            let _ = stdin.write_all(data);
        });
        stdout.read_to_end(&mut reply)
    });
    child.wait()?;
    r.map(|_| reply)
}

/// Everything a forked child needs to exec, built before `fork` so the
/// child only calls async-signal-safe functions (dup2, execvp, write, _exit).
pub struct Prepared {
    /// Owners of the strings the pointer arrays below point into.
    _argv: Vec<CString>,
    _env: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    env_ptrs: Vec<*const libc::c_char>,
    error_prefix: Vec<u8>,
}

impl Prepared {
    pub fn new(argv: &[OsString], peer: &Peer, local: &Peer) -> io::Result<Prepared> {
        let cstr = |s: &OsStr| {
            CString::new(s.as_bytes()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "argument contains a NUL byte")
            })
        };
        let argv: Vec<CString> = argv.iter().map(|a| cstr(a)).collect::<io::Result<_>>()?;
        let ours = env_vars(peer, local);
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| !ours.iter().any(|(n, _)| k == n))
            .filter_map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        for (k, v) in ours {
            env.push(CString::new(format!("{k}={v}")).map_err(io::Error::other)?);
        }
        let mut argv_ptrs: Vec<_> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut env_ptrs: Vec<_> = env.iter().map(|a| a.as_ptr()).collect();
        env_ptrs.push(std::ptr::null());
        let error_prefix = format!("sockcat: exec {}: ", argv[0].to_string_lossy()).into_bytes();
        Ok(Prepared {
            _argv: argv,
            argv_ptrs,
            _env: env,
            env_ptrs,
            error_prefix,
        })
    }

    /// In a forked child: make `fd` stdin and stdout and exec the program.
    /// Never returns; on failure it reports on stderr and exits 127.
    ///
    /// # Safety
    /// Call only in a child just after `fork`, with `fd` an open socket.
    pub unsafe fn exec_on(&self, fd: libc::c_int) -> ! {
        unsafe {
            if libc::dup2(fd, 0) < 0 || libc::dup2(fd, 1) < 0 {
                libc::_exit(126);
            }
            libc::execvpe(
                self.argv_ptrs[0],
                self.argv_ptrs.as_ptr(),
                self.env_ptrs.as_ptr(),
            );
            let err = *libc::__errno_location();
            let msg = libc::strerror(err);
            libc::write(
                2,
                self.error_prefix.as_ptr().cast(),
                self.error_prefix.len(),
            );
            libc::write(2, msg.cast(), libc::strlen(msg));
            libc::write(2, b"\n".as_ptr().cast(), 1);
            // End the conversation cleanly, as the other models do: FIN,
            // then read what the peer sends so it gets no reset.
            libc::shutdown(fd, libc::SHUT_WR);
            let mut buf = [0u8; 4096];
            while libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
            libc::_exit(127);
        }
    }
}
