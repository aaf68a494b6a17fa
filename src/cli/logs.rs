//! `redrepl logs INVENTORY [NODE...] [-n LINES] [-f]`: the servers' log files, read on each
//! node (`tail` over SSH, or here), every line prefixed with its node. With `-f` the files are
//! followed on every node at once and lines are printed as they arrive, so the output is in
//! time order. The servers never log the password; each line is checked anyway and the
//! password, should it appear, is replaced by `********`.

use crate::cli::cluster::Cluster;
use crate::cli::deploy;
use crate::cli::node::NodeConn;
use crate::cli::progress::Progress;
use crate::cli::ssh::{NewHostKeys, shell_quote};

/// Options of `logs`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only these nodes (all when empty).
    pub nodes: Vec<String>,
    /// Lines from the end of each file.
    pub lines: u64,
    /// Follow (`tail -F`) until Ctrl-C.
    pub follow: bool,
}

/// One output line: `node | text`, with the password masked.
pub fn prefixed(node: &str, width: usize, line: &str, password: Option<&str>) -> String {
    let line = match password {
        Some(p) if !p.is_empty() && line.contains(p) => line.replace(p, "********"),
        _ => line.to_string(),
    };
    format!("{node:<width$} | {line}")
}

/// Splits streamed bytes into whole lines (the rest kept for the next chunk).
#[derive(Debug, Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Feeds a chunk; returns the lines it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            out.push(String::from_utf8_lossy(&line[..i]).into_owned());
        }
        out
    }
}

fn tail_command(c: &NodeConn, lines: u64, follow: bool) -> String {
    format!(
        "exec tail -n {lines}{} {}",
        if follow { " -F" } else { "" },
        shell_quote(&c.node.logfile)
    )
}

/// Prints the logs.
pub async fn logs(cluster: &Cluster, opts: &Options, progress: &Progress) -> anyhow::Result<()> {
    for name in &opts.nodes {
        if cluster.node(name).is_none() {
            anyhow::bail!("no node named {name:?} in the inventory");
        }
    }
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let conns = deploy::connect_or_fail(cluster, NewHostKeys::Refuse, progress).await?;
    progress.finish();
    let chosen: Vec<&NodeConn> = conns
        .iter()
        .filter(|c| opts.nodes.is_empty() || opts.nodes.iter().any(|n| n == c.name()))
        .collect();
    let width = chosen.iter().map(|c| c.name().len()).max().unwrap_or(0);
    for c in &chosen {
        if c.node.logfile.is_empty() {
            crate::outln!(
                "{}",
                prefixed(
                    c.name(),
                    width,
                    "(logs to standard output: no log file)",
                    None
                )
            );
        }
    }
    let with_file: Vec<&NodeConn> = chosen
        .into_iter()
        .filter(|c| !c.node.logfile.is_empty())
        .collect();
    let tasks = with_file.iter().map(|c| async move {
        let mut lines = Lines::default();
        let name = c.name().to_string();
        let mut buffered = Vec::new();
        let follow = opts.follow;
        let r = c
            .sh_streamed(
                &tail_command(c, opts.lines, follow),
                &mut |chunk: &[u8]| {
                    for l in lines.feed(chunk) {
                        let l = prefixed(&name, width, &l, pw);
                        if follow {
                            crate::outln!("{l}");
                        } else {
                            buffered.push(l);
                        }
                    }
                },
            )
            .await;
        (buffered, r)
    });
    let run = futures::future::join_all(tasks);
    let results = if opts.follow {
        tokio::select! {
            r = run => r,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    } else {
        run.await
    };
    let mut errors = Vec::new();
    for (buffered, r) in results {
        for l in buffered {
            crate::outln!("{l}");
        }
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    }
    for c in conns {
        c.close().await;
    }
    if !errors.is_empty() {
        anyhow::bail!("cannot read some logs:\n  {}", errors.join("\n  "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks_and_the_password_masked() {
        let mut l = Lines::default();
        assert_eq!(l.feed(b"one\ntw"), ["one"]);
        assert_eq!(l.feed(b"o\nthree\n"), ["two", "three"]);
        assert_eq!(
            prefixed("n1", 4, "AUTH s3cret ok", Some("s3cret")),
            "n1   | AUTH ******** ok"
        );
    }
}
