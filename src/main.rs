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
    after_help = "Exit status: 0 success; 1 failure (a node unreachable, a refused host key or \
password, a server that did not start, ...; the message names the node and what to do); \
2 bad input (an inventory that does not parse or validate: nothing was touched); \
3 unhealthy (verify, deploy, promote, status: the cluster was reached but a check failed)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `redrepl certs ...`.
#[derive(Subcommand)]
enum CertsCommand {
    /// Reissue every node's certificate with the cluster CA; `deploy` rolls them out without a
    /// restart.
    Renew {
        /// The inventory file.
        inventory: PathBuf,
        /// Validity of the new certificates, in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
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
    /// Run the bundled Sentinel (arguments as for redis-sentinel: the sentinel.conf it
    /// rewrites with its state, then --directive value overrides).
    #[command(disable_help_flag = true)]
    Sentinel {
        /// CONFIG [--name value ...]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Scaffold DIR/inventory.yaml (TLS, a CA and node certificates in DIR/tls, ACL users with
    /// random passwords) and DIR/templates/redis.conf.j2.
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
        /// No TLS and no users: one random password (auth.password), sentinels enabled.
        #[arg(long)]
        plain: bool,
    },
    /// The cluster's certificates.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Validate an inventory and write one redis.conf per node (mode 0600); nothing remote.
    Render {
        /// The inventory file.
        inventory: PathBuf,
        /// Output folder (default: <inventory folder>/rendered).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Render, push over SSH (or locally), start or restart what changed, wait for sync, verify.
    /// A second run with nothing changed restarts nothing and says "unchanged".
    Deploy {
        /// The inventory file.
        inventory: PathBuf,
        /// Print what would be uploaded, written and started; touch nothing.
        #[arg(long)]
        dry_run: bool,
        /// Trust host keys not yet in known_hosts (and add them); a changed key is always refused.
        #[arg(long)]
        accept_new_host_keys: bool,
        /// When the master is down and a replica holds more than the master's dump would
        /// bring back, promote the most advanced replica (as `promote NODE --force`) and carry
        /// on, instead of refusing. Never starts a master over better replicas.
        #[arg(long)]
        promote_if_master_lost: bool,
        /// Shut down (SHUTDOWN, data saved) the servers that replicate from the cluster but
        /// are no longer in the inventory; without it they are left running and reported.
        #[arg(long)]
        prune: bool,
    },
    /// Write a unique key on the master, read it on every replica, report lag; check that
    /// replicas refuse writes and follow the node the inventory says. Exit 0 only when all hold.
    Verify {
        /// The inventory file.
        inventory: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for the key on each replica.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
    },
    /// One row per node from INFO: reachable, role, master, link, offset, lag, replicas, keys,
    /// memory, uptime.
    Status {
        /// The inventory file.
        inventory: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The cluster-level view in the Prometheus text format (for a textfile collector).
        #[arg(long, conflicts_with = "json")]
        prometheus: bool,
        /// Refresh until q or Ctrl-C (redrawn in place on a terminal).
        #[arg(long)]
        watch: bool,
        /// Seconds between refreshes with --watch.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
    /// The servers' log files, each line prefixed with its node; -f follows them all.
    Logs {
        /// The inventory file.
        inventory: PathBuf,
        /// Only these nodes (default: all).
        nodes: Vec<String>,
        /// Lines from the end of each log.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u64,
        /// Follow the logs (lines printed as they arrive) until Ctrl-C.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Safe switchover: pause writes on the master, wait until NODE has every write, make NODE
    /// the master and the others (old master included) follow it, persist it (CONFIG REWRITE,
    /// configs, the inventory file), verify.
    Promote {
        /// The inventory file (updated in place).
        inventory: PathBuf,
        /// The replica to promote.
        node: String,
        /// Promote even though the master does not answer (writes it had not sent are lost).
        #[arg(long)]
        force: bool,
        /// Print the plan (what each node would do); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Trust host keys not yet in known_hosts.
        #[arg(long)]
        accept_new_host_keys: bool,
    },
    /// Take a backup: BGSAVE on a replica in sync (else the master), download the RDB over SSH
    /// (SHA-256 checked on both sides), write DIR/<cluster>-<node>-<time>/{dump.rdb,
    /// manifest.json}. With --list DIR: list the backups in DIR, each checked whole.
    Backup {
        /// The inventory file.
        #[arg(required_unless_present = "list")]
        inventory: Option<PathBuf>,
        /// Take it on this node (default: the first replica in sync, else the master).
        #[arg(long, conflicts_with = "list")]
        node: Option<String>,
        /// Folder to write the backup folder into.
        #[arg(long, default_value = "backups", conflicts_with = "list")]
        to: PathBuf,
        /// List the backups in this folder instead.
        #[arg(long, value_name = "DIR", conflicts_with = "inventory")]
        list: Option<PathBuf>,
    },
    /// Replace the cluster's data with a backup: checked whole first, then the master is
    /// stopped, loads the backup (its old dump is kept), replicas full-sync, key counts are
    /// compared with the manifest. Refuses without --yes.
    Restore {
        /// The inventory file.
        inventory: PathBuf,
        /// The backup folder (or its manifest.json).
        backup: PathBuf,
        /// Replace the data (without it, the plan is shown and nothing changes).
        #[arg(long)]
        yes: bool,
        /// Print the plan; change nothing.
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
    },
    /// Rolling upgrade onto a new server binary: replicas one at a time (each back in sync),
    /// then a safe switchover of the master to an upgraded replica and its restart as a
    /// replica. A node that does not come back is put back on its previous binary.
    Upgrade {
        /// The inventory file (updated in place when the master moves).
        inventory: PathBuf,
        /// The new redrepl binary (default: this program); ignored for engine: redis.
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Switch the master back to the node that was the master.
        #[arg(long)]
        keep_master: bool,
        /// Print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Failover drill for a staging cluster with sentinels: kill the master's server, time
    /// the sentinels' failover and the first write on the new master, restart the old master
    /// and time its return as a replica. The next deploy records the new master.
    FailoverTest {
        /// The inventory file.
        inventory: PathBuf,
        /// Trust and record host keys not yet in known_hosts.
        #[arg(long)]
        accept_new_host_keys: bool,
    },
    /// Shut the servers down cleanly (SHUTDOWN: data saved), replicas before the master.
    Stop {
        /// The inventory file.
        inventory: PathBuf,
        /// Only these nodes (default: all).
        nodes: Vec<String>,
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
                redrepl::outln!(
                    "Usage: redrepl server [/path/to/redis.conf] [--directive value ...]"
                );
                return ExitCode::SUCCESS;
            }
            // As redis-server: `--sentinel` runs a Sentinel on the same arguments.
            if args.iter().any(|a| a == "--sentinel") {
                return ExitCode::from(redrepl::sentinel::run(&args) as u8);
            }
            let loaded = match redrepl::config::load(&args) {
                Ok(l) => l,
                Err(e) => {
                    redrepl::errln!(
                        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***",
                        redrepl::server::REDIS_VERSION
                    );
                    redrepl::errln!("{}", e.report());
                    return ExitCode::from(1);
                }
            };
            ExitCode::from(redrepl::server::run(loaded) as u8)
        }
        Command::Sentinel { args } => {
            if args.iter().any(|a| a == "--help" || a == "-h") {
                redrepl::outln!(
                    "Usage: redrepl sentinel /path/to/sentinel.conf [--directive value ...]"
                );
                return ExitCode::SUCCESS;
            }
            ExitCode::from(redrepl::sentinel::run(&args) as u8)
        }
        Command::Init {
            dir,
            hosts,
            force,
            plain,
        } => finish(redrepl::cli::run_init(&dir, hosts.as_deref(), force, plain)),
        Command::Certs {
            command: CertsCommand::Renew { inventory, days },
        } => finish(redrepl::cli::run_certs_renew(&inventory, days)),
        Command::Render { inventory, out } => {
            finish(redrepl::cli::run_render(&inventory, out.as_deref()))
        }
        Command::Deploy {
            inventory,
            dry_run,
            accept_new_host_keys,
            promote_if_master_lost,
            prune,
        } => finish(redrepl::cli::run_deploy(
            &inventory,
            redrepl::cli::DeployArgs {
                dry_run,
                accept_new_host_keys,
                promote_if_master_lost,
                prune,
            },
        )),
        Command::Verify {
            inventory,
            json,
            timeout,
        } => finish(redrepl::cli::run_verify(&inventory, json, timeout)),
        Command::Status {
            inventory,
            json,
            prometheus,
            watch,
            interval,
        } => finish(redrepl::cli::run_status(
            &inventory,
            redrepl::cli::StatusArgs {
                json,
                prometheus,
                watch,
                interval,
            },
        )),
        Command::Logs {
            inventory,
            nodes,
            lines,
            follow,
        } => finish(redrepl::cli::run_logs(
            &inventory,
            redrepl::cli::logs::Options {
                nodes,
                lines,
                follow,
            },
        )),
        Command::Promote {
            inventory,
            node,
            force,
            dry_run,
            accept_new_host_keys,
        } => finish(redrepl::cli::run_promote(
            &inventory,
            &node,
            redrepl::cli::PromoteArgs {
                force,
                dry_run,
                accept_new_host_keys,
            },
        )),
        Command::Backup {
            inventory,
            node,
            to,
            list,
        } => finish(match (list, inventory) {
            (Some(dir), _) => redrepl::cli::run_backup_list(&dir),
            (None, Some(inv)) => redrepl::cli::run_backup(&inv, node.as_deref(), &to),
            (None, None) => Err(anyhow::anyhow!("backup needs an INVENTORY or --list DIR")),
        }),
        Command::Restore {
            inventory,
            backup,
            yes,
            dry_run,
        } => finish(redrepl::cli::run_restore(&inventory, &backup, yes, dry_run)),
        Command::Upgrade {
            inventory,
            binary,
            keep_master,
            dry_run,
        } => finish(redrepl::cli::run_upgrade(
            &inventory,
            redrepl::cli::UpgradeArgs {
                binary,
                keep_master,
                dry_run,
            },
        )),
        Command::Stop { inventory, nodes } => finish(redrepl::cli::run_stop(&inventory, &nodes)),
        Command::FailoverTest {
            inventory,
            accept_new_host_keys,
        } => finish(redrepl::cli::run_failover_test(
            &inventory,
            accept_new_host_keys,
        )),
    }
}
