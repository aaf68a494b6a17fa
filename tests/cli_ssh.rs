//! SSH sessions (src/cli/ssh.rs) against the lab's real OpenSSH servers.

mod lab;

use lab::Lab;
use redrepl::cli::cluster::SshConfig;
use redrepl::cli::ssh::{NewHostKeys, Session, SshError, shell_quote};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn config(lab: &Lab) -> SshConfig {
    SshConfig {
        user: "root".into(),
        port: 22,
        identity_file: Some(lab.key.clone()),
        agent: false,
        known_hosts: lab.known_hosts.clone(),
        connect_timeout: Duration::from_secs(5),
    }
}

async fn connect(lab: &Lab, i: usize) -> Session {
    Session::connect(lab.addr(i), &config(lab), NewHostKeys::Refuse)
        .await
        .unwrap_or_else(|e| panic!("connect to VM {i}: {e}"))
}

/// `SHA256:...` of VM `i`'s host key, as ssh-keygen prints it.
fn host_fingerprint(lab: &Lab, i: usize) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(lab.dir.join(format!("host_key_{i}.pub")))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

fn write_known_hosts(lab: &Lab, name: &str, content: &str) -> PathBuf {
    let path = lab.dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_returns_stdout_and_exit_status_and_the_session_is_reused() {
    let lab = Lab::new(2);
    let s = connect(&lab, 0).await;
    assert_eq!(s.target(), format!("{}:22", lab.addr(0)));
    let out = s.exec("echo hello; echo world").await.unwrap();
    assert_eq!(out.status, 0);
    assert!(out.success());
    assert_eq!(out.stdout_str(), "hello\nworld\n");
    assert!(out.stderr.is_empty());
    // Same connection, another command: it runs inside VM 0's namespace.
    let out = s.exec("ip -o -4 addr show").await.unwrap();
    assert!(
        out.stdout_str()
            .contains(&format!("inet {}/24", lab.addr(0))),
        "{}",
        out.stdout_str()
    );
    assert!(!out.stdout_str().contains(&format!("inet {}/", lab.addr(1))));
    // Large output arrives whole, with the exit status.
    let out = s.exec("head -c 3000000 /dev/zero; exit 4").await.unwrap();
    assert_eq!(out.status, 4);
    assert_eq!(out.stdout.len(), 3_000_000);
    // Several commands at once on the one connection.
    let (a, b) = tokio::join!(s.exec("sleep 0.3; echo a"), s.exec("echo b"));
    assert_eq!(a.unwrap().stdout_str(), "a\n");
    assert_eq!(b.unwrap().stdout_str(), "b\n");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_gives_its_status_and_stderr() {
    let lab = Lab::new(1);
    let s = connect(&lab, 0).await;
    let out = s
        .exec("echo partial; echo 'it broke' >&2; exit 3")
        .await
        .unwrap();
    assert_eq!(out.status, 3);
    assert!(!out.success());
    assert_eq!(out.stdout_str(), "partial\n");
    assert_eq!(out.stderr_str(), "it broke\n");

    let err = s.exec_ok("ls /no/such/dir").await.unwrap_err();
    assert!(
        matches!(err, SshError::CommandFailed { status: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}:22", lab.addr(0))), "{msg}");
    assert!(msg.contains("/no/such/dir"), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");

    // A command killed by a signal: the server reports no exit status, which is a failure.
    let err = s.exec("kill -9 $$").await.unwrap_err();
    assert!(matches!(err, SshError::NoExitStatus { .. }), "{err:?}");
    assert!(err.to_string().contains("without an exit status"), "{err}");

    // stdin reaches the command.
    let out = s.exec_with_input("tr a-z A-Z", b"shout\n").await.unwrap();
    assert_eq!(out.stdout_str(), "SHOUT\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_writes_the_bytes_with_the_mode() {
    let lab = Lab::new(1);
    let s = connect(&lab, 0).await;
    let dir = lab.dir.join("remote dir 'quoted' $x");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("file; rm -rf x");
    let path_str = path.to_str().unwrap();

    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    s.upload(&data, path_str, 0o640).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let mode = s
        .exec_ok(&format!("stat -c %a {}", shell_quote(path_str)))
        .await
        .unwrap();
    assert_eq!(mode.stdout_str().trim(), "640");

    // Overwrite with other content and mode 0600; no temporary file left behind.
    s.upload(b"secret\n", path_str, 0o600).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"secret\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1);

    // Empty content is fine too.
    let empty = dir.join("empty");
    s.upload(b"", empty.to_str().unwrap(), 0o644).await.unwrap();
    assert_eq!(std::fs::read(&empty).unwrap(), b"");

    // Into a missing folder: a clear error naming the path.
    let err = s
        .upload(b"x", "/no/such/folder/file", 0o600)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Upload { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("/no/such/folder/file"), "{msg}");
    assert!(msg.contains(&format!("{}:22", lab.addr(0))), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_with_its_fingerprint_unless_accepted() {
    let lab = Lab::new(1);
    let mut cfg = config(&lab);
    // A known_hosts with only another host, and one that does not exist yet.
    for (name, content) in [
        (
            "kh_other",
            Some(
                "10.255.255.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPIG4ZoV8m4Hs5mATfrPdEYNW1xuobSxh6iSvPZ3vvZW\n",
            ),
        ),
        ("kh_missing", None),
    ] {
        cfg.known_hosts = match content {
            Some(c) => write_known_hosts(&lab, name, c),
            None => lab.dir.join(name),
        };
        let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
            .await
            .unwrap_err();
        assert!(matches!(err, SshError::UnknownHostKey { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&host_fingerprint(&lab, 0)), "{msg}");
        assert!(msg.contains("--accept-new-host-keys"), "{msg}");
        assert!(msg.contains(&format!("{}:22", lab.addr(0))), "{msg}");
    }

    // --accept-new-host-keys: the key is appended and later connections check against it.
    let s = Session::connect(lab.addr(0), &cfg, NewHostKeys::Accept)
        .await
        .unwrap();
    assert_eq!(s.exec("true").await.unwrap().status, 0);
    let learned = std::fs::read_to_string(&cfg.known_hosts).unwrap();
    assert!(learned.contains(lab.addr(0)), "{learned}");
    assert!(learned.contains(lab.vms[0].host_key_pub.split(' ').nth(1).unwrap()));
    Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap();
    // OpenSSH agrees with what was written.
    let out = std::process::Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .args([
            "-o",
            &format!("UserKnownHostsFile={}", cfg.known_hosts.display()),
        ])
        .args(["-i", lab.key.to_str().unwrap()])
        .arg(format!("root@{}", lab.addr(0)))
        .arg("true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_always_refused() {
    let lab = Lab::new(2);
    let mut cfg = config(&lab);
    // known_hosts records VM 1's key under VM 0's address (on line 2).
    cfg.known_hosts = write_known_hosts(
        &lab,
        "kh_changed",
        &format!(
            "# recorded earlier\n{} {}\n",
            lab.addr(0),
            lab.vms[1].host_key_pub
        ),
    );
    for policy in [NewHostKeys::Refuse, NewHostKeys::Accept] {
        let err = Session::connect(lab.addr(0), &cfg, policy)
            .await
            .unwrap_err();
        assert!(matches!(err, SshError::HostKeyChanged { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("HOST KEY CHANGED"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains(cfg.known_hosts.to_str().unwrap()), "{msg}");
        assert!(msg.contains(&host_fingerprint(&lab, 0)), "{msg}");
    }
    // Accept did not touch the file.
    let content = std::fs::read_to_string(&cfg.known_hosts).unwrap();
    assert_eq!(content.lines().count(), 2);

    // Hashed entries are understood too (ssh-keygen -H).
    let hashed = write_known_hosts(
        &lab,
        "kh_hashed",
        &format!("{} {}\n", lab.addr(0), lab.vms[0].host_key_pub),
    );
    let out = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&hashed)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&hashed).unwrap().starts_with("|1|"));
    cfg.known_hosts = hashed;
    Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap();
}

fn keygen(path: &Path) {
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_key_fails_authentication_clearly() {
    let lab = Lab::new(1);
    let mut cfg = config(&lab);
    let other = lab.dir.join("other_key");
    keygen(&other);
    cfg.identity_file = Some(other.clone());
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::AuthFailed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}:22", lab.addr(0))), "{msg}");
    assert!(msg.contains("root"), "{msg}");
    assert!(msg.contains(other.to_str().unwrap()), "{msg}");
    assert!(msg.contains("authorized_keys"), "{msg}");
    // No key material in the message.
    let private = std::fs::read_to_string(&other).unwrap();
    for line in private.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!msg.contains(line), "{msg}");
    }

    // A missing identity file, and a file that is not a key.
    cfg.identity_file = Some(lab.dir.join("nope"));
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Identity { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
    cfg.identity_file = Some(lab.known_hosts.clone());
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Identity { .. }), "{err:?}");

    // No method at all.
    cfg.identity_file = None;
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::NoAuthMethod { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_fails_within_the_connect_timeout() {
    let lab = Lab::new(2);
    // Connect once so the address is in the neighbour cache, as after an earlier step.
    connect(&lab, 1).await.close().await;
    lab.link_down(1);
    let mut cfg = config(&lab);
    cfg.connect_timeout = Duration::from_secs(2);
    let start = Instant::now();
    let err = Session::connect(lab.addr(1), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(
        matches!(
            err,
            SshError::ConnectTimeout { .. } | SshError::Connect { .. }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("{}:22", lab.addr(1))),
        "{err}"
    );
    // The other VM is unaffected.
    connect(&lab, 0).await;
}
