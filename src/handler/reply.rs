//! `--reply TEXT`: send TEXT and a newline at once, then FIN; keep printing
//! what the peer sends. The newline matches `send`, which ends its MESSAGE
//! words with one.
//!
//! Every connection sends the same bytes, so they are one shared buffer
//! (the text and its newline, made once): a thousand peers that never read
//! a large reply cost one copy of it, not a thousand.

use std::sync::Arc;

use super::Talk;
use super::print::Print;

#[derive(Debug)]
pub struct Reply {
    /// TEXT and its newline, shared by every connection.
    text: Arc<[u8]>,
    pub print: Print,
}

impl Reply {
    pub fn new(text: Arc<[u8]>) -> Reply {
        Reply {
            text,
            print: Print::default(),
        }
    }

    /// The reply goes out as the connection's greeting, then FIN.
    pub fn start(&mut self) -> Talk {
        Talk::Finish
    }

    pub fn greeting(&self) -> Arc<[u8]> {
        self.text.clone()
    }

    /// TEXT and its newline, borrowed.
    pub fn text(&self) -> &[u8] {
        &self.text
    }
}
