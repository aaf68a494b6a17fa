//! Validation: checks an [`Inventory`] before anything is touched and resolves it into a
//! [`Cluster`]. Every problem is collected, each with the YAML path it concerns.

use crate::cli::cluster::{Cluster, Node, Sentinels, SshConfig};
use crate::cli::inventory::{Engine, Inventory, NodeSettings, Role, SshSettings, Transport};
use crate::cli::secret::Secret;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// One problem, at one YAML path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, e.g. `nodes.node2.replicaof`.
    pub path: String,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in an inventory (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the inventory:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n    {p}")?;
        }
        Ok(())
    }
}

/// Looks up an environment variable (a parameter so tests need not touch the real environment).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Checks `inv` (read from a file in `base_dir`) and resolves it. `env` supplies
/// `auth.password_env` and `$HOME`.
pub fn validate(inv: &Inventory, base_dir: &Path, env: EnvLookup<'_>) -> Result<Cluster, Problems> {
    let mut v = Validator {
        problems: Vec::new(),
        base_dir,
        env,
    };
    let cluster = v.run(inv);
    // Grouped by path (stable, so one path's problems keep the order they were found in).
    v.problems.sort_by(|a, b| a.path.cmp(&b.path));
    if v.problems.is_empty() {
        Ok(cluster)
    } else {
        Err(Problems(v.problems))
    }
}

struct Validator<'a> {
    problems: Vec<Problem>,
    base_dir: &'a Path,
    env: EnvLookup<'a>,
}

/// A setting taken from the node, else from `defaults:`, with the YAML path it came from.
fn pick<T: Clone>(
    node: &Option<T>,
    default: &Option<T>,
    name: &str,
    field: &str,
) -> Option<(T, String)> {
    match (node, default) {
        (Some(v), _) => Some((v.clone(), format!("nodes.{name}.{field}"))),
        (None, Some(v)) => Some((v.clone(), format!("defaults.{field}"))),
        _ => None,
    }
}

/// Replaces `{node}`, `{port}`, `{host}` and `{dir}` in a setting.
fn expand(s: &str, name: &str, port: u32, host: &str, dir: Option<&str>) -> String {
    let s = s
        .replace("{node}", name)
        .replace("{port}", &port.to_string())
        .replace("{host}", host);
    match dir {
        Some(d) => s.replace("{dir}", d),
        None => s,
    }
}

/// Whether a bind address listens on every interface.
fn is_open_bind(addr: &str) -> bool {
    matches!(addr.trim_start_matches('-'), "*" | "0.0.0.0" | "::" | "::*")
}

impl Validator<'_> {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn run(&mut self, inv: &Inventory) -> Cluster {
        if inv.cluster.trim().is_empty() {
            self.problem("cluster", "must not be empty");
        }
        if inv.defaults.role.is_some() {
            self.problem(
                "defaults.role",
                "not allowed in defaults: set role: master on one node",
            );
        }
        if inv.defaults.replicaof.is_some() {
            self.problem(
                "defaults.replicaof",
                "not allowed in defaults: set replicaof per node",
            );
        }
        let (password, password_declared) = self.password(inv);
        let security = self.security(inv, password);
        if inv.nodes.is_empty() {
            self.problem("nodes", "no nodes: add at least a master");
        }
        let password_declared = password_declared || !inv.users.is_empty();
        let mut nodes: Vec<Node> = inv
            .nodes
            .iter()
            .filter_map(|(name, n)| self.node(inv, name, n, password_declared))
            .collect();
        self.topology(inv);
        let sentinels = self.sentinels(inv, &nodes);
        self.security_fits(inv, &nodes);
        self.unique_addresses(&nodes);
        let (access, login) = security::access(&security);
        for n in &mut nodes {
            n.access = access.clone();
        }
        Cluster {
            name: inv.cluster.clone(),
            engine: inv.engine,
            password: login,
            nodes,
            sentinels,
            security,
        }
    }

    /// Returns the password (if usable) and whether one was declared at all.
    fn password(&mut self, inv: &Inventory) -> (Option<Secret>, bool) {
        self.secret(&inv.auth.password, &inv.auth.password_env, "auth")
    }

    /// A password given inline or by environment variable at `path` (`auth`,
    /// `users.<name>`): the value (if usable) and whether one was declared at all.
    fn secret(
        &mut self,
        inline: &Option<Secret>,
        var: &Option<String>,
        path: &str,
    ) -> (Option<Secret>, bool) {
        match (inline, var) {
            (Some(_), Some(_)) => {
                self.problem(path, "set either password or password_env, not both");
                (None, true)
            }
            (Some(p), None) => (
                self.check_password(p.clone(), &format!("{path}.password")),
                true,
            ),
            (None, Some(var)) => match (self.env)(var) {
                Some(p) => (
                    self.check_password(Secret::new(p), &format!("{path}.password_env")),
                    true,
                ),
                None => {
                    self.problem(
                        format!("{path}.password_env"),
                        format!("environment variable {var} is not set: export {var}=<password>"),
                    );
                    (None, true)
                }
            },
            (None, None) => (None, false),
        }
    }

    fn check_password(&mut self, p: Secret, path: &str) -> Option<Secret> {
        if p.expose().is_empty() {
            self.problem(path, "the password is empty");
            None
        } else if p.expose().chars().any(|c| c.is_control()) {
            self.problem(
                path,
                "the password contains a control character (newline, tab, ...)",
            );
            None
        } else {
            Some(p)
        }
    }

    fn node(
        &mut self,
        inv: &Inventory,
        name: &str,
        n: &NodeSettings,
        password_declared: bool,
    ) -> Option<Node> {
        let d = &inv.defaults;
        let before = self.problems.len();
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            self.problem(
                format!("nodes.{name}"),
                "a node name may use only letters, digits, '-', '_' and '.' (not first)",
            );
        }
        let transport = pick(&n.transport, &d.transport, name, "transport")
            .map(|t| t.0)
            .unwrap_or_default();
        let local = transport == Transport::Local;
        let host = match pick(&n.host, &d.host, name, "host") {
            Some((h, _)) if !h.trim().is_empty() => h,
            _ if local => "127.0.0.1".to_owned(),
            _ => {
                self.problem(
                    format!("nodes.{name}.host"),
                    "missing: a node reached over SSH needs a host",
                );
                String::new()
            }
        };
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'\\".contains(c))
        {
            self.problem(
                format!("nodes.{name}.host"),
                format!("{host:?} is not a host name or address"),
            );
        }
        let (port, port_path) =
            pick(&n.port, &d.port, name, "port").unwrap_or((6379, format!("nodes.{name}.port")));
        if !(1..=65535).contains(&port) {
            self.problem(port_path, format!("port {port} is out of range 1..65535"));
        }
        let dir_raw = pick(&n.dir, &d.dir, name, "dir")
            .map(|v| v.0)
            .unwrap_or_else(|| "/var/lib/redrepl/{node}".into());
        let dir = self.path(
            &expand(&dir_raw, name, port, &host, None),
            local,
            &format!("nodes.{name}.dir"),
            false,
        );
        let setting = |v: &mut Self,
                       field: &str,
                       node: &Option<String>,
                       def: &Option<String>,
                       fallback: &str,
                       may_be_empty: bool| {
            let raw = pick(node, def, name, field)
                .map(|v| v.0)
                .unwrap_or_else(|| fallback.into());
            if raw.starts_with("{dir}") && !Path::new(&dir).is_absolute() {
                return expand(&raw, name, port, &host, Some(&dir)); // the bad dir is reported already
            }
            v.path(
                &expand(&raw, name, port, &host, Some(&dir)),
                local,
                &format!("nodes.{name}.{field}"),
                may_be_empty,
            )
        };
        let config_path = setting(
            self,
            "config_path",
            &n.config_path,
            &d.config_path,
            "{dir}/redis-{port}.conf",
            false,
        );
        let logfile = setting(
            self,
            "logfile",
            &n.logfile,
            &d.logfile,
            "{dir}/{port}.log",
            true,
        );
        let dbfilename = pick(&n.dbfilename, &d.dbfilename, name, "dbfilename")
            .map(|v| v.0)
            .unwrap_or_else(|| "dump{port}.rdb".into());
        let dbfilename = expand(&dbfilename, name, port, &host, None);
        if dbfilename.is_empty() || dbfilename.contains('/') {
            self.problem(
                format!("nodes.{name}.dbfilename"),
                "must be a plain file name (it lives in dir)",
            );
        }
        let daemonize = pick(&n.daemonize, &d.daemonize, name, "daemonize")
            .map(|v| v.0)
            .unwrap_or(true);
        let protected_mode = pick(&n.protected_mode, &d.protected_mode, name, "protected_mode")
            .map(|v| v.0)
            .unwrap_or(false);
        let bind = match pick(&n.bind, &d.bind, name, "bind") {
            Some((b, path)) => {
                let a = b.addresses();
                if a.is_empty() {
                    self.problem(path, "lists no address");
                } else if a.iter().any(|x| {
                    x.is_empty()
                        || x.chars()
                            .any(|c| c.is_whitespace() || c.is_control() || "\"'\\".contains(c))
                }) {
                    self.problem(
                        path,
                        "an address contains a space, a quote or a control character",
                    );
                }
                a
            }
            None if local => vec!["127.0.0.1".to_owned()],
            None => vec!["0.0.0.0".to_owned()],
        };
        if !password_declared {
            if !protected_mode {
                self.problem(
                    format!("nodes.{name}.protected_mode"),
                    "protected-mode is off and no password is set: add auth.password or auth.password_env",
                );
            } else if bind.iter().any(|a| is_open_bind(a)) {
                self.problem(
                    format!("nodes.{name}.bind"),
                    "listens on all interfaces and no password is set: add auth.password or auth.password_env",
                );
            }
        }
        let persistence = n
            .persistence
            .or(inv.defaults.persistence)
            .or(inv.persistence);
        let ssh = self.ssh(inv, name, n);
        let sentinel_port = self.sentinel_port(inv, name, n);
        if self.problems.len() > before {
            return None;
        }
        Some(Node {
            name: name.to_owned(),
            host,
            port: port as u16,
            dir,
            config_path,
            logfile,
            dbfilename,
            daemonize,
            protected_mode,
            bind,
            replicaof: n.replicaof.clone(),
            transport,
            ssh,
            sentinel_port,
            access: Default::default(),
            persistence,
        })
    }

    /// The port of the node's sentinel: None when sentinels are off or this node has none.
    fn sentinel_port(&mut self, inv: &Inventory, name: &str, n: &NodeSettings) -> Option<u16> {
        let own = n.sentinel.clone().unwrap_or_default();
        let def = inv.defaults.sentinel.clone().unwrap_or_default();
        let Some(global) = inv.sentinel.as_ref().filter(|s| s.enabled != Some(false)) else {
            if n.sentinel.is_some() {
                self.problem(
                    format!("nodes.{name}.sentinel"),
                    "set, but sentinels are not enabled: add a top-level sentinel: block",
                );
            }
            return None;
        };
        if !own.enabled.or(def.enabled).unwrap_or(true) {
            return None;
        }
        let (port, path) = match (own.port, def.port, global.port) {
            (Some(p), _, _) => (p, format!("nodes.{name}.sentinel.port")),
            (None, Some(p), _) => (p, "defaults.sentinel.port".to_owned()),
            (None, None, Some(p)) => (p, "sentinel.port".to_owned()),
            (None, None, None) => (26379, "sentinel.port".to_owned()),
        };
        if !(1..=65535).contains(&port) {
            self.problem(path, format!("port {port} is out of range 1..65535"));
            return None;
        }
        Some(port as u16)
    }

    /// The `sentinel:` block: quorum, a majority that survives losing a sentinel, settings.
    fn sentinels(&mut self, inv: &Inventory, nodes: &[Node]) -> Option<Sentinels> {
        let s = inv.sentinel.as_ref().filter(|s| s.enabled != Some(false))?;
        let master_name = s.master_name.clone().unwrap_or_else(|| inv.cluster.clone());
        if master_name.is_empty()
            || !master_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            self.problem(
                if s.master_name.is_some() {
                    "sentinel.master_name"
                } else {
                    "cluster"
                },
                format!(
                    "{master_name:?} cannot name the master for the sentinels: use only letters,                      digits, '-', '_' and '.' (or set sentinel.master_name)"
                ),
            );
        }
        let count = nodes.iter().filter(|n| n.sentinel_port.is_some()).count() as u32;
        let quorum = s.quorum.unwrap_or(2);
        let majority = count / 2 + 1;
        if quorum == 0 {
            self.problem("sentinel.quorum", "must be at least 1");
        } else if quorum > count {
            self.problem(
                "sentinel.quorum",
                format!(
                    "quorum {quorum} is more than the {count} sentinel(s) deployed: no failover                      could ever be agreed"
                ),
            );
        } else if count < 3 {
            self.problem(
                "sentinel",
                format!(
                    "{count} sentinel(s): a failover needs a majority ({majority} of {count}),                      so losing one sentinel would block it; deploy at least 3 (one per node)"
                ),
            );
        }
        let positive = |v: &mut Self, path: &str, value: u64| {
            if value == 0 {
                v.problem(path, "must be at least 1");
            }
        };
        let down_after_ms = s.down_after_ms.unwrap_or(5000);
        positive(self, "sentinel.down_after_ms", down_after_ms);
        let failover_timeout_ms = s.failover_timeout_ms.unwrap_or(60_000);
        positive(self, "sentinel.failover_timeout_ms", failover_timeout_ms);
        let parallel_syncs = s.parallel_syncs.unwrap_or(1);
        positive(self, "sentinel.parallel_syncs", parallel_syncs.into());
        let min_replicas_to_write = s.min_replicas_to_write.unwrap_or(1);
        let replicas = nodes.len().saturating_sub(1) as u32;
        if min_replicas_to_write > replicas {
            self.problem(
                "sentinel.min_replicas_to_write",
                format!(
                    "{min_replicas_to_write} is more than the {replicas} replica(s): the master \
                     would refuse every write (0 turns the check off)"
                ),
            );
        }
        let min_replicas_max_lag = s.min_replicas_max_lag.unwrap_or(10);
        positive(
            self,
            "sentinel.min_replicas_max_lag",
            min_replicas_max_lag.into(),
        );
        Some(Sentinels {
            engine: s.engine.unwrap_or(Engine::Bundled),
            min_replicas_to_write,
            min_replicas_max_lag,
            master_name,
            quorum,
            down_after_ms,
            failover_timeout_ms,
            parallel_syncs,
        })
    }

    /// Checks a path setting: absolute for SSH nodes, resolved against the inventory's folder
    /// for local ones.
    fn path(&mut self, value: &str, local: bool, yaml_path: &str, may_be_empty: bool) -> String {
        if value.is_empty() {
            if !may_be_empty {
                self.problem(yaml_path, "must not be empty");
            }
            return String::new();
        }
        if value.contains('\n') || value.contains('\0') {
            self.problem(yaml_path, "contains a newline or NUL character");
            return value.to_owned();
        }
        if Path::new(value).is_absolute() {
            value.to_owned()
        } else if local {
            self.base_dir.join(value).to_string_lossy().into_owned()
        } else {
            self.problem(
                yaml_path,
                format!("'{value}' is relative: a remote path must be absolute"),
            );
            value.to_owned()
        }
    }

    fn home_path(&self, p: &Path) -> std::path::PathBuf {
        match p.strip_prefix("~") {
            Ok(rest) => Path::new(&(self.env)("HOME").unwrap_or_else(|| "/root".into())).join(rest),
            Err(_) if p.is_relative() => self.base_dir.join(p),
            Err(_) => p.to_owned(),
        }
    }

    fn ssh(&mut self, inv: &Inventory, name: &str, n: &NodeSettings) -> SshConfig {
        let own = n.ssh.clone().unwrap_or_default();
        let s: SshSettings = own
            .or(&inv.defaults.ssh.clone().unwrap_or_default())
            .or(&inv.ssh);
        let where_ = |field: &str, set_here: bool| {
            if set_here {
                format!("nodes.{name}.ssh.{field}")
            } else {
                format!("ssh.{field}")
            }
        };
        let port = s.port.unwrap_or(22);
        if !(1..=65535).contains(&port) {
            self.problem(
                where_("port", own.port.is_some()),
                format!("port {port} is out of range 1..65535"),
            );
        }
        let timeout = s.connect_timeout.unwrap_or(10);
        if timeout == 0 {
            self.problem(
                where_("connect_timeout", own.connect_timeout.is_some()),
                "must be at least 1 second",
            );
        }
        let identity_file = s.identity_file.as_deref().map(|p| self.home_path(p));
        SshConfig {
            user: s.user.unwrap_or_else(|| "root".into()),
            port: port as u16,
            agent: s.agent.unwrap_or(identity_file.is_none()),
            identity_file,
            known_hosts: self.home_path(
                s.known_hosts
                    .as_deref()
                    .unwrap_or(Path::new("~/.ssh/known_hosts")),
            ),
            connect_timeout: Duration::from_secs(timeout),
        }
    }

    /// Exactly one master, every replicaof names a node, no cycles.
    fn topology(&mut self, inv: &Inventory) {
        let mut masters = Vec::new();
        for (name, n) in &inv.nodes {
            match (n.role, &n.replicaof) {
                (Some(Role::Master), Some(_)) => {
                    self.problem(
                        format!("nodes.{name}"),
                        "has both role: master and replicaof: keep one",
                    );
                }
                (Some(Role::Master), None) => masters.push(name.as_str()),
                (None, None) => self.problem(
                    format!("nodes.{name}"),
                    "needs role: master or replicaof: <node name>",
                ),
                (None, Some(target)) => {
                    if !inv.nodes.contains_key(target) {
                        self.problem(
                            format!("nodes.{name}.replicaof"),
                            format!("names unknown node '{target}'"),
                        );
                    } else if target == name {
                        self.problem(
                            format!("nodes.{name}.replicaof"),
                            "a node cannot replicate from itself",
                        );
                    }
                }
            }
        }
        match masters.as_slice() {
            [] if !inv.nodes.is_empty() => {
                self.problem("nodes", "no node has role: master (exactly one must)")
            }
            [first, rest @ ..] => {
                for m in rest {
                    self.problem(
                        format!("nodes.{m}.role"),
                        format!(
                            "a second master (nodes.{first} is one): exactly one node may be master"
                        ),
                    );
                }
            }
            _ => {}
        }
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        for start in inv.nodes.keys() {
            let mut chain: Vec<&str> = vec![start];
            let mut cur = start.as_str();
            while let Some(next) = inv.nodes.get(cur).and_then(|n| n.replicaof.as_deref()) {
                if next == cur || !inv.nodes.contains_key(next) {
                    break; // reported above
                }
                if let Some(i) = chain.iter().position(|c| *c == next) {
                    let mut cycle: Vec<&str> = chain[i..].to_vec();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, n)| **n)
                        .map(|(i, _)| i)
                        .unwrap_or(0);
                    cycle.rotate_left(min);
                    if reported.insert(cycle.clone()) {
                        let shown = cycle
                            .iter()
                            .chain(cycle.first())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(" -> ");
                        self.problem(
                            format!("nodes.{}.replicaof", cycle[0]),
                            format!("replication cycle {shown}: one node must lead to the master"),
                        );
                    }
                    break;
                }
                chain.push(next);
                cur = next;
            }
        }
    }

    /// No two servers or sentinels on one host:port.
    fn unique_addresses(&mut self, nodes: &[Node]) {
        let mut seen: HashMap<(String, u16), String> = HashMap::new();
        let listeners = nodes.iter().flat_map(|n| {
            let server = (n, n.port, format!("nodes.{}.port", n.name), "node");
            let sentinel = n.sentinel_port.map(|p| {
                (
                    n,
                    p,
                    format!("nodes.{}.sentinel.port", n.name),
                    "the sentinel of node",
                )
            });
            std::iter::once(server).chain(sentinel)
        });
        for (n, port, path, what) in listeners {
            let host = n.host.to_ascii_lowercase();
            let host = if host == "localhost" {
                "127.0.0.1".to_owned()
            } else {
                host
            };
            if let Some(other) = seen.get(&(host.clone(), port)) {
                self.problem(
                    path,
                    format!("{}:{port} is already used by {other}", n.host),
                );
            } else {
                seen.insert((host, port), format!("{what} '{}'", n.name));
            }
        }
    }
}

mod security;
#[cfg(test)]
mod tests;
