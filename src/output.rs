//! Data output: what peers send goes to stdout, and nothing else does.
//!
//! Writes go straight to file descriptor 1 (no userspace buffer, so a
//! forked child never inherits unwritten data) under one process-wide lock,
//! so chunks from different threads never mix.

use std::io::{self, Write};
use std::sync::Mutex;

static STDOUT: Mutex<()> = Mutex::new(());

/// Write all of `data` to stdout in as few `write` calls as the kernel allows.
pub fn stdout_write(data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let _guard = STDOUT.lock().unwrap_or_else(|p| p.into_inner());
    crate::sys::write_all(io::stdout(), data)
}

/// Lower-case hex dump lines of `data` for `--hex`: offset, 16 bytes in hex,
/// ASCII, with the direction marked (`>` sent, `<` received).
pub fn hex_dump(dir: char, offset: u64, data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() / 16 * 80 + 80);
    for (i, chunk) in data.chunks(16).enumerate() {
        use std::fmt::Write as _;
        let _ = write!(s, "{dir} {:08x} ", offset + (i * 16) as u64);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(s, " {b:02x}");
                }
                None => s.push_str("   "),
            }
            if j == 7 {
                s.push(' ');
            }
        }
        s.push_str("  |");
        for &b in chunk {
            s.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
        s.push_str("|\n");
    }
    s
}

/// Whether `--hex` dumps go out as JSON events (`--log-format json`).
static HEX_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set once at start, from `--log-format`.
pub fn hex_as_json(on: bool) {
    HEX_JSON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Hex-dump `data` to stderr in one write, if `--hex` asked for it. `peer`
/// says whose bytes they are, so that concurrent connections' dumps can be
/// told apart: a `[PEER]` line heads each block in text; in JSON each block
/// is one `hex` event (with `peer`, `direction`, `offset` and the bytes as
/// a hex string), so the event stream stays one JSON object per line.
pub fn hex_to_stderr(peer: &str, dir: char, offset: u64, data: &[u8]) {
    let text = if HEX_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        use std::fmt::Write as _;
        let mut hex = String::with_capacity(data.len() * 2);
        for b in data {
            let _ = write!(hex, "{b:02x}");
        }
        let mut v = serde_json::json!({
            "event": "hex",
            "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "peer": peer,
            "direction": if dir == '>' { "out" } else { "in" },
            "offset": offset,
            "bytes": hex,
        });
        crate::event::place(&mut v, "", None, peer);
        format!("{v}\n")
    } else {
        format!("[{peer}]\n{}", hex_dump(dir, offset, data))
    };
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_dump_layout() {
        let d = super::hex_dump('>', 0, b"hello, world\n\x00\x01\x02abc");
        assert_eq!(
            d,
            "> 00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 0a 00 01 02  |hello, world....|\n\
             > 00000010  61 62 63                                          |abc|\n"
        );
    }
}
