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

/// The cases this close exists for: 30 MB from a program that read only
/// part of 100 KB, and a 20 MB upload to a program that answers at once.
/// Every byte of the program's output arrives and the client ends cleanly.
#[test]
fn whole_output_arrives_whatever_the_program_read() {
    let dir = TempDir::new();
    let upload = dir.path("upload");
    std::fs::write(&upload, random_bytes(20 << 20, 5)).unwrap();
    let up = upload.display().to_string();
    for model in MODELS {
        let s = Server::start(&[
            model,
            "127.0.0.1:0",
            "-q",
            "--sh-exec",
            "head -c 30000000 /dev/zero",
        ]);
        let got = exchange(s.addr(), &random_bytes(100 * 1024, 6));
        assert_eq!(got.len(), 30_000_000, "{model}");
        assert!(got.iter().all(|b| *b == 0), "{model}");

        let s = Server::start(&[model, "127.0.0.1:0", "-q", "--sh-exec", "echo hi"]);
        let out = run_in(
            &["send", s.addr(), "--file", &up],
            b"",
            std::time::Duration::from_secs(60),
        );
        out.expect_code(0);
        assert_eq!(out.stdout_str(), "hi\n", "{model}: {out}");
    }
}
