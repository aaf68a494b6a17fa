//! TLS (issue #14): `tls-port`, mutual TLS, `tls-replication`, certificate reload, `port 0`,
//! side by side with Debian's redis-server where behaviour is compared. Certificates are
//! made in the test with rcgen (a CA, server and client certificates, one from another CA,
//! one expired); clients are redis-cli --tls, the `redis` crate over rustls and redis-py.

mod common;

use common::{Kind, Server, err_text, free_port, q, redis_cli_path};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A certificate and its key, written as PEM files.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

/// One CA with a server certificate (localhost, 127.0.0.1), a client certificate and an
/// expired client certificate, all in a temporary directory.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server: Pair,
    client: Pair,
    expired: Pair,
}

fn leaf(
    name: &str,
    issuer: &CertifiedIssuer<'_, KeyPair>,
    expired: bool,
    dir: &Path,
    file: &str,
) -> Pair {
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    if expired {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    } else {
        p.not_before = date_time_ymd(2024, 1, 1);
        p.not_after = date_time_ymd(2099, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    let pair = Pair {
        cert: dir.join(format!("{file}.crt")),
        key: dir.join(format!("{file}.key")),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = date_time_ymd(2019, 1, 1);
        p.not_after = date_time_ymd(2099, 1, 1);
        let ca = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        let ca_path = dir.path().join("ca.crt");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let server = leaf(&format!("{name} server"), &ca, false, dir.path(), "server");
        let client = leaf(&format!("{name} client"), &ca, false, dir.path(), "client");
        let expired = leaf(&format!("{name} expired"), &ca, true, dir.path(), "expired");
        Pki {
            _dir: dir,
            ca: ca_path,
            server,
            client,
            expired,
        }
    }

    /// The server directives for `tls-port` with this PKI's files.
    fn server_args(&self, tls_port: u16) -> Vec<String> {
        [
            ("--tls-port", tls_port.to_string()),
            ("--tls-cert-file", s(&self.server.cert)),
            ("--tls-key-file", s(&self.server.key)),
            ("--tls-ca-cert-file", s(&self.ca)),
        ]
        .into_iter()
        .flat_map(|(a, b)| [a.to_string(), b])
        .collect()
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Starts a server of `kind` with a plain port (for the harness) and `tls-port`.
fn start_tls(kind: Kind, pki: &Pki, extra: &[&str]) -> (Server, u16) {
    let tls_port = free_port();
    let mut args = pki.server_args(tls_port);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::builder(kind)
        .args(&args)
        .debug_command(true)
        .start();
    (server, tls_port)
}

/// redis-cli --tls against `port`, trusting `ca`, presenting `cert` when given.
fn cli_tls(port: u16, ca: &Path, cert: Option<&Pair>, args: &[&str]) -> (bool, String) {
    let mut c = Command::new(redis_cli_path());
    c.args([
        "--tls",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--cacert",
    ])
    .arg(ca);
    if let Some(p) = cert {
        c.arg("--cert").arg(&p.cert).arg("--key").arg(&p.key);
    }
    let out = c.args(args).output().expect("run redis-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && !text.contains("Could not"), text)
}

fn pong(port: u16, pki: &Pki, cert: Option<&Pair>) -> bool {
    let (ok, out) = cli_tls(port, &pki.ca, cert, &["PING"]);
    ok && out.trim() == "PONG"
}

#[test]
fn redis_cli_with_client_cert_get_set_and_subscribe() {
    let pki = Pki::new("cli");
    let (server, tls_port) = start_tls(Kind::Redrepl, &pki, &[]);
    let c = Some(&pki.client);
    let (ok, out) = cli_tls(tls_port, &pki.ca, c, &["SET", "k", "over tls"]);
    assert!(ok && out.trim() == "OK", "{out}\n{}", server.log());
    let (ok, out) = cli_tls(tls_port, &pki.ca, c, &["GET", "k"]);
    assert!(ok && out.trim() == "over tls", "{out}");
    // A large value crosses many TLS records both ways.
    let big = "x".repeat(300_000);
    let mut plain = server.conn();
    q(&mut plain, &["SET", "big", &big]);
    let (ok, out) = cli_tls(tls_port, &pki.ca, c, &["STRLEN", "big"]);
    assert!(ok && out.trim() == "300000", "{out}");
    let (ok, out) = cli_tls(tls_port, &pki.ca, c, &["GET", "big"]);
    assert!(
        ok && out.trim() == big,
        "GET big over TLS: {} bytes",
        out.len()
    );

    // SUBSCRIBE over TLS: pushes published on the plain port arrive.
    let mut sub = Command::new(redis_cli_path())
        .args(["--tls", "-p", &tls_port.to_string(), "--cacert"])
        .arg(&pki.ca)
        .arg("--cert")
        .arg(&pki.client.cert)
        .arg("--key")
        .arg(&pki.client.key)
        .args(["SUBSCRIBE", "news"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = sub.id() as i32;
    let stdout = sub.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut delivered = false;
    while Instant::now() < deadline {
        if q(&mut plain, &["PUBLISH", "news", "hello tls"]) == redis::Value::Int(1) {
            delivered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut lines = Vec::new();
    while delivered && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                let done = l == "hello tls";
                lines.push(l);
                if done {
                    break;
                }
            }
            Err(_) => continue,
        }
    }
    common::kill_pid(pid);
    let _ = sub.wait();
    assert!(delivered, "no subscriber seen over TLS");
    assert!(lines.iter().any(|l| l == "hello tls"), "{lines:?}");
}

#[test]
fn client_certificates_required_optional_or_not_asked_as_redis() {
    let pki = Pki::new("auth");
    for kind in [Kind::Redrepl, Kind::Redis] {
        let (server, tls_port) = start_tls(kind, &pki, &[]);
        // Default `tls-auth-clients yes`: a client without a certificate is refused.
        assert!(pong(tls_port, &pki, Some(&pki.client)), "{kind:?}");
        assert!(
            !pong(tls_port, &pki, None),
            "{kind:?}: accepted without cert"
        );
        // optional: both; a certificate given must still be valid.
        let mut admin = server.conn();
        assert_eq!(
            q(
                &mut admin,
                &["CONFIG", "SET", "tls-auth-clients", "optional"]
            ),
            redis::Value::Okay
        );
        assert!(pong(tls_port, &pki, None), "{kind:?}: optional, no cert");
        assert!(pong(tls_port, &pki, Some(&pki.client)), "{kind:?}");
        assert!(!pong(tls_port, &pki, Some(&pki.expired)), "{kind:?}");
        // no: no certificate asked.
        q(&mut admin, &["CONFIG", "SET", "tls-auth-clients", "no"]);
        assert!(pong(tls_port, &pki, None), "{kind:?}: no, no cert");
        let e = q(&mut admin, &["CONFIG", "SET", "tls-auth-clients", "maybe"]);
        assert_eq!(
            err_text(&e),
            "ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) must be one of the following: no, yes, optional",
            "{kind:?}"
        );
        let v = q(&mut admin, &["CONFIG", "GET", "tls-auth-clients"]);
        assert_eq!(
            v,
            redis::Value::Array(vec![
                redis::Value::BulkString(b"tls-auth-clients".to_vec()),
                redis::Value::BulkString(b"no".to_vec())
            ]),
            "{kind:?}"
        );
    }
}

#[test]
fn certificates_from_another_ca_or_expired_are_refused() {
    let pki = Pki::new("main");
    let other = Pki::new("other");
    for kind in [Kind::Redrepl, Kind::Redis] {
        let (server, tls_port) = start_tls(kind, &pki, &[]);
        assert!(pong(tls_port, &pki, Some(&pki.client)), "{kind:?}");
        assert!(
            !pong(tls_port, &pki, Some(&other.client)),
            "{kind:?}: a client certificate of another CA was accepted"
        );
        assert!(
            !pong(tls_port, &pki, Some(&pki.expired)),
            "{kind:?}: an expired client certificate was accepted"
        );
        // The client side too: a server certificate of another CA is not trusted.
        let (ok, _) = cli_tls(tls_port, &other.ca, Some(&pki.client), &["PING"]);
        assert!(!ok, "{kind:?}");
        // The server keeps serving after the refusals.
        assert!(pong(tls_port, &pki, Some(&pki.client)), "{kind:?}");
        drop(server);
    }
}

#[test]
fn port_zero_serves_tls_only() {
    let pki = Pki::new("only");
    let tls_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut args = pki.server_args(tls_port);
    args.extend(["--port", "0", "--save", ""].map(String::from));
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .arg("server")
        .args(&args)
        .current_dir(dir.path())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while Instant::now() < deadline && !up {
        up = pong(tls_port, &pki, Some(&pki.client));
        std::thread::sleep(Duration::from_millis(50));
    }
    // A plain RESP request on the TLS port gets no reply: the connection is closed.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain.write_all(b"PING\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    common::kill_pid(pid);
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    assert!(up, "no TLS PONG; log:\n{log}");
    assert!(!buf.starts_with(b"+PONG"), "plain TCP answered");
    // Neither port: refused at start, as Redis.
    let out = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .args(["server", "--port", "0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Configured to not listen anywhere, exiting."),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let v = q(con, &["INFO", "replication"]);
    let text = match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::VerbatimString { text, .. } => text,
        other => format!("{other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn digest(con: &mut redis::Connection) -> redis::Value {
    q(con, &["DEBUG", "DIGEST"])
}

/// A replica of `replica_kind` syncs from a master of `master_kind` over TLS with mutual
/// authentication (the master requires client certificates), then follows its writes.
fn replicate_over_tls(master_kind: Kind, replica_kind: Kind) {
    let pki = Pki::new("repl");
    let (master, master_tls) = start_tls(master_kind, &pki, &["--repl-diskless-sync-delay", "0"]);
    let mut m = master.conn();
    for i in 0..2000 {
        q(&mut m, &["SET", &format!("k{i}"), &format!("value {i}")]);
    }
    q(&mut m, &["RPUSH", "list", "a", "b", "c"]);
    let (replica, _) = start_tls(
        replica_kind,
        &pki,
        &[
            "--tls-replication",
            "yes",
            "--replicaof",
            &format!("127.0.0.1 {master_tls}"),
        ],
    );
    let mut r = replica.conn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && info_field(&mut r, "master_link_status") != "up" {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        info_field(&mut r, "master_link_status"),
        "up",
        "replica log:\n{}\nmaster log:\n{}",
        replica.log(),
        master.log()
    );
    for i in 0..500 {
        q(&mut m, &["INCR", &format!("counter{}", i % 7)]);
    }
    q(&mut m, &["SET", "last", "written"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && q(&mut r, &["GET", "last"]) == redis::Value::Nil {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(q(&mut r, &["DBSIZE"]), redis::Value::Int(2000 + 1 + 7 + 1));
}

#[test]
fn redis_server_replica_of_redrepl_master_over_tls() {
    replicate_over_tls(Kind::Redrepl, Kind::Redis);
}

#[test]
fn redrepl_replica_of_redis_server_master_over_tls() {
    replicate_over_tls(Kind::Redis, Kind::Redrepl);
}

#[test]
fn redrepl_replica_of_redrepl_master_over_tls() {
    replicate_over_tls(Kind::Redrepl, Kind::Redrepl);
}

fn rustls_client(port: u16, pki: &Pki) -> redis::Client {
    redis::Client::build_with_tls(
        format!("rediss://localhost:{port}/"),
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: std::fs::read(&pki.client.cert).unwrap(),
                client_key: std::fs::read(&pki.client.key).unwrap(),
            }),
            root_cert: Some(std::fs::read(&pki.ca).unwrap()),
        },
    )
    .unwrap()
}

#[test]
fn redis_crate_over_rustls_and_redis_py_with_ssl() {
    let pki = Pki::new("libs");
    let (server, tls_port) = start_tls(Kind::Redrepl, &pki, &[]);
    let mut con = rustls_client(tls_port, &pki).get_connection().unwrap();
    assert_eq!(
        q(&mut con, &["SET", "lib", "rust"]),
        redis::Value::Okay,
        "{}",
        server.log()
    );
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("INCR").arg("n").ignore();
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("n");
    let (n,): (i64,) = pipe.query(&mut con).unwrap();
    assert_eq!(n, 1000);
    let script = format!(
        r#"
import redis
r = redis.Redis(host="localhost", port={tls_port}, ssl=True, ssl_ca_certs="{ca}",
                ssl_certfile="{cert}", ssl_keyfile="{key}")
r.set("py", "ssl")
print(r.get("lib").decode(), r.get("py").decode(), r.dbsize())
"#,
        ca = s(&pki.ca),
        cert = s(&pki.client.cert),
        key = s(&pki.client.key),
    );
    assert_eq!(common::python(&script).trim(), "rust ssl 1003");
}

#[test]
fn config_set_reloads_certificates_for_new_connections_only() {
    let first = Pki::new("first");
    let second = Pki::new("second");
    for kind in [Kind::Redrepl, Kind::Redis] {
        let (server, tls_port) = start_tls(kind, &first, &[]);
        let mut old = rustls_client(tls_port, &first).get_connection().unwrap();
        q(&mut old, &["SET", "before", "1"]);
        let mut admin = server.conn();
        // A file that cannot be used: refused, the old files stay in force.
        let e = q(
            &mut admin,
            &["CONFIG", "SET", "tls-cert-file", "/nonexistent/x.crt"],
        );
        assert_eq!(
            err_text(&e),
            "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.",
            "{kind:?}"
        );
        let e = q(
            &mut admin,
            &["CONFIG", "SET", "tls-key-file", &s(&second.server.key)],
        );
        assert!(
            err_text(&e).contains("Unable to update TLS configuration"),
            "{kind:?}: {e:?}"
        );
        assert!(pong(tls_port, &first, Some(&first.client)), "{kind:?}");
        // The second PKI, all three files in one CONFIG SET.
        let v = q(
            &mut admin,
            &[
                "CONFIG",
                "SET",
                "tls-cert-file",
                &s(&second.server.cert),
                "tls-key-file",
                &s(&second.server.key),
                "tls-ca-cert-file",
                &s(&second.ca),
            ],
        );
        assert_eq!(v, redis::Value::Okay, "{kind:?}");
        assert!(pong(tls_port, &second, Some(&second.client)), "{kind:?}");
        assert!(
            !pong(tls_port, &first, Some(&first.client)),
            "{kind:?}: the old certificates still work"
        );
        // The connection made before goes on.
        assert_eq!(
            q(&mut old, &["GET", "before"]),
            redis::Value::BulkString(b"1".to_vec()),
            "{kind:?}"
        );
    }
}

#[test]
fn start_up_errors_name_the_file() {
    let pki = Pki::new("errors");
    let other = Pki::new("errors2");
    let fails = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::builder(Kind::Redrepl).args(&args).start_fails()
    };
    let mut a = pki.server_args(free_port());
    a[3] = "/nonexistent/server.crt".into();
    let out = fails(a);
    assert!(
        out.contains("Failed to load certificate: /nonexistent/server.crt:")
            && out.contains("Failed to configure TLS. Check logs for more info."),
        "{out}"
    );
    let mut a = pki.server_args(free_port());
    a[5] = s(&other.server.key);
    let out = fails(a);
    assert!(
        out.contains(&format!(
            "Failed to load private key: {}:",
            s(&other.server.key)
        )),
        "{out}"
    );
    // An encrypted key's passphrase: refused where it is set.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("r.conf");
    std::fs::write(&conf, "port 0\ntls-key-file-pass s3cret\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .arg("server")
        .arg(&conf)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(
        text.contains("r.conf:2") && text.contains("tls-key-file-pass"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

/// The bundled sentinel watches servers reachable only over TLS (`tls-replication yes`,
/// its client certificate, as redis-sentinel): it sees the master up and finds its replica
/// (which announces its tls-port). Side by side with redis-sentinel.
#[test]
fn sentinel_monitors_servers_over_tls() {
    use common::sentinel::{Sentinel, SentinelKind, monitor_conf, wait_until};
    let pki = Pki::new("sentinel");
    let (_master, master_tls) = start_tls(Kind::Redis, &pki, &["--repl-diskless-sync-delay", "0"]);
    let (_replica, replica_tls) = start_tls(
        Kind::Redrepl,
        &pki,
        &[
            "--tls-replication",
            "yes",
            "--replicaof",
            &format!("127.0.0.1 {master_tls}"),
        ],
    );
    for kind in [SentinelKind::Redrepl, SentinelKind::Redis] {
        let conf = format!(
            "tls-replication yes\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n{}",
            s(&pki.client.cert),
            s(&pki.client.key),
            s(&pki.ca),
            monitor_conf("tlsm", master_tls, 1, 3000)
        );
        let sentinel = Sentinel::start(kind, &conf);
        let seen = wait_until(30, || {
            sentinel.master_field("tlsm", "flags").as_deref() == Some("master")
                && sentinel.master_field("tlsm", "num-slaves").as_deref() == Some("1")
        });
        let replicas = sentinel
            .cmd(&["SENTINEL", "REPLICAS", "tlsm"])
            .unwrap_or_default();
        assert!(
            seen,
            "{kind:?}: {:?} {:?}\n{}",
            sentinel.master_field("tlsm", "flags"),
            sentinel.master_field("tlsm", "num-slaves"),
            sentinel.log()
        );
        assert!(
            replicas.contains(&replica_tls.to_string()),
            "{kind:?}: {replicas}"
        );
        // Up, not down: the links are alive over TLS.
        std::thread::sleep(Duration::from_secs(4));
        assert_eq!(
            sentinel.master_field("tlsm", "flags").as_deref(),
            Some("master"),
            "{kind:?}"
        );
        let r = sentinel
            .cmd(&["SENTINEL", "REPLICAS", "tlsm"])
            .unwrap_or_default();
        assert!(!r.contains("s_down"), "{kind:?}: {r}");
    }
}

/// CONFIG SET tls-port at run time, side by side with redis-server (Redis 7.0's
/// changeListenPort): a port in use fails with Redis's text and the old TLS listener still
/// serves; a free port moves it (a TLS client connects on the new one, the old one refuses,
/// a connection made before stays); CONFIG GET and CONFIG REWRITE show the new value.
#[test]
fn config_set_tls_port_moves_the_listener_as_redis_server() {
    let pki = Pki::new("moving");
    for kind in [Kind::Redrepl, Kind::Redis] {
        let tls_port = free_port();
        let args = pki.server_args(tls_port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::builder(kind).config("# tls\n").args(&args).start();
        let mut before = rustls_client(tls_port, &pki).get_connection().unwrap();
        q(&mut before, &["SET", "k", "v"]);
        let mut admin = server.conn();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port().to_string();
        let e = q(&mut admin, &["CONFIG", "SET", "tls-port", &busy_port]);
        assert_eq!(
            err_text(&e),
            "ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this port. Check server logs.",
            "{kind:?}"
        );
        assert!(
            pong(tls_port, &pki, Some(&pki.client)),
            "{kind:?}: old listener gone"
        );
        let new_port = free_port();
        let v = q(
            &mut admin,
            &["CONFIG", "SET", "tls-port", &new_port.to_string()],
        );
        assert_eq!(v, redis::Value::Okay, "{kind:?}");
        assert!(
            pong(new_port, &pki, Some(&pki.client)),
            "{kind:?}: no TLS on the new port"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err(),
            "{kind:?}: the old TLS port still accepts"
        );
        assert_eq!(
            q(&mut before, &["GET", "k"]),
            redis::Value::BulkString(b"v".to_vec()),
            "{kind:?}"
        );
        let v = q(&mut admin, &["CONFIG", "GET", "tls-port"]);
        let want = redis::Value::Array(vec![
            redis::Value::BulkString(b"tls-port".to_vec()),
            redis::Value::BulkString(new_port.to_string().into_bytes()),
        ]);
        assert_eq!(v, want, "{kind:?}");
        assert_eq!(
            q(&mut admin, &["CONFIG", "REWRITE"]),
            redis::Value::Okay,
            "{kind:?}"
        );
        let text = std::fs::read_to_string(server.dir.path().join("redis.conf")).unwrap();
        assert!(
            text.lines().any(|l| l == format!("tls-port {new_port}")),
            "{kind:?}: {text}"
        );
        drop(busy);
    }
}
