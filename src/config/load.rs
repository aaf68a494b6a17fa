//! Loading: `redrepl server [CONFIG] [--name value ...]` the way redis-server reads it.
//!
//! The config file is read line by line (`include` pulls other files in, relative to the
//! working directory like Redis); then the command-line options are joined into config
//! lines exactly as redis-server joins them (`--port 6380 --save ""` becomes
//! `port "6380"` and `save ""`) and applied after the file. Every line goes through the
//! directive table ([`super::table`]); the first bad line stops loading with its location.

use super::Config;
use super::table::{self, SetCtx};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

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
    /// What was wrong, in Redis's words.
    pub reason: String,
    /// The offending line as Redis echoes it (`>>> '...'`), with the value of a sensitive
    /// directive replaced; `None` when the problem is not one line (unreadable file).
    pub line: Option<String>,
}

impl ConfigError {
    /// The report redis-server prints before exiting (without the banner line).
    pub fn report(&self) -> String {
        match &self.line {
            Some(l) => format!(
                "Reading the configuration file, at {}\n>>> '{l}'\n{}",
                self.location, self.reason
            ),
            None => self.reason.clone(),
        }
    }
}

/// An I/O error as `strerror` words it (without Rust's " (os error N)").
fn os_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

/// Nesting limit for `include` (guards against a file including itself).
const MAX_INCLUDE_DEPTH: usize = 16;

struct Loader {
    config: Config,
    ctx: SetCtx,
    ignored: Vec<String>,
    /// Where each not-implemented directive was last set (location, line as echoed), so a
    /// refused final value is reported at the line that set it.
    origins: std::collections::BTreeMap<&'static str, (String, String)>,
    depth: usize,
    /// Check that `dir` exists while loading, as redis-server does (it changes into it).
    check_dir: bool,
}

impl Loader {
    fn new() -> Loader {
        Loader {
            config: Config::default(),
            ctx: SetCtx {
                loading: true,
                save_loaded: false,
            },
            ignored: Vec::new(),
            origins: Default::default(),
            depth: 0,
            check_dir: false,
        }
    }

    fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read(path).map_err(|e| ConfigError {
            location: path.display().to_string(),
            reason: format!(
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                os_reason(&e)
            ),
            line: None,
        })?;
        let text = String::from_utf8_lossy(&text).into_owned();
        let origin = path.display().to_string();
        for (i, line) in text.split('\n').enumerate() {
            self.load_line(line, &format!("{origin}:{}", i + 1))?;
        }
        Ok(())
    }

    fn load_line(&mut self, line: &str, location: &str) -> Result<(), ConfigError> {
        let trimmed = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        let fail = |reason: String| ConfigError {
            location: location.to_string(),
            reason,
            line: Some(redact(trimmed)),
        };
        let Some(args) = crate::resp::split_args(trimmed.as_bytes()) else {
            return Err(fail("Unbalanced quotes in configuration line".into()));
        };
        let args: Vec<String> = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        if args.is_empty() {
            return Ok(());
        }
        let name = args[0].to_ascii_lowercase();
        if name == "include" && args.len() == 2 {
            if self.depth >= MAX_INCLUDE_DEPTH {
                return Err(fail("Too many nested includes".into()));
            }
            self.depth += 1;
            let r = self.load_file(Path::new(&args[1]));
            self.depth -= 1;
            return r;
        }
        apply_args(&mut self.config, &args, &mut self.ctx).map_err(fail)?;
        if name == "dir" && self.check_dir {
            match std::fs::metadata(&self.config.dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(fail("Not a directory".into())),
                Err(e) => return Err(fail(os_reason(&e))),
            }
        }
        if let Some(o) =
            table::lookup_other(&name).filter(|o| !IMPLEMENTED_HIDDEN.contains(&o.name))
        {
            self.origins
                .insert(o.name, (location.to_string(), redact(trimmed)));
            if !self.ignored.contains(&name) && !table::TLS_IMPLEMENTED.contains(&o.name) {
                self.ignored.push(name);
            }
        }
        Ok(())
    }

    /// The loaded configuration, once every line is in: a directive flagged
    /// [`table::Other::unsupported`] whose final value is not Redis's default stops here,
    /// at the line that set it (before anything else happens).
    fn finish(self, file: Option<PathBuf>) -> Result<Loaded, ConfigError> {
        for (name, (location, line)) in &self.origins {
            let Some(o) = table::lookup_other(name) else {
                continue;
            };
            let refused = match self.config.other.get(*name) {
                Some(args) => o.refusal(args),
                // Hidden directives (`user`, `rename-command`) are not stored as values.
                None => o.refusal(&[]),
            };
            if let Some(reason) = refused {
                return Err(ConfigError {
                    location: location.clone(),
                    reason,
                    line: Some(line.clone()),
                });
            }
        }
        Ok(Loaded {
            config: self.config,
            file,
            ignored: self.ignored,
        })
    }
}

/// Hidden directives (not configs in Redis) that redrepl implements: kept in their own
/// Config fields, never reported as ignored.
const IMPLEMENTED_HIDDEN: &[&str] = &["user", "rename-command"];

/// Applies one parsed config line (`name arg...`) to `config`; the error is Redis's reason.
/// `include` is the loader's business and is refused here.
pub fn apply_args(config: &mut Config, args: &[String], ctx: &mut SetCtx) -> Result<(), String> {
    let name = args[0].to_ascii_lowercase();
    if let Some(d) = table::lookup(&name) {
        if !d.multi_arg() && args.len() != 2 {
            return Err("wrong number of arguments".into());
        }
        if d.multi_arg() && args.len() == 2 && !args[1].is_empty() {
            // `--replicaof "10.0.0.1 6379"`: one argument holding several.
            let split = crate::resp::split_args(args[1].as_bytes())
                .ok_or_else(|| "Unbalanced quotes in configuration line".to_string())?;
            let split: Vec<String> = split
                .into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect();
            return (d.set)(config, &split, ctx);
        }
        return (d.set)(config, &args[1..], ctx);
    }
    if name == "user" && args.len() >= 2 {
        let line = crate::server::acl::file::check_config_user(&args[1..], &config.users)?;
        config.users.push(line);
        return Ok(());
    }
    if name == "rename-command" {
        if args.len() != 3 {
            return Err("wrong number of arguments".into());
        }
        crate::server::commands::rename::check(&config.rename_commands, &args[1], &args[2])?;
        config
            .rename_commands
            .push((args[1].clone(), args[2].clone()));
        return Ok(());
    }
    if let Some(o) = table::lookup_other(&name) {
        if args.len() < 2 {
            return Err("wrong number of arguments".into());
        }
        o.check(&args[1..])?;
        config.other.insert(o.name.to_string(), args[1..].to_vec());
        return Ok(());
    }
    Err("Bad directive or wrong number of arguments".into())
}

/// Parses one config-file line and applies it (comments and blank lines do nothing).
pub fn apply_line(config: &mut Config, line: &str, ctx: &mut SetCtx) -> Result<(), String> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(());
    }
    let args = crate::resp::split_args(trimmed.as_bytes())
        .ok_or("Unbalanced quotes in configuration line")?;
    let args: Vec<String> = args
        .into_iter()
        .map(|a| String::from_utf8_lossy(&a).into_owned())
        .collect();
    apply_args(config, &args, ctx)
}

/// The line as echoed in an error, with the value of a sensitive directive hidden.
fn redact(line: &str) -> String {
    let name = line.split_whitespace().next().unwrap_or("");
    if table::is_sensitive(name) {
        format!("{name} <redacted>")
    } else {
        line.to_string()
    }
}

/// Quotes `s` the way Redis's `sdscatrepr` does (`"..."` with `\n`, `\"`, `\xHH` escapes).
pub fn repr(s: &str) -> String {
    repr_bytes(s.as_bytes())
}

/// [`repr`] of any bytes (Redis's sdscatrepr), e.g. MONITOR's arguments.
pub fn repr_bytes(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Joins command-line options into config lines the way redis-server's `main` does.
pub fn options_to_lines(args: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut handled_last = true;
    for (j, a) in args.iter().enumerate() {
        if handled_last && a.starts_with("--") {
            lines.push(format!("{} ", &a[2..]));
            let words = crate::resp::split_args(a.as_bytes())
                .map(|w| w.len())
                .unwrap_or(1);
            if words == 1 {
                handled_last = false;
                let next_is_option = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
                if a.eq_ignore_ascii_case("--save") && (next_is_option || j + 1 == args.len()) {
                    // `--save` with no value means `save ""` (Redis 7.0.1+).
                    lines.last_mut().unwrap().push_str("\"\"");
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            let line = match lines.last_mut() {
                Some(l) => l,
                None => {
                    lines.push(String::new());
                    lines.last_mut().unwrap()
                }
            };
            line.push_str(&repr(a));
            line.push(' ');
            handled_last = true;
        }
    }
    lines
}

/// Loads the configuration from redis-server style arguments: an optional config file,
/// then `--name value` overrides.
pub fn load(args: &[OsString]) -> Result<Loaded, ConfigError> {
    let mut loader = Loader::new();
    loader.check_dir = true;
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first()
        && !first.to_string_lossy().starts_with("--")
    {
        let path = PathBuf::from(first);
        loader.load_file(&path)?;
        file = Some(std::fs::canonicalize(&path).unwrap_or(path));
        rest = &args[1..];
    }
    let rest: Vec<String> = rest
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for line in options_to_lines(&rest) {
        loader.load_line(&line, "command line")?;
    }
    loader.finish(file)
}

/// Loads a configuration from text (as if it were a file named `origin`); for tests and
/// tools that render configs.
pub fn load_str(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
    let mut loader = Loader::new();
    for (i, line) in text.split('\n').enumerate() {
        loader.load_line(line, &format!("{origin}:{}", i + 1))?;
    }
    loader.finish(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EnableFlag, LogLevel};

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn typed_values_and_units() {
        let l = load_str(
            "port 6380\nmaxmemory 1gb\nrepl-backlog-size 100mb\nproto-max-bulk-len 2mb\nloglevel verbose\n\
             protected-mode no\nenable-debug-command local\nhash-max-ziplist-entries 7\n",
            "t.conf",
        )
        .unwrap();
        let c = l.config;
        assert_eq!(c.port, 6380);
        assert_eq!(c.maxmemory, 1 << 30);
        assert_eq!(c.repl_backlog_size, 100 << 20);
        assert_eq!(c.proto_max_bulk_len, 2 << 20);
        assert_eq!(c.loglevel, LogLevel::Verbose);
        assert!(!c.protected_mode);
        assert_eq!(c.enable_debug_command, EnableFlag::Local);
        assert_eq!(c.hash_max_listpack_entries, 7);
    }

    #[test]
    fn quoting_and_aliases() {
        let l = load_str(
            "logfile \"/tmp/a b.log\"\ndbfilename 'x\\'y.rdb'\nslaveof 10.0.0.1 6379\nslave-read-only no\nmasterauth \"p\\x41ss\"\n",
            "t.conf",
        )
        .unwrap();
        assert_eq!(l.config.logfile, "/tmp/a b.log");
        assert_eq!(l.config.dbfilename, "x'y.rdb");
        assert_eq!(l.config.replicaof, Some(("10.0.0.1".into(), 6379)));
        assert!(!l.config.replica_read_only);
        assert_eq!(l.config.masterauth.as_deref(), Some(&b"pAss"[..]));
    }

    #[test]
    fn save_lines_accumulate_and_empty_clears() {
        let c = load_str("save 900 1\nsave 300 10\n", "t").unwrap().config;
        assert_eq!(c.save, vec![(900, 1), (300, 10)]);
        let c = load_str("save 900 1 300 10 60 10000\n", "t")
            .unwrap()
            .config;
        assert_eq!(c.save, vec![(900, 1), (300, 10), (60, 10000)]);
        let c = load_str("save \"\"\n", "t").unwrap().config;
        assert!(c.save.is_empty());
        let c = load_str("port 1\n", "t").unwrap().config;
        assert_eq!(c.save, Config::default().save);
        let e = load_str("save 900\n", "t").unwrap_err();
        assert_eq!(e.reason, "Invalid save parameters");
    }

    #[test]
    fn bind_and_client_output_buffer_limit() {
        let c = load_str(
            "bind 127.0.0.1 -::1\nclient-output-buffer-limit replica 512mb 128mb 30 pubsub 1k 2k 3\n",
            "t",
        )
        .unwrap()
        .config;
        assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
        assert!(c.bind_explicit);
        assert_eq!(c.client_output_buffer_limit[1], (512 << 20, 128 << 20, 30));
        assert_eq!(c.client_output_buffer_limit[2], (1000, 2000, 3));
        let e = load_str("client-output-buffer-limit bogus 1 2 3\n", "t").unwrap_err();
        assert_eq!(
            e.reason,
            "Invalid client class specified in buffer limit configuration."
        );
    }

    #[test]
    fn errors_carry_location_and_line() {
        let e = load_str("port 6379\n\n# c\nfoo bar\n", "/x/r.conf").unwrap_err();
        assert_eq!(e.location, "/x/r.conf:4");
        assert_eq!(e.reason, "Bad directive or wrong number of arguments");
        assert_eq!(e.line.as_deref(), Some("foo bar"));
        assert!(e.report().contains(">>> 'foo bar'"));
        let e = load_str("daemonize perhaps\n", "r.conf").unwrap_err();
        assert_eq!(e.to_string(), "r.conf:1: argument must be 'yes' or 'no'");
        let e = load_str("port 70000\n", "r.conf").unwrap_err();
        assert_eq!(e.reason, "argument must be between 0 and 65535 inclusive");
        let e = load_str("port 1 2\n", "r.conf").unwrap_err();
        assert_eq!(e.reason, "wrong number of arguments");
        let e = load_str("dir \"unbalanced\n", "r.conf").unwrap_err();
        assert_eq!(e.reason, "Unbalanced quotes in configuration line");
        let e = load_str("loglevel loud\n", "r.conf").unwrap_err();
        assert_eq!(
            e.reason,
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        );
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let e = load_str("requirepass \"s3cret\" extra\n", "r.conf").unwrap_err();
        let all = format!("{e} {} {:?}", e.report(), e);
        assert!(!all.contains("s3cret"), "{all}");
        let e = load_str("masterauth 's3cret\n", "r.conf").unwrap_err();
        let all = format!("{e} {} {:?}", e.report(), e);
        assert!(!all.contains("s3cret"), "{all}");
        // Refused for TLS, still not echoed.
        let e = load_str("tls-key-file-pass s3cret\n", "r.conf").unwrap_err();
        let all = format!("{e} {} {:?}", e.report(), e);
        assert!(
            !all.contains("s3cret") && all.contains("<redacted>"),
            "{all}"
        );
        let l = load_str("requirepass s3cret\nmasterauth s3cret\n", "r.conf").unwrap();
        let all = format!("{l:?}");
        assert!(
            !all.contains("s3cret") && all.contains("<redacted>"),
            "{all}"
        );
    }

    #[test]
    fn ignored_directives_are_stored_and_listed() {
        // The final value counts: `crash-log-enabled no` overridden by `... yes` loads.
        let l = load_str(
            "crash-log-enabled no\nlazyfree-lazy-eviction yes\ncrash-log-enabled yes\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            l.ignored,
            vec!["crash-log-enabled", "lazyfree-lazy-eviction"]
        );
        assert_eq!(l.config.other["crash-log-enabled"], vec!["yes"]);
        let e = load_str("crash-log-enabled maybe\n", "t").unwrap_err();
        assert_eq!(e.reason, "argument must be 'yes' or 'no'");
        let e = load_str("slowlog-max-len lots\n", "t").unwrap_err();
        assert_eq!(e.reason, "argument couldn't be parsed into an integer");
        let l = load_str(
            "slowlog-log-slower-than -1\nauto-aof-rewrite-min-size 64mb\nsupervised systemd\n",
            "t",
        );
        assert!(l.is_ok());
    }

    #[test]
    fn unsupported_values_stop_loading_at_their_line() {
        let e = load_str("port 7000\ncluster-enabled  yes\nhz 20\n", "r.conf").unwrap_err();
        assert_eq!(e.location, "r.conf:2");
        assert_eq!(
            e.report(),
            "Reading the configuration file, at r.conf:2\n>>> 'cluster-enabled  yes'\n\
             cluster-enabled is not supported by redrepl (yet) except with its default 'no': \
             data model: cluster mode (hash slots, MOVED) is not implemented"
        );
        // ACL users and renamed commands load; a broken user line stops loading without
        // echoing a password.
        let l = load_str(
            "rename-command FLUSHALL \"\"\nuser alice on >s3cret ~* +@all\n",
            "r.conf",
        )
        .unwrap();
        assert_eq!(l.config.users.len(), 1);
        assert_eq!(l.config.rename_commands.len(), 1);
        let e = load_str("user alice on >s3cret bogus\n", "r.conf").unwrap_err();
        let all = format!("{} {e:?}", e.report());
        assert!(all.contains("Syntax error"), "{all}");
        assert!(!all.contains("s3cret"), "{all}");
        let e = load_str("rename-command nope x\n", "r.conf").unwrap_err();
        assert_eq!(e.reason, "No such command in rename-command");
        for line in [
            "tls-cluster yes",
            "tls-ciphers HIGH",
            "tls-dh-params-file /etc/dh.pem",
            "cluster-enabled yes",
            "loadmodule /x.so",
            "unixsocket /run/redis.sock",
            "shutdown-on-sigterm nosave",
            "shutdown-timeout 30",
            "slave-ignore-maxmemory no",
        ] {
            let e = load_str(&format!("{line}\n"), "c").unwrap_err();
            assert!(
                e.reason.contains("not supported by redrepl (yet)"),
                "{line}: {e}"
            );
        }
        // Defaults in other spellings, and tuning knobs, load.
        load_str(
            "appendonly NO\ntls-port 0\nnotify-keyspace-events \"\"\nshutdown-timeout 10\n\
             io-threads 4\nactiverehashing no\nlazyfree-lazy-expire yes\nappendfsync always\n\
             auto-aof-rewrite-min-size 64mb\ntls-auth-clients yes\n",
            "c",
        )
        .unwrap_or_else(|e| panic!("{}", e.report()));
        // A command-line override to the default wins over the file.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.conf");
        std::fs::write(&f, "cluster-enabled yes\n").unwrap();
        assert!(load(&os(&[f.to_str().unwrap()])).is_err());
        let l = load(&os(&[f.to_str().unwrap(), "--cluster-enabled", "no"])).unwrap();
        assert_eq!(l.config.other["cluster-enabled"], vec!["no"]);
        let e = load(&os(&["--tls-cluster", "yes"])).unwrap_err();
        assert_eq!(e.location, "command line");
    }

    #[test]
    fn command_line_like_redis_server() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.conf");
        std::fs::write(&f, "port 7000\nsave 10 1\nrequirepass abc\n").unwrap();
        let mut args = os(&[
            f.to_str().unwrap(),
            "--port",
            "7001",
            "--replicaof",
            "10.0.0.1 6379",
            "--save",
            "",
        ]);
        args.extend(os(&[
            "--requirepass",
            "with space",
            "--loglevel",
            "warning",
        ]));
        let l = load(&args).unwrap();
        assert_eq!(l.config.port, 7001);
        assert_eq!(l.config.replicaof, Some(("10.0.0.1".into(), 6379)));
        assert!(l.config.save.is_empty());
        assert_eq!(l.config.requirepass.as_deref(), Some(&b"with space"[..]));
        assert_eq!(l.config.loglevel, LogLevel::Warning);
        assert!(l.file.unwrap().is_absolute());

        let l = load(&os(&["--save", "--port", "7002"])).unwrap();
        assert!(l.config.save.is_empty());
        assert_eq!(l.config.port, 7002);
        let l = load(&os(&["--replicaof", "127.0.0.1", "6390"])).unwrap();
        assert_eq!(l.config.replicaof, Some(("127.0.0.1".into(), 6390)));
        let e = load(&os(&["--port", "x"])).unwrap_err();
        assert_eq!(e.location, "command line");
        let e = load(&os(&["--dir", "/nonexistent-dir"])).unwrap_err();
        assert_eq!(e.reason, "No such file or directory");
        let e = load(&os(&["--replicaof", "10.0.0.1"])).unwrap_err();
        assert_eq!(e.reason, "wrong number of arguments");
        let e = load(&os(&["/nonexistent.conf"])).unwrap_err();
        assert_eq!(
            e.report(),
            "Fatal error, can't open config file '/nonexistent.conf': No such file or directory"
        );
        let e = load(&os(&["--nosuch", "1"])).unwrap_err();
        assert_eq!(e.reason, "Bad directive or wrong number of arguments");
    }

    #[test]
    fn include_is_relative_to_cwd_and_missing_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "port 7100\n").unwrap();
        let l = load_str(&format!("include {}\nmaxclients 5\n", inc.display()), "t").unwrap();
        assert_eq!(l.config.port, 7100);
        assert_eq!(l.config.maxclients, 5);
        let e = load_str("include /nonexistent/x.conf\n", "t").unwrap_err();
        assert!(e.reason.contains("can't open config file"), "{}", e.reason);
        let self_inc = dir.path().join("self.conf");
        std::fs::write(&self_inc, format!("include {}\n", self_inc.display())).unwrap();
        assert!(load(&os(&[self_inc.to_str().unwrap()])).is_err());
    }

    const NEED_REDIS: &str = "/etc/redis/redis.conf is missing: install Debian's redis-server (apt-get install -y redis-server)";

    #[test]
    fn debian_redis_conf_loads() {
        let text = std::fs::read_to_string("/etc/redis/redis.conf").expect(NEED_REDIS);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("redis.conf");
        std::fs::write(&f, &text).unwrap();
        let l = load(&os(&[f.to_str().unwrap()])).unwrap_or_else(|e| panic!("{}", e.report()));
        let c = &l.config;
        assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
        assert!(c.daemonize);
        assert_eq!(c.client_output_buffer_limit[1], (256 << 20, 64 << 20, 60));
        assert!(!l.config.appendonly);
        assert!(l.ignored.contains(&"jemalloc-bg-thread".to_string()));
    }

    #[test]
    fn debian_redis_conf_with_seed_edits_loads() {
        let text = std::fs::read_to_string("/etc/redis/redis.conf").expect(NEED_REDIS);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let mut out = String::new();
        for line in text.lines() {
            let edited = match line.split_whitespace().next() {
                Some("daemonize") => "daemonize yes".to_string(),
                Some("bind") => format!("# {line}"),
                Some("protected-mode") => "protected-mode no".into(),
                Some("port") => "port 6380".into(),
                Some("dir") => format!("dir {d}"),
                Some("logfile") => format!("logfile \"{d}/6380.log\""),
                Some("dbfilename") => "dbfilename dump6380.rdb".into(),
                _ => line.to_string(),
            };
            out.push_str(&edited);
            out.push('\n');
        }
        out.push_str("requirepass 1234567a\nmasterauth \"1234567a\"\nreplicaof 127.0.0.1 6379\n");
        let f = dir.path().join("6380.conf");
        std::fs::write(&f, out).unwrap();
        let l = load(&os(&[f.to_str().unwrap()])).unwrap_or_else(|e| panic!("{}", e.report()));
        let c = &l.config;
        assert!(c.daemonize);
        assert!(!c.bind_explicit);
        assert_eq!(c.bind, Config::default().bind);
        assert!(!c.protected_mode);
        assert_eq!(c.port, 6380);
        assert_eq!(c.dir, d);
        assert_eq!(c.logfile, format!("{d}/6380.log"));
        assert_eq!(c.requirepass.as_deref(), Some(&b"1234567a"[..]));
        assert_eq!(c.masterauth.as_deref(), Some(&b"1234567a"[..]));
        assert_eq!(c.dbfilename, "dump6380.rdb");
        assert_eq!(c.replicaof, Some(("127.0.0.1".into(), 6379)));
    }
}
