//! `--reply TEXT`: send TEXT and a newline at once, then FIN; keep printing
//! what the peer sends. The newline matches `send`, which ends its MESSAGE
//! words with one.

use std::sync::Arc;

use super::Step;
use super::print::Print;

#[derive(Debug)]
pub struct Reply {
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

    pub fn start(&mut self, out: &mut Vec<u8>) -> Step {
        out.extend_from_slice(&self.text);
        out.push(b'\n');
        Step::Finish
    }
}
