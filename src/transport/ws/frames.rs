//! WebSocket framing (RFC 6455 §5) free of I/O: the peer's bytes in, the
//! payload out; our bytes in, frames out.
//!
//! tungstenite parses each frame's header (its length forms, mask and
//! opcodes); the rest is here because sockcat maps a WebSocket onto a byte
//! stream with half-closes, which tungstenite's `WebSocketContext` cannot
//! do: it answers a Close at once, so a reply still owed after the peer's
//! end would be lost. Here the peer's Close is our EOF and ours goes when
//! our side ends, as a FIN does. A data frame's payload is passed on as it
//! arrives (a 64 MiB message is never held whole); a control frame (at most
//! 125 bytes) waits until it is whole.

use std::io::Cursor;

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// Which end of the connection this is: a client masks what it sends, a
/// server must not, and each refuses the other's mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// How bytes become messages and messages bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// Each write goes as one binary message; otherwise each line is one
    /// text message (without its newline).
    pub binary: bool,
    /// A newline follows each text message the peer sends (unless it
    /// ends with one already: websocat sends its lines with theirs).
    pub newline: bool,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            binary: false,
            newline: true,
        }
    }
}

/// A Close frame's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Close {
    pub code: Option<u16>,
    pub reason: String,
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(c) if self.reason.is_empty() => write!(f, "{c}"),
            Some(c) => write!(f, "{c} ({})", self.reason),
            None => f.write_str("no code"),
        }
    }
}

/// A protocol error: the Close code we sent for it, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub code: u16,
    pub why: String,
}

/// 1002: the peer broke the protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
const NORMAL: u16 = 1000;
/// A line longer than this goes as a message of this size, and the rest
/// follows in the next: a line never grows without bound.
pub const MAX_LINE: usize = 1024 * 1024;
/// Frames not yet on the wire past which a write takes nothing more.
const OUT_LIMIT: usize = 256 * 1024;

/// The data frame being read: what is left of its payload and where its
/// mask stands.
struct InFrame {
    left: u64,
    mask: Option<[u8; 4]>,
    offset: usize,
    text: bool,
    fin: bool,
}

/// One connection's framing, both ways.
pub struct Codec {
    role: Role,
    framing: Framing,
    /// The peer's bytes not yet decoded.
    pub(super) inbuf: Vec<u8>,
    frame: Option<InFrame>,
    /// Inside a fragmented message: whether it is text.
    message_text: Option<bool>,
    /// The last byte of the message being read, if it has one yet.
    message_last: Option<u8>,
    /// Frames for the peer not yet on the wire.
    pub(super) out: Vec<u8>,
    /// Text framing: a line whose newline has not come yet.
    line: Vec<u8>,
    /// Text framing: the line being read was too long for one text
    /// message, and its first bytes went as binary messages: the rest
    /// goes the same way.
    line_binary: bool,
    their_close: Option<Close>,
    our_close: Option<Close>,
    masks: Masks,
}

/// Masking keys for a client's frames: unpredictable, as RFC 6455 asks
/// (a ChaCha-free generator seeded from the system is enough for that: the
/// key stops a proxy's cache being poisoned, it is not a secret).
struct Masks(u64);

impl Masks {
    fn new() -> Masks {
        let mut seed = [0u8; 8];
        let rng = ring::rand::SystemRandom::new();
        let got = ring::rand::SecureRandom::fill(&rng, &mut seed).is_ok();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // The clock only if the system's generator failed (it does not).
        Masks(if got { u64::from_ne_bytes(seed) } else { now } | 1)
    }

    /// The next key (xorshift64*).
    fn next(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let k = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((k >> 32) as u32).to_ne_bytes()
    }
}

/// XOR `data` with `mask` (a frame's payload from `offset` on): eight
/// bytes at a time, as bulk frames are most of a transfer.
fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let m: [u8; 4] = std::array::from_fn(|i| mask[(offset + i) & 3]);
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i & 3];
    }
}

impl Codec {
    pub fn new(role: Role, framing: Framing) -> Codec {
        Codec {
            role,
            framing,
            inbuf: Vec::new(),
            frame: None,
            message_text: None,
            message_last: None,
            out: Vec::new(),
            line: Vec::new(),
            line_binary: false,
            their_close: None,
            our_close: None,
            masks: Masks::new(),
        }
    }

    /// The peer's Close, once it came: no more of its bytes will.
    pub fn their_close(&self) -> Option<&Close> {
        self.their_close.as_ref()
    }

    /// Our Close, once sent.
    pub fn our_close(&self) -> Option<&Close> {
        self.our_close.as_ref()
    }

    /// Whether a write would be refused for now: too many frames wait.
    pub fn out_full(&self) -> bool {
        self.out.len() >= OUT_LIMIT
    }

    /// Decode what `inbuf` holds into `plain`, up to `room` bytes of it:
    /// data as it comes, a ping answered, a Close noted (and nothing after
    /// it read). A protocol error queues our Close with its code.
    pub fn decode(&mut self, plain: &mut Vec<u8>, room: usize) -> Result<(), Failed> {
        let mut at = 0;
        let r = self.decode_from(plain, room, &mut at);
        self.inbuf.drain(..at);
        r
    }

    fn decode_from(
        &mut self,
        plain: &mut Vec<u8>,
        room: usize,
        at: &mut usize,
    ) -> Result<(), Failed> {
        loop {
            if let Some(f) = &mut self.frame {
                let avail = (self.inbuf.len() - *at).min(room.saturating_sub(plain.len()));
                let n = usize::try_from(f.left).map_or(avail, |left| left.min(avail));
                let start = plain.len();
                plain.extend_from_slice(&self.inbuf[*at..*at + n]);
                if let Some(mask) = f.mask {
                    unmask(&mut plain[start..], mask, f.offset);
                }
                *at += n;
                f.offset += n;
                f.left -= n as u64;
                if let Some(&b) = plain.last().filter(|_| n > 0) {
                    self.message_last = Some(b);
                }
                if f.left > 0 {
                    return Ok(());
                }
                let (text, fin) = (f.text, f.fin);
                self.frame = None;
                if fin {
                    self.message_text = None;
                    // A text message that ends with its own newline (as
                    // websocat sends lines) gets no second one.
                    let last = self.message_last.take();
                    if text && self.framing.newline && last != Some(b'\n') {
                        plain.push(b'\n');
                    }
                }
                continue;
            }
            if self.their_close.is_some() || plain.len() >= room {
                return Ok(());
            }
            let mut cursor = Cursor::new(&self.inbuf[*at..]);
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fail(format!("a bad frame: {e}"))),
            };
            let head = cursor.position() as usize;
            if len >> 63 != 0 {
                // (RFC 6455 5.2: the 64-bit length's most significant bit
                // must be 0.)
                return Err(self.fail("a frame length with its top bit set".into()));
            }
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(self.fail("a frame with reserved bits set".into()));
            }
            match (self.role, header.mask.is_some()) {
                (Role::Server, false) => {
                    return Err(self.fail("an unmasked frame from the client".into()));
                }
                (Role::Client, true) => {
                    return Err(self.fail("a masked frame from the server".into()));
                }
                _ => {}
            }
            match header.opcode {
                OpCode::Control(c) => {
                    if len > 125 || !header.is_final {
                        return Err(
                            self.fail("a control frame over 125 bytes or fragmented".into())
                        );
                    }
                    let len = len as usize;
                    if self.inbuf.len() - *at < head + len {
                        return Ok(()); // the rest of it has not come
                    }
                    let mut payload = self.inbuf[*at + head..*at + head + len].to_vec();
                    if let Some(mask) = header.mask {
                        unmask(&mut payload, mask, 0);
                    }
                    *at += head + len;
                    self.control(c, payload)?;
                }
                OpCode::Data(d) => {
                    let text = match d {
                        Data::Continue => match self.message_text {
                            Some(t) => t,
                            None => {
                                return Err(
                                    self.fail("a continuation frame outside a message".into())
                                );
                            }
                        },
                        Data::Text | Data::Binary if self.message_text.is_some() => {
                            return Err(self.fail("a new message inside a fragmented one".into()));
                        }
                        Data::Text => true,
                        Data::Binary => false,
                        Data::Reserved(_) => return Err(self.fail("a reserved opcode".into())),
                    };
                    self.message_text = Some(text);
                    *at += head;
                    self.frame = Some(InFrame {
                        left: len,
                        mask: header.mask,
                        offset: 0,
                        text,
                        fin: header.is_final,
                    });
                }
            }
        }
    }

    fn control(&mut self, c: Control, payload: Vec<u8>) -> Result<(), Failed> {
        match c {
            Control::Ping => {
                // A peer that pings faster than it reads our pongs gets
                // none past the limit (RFC 6455 asks only that the latest
                // ping be answered).
                if self.our_close.is_none() && !self.out_full() {
                    self.frame_out(0xA, &payload);
                }
            }
            Control::Pong => {}
            Control::Close => {
                let close = match payload.len() {
                    0 => Close::default(),
                    1 => return Err(self.fail("a Close frame of one byte".into())),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        // (RFC 6455 7.4: codes below 1000, those never sent
                        // on the wire and the unassigned ones are errors.)
                        if !(1000..5000).contains(&code)
                            || matches!(code, 1004..=1006 | 1015..=2999)
                        {
                            return Err(self.fail(format!("a Close frame with code {code}")));
                        }
                        Close {
                            code: Some(code),
                            reason: String::from_utf8_lossy(&payload[2..]).into_owned(),
                        }
                    }
                };
                self.their_close = Some(close);
            }
            Control::Reserved(_) => return Err(self.fail("a reserved opcode".into())),
        }
        Ok(())
    }

    /// A protocol error: our Close with 1002 is queued, and reading stops.
    fn fail(&mut self, why: String) -> Failed {
        self.close_with(Close {
            code: Some(PROTOCOL_ERROR),
            reason: String::new(),
        });
        self.their_close.get_or_insert_with(Close::default);
        Failed {
            code: PROTOCOL_ERROR,
            why,
        }
    }

    /// Our bytes, framed as the framing says; all of `data` is taken.
    pub fn send_data(&mut self, data: &[u8]) {
        if self.framing.binary {
            self.frame_out(0x2, data);
            return;
        }
        self.line.extend_from_slice(data);
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &self.line[start..]) {
            let line = std::mem::take(&mut self.line);
            self.line_out(&line[start..start + i + 1], true);
            self.line = line;
            start += i + 1;
        }
        self.line.drain(..start);
        while self.line.len() >= MAX_LINE {
            // Too long for one text message: its bytes go as they are, in
            // binary messages (its newline too, when it comes), so the
            // peer writes exactly them.
            let rest = self.line.split_off(MAX_LINE);
            let chunk = std::mem::replace(&mut self.line, rest);
            self.frame_out(0x2, &chunk);
            self.line_binary = true;
        }
    }

    /// A line (`ended`: with its newline, the last byte) as a text message
    /// without its newline. A line that is not UTF-8 (a text message must
    /// be: the peer would fail the connection), or the rest of one too
    /// long for a text message, goes as a binary message of its bytes as
    /// they are, its newline included: the peer writes binary messages as
    /// they come, so no byte is lost or added.
    fn line_out(&mut self, line: &[u8], ended: bool) {
        let text = if ended { &line[..line.len() - 1] } else { line };
        if !self.line_binary && std::str::from_utf8(text).is_ok() {
            self.frame_out(0x1, text);
        } else {
            self.frame_out(0x2, line);
        }
        self.line_binary = false;
    }

    /// A line still without its newline, as a message now.
    pub fn send_partial_line(&mut self) {
        if !self.line.is_empty() && self.our_close.is_none() {
            let line = std::mem::take(&mut self.line);
            self.line_out(&line, false);
        }
    }

    /// Our end: a line still without its newline goes as a message, then
    /// our Close (the peer's code echoed if it closed first, as RFC 6455
    /// suggests; 1000 otherwise).
    pub fn finish(&mut self) {
        self.send_partial_line();
        let close = match &self.their_close {
            Some(c) => c.clone(),
            None => Close {
                code: Some(NORMAL),
                reason: String::new(),
            },
        };
        self.close_with(close);
    }

    fn close_with(&mut self, close: Close) {
        if self.our_close.is_some() {
            return;
        }
        let mut payload = Vec::new();
        if let Some(code) = close.code {
            payload.extend_from_slice(&code.to_be_bytes());
            // A control frame holds 125 bytes: the reason is cut to fit.
            let mut reason = close.reason.as_bytes();
            while reason.len() > 123 || std::str::from_utf8(reason).is_err() {
                reason = &reason[..reason.len() - 1];
            }
            payload.extend_from_slice(reason);
        }
        self.frame_out(0x8, &payload);
        self.our_close = Some(close);
    }

    /// One final frame of `op` carrying `payload`, masked if we are the client.
    fn frame_out(&mut self, op: u8, payload: &[u8]) {
        let out = &mut self.out;
        out.push(0x80 | op);
        let mask_bit = if self.role == Role::Client { 0x80 } else { 0 };
        let len = payload.len();
        if len < 126 {
            out.push(mask_bit | len as u8);
        } else if let Ok(l) = u16::try_from(len) {
            out.push(mask_bit | 126);
            out.extend_from_slice(&l.to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if self.role == Role::Client {
            let mask = self.masks.next();
            out.extend_from_slice(&mask);
            let start = out.len();
            out.extend_from_slice(payload);
            unmask(&mut out[start..], mask, 0);
        } else {
            out.extend_from_slice(payload);
        }
    }
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
