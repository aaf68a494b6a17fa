//! A connection to one node: an SSH session, or this machine for `transport: local`. Runs
//! shell commands, writes files, opens Redis links, and knows how to start and stop the
//! node's server. Everything above it (deploy, verify, status, promote, stop) is transport-blind.

use crate::cli::cluster::{Cluster, Node};
use crate::cli::inventory::{Engine, Transport};
use crate::cli::redis_link::{Link, LinkError, Reply};
use crate::cli::ssh::{NewHostKeys, Output, Session, SshError, shell_quote};
use std::time::{Duration, Instant};

/// What failed on a node; the message names the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// SSH failed (connect, host key, auth, a remote command).
    #[error("{node}: {source}")]
    Ssh {
        /// The node's name.
        node: String,
        /// The SSH error (names host:port).
        source: SshError,
    },
    /// A local command failed.
    #[error("{node}: {message}")]
    Local {
        /// The node's name.
        node: String,
        /// What failed.
        message: String,
    },
    /// Talking to Redis failed.
    #[error("{node} ({addr}): {source}")]
    Redis {
        /// The node's name.
        node: String,
        /// `host:port` of its server.
        addr: String,
        /// The cause.
        source: LinkError,
    },
    /// The server does not accept connections.
    #[error("{node} ({addr}): the server is not running ({detail})")]
    NotRunning {
        /// The node's name.
        node: String,
        /// `host:port`.
        addr: String,
        /// More detail.
        detail: String,
    },
    /// The server did not come up in time.
    #[error(
        "{node} ({addr}): the server did not answer within {secs}s after start; last lines of \
         {logfile}:\n{log}"
    )]
    StartTimeout {
        /// The node's name.
        node: String,
        /// `host:port`.
        addr: String,
        /// Seconds waited.
        secs: u64,
        /// The log file.
        logfile: String,
        /// Its tail.
        log: String,
    },
}

enum Conn {
    Ssh(Session),
    Local,
}

/// One connected node.
pub struct NodeConn {
    /// The node, as the inventory resolves it.
    pub node: Node,
    conn: Conn,
}

impl std::fmt::Debug for NodeConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeConn({})", self.node.name)
    }
}

/// The address a client on the node itself uses to reach its server: loopback when the
/// server listens there (or everywhere), else its first bind address.
pub fn local_redis_host(node: &Node) -> String {
    let addrs: Vec<&str> = node
        .bind
        .iter()
        .map(|a| a.trim_start_matches('-'))
        .collect();
    if addrs.is_empty()
        || addrs
            .iter()
            .any(|a| matches!(*a, "127.0.0.1" | "0.0.0.0" | "*" | "localhost"))
    {
        "127.0.0.1".into()
    } else {
        addrs[0].to_string()
    }
}

impl NodeConn {
    /// Connects to a node (SSH), or returns a local handle.
    pub async fn connect(node: &Node, new_host_keys: NewHostKeys) -> Result<NodeConn, NodeError> {
        let conn = match node.transport {
            Transport::Local => Conn::Local,
            Transport::Ssh => Conn::Ssh(Session::connect_node(node, new_host_keys).await.map_err(
                |source| NodeError::Ssh {
                    node: node.name.clone(),
                    source,
                },
            )?),
        };
        Ok(NodeConn {
            node: node.clone(),
            conn,
        })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// `host:port` of the node's server.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.node.host, self.node.port)
    }

    /// Whether the node is this machine.
    pub fn is_local(&self) -> bool {
        matches!(self.conn, Conn::Local)
    }

    /// Runs a shell command line (arguments already quoted) with optional stdin.
    pub async fn sh_input(&self, command: &str, input: Option<&[u8]>) -> Result<Output, NodeError> {
        match &self.conn {
            Conn::Ssh(s) => match input {
                Some(i) => s.exec_with_input(command, i).await,
                None => s.exec(command).await,
            }
            .map_err(|source| NodeError::Ssh {
                node: self.node.name.clone(),
                source,
            }),
            Conn::Local => {
                use tokio::io::AsyncWriteExt;
                let mut child = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| self.local_err(format!("cannot run sh: {e}")))?;
                let mut stdin = child.stdin.take().expect("piped");
                let data = input.unwrap_or_default().to_vec();
                let writer = tokio::spawn(async move {
                    let _ = stdin.write_all(&data).await;
                    drop(stdin);
                });
                let out = child
                    .wait_with_output()
                    .await
                    .map_err(|e| self.local_err(format!("`{command}`: {e}")))?;
                let _ = writer.await;
                Ok(Output {
                    status: out.status.code().map(|c| c as u32).unwrap_or(255),
                    stdout: out.stdout,
                    stderr: out.stderr,
                })
            }
        }
    }

    /// Runs a command and streams its standard output into `sink`, chunk by chunk; fails
    /// with its stderr unless it exits 0.
    pub async fn sh_streamed(
        &self,
        command: &str,
        sink: crate::cli::ssh::Sink<'_>,
    ) -> Result<(), NodeError> {
        let out = match &self.conn {
            Conn::Ssh(s) => {
                s.exec_streamed(command, sink)
                    .await
                    .map_err(|source| NodeError::Ssh {
                        node: self.node.name.clone(),
                        source,
                    })?
            }
            Conn::Local => {
                use tokio::io::AsyncReadExt;
                let mut child = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| self.local_err(format!("cannot run sh: {e}")))?;
                let mut stdout = child.stdout.take().expect("piped");
                let mut stderr = child.stderr.take().expect("piped");
                let errors = tokio::spawn(async move {
                    let mut e = Vec::new();
                    let _ = stderr.read_to_end(&mut e).await;
                    e
                });
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = stdout
                        .read(&mut buf)
                        .await
                        .map_err(|e| self.local_err(format!("`{command}`: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    sink(&buf[..n]);
                }
                let status = child
                    .wait()
                    .await
                    .map_err(|e| self.local_err(format!("`{command}`: {e}")))?;
                Output {
                    status: status.code().map(|c| c as u32).unwrap_or(255),
                    stdout: Vec::new(),
                    stderr: errors.await.unwrap_or_default(),
                }
            }
        };
        if out.success() {
            Ok(())
        } else {
            Err(self.local_err(format!(
                "`{command}` failed with exit status {}: {}",
                out.status,
                out.stderr_str().trim()
            )))
        }
    }

    fn local_err(&self, message: String) -> NodeError {
        NodeError::Local {
            node: self.node.name.clone(),
            message,
        }
    }

    /// Runs a command; fails with its stderr unless it exits 0.
    pub async fn sh_ok(&self, command: &str) -> Result<Output, NodeError> {
        let out = self.sh_input(command, None).await?;
        if out.success() {
            return Ok(out);
        }
        let where_ = match &self.conn {
            Conn::Ssh(s) => s.target().to_string(),
            Conn::Local => "local".into(),
        };
        Err(self.local_err(format!(
            "{where_}: `{command}` failed with exit status {}: {}",
            out.status,
            out.stderr_str().trim()
        )))
    }

    /// Writes `data` to `path` atomically with mode `mode` (temporary file, then rename).
    pub async fn write_file(&self, data: &[u8], path: &str, mode: u32) -> Result<(), NodeError> {
        match &self.conn {
            Conn::Ssh(s) => s
                .upload(data, path, mode)
                .await
                .map_err(|source| NodeError::Ssh {
                    node: self.node.name.clone(),
                    source,
                }),
            Conn::Local => {
                let tmp = format!("{path}.redrepl-tmp-{}", std::process::id());
                let r = (|| -> std::io::Result<()> {
                    use std::os::unix::fs::PermissionsExt;
                    crate::cli::files::write_private(std::path::Path::new(&tmp), data)?;
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
                    std::fs::rename(&tmp, path)
                })();
                r.map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    self.local_err(format!("cannot write {path}: {e}"))
                })
            }
        }
    }

    /// Opens a link to the node's server and authenticates. A refused connection is
    /// [`NodeError::NotRunning`].
    pub async fn redis(&self, password: Option<&str>) -> Result<Link, NodeError> {
        let host = local_redis_host(&self.node);
        self.redis_at(&host, self.node.port, &self.addr(), password)
            .await
    }

    /// Opens a link from the node to another server at `host:port` as the node sees it (an
    /// SSH tunnel, or plain TCP for a local node; TLS inside it when the cluster says so)
    /// and authenticates (as the admin user when there is one); errors name the node and
    /// `label`. Used to reach a server the inventory no longer names (`deploy --prune`).
    pub async fn redis_at(
        &self,
        host: &str,
        port: u16,
        label: &str,
        password: Option<&str>,
    ) -> Result<Link, NodeError> {
        let access = &self.node.access;
        self.link(
            host,
            port,
            label,
            access.tls.is_some(),
            access.user.as_deref(),
            password,
        )
        .await
    }

    /// A plain-TCP link to the node's server authenticated as the default user, whatever the
    /// inventory says: a server still running a config from before `tls:`/`users:` (deploy
    /// stops it with SHUTDOWN SAVE through this).
    pub async fn redis_plain(&self, password: Option<&str>) -> Result<Link, NodeError> {
        let host = local_redis_host(&self.node);
        self.link(&host, self.node.port, &self.addr(), false, None, password)
            .await
    }

    /// Whether the node's server answers a plain-TCP PING (with anything RESP: PONG, NOAUTH,
    /// an error): used by verify on a TLS-only cluster.
    pub async fn accepts_plain(&self) -> Result<bool, NodeError> {
        let host = local_redis_host(&self.node);
        let mut link = self
            .link(&host, self.node.port, &self.addr(), false, None, None)
            .await?;
        link.timeout = Duration::from_secs(3);
        Ok(matches!(
            link.raw(&[b"PING"]).await,
            Ok(Reply::Status(_) | Reply::Error(_))
        ))
    }

    async fn link(
        &self,
        host: &str,
        port: u16,
        label: &str,
        tls: bool,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Link, NodeError> {
        let not_running = |detail: String| NodeError::NotRunning {
            node: self.node.name.clone(),
            addr: label.to_string(),
            detail,
        };
        let redis_err = |source| NodeError::Redis {
            node: self.node.name.clone(),
            addr: label.to_string(),
            source,
        };
        let stream: Box<dyn crate::cli::redis_link::Stream> = match &self.conn {
            Conn::Ssh(s) => match s.tunnel(host, port).await {
                Ok(st) => Box::new(st),
                Err(e) => return Err(not_running(format!("no connection through SSH: {e}"))),
            },
            Conn::Local => {
                let connect = tokio::net::TcpStream::connect((host, port));
                match tokio::time::timeout(Duration::from_secs(5), connect).await {
                    Ok(Ok(st)) => {
                        let _ = st.set_nodelay(true);
                        Box::new(st)
                    }
                    Ok(Err(e)) => return Err(not_running(e.to_string())),
                    Err(_) => return Err(not_running("connect timed out".into())),
                }
            }
        };
        let (stream, expiry) = match (&self.node.access.tls, tls) {
            (Some(files), true) => crate::cli::tls_link::connect(stream, files, &self.node.host)
                .await
                .map_err(|e| redis_err(LinkError::Tls(e)))?,
            _ => (stream, None),
        };
        let mut link = Link::new(stream);
        link.peer_not_after = expiry;
        link.auth_as(user, password).await.map_err(redis_err)?;
        Ok(link)
    }

    /// Wraps a link error with the node's name and address.
    pub fn redis_err(&self, source: LinkError) -> NodeError {
        NodeError::Redis {
            node: self.node.name.clone(),
            addr: self.addr(),
            source,
        }
    }

    /// Where the bundled binary lives on the node.
    pub fn binary_path(&self) -> String {
        if self.is_local() {
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "redrepl".into())
        } else {
            format!("{}/redrepl", self.node.dir)
        }
    }

    /// The shell command that starts the node's server as a daemon.
    pub fn start_command(&self, engine: Engine) -> String {
        let conf = shell_quote(&self.node.config_path);
        let server = match engine {
            Engine::Bundled => format!("{} server {conf}", shell_quote(&self.binary_path())),
            Engine::Redis => format!("redis-server {conf}"),
        };
        let dir = shell_quote(&self.node.dir);
        if self.node.daemonize {
            format!("cd {dir} && {server}")
        } else {
            // Not a daemon by config: detach it ourselves so the command returns.
            format!("cd {dir} && (setsid {server} >/dev/null 2>&1 </dev/null &)")
        }
    }

    /// Starts the server and waits until it answers PING (loading finished).
    pub async fn start(
        &self,
        engine: Engine,
        password: Option<&str>,
        wait: Duration,
    ) -> Result<(), NodeError> {
        self.sh_ok(&self.start_command(engine)).await?;
        self.wait_ping(password, wait).await
    }

    /// Waits until the server answers PING with PONG.
    pub async fn wait_ping(&self, password: Option<&str>, wait: Duration) -> Result<(), NodeError> {
        let start = Instant::now();
        loop {
            match self.redis(password).await {
                Ok(mut link) => match link.cmd(&["PING"]).await {
                    Ok(_) => return Ok(()),
                    // LOADING: keep waiting.
                    Err(LinkError::Server { message, .. }) if message.starts_with("LOADING") => {}
                    // A replica with replica-serve-stale-data no whose master is not reachable
                    // (yet) answers PING with MASTERDOWN: it is up and serving what it may.
                    Err(LinkError::Server { message, .. }) if message.starts_with("MASTERDOWN") => {
                        return Ok(());
                    }
                    Err(e) => return Err(self.redis_err(e)),
                },
                Err(NodeError::NotRunning { .. }) => {}
                Err(e @ NodeError::Redis { .. }) => {
                    if !matches!(
                        e,
                        NodeError::Redis {
                            source: LinkError::Io(_),
                            ..
                        }
                    ) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            if start.elapsed() > wait {
                return Err(NodeError::StartTimeout {
                    node: self.node.name.clone(),
                    addr: self.addr(),
                    secs: wait.as_secs(),
                    logfile: self.node.logfile.clone(),
                    log: self.log_tail().await,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of the node's log file (secrets never reach it).
    pub async fn log_tail(&self) -> String {
        if self.node.logfile.is_empty() {
            return "(logging to stdout)".into();
        }
        match self
            .sh_input(
                &format!("tail -n 15 {} 2>&1", shell_quote(&self.node.logfile)),
                None,
            )
            .await
        {
            Ok(o) => o.stdout_str(),
            Err(e) => e.to_string(),
        }
    }

    /// Stops the server: `SHUTDOWN SAVE` (its data saved even without save points), or, when
    /// SHUTDOWN cannot be sent (the password changed), SIGTERM to the pid in the pidfile named
    /// by the node's current config file (which saves only when the node has save points).
    /// Waits until the port no longer answers.
    pub async fn stop(&self, password: Option<&str>, wait: Duration) -> Result<(), NodeError> {
        let mut link = self.redis(password).await;
        if matches!(link, Err(NodeError::Redis { .. })) {
            // A server still on the config from before tls:/users: (plain, default user).
            let fallback = self.node.access.fallback_password.as_ref();
            if let Ok(l) = self.redis_plain(fallback.map(|p| p.expose())).await {
                link = Ok(l);
            }
        }
        match link {
            Err(NodeError::NotRunning { .. }) => return Ok(()),
            Ok(mut link) => link.shutdown_save().await.map_err(|e| self.redis_err(e))?,
            Err(_) => {
                let conf = shell_quote(&self.node.config_path);
                let cmd = format!(
                    "p=$(sed -n 's/^pidfile[[:space:]]*//p' {conf} | tail -n 1 | tr -d '\"'); \
                     [ -n \"$p\" ] && [ -f \"$p\" ] && kill -TERM \"$(cat \"$p\")\""
                );
                self.sh_ok(&cmd).await?;
            }
        }
        self.wait_down(wait).await
    }

    /// Stops the server with `SHUTDOWN SAVE` and waits until the port no longer answers; unlike
    /// [`NodeConn::stop`] no SIGTERM fallback: a node that cannot be told to save is an error.
    pub async fn stop_saving(
        &self,
        password: Option<&str>,
        wait: Duration,
    ) -> Result<(), NodeError> {
        match self.redis(password).await {
            Err(NodeError::NotRunning { .. }) => return Ok(()),
            Ok(mut link) => link.shutdown_save().await.map_err(|e| self.redis_err(e))?,
            Err(e) => return Err(e),
        }
        self.wait_down(wait).await
    }

    async fn wait_down(&self, wait: Duration) -> Result<(), NodeError> {
        let start = Instant::now();
        loop {
            match self.redis(None).await {
                Err(NodeError::NotRunning { .. }) => return Ok(()),
                _ if start.elapsed() > wait => {
                    return Err(self.local_err(format!(
                        "the server on {} is still running {}s after SHUTDOWN",
                        self.addr(),
                        wait.as_secs()
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        if let Conn::Ssh(s) = self.conn {
            s.close().await;
        }
    }
}

/// Connects to every node of `cluster` in parallel. Returns the connections in inventory
/// order, or every failure (each names its node).
pub async fn connect_all(
    cluster: &Cluster,
    new_host_keys: NewHostKeys,
) -> Vec<Result<NodeConn, NodeError>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        let node = node.clone();
        set.spawn(async move { (i, NodeConn::connect(&node, new_host_keys).await) });
    }
    let mut out: Vec<Option<Result<NodeConn, NodeError>>> =
        (0..cluster.nodes.len()).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (i, r) = r.expect("connect task panicked");
        out[i] = Some(r);
    }
    // Every slot was filled: one task per node, each joined above.
    out.into_iter().flatten().collect()
}

/// The depth of each node in the topology (master 0, its replicas 1, ...), inventory order.
pub fn depths(cluster: &Cluster) -> Vec<usize> {
    cluster
        .nodes
        .iter()
        .map(|n| {
            let mut d = 0;
            let mut cur = n;
            while let Some(m) = cur.replicaof.as_deref().and_then(|m| cluster.node(m)) {
                d += 1;
                cur = m;
                if d > cluster.nodes.len() {
                    break;
                }
            }
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cluster(text: &str) -> Cluster {
        let inv = crate::cli::inventory::parse(text, Path::new("x.yaml")).unwrap();
        crate::cli::validate::validate(&inv, Path::new("/tmp"), &|_| None).unwrap()
    }

    #[test]
    fn depths_follow_chains() {
        let c = cluster(
            "cluster: c\nauth:\n  password: pw-123456789\ndefaults:\n  dir: /d/{node}\n  host: 10.0.0.1\n\
             nodes:\n  a:\n    replicaof: b\n    port: 1\n  b:\n    replicaof: m\n    port: 2\n  \
             m:\n    role: master\n    port: 3\n  z:\n    replicaof: m\n    port: 4\n",
        );
        let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "m", "z"]);
        assert_eq!(depths(&c), [2, 1, 0, 1]);
    }

    #[test]
    fn the_node_side_address_of_the_server() {
        let c = cluster(
            "cluster: c\nauth:\n  password: pw-123456789\ndefaults:\n  dir: /d/{node}\n\
             nodes:\n  a:\n    role: master\n    host: 10.0.0.1\n    bind: [10.0.0.1]\n  \
             b:\n    replicaof: a\n    host: 10.0.0.2\n    bind: [\"-::1\", 127.0.0.1]\n  \
             c:\n    replicaof: a\n    host: 10.0.0.3\n",
        );
        assert_eq!(local_redis_host(c.node("a").unwrap()), "10.0.0.1");
        assert_eq!(local_redis_host(c.node("b").unwrap()), "127.0.0.1");
        // Default for SSH nodes: every interface, so loopback works.
        assert_eq!(local_redis_host(c.node("c").unwrap()), "127.0.0.1");
    }

    #[tokio::test]
    async fn start_commands_quote_paths_and_detach_non_daemons() {
        let c = cluster(
            "cluster: c\nengine: redis\nauth:\n  password: pw-123456789\ndefaults:\n  \
             transport: local\n  host: 127.0.0.1\n  dir: \"/d/it's {node}\"\n\
             nodes:\n  a:\n    role: master\n  b:\n    replicaof: a\n    port: 6380\n    daemonize: false\n",
        );
        let a = NodeConn::connect(c.node("a").unwrap(), NewHostKeys::Refuse)
            .await
            .unwrap();
        assert_eq!(
            a.start_command(Engine::Redis),
            "cd '/d/it'\\''s a' && redis-server '/d/it'\\''s a/redis-6379.conf'"
        );
        let b = NodeConn::connect(c.node("b").unwrap(), NewHostKeys::Refuse)
            .await
            .unwrap();
        assert!(
            b.start_command(Engine::Redis)
                .contains("(setsid redis-server")
        );
        let out = a
            .sh_input("cat; echo err >&2; exit 3", Some(b"in"))
            .await
            .unwrap();
        assert_eq!((out.status, out.stdout_str().as_str()), (3, "in"));
        assert_eq!(out.stderr_str(), "err\n");
    }
}
