//! Unix socket files: stale-file replacement, permissions, removal on exit,
//! abstract names, and the sun_path length limit.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::addr::UnixName;
use crate::error::{Error, Result, describe};

/// sun_path holds 108 bytes including the terminating NUL.
const SUN_PATH_MAX: usize = 107;

/// A socket file this process created. Dropping it removes the file, but
/// only if it is still the one we made (same device and inode), so a
/// restarted server's socket is never removed by an old one.
#[derive(Debug)]
pub struct SocketFile {
    pub path: PathBuf,
    id: (u64, u64),
}

impl SocketFile {
    fn new(path: &Path) -> io::Result<SocketFile> {
        let m = std::fs::symlink_metadata(path)?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            id: (m.dev(), m.ino()),
        })
    }

    pub fn remove(&self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.remove();
    }
}

fn check_len(p: &Path) -> Result<()> {
    let n = p.as_os_str().len();
    if n > SUN_PATH_MAX {
        return Err(Error::usage(format!(
            "Unix socket path is too long ({n} bytes, the limit is {SUN_PATH_MAX}): {}",
            p.display()
        )));
    }
    Ok(())
}

pub fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

pub fn abstract_name(a: &SocketAddr) -> Option<Vec<u8>> {
    use std::os::linux::net::SocketAddrExt;
    a.as_abstract_name().map(|n| n.to_vec())
}

/// How a Unix socket address reads in events.
///
/// A peer chooses its own name, so it is shown escaped: control bytes,
/// backslashes and bytes that are not UTF-8 become `\xNN`, and a name with
/// a newline, an ESC or a NUL cannot forge an event line, a terminal
/// sequence or break a program's environment.
pub fn show(a: &SocketAddr) -> String {
    if let Some(p) = a.as_pathname() {
        use std::os::unix::ffi::OsStrExt;
        return escape(p.as_os_str().as_bytes());
    }
    if let Some(n) = abstract_name(a) {
        return format!("@{}", escape(&n));
    }
    "-".to_string()
}

/// Printable UTF-8 as it is; everything else as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                let mut b = [0u8; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// Make room for a new socket at `path`: a stale socket file (nobody
/// accepting) is removed; a live one, or a file that is not a socket, is an
/// error that names the path.
fn clear_stale(path: &Path) -> Result<()> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("bind unix:{}", path.display()), e)),
    };
    if !m.file_type().is_socket() {
        return Err(Error::runtime(format!(
            "bind unix:{}: the file exists and is not a socket",
            path.display()
        )));
    }
    match holder(path) {
        None => std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("remove stale socket {}", path.display()), e)),
        Some(what) => Err(Error::runtime(format!(
            "bind unix:{}: Address already in use ({what} is bound there)",
            path.display()
        ))),
    }
}

/// Whether a live socket holds `path`, asked of the kernel (the list of
/// bound Unix sockets in /proc/net/unix) rather than by connecting: a
/// connection would be served (a `--once` server's only one, a program run
/// for nothing), and one refused for permission or type would look stale.
/// A listening stream socket or a bound datagram socket is live, whoever
/// owns it; a path no socket holds is stale. `Some(what)` names the holder;
/// when the list cannot be read, the path counts as held.
fn holder(path: &Path) -> Option<&'static str> {
    const ACCEPTING: u32 = 1 << 16; // __SO_ACCEPTCON
    let Ok(table) = std::fs::read("/proc/net/unix") else {
        return Some("a socket (the kernel's list could not be read)");
    };
    let ours = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for line in table.split(|b| *b == b'\n').skip(1) {
        // Num RefCount Protocol Flags Type St Inode Path; the path is the
        // rest of the line (it may hold spaces).
        let mut rest = line;
        let mut f: [&[u8]; 7] = [&[]; 7];
        for field in f.iter_mut() {
            rest = rest.trim_ascii_start();
            let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
            *field = &rest[..end];
            rest = &rest[end..];
        }
        let (flags, ty, name) = (f[3], f[4], rest.trim_ascii());
        if name.is_empty() || name.starts_with(b"@") {
            continue;
        }
        use std::os::unix::ffi::OsStrExt;
        let theirs = Path::new(std::ffi::OsStr::from_bytes(name));
        let same = theirs == path || std::fs::canonicalize(theirs).is_ok_and(|t| t == ours);
        if !same {
            continue;
        }
        let flags = u32::from_str_radix(&String::from_utf8_lossy(flags), 16).unwrap_or(0);
        match ty {
            b"0001" | b"0005" if flags & ACCEPTING != 0 => return Some("a listening socket"),
            b"0002" => return Some("a datagram socket"),
            _ => {}
        }
    }
    None
}

fn finish_file(path: &Path, mode: Option<u32>) -> Result<SocketFile> {
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
    }
    SocketFile::new(path).map_err(|e| Error::io(format!("stat {}", path.display()), e))
}

pub fn bind_stream(
    name: &UnixName,
    mode: Option<u32>,
    backlog: u32,
) -> Result<(UnixListener, Option<SocketFile>)> {
    match name {
        UnixName::Path(p) => {
            check_len(p)?;
            clear_stale(p)?;
            let l = UnixListener::bind(p).map_err(|e| {
                Error::runtime(format!("bind unix:{}: {}", p.display(), describe(&e)))
            })?;
            set_backlog(&l, backlog);
            let f = finish_file(p, mode)?;
            Ok((l, Some(f)))
        }
        UnixName::Abstract(n) => {
            let a = abstract_addr(n).map_err(|e| Error::io(format!("unix:{name}"), e))?;
            let l = UnixListener::bind_addr(&a)
                .map_err(|e| Error::runtime(format!("bind unix:{name}: {}", describe(&e))))?;
            set_backlog(&l, backlog);
            Ok((l, None))
        }
    }
}

/// std listens with its own backlog; listen() again to apply ours.
fn set_backlog(l: &UnixListener, backlog: u32) {
    let _ = socket2::SockRef::from(l).listen(backlog.min(i32::MAX as u32) as i32);
}

pub fn bind_dgram(
    name: &UnixName,
    mode: Option<u32>,
) -> Result<(UnixDatagram, Option<SocketFile>)> {
    match name {
        UnixName::Path(p) => {
            check_len(p)?;
            clear_stale(p)?;
            let s = UnixDatagram::bind(p).map_err(|e| {
                Error::runtime(format!("bind unixgram:{}: {}", p.display(), describe(&e)))
            })?;
            let f = finish_file(p, mode)?;
            Ok((s, Some(f)))
        }
        UnixName::Abstract(n) => {
            let a = abstract_addr(n).map_err(|e| Error::io(format!("unixgram:{name}"), e))?;
            let s = UnixDatagram::bind_addr(&a)
                .map_err(|e| Error::runtime(format!("bind unixgram:{name}: {}", describe(&e))))?;
            Ok((s, None))
        }
    }
}

pub fn connect_stream(name: &UnixName) -> io::Result<UnixStream> {
    match name {
        UnixName::Path(p) => {
            if p.as_os_str().len() > SUN_PATH_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "socket path too long",
                ));
            }
            UnixStream::connect(p)
        }
        UnixName::Abstract(n) => UnixStream::connect_addr(&abstract_addr(n)?),
    }
}

/// A Unix datagram client: bound to a name of its own so that the
/// server's replies have somewhere to go, and connected to the server. On
/// Linux the name is abstract, so nothing is left behind however the
/// client ends; elsewhere it is a file in the temporary directory, which
/// the returned guard removes.
pub fn client_dgram(name: &UnixName) -> Result<(UnixDatagram, Option<SocketFile>)> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut last = None;
    for _ in 0..100 {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let own = format!("sockcat-client-{}-{n}", std::process::id());
        let bound = if cfg!(target_os = "linux") {
            abstract_addr(own.as_bytes())
                .and_then(|a| UnixDatagram::bind_addr(&a))
                .map(|s| (s, None))
        } else {
            let path = std::env::temp_dir().join(format!("{own}.sock"));
            UnixDatagram::bind(&path).map(|s| (s, SocketFile::new(&path).ok()))
        };
        match bound {
            Ok((s, file)) => {
                let r = match name {
                    UnixName::Path(p) => s.connect(p),
                    UnixName::Abstract(n) => abstract_addr(n).and_then(|a| s.connect_addr(&a)),
                };
                r.map_err(|e| Error::io(format!("connect to unixgram:{name}"), e))?;
                return Ok((s, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(Error::io("bind a socket to receive replies", e)),
        }
    }
    Err(Error::io(
        "bind a socket to receive replies",
        last.unwrap_or_else(|| io::Error::other("no free name")),
    ))
}

#[cfg(test)]
mod escape_tests {
    use super::escape;

    #[test]
    fn control_bytes_and_bad_utf8_are_escaped() {
        assert_eq!(escape(b"plain-name"), "plain-name");
        assert_eq!(escape(b"a\nb"), "a\\x0ab");
        assert_eq!(escape(b"\x1b[31m\0"), "\\x1b[31m\\x00");
        assert_eq!(escape(b"back\\slash"), "back\\x5cslash");
        assert_eq!(escape("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escape(b"\xff\xfe"), "\\xff\\xfe");
        assert!(!escape(b"\ngot connection from 6.6.6.6:666\n").contains('\n'));
    }

    #[test]
    fn c1_controls_are_escaped_too() {
        assert_eq!(escape("\u{9b}".as_bytes()), "\\xc2\\x9b");
    }
}
