//! A rendered config must load in the real servers: the bundled one (`redrepl server`) and,
//! for `engine: redis`, Debian's redis-server 7.0. Each is started on a free port with the
//! rendered file and must answer PING after AUTH with the inventory's password.

mod common;

use common::Kind;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_redrepl");
const PASSWORD: &str = "render-test-pw-0123456789";

/// Copies inventories/local.yaml into a scratch folder (with a known password and `engine`),
/// renders it and returns (folder, rendered dir).
fn render_local(engine: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let inv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inventories/local.yaml"
    ))
    .unwrap();
    let inv = inv
        .replace("local-dev-password-change-me", PASSWORD)
        .replace(
            "cluster: local",
            &format!("cluster: local\nengine: {engine}"),
        );
    let path = dir.path().join("inventory.yaml");
    std::fs::write(&path, inv).unwrap();
    let out = Command::new(BIN).arg("render").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for node in ["node1", "node2", "node3"] {
        std::fs::create_dir_all(dir.path().join("local-data").join(node)).unwrap();
    }
    let rendered = dir.path().join("rendered");
    (dir, rendered)
}

/// AUTH then PING over raw RESP; Ok once the server answers +OK and +PONG.
fn auth_ping(port: u16) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let cmd = format!(
        "*2\r\n$4\r\nAUTH\r\n${}\r\n{PASSWORD}\r\n*1\r\n$4\r\nPING\r\n",
        PASSWORD.len()
    );
    s.write_all(cmd.as_bytes()).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"+PONG\r\n") {
        let n = s
            .read(&mut buf)
            .map_err(|e| format!("{e} after {:?}", String::from_utf8_lossy(&got)))?;
        if n == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&got)));
        }
        got.extend_from_slice(&buf[..n]);
    }
    if got == b"+OK\r\n+PONG\r\n" {
        Ok(())
    } else {
        Err(format!("unexpected {:?}", String::from_utf8_lossy(&got)))
    }
}

/// Starts `kind` with the rendered `conf` (the harness picks the port and checks the
/// process answering is ours), then AUTH + PING must answer +OK +PONG.
fn start_and_ping(kind: Kind, conf: &std::path::Path) {
    let server = common::Server::builder(kind)
        .bare()
        .config_file(conf)
        .args(&["--daemonize", "no"])
        .password(PASSWORD)
        .start();
    if let Err(e) = auth_ping(server.port) {
        panic!("{kind:?} with {}: {e}\n{}", conf.display(), server.log());
    }
}

#[test]
fn rendered_configs_load_in_the_bundled_server() {
    let (_dir, rendered) = render_local("bundled");
    for node in ["node1", "node2"] {
        start_and_ping(Kind::Redrepl, &rendered.join(format!("{node}.conf")));
    }
}

#[test]
fn rendered_configs_for_engine_redis_load_in_redis_server() {
    let (_dir, rendered) = render_local("redis");
    for node in ["node1", "node2"] {
        start_and_ping(Kind::Redis, &rendered.join(format!("{node}.conf")));
    }
}
