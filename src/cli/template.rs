//! The redis.conf template: the built-in `templates/redis.conf.j2`, or the user's copy next to
//! the inventory, rendered with minijinja for one node at a time.

use crate::cli::cluster::{Cluster, Node};
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The built-in template, as shipped in `templates/redis.conf.j2`.
pub const BUILTIN: &str = include_str!("../../templates/redis.conf.j2");

/// Where a user's copy of the template lives, relative to the inventory's folder.
pub const USER_COPY: &str = "templates/redis.conf.j2";

/// A template that failed to parse or render.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The user's template could not be read.
    #[error("cannot read template {path}")]
    Io {
        /// The template file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// minijinja refused the template or failed while rendering it.
    #[error("{origin}:{line}: {message}")]
    Render {
        /// The template file (or "built-in redis.conf.j2").
        origin: String,
        /// 1-based line in the template (0 when unknown).
        line: usize,
        /// What went wrong.
        message: String,
    },
}

/// A loaded template and where it came from.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    origin: String,
}

impl Template {
    /// The built-in template.
    pub fn builtin() -> Self {
        Template {
            source: BUILTIN.to_owned(),
            origin: "built-in redis.conf.j2".to_owned(),
        }
    }

    /// The user's copy in `<inventory_dir>/templates/redis.conf.j2` if it exists, else the
    /// built-in one.
    pub fn for_inventory(inventory_dir: &Path) -> Result<Self, TemplateError> {
        Self::for_inventory_file(inventory_dir, USER_COPY, BUILTIN, "built-in redis.conf.j2")
    }

    /// A template from a string (tests, tools).
    pub fn from_source(source: impl Into<String>, origin: impl Into<String>) -> Self {
        Template {
            source: source.into(),
            origin: origin.into(),
        }
    }

    /// Where the template came from (a path, or "built-in redis.conf.j2").
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Renders the config of `node` (which must belong to `cluster`).
    pub fn render(&self, cluster: &Cluster, node: &Node) -> Result<String, TemplateError> {
        self.render_context(&context(cluster, node))
    }

    /// The user's copy at `<inventory_dir>/<user_copy>` if it exists, else `builtin` (named
    /// `builtin_name` in errors). [`Template::for_inventory`] for any other template.
    pub fn for_inventory_file(
        inventory_dir: &Path,
        user_copy: &str,
        builtin: &str,
        builtin_name: &str,
    ) -> Result<Self, TemplateError> {
        let path = inventory_dir.join(user_copy);
        match std::fs::read_to_string(&path) {
            Ok(source) => Ok(Template::from_source(source, path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Template::from_source(builtin, builtin_name))
            }
            Err(source) => Err(TemplateError::Io { path, source }),
        }
    }

    /// Renders with any context (the filters `q` and `yesno` are there); ends with a newline.
    pub fn render_context<S: Serialize>(&self, ctx: &S) -> Result<String, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("q", quote);
        env.add_filter("yesno", |b: bool| if b { "yes" } else { "no" });
        let err = |e: minijinja::Error| TemplateError::Render {
            origin: self.origin.clone(),
            line: e.line().unwrap_or(0),
            message: match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            },
        };
        let tmpl = env
            .template_from_named_str("template.j2", &self.source)
            .map_err(err)?;
        let mut out = tmpl
            .render(Value::from(minijinja::value::Serde(ctx)))
            .map_err(err)?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(out)
    }
}

/// Quotes a value for redis.conf (Redis's `sdssplitargs` reads it back unchanged).
pub fn quote(s: String) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Serialize)]
struct NodeCtx<'a> {
    name: &'a str,
    host: &'a str,
    port: u16,
    dir: &'a str,
    config_path: &'a str,
    logfile: &'a str,
    dbfilename: &'a str,
    daemonize: bool,
    protected_mode: bool,
    bind: &'a [String],
    persistence: Option<&'static str>,
}

#[derive(Serialize)]
struct MasterCtx<'a> {
    name: &'a str,
    host: &'a str,
    port: u16,
}

#[derive(Serialize)]
struct SentinelCtx {
    min_replicas_to_write: u32,
    min_replicas_max_lag: u32,
}

/// `security`: TLS files and ACL users (issue 14); None when the inventory has neither.
#[derive(Serialize)]
struct SecurityCtx<'a> {
    /// The node's own TLS files (None: plain TCP).
    tls: Option<crate::cli::certs::RemoteFiles>,
    /// `user` lines: name and rules (the password as its SHA-256).
    users: Vec<UserCtx<'a>>,
    /// The default user has no password: it is turned off.
    default_off: bool,
    /// `masteruser` on replicas (the replication user).
    masteruser: Option<&'a str>,
    /// `masterauth` on replicas when it differs from `password`.
    masterauth: Option<&'a str>,
}

#[derive(Serialize)]
struct UserCtx<'a> {
    name: &'a str,
    rules: String,
}

#[derive(Serialize)]
struct Ctx<'a> {
    cluster: &'a str,
    engine: &'a str,
    password: Option<&'a str>,
    node: NodeCtx<'a>,
    master: Option<MasterCtx<'a>>,
    sentinel: Option<SentinelCtx>,
    security: Option<SecurityCtx<'a>>,
}

fn security<'a>(cluster: &'a Cluster, node: &'a Node) -> Option<SecurityCtx<'a>> {
    let s = &cluster.security;
    if !s.tls && s.users.is_empty() {
        return None;
    }
    let (masteruser, masterauth) = match cluster.master_login() {
        // With sentinels the master too: they turn a returning old master into a replica.
        (Some(u), pw) if node.replicaof.is_some() || cluster.sentinels.is_some() => {
            (Some(u), pw.map(|p| p.expose()))
        }
        _ => (None, None),
    };
    Some(SecurityCtx {
        tls: s.tls.then(|| crate::cli::certs::RemoteFiles::of(node)),
        users: s
            .users
            .iter()
            .map(|u| UserCtx {
                name: &u.name,
                rules: u.config_rules(),
            })
            .collect(),
        default_off: !s.users.is_empty() && s.default_password.is_none(),
        masteruser,
        masterauth,
    })
}

fn context<'a>(cluster: &'a Cluster, node: &'a Node) -> Ctx<'a> {
    let master = node
        .replicaof
        .as_deref()
        .and_then(|m| cluster.node(m))
        .map(|m| MasterCtx {
            name: &m.name,
            host: &m.host,
            port: m.port,
        });
    Ctx {
        cluster: &cluster.name,
        engine: cluster.engine.as_str(),
        password: cluster
            .security
            .default_password
            .as_ref()
            .map(|p| p.expose()),
        node: NodeCtx {
            name: &node.name,
            host: &node.host,
            port: node.port,
            dir: &node.dir,
            config_path: &node.config_path,
            logfile: &node.logfile,
            dbfilename: &node.dbfilename,
            daemonize: node.daemonize,
            protected_mode: node.protected_mode,
            bind: &node.bind,
            persistence: node.persistence.map(|p| p.as_str()),
        },
        master,
        sentinel: cluster.sentinels.as_ref().map(|s| SentinelCtx {
            min_replicas_to_write: s.min_replicas_to_write,
            min_replicas_max_lag: s.min_replicas_max_lag,
        }),
        security: security(cluster, node),
    }
}

#[cfg(test)]
mod tests;
