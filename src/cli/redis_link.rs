//! A small RESP2 client for the orchestrator: commands out, replies in, over any byte stream
//! (a TCP socket for local nodes, an SSH direct-tcpip channel for remote ones).
//!
//! The orchestrator needs a dozen commands (AUTH, PING, INFO, SET, GET, REPLICAOF, CLIENT
//! PAUSE, CONFIG REWRITE, SHUTDOWN) and must never let the password reach an error message:
//! a command's text is only ever quoted by its first word, and AUTH failures are their own
//! error without the arguments.

use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A byte stream the link can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR ...` (the full text).
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$n` (None for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*n` (None for the null array).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text (status, bulk, integer); errors and arrays give None.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

/// What went wrong on a link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The stream failed or closed.
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    /// No reply in time.
    #[error("no reply to {command} within {}s", timeout.as_secs_f64())]
    Timeout {
        /// The command's first word.
        command: String,
        /// The time waited.
        timeout: Duration,
    },
    /// The server sent something that is not RESP2.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered with an error.
    #[error("{command} failed: {message}")]
    Server {
        /// The command's first word.
        command: String,
        /// The server's error text.
        message: String,
    },
    /// The TLS session could not be set up (the text names files and the cause, never a key).
    #[error("TLS: {0}")]
    Tls(String),
    /// AUTH was refused.
    #[error(
        "authentication refused ({0}): the server's password is not the inventory's \
         (check auth.password / password_env; a changed password needs a deploy)"
    )]
    Auth(String),
}

/// One connection to one Redis server.
pub struct Link {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    pos: usize,
    /// The time every command may take.
    pub timeout: Duration,
    /// The server certificate's `notAfter` (Unix seconds) on a TLS link.
    pub peer_not_after: Option<i64>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Link")
    }
}

impl Link {
    /// Wraps a connected stream.
    pub fn new(stream: Box<dyn Stream>) -> Link {
        Link {
            stream,
            buf: Vec::new(),
            pos: 0,
            timeout: Duration::from_secs(10),
            peer_not_after: None,
        }
    }

    /// Authenticates with `password` (no-op for None).
    pub async fn auth(&mut self, password: Option<&str>) -> Result<(), LinkError> {
        self.auth_as(None, password).await
    }

    /// Authenticates as `user` (None: the default user) with `password` (no-op for None).
    pub async fn auth_as(
        &mut self,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<(), LinkError> {
        let Some(password) = password else {
            return Ok(());
        };
        let reply = match user {
            Some(u) => {
                self.raw(&[b"AUTH", u.as_bytes(), password.as_bytes()])
                    .await?
            }
            None => self.raw(&[b"AUTH", password.as_bytes()]).await?,
        };
        match reply {
            Reply::Error(e) => {
                // Redis's texts name no password; keep only the first word to be safe.
                let code = e.split_whitespace().next().unwrap_or("ERR").to_string();
                Err(LinkError::Auth(code))
            }
            _ => Ok(()),
        }
    }

    /// Sends one command and returns its reply, error replies included.
    pub async fn raw(&mut self, args: &[&[u8]]) -> Result<Reply, LinkError> {
        let command = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_uppercase())
            .unwrap_or_default();
        let timeout = self.timeout;
        let fut = async {
            let mut cmd = Vec::new();
            crate::resp::encode_command(&mut cmd, args);
            self.stream.write_all(&cmd).await?;
            self.stream.flush().await?;
            self.read_reply().await
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(LinkError::Timeout { command, timeout }),
        }
    }

    /// Sends one command; an error reply becomes [`LinkError::Server`].
    pub async fn cmd(&mut self, args: &[&str]) -> Result<Reply, LinkError> {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        match self.raw(&bytes).await? {
            Reply::Error(message) => Err(LinkError::Server {
                command: args
                    .iter()
                    .take(if args.len() > 1 && is_container(args[0]) {
                        2
                    } else {
                        1
                    })
                    .map(|a| a.to_uppercase())
                    .collect::<Vec<_>>()
                    .join(" "),
                message,
            }),
            r => Ok(r),
        }
    }

    /// Reads the next reply without sending anything (a subscriber's messages).
    pub async fn read(&mut self) -> Result<Reply, LinkError> {
        self.read_reply().await
    }

    /// `INFO [section]` parsed into `field → value`.
    pub async fn info(&mut self, section: &str) -> Result<Info, LinkError> {
        let r = self.cmd(&["INFO", section]).await?;
        Ok(Info::parse(&r.text().unwrap_or_default()))
    }

    /// Sends `SHUTDOWN SAVE`: the data is saved even without save points (a plain SHUTDOWN
    /// saves nothing under `save ""`, and a master restarted empty wipes its replicas). Ok
    /// when the server closed the connection.
    ///
    /// A server writing its first AOF (just after `appendonly yes` or a replica's full sync)
    /// refuses to exit ("Writing initial AOF, can't exit", as Redis 7.0): the SHUTDOWN is
    /// sent again once that rewrite is over (up to a minute), never forced.
    pub async fn shutdown_save(&mut self) -> Result<(), LinkError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let refused = match self.shutdown_with(&[b"SHUTDOWN", b"SAVE"]).await {
                Err(LinkError::Server { message, .. })
                    if message.starts_with("ERR Errors trying to SHUTDOWN") =>
                {
                    message
                }
                r => return r,
            };
            let info = self.info("persistence").await?;
            let rewriting = info.get("aof_rewrite_in_progress") == Some("1")
                || info.get("aof_rewrite_scheduled") == Some("1");
            if !rewriting || tokio::time::Instant::now() >= deadline {
                return Err(LinkError::Server {
                    command: "SHUTDOWN".into(),
                    message: refused,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Sends a plain SHUTDOWN to a sentinel (it has no dataset; its state file is rewritten
    /// on every change). Never for a data node: see [`Link::shutdown_save`].
    pub async fn shutdown_sentinel(&mut self) -> Result<(), LinkError> {
        self.shutdown_with(&[b"SHUTDOWN"]).await
    }

    async fn shutdown_with(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        match self.raw(args).await {
            Err(LinkError::Io(_)) => Ok(()),
            Ok(Reply::Error(message)) => Err(LinkError::Server {
                command: "SHUTDOWN".into(),
                message,
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Resolves when the server closes the connection (or it fails). Bytes that arrive
    /// meanwhile are kept for the next reply; cancel-safe, so an idle link can wait on it
    /// beside a timer and notice a dead server at once, as an event loop does.
    pub async fn closed(&mut self) {
        while self.fill().await.is_ok() {}
    }

    async fn fill(&mut self) -> Result<(), LinkError> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(LinkError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn line(&mut self) -> Result<Vec<u8>, LinkError> {
        loop {
            if let Some(i) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    async fn exact(&mut self, n: usize) -> Result<Vec<u8>, LinkError> {
        while self.buf.len() - self.pos < n + 2 {
            self.fill().await?;
        }
        let data = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n + 2;
        Ok(data)
    }

    fn read_reply(
        &mut self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Reply, LinkError>> + Send + '_>> {
        Box::pin(async move {
            let line = self.line().await?;
            let (kind, rest) = line
                .split_first()
                .ok_or_else(|| LinkError::Protocol("empty reply line".into()))?;
            let text = String::from_utf8_lossy(rest).into_owned();
            let int = |t: &str| {
                t.parse::<i64>()
                    .map_err(|_| LinkError::Protocol(format!("bad length {t:?}")))
            };
            Ok(match kind {
                b'+' => Reply::Status(text),
                b'-' => Reply::Error(text),
                b':' => Reply::Int(int(&text)?),
                b'$' => {
                    let n = int(&text)?;
                    if n < 0 {
                        Reply::Bulk(None)
                    } else {
                        Reply::Bulk(Some(self.exact(n as usize).await?))
                    }
                }
                b'*' => {
                    let n = int(&text)?;
                    if n < 0 {
                        Reply::Array(None)
                    } else {
                        let mut items = Vec::with_capacity(n as usize);
                        for _ in 0..n {
                            items.push(self.read_reply().await?);
                        }
                        Reply::Array(Some(items))
                    }
                }
                other => {
                    return Err(LinkError::Protocol(format!(
                        "unexpected reply type {:?}",
                        *other as char
                    )));
                }
            })
        })
    }
}

/// Commands whose second word names the operation (quoted in errors as `CONFIG REWRITE`).
fn is_container(cmd: &str) -> bool {
    ["config", "client", "replicaof", "slaveof"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(cmd))
}

/// An INFO reply as fields.
#[derive(Debug, Clone, Default)]
pub struct Info(pub HashMap<String, String>);

impl Info {
    /// Parses `field:value` lines (section headers and blank lines skipped).
    pub fn parse(text: &str) -> Info {
        Info(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    /// A field's value.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// A numeric field.
    pub fn int(&self, field: &str) -> Option<i64> {
        self.get(field).and_then(|v| v.parse().ok())
    }

    /// `role` (master or slave).
    pub fn role(&self) -> &str {
        self.get("role").unwrap_or("?")
    }

    /// The replication offset this node has processed: `slave_repl_offset` on a replica,
    /// `master_repl_offset` on a master.
    pub fn offset(&self) -> i64 {
        if self.role() == "slave" {
            self.int("slave_repl_offset")
                .or_else(|| self.int("master_repl_offset"))
                .unwrap_or(0)
        } else {
            self.int("master_repl_offset").unwrap_or(0)
        }
    }

    /// The total number of keys over all databases (`dbN:keys=..,expires=..`).
    pub fn keys(&self) -> i64 {
        self.0
            .iter()
            .filter(|(k, _)| k.starts_with("db") && k[2..].chars().all(|c| c.is_ascii_digit()))
            .filter_map(|(_, v)| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix("keys="))
                    .and_then(|n| n.parse::<i64>().ok())
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_of_every_kind_are_read() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut link = Link::new(Box::new(client));
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let _ = server.read(&mut buf).await;
            server
                .write_all(b"*5\r\n+OK\r\n-ERR no\r\n:7\r\n$3\r\nabc\r\n$-1\r\n")
                .await
                .unwrap();
            let _ = server.read(&mut buf).await;
            server.write_all(b"-WRONGPASS invalid\r\n").await.unwrap();
        });
        let r = link.raw(&[b"X"]).await.unwrap();
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Status("OK".into()),
                Reply::Error("ERR no".into()),
                Reply::Int(7),
                Reply::Bulk(Some(b"abc".to_vec())),
                Reply::Bulk(None),
            ]))
        );
        let e = link.auth(Some("s3cret-pw")).await.unwrap_err().to_string();
        assert!(e.contains("WRONGPASS"), "{e}");
        assert!(!e.contains("s3cret-pw"), "{e}");
    }

    #[test]
    fn info_fields() {
        let i = Info::parse(
            "# Replication\r\nrole:slave\r\nslave_repl_offset:42\r\n\r\n# Keyspace\r\n\
             db0:keys=3,expires=0,avg_ttl=0\r\ndb2:keys=4,expires=1,avg_ttl=0\r\n",
        );
        assert_eq!(i.role(), "slave");
        assert_eq!(i.offset(), 42);
        assert_eq!(i.keys(), 7);
    }
}
