//! Loading: `redrepl server [CONFIG] [--name value ...]` the way redis-server reads it.
//! (Minimal first version; the directive table replaces the match below.)

use super::{Config, EnableFlag, LogLevel};
use std::ffi::OsString;
use std::path::PathBuf;

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// The config file, if one was given (absolute).
    pub file: Option<PathBuf>,
    /// Directives that were accepted but have no effect here (logged once at start).
    pub ignored: Vec<String>,
}

/// A configuration problem: where and why.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct ConfigError {
    /// `file:line`, or `command line` for overrides.
    pub location: String,
    /// What was wrong.
    pub reason: String,
}

/// Loads the configuration from redis-server style arguments.
pub fn load(args: &[OsString]) -> Result<Loaded, ConfigError> {
    let mut config = Config::default();
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first() {
        let s = first.to_string_lossy();
        if !s.starts_with("--") {
            let path = PathBuf::from(first);
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                location: path.display().to_string(),
                reason: format!("Fatal error, can't open config file: {e}"),
            })?;
            for (i, line) in text.lines().enumerate() {
                apply_line(&mut config, line).map_err(|reason| ConfigError {
                    location: format!("{}:{}", path.display(), i + 1),
                    reason,
                })?;
            }
            file = Some(std::fs::canonicalize(&path).unwrap_or(path));
            rest = &args[1..];
        }
    }
    let mut line = String::new();
    for a in rest {
        let s = a.to_string_lossy();
        if let Some(name) = s.strip_prefix("--") {
            if !line.is_empty() {
                apply_line(&mut config, &line).map_err(|reason| ConfigError {
                    location: "command line".into(),
                    reason,
                })?;
            }
            line = name.to_string();
        } else {
            line.push(' ');
            line.push_str(&s);
        }
    }
    if !line.is_empty() {
        apply_line(&mut config, &line).map_err(|reason| ConfigError {
            location: "command line".into(),
            reason,
        })?;
    }
    Ok(Loaded {
        config,
        file,
        ignored: Vec::new(),
    })
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn apply_line(c: &mut Config, line: &str) -> Result<(), String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let args = crate::resp::split_args(line.as_bytes())
        .ok_or("Unbalanced quotes in configuration line")?;
    let args: Vec<String> = args
        .into_iter()
        .map(|a| String::from_utf8_lossy(&a).into_owned())
        .collect();
    let name = args[0].to_ascii_lowercase();
    let v = args.get(1).cloned().unwrap_or_default();
    let int = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| "argument couldn't be parsed into an integer".to_string())
    };
    match name.as_str() {
        "port" => c.port = int(&v)? as u16,
        "bind" => {
            c.bind = args[1..].to_vec();
            c.bind_explicit = true;
        }
        "protected-mode" => c.protected_mode = yes_no(&v)?,
        "daemonize" => c.daemonize = yes_no(&v)?,
        "pidfile" => c.pidfile = v,
        "logfile" => c.logfile = v,
        "loglevel" => {
            c.loglevel =
                match v.as_str() {
                    "debug" => LogLevel::Debug,
                    "verbose" => LogLevel::Verbose,
                    "notice" => LogLevel::Notice,
                    "warning" => LogLevel::Warning,
                    _ => return Err(
                        "argument(s) must be one of the following: debug, verbose, notice, warning"
                            .into(),
                    ),
                }
        }
        "requirepass" => {
            c.requirepass = if v.is_empty() {
                None
            } else {
                Some(v.into_bytes())
            }
        }
        "masterauth" => c.masterauth = Some(v.into_bytes()),
        "dir" => c.dir = v,
        "dbfilename" => c.dbfilename = v,
        "databases" => c.databases = int(&v)?,
        "timeout" => c.timeout = int(&v)?,
        "tcp-keepalive" => c.tcp_keepalive = int(&v)?,
        "maxclients" => c.maxclients = int(&v)?,
        "hz" => c.hz = int(&v)?,
        "save" => c.save = Vec::new(),
        "appendonly" => {}
        "enable-debug-command" => {
            c.enable_debug_command = match v.as_str() {
                "yes" => EnableFlag::Yes,
                "local" => EnableFlag::Local,
                "no" => EnableFlag::No,
                _ => return Err("argument must be 'yes', 'no' or 'local'".into()),
            }
        }
        "replicaof" | "slaveof" => {
            c.replicaof = Some((
                v,
                int(args.get(2).map(|s| s.as_str()).unwrap_or(""))? as u16,
            ))
        }
        _ => return Err("Bad directive or wrong number of arguments".into()),
    }
    Ok(())
}
