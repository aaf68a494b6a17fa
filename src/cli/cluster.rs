//! The resolved cluster: every default applied, every path absolute, every reference checked.
//! Produced only by [`crate::cli::validate::validate`]; everything after validation uses it.

use crate::cli::inventory::{Engine, Persistence, Transport};
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
    /// The port of this node's sentinel (None: no sentinel here).
    pub sentinel_port: Option<u16>,
    /// How the orchestrator reaches this node's server: TLS or not, which user.
    pub access: Access,
    /// `persistence:` (node, defaults, then top level); None: not set, nothing rendered.
    pub persistence: Option<Persistence>,
}

/// How the orchestrator talks to a server (the same for every node of a cluster).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// TLS with these files on this machine (None: plain TCP).
    pub tls: Option<TlsClient>,
    /// The ACL user to log in as (None: `AUTH <password>`, the default user).
    pub user: Option<String>,
    /// `auth.password`, for a server still running a config from before `tls:`/`users:`
    /// (plain TCP, default user): deploy stops it with SHUTDOWN SAVE.
    pub fallback_password: Option<Secret>,
}

/// The orchestrator's TLS client files (on this machine) and where a node's own files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClient {
    /// The cluster CA certificate (trust anchor).
    pub ca: PathBuf,
    /// The orchestrator's client certificate (Redis asks for one: tls-auth-clients yes).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// TLS and ACL settings of a cluster (issue 14), every default applied.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Every node listens for TLS only and replicates over TLS.
    pub tls: bool,
    /// The folder with the cluster's TLS files on this machine (`<inventory folder>/tls`).
    pub tls_dir: PathBuf,
    /// ACL users (empty: the default user only).
    pub users: Vec<crate::cli::users::User>,
    /// `auth.password`: the default user's password (requirepass). With users and no
    /// `auth:`, the default user is disabled.
    pub default_password: Option<Secret>,
}

impl Security {
    /// The user with this role, if any.
    pub fn user(&self, role: crate::cli::users::UserRole) -> Option<&crate::cli::users::User> {
        self.users.iter().find(|u| u.role == role)
    }
}

/// The cluster's sentinels, every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentinels {
    /// Which sentinel program runs.
    pub engine: Engine,
    /// The name the sentinels know the master by.
    pub master_name: String,
    /// Sentinels that must agree the master is down.
    pub quorum: u32,
    /// `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// `failover-timeout` (milliseconds).
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`.
    pub parallel_syncs: u32,
    /// `min-replicas-to-write` rendered into every server's config (0: off).
    pub min_replicas_to_write: u32,
    /// `min-replicas-max-lag` (seconds).
    pub min_replicas_max_lag: u32,
}

/// A validated cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster's name.
    pub name: String,
    /// Which server runs on the nodes.
    pub engine: Engine,
    /// The password the orchestrator logs in with: the admin user's when `users:` has one,
    /// else the shared `auth:` password (see [`Node::access`] for the user name).
    pub password: Option<Secret>,
    /// The nodes in inventory (name) order.
    pub nodes: Vec<Node>,
    /// Sentinels, when enabled (each node's own port is [`Node::sentinel_port`]).
    pub sentinels: Option<Sentinels>,
    /// TLS and ACL users.
    pub security: Security,
}

impl Cluster {
    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The nodes that run a sentinel (none when sentinels are off).
    pub fn sentinel_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(|n| self.sentinels.is_some() && n.sentinel_port.is_some())
    }

    /// What a replica logs in to its master with: `(masteruser, masterauth)`; the
    /// replication user when there is one, else the default user's password.
    pub fn master_login(&self) -> (Option<&str>, Option<&Secret>) {
        match self.security.user(crate::cli::users::UserRole::Replication) {
            Some(u) => (Some(u.name.as_str()), Some(&u.password)),
            None => (None, self.security.default_password.as_ref()),
        }
    }

    /// The one master.
    pub fn master(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.replicaof.is_none())
            .expect("a validated cluster has a master")
    }
}
