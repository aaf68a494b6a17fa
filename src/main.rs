//! The `redrepl` binary: parses the command line and hands over to the library.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: redrepl::server::alloc::Counting = redrepl::server::alloc::Counting;

/// Deploys and runs Redis master–replica replication, with a bundled Redis-compatible server.
#[derive(Parser)]
#[command(name = "redrepl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bundled Redis 7.0-compatible server (arguments as for redis-server:
    /// an optional config file, then --directive value overrides).
    #[command(disable_help_flag = true)]
    Server {
        /// [CONFIG] [--name value ...]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { args } => {
            if args.iter().any(|a| a == "--help" || a == "-h") {
                println!("Usage: redrepl server [/path/to/redis.conf] [--directive value ...]");
                return ExitCode::SUCCESS;
            }
            let loaded = match redrepl::config::load(&args) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!(
                        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***",
                        redrepl::server::REDIS_VERSION
                    );
                    eprintln!("{e}");
                    return ExitCode::from(1);
                }
            };
            ExitCode::from(redrepl::server::run(loaded) as u8)
        }
    }
}
