//! SSH authentication through ssh-agent, in its own test binary: it sets SSH_AUTH_SOCK for the
//! whole process.

mod lab;

use lab::Lab;
use redrepl::cli::cluster::SshConfig;
use redrepl::cli::ssh::{NewHostKeys, Session, SshError};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_authenticates_and_an_empty_or_missing_agent_is_a_clear_error() {
    let lab = Lab::new(1);
    let cfg = SshConfig {
        user: "root".into(),
        port: 22,
        identity_file: None,
        agent: true,
        known_hosts: lab.known_hosts.clone(),
        connect_timeout: Duration::from_secs(5),
    };

    // No agent at all.
    // SAFETY: the only test in this binary; no other thread reads the environment now.
    unsafe { std::env::remove_var("SSH_AUTH_SOCK") };
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Agent { .. }), "{err:?}");
    assert!(err.to_string().contains("SSH_AUTH_SOCK"), "{err}");

    let sock = lab.dir.join("agent.sock");
    let agent = Agent(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent (apt-get install openssh-client)"),
    );
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe { std::env::set_var("SSH_AUTH_SOCK", &sock) };

    // An agent without keys.
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("holds no keys"), "{err}");

    // With a key the host does not know: refused, naming the agent key.
    let other = lab.dir.join("other_key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let add = |key: &std::path::Path| {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &sock)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    add(&other);
    let err = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("agent key SHA256:"), "{err}");

    // With the right key as well: the agent signs and the session works.
    add(&lab.key);
    let s = Session::connect(lab.addr(0), &cfg, NewHostKeys::Refuse)
        .await
        .unwrap();
    assert_eq!(
        s.exec("echo via-agent").await.unwrap().stdout_str(),
        "via-agent\n"
    );
    s.close().await;
    drop(agent);
}
