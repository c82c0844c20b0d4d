//! Test helpers: run the real binary, wait on its readiness line (never on
//! a sleep), and always with a timeout, so a hang fails instead of stalling.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sockcat");
pub const T: Duration = Duration::from_secs(20);

pub fn sockcat() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("RUST_BACKTRACE");
    c
}

/// Wait for `cond` to hold, checking every few milliseconds, up to `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait for a child with a timeout; kill it and fail on expiry.
pub fn wait_child(child: &mut Child, limit: Duration) -> ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A name no other test (or test run) uses, for abstract sockets.
pub fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sockcat-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "sockcat-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What ran and what it printed.
#[derive(Debug)]
pub struct Out {
    pub cmd: String,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn expect_code(&self, code: i32) -> &Out {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        assert!(!self.stderr.contains("panicked"), "panic\n{self}");
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit: {:?}\nstdout: {:?}\nstderr: {}",
            self.cmd,
            self.code,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        )
    }
}

/// Run sockcat with `args`, `input` on stdin, within `T`.
pub fn run(args: &[&str], input: &[u8]) -> Out {
    run_in(args, input, T)
}

pub fn run_in(args: &[&str], input: &[u8], limit: Duration) -> Out {
    let mut cmd = sockcat();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn sockcat");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Feed stdin from its own thread (a full pipe must not deadlock us).
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let status = wait_child(&mut child, limit);
    let _ = feeder.join();
    Out {
        cmd: format!("sockcat {}", args.join(" ")),
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

/// A sockcat started in the background (a client racing a server, say).
pub struct Running {
    child: Child,
    cmd: String,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
}

pub fn spawn(args: &[&str]) -> Running {
    let mut child = sockcat()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockcat");
    Running {
        out: collect(child.stdout.take().unwrap()),
        err: collect(child.stderr.take().unwrap()),
        cmd: format!("sockcat {}", args.join(" ")),
        child,
    }
}

impl Running {
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait (with a timeout) and collect what it printed.
    pub fn finish(mut self, limit: Duration) -> Out {
        let status = wait_child(&mut self.child, limit);
        Out {
            cmd: self.cmd,
            code: status.code(),
            stdout: self.out.join().unwrap(),
            stderr: String::from_utf8_lossy(&self.err.join().unwrap()).into_owned(),
        }
    }
}

fn collect(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// A running server. Dropping it kills it; a failing test shows its stderr.
pub struct Server {
    pub child: Child,
    pub args: Vec<String>,
    pub stderr: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<Vec<u8>>>,
    /// The addresses from the readiness lines, as `send` takes them.
    pub addrs: Vec<String>,
    done: bool,
    /// Set when the stderr reader has seen the pipe's end (every writer,
    /// the server's children included, is gone).
    stderr_ended: Arc<std::sync::atomic::AtomicBool>,
}

pub struct Opts {
    pub ready_lines: usize,
    pub stdin: Stdio,
    pub stdout: Option<std::fs::File>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            ready_lines: 1,
            stdin: Stdio::null(),
            stdout: None,
        }
    }
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        Server::start_with(args, Opts::default())
    }

    pub fn start_with(args: &[&str], o: Opts) -> Server {
        let mut cmd = sockcat();
        cmd.args(args);
        Server::start_command(cmd, args, o)
    }

    /// Start `cmd` (sockcat under a wrapper, say) and wait for readiness.
    pub fn start_command(mut cmd: Command, args: &[&str], o: Opts) -> Server {
        cmd.stdin(o.stdin).stderr(Stdio::piped());
        match o.stdout {
            Some(f) => cmd.stdout(f),
            None => cmd.stdout(Stdio::piped()),
        };
        let mut child = cmd.spawn().expect("spawn server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stderr_ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let err = child.stderr.take().unwrap();
            let sink = stderr.clone();
            let ended = stderr_ended.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    sink.lock().unwrap().push_str(&format!("{line}\n"));
                    let _ = tx.send(line);
                }
                ended.store(true, std::sync::atomic::Ordering::SeqCst);
            });
        }
        if let Some(mut out) = child.stdout.take() {
            let sink = stdout.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let mut s = Server {
            child,
            args: args.iter().map(|s| s.to_string()).collect(),
            stderr,
            stdout,
            addrs: Vec::new(),
            done: false,
            stderr_ended,
        };
        let end = Instant::now() + T;
        while s.addrs.len() < o.ready_lines {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    // Text, or the same event as JSON (--log-format json).
                    let text = match serde_json::from_str::<serde_json::Value>(&line) {
                        Ok(v) if v["event"] == "listening" => format!(
                            "listening on {} {}",
                            v["transport"].as_str().unwrap(),
                            v["address"].as_str().unwrap()
                        ),
                        _ => line,
                    };
                    if let Some(rest) = text.strip_prefix("listening on ") {
                        let (kind, a) = rest.split_once(' ').unwrap();
                        s.addrs.push(match kind {
                            "tcp" => a.to_string(),
                            "udp" => format!("udp://{a}"),
                            "unix" => format!("unix:{a}"),
                            "unixgram" => format!("unixgram:{a}"),
                            k => panic!("unknown transport {k}"),
                        });
                    }
                }
                Err(_) => panic!(
                    "server never became ready: sockcat {}\nstderr: {}",
                    args.join(" "),
                    s.err()
                ),
            }
        }
        s
    }

    pub fn addr(&self) -> &str {
        &self.addrs[0]
    }

    /// The port of the first (inet) address.
    pub fn port(&self) -> u16 {
        self.addrs[0].rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn err(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn out(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn out_str(&self) -> String {
        String::from_utf8_lossy(&self.out()).into_owned()
    }

    /// Wait until the server's stdout contains `needle`.
    pub fn wait_out(&self, needle: &str) {
        wait_until(&format!("server stdout to contain {needle:?}"), T, || {
            self.out_str().contains(needle)
        });
    }

    pub fn wait_err(&self, needle: &str) {
        wait_until(&format!("server stderr to contain {needle:?}"), T, || {
            self.err().contains(needle)
        });
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Wait for the server to exit by itself; returns its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let s = wait_child(&mut self.child, T);
        self.done = true;
        // Let the stderr reader catch the last lines: it has them all at
        // the pipe's end (bounded: a program the server left running may
        // hold the pipe open).
        let until = Instant::now() + Duration::from_secs(2);
        while !self.stderr_ended.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        // (stdout's reader, too, for a moment.)
        std::thread::sleep(Duration::from_millis(20));
        s.code()
    }

    /// Ctrl-C, then wait for the exit code.
    pub fn interrupt(&mut self) -> Option<i32> {
        self.signal(libc::SIGINT);
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- server: sockcat {}\n--- its stderr:\n{}",
                self.args.join(" "),
                self.err()
            );
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// FNV-1a over 64-bit words: a fast content hash for big files.
pub fn hash_file(p: &Path) -> (u64, u64) {
    let mut f = std::fs::File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let (mut h, mut len) = (0xcbf2_9ce4_8422_2325u64, 0u64);
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return (h, len);
        }
        len += n as u64;
        for &b in &buf[..n] {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A port for a program that cannot bind port 0 itself (a proxy daemon,
/// systemd-socket-activate): below the kernel's ephemeral range, so no
/// client connection's TIME_WAIT (which blocks a bind even with
/// SO_REUSEADDR) sits on it, and free for TCP and UDP right now. A program
/// can still lose it in a race: its starter retries on a new one.
pub fn free_port() -> u16 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let seed = std::process::id() as usize * 7919 + N.fetch_add(1, Ordering::SeqCst) * 104_729;
    for i in 0..200 {
        let port = 20_000 + ((seed + i * 7_877) % 12_000) as u16;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000-31999");
}

/// Run a command to its end, as `Command::output` does, but within
/// `limit`: a program that hangs is killed and the test fails. Its stdin
/// is /dev/null unless the caller set it.
pub fn output_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let status = wait_child(&mut child, limit);
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The first line a reader gives (without its newline), within `limit`.
pub fn line_within(mut r: impl Read + Send + 'static, limit: Duration) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while r.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
            line.push(b[0]);
        }
        let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no line within {limit:?}"))
}

/// A copy of the binary in `dir` (for running it as another user), made
/// by `cp` rather than in this process: a write descriptor open here would
/// be inherited by a child another test forks meanwhile, and executing the
/// copy would then fail with "Text file busy" (ETXTBSY).
pub fn copy_of_binary(dir: &TempDir) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.path("sockcat");
    let ok = Command::new("cp")
        .arg(BIN)
        .arg(&bin)
        .status()
        .expect("run cp")
        .success();
    assert!(ok, "cp {BIN} {}", bin.display());
    // Another user must reach and run it (a directory made wider stays so).
    let d = dir.path("");
    let mode = std::fs::metadata(&d).unwrap().permissions().mode();
    if mode & 0o005 != 0o005 {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `setpriv` set to run what follows as `uid` (its own group, no others).
pub fn as_user(uid: u32) -> Command {
    let mut c = Command::new("setpriv");
    c.arg("--clear-groups")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"));
    c
}

/// Entries in /proc/PID/fd.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Entries in /proc/PID/task.
pub fn thread_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Children of `pid` and their states (R, S, Z, …), from /proc.
pub fn children(pid: i32) -> Vec<(i32, char)> {
    let mut v = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in dir.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces, so split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim().to_string()) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == pid {
            v.push((p, state));
        }
    }
    v
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// RSS of a server and its children (fork-serve serves in a child), KiB.
pub fn rss_all(pid: i32) -> u64 {
    rss_kib(pid) + children(pid).iter().map(|(c, _)| rss_kib(*c)).sum::<u64>()
}

/// Skips, counted by reason, for the line printed when the suite ends.
static SKIPS: Mutex<std::collections::BTreeMap<String, usize>> =
    Mutex::new(std::collections::BTreeMap::new());

/// The Debian package that brings `what` (a program, or a file path),
/// from tests/needs.tsv: the one list scripts/test installs from.
fn package_of(what: &str) -> &'static str {
    include_str!("needs.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .find(|(w, _)| *w == what)
        .map(|(_, p)| p.trim())
        .unwrap_or_else(|| panic!("{what} is not in tests/needs.tsv: add it with its package"))
}

/// Where the program `name` is: on PATH, or in an sbin directory (a
/// daemon such as danted lives in /usr/sbin, which a user's PATH lacks).
pub fn program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| runnable(p))
}

/// Whether `what` is here: a file path, or a program (see `program`).
pub fn have(what: &str) -> bool {
    if what.starts_with('/') {
        return Path::new(what).exists();
    }
    program(what).is_some()
}

/// Whether the tests run in strict mode (scripts/test under CI sets it):
/// then a missing peer or missing root is a failure, never a skip.
fn strict() -> bool {
    std::env::var_os("SOCKCAT_TEST_STRICT").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Record that the running test cannot run here because of `reason`: say
/// so on stderr (past the test harness's capture, so a passing run shows
/// it too) and count it; in strict mode, fail instead.
fn skip(reason: &str, hint: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        !strict(),
        "{test}: {reason} ({hint}); SOCKCAT_TEST_STRICT is set, so that is a failure"
    );
    *SKIPS.lock().unwrap().entry(reason.to_string()).or_default() += 1;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason} ({hint})");
}

/// Print the skip count when the test process exits (once a test has
/// asked for something, so runs that ask for nothing stay quiet).
fn report_at_exit() {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: report_skips is an extern "C" fn that does not unwind
        // (it only locks, formats and writes, ignoring every error).
        unsafe { libc::atexit(report_skips) };
    });
}

/// The suite's last word on skips: how many, by reason.
extern "C" fn report_skips() {
    let Ok(skips) = SKIPS.lock() else { return };
    let total: usize = skips.values().sum();
    let reasons: Vec<String> = skips.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    let _ = if total == 0 {
        writeln!(std::io::stderr(), "sockcat tests: 0 skipped")
    } else {
        writeln!(
            std::io::stderr(),
            "sockcat tests: {total} skipped ({}); scripts/test --install brings what they \
             need, SOCKCAT_TEST_STRICT=1 makes a skip a failure",
            reasons.join(", ")
        )
    };
}

/// True when every program (or file) in `what` is here. Otherwise the
/// test is skipped (it should return at once) and this says which is
/// missing and which Debian package brings it.
pub fn needs(what: &[&str]) -> bool {
    report_at_exit();
    for w in what {
        if !have(w) {
            skip(
                &format!("{w} missing"),
                &format!("Debian package {}", package_of(w)),
            );
            return false;
        }
    }
    true
}

/// True when the tests run as root (to run sockcat as another user, say);
/// otherwise the test is skipped as `needs` does.
pub fn needs_root() -> bool {
    report_at_exit();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip("not root", "run the tests as root to include it");
    false
}

/// A uid no process runs as, to run sockcat as a user of its own (by
/// number, with `setpriv --reuid`): a per-user limit such as
/// RLIMIT_NPROC then counts only what the test starts, whatever else the
/// machine runs (an nginx worker as `nobody`, say).
pub fn lone_uid() -> u32 {
    let busy: std::collections::HashSet<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .collect();
    // High enough that no account has it, varied so parallel runs differ.
    (0..1000)
        .map(|i| 2_000_000_000 + (std::process::id() % 100_000) * 1000 + i)
        .find(|u| !busy.contains(u))
        .expect("a free uid")
}

/// CPU time (user + system) a server has used, with its children's, waited
/// for or still running (fork-serve serves in children), from /proc.
pub fn cpu_time(pid: i32) -> Duration {
    // utime, stime, cutime, cstime: fields 14-17, counted after ')'.
    fn ticks(pid: i32, fields: std::ops::Range<usize>) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return 0;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        fields
            .filter_map(|i| f.get(i - 3)?.parse::<u64>().ok())
            .sum()
    }
    let all = ticks(pid, 14..18)
        + children(pid)
            .iter()
            .map(|(c, _)| ticks(*c, 14..16))
            .sum::<u64>();
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(all * 1000 / hz)
}

/// `s` quoted for a POSIX shell command line (a path with a space or a
/// quote in it stays one word).
pub fn sh_quote(s: impl std::fmt::Display) -> String {
    format!("'{}'", s.to_string().replace('\'', r"'\''"))
}

/// Processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(marker) {
                found.push(pid);
            }
        }
    }
    found
}
