//! The progress bar `send` shows on a terminal while it sends a file or stdin.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// When stderr is a terminal.
    Auto,
    Always,
    Never,
}

impl Mode {
    pub fn from_flags(force: bool, never: bool) -> Mode {
        if never {
            Mode::Never
        } else if force {
            Mode::Always
        } else {
            Mode::Auto
        }
    }
}

/// A bar, or nothing when none should show.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn start(mode: Mode, len: Option<u64>) -> Bar {
        let show = match mode {
            Mode::Never => false,
            Mode::Always => true,
            Mode::Auto => std::io::stderr().is_terminal(),
        };
        if !show {
            return Bar(None);
        }
        let bar = match len {
            Some(n) => {
                ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr_with_hz(10))
                    .with_style(
                        ProgressStyle::with_template(
                            "{bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, ETA {eta}",
                        )
                        // (A fixed template: it parses, and a bar without
                        // it would still count.)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    )
            }
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
                .with_style(
                    ProgressStyle::with_template("{bytes} sent, {bytes_per_sec}, {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                ),
        };
        if mode == Mode::Always {
            // Forced onto a non-terminal: draw anyway, at a calm rate.
            bar.set_draw_target(ProgressDrawTarget::term_like_with_hz(Box::new(Plain), 4));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar(Some(bar))
    }

    pub fn set(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.set_position(n);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish();
        }
    }
}

/// A draw target for `--progress` when stderr is not a terminal: each
/// redraw is a new line rather than cursor movement.
#[derive(Debug)]
struct Plain;

impl indicatif::TermLike for Plain {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        writeln!(std::io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        use std::io::Write;
        if s.trim().is_empty() {
            return Ok(());
        }
        writeln!(std::io::stderr(), "{s}")
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}
