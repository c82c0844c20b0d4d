//! Unix socket files: stale ones replaced, live ones refused, removed on
//! exit (Ctrl-C included), permissions from --mode, long paths rejected.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;

use crate::handlers::{MODELS, exchange};
use crate::util::*;

#[test]
fn stale_socket_file_is_replaced() {
    let dir = TempDir::new();
    let path = dir.path("stale.sock");
    drop(UnixListener::bind(&path).unwrap()); // leaves the file, nobody listening
    assert!(path.exists());
    let s = Server::start(&["serve", &format!("unix:{}", path.display()), "--echo"]);
    assert_eq!(exchange(s.addr(), b"hi\n"), b"hi\n");
}

#[test]
fn live_socket_is_refused_and_named() {
    let dir = TempDir::new();
    let path = dir.path("live.sock");
    let addr = format!("unix:{}", path.display());
    let _s = Server::start(&["serve", &addr, "--echo"]);
    let out = run(&["serve", &addr], b"");
    out.expect_code(1);
    assert!(out.stderr.contains(&path.display().to_string()), "{out}");
    assert!(out.stderr.contains("Address already in use"), "{out}");
    assert!(path.exists(), "the live server's file must stay");
}

/// Liveness is asked of the kernel, not by connecting: a live socket of
/// the other type is not replaced, and a `--once` server's only connection
/// is not spent on the check (nor its program run).
#[test]
fn liveness_is_checked_without_connecting() {
    let dir = TempDir::new();
    // A live datagram socket is not replaced by a stream server, nor a live
    // listener by a datagram server.
    let dpath = dir.path("d.sock");
    let _held = std::os::unix::net::UnixDatagram::bind(&dpath).unwrap();
    let out = run(&["serve", &format!("unix:{}", dpath.display())], b"");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("Address already in use (a datagram socket"),
        "{out}"
    );
    let lpath = dir.path("l.sock");
    let _listening = std::os::unix::net::UnixListener::bind(&lpath).unwrap();
    let out = run(&["serve", &format!("unixgram:{}", lpath.display())], b"");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("Address already in use (a listening socket"),
        "{out}"
    );

    for model in MODELS {
        let path = dir.path(&format!("{model}.sock"));
        let addr = format!("unix:{}", path.display());
        let mut once = Server::start(&[model, &addr, "-q", "--once", "--sh-exec", "echo served"]);
        let out = run(&[model, &addr], b"");
        out.expect_code(1);
        // The --once server still has its one connection to give.
        assert_eq!(
            crate::handlers::exchange(&addr, b""),
            b"served\n",
            "{model}"
        );
        assert_eq!(once.wait(), Some(0), "{model}");
    }
}

#[test]
fn not_a_socket_is_refused() {
    let dir = TempDir::new();
    let path = dir.path("file");
    std::fs::write(&path, "x").unwrap();
    let out = run(&["serve", &format!("unix:{}", path.display())], b"");
    out.expect_code(1);
    assert!(out.stderr.contains("not a socket"), "{out}");
}

#[test]
fn socket_file_removed_on_exit_and_on_ctrl_c() {
    for model in MODELS {
        let dir = TempDir::new();
        let path = dir.path("s.sock");
        let addr = format!("unix:{}", path.display());
        let mut s = Server::start(&[model, &addr, "--once", "--reply", "x"]);
        exchange(s.addr(), b"");
        assert_eq!(s.wait(), Some(0));
        assert!(!path.exists(), "{model}: file left after --once");

        let mut s = Server::start(&[model, &addr, "--echo"]);
        assert_eq!(exchange(s.addr(), b"a\n"), b"a\n");
        assert!(path.exists());
        assert_eq!(s.interrupt(), Some(130));
        assert!(!path.exists(), "{model}: file left after Ctrl-C");

        let dg = format!("unixgram:{}", dir.path("d.sock").display());
        let mut s = Server::start(&[model, &dg, "--echo"]);
        assert_eq!(s.interrupt(), Some(130));
        assert!(
            !dir.path("d.sock").exists(),
            "{model}: datagram file left after Ctrl-C"
        );
    }
}

#[test]
fn mode_sets_permissions() {
    let dir = TempDir::new();
    for (mode, want) in [("600", 0o600), ("0660", 0o660)] {
        let path = dir.path(&format!("m{mode}.sock"));
        let _s = Server::start(&["serve", &format!("unix:{}", path.display()), "--mode", mode]);
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, want, "--mode {mode}");
    }
}

#[test]
fn too_long_path_is_a_clear_error() {
    let dir = TempDir::new();
    let long = dir.path(&"p".repeat(110));
    for addr in [
        format!("unix:{}", long.display()),
        format!("unixgram:{}", long.display()),
    ] {
        let out = run(&["serve", &addr], b"");
        out.expect_code(2);
        assert!(out.stderr.contains("too long"), "{out}");
        assert!(!long.exists());
    }
}

#[test]
fn unix_shorthand() {
    let dir = TempDir::new();
    let path = dir.path("u.sock");
    let p = path.display().to_string();
    let _s = Server::start(&["serve", "-U", &p, "--reply", "yes"]);
    let out = run(&["send", "-U", &p, "hi"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout, b"yes\n");
}

#[test]
fn sixty_four_mib_through_a_unix_socket() {
    let dir = TempDir::new();
    let src = dir.path("src");
    let dst = dir.path("dst");
    let data = random_bytes(64 << 20, 5);
    std::fs::write(&src, &data).unwrap();
    let path = dir.path("bulk.sock");
    let mut s = Server::start_with(
        &["serve", &format!("unix:{}", path.display()), "--once"],
        Opts {
            stdout: Some(std::fs::File::create(&dst).unwrap()),
            ..Opts::default()
        },
    );
    let out = run(
        &["send", s.addr(), "--file", &src.display().to_string()],
        b"",
    );
    out.expect_code(0);
    assert_eq!(s.wait(), Some(0));
    assert!(std::fs::read(&dst).unwrap() == data, "bytes differ");
}

#[test]
fn unix_datagram_client_leaves_nothing_behind() {
    let dir = TempDir::new();
    let tmp = TempDir::new();
    let path = dir.path("dg.sock");
    let _s = Server::start(&["serve", &format!("unixgram:{}", path.display()), "--echo"]);
    let mut cmd = sockcat();
    cmd.args([
        "send",
        "--wait",
        "300ms",
        &format!("unixgram:{}", path.display()),
        "hi",
    ])
    .env("TMPDIR", &tmp.0);
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(
        std::fs::read_dir(&tmp.0).unwrap().count(),
        0,
        "the client left a file"
    );
}

/// Another user's live socket is live too, even though that user cannot
/// connect to it (mode 600): it is never replaced.
#[test]
fn another_users_live_socket_is_not_taken_over() {
    if !needs_root() || !needs(&["setpriv"]) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    // A directory anyone may write to, so only liveness protects the file.
    std::fs::set_permissions(dir.path(""), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = copy_of_binary(&dir);
    let path = dir.path("s.sock");
    let addr = format!("unix:{}", path.display());
    let _owner = Server::start(&["serve", &addr, "--mode", "600", "--echo"]);
    let uid = lone_uid();
    let out = as_user(uid)
        .arg(&bin)
        .args(["serve", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Address already in use"), "{err}");
    // The owner's server still answers on its file.
    assert_eq!(exchange(&addr, b"still mine\n"), b"still mine\n");
}

/// A Unix stream client is known by its credentials: uid and pid in the
/// connection event and in a program's environment, and `uid:N` in
/// --allow/--deny.
#[test]
fn unix_clients_are_known_by_their_credentials() {
    let dir = TempDir::new();
    let me = std::process::id();
    // The tests' own uid (root in CI, anyone in a package build).
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let uid_rule = format!("uid:{uid}");
    for model in MODELS {
        let addr = format!("unix:{}", dir.path(&format!("{model}.sock")).display());
        let s = Server::start(&[
            model,
            &addr,
            "--log-format",
            "json",
            "--sh-exec",
            "echo $SOCKCAT_PEER_UID $SOCKCAT_PEER_PID",
        ]);
        assert_eq!(
            exchange(&addr, b""),
            format!("{uid} {me}\n").into_bytes(),
            "{model}"
        );
        s.wait_err("\"connection\"");
        let ev: serde_json::Value = s
            .err()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "connection")
            .unwrap();
        assert_eq!(
            (ev["uid"].as_u64(), ev["pid"].as_u64()),
            (Some(u64::from(uid)), Some(me as u64)),
            "{model}"
        );
        drop(s);

        let addr = format!("unix:{}", dir.path(&format!("{model}-deny.sock")).display());
        let s = Server::start(&[model, &addr, "--deny", &uid_rule, "--reply", "no"]);
        assert_eq!(
            exchange(&addr, b""),
            b"",
            "{model}: {uid_rule} must be refused"
        );
        s.wait_err("refused");
        drop(s);
        let addr = format!(
            "unix:{}",
            dir.path(&format!("{model}-allow.sock")).display()
        );
        let _s = Server::start(&[model, &addr, "--allow", &uid_rule, "--reply", "yes"]);
        assert_eq!(exchange(&addr, b""), b"yes\n", "{model}");
    }
}
