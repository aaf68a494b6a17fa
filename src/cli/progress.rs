//! Progress of a multi-node operation: one indicatif line per node when stderr is a terminal,
//! plain `node: step` log lines otherwise (CI, pipes, `TERM=dumb`). Never colored when
//! `NO_COLOR` is set. Nothing secret is ever passed here.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// Whether colors may be used on a stream that is `tty`.
pub fn color_ok(tty: bool) -> bool {
    tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
}

/// Wraps `text` in an ANSI color when `color` is set (`ok` green, else red).
pub fn paint(text: &str, ok: bool, color: bool) -> String {
    if color {
        format!("\x1b[{}m{text}\x1b[0m", if ok { 32 } else { 31 })
    } else {
        text.to_string()
    }
}

/// Per-node progress reporting.
pub struct Progress {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    lock: Mutex<()>,
}

impl Progress {
    /// One line per node in `names`; indicatif only when stderr is a terminal.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Progress {
        let tty = std::io::stderr().is_terminal()
            && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true);
        let bars = tty.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let width = names.iter().map(|n| n.as_ref().len()).max().unwrap_or(4);
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {{prefix:<{width}}}  {{wide_msg}}"
            ))
            .expect("valid template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
            let map = names
                .iter()
                .map(|n| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(n.as_ref().to_string());
                    bar.enable_steady_tick(Duration::from_millis(100));
                    (n.as_ref().to_string(), bar)
                })
                .collect();
            (multi, map)
        });
        Progress {
            bars,
            lock: Mutex::new(()),
        }
    }

    /// A node's current step.
    pub fn step(&self, node: &str, msg: &str) {
        match &self.bars {
            Some((_, bars)) if bars.contains_key(node) => bars[node].set_message(msg.to_string()),
            _ => {
                let _g = self.lock.lock();
                crate::errln!("{node}: {msg}");
            }
        }
    }

    /// A node's last word: its line stays with `msg`.
    pub fn done(&self, node: &str, msg: &str) {
        match &self.bars {
            Some((_, bars)) if bars.contains_key(node) => {
                bars[node].finish_with_message(msg.to_string())
            }
            _ => {
                let _g = self.lock.lock();
                crate::errln!("{node}: {msg}");
            }
        }
    }

    /// A line that is not about one node.
    pub fn note(&self, msg: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(msg);
            }
            None => {
                let _g = self.lock.lock();
                crate::errln!("{msg}");
            }
        }
    }

    /// Stops every spinner (lines keep their last message).
    pub fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            for b in bars.values() {
                if !b.is_finished() {
                    b.finish();
                }
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
