//! The resolved cluster: every default applied, every path absolute, every reference checked.
//! Produced only by [`crate::cli::validate::validate`]; everything after validation uses it.

use crate::cli::inventory::{Engine, Transport};
use crate::cli::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// SSH settings of one node with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SshConfig {
    /// Remote user.
    pub user: String,
    /// SSH port.
    pub port: u16,
    /// Private key file, if any.
    pub identity_file: Option<PathBuf>,
    /// Whether to ask ssh-agent for keys.
    pub agent: bool,
    /// known_hosts file to check host keys against.
    pub known_hosts: PathBuf,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

/// One node, ready to render and deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name in the inventory.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// Redis port.
    pub port: u16,
    /// Working directory (absolute).
    pub dir: String,
    /// Where the config file lives on the node (absolute).
    pub config_path: String,
    /// Log file (absolute, or empty for standard output).
    pub logfile: String,
    /// RDB file name inside `dir`.
    pub dbfilename: String,
    /// Run as a daemon.
    pub daemonize: bool,
    /// protected-mode.
    pub protected_mode: bool,
    /// Listen addresses.
    pub bind: Vec<String>,
    /// The node this one replicates from (`None` for the master).
    pub replicaof: Option<String>,
    /// How the node is reached.
    pub transport: Transport,
    /// SSH settings (unused for local nodes).
    pub ssh: SshConfig,
}

/// A validated cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster's name.
    pub name: String,
    /// Which server runs on the nodes.
    pub engine: Engine,
    /// The shared password, if any.
    pub password: Option<Secret>,
    /// The nodes in inventory (name) order.
    pub nodes: Vec<Node>,
}

impl Cluster {
    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The one master.
    pub fn master(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.replicaof.is_none())
            .expect("a validated cluster has a master")
    }
}
