//! The inventory file as written by the user: a YAML model read with serde. Nothing here
//! checks meaning; [`crate::cli::validate`] turns an [`Inventory`] into a resolved cluster.

use crate::cli::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which server runs on the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Upload this redrepl binary and run `redrepl server CONFIG`.
    #[default]
    Bundled,
    /// Run the node's own `redis-server CONFIG`.
    Redis,
}

impl Engine {
    /// The name used in the inventory and in templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Bundled => "bundled",
            Engine::Redis => "redis",
        }
    }
}

/// What a node persists its dataset with (`persistence:`, top level, in `defaults:` or
/// per node). Absent: nothing is rendered and the server keeps its own defaults (RDB save
/// points, no AOF), so inventories written before this setting deploy unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Persistence {
    /// RDB snapshots at Redis's default save points; `appendonly no`.
    Rdb,
    /// The append-only file (`appendfsync everysec`), no save points.
    Aof,
    /// Both: the AOF for durability, snapshots for backups (what `init` writes).
    Both,
}

impl Persistence {
    /// The name used in the inventory and in templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Persistence::Rdb => "rdb",
            Persistence::Aof => "aof",
            Persistence::Both => "both",
        }
    }

    /// Whether the append-only file is on.
    pub fn aof(self) -> bool {
        self != Persistence::Rdb
    }
}

/// How a node is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Over SSH (the default).
    #[default]
    Ssh,
    /// On this machine, without SSH.
    Local,
}

/// The only value `role:` takes; a replica says `replicaof: <node>` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The node everyone else replicates from.
    Master,
}

/// The cluster password: inline, or read from an environment variable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The password itself.
    pub password: Option<Secret>,
    /// The name of an environment variable holding the password.
    pub password_env: Option<String>,
}

/// SSH settings; every field is optional so that a node's block overrides only what it names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    /// Remote user (default: root).
    pub user: Option<String>,
    /// SSH port (default: 22).
    pub port: Option<u32>,
    /// Private key file; `~` is expanded, relative paths are taken from the inventory's folder.
    pub identity_file: Option<PathBuf>,
    /// Use ssh-agent (default: yes when no identity_file is given).
    pub agent: Option<bool>,
    /// known_hosts file (default: ~/.ssh/known_hosts).
    pub known_hosts: Option<PathBuf>,
    /// Connect timeout in seconds (default: 10).
    pub connect_timeout: Option<u64>,
}

impl SshSettings {
    /// `self` with the fields it leaves unset taken from `base`.
    pub fn or(&self, base: &SshSettings) -> SshSettings {
        SshSettings {
            user: self.user.clone().or_else(|| base.user.clone()),
            port: self.port.or(base.port),
            identity_file: self
                .identity_file
                .clone()
                .or_else(|| base.identity_file.clone()),
            agent: self.agent.or(base.agent),
            known_hosts: self
                .known_hosts
                .clone()
                .or_else(|| base.known_hosts.clone()),
            connect_timeout: self.connect_timeout.or(base.connect_timeout),
        }
    }
}

/// A `bind:` value: one address string (`"0.0.0.0"`, `"127.0.0.1 -::1"`) or a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Bind {
    /// Space-separated addresses.
    One(String),
    /// One address per item.
    Many(Vec<String>),
}

impl Bind {
    /// The addresses, one per item.
    pub fn addresses(&self) -> Vec<String> {
        match self {
            Bind::One(s) => s.split_whitespace().map(str::to_owned).collect(),
            Bind::Many(v) => v.clone(),
        }
    }
}

/// Per-node settings, used both for `defaults:` and for each entry of `nodes:`. String paths
/// may use `{node}`, `{port}`, `{host}` and (except `dir` itself) `{dir}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// Host name or address (for `transport: local`, default 127.0.0.1).
    pub host: Option<String>,
    /// Redis port (default 6379).
    pub port: Option<u32>,
    /// Working directory (`dir`), default `/var/lib/redrepl/{node}`.
    pub dir: Option<String>,
    /// Where the rendered config goes on the node, default `{dir}/redis-{port}.conf`.
    pub config_path: Option<String>,
    /// Log file, default `{dir}/{port}.log`.
    pub logfile: Option<String>,
    /// RDB file name inside `dir`, default `dump{port}.rdb`.
    pub dbfilename: Option<String>,
    /// Run as a daemon (default yes).
    pub daemonize: Option<bool>,
    /// protected-mode (default no, as in the seed; a password is then required).
    pub protected_mode: Option<bool>,
    /// Listen addresses (default all interfaces for SSH nodes, 127.0.0.1 for local ones).
    pub bind: Option<Bind>,
    /// `master` for the one master.
    pub role: Option<Role>,
    /// The node this one replicates from.
    pub replicaof: Option<String>,
    /// `ssh` (default) or `local`.
    pub transport: Option<Transport>,
    /// SSH overrides for this node.
    pub ssh: Option<SshSettings>,
    /// This node's sentinel (port, or none at all); see [`Inventory::sentinel`].
    pub sentinel: Option<NodeSentinel>,
    /// This node's persistence (overrides the top-level `persistence:`).
    pub persistence: Option<Persistence>,
}

/// The `sentinel:` block: one sentinel per node watching the cluster's master and failing
/// over by itself (Redis Sentinel, bundled or Debian's `redis-sentinel`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSettings {
    /// Deploy sentinels (default yes when the block is present).
    pub enabled: Option<bool>,
    /// `bundled` (`redrepl sentinel CONFIG`, default) or `redis` (`redis-sentinel CONFIG`).
    pub engine: Option<Engine>,
    /// The name the sentinels know the master by (default: the cluster's name).
    pub master_name: Option<String>,
    /// Sentinels that must agree the master is down (default 2).
    pub quorum: Option<u32>,
    /// `down-after-milliseconds` (default 5000).
    pub down_after_ms: Option<u64>,
    /// `failover-timeout` in milliseconds (default 60000).
    pub failover_timeout_ms: Option<u64>,
    /// `parallel-syncs` (default 1).
    pub parallel_syncs: Option<u32>,
    /// The sentinels' port (default 26379).
    pub port: Option<u32>,
    /// `min-replicas-to-write` in every server's config (default 1; 0 turns it off): a master
    /// cut off from its replicas stops taking writes, bounding what a failover discards.
    pub min_replicas_to_write: Option<u32>,
    /// `min-replicas-max-lag` in seconds (default 10).
    pub min_replicas_max_lag: Option<u32>,
}

/// A node's own sentinel settings (under `nodes.<name>.sentinel` or `defaults.sentinel`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSentinel {
    /// Run a sentinel on this node (default yes when sentinels are enabled).
    pub enabled: Option<bool>,
    /// This node's sentinel port (overrides `sentinel.port`).
    pub port: Option<u32>,
}

/// The whole inventory file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// The cluster's name.
    pub cluster: String,
    /// `bundled` (default) or `redis`.
    #[serde(default)]
    pub engine: Engine,
    /// The password shared by every node (requirepass and masterauth).
    #[serde(default)]
    pub auth: Auth,
    /// SSH defaults for every node.
    #[serde(default)]
    pub ssh: SshSettings,
    /// Settings every node gets unless it sets its own.
    #[serde(default)]
    pub defaults: NodeSettings,
    /// Sentinels for automatic failover (absent: none).
    #[serde(default)]
    pub sentinel: Option<SentinelSettings>,
    /// Every node's persistence unless set in `defaults:` or on the node (absent: the
    /// server's own defaults, see [`Persistence`]).
    #[serde(default)]
    pub persistence: Option<Persistence>,
    /// The nodes by name (a name given twice is an error).
    #[serde(default, deserialize_with = "unique_nodes")]
    pub nodes: BTreeMap<String, NodeSettings>,
    /// TLS on every link (clients, replication, the orchestrator): `true` makes each node
    /// listen for TLS only, with the certificates in `<inventory folder>/tls/`. Absent or
    /// `false`: plain TCP, as before.
    #[serde(default)]
    pub tls: Option<bool>,
    /// ACL users by name, each with a role (see [`crate::cli::users`]). Absent: the one
    /// `auth:` password, as before.
    #[serde(default)]
    pub users: BTreeMap<String, crate::cli::users::UserSettings>,
}

/// Reads `nodes:` refusing a name given twice (YAML would otherwise keep the last silently).
fn unique_nodes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, NodeSettings>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = BTreeMap<String, NodeSettings>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of node name to node settings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((name, node)) = map.next_entry::<String, NodeSettings>()? {
                if out.contains_key(&name) {
                    return Err(serde::de::Error::custom(format!(
                        "node '{name}' is defined twice"
                    )));
                }
                out.insert(name, node);
            }
            Ok(out)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
    }
    d.deserialize_any(V)
}

/// Why an inventory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The inventory file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the model.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The inventory file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What serde said.
        message: String,
    },
}

/// Parses inventory text; `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Inventory, LoadError> {
    serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        LoadError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: e.to_string(),
        }
    })
}

/// Reads and parses an inventory file.
pub fn load(path: &Path) -> Result<Inventory, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_inventory_parses_with_defaults() {
        let inv = parse(
            "cluster: c\nnodes:\n  a: {host: h, role: master}\n  b: {host: h, port: 6380, replicaof: a}\n",
            Path::new("x.yaml"),
        )
        .unwrap();
        assert_eq!(inv.engine, Engine::Bundled);
        assert_eq!(inv.nodes["a"].role, Some(Role::Master));
        assert_eq!(inv.nodes["b"].replicaof.as_deref(), Some("a"));
    }

    #[test]
    fn parse_errors_carry_line_and_column() {
        let err = parse(
            "cluster: c\nnodes:\n  a:\n    hots: h\n",
            Path::new("inv.yaml"),
        )
        .unwrap_err();
        match &err {
            LoadError::Parse { line, column, .. } => assert_eq!((*line, *column), (4, 5)),
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.starts_with("inv.yaml:4:5:"), "{text}");
        assert!(text.contains("hots"), "{text}");
    }

    #[test]
    fn debug_of_an_inventory_hides_the_password() {
        let inv = parse(
            "cluster: c\nauth: {password: s3cret-value}\n",
            Path::new("x"),
        )
        .unwrap();
        assert!(!format!("{inv:?}").contains("s3cret-value"));
    }

    #[test]
    fn a_node_name_given_twice_is_refused() {
        let err = parse(
            "cluster: c\nnodes:\n  a: {host: h}\n  a: {host: i}\n",
            Path::new("x"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("node 'a' is defined twice"),
            "{err}"
        );
    }

    #[test]
    fn bind_accepts_a_string_or_a_list() {
        assert_eq!(
            Bind::One("127.0.0.1 -::1".into()).addresses(),
            vec!["127.0.0.1", "-::1"]
        );
        let inv = parse("cluster: c\ndefaults: {bind: [a, b]}\n", Path::new("x")).unwrap();
        assert_eq!(inv.defaults.bind.unwrap().addresses(), vec!["a", "b"]);
    }
}
