//! The lingering close: after a program started for a connection exits,
//! every model drains its output, shuts the write side and reads (and
//! drops) what the peer still sends before closing, so a program that
//! never reads its input still gets its whole reply to the peer, never a
//! reset in its place.

use crate::handlers::{MODELS, exchange};
use crate::util::*;

/// 1 MiB the program never reads, then the reply must still arrive whole.
#[test]
fn a_program_that_ignores_its_input_still_gets_its_reply_through() {
    let dir = TempDir::new();
    let input = random_bytes(1 << 20, 9);
    for model in MODELS {
        for (i, transport) in ["tcp", "unix"].into_iter().enumerate() {
            let addr = match transport {
                "tcp" => "127.0.0.1:0".to_string(),
                _ => format!("unix:{}", dir.path(&format!("{model}-{i}.sock")).display()),
            };
            // --exec (the socket itself is the program's stdin and stdout)
            // and --hex (through the relay's pipes) take different paths.
            for extra in [&[][..], &["--hex"][..]] {
                let mut args = vec![model, addr.as_str(), "-q"];
                args.extend_from_slice(extra);
                args.extend_from_slice(&["--sh-exec", "echo reply"]);
                let s = Server::start(&args);
                let got = exchange(s.addr(), &input);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    "reply\n",
                    "{model} {transport} {extra:?}"
                );
            }
        }
    }
}

/// The lesson's client against a program that answers without reading:
/// `send` gets the reply and exits 0, every time.
#[test]
fn send_gets_the_reply_of_a_program_that_does_not_read() {
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--sh-exec",
            "echo $SOCKCAT_PEER_ADDR",
        ]);
        for _ in 0..20 {
            let out = run(&["send", s.addr(), "hello"], b"");
            out.expect_code(0);
            assert_eq!(out.stdout_str(), "127.0.0.1\n", "{model}: {out}");
        }
    }
}
