//! One test per validation rule.

use super::*;
use crate::cli::inventory::parse;

const GOOD: &str = "
cluster: t
auth: {password: pw}
nodes:
  m: {host: 10.0.0.1, role: master}
  r1: {host: 10.0.0.2, replicaof: m}
  r2: {host: 10.0.0.3, replicaof: r1}
";

fn env(name: &str) -> Option<String> {
    match name {
        "SET_VAR" => Some("from-env".into()),
        "HOME" => Some("/home/u".into()),
        _ => None,
    }
}

fn check(yaml: &str) -> Result<Cluster, Problems> {
    let inv = parse(yaml, Path::new("t.yaml")).unwrap();
    validate(&inv, Path::new("/inv"), &env)
}

fn problems(yaml: &str) -> Vec<String> {
    check(yaml)
        .unwrap_err()
        .0
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn has(list: &[String], needle: &str) -> bool {
    list.iter().any(|p| p.contains(needle))
}

#[test]
fn a_good_inventory_resolves_with_defaults() {
    let c = check(GOOD).unwrap();
    assert_eq!(c.master().name, "m");
    let r1 = c.node("r1").unwrap();
    assert_eq!(r1.port, 6379);
    assert_eq!(r1.dir, "/var/lib/redrepl/r1");
    assert_eq!(r1.logfile, "/var/lib/redrepl/r1/6379.log");
    assert_eq!(r1.dbfilename, "dump6379.rdb");
    assert_eq!(r1.config_path, "/var/lib/redrepl/r1/redis-6379.conf");
    assert_eq!(r1.bind, vec!["0.0.0.0"]);
    assert!(r1.daemonize && !r1.protected_mode);
    assert_eq!(c.node("r2").unwrap().replicaof.as_deref(), Some("r1"));
    assert_eq!(r1.ssh.user, "root");
    assert_eq!(r1.ssh.port, 22);
    assert!(r1.ssh.agent);
    assert_eq!(r1.ssh.known_hosts, Path::new("/home/u/.ssh/known_hosts"));
}

#[test]
fn exactly_one_master_none() {
    let p = problems(
        "cluster: t\nauth: {password: p}\nnodes:\n  a: {host: h, replicaof: b}\n  b: {host: h, port: 2, replicaof: a}\n",
    );
    assert!(has(&p, "nodes: no node has role: master"), "{p:?}");
}

#[test]
fn exactly_one_master_two() {
    let p = problems(
        "cluster: t\nauth: {password: p}\nnodes:\n  a: {host: h, role: master}\n  b: {host: h, port: 2, role: master}\n",
    );
    assert!(has(&p, "nodes.b.role: a second master"), "{p:?}");
}

#[test]
fn replicaof_must_name_a_node() {
    let p = problems(&GOOD.replace("replicaof: r1", "replicaof: nodeX"));
    assert_eq!(p, vec!["nodes.r2.replicaof: names unknown node 'nodeX'"]);
}

#[test]
fn a_node_needs_a_role() {
    let p = problems(&GOOD.replace(", replicaof: r1", ""));
    assert!(
        has(&p, "nodes.r2: needs role: master or replicaof"),
        "{p:?}"
    );
    let p = problems(&GOOD.replace("replicaof: r1", "replicaof: r1, role: master"));
    assert!(has(&p, "nodes.r2: has both"), "{p:?}");
}

#[test]
fn cycles_are_refused_once() {
    let p = problems(
        &(GOOD.to_owned()
            + "  c1: {host: h, replicaof: c2}\n  c2: {host: h, port: 2, replicaof: c3}\n  c3: {host: h, port: 3, replicaof: c1}\n"),
    );
    assert_eq!(
        p,
        vec![
            "nodes.c1.replicaof: replication cycle c1 -> c2 -> c3 -> c1: one node must lead to the master"
        ]
    );
    let p = problems(&GOOD.replace("replicaof: r1", "replicaof: r2"));
    assert!(
        has(
            &p,
            "nodes.r2.replicaof: a node cannot replicate from itself"
        ),
        "{p:?}"
    );
}

#[test]
fn host_and_port_are_unique() {
    let p = problems(&GOOD.replace("10.0.0.3", "10.0.0.2"));
    assert_eq!(
        p,
        vec!["nodes.r2.port: 10.0.0.2:6379 is already used by node 'r1'"]
    );
}

#[test]
fn a_password_is_needed_when_protected_mode_is_off() {
    let p = problems(&GOOD.replace("auth: {password: pw}", ""));
    assert!(
        has(
            &p,
            "nodes.m.protected_mode: protected-mode is off and no password"
        ),
        "{p:?}"
    );
    assert_eq!(p.len(), 3);
}

#[test]
fn a_password_is_needed_when_bind_is_open() {
    let yaml = GOOD.replace("auth: {password: pw}", "defaults: {protected_mode: true}");
    let p = problems(&yaml);
    assert!(has(&p, "nodes.m.bind: listens on all interfaces"), "{p:?}");
    let closed = yaml.replace(
        "protected_mode: true",
        "protected_mode: true, bind: 10.0.0.9",
    );
    // Binding one address is fine without a password when protected-mode is on... but the
    // three nodes still share one bind value, which is valid.
    assert!(check(&closed).is_ok());
}

#[test]
fn ports_are_in_range() {
    let p = problems(&GOOD.replace("host: 10.0.0.2,", "host: 10.0.0.2, port: 70000,"));
    assert_eq!(
        p,
        vec!["nodes.r1.port: port 70000 is out of range 1..65535"]
    );
    let p = problems(&(GOOD.to_owned() + "defaults: {port: 0}\n"));
    assert!(has(&p, "defaults.port: port 0 is out of range"), "{p:?}");
    let p = problems(&(GOOD.to_owned() + "ssh: {port: 0}\n"));
    assert!(has(&p, "ssh.port: port 0 is out of range"), "{p:?}");
}

#[test]
fn remote_paths_must_be_absolute() {
    let p = problems(&GOOD.replace("host: 10.0.0.2,", "host: 10.0.0.2, dir: data,"));
    assert_eq!(
        p,
        vec!["nodes.r1.dir: 'data' is relative: a remote path must be absolute"]
    );
    let p = problems(&GOOD.replace("host: 10.0.0.2,", "host: 10.0.0.2, logfile: x.log,"));
    assert!(has(&p, "nodes.r1.logfile: 'x.log' is relative"), "{p:?}");
    let p = problems(&GOOD.replace("host: 10.0.0.2,", "host: 10.0.0.2, dbfilename: a/b.rdb,"));
    assert!(
        has(&p, "nodes.r1.dbfilename: must be a plain file name"),
        "{p:?}"
    );
}

#[test]
fn local_paths_are_resolved_against_the_inventory_folder() {
    let yaml = "cluster: t\nauth: {password: p}\ndefaults: {transport: local, dir: 'data/{node}'}\nnodes:\n  a: {port: 7000, role: master}\n";
    let c = check(yaml).unwrap();
    let a = c.node("a").unwrap();
    assert_eq!(a.host, "127.0.0.1");
    assert_eq!(a.bind, vec!["127.0.0.1"]);
    assert_eq!(a.dir, "/inv/data/a");
    assert_eq!(a.logfile, "/inv/data/a/7000.log");
    assert_eq!(a.config_path, "/inv/data/a/redis-7000.conf");
}

#[test]
fn password_env_must_be_set() {
    let p = problems(&GOOD.replace("password: pw", "password_env: UNSET_VAR"));
    assert_eq!(
        p,
        vec![
            "auth.password_env: environment variable UNSET_VAR is not set: export UNSET_VAR=<password>"
        ]
    );
    let c = check(&GOOD.replace("password: pw", "password_env: SET_VAR")).unwrap();
    assert_eq!(c.password.unwrap().expose(), "from-env");
    let p = problems(&GOOD.replace("password: pw", "password: pw, password_env: SET_VAR"));
    assert!(
        has(&p, "auth: set either password or password_env"),
        "{p:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = GOOD
        .replace("replicaof: r1", "replicaof: nodeX")
        .replace("host: 10.0.0.1,", "host: 10.0.0.1, port: 99999,")
        .replace("password: pw", "password_env: UNSET_VAR");
    let p = problems(&yaml);
    assert_eq!(p.len(), 3, "{p:?}");
}

#[test]
fn ssh_settings_merge_node_over_defaults() {
    let yaml = GOOD.to_owned()
        + "ssh: {user: admin, identity_file: ~/.ssh/id_ed25519, connect_timeout: 3}\n";
    let yaml = yaml.replace(
        "host: 10.0.0.2,",
        "host: 10.0.0.2, ssh: {user: other, port: 2222},",
    );
    let c = check(&yaml).unwrap();
    let m = &c.node("m").unwrap().ssh;
    assert_eq!(m.user, "admin");
    assert_eq!(
        m.identity_file.as_deref(),
        Some(Path::new("/home/u/.ssh/id_ed25519"))
    );
    assert!(!m.agent);
    assert_eq!(m.connect_timeout, Duration::from_secs(3));
    let r1 = &c.node("r1").unwrap().ssh;
    assert_eq!((r1.user.as_str(), r1.port), ("other", 2222));
}

#[test]
fn role_is_not_a_default() {
    let p = problems(&(GOOD.to_owned() + "defaults: {replicaof: m}\n"));
    assert!(
        has(&p, "defaults.replicaof: not allowed in defaults"),
        "{p:?}"
    );
}

#[test]
fn hosts_and_bind_addresses_cannot_inject_config_lines() {
    let p = problems(&GOOD.replace("host: 10.0.0.2,", "host: \"10.0.0.2\\nslaveof x 1\","));
    assert!(has(&p, "nodes.r1.host: "), "{p:?}");
    let p = problems(&(GOOD.to_owned() + "defaults: {bind: [\"a b\"]}\n"));
    assert!(has(&p, "defaults.bind: an address contains"), "{p:?}");
}

#[test]
fn sentinels_resolve_with_defaults_and_per_node_overrides() {
    let c = check(&format!(
        "{GOOD}sentinel: {{engine: redis, down_after_ms: 1500}}\n"
    ))
    .unwrap();
    let s = c.sentinels.as_ref().unwrap();
    assert_eq!(
        (s.engine, s.master_name.as_str(), s.quorum, s.down_after_ms),
        (Engine::Redis, "t", 2, 1500)
    );
    assert_eq!((s.failover_timeout_ms, s.parallel_syncs), (60_000, 1));
    assert!(c.nodes.iter().all(|n| n.sentinel_port == Some(26379)));
    let c = check(
        &(GOOD.replace(
            "r1: {host: 10.0.0.2, replicaof: m}",
            "r1: {host: 10.0.0.2, replicaof: m, sentinel: {port: 26400}}",
        ) + "sentinel: {}\n"),
    )
    .unwrap();
    assert_eq!(c.node("r1").unwrap().sentinel_port, Some(26400));
    assert_eq!(c.sentinels.unwrap().engine, Engine::Bundled);
    assert!(
        check(&format!("{GOOD}sentinel: {{enabled: false}}\n"))
            .unwrap()
            .sentinels
            .is_none()
    );
}

#[test]
fn sentinel_quorum_majority_ports_and_settings_are_checked() {
    let p = problems(&format!("{GOOD}sentinel: {{quorum: 4}}\n"));
    assert!(
        has(
            &p,
            "sentinel.quorum: quorum 4 is more than the 3 sentinel(s)"
        ),
        "{p:?}"
    );
    let p = problems(&format!(
        "{GOOD}sentinel: {{quorum: 0, down_after_ms: 0, parallel_syncs: 0}}\n"
    ));
    assert!(has(&p, "sentinel.quorum: must be at least 1"), "{p:?}");
    assert!(
        has(&p, "sentinel.down_after_ms: must be at least 1"),
        "{p:?}"
    );
    assert!(
        has(&p, "sentinel.parallel_syncs: must be at least 1"),
        "{p:?}"
    );
    let two = GOOD.replace(
        "r2: {host: 10.0.0.3, replicaof: r1}",
        "r2: {host: 10.0.0.3, replicaof: r1, sentinel: {enabled: false}}",
    );
    let p = problems(&format!("{two}sentinel: {{}}\n"));
    assert!(
        has(
            &p,
            "sentinel: 2 sentinel(s): a failover needs a majority (2 of 2)"
        ),
        "{p:?}"
    );
    let clash = GOOD.replace("r1: {host: 10.0.0.2,", "r1: {host: 10.0.0.1, port: 6380,");
    let p = problems(&format!("{clash}sentinel: {{port: 6380}}\n"));
    assert!(
        has(
            &p,
            "nodes.m.sentinel.port: 10.0.0.1:6380 is already used by node 'r1'"
        ) || has(
            &p,
            "nodes.r1.port: 10.0.0.1:6380 is already used by the sentinel of node 'm'"
        ),
        "{p:?}"
    );
    let p = problems(&GOOD.replace("replicaof: r1}", "replicaof: r1, sentinel: {port: 26380}}"));
    assert!(
        has(&p, "nodes.r2.sentinel: set, but sentinels are not enabled"),
        "{p:?}"
    );
    let p = problems(&format!("{GOOD}sentinel: {{min_replicas_to_write: 3}}\n"));
    assert!(
        has(
            &p,
            "sentinel.min_replicas_to_write: 3 is more than the 2 replica(s)"
        ),
        "{p:?}"
    );
    let p = problems(&format!("{GOOD}sentinel: {{master_name: \"a b\"}}\n"));
    assert!(
        has(&p, "sentinel.master_name: \"a b\" cannot name the master"),
        "{p:?}"
    );
}

#[test]
fn sentinels_with_tls_and_users_need_a_sentinel_and_an_admin_user() {
    let users = "tls: true\nusers:\n  adm: {role: admin, password: a-123456789}\n  \
                 rep: {role: replication, password: r-123456789}\n";
    let secure = GOOD.replace("auth: {password: pw}\n", users);
    // Accepted together (they were refused before sentinels spoke TLS and ACL).
    let with_sentinel_user = secure.replace(
        "users:\n",
        "users:\n  sen: {role: sentinel, password: s-123456789}\n",
    );
    let c = check(&format!("{with_sentinel_user}sentinel: {{}}\n")).unwrap();
    assert!(c.sentinels.is_some() && c.security.tls);
    // Without the sentinel user: named, at `users`.
    let p = problems(&format!("{secure}sentinel: {{}}\n"));
    assert!(
        has(
            &p,
            "users: sentinels are enabled but no user has role: sentinel"
        ),
        "{p:?}"
    );
    assert!(!has(&p, "role: admin"), "{p:?}");
    // Without the admin (auth.password for the servers): the sentinels need it too.
    let no_admin = with_sentinel_user
        .replace("  adm: {role: admin, password: a-123456789}\n", "")
        .replace("tls: true\n", "tls: true\nauth: {password: pw-123456789}\n");
    let p = problems(&format!("{no_admin}sentinel: {{}}\n"));
    assert!(
        has(
            &p,
            "users: sentinels are enabled but no user has role: admin"
        ),
        "{p:?}"
    );
    // TLS without users: fine.
    check(&format!("{GOOD}tls: true\nsentinel: {{}}\n")).unwrap();
}
