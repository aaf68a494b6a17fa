//! `redrepl render`: one redis.conf per node, written 0600 into a folder; nothing remote.

use crate::cli::cluster::Cluster;
use crate::cli::files;
use crate::cli::template::{Template, TemplateError};
use std::path::{Path, PathBuf};

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A node's template failed.
    #[error("node {node}: {source}")]
    Template {
        /// The node.
        node: String,
        /// The template error (names the template line).
        source: TemplateError,
    },
    /// The template leaves out what `tls:`/`users:` need (a copy made before they existed).
    #[error(
        "node {node}: the template renders no `{missing}` line although the inventory asks \
         for it (a copy of templates/redis.conf.j2 made before tls:/users: existed?): copy the \
         `security` block from the built-in template (`redrepl init` in an empty folder writes it)"
    )]
    Security {
        /// The node.
        node: String,
        /// The directive that is missing.
        missing: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Renders every node's config in memory: `(node name, text)` in inventory order.
pub fn render_all(
    cluster: &Cluster,
    template: &Template,
) -> Result<Vec<(String, String)>, RenderError> {
    cluster
        .nodes
        .iter()
        .map(|n| {
            let text = template
                .render(cluster, n)
                .map_err(|source| RenderError::Template {
                    node: n.name.clone(),
                    source,
                })?;
            check_security(cluster, &n.name, &text)?;
            Ok((n.name.clone(), text))
        })
        .collect()
}

/// Refuses a rendered config that lacks the TLS or user lines the inventory asks for: the
/// orchestrator would speak TLS to a plain server, or log in as a user that does not exist.
fn check_security(cluster: &Cluster, node: &str, text: &str) -> Result<(), RenderError> {
    let has = |prefix: &str| text.lines().any(|l| l.trim_start().starts_with(prefix));
    let mut wanted: Vec<String> = Vec::new();
    if cluster.security.tls {
        wanted.push("tls-port ".into());
    }
    wanted.extend(
        cluster
            .security
            .users
            .iter()
            .map(|u| format!("user {} ", u.name)),
    );
    match wanted.iter().find(|w| !has(w)) {
        Some(w) => Err(RenderError::Security {
            node: node.to_string(),
            missing: w.trim_end().to_string(),
        }),
        None => Ok(()),
    }
}

/// Renders every node into `out_dir/<node>.conf` (mode 0600) and returns the paths written.
/// Nothing is written unless every node renders.
pub fn render_to_dir(
    cluster: &Cluster,
    template: &Template,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, RenderError> {
    let rendered = render_all(cluster, template)?;
    files::create_private_dir(out_dir).map_err(|source| RenderError::Io {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text) in rendered {
        let path = out_dir.join(format!("{name}.conf"));
        files::write_private(&path, text.as_bytes()).map_err(|source| RenderError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
