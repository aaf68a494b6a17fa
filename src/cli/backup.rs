//! `redrepl backup`: a consistent RDB snapshot of the cluster, taken on a healthy replica by
//! default (the master is loaded only when no replica is in sync), downloaded over SSH as a
//! stream with its SHA-256 computed on both sides, and a manifest beside it.
//!
//! A backup is a folder `<cluster>-<node>-<UTC time>` holding `dump.rdb` and
//! `manifest.json` (cluster, node, time, replication ID and offset, keys per database, size,
//! checksum, redrepl version). [`check`] is the one gate every reader goes through (list,
//! restore): the size, the checksum and a full decode of the file, so a corrupted or
//! truncated backup is refused before anything else happens.

use crate::cli::cluster::Cluster;
use crate::cli::deploy;
use crate::cli::files;
use crate::cli::node::NodeConn;
use crate::cli::progress::Progress;
use crate::cli::ssh::{NewHostKeys, shell_quote};
use crate::server::db::Db;
use crate::server::rdb::reader;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The RDB file's name inside a backup folder.
pub const DUMP: &str = "dump.rdb";
/// The manifest's name inside a backup folder.
pub const MANIFEST: &str = "manifest.json";
/// Databases a backup may use (Redis's default `databases 16`).
const DATABASES: usize = 16;

/// What a backup holds, written next to its RDB file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The inventory's cluster name.
    pub cluster: String,
    /// The node the snapshot was taken on.
    pub node: String,
    /// That node's role when it was taken (`master` or `replica`).
    pub role: String,
    /// When the snapshot finished (UTC, RFC 3339).
    pub time: String,
    /// The replication ID in the RDB (`repl-id`), if any.
    pub replid: Option<String>,
    /// The replication offset in the RDB (`repl-offset`), if any.
    pub offset: Option<i64>,
    /// Keys per database (`"db0" → n`), counted by decoding the file.
    pub keys: BTreeMap<String, u64>,
    /// Size of `dump.rdb` in bytes.
    pub size: u64,
    /// SHA-256 of `dump.rdb` (hex).
    pub sha256: String,
    /// The redrepl version that took it.
    pub redrepl_version: String,
}

impl Manifest {
    /// Keys over all databases.
    pub fn total_keys(&self) -> u64 {
        self.keys.values().sum()
    }
}

/// Why a backup folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest does not parse.
    #[error("{path} is not a redrepl backup manifest: {message}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The RDB file is not the one the manifest describes.
    #[error(
        "{path} is corrupted or truncated: {what} (the manifest says {want}, the file has \
         {got}); this backup cannot be used"
    )]
    Mismatch {
        /// The RDB file.
        path: PathBuf,
        /// `size` or `sha256`.
        what: &'static str,
        /// From the manifest.
        want: String,
        /// From the file.
        got: String,
    },
    /// The RDB file does not decode.
    #[error("{path} does not load: {source}; this backup cannot be used")]
    Rdb {
        /// The RDB file.
        path: PathBuf,
        /// The decoder's error (byte offset, key).
        source: reader::RdbError,
    },
}

/// What decoding an RDB image found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// `repl-id`.
    pub replid: Option<String>,
    /// `repl-offset`.
    pub offset: Option<i64>,
    /// Keys per database (only databases holding keys).
    pub keys: BTreeMap<String, u64>,
}

/// Decodes a whole RDB image (every key, every checksum) and counts its keys per database.
pub fn decode(data: &[u8]) -> Result<Contents, reader::RdbError> {
    let mut dbs: Vec<Db> = (0..DATABASES).map(|_| Db::new()).collect();
    let info = reader::load(data, &mut dbs, false)?;
    let keys = dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| (format!("db{i}"), d.len() as u64))
        .collect();
    Ok(Contents {
        replid: info.repl_id,
        offset: info.repl_offset,
        keys,
    })
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A backup that passed [`check`]: its manifest and the RDB bytes.
#[derive(Debug)]
pub struct Checked {
    /// The backup folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The RDB file's content.
    pub data: Vec<u8>,
}

/// Reads a backup folder (or its manifest's path) and checks it whole: the manifest parses,
/// the file has the manifest's size and SHA-256, and it decodes to the manifest's key counts.
pub fn check(path: &Path) -> Result<Checked, BackupError> {
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let mpath = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&mpath).map_err(|source| BackupError::Io {
        path: mpath.clone(),
        source,
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| BackupError::Manifest {
        path: mpath.clone(),
        message: e.to_string(),
    })?;
    let dpath = dir.join(DUMP);
    let data = std::fs::read(&dpath).map_err(|source| BackupError::Io {
        path: dpath.clone(),
        source,
    })?;
    let mismatch = |what, want: String, got: String| BackupError::Mismatch {
        path: dpath.clone(),
        what,
        want,
        got,
    };
    if data.len() as u64 != manifest.size {
        return Err(mismatch(
            "size",
            format!("{} bytes", manifest.size),
            format!("{} bytes", data.len()),
        ));
    }
    let sum = sha256_hex(&data);
    if sum != manifest.sha256 {
        return Err(mismatch("sha256", manifest.sha256.clone(), sum));
    }
    let contents = decode(&data).map_err(|source| BackupError::Rdb {
        path: dpath.clone(),
        source,
    })?;
    if contents.keys != manifest.keys {
        return Err(mismatch(
            "keys",
            format!("{:?}", manifest.keys),
            format!("{:?}", contents.keys),
        ));
    }
    Ok(Checked {
        dir,
        manifest,
        data,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::server::log::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Options of a backup.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--node`: take it there (default: the first replica in sync, else the master).
    pub node: Option<String>,
    /// `--to`: the folder the backup folder is made in.
    pub to: PathBuf,
    /// How long BGSAVE may take.
    pub wait: Duration,
}

/// Which node to take the snapshot on: `--node`, else the first replica (inventory order)
/// whose link is up with no sync in progress, else the master. Returns its index and role.
async fn choose(
    cluster: &Cluster,
    conns: &[NodeConn],
    only: Option<&str>,
    progress: &Progress,
) -> anyhow::Result<(usize, &'static str)> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    if let Some(name) = only {
        let i = conns
            .iter()
            .position(|c| c.name() == name)
            .ok_or_else(|| anyhow::anyhow!("no node named {name:?} in the inventory"))?;
        let role = if conns[i].node.replicaof.is_some() {
            "replica"
        } else {
            "master"
        };
        return Ok((i, role));
    }
    for (i, c) in conns.iter().enumerate() {
        if c.node.replicaof.is_none() {
            continue;
        }
        let Ok(mut link) = c.redis(pw).await else {
            continue;
        };
        if let Ok(info) = link.info("replication").await
            && info.get("master_link_status") == Some("up")
            && info.get("master_sync_in_progress") != Some("1")
        {
            return Ok((i, "replica"));
        }
    }
    let m = conns
        .iter()
        .position(|c| c.node.replicaof.is_none())
        .expect("a validated cluster has a master");
    progress.note("no replica is in sync: the snapshot is taken on the master");
    Ok((m, "master"))
}

/// BGSAVE on the node and waits until it finished well.
async fn bgsave(c: &NodeConn, pw: Option<&str>, wait: Duration) -> anyhow::Result<()> {
    let mut link = c.redis(pw).await?;
    let start = Instant::now();
    let in_progress =
        |info: &crate::cli::redis_link::Info| info.get("rdb_bgsave_in_progress") == Some("1");
    loop {
        match link.cmd(&["BGSAVE"]).await {
            Ok(_) => break,
            // A save already running (a full sync, a save point): let it end, then ours.
            Err(e) if e.to_string().contains("in progress") && start.elapsed() < wait => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => return Err(c.redis_err(e).into()),
        }
    }
    loop {
        let info = link.info("persistence").await.map_err(|e| c.redis_err(e))?;
        if !in_progress(&info) {
            if info.get("rdb_last_bgsave_status") != Some("ok") {
                anyhow::bail!(
                    "{}: BGSAVE failed (rdb_last_bgsave_status {}); see its log {}:\n{}",
                    c.name(),
                    info.get("rdb_last_bgsave_status").unwrap_or("?"),
                    c.node.logfile,
                    c.log_tail().await
                );
            }
            return Ok(());
        }
        if start.elapsed() > wait {
            anyhow::bail!(
                "{}: BGSAVE still running after {}s",
                c.name(),
                wait.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Copies the node's dump aside (a later save cannot change it under us), streams it here
/// into `dest` with its SHA-256 computed on the way, and checks it against `sha256sum` on the
/// node. Returns the bytes.
async fn download(c: &NodeConn, dest: &Path) -> anyhow::Result<Vec<u8>> {
    let dump = format!("{}/{}", c.node.dir, c.node.dbfilename);
    let copy = format!("{dump}.redrepl-backup-{}", std::process::id());
    let (q_dump, q_copy) = (shell_quote(&dump), shell_quote(&copy));
    let remote = c
        .sh_ok(&format!(
            "umask 077; cp {q_dump} {q_copy} && sha256sum {q_copy}"
        ))
        .await?
        .stdout_str();
    let remote_sum = remote.split_whitespace().next().unwrap_or("").to_string();
    let mut file = std::fs::File::create(dest)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dest.display()))?;
    let mut hasher = Sha256::new();
    let mut data = Vec::new();
    let mut write_err = None;
    let streamed = c
        .sh_streamed(&format!("cat {q_copy}"), &mut |chunk: &[u8]| {
            hasher.update(chunk);
            data.extend_from_slice(chunk);
            if write_err.is_none()
                && let Err(e) = file.write_all(chunk)
            {
                write_err = Some(e);
            }
        })
        .await;
    let _ = c.sh_input(&format!("rm -f {q_copy}"), None).await;
    streamed?;
    if let Some(e) = write_err {
        anyhow::bail!("cannot write {}: {e}", dest.display());
    }
    file.sync_all()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dest.display()))?;
    let local_sum: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if local_sum != remote_sum {
        anyhow::bail!(
            "{}: the download of {dump} is damaged (SHA-256 {local_sum} here, {remote_sum} on \
             the node); nothing was kept",
            c.name()
        );
    }
    Ok(data)
}

/// Takes a backup; returns its folder and manifest.
pub async fn backup(
    cluster: &Cluster,
    opts: &Options,
    progress: &Progress,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let conns = deploy::connect_or_fail(cluster, NewHostKeys::Refuse, progress).await?;
    let (i, role) = choose(cluster, &conns, opts.node.as_deref(), progress).await?;
    let c = &conns[i];
    for o in conns.iter().filter(|o| o.name() != c.name()) {
        progress.done(o.name(), "not used");
    }
    progress.step(c.name(), "BGSAVE");
    bgsave(c, pw, opts.wait).await?;
    let time = rfc3339(SystemTime::now());
    let name = format!(
        "{}-{}-{}",
        cluster.name,
        c.name(),
        time.replace([':', '-'], "")
    );
    let dir = opts.to.join(&name);
    files::create_private_dir(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let partial = dir.join(format!("{DUMP}.partial"));
    progress.step(c.name(), "downloading");
    let data = match download(c, &partial).await {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    progress.step(c.name(), "checking the file");
    let contents = match decode(&data) {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            anyhow::bail!("{}: the snapshot does not load here: {e}", c.name());
        }
    };
    let manifest = Manifest {
        cluster: cluster.name.clone(),
        node: c.name().to_string(),
        role: role.to_string(),
        time,
        replid: contents.replid,
        offset: contents.offset,
        keys: contents.keys,
        size: data.len() as u64,
        sha256: sha256_hex(&data),
        redrepl_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    std::fs::rename(&partial, dir.join(DUMP))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(&manifest)? + "\n";
    files::write_private(&dir.join(MANIFEST), json.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write the manifest in {}: {e}", dir.display()))?;
    progress.done(c.name(), "backed up");
    for c in conns {
        c.close().await;
    }
    Ok((dir, manifest))
}

/// One row of `backup --list`: a folder and its manifest, or why it cannot be used.
#[derive(Debug)]
pub struct Listed {
    /// The backup folder.
    pub dir: PathBuf,
    /// The manifest and whether the file checks out (`Err` says why not).
    pub state: Result<Manifest, String>,
}

/// The backups in `dir` (folders holding a manifest), oldest first, each checked whole.
pub fn list(dir: &Path) -> anyhow::Result<Vec<Listed>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    for e in entries.flatten() {
        let p = e.path();
        if !p.join(MANIFEST).exists() {
            continue;
        }
        let state = check(&p).map(|c| c.manifest).map_err(|e| e.to_string());
        out.push(Listed { dir: p, state });
    }
    out.sort_by(|a, b| {
        let t = |l: &Listed| l.state.as_ref().map(|m| m.time.clone()).unwrap_or_default();
        t(a).cmp(&t(b)).then(a.dir.cmp(&b.dir))
    });
    Ok(out)
}

/// `backup --list` as a table.
pub fn list_table(rows: &[Listed]) -> String {
    let mut out = format!(
        "{:<44} {:<10} {:<10} {:<21} {:>10} {:>12} {}\n",
        "BACKUP", "CLUSTER", "NODE", "TIME", "KEYS", "BYTES", "STATE"
    );
    for r in rows {
        let name = r
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &r.state {
            Ok(m) => out.push_str(&format!(
                "{:<44} {:<10} {:<10} {:<21} {:>10} {:>12} ok\n",
                name,
                m.cluster,
                m.node,
                m.time,
                m.total_keys(),
                m.size
            )),
            Err(e) => out.push_str(&format!(
                "{name:<44} {:<10} {:<10} {:<21} {:>10} {:>12} UNUSABLE: {e}\n",
                "-", "-", "-", "-", "-"
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        let t = |s: u64| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(t(1_795_789_837), "2026-11-27T14:30:37Z");
    }
}
