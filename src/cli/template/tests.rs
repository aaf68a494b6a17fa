//! Rendering: the seed's S4 settings on every node, replication settings on replicas only.

use super::*;
use crate::cli::inventory::parse;
use crate::cli::validate::validate;

const SEED: &str = include_str!("../../../inventories/seed-vms.yaml");

fn seed_cluster() -> Cluster {
    let inv = parse(SEED, Path::new("seed-vms.yaml")).unwrap();
    let env = |name: &str| (name == "REDREPL_PASSWORD").then(|| "1234567a".to_owned());
    validate(&inv, Path::new("/x"), &env).unwrap()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect()
}

#[test]
fn every_node_gets_the_seed_settings() {
    let c = seed_cluster();
    let t = Template::builtin();
    for (node, port) in [("node1", 6379), ("node2", 6380), ("node3", 6381)] {
        let out = t.render(&c, c.node(node).unwrap()).unwrap();
        let l = lines(&out);
        for want in [
            "daemonize yes".to_owned(),
            "bind 0.0.0.0".to_owned(),
            "protected-mode no".to_owned(),
            format!("port {port}"),
            "dir \"/myredis\"".to_owned(),
            format!("logfile \"/myredis/{port}.log\""),
            "requirepass \"1234567a\"".to_owned(),
            format!("dbfilename \"dump{port}.rdb\""),
        ] {
            assert!(
                l.contains(&want.as_str()),
                "{node}: missing {want:?} in\n{out}"
            );
        }
    }
}

#[test]
fn only_replicas_get_replicaof_and_masterauth() {
    let c = seed_cluster();
    let t = Template::builtin();
    let master = t.render(&c, c.node("node1").unwrap()).unwrap();
    assert!(
        !master.contains("replicaof") && !master.contains("masterauth"),
        "{master}"
    );
    for r in ["node2", "node3"] {
        let out = t.render(&c, c.node(r).unwrap()).unwrap();
        let l = lines(&out);
        assert!(l.contains(&"replicaof 192.168.10.132 6379"), "{out}");
        assert!(l.contains(&"masterauth \"1234567a\""), "{out}");
    }
}

#[test]
fn a_chain_points_at_the_node_it_follows() {
    let yaml = SEED.replace(
        "replicaof: node1\n    host: 192.168.10.134",
        "replicaof: node2\n    host: 192.168.10.134",
    );
    assert_ne!(yaml, SEED);
    let inv = parse(&yaml, Path::new("x")).unwrap();
    let env = |_: &str| Some("pw".to_owned());
    let c = validate(&inv, Path::new("/x"), &env).unwrap();
    let out = Template::builtin()
        .render(&c, c.node("node3").unwrap())
        .unwrap();
    assert!(
        lines(&out).contains(&"replicaof 192.168.10.133 6380"),
        "{out}"
    );
}

#[test]
fn the_redis_engine_gets_replication_tuning() {
    let yaml = SEED.replace("engine: bundled", "engine: redis");
    assert_ne!(yaml, SEED);
    let inv = parse(&yaml, Path::new("x")).unwrap();
    let env = |_: &str| Some("pw".to_owned());
    let c = validate(&inv, Path::new("/x"), &env).unwrap();
    let out = Template::builtin().render(&c, c.master()).unwrap();
    assert!(lines(&out).contains(&"repl-diskless-sync-delay 0"), "{out}");
}

#[test]
fn passwords_are_quoted_for_redis_conf() {
    assert_eq!(quote("a\"b\\c".into()), "\"a\\\"b\\\\c\"");
}

#[test]
fn template_errors_name_the_line() {
    let c = seed_cluster();
    let t = Template::from_source("port {{ node.port }}\nbind {{ node.nope }}\n", "my.j2");
    let e = t.render(&c, c.master()).unwrap_err().to_string();
    assert!(e.starts_with("my.j2:2:"), "{e}");
    let t = Template::from_source("a\nb\n{% if %}\n", "bad.j2");
    let e = t.render(&c, c.master()).unwrap_err().to_string();
    assert!(e.starts_with("bad.j2:3:"), "{e}");
}

#[test]
fn tls_and_users_render_one_block_without_passwords_in_clear() {
    let text = SEED.replace(
        "nodes:",
        "tls: true\nusers:\n  admin: {role: admin, password: admin-pw-123}\n  \
         repl: {role: replication, password: repl-pw-123}\n  \
         app: {role: app, password: app-pw-123, rules: \"~app:* +get\"}\nnodes:",
    );
    let inv = parse(&text, Path::new("x.yaml")).unwrap();
    let env = |name: &str| (name == "REDREPL_PASSWORD").then(|| "1234567a".to_owned());
    let c = validate(&inv, Path::new("/x"), &env).unwrap();
    let t = Template::builtin();
    let master = t.render(&c, c.node("node1").unwrap()).unwrap();
    let replica = t.render(&c, c.node("node2").unwrap()).unwrap();
    for out in [&master, &replica] {
        let l = lines(out);
        for want in ["port 0", "tls-auth-clients yes", "tls-replication yes"] {
            assert!(l.contains(&want), "missing {want:?} in\n{out}");
        }
        assert!(
            l.iter()
                .any(|x| x.starts_with("user app reset on #") && x.ends_with(" ~app:* +get")),
            "{out}"
        );
        assert!(
            l.iter()
                .any(|x| x.starts_with("user admin reset on #") && x.ends_with(" ~* &* +@all"))
        );
        // auth.password is kept: the default user keeps it (no `user default off`).
        assert!(!out.contains("user default off"), "{out}");
        for secret in ["admin-pw-123", "app-pw-123"] {
            assert!(!out.contains(secret), "{out}");
        }
    }
    assert!(master.contains("tls-port 6379"), "{master}");
    assert!(
        master.contains("tls-cert-file \"/myredis/redrepl-tls/node1.crt\""),
        "{master}"
    );
    assert!(!master.contains("masteruser"), "{master}");
    assert!(
        replica.contains("masteruser \"repl\"\nmasterauth \"repl-pw-123\""),
        "{replica}"
    );
    // The login the orchestrator uses is the admin user's.
    assert_eq!(c.password.as_ref().unwrap().expose(), "admin-pw-123");
    assert_eq!(c.nodes[0].access.user.as_deref(), Some("admin"));
    assert!(c.nodes[0].access.tls.is_some());
}

#[test]
fn an_inventory_without_tls_or_users_renders_as_before() {
    let c = seed_cluster();
    assert!(!c.security.tls && c.security.users.is_empty());
    let out = Template::builtin()
        .render(&c, c.node("node2").unwrap())
        .unwrap();
    for absent in ["tls-", "user ", "masteruser", "port 0"] {
        assert!(!out.contains(absent), "{absent:?} in\n{out}");
    }
}
