//! Issue 14, the orchestrator side: `init` → `deploy` → `verify` with TLS and ACL users on
//! `transport: local` (free ports, a temporary folder per test), a plain-TCP connect refused,
//! a replica whose user lacks +psync and what status says, certificates renewed and rolled
//! out while a writer runs (same PIDs), a plain cluster upgraded in place to TLS with its data,
//! and no secret (any user's password, any private key's PEM body) in any output or log.

mod lab;
mod orch;

use orch::{Run, free_port, pid_in};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Engines whose TLS the tests exercise: both.
const TLS_ENGINES: &[&str] = &["redis", "bundled"];

/// Engines whose ACL users (without TLS) the tests exercise: both, today.
const ACL_ENGINES: &[&str] = &["redis", "bundled"];

/// A local cluster in a temporary folder, stopped on drop (`redrepl stop`, then SIGKILL by
/// pidfile).
struct Local {
    dir: tempfile::TempDir,
    inventory: PathBuf,
    ports: Vec<u16>,
    /// The sentinels' ports (empty: two nodes, no sentinels).
    sentinel_ports: Vec<u16>,
}

impl Local {
    /// `redrepl init` (secure, or `--plain`) of two nodes on 127.0.0.1 (no sentinels: they
    /// need three), then the inventory made local: `transport: local`, free ports, data in
    /// the temporary folder, `engine`.
    fn init(engine: &str, plain: bool) -> Local {
        Local::init_nodes(engine, plain, 2)
    }

    /// The same with three nodes and sentinels (one per node, on free ports, of `engine`,
    /// with a 1 s down-after and a 10 s failover timeout). On one host, init itself refuses
    /// three sentinels on one port (it validates the secure inventory): so init makes two
    /// nodes, and node3, the sentinel block and the sentinel user are added as a secure
    /// three-host init writes them (`init_of_three_hosts_enables_sentinels_with_a_sentinel_user`
    /// checks that text), then `certs renew` issues node3's certificate.
    fn init_sentinels(engine: &str) -> Local {
        let mut lab = Local::init_nodes(engine, false, 2);
        lab.ports.push(free_port());
        lab.sentinel_ports = (0..3).map(|_| free_port()).collect();
        let text = std::fs::read_to_string(&lab.inventory).unwrap();
        let mut text = text.replace(
            "sentinel:                 # automatic failover needs 3 nodes or more\n  \
                 enabled: false\n",
            &format!(
                "  sentinel:\n    role: sentinel\n    \
                     password: \"sentinel-pw-0123456789abcdef\"\n\
                     sentinel:\n  engine: {engine}\n  quorum: 2\n  down_after_ms: 1000\n  \
                     failover_timeout_ms: 10000\n  min_replicas_to_write: 1\n  \
                     min_replicas_max_lag: 10\n"
            ),
        );
        text.push_str(&format!(
            "  node3:\n    replicaof: node1\n    host: \"127.0.0.1\"\n    port: {}\n",
            lab.ports[2]
        ));
        for (i, sp) in lab.sentinel_ports.iter().enumerate() {
            let at = text.find(&format!("  node{}:\n", i + 1)).unwrap();
            let end = at
                + text[at..]
                    .find(&format!("    port: {}\n", lab.ports[i]))
                    .unwrap();
            let line_end = end + text[end..].find('\n').unwrap() + 1;
            text.insert_str(line_end, &format!("    sentinel: {{port: {sp}}}\n"));
        }
        std::fs::write(&lab.inventory, &text).unwrap();
        let run = orch::redrepl(&["certs", "renew", lab.inv()]).expect(0, "certs for node3");
        lab.check_secrets(&run);
        assert!(lab.tls().join("nodes/node3.key").exists());
        lab
    }

    /// The same with `n` nodes.
    fn init_nodes(engine: &str, plain: bool, n: usize) -> Local {
        let dir = tempfile::Builder::new()
            .prefix("redrepl-sec-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_str().unwrap();
        let hosts = vec!["127.0.0.1"; n].join(",");
        let mut args = vec!["init", d, "--hosts", &hosts];
        if plain {
            args.push("--plain");
        }
        let run = orch::redrepl(&args).expect(0, "init");
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let sentinel_ports: Vec<u16> = Vec::new();
        let inventory = dir.path().join("inventory.yaml");
        let text = std::fs::read_to_string(&inventory).unwrap();
        let mut text = text
            .replace("engine: bundled\n", &format!("engine: {engine}\n"))
            .replace("  engine: bundled   ", &format!("  engine: {engine}   "))
            .replace("down_after_ms: 5000", "down_after_ms: 1000")
            .replace("failover_timeout_ms: 60000", "failover_timeout_ms: 10000")
            .replace(
                "defaults:\n  dir: /myredis\n",
                &format!(
                    "defaults:\n  transport: local\n  bind: 127.0.0.1\n  dir: \"{d}/data/{{node}}\"\n"
                ),
            )
            .replace("protected_mode: false", "protected_mode: true");
        for (i, p) in ports.iter().enumerate() {
            let sentinel = match sentinel_ports.get(i) {
                Some(sp) => format!("    sentinel: {{port: {sp}}}\n"),
                None => String::new(),
            };
            text = text.replace(
                &format!("port: {}\n", 6379 + i),
                &format!("port: {p}\n{sentinel}"),
            );
        }
        std::fs::write(&inventory, &text).unwrap();
        let lab = Local {
            dir,
            inventory,
            ports,
            sentinel_ports,
        };
        lab.check_secrets(&run);
        lab
    }

    fn pidfile(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("data/node{}/redis_{}.pid", i + 1, self.ports[i]))
    }

    fn sentinel_pidfile(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!(
            "data/node{}/sentinel_{}.pid",
            i + 1,
            self.sentinel_ports[i]
        ))
    }

    fn pids(&self) -> Vec<i32> {
        (0..self.ports.len())
            .map(|i| pid_in(&self.pidfile(i)).unwrap())
            .collect()
    }

    fn inv(&self) -> &str {
        self.inventory.to_str().unwrap()
    }

    fn tls(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    /// `redrepl SUB INVENTORY REST...`, its output checked for every secret.
    fn cli(&self, sub: &str, rest: &[&str]) -> Run {
        let mut args = vec![sub, self.inv()];
        args.extend_from_slice(rest);
        let run = orch::redrepl(&args);
        self.check_secrets(&run);
        run
    }

    /// A `password:` value of the inventory, by the user (or `auth`) it belongs to.
    fn password(&self, owner: &str) -> String {
        let text = std::fs::read_to_string(&self.inventory).unwrap();
        let start = text
            .find(&format!("\n  {owner}:"))
            .or_else(|| text.find(&format!("\n{owner}:")))
            .unwrap_or_else(|| panic!("no {owner} in\n{text}"));
        text[start..]
            .lines()
            .find_map(|l| l.trim().strip_prefix("password:"))
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_string()
    }

    /// Every secret: each `password:` of the inventory, each private key's PEM body lines.
    fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_to_string(&self.inventory)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("password:"))
            .map(|p| p.trim().trim_matches('"').to_string())
            .collect();
        let mut keys = vec![
            self.tls().join("ca.key"),
            self.tls().join("redrepl-client.key"),
        ];
        for n in 1..=self.ports.len() {
            keys.push(self.tls().join(format!("nodes/node{n}.key")));
        }
        for k in keys {
            if let Ok(pem) = std::fs::read_to_string(k) {
                out.extend(
                    pem.lines()
                        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                        .map(str::to_string),
                );
            }
        }
        out
    }

    fn check_secrets(&self, run: &Run) {
        let all = run.all();
        for s in self.secrets() {
            assert!(!all.contains(&s), "a secret was printed:\n{all}");
        }
    }

    /// No secret in any server or sentinel log.
    fn check_logs(&self) {
        let secrets = self.secrets();
        for n in 1..=self.ports.len() {
            let dir = self.dir.path().join(format!("data/node{n}"));
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "log") {
                    let log = std::fs::read_to_string(e.path()).unwrap_or_default();
                    for s in &secrets {
                        assert!(!log.contains(s), "{} holds a secret", e.path().display());
                    }
                }
            }
        }
    }

    /// A TLS client of the cluster (the orchestrator's client certificate).
    fn tls_client(&self, port: u16) -> TlsClient {
        TlsClient::connect(&self.tls(), port)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let servers = (0..self.ports.len()).map(|i| self.pidfile(i));
        let sentinels = (0..self.sentinel_ports.len()).map(|i| self.sentinel_pidfile(i));
        orch::tear_down(&self.inventory, servers.chain(sentinels));
    }
}

/// A blocking RESP client over rustls with the cluster's client certificate.
struct TlsClient {
    s: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
}

impl TlsClient {
    fn connect(tls: &Path, port: u16) -> TlsClient {
        Self::connect_with(Self::config(tls), port)
    }

    /// The client configuration from the files in `tls` (read once: `certs renew` rewrites
    /// them while a writer runs).
    fn config(tls: &Path) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(tls.join("ca.crt")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let chain: Vec<_> = CertificateDer::pem_file_iter(tls.join("redrepl-client.crt"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let key = PrivateKeyDer::from_pem_file(tls.join("redrepl-client.key")).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
        Arc::new(config)
    }

    fn connect_with(config: Arc<rustls::ClientConfig>, port: u16) -> TlsClient {
        let conn = rustls::ClientConnection::new(config, "127.0.0.1".try_into().unwrap()).unwrap();
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        TlsClient {
            s: rustls::StreamOwned::new(conn, tcp),
        }
    }

    /// Sends one command; returns the reply's first line (bulk strings: their contents).
    fn cmd(&mut self, args: &[&str]) -> String {
        self.try_cmd(args).expect("a reply")
    }

    /// The same; None when the connection failed (closed by the server, ...).
    fn try_cmd(&mut self, args: &[&str]) -> Option<String> {
        self.send(args).ok()?;
        self.reply().ok()
    }

    /// Sends one command; returns a flat array reply's elements (each as [`TlsClient::cmd`]
    /// gives it), or the reply itself as the only element when it is no array.
    fn cmd_array(&mut self, args: &[&str]) -> Vec<String> {
        self.send(args).unwrap();
        let first = self.reply().unwrap();
        match first.strip_prefix('*').and_then(|n| n.parse::<i64>().ok()) {
            Some(n) => (0..n.max(0)).map(|_| self.reply().unwrap()).collect(),
            None => vec![first],
        }
    }

    fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.s.write_all(req.as_bytes())?;
        self.s.flush()
    }

    fn reply(&mut self) -> std::io::Result<String> {
        let line = self.line()?;
        if let Some(n) = line.strip_prefix('$') {
            let n: i64 = n.parse().unwrap();
            if n < 0 {
                return Ok("(nil)".into());
            }
            let mut b = vec![0u8; n as usize + 2];
            self.s.read_exact(&mut b)?;
            return Ok(String::from_utf8_lossy(&b[..n as usize]).into_owned());
        }
        Ok(line)
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        while !out.ends_with(b"\r\n") {
            self.s.read_exact(&mut b)?;
            out.push(b[0]);
        }
        out.truncate(out.len() - 2);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// What a plain-TCP client gets for `PING`: the first line, or None when the connection
/// was closed or reset without a RESP reply.
fn plain_ping(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) if n > 0 && matches!(buf[0], b'+' | b'-') => {
            Some(String::from_utf8_lossy(&buf[..n]).into_owned())
        }
        _ => None,
    }
}

fn status_rows(lab: &Local) -> serde_json::Value {
    let run = lab.cli("status", &["--json"]);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

#[test]
fn init_deploy_verify_with_tls_and_users_and_plain_tcp_refused() {
    for engine in TLS_ENGINES {
        let lab = Local::init(engine, false);
        // The CA key stays here, 0600; the inventory names no file of it.
        use std::os::unix::fs::PermissionsExt;
        for f in ["ca.key", "redrepl-client.key", "nodes/node2.key"] {
            let mode = std::fs::metadata(lab.tls().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let run = lab.cli("deploy", &[]).expect(0, "deploy");
        assert!(run.stdout.contains("verify: OK"), "{}", run.all());
        lab.cli("verify", &[]).expect(0, "verify");
        // The node got its certificate and key 0600, never the CA key.
        let remote = lab.dir.path().join("data/node2/redrepl-tls");
        let mode = std::fs::metadata(remote.join("node2.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!remote.join("ca.key").exists());
        let ca_key = std::fs::read_to_string(lab.tls().join("ca.key")).unwrap();
        for e in std::fs::read_dir(&remote).unwrap().flatten() {
            assert_ne!(std::fs::read_to_string(e.path()).unwrap(), ca_key);
        }

        // status: TLS on, the certificate's days left, the users.
        let rows = status_rows(&lab);
        for r in rows.as_array().unwrap() {
            assert_eq!(r["security"]["tls"], true, "{r}");
            let days = r["security"]["cert_days"].as_i64().unwrap();
            assert!((363..=365).contains(&days), "{r}");
            let users: Vec<&str> = r["security"]["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect();
            assert_eq!(users, ["admin", "app", "default", "replication"], "{r}");
        }

        // Plain TCP: no RESP reply at all on any node.
        for &p in &lab.ports {
            assert_eq!(plain_ping(p), None, "port {p} answered plain TCP");
        }

        // Over TLS: the app user may touch app:* only; the default user is off.
        let mut c = lab.tls_client(lab.ports[0]);
        assert!(c.cmd(&["PING"]).starts_with("-NOAUTH"));
        assert!(c.cmd(&["AUTH", "default", "x"]).starts_with("-WRONGPASS"));
        let app = lab.password("app");
        assert_eq!(c.cmd(&["AUTH", "app", &app]), "+OK");
        assert_eq!(c.cmd(&["SET", "app:k", "v"]), "+OK");
        assert!(c.cmd(&["SET", "other", "v"]).starts_with("-NOPERM"));
        assert!(c.cmd(&["CONFIG", "GET", "port"]).starts_with("-NOPERM"));
        // The replicas got it over TLS replication.
        let mut r = lab.tls_client(lab.ports[1]);
        assert_eq!(r.cmd(&["AUTH", "app", &app]), "+OK");
        orch::wait_for("app:k on node2", Duration::from_secs(30), || {
            r.cmd(&["GET", "app:k"]) == "v"
        });
        // The replication user can do nothing else.
        let repl = lab.password("replication");
        let mut x = lab.tls_client(lab.ports[0]);
        assert_eq!(x.cmd(&["AUTH", "replication", &repl]), "+OK");
        assert!(x.cmd(&["GET", "app:k"]).starts_with("-NOPERM"));
        lab.check_logs();
    }
}

#[test]
fn a_replica_whose_user_lacks_psync_fails_and_status_says_why() {
    for engine in ACL_ENGINES {
        let lab = Local::init(engine, false);
        // Users without TLS: both engines have ACL today.
        let text = std::fs::read_to_string(&lab.inventory).unwrap();
        std::fs::write(&lab.inventory, text.replace("tls: true\n", "tls: false\n")).unwrap();
        lab.cli("deploy", &[]).expect(0, "deploy");
        let admin = lab.password("admin");
        let url = format!("redis://admin:{admin}@127.0.0.1:{}/", lab.ports[0]);
        let mut m = redis::Client::open(url)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("replication")
            .arg("-psync")
            .arg("-sync")
            .query(&mut m)
            .unwrap();
        let _: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("replica")
            .query(&mut m)
            .unwrap();
        let mut why = String::new();
        orch::wait_for("status to say why", Duration::from_secs(30), || {
            let rows = status_rows(&lab);
            why = rows[1]["link_why"].as_str().unwrap_or_default().to_string();
            rows[1]["link"] != "up" && !why.is_empty()
        });
        assert!(why.contains("to user 'replication'"), "{engine}: {why}");
        assert!(why.contains("sync"), "{engine}: {why}");
        let run = lab.cli("status", &[]);
        assert!(
            run.stdout
                .contains("replication link down: the master refused"),
            "{}",
            run.all()
        );
        lab.cli("verify", &["--timeout", "2"]).expect(3, "verify");
        lab.check_logs();
    }
}

#[test]
fn certs_renew_and_deploy_while_a_writer_runs_keep_every_server() {
    for engine in TLS_ENGINES {
        let lab = Local::init(engine, false);
        lab.cli("deploy", &[]).expect(0, "deploy");
        let pids = lab.pids();
        let admin = lab.password("admin");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let config = TlsClient::config(&lab.tls());
            let (port, admin, stop) = (lab.ports[0], admin.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                let mut done = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // A new TLS session every 20 writes: handshakes during the rollout too.
                    let mut c = TlsClient::connect_with(config.clone(), port);
                    assert_eq!(c.cmd(&["AUTH", "admin", &admin]), "+OK");
                    for _ in 0..20 {
                        let r = c.cmd(&["SET", &format!("w:{done}"), "x"]);
                        if r != "+OK" {
                            errors.push(r);
                        }
                        done += 1;
                    }
                }
                (done, errors)
            })
        };
        // Days under 7: deploy rolls them out, and its verify (then verify) says exit 3.
        let run = orch::redrepl(&["certs", "renew", lab.inv(), "--days", "3"]).expect(0, "renew");
        lab.check_secrets(&run);
        let run = lab
            .cli("deploy", &[])
            .expect(3, "deploy of 3-day certificates");
        assert!(
            run.all()
                .contains("certificate reloaded (CONFIG SET, no restart)"),
            "{}",
            run.all()
        );
        // 3 days from issue: 2 whole days left, or 3 within the same second.
        assert!(
            run.all().contains("expires in 2 day(s)") || run.all().contains("expires in 3 day(s)"),
            "{}",
            run.all()
        );
        let run = lab.cli("verify", &[]).expect(3, "verify");
        assert!(run.all().contains("certs renew"), "{}", run.all());
        assert_eq!(lab.pids(), pids, "a server was restarted");
        let rows = status_rows(&lab);
        let days = rows[0]["security"]["cert_days"].as_i64().unwrap();
        assert!((2..=3).contains(&days), "{rows}");

        let run = orch::redrepl(&["certs", "renew", lab.inv(), "--days", "30"]).expect(0, "renew");
        lab.check_secrets(&run);
        lab.cli("deploy", &[])
            .expect(0, "deploy of 30-day certificates");
        lab.cli("verify", &[]).expect(0, "verify");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (done, errors) = writer.join().unwrap();
        assert!(errors.is_empty(), "the writer saw {errors:?}");
        assert!(done >= 20);
        assert_eq!(lab.pids(), pids, "a server was restarted");
        let rows = status_rows(&lab);
        for r in rows.as_array().unwrap() {
            let days = r["security"]["cert_days"].as_i64().unwrap();
            assert!((29..=30).contains(&days), "{r}");
        }
        lab.check_logs();
    }
}

#[test]
fn a_plain_cluster_is_upgraded_to_tls_and_users_in_place_with_its_data() {
    for engine in TLS_ENGINES {
        let lab = Local::init(engine, true);
        lab.cli("deploy", &[]).expect(0, "plain deploy");
        let pw = lab.password("auth");
        let url = format!("redis://:{pw}@127.0.0.1:{}/", lab.ports[0]);
        let mut m = redis::Client::open(url)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        for i in 0..500 {
            let _: () = redis::cmd("SET")
                .arg(format!("k{i}"))
                .arg(i)
                .query(&mut m)
                .unwrap();
        }
        drop(m);
        // The operator adds tls: and users: and keeps auth: (the default user).
        let text = std::fs::read_to_string(&lab.inventory).unwrap();
        let text = text.replace(
            "auth:\n",
            &format!(
                "tls: true\nusers:\n  admin: {{role: admin, password: admin-{pw}}}\n  \
                 replication: {{role: replication, password: repl-{pw}}}\nauth:\n"
            ),
        );
        std::fs::write(&lab.inventory, text).unwrap();
        let run = lab.cli("deploy", &["--dry-run"]).expect(0, "dry run");
        assert!(
            run.stdout.contains("upload the TLS certificate"),
            "{}",
            run.all()
        );
        let run = lab.cli("deploy", &[]).expect(0, "upgrade deploy");
        assert!(
            run.all().contains("restarted (config changed)"),
            "{}",
            run.all()
        );
        assert!(run.stdout.contains("verify: OK"), "{}", run.all());
        for &p in &lab.ports {
            assert_eq!(plain_ping(p), None, "port {p} answered plain TCP");
        }
        for &p in &lab.ports {
            let mut c = lab.tls_client(p);
            assert_eq!(c.cmd(&["AUTH", "admin", &format!("admin-{pw}")]), "+OK");
            assert_eq!(c.cmd(&["DBSIZE"]), ":500", "port {p}");
            assert_eq!(c.cmd(&["GET", "k499"]), "499");
        }
        lab.check_logs();
    }
}

#[test]
fn bad_users_are_refused_with_their_yaml_paths_before_any_host_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        "cluster: c\ntls: true\nusers:\n  app: {role: app, password: pw-123456789, rules: \"~app:* +nosuchcmd\"}\n  \
         a2: {role: admin, password: pw-123456789}\n  a3: {role: admin, password_env: NO_SUCH_VAR_X}\n  \
         r: {role: replication, password: pw-123456789, rules: \"+@all\"}\n  \
         p: {role: app, password: pw-123456789, rules: \"~* >inline-secret\"}\n\
         nodes:\n  n1: {host: 10.9.9.9, role: master}\n  n2: {host: 10.9.9.8, replicaof: n1}\n",
    )
    .unwrap();
    let run = orch::redrepl(&["render", inv.to_str().unwrap()]).expect(2, "render");
    let all = run.all();
    for want in [
        "users.app.rules: rule '+nosuchcmd': unknown command or category",
        "users: a2, a3 users have role admin",
        "users.a3.password_env: environment variable NO_SUCH_VAR_X is not set",
        "users.r.rules: the replication role has fixed rules",
        "users.p.rules: password rules are not allowed here",
    ] {
        assert!(all.contains(want), "missing {want:?} in\n{all}");
    }
    assert!(!all.contains("inline-secret"), "{all}");
    assert!(!dir.path().join("tls").exists(), "render made certificates");
}

/// Over real SSH (the lab's namespaces): deploy with TLS and users, verify, status, and the
/// data port refuses plain TCP from outside the node.
#[test]
fn lab_ssh_deploy_with_tls_and_users_verifies_and_refuses_plain_tcp() {
    for engine in TLS_ENGINES {
        let lab = lab::Lab::new(3);
        let addrs: Vec<&str> = (0..3).map(|i| lab.addr(i)).collect();
        let inv = orch::lab_inventory(
            &lab.dir,
            &addrs,
            &lab.key,
            &lab.known_hosts,
            engine,
            &["role: master", "replicaof: node1", "replicaof: node2"],
        );
        let text = std::fs::read_to_string(&inv).unwrap();
        let pw = orch::PASSWORD;
        std::fs::write(
            &inv,
            text.replace(
                "ssh:\n",
                &format!(
                    "tls: true\nusers:\n  admin: {{role: admin, password: admin-{pw}}}\n  \
                     replication: {{role: replication, password: repl-{pw}}}\nssh:\n"
                ),
            ),
        )
        .unwrap();
        let run = orch::cli("deploy", &inv, &[]).expect(0, "deploy");
        assert!(run.stdout.contains("verify: OK"), "{}", run.all());
        let run = orch::cli("status", &inv, &["--json"]).expect(0, "status");
        let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        for r in rows.as_array().unwrap() {
            assert_eq!(r["security"]["tls"], true, "{r}");
            assert!(r["security"]["cert_days"].as_i64().unwrap() >= 363, "{r}");
        }
        assert_eq!(rows[2]["link"], "up");
        for a in &addrs {
            let mut s = std::net::TcpStream::connect((*a, 6379)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"PING\r\n").unwrap();
            let mut buf = [0u8; 16];
            let n = s.read(&mut buf).unwrap_or(0);
            assert!(
                n == 0 || !matches!(buf[0], b'+' | b'-'),
                "{a}:6379 answered plain TCP: {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
        for s in [format!("admin-{pw}"), format!("repl-{pw}")] {
            assert!(!run.all().contains(&s));
        }
    }
}

/// A user's template copy from before `tls:`/`users:` would deploy plain servers that the
/// orchestrator then reaches over TLS: render (and so deploy) refuses it, naming the line.
#[test]
fn a_template_copy_without_the_security_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    orch::redrepl(&["init", d, "--hosts", "10.0.0.1,10.0.0.2"]).expect(0, "init");
    let tmpl = dir.path().join("templates/redis.conf.j2");
    let text = std::fs::read_to_string(&tmpl).unwrap();
    let cut = text.find("{%- if security %}").unwrap();
    std::fs::write(&tmpl, &text[..cut]).unwrap();
    let inv = dir.path().join("inventory.yaml");
    let run = orch::cli("render", &inv, &[]).expect(1, "render");
    assert!(
        run.all()
            .contains("the template renders no `tls-port` line although the inventory asks"),
        "{}",
        run.all()
    );
    assert!(!dir.path().join("rendered").exists());
    let run = orch::cli("deploy", &inv, &["--dry-run"]).expect(1, "deploy --dry-run");
    assert!(run.all().contains("`security` block"), "{}", run.all());
}

/// Every sentinel's master port and flags (`SENTINEL MASTER`), asked over TLS as the admin.
fn sentinel_masters(lab: &Local, admin: &str) -> Vec<Option<(u16, String)>> {
    lab.sentinel_ports
        .iter()
        .map(|&sp| {
            let mut s = lab.tls_client(sp);
            assert_eq!(s.cmd(&["AUTH", "admin", admin]), "+OK");
            let m = s.cmd_array(&["SENTINEL", "MASTER", "redrepl"]);
            let field = |name: &str| {
                let at = m.iter().position(|f| f == name)?;
                m.get(at + 1).cloned()
            };
            Some((field("port")?.parse().ok()?, field("flags")?))
        })
        .collect()
}

/// Every sentinel's master port.
fn sentinel_master_ports(lab: &Local, admin: &str) -> Vec<Option<u16>> {
    sentinel_masters(lab, admin)
        .into_iter()
        .map(|m| m.map(|(p, _)| p))
        .collect()
}

/// Writes `SET app:w:<i> <i>` as the app user over TLS to the server on `port` until
/// stopped (reconnecting when the server closes the link); returns the acknowledged `i`s.
fn tls_writer(
    lab: &Local,
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<u64>> {
    let config = TlsClient::config(&lab.tls());
    let app = lab.password("app");
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut i = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let mut c = TlsClient::connect_with(config.clone(), port);
            if c.try_cmd(&["AUTH", "app", &app]).as_deref() != Some("+OK") {
                continue;
            }
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                match c.try_cmd(&["SET", &format!("app:w:{i}"), &i.to_string()]) {
                    Some(r) if r == "+OK" => acked.push(i),
                    Some(_) => std::thread::sleep(Duration::from_millis(20)),
                    None => break,
                }
            }
        }
        acked
    })
}

/// Issue 14 with issue 16: a secure `init` of three nodes enables the sentinels; deploy starts
/// them TLS only with their own users, verify and status see them, plain TCP to a sentinel
/// gets no reply, promote goes through them with no acknowledged write lost, and a kill -9 of
/// the master is failed over by them over TLS, which the next deploy follows.
fn secure_init_deploys_sentinels(engine: &str) {
    let lab = Local::init_sentinels(engine);
    let run = lab.cli("deploy", &["--dry-run"]).expect(0, "dry run");
    assert!(
        run.stdout.contains(&format!(
            "start the sentinel on port {}",
            lab.sentinel_ports[0]
        )),
        "{}",
        run.all()
    );
    let run = lab.cli("deploy", &[]).expect(0, "deploy");
    assert!(run.stdout.contains("sentinels: OK"), "{}", run.all());
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    lab.cli("verify", &[]).expect(0, "verify");

    // status: every sentinel up, on node1, knowing the others and the replicas, quorum OK.
    let run = lab.cli("status", &[]).expect(0, "status");
    let rows = orch::sentinel_rows(&run.stdout);
    assert_eq!(rows.len(), 3, "{}", run.stdout);
    for cells in &rows {
        // SENTINEL ADDRESS UP MASTER EPOCH DOWN SENTINELS REPLICAS QUORUM
        assert_eq!(
            &cells[2..],
            ["yes", "node1", "0", "no", "3", "2", "OK"],
            "{}",
            run.stdout
        );
    }

    // The sentinels: TLS only, the default user off, the admin logs in, the app user does not
    // exist there; their files are private and hold no other user's password.
    let admin = lab.password("admin");
    for (i, &sp) in lab.sentinel_ports.iter().enumerate() {
        assert_eq!(plain_ping(sp), None, "sentinel {sp} answered plain TCP");
        let mut s = lab.tls_client(sp);
        assert!(s.cmd(&["PING"]).starts_with("-NOAUTH"), "sentinel {sp}");
        let app = lab.password("app");
        assert!(s.cmd(&["AUTH", "app", &app]).starts_with("-WRONGPASS"));
        assert_eq!(s.cmd(&["AUTH", "admin", &admin]), "+OK");
        assert_eq!(s.cmd(&["PING"]), "+PONG");
        let conf = lab
            .dir
            .path()
            .join(format!("data/node{}/sentinel-{sp}.conf", i + 1));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&conf).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{}: {mode:o}", conf.display());
        let text = std::fs::read_to_string(&conf).unwrap();
        for owner in ["admin", "app", "replication"] {
            assert!(!text.contains(&lab.password(owner)), "{owner}'s password");
        }
        assert!(text.contains("tls-port "), "{text}");
    }
    let ports: Vec<Option<u16>> = vec![Some(lab.ports[0]); 3];
    assert_eq!(sentinel_master_ports(&lab, &admin), ports);

    // promote through the TLS sentinels while an app writer runs: no acknowledged write lost.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = tls_writer(&lab, lab.ports[0], stop.clone());
    let mut m = lab.tls_client(lab.ports[0]);
    assert_eq!(m.cmd(&["AUTH", "admin", &admin]), "+OK");
    orch::wait_for("the writer's first writes", Duration::from_secs(20), || {
        m.cmd(&["EXISTS", "app:w:20"]) == ":1"
    });
    let run = lab.cli("promote", &["node2"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = w.join().unwrap();
    let run = run.expect(0, "promote through the sentinels");
    assert!(
        run.all()
            .contains("the sentinels agree: node2 is the master (config epoch 1)"),
        "{}",
        run.all()
    );
    assert_eq!(
        sentinel_master_ports(&lab, &admin),
        vec![Some(lab.ports[1]); 3]
    );
    let mut n2 = lab.tls_client(lab.ports[1]);
    assert_eq!(n2.cmd(&["AUTH", "admin", &admin]), "+OK");
    assert!(acked.len() >= 20, "{} writes acknowledged", acked.len());
    let missing: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|i| n2.cmd(&["EXISTS", &format!("app:w:{i}")]) != ":1")
        .collect();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    assert_eq!(n2.cmd(&["SET", "before", "kill"]), "+OK");
    assert_eq!(n2.cmd(&["WAIT", "2", "5000"]), ":2");
    drop(n2);

    // kill -9 of the master: the sentinels fail over over TLS; deploy follows them.
    let pid = pid_in(&lab.pidfile(1)).unwrap();
    orch::kill9(pid);
    let mut now = Vec::new();
    orch::wait_for("the sentinels' failover", Duration::from_secs(60), || {
        let masters = sentinel_masters(&lab, &admin);
        now = masters.iter().map(|m| m.as_ref().map(|m| m.0)).collect();
        let done = masters
            .iter()
            .all(|m| m.as_ref().is_some_and(|(_, f)| !f.contains("failover")));
        done && now.iter().all(|p| *p == now[0] && *p != Some(lab.ports[1]))
    });
    let new = lab.ports.iter().position(|p| Some(*p) == now[0]).unwrap();
    let new_name = format!("node{}", new + 1);
    let run = lab
        .cli("verify", &[])
        .expect(3, "verify after the failover");
    assert!(run.stdout.contains(&new_name), "{}", run.all());
    let run = lab
        .cli("deploy", &[])
        .expect(0, "deploy after the failover");
    assert!(
        run.stdout.contains(&format!(
            "{new_name} is the master now (was node2); updated the inventory"
        )),
        "{}",
        run.all()
    );
    lab.cli("verify", &[]).expect(0, "verify after the deploy");
    let mut n = lab.tls_client(lab.ports[new]);
    assert_eq!(n.cmd(&["AUTH", "admin", &admin]), "+OK");
    assert_eq!(n.cmd(&["GET", "before"]), "kill");
    lab.check_logs();
}

#[test]
fn secure_init_deploys_redis_sentinels_with_tls_and_users() {
    secure_init_deploys_sentinels("redis");
}

#[test]
fn secure_init_deploys_bundled_sentinels_with_tls_and_users() {
    secure_init_deploys_sentinels("bundled");
}

/// The sentinel user's password changed in the inventory while the sentinels run (#14/#16):
/// the dry run names the change redacted; deploy gives the servers the new password beside
/// the old, restarts each sentinel with its file's login lines replaced, then restarts the
/// servers with the new password only. Afterwards the sentinels watch the cluster with it, a
/// second deploy finds nothing to change on them, a kill -9 of the master is failed over, an
/// app client writes to the new master, and neither password is in any output or log.
fn a_changed_sentinel_password_reaches_running_sentinels(engine: &str) {
    let lab = Local::init_sentinels(engine);
    lab.cli("deploy", &[]).expect(0, "deploy");
    let old = "sentinel-pw-0123456789abcdef";
    let new = "sentinel-pw-changed-fedcba9876543210";
    let text = std::fs::read_to_string(&lab.inventory).unwrap();
    assert_eq!(text.matches(old).count(), 1, "{text}");
    std::fs::write(&lab.inventory, text.replace(old, new)).unwrap();
    let no_old = |run: &Run| assert!(!run.all().contains(old), "{}", run.all());

    let run = lab.cli("deploy", &["--dry-run"]).expect(0, "dry run");
    no_old(&run);
    for want in [
        "new login for the sentinel on port",
        "auth-pass (redacted)",
        "sentinel-pass (redacted)",
        "user sentinel (redacted)",
    ] {
        assert!(run.stdout.contains(want), "{want}:\n{}", run.all());
    }
    let run = lab
        .cli("deploy", &[])
        .expect(0, "deploy of the new password");
    no_old(&run);
    assert!(run.stdout.contains("sentinels: OK"), "{}", run.all());
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let run = lab.cli("verify", &[]).expect(0, "verify");
    no_old(&run);

    // Every sentinel's file holds the new password only; the servers take only the new one.
    for (i, &sp) in lab.sentinel_ports.iter().enumerate() {
        let conf = lab
            .dir
            .path()
            .join(format!("data/node{}/sentinel-{sp}.conf", i + 1));
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(!text.contains(old), "{}", conf.display());
        assert!(text.contains(new), "{}", conf.display());
    }
    for &p in &lab.ports {
        let mut s = lab.tls_client(p);
        assert!(s.cmd(&["AUTH", "sentinel", old]).starts_with("-WRONGPASS"));
        assert_eq!(s.cmd(&["AUTH", "sentinel", new]), "+OK");
    }
    // A second deploy finds the sentinels as the inventory wants them.
    let run = lab.cli("deploy", &["--dry-run"]).expect(0, "dry run again");
    assert!(!run.stdout.contains("new login"), "{}", run.all());
    assert!(!run.stdout.contains("SENTINEL SET"), "{}", run.all());

    // kill -9 of the master: the sentinels, logged in with the new password, fail over.
    let admin = lab.password("admin");
    orch::kill9(pid_in(&lab.pidfile(0)).unwrap());
    let mut now = Vec::new();
    orch::wait_for("the sentinels' failover", Duration::from_secs(60), || {
        let masters = sentinel_masters(&lab, &admin);
        now = masters.iter().map(|m| m.as_ref().map(|m| m.0)).collect();
        let done = masters
            .iter()
            .all(|m| m.as_ref().is_some_and(|(_, f)| !f.contains("failover")));
        done && now.iter().all(|p| *p == now[0] && *p != Some(lab.ports[0]))
    });
    let mut n = lab.tls_client(now[0].unwrap());
    assert_eq!(n.cmd(&["AUTH", "app", &lab.password("app")]), "+OK");
    orch::wait_for("a write to the new master", Duration::from_secs(20), || {
        n.cmd(&["SET", "app:after", "failover"]) == "+OK"
    });
    let run = lab
        .cli("deploy", &[])
        .expect(0, "deploy after the failover");
    no_old(&run);
    lab.cli("verify", &[]).expect(0, "verify after the deploy");
    lab.check_logs();
    for n in 1..=lab.ports.len() {
        let dir = lab.dir.path().join(format!("data/node{n}"));
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let log = std::fs::read_to_string(e.path()).unwrap_or_default();
                assert!(
                    !log.contains(old),
                    "{} holds the old password",
                    e.path().display()
                );
            }
        }
    }
}

#[test]
fn a_changed_sentinel_password_reaches_running_redis_sentinels() {
    a_changed_sentinel_password_reaches_running_sentinels("redis");
}

#[test]
fn a_changed_sentinel_password_reaches_running_bundled_sentinels() {
    a_changed_sentinel_password_reaches_running_sentinels("bundled");
}

/// A secure `init` of three hosts enables the sentinels (no `enabled: false` any more) with a
/// sentinel user, and its inventory renders TLS-only sentinels logging in as that user.
#[test]
fn init_of_three_hosts_enables_sentinels_with_a_sentinel_user() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    orch::redrepl(&["init", d, "--hosts", "10.0.0.1,10.0.0.2,10.0.0.3"]).expect(0, "init");
    let text = std::fs::read_to_string(dir.path().join("inventory.yaml")).unwrap();
    assert!(text.contains("\nsentinel:  "), "{text}");
    assert!(!text.contains("enabled: false"), "{text}");
    assert!(text.contains("\n  sentinel:  "), "{text}");
    assert!(text.contains("    role: sentinel\n"), "{text}");
    assert!(text.contains("tls: true\n"), "{text}");
    let inv = dir.path().join("inventory.yaml");
    let run = orch::cli("render", &inv, &["--out", &format!("{d}/rendered")]).expect(0, "render");
    let conf = std::fs::read_to_string(dir.path().join("rendered/node2-sentinel.conf"))
        .unwrap_or_else(|e| panic!("{e}: {}", run.all()));
    for want in [
        "port 0\n",
        "tls-port 26379\n",
        "tls-replication yes\n",
        "user default off\n",
        "sentinel sentinel-user \"sentinel\"\n",
        "sentinel auth-user redrepl \"sentinel\"\n",
    ] {
        assert!(conf.contains(want), "{want:?} missing:\n{conf}");
    }
}
