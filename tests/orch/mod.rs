//! Helpers for the orchestrator's end-to-end tests: run the `redrepl` binary (checking that
//! the password never appears in what it prints), write lab and local inventories, read
//! server PIDs, and a guard that stops local servers when a test ends.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The password every test inventory uses; no CLI output may contain it.
pub const PASSWORD: &str = "Lab-Secret-pw-7f3a9c2e41";

/// What one CLI run produced.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with the output unless the exit status is `code`.
    pub fn expect(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code, code,
            "{what}: exit status {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Runs `redrepl ARGS` (NO_COLOR, no terminal) and checks the password is not printed.
pub fn redrepl(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("REDREPL_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run redrepl");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.all().contains(PASSWORD),
        "`redrepl {}` printed the password:\n{}",
        args.join(" "),
        run.all()
    );
    run
}

/// Runs `redrepl ARGS` with a path argument first after the subcommand.
pub fn cli(sub: &str, inv: &Path, rest: &[&str]) -> Run {
    let inv = inv.to_str().unwrap();
    let mut args = vec![sub, inv];
    args.extend_from_slice(rest);
    redrepl(&args)
}

/// The PID in a pidfile, if the file exists.
pub fn pid_in(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// SIGKILL to a process a test started (its pid from our own pidfile or INFO).
pub fn kill9(pid: i32) {
    // SAFETY: kill(2) only sends a signal.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Whether a process is alive.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits until `f` holds or panics after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A lab inventory: three nodes on the lab's VMs, each on port 6379 (own namespace each),
/// data under `<lab dir>/data/<node>` (the VMs share this machine's filesystem).
/// `topology` is the `nodes:` extra per node, e.g. `[("node1", "role: master"), ...]`.
pub fn lab_inventory(
    dir: &Path,
    addrs: &[&str],
    key: &Path,
    known_hosts: &Path,
    engine: &str,
    topology: &[&str],
) -> PathBuf {
    let mut y = format!(
        "# lab inventory (test)\ncluster: lab\nengine: {engine}\nauth:\n  password: {PASSWORD}\n\
         ssh:\n  user: root\n  identity_file: {}\n  known_hosts: {}\n  connect_timeout: 3\n\
         defaults:\n  port: 6379\n  bind: 0.0.0.0\n  protected_mode: false\n  dir: \"{}/data/{{node}}\"\n\
         nodes:\n",
        key.display(),
        known_hosts.display(),
        dir.display()
    );
    for (i, (addr, topo)) in addrs.iter().zip(topology).enumerate() {
        y.push_str(&format!(
            "  node{}:\n    host: {addr}\n    {topo}   # topology\n",
            i + 1
        ));
    }
    let path = dir.join("inventory.yaml");
    std::fs::write(&path, y).unwrap();
    path
}

/// The pidfile of a node in a lab inventory (the template's `<dir>/redis_<port>.pid`).
pub fn lab_pidfile(dir: &Path, node: &str) -> PathBuf {
    dir.join("data").join(node).join("redis_6379.pid")
}

/// A copy of `inventories/local.yaml` in a temporary folder with free ports, so tests run in
/// parallel; stops its servers on drop (`redrepl stop`, then SIGKILL by pidfile).
pub struct LocalCluster {
    /// The temporary folder (holds inventory.yaml and local-data/).
    pub dir: tempfile::TempDir,
    /// The inventory file.
    pub inventory: PathBuf,
    /// The three ports.
    pub ports: [u16; 3],
}

impl LocalCluster {
    /// Copies local.yaml with `engine:` set and the password replaced by [`PASSWORD`].
    pub fn new(engine: &str) -> LocalCluster {
        let dir = tempfile::Builder::new()
            .prefix("redrepl-local-")
            .tempdir()
            .unwrap();
        let src = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("inventories/local.yaml"),
        )
        .unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let text = src
            .replace("port: 7379", &format!("port: {}", ports[0]))
            .replace("port: 7380", &format!("port: {}", ports[1]))
            .replace("port: 7381", &format!("port: {}", ports[2]))
            .replace("local-dev-password-change-me", PASSWORD)
            .replace(
                "cluster: local\n",
                &format!("cluster: local\nengine: {engine}\n"),
            );
        assert!(text.contains(&format!("engine: {engine}")));
        let inventory = dir.path().join("inventory.yaml");
        std::fs::write(&inventory, text).unwrap();
        LocalCluster {
            dir,
            inventory,
            ports,
        }
    }

    /// The pidfile of node `i` (0-based).
    pub fn pidfile(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!(
            "local-data/node{}/redis_{}.pid",
            i + 1,
            self.ports[i]
        ))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        tear_down(&self.inventory, (0..3).map(|i| self.pidfile(i)));
    }
}

/// Ends a local test cluster even when its test failed: `redrepl stop` on the inventory,
/// then SIGKILL of every server still named in its pidfiles.
pub fn tear_down(inventory: &Path, pidfiles: impl Iterator<Item = PathBuf>) {
    let _ = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .arg("stop")
        .arg(inventory)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    for f in pidfiles {
        if let Some(pid) = pid_in(&f) {
            kill9(pid);
        }
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis` crate connection with the test password.
pub fn connect(host: &str, port: u16) -> redis::Connection {
    let url = format!("redis://:{PASSWORD}@{host}:{port}/");
    let client = redis::Client::open(url).unwrap();
    client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap()
}

/// `INFO replication` field of a server.
pub fn info_field(con: &mut redis::Connection, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg("replication").query(con).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// The cells of each row of the sentinel table in `redrepl status` output (the rows after the
/// `SENTINEL ADDRESS UP MASTER EPOCH DOWN SENTINELS REPLICAS QUORUM` header).
pub fn sentinel_rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("SENTINEL"))
        .skip(1)
        .filter(|l| l.starts_with("node"))
        .map(|l| l.split_whitespace().collect())
        .collect()
}
