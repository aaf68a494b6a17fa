//! A rendered config must load in the real servers: the bundled one (`redrepl server`) and,
//! for `engine: redis`, Debian's redis-server 7.0. Each is started on a free port with the
//! rendered file and must answer PING after AUTH with the inventory's password.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_redrepl");
const PASSWORD: &str = "render-test-pw-0123456789";

/// Kills the server it holds when dropped, so a failing test leaves nothing running.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

fn start_and_ping(program: &str, first_args: &[&str], conf: &Path) {
    let port = free_port();
    let child = Command::new(program)
        .args(first_args)
        .arg(conf)
        .args(["--port", &port.to_string(), "--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match auth_ping(port) {
            Ok(()) => return,
            Err(e) => {
                if let Some(status) = server.0.try_wait().unwrap() {
                    let mut err = String::new();
                    server
                        .0
                        .stderr
                        .take()
                        .unwrap()
                        .read_to_string(&mut err)
                        .unwrap();
                    panic!("{program} exited ({status}) with {}: {err}", conf.display());
                }
                assert!(
                    Instant::now() < deadline,
                    "{program} never answered on {port}: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn rendered_configs_load_in_the_bundled_server() {
    let (_dir, rendered) = render_local("bundled");
    for node in ["node1", "node2"] {
        start_and_ping(BIN, &["server"], &rendered.join(format!("{node}.conf")));
    }
}

#[test]
fn rendered_configs_for_engine_redis_load_in_redis_server() {
    assert!(
        Path::new("/usr/bin/redis-server").exists(),
        "redis-server is missing: apt-get install -y redis-server (the reference peer)"
    );
    let (_dir, rendered) = render_local("redis");
    for node in ["node1", "node2"] {
        start_and_ping("redis-server", &[], &rendered.join(format!("{node}.conf")));
    }
}
