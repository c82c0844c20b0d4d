//! Unit tests of `cli/config/mod.rs`.

use super::*;
use crate::cli::{Cli, Cmd};
use clap::Parser;

fn serve_cfg(args: &[&str]) -> Result<Server> {
    let cli = Cli::try_parse_from(args).expect("parses");
    match cli.cmd {
        Cmd::Serve(a) => serve(&a),
        Cmd::ForkServe(a) => fork_serve(&a),
        Cmd::ThreadServe(a) => thread_serve(&a),
        Cmd::Send(_) => panic!("a server"),
    }
}

#[test]
fn an_address_after_exec_is_refused_with_the_right_order() {
    for (cmd, last) in [
        ("serve", "127.0.0.1:0"),
        ("fork-serve", "localhost:7000"),
        ("thread-serve", "[::1]:80"),
        ("serve", "unix:/tmp/x.sock"),
        ("serve", "udp://127.0.0.1:5353"),
        ("serve", ":9000"),
    ] {
        let Err(e) = serve_cfg(&["sockcat", cmd, "--exec", "cat", last]) else {
            panic!("{cmd} --exec cat {last} was accepted");
        };
        let m = e.to_string();
        assert!(matches!(e, Error::Usage(_)), "{cmd} {last}: {m}");
        assert!(
            m.contains(&format!("sockcat {cmd} {last} --exec cat")),
            "{m}"
        );
    }
}

#[test]
fn program_arguments_are_left_alone() {
    // Not addresses: a bare word or number, a URL-less word with a
    // colon that is not a port.
    for tail in [&["sleep", "30"][..], &["echo", "a:b"], &["date", "+%H:%M"]] {
        let mut args = vec!["sockcat", "serve", "--exec"];
        args.extend_from_slice(tail);
        assert!(serve_cfg(&args).is_ok(), "{tail:?}");
    }
    // With the address first, the program may take any argument.
    assert!(serve_cfg(&["sockcat", "serve", ":0", "--exec", "echo", "127.0.0.1:0"]).is_ok());
}

/// `send HOST PORT`: the address and the message it leaves.
fn sent(args: &[&str]) -> (String, Option<String>) {
    let mut all = vec!["sockcat", "send"];
    all.extend_from_slice(args);
    let Cmd::Send(a) = Cli::try_parse_from(&all).expect("parses").cmd else {
        panic!("send")
    };
    let cfg = send(&a).expect("valid").config;
    let shown = match &cfg.plan.addr {
        Addr::Inet {
            proto: addr::Proto::Udp,
            ..
        } => format!("udp://{}", cfg.plan.addr),
        a => a.to_string(),
    };
    let msg = match cfg.job {
        SendMode::Exchange(Input::Message(m)) => Some(String::from_utf8(m).unwrap()),
        _ => None,
    };
    (shown, msg)
}

#[test]
fn the_netcat_address_form() {
    let s = |a: &str, m: Option<&str>| (a.to_string(), m.map(str::to_string));
    assert_eq!(sent(&["localhost", "9000"]), s("localhost:9000", None));
    assert_eq!(
        sent(&["localhost", "9000", "hi", "there"]),
        s("localhost:9000", Some("hi there\n"))
    );
    assert_eq!(sent(&["[::1]", "80"]), s("[::1]:80", None));
    assert_eq!(
        sent(&["-u", "127.0.0.1", "53"]),
        s("udp://127.0.0.1:53", None)
    );
    assert_eq!(
        sent(&["udp://db", "53", "q"]),
        s("udp://db:53", Some("q\n"))
    );
    // The address written whole settles it: the digits are the message.
    assert_eq!(
        sent(&["localhost:10000", "9000"]),
        s("localhost:10000", Some("9000\n"))
    );
    // A bare number is a port, and what follows it a message.
    assert_eq!(sent(&["9000", "80"]), s("localhost:9000", Some("80\n")));
    // Not a port: a message.
    assert_eq!(sent(&["db", "70000"]), s("db:10000", Some("70000\n")));
    assert_eq!(sent(&["db", "hello"]), s("db:10000", Some("hello\n")));
}

/// Checking adopts nothing and makes nothing: a descriptor that is not
/// open, and a TLS server's certificate, are `start`'s.
#[test]
fn checking_plans_what_start_makes() {
    let plan = serve_cfg(&["sockcat", "serve", "fd:99", "--tls"]).unwrap();
    assert!(matches!(plan.listen, Wanted::Inherit { .. }));
    assert!(plan.tls.is_some() && plan.opts.tls_server.is_none());
    let plan = serve_cfg(&["sockcat", "serve", ":0", "--forward", "tls://h:1"]).unwrap();
    let Handler::Forward(up) = plan.handler else {
        panic!("a forward")
    };
    assert!(up.client.tls.is_some() && up.forward.opts.tls_client.is_none());
}

#[test]
fn one_quoted_word_with_spaces_is_split() {
    let cfg = serve_cfg(&["sockcat", "serve", ":0", "--exec", "cat -n"]).unwrap();
    let Handler::Spec(Spec::Exec(argv)) = cfg.handler else {
        panic!()
    };
    assert_eq!(&*argv, [std::ffi::OsString::from("cat"), "-n".into()]);
    let cfg = serve_cfg(&["sockcat", "serve", ":0", "--exec", "cat", "-n"]).unwrap();
    let Handler::Spec(Spec::Exec(argv)) = cfg.handler else {
        panic!()
    };
    assert_eq!(argv.len(), 2);
}
