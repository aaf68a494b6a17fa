//! The one place the orchestrator writes its results and messages.
//!
//! `println!` panics (exit status 101) when stdout is a closed pipe (`redrepl render inv.yaml |
//! head -0`). Here a closed stdout ends the command quietly with status 0, as ripgrep and
//! cargo do: whoever closed the pipe has read all they wanted. A failed write to stderr is
//! ignored, so the exit status still tells a failure apart.

use std::io::Write;

/// Writes `args` to stdout; a closed pipe exits the process quietly with status 0.
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut w = std::io::stdout().lock();
    if let Err(e) = w.write_fmt(args).and_then(|()| w.flush()) {
        on_stdout_error(&e);
    }
}

/// Writes `args` to stderr; any failure is ignored (the exit status still says it).
pub fn err(args: std::fmt::Arguments<'_>) {
    let mut w = std::io::stderr().lock();
    let _ = w.write_fmt(args).and_then(|()| w.flush());
}

/// What a failed write to stdout means: a reader that went away is a quiet, successful end;
/// anything else (a full disk behind a redirection) is reported on stderr and exits 1.
fn on_stdout_error(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(super::EXIT_OK));
    }
    err(format_args!("error: cannot write to stdout: {e}\n"));
    std::process::exit(i32::from(super::EXIT_FAILURE));
}

/// `print!` to stdout through [`out`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::out(format_args!($($arg)*)) };
}

/// `println!` to stdout through [`out`].
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::output::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`err`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::output::err(format_args!("{}\n", format_args!($($arg)*))) };
}
