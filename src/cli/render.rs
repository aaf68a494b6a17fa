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
            template
                .render(cluster, n)
                .map(|text| (n.name.clone(), text))
                .map_err(|source| RenderError::Template {
                    node: n.name.clone(),
                    source,
                })
        })
        .collect()
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
