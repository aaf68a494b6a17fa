//! `redrepl init`: scaffolds an inventory and a copy of the built-in templates. By default the
//! cluster is secure (issue 14): `tls: true` with a fresh CA and per-node certificates in
//! `tls/`, and ACL users (admin, replication, app, and sentinel with 3 nodes or more, where the
//! sentinels are on) with random passwords; `--plain` writes the
//! seed-like inventory with one random password instead.

use crate::cli::{certs, files, password, sentinel, template, validate};
use std::path::{Path, PathBuf};

/// Why init failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A file is already there and `--force` was not given.
    #[error("{0} already exists (use --force to overwrite it)")]
    Exists(PathBuf),
    /// `--hosts` was given but named no host.
    #[error("--hosts names no host (example: --hosts 10.0.0.1,10.0.0.2,10.0.0.3)")]
    NoHosts,
    /// The certificates could not be made.
    #[error("cannot make the cluster's certificates")]
    Certs(#[from] certs::CertError),
    /// The inventory just written does not validate (a host name no certificate can hold).
    #[error("the new inventory is not valid: {0}")]
    Invalid(String),
    /// A file, folder or the RNG failed.
    #[error("cannot write {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The seed's three VMs, used when `--hosts` is not given.
pub const SEED_HOSTS: [&str; 3] = ["192.168.10.132", "192.168.10.133", "192.168.10.134"];

/// What goes into a new inventory's secrets.
#[derive(Debug, Clone)]
pub enum Secrets {
    /// `--plain`: the one cluster password (auth.password).
    Plain(String),
    /// The default: TLS, and the users with their passwords (admin, replication, app, sentinel).
    Secure {
        /// The admin user's password.
        admin: String,
        /// The replication user's password.
        replication: String,
        /// The app user's password.
        app: String,
        /// The sentinel user's password (the sentinels' login to the servers and each other).
        sentinel: String,
    },
}

/// The rules of the example app user init writes.
pub const APP_RULES: &str = "~app:* &app:* +@read +@write +@connection -@dangerous";

/// The sentinels' first port: node `i` (0-based) gets `SENTINEL_PORT + i` when a host holds
/// more than one node, so no two sentinels share a host:port.
pub const SENTINEL_PORT: u16 = 26379;

/// Whether some host is named more than once (a test cluster on one machine).
fn host_repeats(hosts: &[String]) -> bool {
    let mut seen = std::collections::HashSet::new();
    !hosts.iter().all(|h| {
        let h = h.to_ascii_lowercase();
        seen.insert(if h == "localhost" {
            "127.0.0.1".into()
        } else {
            h
        })
    })
}

/// The inventory text for `hosts` (the first is the master, port 6379; the others replicate
/// from it on 6380, 6381, ... as in the seed). When a host is named twice or more, each
/// node's sentinel gets its own port too (26379, 26380, ...), as the servers do.
pub fn inventory_text(hosts: &[String], secrets: &Secrets) -> String {
    let own_sentinel_ports = hosts.len() >= 3 && host_repeats(hosts);
    let mut s = String::from(
        "# redrepl inventory: one master, its replicas (the seed's layout, S4).\n\
         # Check it with `redrepl render inventory.yaml`; deploy with `redrepl deploy inventory.yaml`.\n\
         # This file holds passwords: keep it private (it is written 0600), or replace each\n\
         # `password:` with `password_env: SOME_VARIABLE`.\n\
         cluster: redrepl\n\
         engine: bundled\n\
         # persistence: rdb (snapshots) | aof (append-only file, fsync every second) | both.\n\
         # With the AOF a restarted master comes back with every write but the last second.\n\
         persistence: both\n",
    );
    match secrets {
        Secrets::Plain(password) => {
            s.push_str(&format!("auth:\n  password: {}\n", yaml_quote(password)));
        }
        Secrets::Secure {
            admin,
            replication,
            app,
            sentinel,
        } => {
            s.push_str(
                "# TLS on every link, with the CA and certificates in tls/ next to this file (the CA\n\
                 # key never leaves it; `redrepl certs renew inventory.yaml` reissues node certificates).\n\
                 tls: true\n\
                 # One user per role, each with only the rights it needs; the default user is off.\n\
                 users:\n",
            );
            s.push_str(&format!(
                "  admin:          # the orchestrator's own login\n    role: admin\n    password: {}\n",
                yaml_quote(admin)
            ));
            s.push_str(&format!(
                "  replication:    # the replicas' masteruser: +psync +replconf +ping\n    role: replication\n    password: {}\n",
                yaml_quote(replication)
            ));
            s.push_str(&format!(
                "  app:            # an application user: edit its rules\n    role: app\n    rules: {}\n    password: {}\n",
                yaml_quote(APP_RULES),
                yaml_quote(app)
            ));
            if hosts.len() >= 3 {
                s.push_str(&format!(
                    "  sentinel:       # the sentinels' login to the servers and to each other\n    role: sentinel\n    password: {}\n",
                    yaml_quote(sentinel)
                ));
            }
        }
    }
    // Sentinels: one per node; a failover needs a majority, so fewer than 3 cannot survive
    // losing one and are left off.
    if hosts.len() >= 3 {
        s.push_str(
            "sentinel:                 # one sentinel per node: automatic failover\n  \
             engine: bundled          # or redis (the node's redis-sentinel)\n  \
             quorum: 2\n  down_after_ms: 5000\n  failover_timeout_ms: 60000\n  \
             parallel_syncs: 1\n  port: 26379\n  \
             min_replicas_to_write: 1   # a master cut off from its replicas refuses writes\n  \
             min_replicas_max_lag: 10\n",
        );
    } else {
        s.push_str(
            "sentinel:                 # automatic failover needs 3 nodes or more\n  \
             enabled: false\n",
        );
    }
    s.push_str(
        "ssh:\n  user: root\n  known_hosts: ~/.ssh/known_hosts\n\
         defaults:\n  dir: /myredis\n  logfile: \"{dir}/{port}.log\"\n  dbfilename: \"dump{port}.rdb\"\n  protected_mode: false\n\
         nodes:\n",
    );
    for (i, host) in hosts.iter().enumerate() {
        s.push_str(&format!("  node{}:\n", i + 1));
        if i == 0 {
            s.push_str("    role: master\n");
        } else {
            s.push_str("    replicaof: node1\n");
        }
        s.push_str(&format!(
            "    host: {}\n    port: {}\n",
            yaml_quote(host),
            6379 + i
        ));
        if own_sentinel_ports {
            s.push_str(&format!(
                "    sentinel:\n      port: {}\n",
                usize::from(SENTINEL_PORT) + i
            ));
        }
    }
    s
}

/// A YAML double-quoted scalar.
fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes `dir/inventory.yaml`, `dir/templates/redis.conf.j2` and
/// `dir/templates/sentinel.conf.j2` (and, unless `plain`, the CA and certificates in
/// `dir/tls/`); returns the paths written.
pub fn init(
    dir: &Path,
    hosts: Option<&[String]>,
    force: bool,
    plain: bool,
) -> Result<Vec<PathBuf>, InitError> {
    let hosts: Vec<String> = match hosts {
        Some(h) => h
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => SEED_HOSTS.iter().map(|s| s.to_string()).collect(),
    };
    if hosts.is_empty() {
        return Err(InitError::NoHosts);
    }
    let inventory = dir.join("inventory.yaml");
    let tmpl = dir.join(template::USER_COPY);
    let sentinel_tmpl = dir.join(sentinel::USER_COPY);
    if !force {
        for p in [&inventory, &tmpl, &sentinel_tmpl] {
            if p.exists() {
                return Err(InitError::Exists(p.clone()));
            }
        }
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    let random = || password::generate(32).map_err(io(Path::new("/dev/urandom")));
    let secrets = if plain {
        Secrets::Plain(random()?)
    } else {
        Secrets::Secure {
            admin: random()?,
            replication: random()?,
            app: random()?,
            sentinel: random()?,
        }
    };
    let tdir = tmpl.parent().expect("has a parent");
    std::fs::create_dir_all(tdir).map_err(io(tdir))?;
    let text = inventory_text(&hosts, &secrets);
    files::write_private(&inventory, text.as_bytes()).map_err(io(&inventory))?;
    std::fs::write(&tmpl, template::BUILTIN).map_err(io(&tmpl))?;
    std::fs::write(&sentinel_tmpl, sentinel::BUILTIN).map_err(io(&sentinel_tmpl))?;
    let mut written = vec![inventory.clone(), tmpl, sentinel_tmpl];
    if !plain {
        let inv = crate::cli::inventory::parse(&text, &inventory)
            .map_err(|e| InitError::Invalid(e.to_string()))?;
        let base = std::fs::canonicalize(dir).map_err(io(dir))?;
        let cluster = validate::validate(&inv, &base, &validate::process_env)
            .map_err(|e| InitError::Invalid(e.to_string()))?;
        let layout = certs::Layout::new(&base);
        if force && layout.dir.exists() {
            // A new inventory gets a new CA: the old files belong to another cluster.
            std::fs::remove_dir_all(&layout.dir).map_err(io(&layout.dir))?;
        }
        written.extend(certs::ensure(&cluster, &layout)?.files);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secure() -> Secrets {
        Secrets::Secure {
            admin: "a".into(),
            replication: "r".into(),
            app: "p".into(),
            sentinel: "s".into(),
        }
    }

    /// The inventory init writes for `hosts`, validated as deploy would.
    fn cluster(hosts: &[&str]) -> crate::cli::cluster::Cluster {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let text = inventory_text(&hosts, &secure());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.yaml");
        let inv = crate::cli::inventory::parse(&text, &path).unwrap();
        validate::validate(&inv, dir.path(), &validate::process_env)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// One host named three times (a local test cluster): every server and every sentinel
    /// on its own port, and the inventory validates.
    #[test]
    fn one_host_three_times_gives_each_node_its_own_ports() {
        for hosts in [
            ["127.0.0.1", "127.0.0.1", "127.0.0.1"],
            ["localhost", "127.0.0.1", "LOCALHOST"],
        ] {
            let c = cluster(&hosts);
            let ports: Vec<(u16, Option<u16>)> =
                c.nodes.iter().map(|n| (n.port, n.sentinel_port)).collect();
            assert_eq!(
                ports,
                [
                    (6379, Some(26379)),
                    (6380, Some(26380)),
                    (6381, Some(26381))
                ],
                "{hosts:?}"
            );
        }
    }

    /// Distinct hosts keep the one `sentinel.port` (26379 everywhere); a host named twice
    /// gives every node its own sentinel port.
    #[test]
    fn sentinel_ports_differ_per_node_only_when_a_host_repeats() {
        let c = cluster(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"]);
        let sentinels: Vec<Option<u16>> = c.nodes.iter().map(|n| n.sentinel_port).collect();
        assert_eq!(
            sentinels,
            [Some(26379), Some(26380), Some(26381), Some(26382)]
        );
        let c = cluster(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert!(c.nodes.iter().all(|n| n.sentinel_port == Some(26379)));
    }
}
