//! `redrepl init` and `redrepl render` through the binary: file modes, exit codes, YAML paths
//! in errors, and the password never on stdout or stderr.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_redrepl");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("REDREPL_PASSWORD")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The `password:` value init wrote.
fn password_in(inventory: &Path) -> String {
    let inv = std::fs::read_to_string(inventory).unwrap();
    let line = inv
        .lines()
        .find(|l| l.trim_start().starts_with("password:"))
        .unwrap();
    line.split(':')
        .nth(1)
        .unwrap()
        .trim()
        .trim_matches('"')
        .to_owned()
}

#[test]
fn init_then_render_writes_private_files_and_never_prints_the_password() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("cluster");
    let dir_s = dir.to_str().unwrap();
    let init = run(&[
        "init",
        dir_s,
        "--plain",
        "--hosts",
        "10.1.0.1,10.1.0.2,10.1.0.3",
    ]);
    assert!(init.status.success(), "{}", text(&init));
    let inventory = dir.join("inventory.yaml");
    assert_eq!(mode(&inventory), 0o600);
    assert!(dir.join("templates/redis.conf.j2").exists());
    let password = password_in(&inventory);
    assert_eq!(password.len(), 32);
    assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(!text(&init).contains(&password));

    let render = run(&["render", inventory.to_str().unwrap()]);
    assert!(render.status.success(), "{}", text(&render));
    assert!(!text(&render).contains(&password));
    for (node, port) in [("node1", 6379), ("node2", 6380), ("node3", 6381)] {
        let conf = dir.join("rendered").join(format!("{node}.conf"));
        assert!(
            text(&render).contains(conf.to_str().unwrap()),
            "{}",
            text(&render)
        );
        assert_eq!(mode(&conf), 0o600, "{node}");
        let body = std::fs::read_to_string(&conf).unwrap();
        assert!(body.contains(&format!("port {port}\n")));
        assert!(body.contains(&format!("requirepass \"{password}\"")));
        assert_eq!(body.contains("replicaof 10.1.0.1 6379"), node != "node1");
    }

    let out = d.path().join("elsewhere");
    let render = run(&[
        "render",
        inventory.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(render.status.success(), "{}", text(&render));
    assert_eq!(mode(&out.join("node2.conf")), 0o600);
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    assert!(run(&["init", dir, "--plain"]).status.success());
    let first = password_in(&d.path().join("inventory.yaml"));
    let again = run(&["init", dir, "--plain"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again).contains("already exists (use --force"),
        "{}",
        text(&again)
    );
    assert_eq!(password_in(&d.path().join("inventory.yaml")), first);
    let forced = run(&["init", dir, "--force", "--plain"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_ne!(password_in(&d.path().join("inventory.yaml")), first);
}

#[test]
fn a_bad_inventory_lists_every_problem_with_its_path_and_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let inv = d.path().join("bad.yaml");
    std::fs::write(
        &inv,
        "cluster: bad\nauth: {password: sekrit-pw}\nnodes:\n  node1: {host: h1, role: master}\n  \
         node2: {host: h2, replicaof: nodeX}\n  node3: {host: h1, replicaof: node1, dir: relative}\n",
    )
    .unwrap();
    let o = run(&["render", inv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("nodes.node2.replicaof: names unknown node 'nodeX'"),
        "{t}"
    );
    assert!(t.contains("nodes.node3.dir: 'relative' is relative"), "{t}");
    assert!(!t.contains("sekrit-pw"), "{t}");
    assert!(
        !d.path().join("rendered").exists(),
        "nothing may be written on bad input"
    );
}

#[test]
fn yaml_errors_give_line_and_column_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let inv = d.path().join("typo.yaml");
    std::fs::write(&inv, "cluster: t\nnodes:\n  a:\n    hots: x\n").unwrap();
    let o = run(&["render", inv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("typo.yaml:4:5:"), "{}", text(&o));
}

#[test]
fn a_missing_password_env_exits_2_and_the_shipped_inventories_render() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/seed-vms.yaml");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().to_str().unwrap();
    let o = run(&["render", seed, "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("auth.password_env: environment variable REDREPL_PASSWORD is not set"),
        "{}",
        text(&o)
    );
    let o = Command::new(BIN)
        .args(["render", seed, "--out", out])
        .env("REDREPL_PASSWORD", "1234567a")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("1234567a"));
    let conf = std::fs::read_to_string(d.path().join("node3.conf")).unwrap();
    assert!(conf.contains("replicaof 192.168.10.132 6379") && conf.contains("dir \"/myredis\""));
    let local = concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/local.yaml");
    let o = run(&["render", local, "--out", out]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_user_template_overrides_the_builtin_and_its_errors_name_the_line() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    assert!(run(&["init", dir, "--plain"]).status.success());
    let t = d.path().join("templates/redis.conf.j2");
    std::fs::write(
        &t,
        "port {{ node.port }}\n# custom\nbind {{ node.missing }}\n",
    )
    .unwrap();
    let inventory = d.path().join("inventory.yaml");
    let o = run(&["render", inventory.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("redis.conf.j2:3:"), "{}", text(&o));
    std::fs::write(&t, "port {{ node.port }}\n# custom\n").unwrap();
    let o = run(&["render", inventory.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let rendered = std::fs::read_to_string(d.path().join("rendered/node1.conf")).unwrap();
    assert_eq!(rendered, "port 6379\n# custom\n");
}
