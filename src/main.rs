//! The `redrepl` binary: parses the command line and hands over to the library.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: redrepl::server::alloc::Counting = redrepl::server::alloc::Counting;

/// Deploys and runs Redis master–replica replication, with a bundled Redis-compatible server.
#[derive(Parser)]
#[command(
    name = "redrepl",
    version,
    about,
    after_help = "Exit status: 0 success, 2 bad input (an inventory that does not parse or validate), 1 any other failure."
)]
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
    /// Scaffold DIR/inventory.yaml (with a strong random password) and DIR/templates/redis.conf.j2.
    Init {
        /// Folder to write into.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Comma-separated hosts: the first is the master, the others its replicas.
        #[arg(long, value_delimiter = ',')]
        hosts: Option<Vec<String>>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Validate an inventory and write one redis.conf per node (mode 0600); nothing remote.
    Render {
        /// The inventory file.
        inventory: PathBuf,
        /// Output folder (default: <inventory folder>/rendered).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Turns a CLI-edge result into the process exit status, printing the error chain.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::from(redrepl::cli::EXIT_OK),
        Err(e) => {
            redrepl::cli::print_error(&e);
            ExitCode::from(redrepl::cli::exit_code(&e))
        }
    }
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
                    eprintln!("{}", e.report());
                    return ExitCode::from(1);
                }
            };
            ExitCode::from(redrepl::server::run(loaded) as u8)
        }
        Command::Init { dir, hosts, force } => {
            finish(redrepl::cli::run_init(&dir, hosts.as_deref(), force))
        }
        Command::Render { inventory, out } => {
            finish(redrepl::cli::run_render(&inventory, out.as_deref()))
        }
    }
}
