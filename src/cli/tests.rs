//! Unit tests of `cli/mod.rs`.

use super::*;
use clap::CommandFactory;

#[test]
fn clap_definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
    assert_eq!(parse_duration("0.25").unwrap(), Duration::from_millis(250));
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("").is_err());
    assert!(parse_duration("1.2.3").is_err());
    assert!(parse_duration("18446744073709551615s").is_err());
    assert!(parse_duration("300000000000y").is_err());
    assert!(parse_duration("1e400").is_err());
    assert!(parse_duration("99999999999999999999").is_err());
    assert_eq!(parse_duration("365days").unwrap(), MAX_DURATION);
    assert!(parse_duration("366days").is_err());
    assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    assert!(parse_positive_duration("0s").is_err());
    assert!(parse_positive_duration("0").is_err());
}

#[test]
fn modes() {
    assert_eq!(parse_mode("600").unwrap(), 0o600);
    assert_eq!(parse_mode("0660").unwrap(), 0o660);
    assert!(parse_mode("999").is_err());
    assert_eq!(parse_mode("0777").unwrap(), 0o777);
    for bits in ["7777", "4755", "1777", "01600"] {
        assert!(
            parse_mode(bits)
                .unwrap_err()
                .contains("only permission bits"),
            "{bits}"
        );
    }
}

#[test]
fn send_positionals() {
    let cli =
        Cli::try_parse_from(["sockcat", "send", "localhost:1", "hello", "from", "client"]).unwrap();
    let Cmd::Send(s) = cli.cmd else { panic!() };
    assert_eq!(s.addr, "localhost:1");
    assert_eq!(s.message, ["hello", "from", "client"]);
    // Options after the message are options; `--` ends them.
    let cli = Cli::try_parse_from(["sockcat", "send", ":1", "hi", "-v", "--", "-q", "x"]).unwrap();
    let Cmd::Send(s) = cli.cmd else { panic!() };
    assert!(s.common.verbose && !s.common.quiet);
    assert_eq!(s.message, ["hi", "-q", "x"]);
}

#[test]
fn exec_takes_the_rest() {
    let cli = Cli::try_parse_from(["sockcat", "serve", ":0", "--exec", "wc", "-c"]).unwrap();
    let Cmd::Serve(s) = cli.cmd else { panic!() };
    assert_eq!(
        s.server.handler.exec.unwrap(),
        [OsString::from("wc"), "-c".into()]
    );
}

#[test]
fn handlers_conflict() {
    assert!(Cli::try_parse_from(["sockcat", "serve", "--echo", "--discard"]).is_err());
    assert!(Cli::try_parse_from(["sockcat", "serve", "--broker", "--echo"]).is_err());
}
