//! The default handler: peer bytes to stdout, whole lines at a time.
//!
//! Many connections print to one stdout at once. Each write ends at a line
//! boundary, so two peers' lines never mix inside a line; a partial line is
//! held only until the peer pauses (the driver calls `flush`) or the limit
//! below, so a prompt without a newline still shows at once.

use std::io;

use crate::output::stdout_write;

/// Past this much of one unfinished line, write it out anyway.
const MAX_PARTIAL: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct Print {
    partial: Vec<u8>,
}

impl Print {
    pub fn input(&mut self, data: &[u8]) -> io::Result<()> {
        match memrchr(b'\n', data) {
            Some(i) => {
                let (lines, tail) = data.split_at(i + 1);
                if self.partial.is_empty() {
                    stdout_write(lines)?;
                } else {
                    self.partial.extend_from_slice(lines);
                    stdout_write(&self.partial)?;
                    self.partial.clear();
                }
                self.hold(tail)
            }
            None => self.hold(data),
        }
    }

    fn hold(&mut self, tail: &[u8]) -> io::Result<()> {
        if self.partial.len() + tail.len() > MAX_PARTIAL {
            self.flush()?;
            return stdout_write(tail);
        }
        self.partial.extend_from_slice(tail);
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            stdout_write(&self.partial)?;
            // Release the memory: an idle connection owns no buffer.
            self.partial = Vec::new();
        }
        Ok(())
    }

    /// A whole message (a datagram): one write.
    pub fn whole(&mut self, data: &[u8]) -> io::Result<()> {
        self.flush()?;
        stdout_write(data)
    }
}

/// Pick the vectorised search now. memchr detects the CPU's features on its
/// first call, with CPUID, which traps to the hypervisor in a VM: done once
/// in a forking server's parent, every child inherits the answer instead of
/// paying for it on each connection.
pub fn prepare() {
    let _ = memrchr(b'\n', b"\n");
}

/// The last `needle` in `hay`, vectorised: this runs on every chunk a bulk
/// transfer prints, so a byte loop would be the bottleneck on data without
/// newlines.
fn memrchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memrchr(needle, hay)
}

#[cfg(test)]
mod tests {
    use super::memrchr;

    #[test]
    fn finds_the_last_match() {
        assert_eq!(memrchr(b'\n', b""), None);
        assert_eq!(memrchr(b'\n', b"abc"), None);
        assert_eq!(memrchr(b'\n', b"a\nb\nc"), Some(3));
        assert_eq!(memrchr(b'\n', b"\n"), Some(0));
    }
}
