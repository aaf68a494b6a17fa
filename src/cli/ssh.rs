//! SSH sessions on russh: connect with a timeout, check the host key against known_hosts,
//! authenticate with an identity file or ssh-agent, run commands and upload files.
//!
//! One [`Session`] is one connection to one node, reused for every step. Every remote command
//! is a shell command line: build it with [`shell_quote`] for every argument that comes from
//! outside (inventory values, paths). Key material is never logged or put in an error.

use crate::cli::cluster::SshConfig;
use russh::client::{self, AuthResult};
use russh::keys::known_hosts::{check_known_hosts_path, learn_known_hosts_path};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What went wrong with an SSH session; every variant names the node as `host:port`.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The TCP connection or the SSH handshake did not finish in time.
    #[error(
        "{target}: no SSH connection within {}s (host down or unreachable?)",
        timeout.as_secs_f64()
    )]
    ConnectTimeout {
        /// `host:port`.
        target: String,
        /// The connect timeout.
        timeout: Duration,
    },
    /// The TCP connection failed.
    #[error("{target}: cannot connect: {source}")]
    Connect {
        /// `host:port`.
        target: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The host key is not in known_hosts.
    #[error(
        "{target}: unknown host key {algorithm} {fingerprint}, not in {known_hosts}; check it \
         (on the host: ssh-keygen -lf /etc/ssh/ssh_host_{short}_key.pub) and re-run with \
         --accept-new-host-keys to trust it"
    )]
    UnknownHostKey {
        /// `host:port`.
        target: String,
        /// Key algorithm, e.g. `ssh-ed25519`.
        algorithm: String,
        /// Short algorithm name for the hint, e.g. `ed25519`.
        short: String,
        /// `SHA256:...`.
        fingerprint: String,
        /// The known_hosts file checked.
        known_hosts: String,
    },
    /// The host key differs from the one recorded: always refused.
    #[error(
        "{target}: HOST KEY CHANGED: the host presents {algorithm} {fingerprint}, which does not \
         match line {line} of {known_hosts}; refusing to connect (someone may be intercepting \
         the connection). If the host was reinstalled, check the new key and remove line {line}"
    )]
    HostKeyChanged {
        /// `host:port`.
        target: String,
        /// Key algorithm.
        algorithm: String,
        /// `SHA256:...` of the key presented.
        fingerprint: String,
        /// The known_hosts file.
        known_hosts: String,
        /// The line holding the recorded key.
        line: usize,
    },
    /// The host presented a certificate; only plain host keys are supported.
    #[error("{target}: the host presented an SSH certificate; only plain host keys are supported")]
    HostCertificate {
        /// `host:port`.
        target: String,
    },
    /// known_hosts could not be read or written.
    #[error("{target}: known_hosts {path}: {message}")]
    KnownHosts {
        /// `host:port`.
        target: String,
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// The identity file could not be loaded.
    #[error("{target}: cannot load the identity file {path}: {message}")]
    Identity {
        /// `host:port`.
        target: String,
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// ssh-agent could not be used.
    #[error("{target}: ssh-agent: {message}")]
    Agent {
        /// `host:port`.
        target: String,
        /// What failed.
        message: String,
    },
    /// Neither an identity file nor the agent is configured.
    #[error("{target}: no SSH authentication configured: set identity_file or agent: true")]
    NoAuthMethod {
        /// `host:port`.
        target: String,
    },
    /// The server refused every key offered.
    #[error(
        "{target}: authentication as {user} refused (tried {tried}); check that the key is in \
         ~{user}/.ssh/authorized_keys on the host"
    )]
    AuthFailed {
        /// `host:port`.
        target: String,
        /// Remote user.
        user: String,
        /// What was offered, e.g. `identity file /k (SHA256:...)`.
        tried: String,
    },
    /// An SSH protocol or transport error.
    #[error("{target}: SSH error: {message}")]
    Protocol {
        /// `host:port`.
        target: String,
        /// What failed.
        message: String,
    },
    /// A remote command ended without reporting an exit status.
    #[error("{target}: `{command}` ended without an exit status{}", signal.as_ref().map(|s| format!(" (killed by signal {s})")).unwrap_or_default())]
    NoExitStatus {
        /// `host:port`.
        target: String,
        /// The command.
        command: String,
        /// The signal that ended it, if the server said.
        signal: Option<String>,
    },
    /// A remote command exited with a non-zero status.
    #[error("{target}: `{command}` failed with exit status {status}: {stderr}")]
    CommandFailed {
        /// `host:port`.
        target: String,
        /// The command.
        command: String,
        /// Its exit status.
        status: u32,
        /// Its stderr (trimmed).
        stderr: String,
    },
    /// An upload failed.
    #[error("{target}: cannot write {path}: exit status {status}: {stderr}")]
    Upload {
        /// `host:port`.
        target: String,
        /// The remote path.
        path: String,
        /// The remote shell's exit status.
        status: u32,
        /// Its stderr (trimmed).
        stderr: String,
    },
}

/// How to treat a host key that is not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewHostKeys {
    /// Refuse it (the default).
    Refuse,
    /// Append it to known_hosts and go on (`--accept-new-host-keys`); a changed key is still
    /// refused.
    Accept,
}

/// Where a streamed command's standard output goes, chunk by chunk.
pub type Sink<'a> = &'a mut (dyn FnMut(&[u8]) + Send);

/// What a remote command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status.
    pub status: u32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// Standard output as text (lossy).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy).
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Quotes `s` for a POSIX shell: single quotes, with each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Joins `args` into one shell command line, each argument quoted.
pub fn shell_join<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `host:port`, with brackets around IPv6 addresses.
fn target_of(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The line number in the file of russh's `counted`-th known_hosts line: russh does not count
/// lines that start with `#`, and users need the real number to find the entry.
fn file_line(path: &Path, counted: usize) -> usize {
    let Ok(content) = std::fs::read(path) else {
        return counted;
    };
    let mut seen = 0;
    for (i, line) in content.split(|&b| b == b'\n').enumerate() {
        if line.first() != Some(&b'#') {
            seen += 1;
            if seen == counted {
                return i + 1;
            }
        }
    }
    counted
}

/// The handler's error: russh's own, or a refusal decided in `check_server_key`.
#[derive(Debug)]
enum HandlerError {
    Russh(russh::Error),
    Refused(Box<SshError>),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Russh(e)
    }
}

struct Handler {
    host: String,
    port: u16,
    target: String,
    known_hosts: PathBuf,
    new_host_keys: NewHostKeys,
}

impl Handler {
    fn check(&self, key: &PublicKey) -> Result<(), SshError> {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let algorithm = key.algorithm().as_str().to_string();
        let known_hosts = self.known_hosts.display().to_string();
        match check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => Ok(()),
            Ok(false) => match self.new_host_keys {
                NewHostKeys::Accept => {
                    learn_known_hosts_path(&self.host, self.port, key, &self.known_hosts).map_err(
                        |e| SshError::KnownHosts {
                            target: self.target.clone(),
                            path: known_hosts,
                            message: format!("cannot add the host key: {e}"),
                        },
                    )
                }
                NewHostKeys::Refuse => Err(SshError::UnknownHostKey {
                    target: self.target.clone(),
                    short: algorithm
                        .strip_prefix("ssh-")
                        .unwrap_or(&algorithm)
                        .split('-')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    algorithm,
                    fingerprint,
                    known_hosts,
                }),
            },
            Err(russh::keys::Error::KeyChanged { line }) => Err(SshError::HostKeyChanged {
                target: self.target.clone(),
                algorithm,
                fingerprint,
                line: file_line(&self.known_hosts, line),
                known_hosts,
            }),
            Err(e) => Err(SshError::KnownHosts {
                target: self.target.clone(),
                path: known_hosts,
                message: format!("cannot read it: {e}"),
            }),
        }
    }
}

impl client::Handler for Handler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandlerError::Refused(Box::new(SshError::HostCertificate {
                    target: self.target.clone(),
                })));
            }
        };
        self.check(key)
            .map(|()| true)
            .map_err(|e| HandlerError::Refused(Box::new(e)))
    }
}

/// One authenticated SSH connection to one node.
pub struct Session {
    handle: client::Handle<Handler>,
    target: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target)
            .finish()
    }
}

impl Session {
    /// Connects to `host` with the node's SSH settings: TCP connect, handshake and host key
    /// check within `ssh.connect_timeout`, then authentication (identity file first, then the
    /// agent when enabled) within the same time again.
    pub async fn connect(
        host: &str,
        ssh: &SshConfig,
        new_host_keys: NewHostKeys,
    ) -> Result<Session, SshError> {
        let target = target_of(host, ssh.port);
        let timeout = ssh.connect_timeout;
        let config = Arc::new(client::Config {
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(10)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let handler = Handler {
            host: host.to_string(),
            port: ssh.port,
            target: target.clone(),
            known_hosts: ssh.known_hosts.clone(),
            new_host_keys,
        };
        let connecting = client::connect(config, (host, ssh.port), handler);
        let mut handle = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(SshError::ConnectTimeout { target, timeout });
            }
            Ok(Err(HandlerError::Refused(e))) => return Err(*e),
            Ok(Err(HandlerError::Russh(russh::Error::IO(e)))) => {
                return Err(SshError::Connect { target, source: e });
            }
            Ok(Err(HandlerError::Russh(e))) => {
                return Err(SshError::Protocol {
                    target,
                    message: e.to_string(),
                });
            }
            Ok(Ok(h)) => h,
        };
        let auth = authenticate(&mut handle, &target, ssh);
        match tokio::time::timeout(timeout, auth).await {
            Err(_) => {
                return Err(SshError::Protocol {
                    target,
                    message: format!(
                        "authentication did not finish within {}s",
                        timeout.as_secs_f64()
                    ),
                });
            }
            Ok(r) => r?,
        }
        Ok(Session { handle, target })
    }

    /// Connects to a node of the cluster with its resolved SSH settings.
    pub async fn connect_node(
        node: &crate::cli::cluster::Node,
        new_host_keys: NewHostKeys,
    ) -> Result<Session, SshError> {
        Session::connect(&node.host, &node.ssh, new_host_keys).await
    }

    /// `host:port` of the node.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn protocol(&self, e: impl std::fmt::Display) -> SshError {
        SshError::Protocol {
            target: self.target.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `command` (a shell command line) and collects its output and exit status. A
    /// non-zero status is not an error here; a missing one is.
    pub async fn exec(&self, command: &str) -> Result<Output, SshError> {
        self.run(command, None).await
    }

    /// Runs `command` and fails with its stderr unless it exits with status 0.
    pub async fn exec_ok(&self, command: &str) -> Result<Output, SshError> {
        let out = self.run(command, None).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(SshError::CommandFailed {
                target: self.target.clone(),
                command: command.to_string(),
                status: out.status,
                stderr: out.stderr_str().trim().to_string(),
            })
        }
    }

    /// Runs `command` with `input` on its standard input (then end of file).
    pub async fn exec_with_input(&self, command: &str, input: &[u8]) -> Result<Output, SshError> {
        self.run(command, Some(input)).await
    }

    /// Runs `command` and hands its standard output to `sink` chunk by chunk as it arrives
    /// (the returned [`Output`] has an empty stdout): a large file is streamed, never held.
    pub async fn exec_streamed(&self, command: &str, sink: Sink<'_>) -> Result<Output, SshError> {
        self.run_into(command, None, Some(sink)).await
    }

    async fn run(&self, command: &str, input: Option<&[u8]>) -> Result<Output, SshError> {
        self.run_into(command, input, None).await
    }

    async fn run_into(
        &self,
        command: &str,
        input: Option<&[u8]>,
        mut sink: Option<Sink<'_>>,
    ) -> Result<Output, SshError> {
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| self.protocol(e))?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| self.protocol(e))?;
        if let Some(input) = input
            && !input.is_empty()
        {
            channel
                .data_bytes(bytes::Bytes::copy_from_slice(input))
                .await
                .map_err(|e| self.protocol(e))?;
        }
        channel.eof().await.map_err(|e| self.protocol(e))?;

        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut status = None;
        let mut signal = None;
        // The exit status may come before the last data: read until the channel is gone.
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => match sink.as_mut() {
                    Some(sink) => sink(&data),
                    None => stdout.extend_from_slice(&data),
                },
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    signal = Some(format!("{signal_name:?}"))
                }
                ChannelMsg::Failure => {
                    return Err(self.protocol(format!("the server refused to run `{command}`")));
                }
                _ => {}
            }
        }
        match status {
            Some(status) => Ok(Output {
                status,
                stdout,
                stderr,
            }),
            None => Err(SshError::NoExitStatus {
                target: self.target.clone(),
                command: command.to_string(),
                signal,
            }),
        }
    }

    /// Writes `data` to `remote_path` with permission bits `mode`, atomically: into a
    /// temporary file next to it (created under umask 077), chmod, then renamed over it.
    pub async fn upload(&self, data: &[u8], remote_path: &str, mode: u32) -> Result<(), SshError> {
        static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = format!("{remote_path}.redrepl-tmp-{}-{n}", std::process::id());
        let (q_tmp, q_dst) = (shell_quote(&tmp), shell_quote(remote_path));
        let command = format!(
            "umask 077; cat > {q_tmp} && chmod {:o} {q_tmp} && mv -f {q_tmp} {q_dst} \
             || {{ rc=$?; rm -f {q_tmp}; exit $rc; }}",
            mode & 0o7777
        );
        let out = self.run(&command, Some(data)).await?;
        if out.success() {
            Ok(())
        } else {
            Err(SshError::Upload {
                target: self.target.clone(),
                path: remote_path.to_string(),
                status: out.status,
                stderr: out.stderr_str().trim().to_string(),
            })
        }
    }

    /// Opens a TCP connection from the node to `host:port` (usually `127.0.0.1` and the Redis
    /// port) through this SSH connection (a direct-tcpip channel), so that a server bound to
    /// loopback only is reachable and the traffic is encrypted.
    pub async fn tunnel(
        &self,
        host: &str,
        port: u16,
    ) -> Result<russh::ChannelStream<client::Msg>, SshError> {
        let channel = self
            .handle
            .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
            .await
            .map_err(|e| self.protocol(format!("cannot open a tunnel to {host}:{port} ({e})")))?;
        Ok(channel.into_stream())
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

async fn authenticate(
    handle: &mut client::Handle<Handler>,
    target: &str,
    ssh: &SshConfig,
) -> Result<(), SshError> {
    let protocol = |e: russh::Error| SshError::Protocol {
        target: target.to_string(),
        message: e.to_string(),
    };
    let mut tried = Vec::new();
    if let Some(path) = &ssh.identity_file {
        let key = load_identity(path, target, ssh.agent)?;
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256);
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(protocol)?
                .flatten()
        } else {
            None
        };
        let result = handle
            .authenticate_publickey(&ssh.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(protocol)?;
        if let AuthResult::Success = result {
            return Ok(());
        }
        tried.push(format!("identity file {} ({fingerprint})", path.display()));
    }
    if ssh.agent {
        let agent_error = |message: String| SshError::Agent {
            target: target.to_string(),
            message,
        };
        let mut agent = russh::keys::agent::client::AgentClient::connect_env()
            .await
            .map_err(|e| agent_error(format!("cannot connect (is SSH_AUTH_SOCK set?): {e}")))?;
        let identities = agent
            .request_identities()
            .await
            .map_err(|e| agent_error(format!("cannot list keys: {e}")))?;
        if identities.is_empty() && ssh.identity_file.is_none() {
            return Err(agent_error(
                "the agent holds no keys (add one with ssh-add)".into(),
            ));
        }
        for identity in identities {
            let key = identity.public_key().into_owned();
            let hash = if key.algorithm().is_rsa() {
                handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(protocol)?
                    .flatten()
            } else {
                None
            };
            let fingerprint = key.fingerprint(HashAlg::Sha256);
            match handle
                .authenticate_publickey_with(&ssh.user, key, hash, &mut agent)
                .await
            {
                Ok(AuthResult::Success) => return Ok(()),
                Ok(AuthResult::Failure { .. }) => {
                    tried.push(format!("agent key {fingerprint}"));
                }
                Err(e) => tried.push(format!("agent key {fingerprint} (agent error: {e})")),
            }
        }
    }
    if tried.is_empty() {
        return Err(SshError::NoAuthMethod {
            target: target.to_string(),
        });
    }
    Err(SshError::AuthFailed {
        target: target.to_string(),
        user: ssh.user.clone(),
        tried: tried.join(", "),
    })
}

fn load_identity(
    path: &Path,
    target: &str,
    agent: bool,
) -> Result<russh::keys::PrivateKey, SshError> {
    russh::keys::load_secret_key(path, None).map_err(|e| SshError::Identity {
        target: target.to_string(),
        path: path.display().to_string(),
        message: match e {
            russh::keys::Error::KeyIsEncrypted => {
                if agent {
                    "it is passphrase-protected: load it into ssh-agent (ssh-add) and leave \
                     identity_file unset"
                        .to_string()
                } else {
                    "it is passphrase-protected: load it into ssh-agent (ssh-add) and set \
                     agent: true instead"
                        .to_string()
                }
            }
            russh::keys::Error::IO(io) => io.to_string(),
            // Other errors describe the format, never the key bytes.
            other => format!("not a usable private key ({other})"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf /); `x`"), "'$(rm -rf /); `x`'");
        assert_eq!(shell_join(&["ls", "-l", "a'b"]), "'ls' '-l' 'a'\\''b'");
    }

    #[test]
    fn quoting_round_trips_through_sh() {
        let nasty = "x'y\"z $HOME `id` \\ \n; | & * ? ~ #";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(nasty)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
    }

    #[test]
    fn known_hosts_line_numbers_count_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, "# a\nh1 k\n#b\n\nh2 k\nh3 k").unwrap();
        assert_eq!(file_line(&path, 1), 2);
        assert_eq!(file_line(&path, 2), 4);
        assert_eq!(file_line(&path, 3), 5);
        assert_eq!(file_line(&path, 4), 6);
        assert_eq!(file_line(&dir.path().join("none"), 3), 3);
    }

    #[test]
    fn targets() {
        assert_eq!(target_of("10.0.0.1", 22), "10.0.0.1:22");
        assert_eq!(target_of("::1", 2222), "[::1]:2222");
    }
}
