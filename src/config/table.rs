//! The directive table: one entry per redis.conf directive the server implements (name,
//! alias, kind, mutability, sensitivity and typed accessors), plus the list of directives
//! redis-server 7.0 knows but redrepl only stores (they load, CONFIG GET shows them, they
//! have no effect). Loading, CONFIG GET, CONFIG SET and CONFIG REWRITE all go through here.

use super::{Config, EnableFlag, LogLevel};
use std::sync::OnceLock;

/// What kind of value a directive takes (how it is parsed and shown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// An integer within bounds (inclusive).
    Int { min: i64, max: i64 },
    /// A memory size (`1gb`, `100mb`, `1k`, plain bytes) within bounds, shown in bytes.
    Memory { min: i64, max: i64 },
    /// A free string.
    Str,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Several arguments with their own rules (`save`, `bind`, `replicaof`, ...).
    Special,
}

/// State kept while a configuration is being applied (Redis's `reading_config_file`).
#[derive(Debug, Default)]
pub struct SetCtx {
    /// True while loading the file and the command line, false for CONFIG SET.
    pub loading: bool,
    /// A `save` line was already seen while loading: later ones accumulate.
    pub save_loaded: bool,
}

/// Parses the arguments of a directive into the config.
pub type Setter = fn(&mut Config, &[String], &mut SetCtx) -> Result<(), String>;
/// Formats the current value as CONFIG GET shows it.
pub type Getter = fn(&Config) -> String;
/// The config lines (arguments after the name) CONFIG REWRITE writes for the value.
pub type Liner = fn(&Config) -> Vec<Vec<String>>;

/// One directive of the table.
pub struct Directive {
    /// Canonical lower-case name.
    pub name: &'static str,
    /// The old name still accepted (`slaveof` for `replicaof`).
    pub alias: Option<&'static str>,
    /// How the value is parsed.
    pub kind: Kind,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
    /// Never printed in logs or errors (passwords).
    pub sensitive: bool,
    /// Parses and stores.
    pub set: Setter,
    /// Formats for CONFIG GET.
    pub get: Getter,
    /// Config file lines for CONFIG REWRITE; `None` means one line with the GET value
    /// (split into arguments for [`Kind::Special`]).
    pub lines: Option<Liner>,
}

impl Directive {
    /// Whether `name` (any case) is this directive's name or alias.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    }

    /// Whether the directive takes several arguments (others take exactly one).
    pub fn multi_arg(&self) -> bool {
        self.kind == Kind::Special
    }

    /// The config-file lines (without the name) for the value in `c`.
    pub fn config_lines(&self, c: &Config) -> Vec<Vec<String>> {
        match self.lines {
            Some(f) => f(c),
            None if self.multi_arg() => {
                vec![(self.get)(c).split_whitespace().map(String::from).collect()]
            }
            None => {
                let v = match self.kind {
                    Kind::Memory { .. } => format_memory((self.get)(c).parse().unwrap_or(0)),
                    _ => (self.get)(c),
                };
                vec![vec![v]]
            }
        }
    }
}

/// A directive redis-server 7.0 knows that redrepl does not implement. What happens to it
/// depends on its flags: by default it is accepted, stored (CONFIG GET shows it) and named in
/// the start-up log line of ignored directives; see [`Other::unsupported`] for the ones that
/// are refused instead.
#[derive(Debug, Clone, Copy)]
pub struct Other {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis 7.0's default, as CONFIG GET shows it.
    pub default: &'static str,
    /// Never printed (passwords, ACL user lines).
    pub sensitive: bool,
    /// Redis refuses CONFIG SET of it (`can't set immutable config`).
    pub immutable: bool,
    /// Not a config in Redis: accepted in files, unknown to CONFIG GET and CONFIG SET
    /// (`user`, `loadmodule`, `rename-command`, deprecated no-ops).
    pub hidden: bool,
    /// `Some(why)`: a non-default value asks for security, durability or data-model
    /// behaviour redrepl does not have, so it stops start-up and CONFIG SET refuses it,
    /// rather than the user believing they have it. The issue that implements the feature
    /// removes the flag. `why` names what is missing.
    pub unsupported: Option<&'static str>,
}

/// A tuning or cosmetic directive: accepted, stored, logged as ignored.
const fn other(name: &'static str, default: &'static str) -> Other {
    Other {
        name,
        default,
        sensitive: false,
        immutable: false,
        hidden: false,
        unsupported: None,
    }
}

impl Other {
    const fn secret(mut self) -> Other {
        self.sensitive = true;
        self
    }

    const fn immutable(mut self) -> Other {
        self.immutable = true;
        self
    }

    const fn hidden(mut self) -> Other {
        self.hidden = true;
        self
    }

    const fn refuse(mut self, why: &'static str) -> Other {
        self.unsupported = Some(why);
        self
    }

    /// Checks a value the way Redis would for the common kinds: a directive whose default
    /// is `yes`/`no` takes only those, one whose default is a number takes a number (sizes
    /// with units allowed). Others (enums, lists) are taken as given.
    pub fn check(&self, args: &[String]) -> Result<(), String> {
        if self.name == "tls-auth-clients"
            && !["yes", "no", "optional"]
                .iter()
                .any(|w| args.len() == 1 && args[0].eq_ignore_ascii_case(w))
        {
            return Err("argument(s) must be one of the following: no, yes, optional".into());
        }
        if args.len() != 1 || FREE.contains(&self.name) {
            return Ok(());
        }
        if self.default == "yes" || self.default == "no" {
            parse_bool(&args[0])?;
        } else if self.default.parse::<i64>().is_ok() {
            parse_memory(&args[0], i64::MIN, i64::MAX)
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
        }
        Ok(())
    }

    /// Whether `args` say the same as Redis's default (`yes`/`YES`, `64mb`/`67108864`,
    /// `""`/nothing); any line of a directive without a default (`user`) is not.
    pub fn is_default(&self, args: &[String]) -> bool {
        if self.hidden {
            return false;
        }
        let joined = args.join(" ");
        if FREE.contains(&self.name) {
            return joined.eq_ignore_ascii_case(self.default);
        }
        if self.default == "yes" || self.default == "no" {
            return parse_bool(&joined).ok() == parse_bool(self.default).ok();
        }
        if let Ok(d) = self.default.parse::<i64>() {
            return parse_memory(&joined, i64::MIN, i64::MAX).ok() == Some(d);
        }
        joined.eq_ignore_ascii_case(self.default)
    }

    /// The refusal of `args` for an [`unsupported`](Other::unsupported) directive (Redis's
    /// reason text, without the value), or `None` when the value is accepted.
    pub fn refusal(&self, args: &[String]) -> Option<String> {
        let why = self.unsupported?;
        if self.is_default(args) {
            return None;
        }
        Some(if self.default.is_empty() || self.hidden {
            format!("{} is not supported by redrepl (yet): {why}", self.name)
        } else {
            format!(
                "{} is not supported by redrepl (yet) except with its default '{}': {why}",
                self.name, self.default
            )
        })
    }
}

/// Defaults that look like yes/no or numbers but take more.
const FREE: &[&str] = &[
    "oom-score-adj",
    "supervised",
    "enable-module-command",
    "maxmemory-clients",
    "unixsocketperm",
    "tls-auth-clients",
];

const I32: i64 = i32::MAX as i64;
const I32MIN: i64 = i32::MIN as i64;

/// Parses `yes`/`no` (any case).
pub fn parse_bool(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

/// Parses an integer strictly (Redis's `string2ll`) and checks the bounds.
pub fn parse_int(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = crate::server::numbers::parse_i64(v.as_bytes())
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    bounds(n, min, max)
}

fn bounds(n: i64, min: i64, max: i64) -> Result<i64, String> {
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// Parses a memory size the way Redis's `memtoull` does: digits, then an optional unit
/// `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`, any case. Checks the bounds.
pub fn parse_memory(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let bad = || "argument must be a memory value".to_string();
    let lower = v.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    let n = crate::server::numbers::parse_i64(num.as_bytes()).ok_or_else(bad)?;
    let n = n.checked_mul(mul).ok_or_else(bad)?;
    bounds(n, min, max)
}

/// Formats bytes the way CONFIG REWRITE does (`1gb`, `64mb`, `1kb`, or plain bytes).
pub fn format_memory(n: i64) -> String {
    const GB: i64 = 1024 * 1024 * 1024;
    const MB: i64 = 1024 * 1024;
    if n != 0 && n % GB == 0 {
        format!("{}gb", n / GB)
    } else if n != 0 && n % MB == 0 {
        format!("{}mb", n / MB)
    } else if n != 0 && n % 1024 == 0 {
        format!("{}kb", n / 1024)
    } else {
        n.to_string()
    }
}

fn parse_enum(v: &str, words: &[&str]) -> Result<usize, String> {
    words
        .iter()
        .position(|w| w.eq_ignore_ascii_case(v))
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                words.join(", ")
            )
        })
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn opt_bytes(v: &str) -> Option<Vec<u8>> {
    if v.is_empty() {
        None
    } else {
        Some(v.as_bytes().to_vec())
    }
}

fn opt_string(v: &str) -> Option<String> {
    if v.is_empty() {
        None
    } else {
        Some(v.to_string())
    }
}

fn show_bytes(v: &Option<Vec<u8>>) -> String {
    v.as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The words `maxmemory-policy` takes, in Redis's order; index 0 is the default.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "noeviction",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
];
/// The words `loglevel` takes.
pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
/// `acl-pubsub-default` values.
pub const ACL_PUBSUB: &[&str] = &["resetchannels", "allchannels"];
/// The words `enable-debug-command` and friends take.
pub const ENABLE_FLAGS: &[&str] = &["no", "yes", "local"];
/// Redis 7.0's protected configs: CONFIG SET refuses them unless `enable-protected-configs`
/// allows it for the client (`yes`, or `local` from a local connection), because changing
/// where the server writes files is how a compromised client turns into file writes.
pub const PROTECTED: &[&str] = &["dir", "dbfilename"];
/// The classes of `client-output-buffer-limit`, in Config's order.
pub const CLIENT_CLASSES: &[&str] = &["normal", "replica", "pubsub"];

/// An immutable `no | yes | local` directive (enable-debug-command and friends).
macro_rules! enable_flag {
    ($name:literal, $field:ident) => {
        Directive {
            name: $name,
            alias: None,
            kind: Kind::Enum(ENABLE_FLAGS),
            mutable: false,
            sensitive: false,
            set: |c, a, _| {
                c.$field = match parse_enum(&a[0], ENABLE_FLAGS)? {
                    0 => EnableFlag::No,
                    1 => EnableFlag::Yes,
                    _ => EnableFlag::Local,
                };
                Ok(())
            },
            get: |c| ENABLE_FLAGS[c.$field as usize].into(),
            lines: None,
        }
    };
}

macro_rules! boolean {
    ($name:literal, $alias:expr, $field:ident, $mutable:expr) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: Kind::Bool,
            mutable: $mutable,
            sensitive: false,
            set: |c, a, _| {
                c.$field = parse_bool(&a[0])?;
                Ok(())
            },
            get: |c| yes_no(c.$field),
            lines: None,
        }
    };
}

macro_rules! integer {
    ($name:literal, $alias:expr, $field:ident, $min:expr, $max:expr, $mutable:expr) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: Kind::Int {
                min: $min,
                max: $max,
            },
            mutable: $mutable,
            sensitive: false,
            set: |c, a, _| {
                c.$field = parse_int(&a[0], $min, $max)?;
                Ok(())
            },
            get: |c| c.$field.to_string(),
            lines: None,
        }
    };
}

macro_rules! memory {
    ($name:literal, $alias:expr, $field:ident, $min:expr, $max:expr, $mutable:expr) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: Kind::Memory {
                min: $min,
                max: $max,
            },
            mutable: $mutable,
            sensitive: false,
            set: |c, a, _| {
                c.$field = parse_memory(&a[0], $min, $max)?;
                Ok(())
            },
            get: |c| c.$field.to_string(),
            lines: None,
        }
    };
}

macro_rules! string {
    ($name:literal, $alias:expr, $field:ident, $mutable:expr) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: Kind::Str,
            mutable: $mutable,
            sensitive: false,
            set: |c, a, _| {
                c.$field = a[0].clone();
                Ok(())
            },
            get: |c| c.$field.clone(),
            lines: None,
        }
    };
}

macro_rules! opt_string {
    ($name:literal, $alias:expr, $field:ident, $mutable:expr) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: Kind::Str,
            mutable: $mutable,
            sensitive: false,
            set: |c, a, _| {
                c.$field = opt_string(&a[0]);
                Ok(())
            },
            get: |c| c.$field.clone().unwrap_or_default(),
            lines: None,
        }
    };
}

macro_rules! secret {
    ($name:literal, $alias:expr, $field:ident) => {
        Directive {
            name: $name,
            alias: $alias,
            kind: Kind::Str,
            mutable: true,
            sensitive: true,
            set: |c, a, _| {
                c.$field = opt_bytes(&a[0]);
                Ok(())
            },
            get: |c| show_bytes(&c.$field),
            lines: Some(|c| match &c.$field {
                Some(v) => vec![vec![String::from_utf8_lossy(v).into_owned()]],
                None => Vec::new(),
            }),
        }
    };
}

/// An immutable file name (`appendfilename`, `appenddirname`): a name, not a path, as
/// Redis's `isValidAOFfilename` / `isValidAOFdirname` require.
macro_rules! file_name {
    ($name:literal, $field:ident) => {
        Directive {
            name: $name,
            alias: None,
            kind: Kind::Str,
            mutable: false,
            sensitive: false,
            set: |c, a, _| {
                c.$field = valid_file_name($name, &a[0])?;
                Ok(())
            },
            get: |c| c.$field.clone(),
            lines: None,
        }
    };
}

/// The words `appendfsync` takes; index 0 is the default.
pub const APPENDFSYNC: &[&str] = &["everysec", "always", "no"];

/// Checks an AOF file or directory name the way Redis does (no path, not `.`/`..`).
fn valid_file_name(directive: &str, v: &str) -> Result<String, String> {
    let kind = if directive == "appenddirname" {
        "dirname"
    } else {
        "filename"
    };
    if v.is_empty() || v == "." || v == ".." || v.contains('/') {
        return Err(format!("{directive} can't be a path, just a {kind}"));
    }
    Ok(v.to_string())
}

/// The table of implemented directives, in redis.conf order.
pub fn directives() -> &'static [Directive] {
    static TABLE: OnceLock<Vec<Directive>> = OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> Vec<Directive> {
    vec![
        // network
        Directive {
            name: "bind",
            alias: None,
            kind: Kind::Special,
            // CONFIG SET closes the old sockets first, as Redis's changeBindAddr
            // (server::listeners::reopen).
            mutable: true,
            sensitive: false,
            set: set_bind,
            get: |c| c.bind.join(" "),
            lines: None,
        },
        boolean!("protected-mode", None, protected_mode, true),
        Directive {
            name: "port",
            alias: None,
            kind: Kind::Int { min: 0, max: 65535 },
            mutable: true,
            sensitive: false,
            set: |c, a, _| {
                c.port = parse_int(&a[0], 0, 65535)? as u16;
                Ok(())
            },
            get: |c| c.port.to_string(),
            lines: None,
        },
        integer!("tcp-backlog", None, tcp_backlog, 0, I32, false),
        integer!("timeout", None, timeout, 0, I32, true),
        integer!("tcp-keepalive", None, tcp_keepalive, 0, I32, true),
        integer!("maxclients", None, maxclients, 1, u32::MAX as i64, true),
        integer!(
            "busy-reply-threshold",
            Some("lua-time-limit"),
            busy_reply_threshold,
            0,
            i64::MAX,
            true
        ),
        // process
        boolean!("daemonize", None, daemonize, false),
        boolean!("always-show-logo", None, always_show_logo, false),
        string!("pidfile", None, pidfile, false),
        Directive {
            name: "loglevel",
            alias: None,
            kind: Kind::Enum(LOGLEVELS),
            mutable: true,
            sensitive: false,
            set: |c, a, _| {
                c.loglevel = match parse_enum(&a[0], LOGLEVELS)? {
                    0 => LogLevel::Debug,
                    1 => LogLevel::Verbose,
                    2 => LogLevel::Notice,
                    _ => LogLevel::Warning,
                };
                Ok(())
            },
            get: |c| LOGLEVELS[c.loglevel as usize].into(),
            lines: None,
        },
        string!("logfile", None, logfile, true),
        integer!("databases", None, databases, 1, I32, false),
        // security
        secret!("requirepass", None, requirepass),
        enable_flag!("enable-debug-command", enable_debug_command),
        enable_flag!("enable-protected-configs", enable_protected_configs),
        // limits
        memory!(
            "proto-max-bulk-len",
            None,
            proto_max_bulk_len,
            1024 * 1024,
            i64::MAX,
            true
        ),
        memory!(
            "client-query-buffer-limit",
            None,
            client_query_buffer_limit,
            1024 * 1024,
            i64::MAX,
            true
        ),
        memory!("maxmemory", None, maxmemory, 0, i64::MAX, true),
        Directive {
            name: "maxmemory-policy",
            alias: None,
            kind: Kind::Enum(MAXMEMORY_POLICIES),
            mutable: true,
            sensitive: false,
            set: |c, a, _| {
                c.maxmemory_policy = parse_enum(&a[0], MAXMEMORY_POLICIES)?;
                Ok(())
            },
            get: |c| MAXMEMORY_POLICIES[c.maxmemory_policy].into(),
            lines: None,
        },
        integer!("maxmemory-samples", None, maxmemory_samples, 1, 64, true),
        integer!(
            "lfu-log-factor",
            None,
            lfu_log_factor,
            0,
            i32::MAX as i64,
            true
        ),
        integer!(
            "lfu-decay-time",
            None,
            lfu_decay_time,
            0,
            i32::MAX as i64,
            true
        ),
        integer!(
            "tracking-table-max-keys",
            None,
            tracking_table_max_keys,
            0,
            i64::MAX,
            true
        ),
        Directive {
            name: "notify-keyspace-events",
            alias: None,
            kind: Kind::Str,
            mutable: true,
            sensitive: false,
            set: |c, a, _| {
                c.notify_keyspace_events = crate::server::notify::parse(&a[0])
                    .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?;
                Ok(())
            },
            get: |c| crate::server::notify::format(c.notify_keyspace_events),
            lines: None,
        },
        integer!("hz", None, hz, 0, I32, true),
        // introspection
        integer!(
            "slowlog-log-slower-than",
            None,
            slowlog_log_slower_than,
            -1,
            i64::MAX,
            true
        ),
        integer!("slowlog-max-len", None, slowlog_max_len, 0, i64::MAX, true),
        integer!(
            "latency-monitor-threshold",
            None,
            latency_monitor_threshold,
            0,
            i64::MAX,
            true
        ),
        boolean!("latency-tracking", None, latency_tracking, true),
        Directive {
            name: "latency-tracking-info-percentiles",
            alias: None,
            kind: Kind::Special,
            mutable: true,
            sensitive: false,
            set: set_percentiles,
            get: |c| {
                let p: Vec<String> = c
                    .latency_tracking_info_percentiles
                    .iter()
                    .map(|p| p.to_string())
                    .collect();
                p.join(" ")
            },
            lines: None,
        },
        // threaded I/O: fixed at start, as in Redis 7.0
        integer!("io-threads", None, io_threads, 1, 128, false),
        boolean!("io-threads-do-reads", None, io_threads_do_reads, false),
        Directive {
            name: "client-output-buffer-limit",
            alias: None,
            kind: Kind::Special,
            mutable: true,
            sensitive: false,
            set: set_client_output_buffer_limit,
            get: |c| {
                let names = ["normal", "slave", "pubsub"];
                let parts: Vec<String> = c
                    .client_output_buffer_limit
                    .iter()
                    .zip(names)
                    .map(|(l, n)| format!("{n} {} {} {}", l.0, l.1, l.2))
                    .collect();
                parts.join(" ")
            },
            lines: Some(|c| {
                let defaults = Config::default().client_output_buffer_limit;
                c.client_output_buffer_limit
                    .iter()
                    .zip(CLIENT_CLASSES)
                    .zip(defaults)
                    .filter(|((l, _), d)| **l != *d)
                    .map(|(x, _)| x)
                    .map(|(l, n)| {
                        vec![
                            n.to_string(),
                            format_memory(l.0),
                            format_memory(l.1),
                            l.2.to_string(),
                        ]
                    })
                    .collect()
            }),
        },
        // persistence
        string!("dir", None, dir, true),
        string!("dbfilename", None, dbfilename, true),
        Directive {
            name: "save",
            alias: None,
            kind: Kind::Special,
            mutable: true,
            sensitive: false,
            set: set_save,
            get: |c| {
                c.save
                    .iter()
                    .map(|(s, n)| format!("{s} {n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            lines: Some(|c| {
                if c.save.is_empty() {
                    vec![vec![String::new()]]
                } else {
                    c.save
                        .iter()
                        .map(|(s, n)| vec![s.to_string(), n.to_string()])
                        .collect()
                }
            }),
        },
        boolean!("rdbcompression", None, rdbcompression, true),
        boolean!("rdbchecksum", None, rdbchecksum, false),
        boolean!(
            "stop-writes-on-bgsave-error",
            None,
            stop_writes_on_bgsave_error,
            true
        ),
        // append-only file
        boolean!("appendonly", None, appendonly, true),
        file_name!("appendfilename", appendfilename),
        file_name!("appenddirname", appenddirname),
        Directive {
            name: "appendfsync",
            alias: None,
            kind: Kind::Enum(APPENDFSYNC),
            mutable: true,
            sensitive: false,
            set: |c, a, _| {
                c.appendfsync = parse_enum(&a[0], APPENDFSYNC)?;
                Ok(())
            },
            get: |c| APPENDFSYNC[c.appendfsync].into(),
            lines: None,
        },
        boolean!(
            "no-appendfsync-on-rewrite",
            None,
            no_appendfsync_on_rewrite,
            true
        ),
        integer!(
            "auto-aof-rewrite-percentage",
            None,
            auto_aof_rewrite_percentage,
            0,
            i32::MAX as i64,
            true
        ),
        memory!(
            "auto-aof-rewrite-min-size",
            None,
            auto_aof_rewrite_min_size,
            0,
            i64::MAX,
            true
        ),
        boolean!("aof-load-truncated", None, aof_load_truncated, true),
        boolean!(
            "aof-rewrite-incremental-fsync",
            None,
            aof_rewrite_incremental_fsync,
            true
        ),
        boolean!(
            "rdb-save-incremental-fsync",
            None,
            rdb_save_incremental_fsync,
            true
        ),
        integer!("key-load-delay", None, key_load_delay, I32MIN, I32, true),
        integer!(
            "loading-process-events-interval-bytes",
            None,
            loading_process_events_interval_bytes,
            1024,
            I32,
            true
        ),
        boolean!("aof-use-rdb-preamble", None, aof_use_rdb_preamble, true),
        boolean!("aof-timestamp-enabled", None, aof_timestamp_enabled, true),
        boolean!("aof-disable-auto-gc", None, aof_disable_auto_gc, true),
        // replication
        Directive {
            name: "replicaof",
            alias: Some("slaveof"),
            kind: Kind::Special,
            mutable: false,
            sensitive: false,
            set: set_replicaof,
            get: |c| {
                c.replicaof
                    .as_ref()
                    .map(|(h, p)| format!("{h} {p}"))
                    .unwrap_or_default()
            },
            lines: Some(|c| match &c.replicaof {
                Some((h, p)) => vec![vec![h.clone(), p.to_string()]],
                None => Vec::new(),
            }),
        },
        secret!("masterauth", None, masterauth),
        opt_string!("masteruser", None, masteruser, true),
        opt_string!("aclfile", None, aclfile, false),
        integer!("acllog-max-len", None, acllog_max_len, 0, i64::MAX, true),
        Directive {
            name: "acl-pubsub-default",
            alias: None,
            kind: Kind::Enum(ACL_PUBSUB),
            mutable: true,
            sensitive: false,
            set: |c, a, _| {
                c.acl_pubsub_all = parse_enum(&a[0], ACL_PUBSUB)? == 1;
                Ok(())
            },
            get: |c| ACL_PUBSUB[usize::from(c.acl_pubsub_all)].into(),
            lines: None,
        },
        boolean!(
            "replica-read-only",
            Some("slave-read-only"),
            replica_read_only,
            true
        ),
        boolean!(
            "replica-serve-stale-data",
            Some("slave-serve-stale-data"),
            replica_serve_stale_data,
            true
        ),
        integer!(
            "repl-ping-replica-period",
            Some("repl-ping-slave-period"),
            repl_ping_replica_period,
            1,
            I32,
            true
        ),
        integer!("repl-timeout", None, repl_timeout, 1, I32, true),
        memory!(
            "repl-backlog-size",
            None,
            repl_backlog_size,
            1,
            i64::MAX,
            true
        ),
        integer!("repl-backlog-ttl", None, repl_backlog_ttl, 0, I32, true),
        boolean!("repl-diskless-sync", None, repl_diskless_sync, true),
        integer!(
            "repl-diskless-sync-delay",
            None,
            repl_diskless_sync_delay,
            0,
            I32,
            true
        ),
        integer!(
            "repl-diskless-sync-max-replicas",
            None,
            repl_diskless_sync_max_replicas,
            0,
            I32,
            true
        ),
        integer!(
            "min-replicas-to-write",
            Some("min-slaves-to-write"),
            min_replicas_to_write,
            0,
            I32,
            true
        ),
        integer!(
            "min-replicas-max-lag",
            Some("min-slaves-max-lag"),
            min_replicas_max_lag,
            0,
            I32,
            true
        ),
        integer!(
            "replica-priority",
            Some("slave-priority"),
            replica_priority,
            0,
            I32,
            true
        ),
        opt_string!(
            "replica-announce-ip",
            Some("slave-announce-ip"),
            replica_announce_ip,
            true
        ),
        integer!(
            "replica-announce-port",
            Some("slave-announce-port"),
            replica_announce_port,
            0,
            65535,
            true
        ),
        // encodings
        integer!(
            "hash-max-listpack-entries",
            Some("hash-max-ziplist-entries"),
            hash_max_listpack_entries,
            0,
            i64::MAX,
            true
        ),
        memory!(
            "hash-max-listpack-value",
            Some("hash-max-ziplist-value"),
            hash_max_listpack_value,
            0,
            i64::MAX,
            true
        ),
        integer!(
            "list-max-listpack-size",
            Some("list-max-ziplist-size"),
            list_max_listpack_size,
            I32MIN,
            I32,
            true
        ),
        integer!(
            "list-compress-depth",
            None,
            list_compress_depth,
            0,
            I32,
            true
        ),
        integer!(
            "set-max-intset-entries",
            None,
            set_max_intset_entries,
            0,
            i64::MAX,
            true
        ),
        integer!(
            "zset-max-listpack-entries",
            Some("zset-max-ziplist-entries"),
            zset_max_listpack_entries,
            0,
            i64::MAX,
            true
        ),
        memory!(
            "hll-sparse-max-bytes",
            None,
            hll_sparse_max_bytes,
            0,
            i64::MAX,
            true
        ),
        memory!(
            "zset-max-listpack-value",
            Some("zset-max-ziplist-value"),
            zset_max_listpack_value,
            0,
            i64::MAX,
            true
        ),
        memory!(
            "stream-node-max-bytes",
            None,
            stream_node_max_bytes,
            0,
            i64::MAX,
            true
        ),
        integer!(
            "stream-node-max-entries",
            None,
            stream_node_max_entries,
            0,
            i64::MAX,
            true
        ),
    ]
}

fn set_bind(c: &mut Config, a: &[String], _: &mut SetCtx) -> Result<(), String> {
    if a.is_empty() || a.len() > 16 {
        return Err(if a.is_empty() {
            "wrong number of arguments"
        } else {
            "Too many bind addresses specified."
        }
        .into());
    }
    // `bind ""` (CONFIG SET) would leave nothing to listen on.
    if a.len() == 1 && a[0].is_empty() {
        return Err("Invalid bind address".into());
    }
    c.bind = a.to_vec();
    c.bind_explicit = true;
    Ok(())
}

fn set_save(c: &mut Config, a: &[String], ctx: &mut SetCtx) -> Result<(), String> {
    let a: &[String] = if a.len() == 1 && a[0].is_empty() {
        c.save.clear();
        &[]
    } else {
        a
    };
    if !a.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut points = Vec::new();
    for pair in a.chunks(2) {
        let s = crate::server::numbers::parse_i64(pair[0].as_bytes()).filter(|s| *s >= 1);
        let n = crate::server::numbers::parse_i64(pair[1].as_bytes()).filter(|n| *n >= 0);
        match (s, n) {
            (Some(s), Some(n)) => points.push((s, n)),
            _ => return Err("Invalid save parameters".into()),
        }
    }
    // Redis 7.0: while loading, the first `save` line replaces the defaults and later
    // ones add to it; CONFIG SET replaces.
    if !ctx.loading || !ctx.save_loaded {
        c.save.clear();
    }
    if ctx.loading {
        ctx.save_loaded = true;
    }
    c.save.extend(points);
    Ok(())
}

fn set_replicaof(c: &mut Config, a: &[String], _: &mut SetCtx) -> Result<(), String> {
    if a.len() != 2 {
        return Err("wrong number of arguments".into());
    }
    if a[0].eq_ignore_ascii_case("no") && a[1].eq_ignore_ascii_case("one") {
        c.replicaof = None;
        return Ok(());
    }
    let port = parse_int(&a[1], 0, 65535).map_err(|_| "Invalid master port".to_string())?;
    c.replicaof = Some((a[0].clone(), port as u16));
    Ok(())
}

/// latency-tracking-info-percentiles: numbers between 0 and 100, any count (none too), as
/// Redis's setConfigLatencyTrackingInfoPercentilesOutputOption.
fn set_percentiles(c: &mut Config, args: &[String], _: &mut SetCtx) -> Result<(), String> {
    let words = args.iter().flat_map(|a| a.split_whitespace());
    let mut values = Vec::new();
    for w in words {
        let p = crate::server::numbers::parse_f64(w.as_bytes())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        values.push(p);
    }
    c.latency_tracking_info_percentiles = values;
    Ok(())
}

fn set_client_output_buffer_limit(
    c: &mut Config,
    a: &[String],
    _: &mut SetCtx,
) -> Result<(), String> {
    if a.is_empty() || !a.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits = c.client_output_buffer_limit;
    for chunk in a.chunks(4) {
        let class = match chunk[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "replica" | "slave" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
        };
        let bad = |_| {
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string()
        };
        let hard = parse_memory(&chunk[1], 0, i64::MAX).map_err(bad)?;
        let soft = parse_memory(&chunk[2], 0, i64::MAX).map_err(bad)?;
        let secs = parse_int(&chunk[3], 0, i64::MAX).map_err(bad)?;
        limits[class] = (hard, soft, secs);
    }
    c.client_output_buffer_limit = limits;
    Ok(())
}

/// Finds an implemented directive by name or alias (any case).
pub fn lookup(name: &str) -> Option<&'static Directive> {
    directives().iter().find(|d| d.is_named(name))
}

/// Finds an accepted-but-ignored directive by name (any case).
pub fn lookup_other(name: &str) -> Option<&'static Other> {
    OTHERS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

/// Whether `name` is a directive whose value must never be printed.
pub fn is_sensitive(name: &str) -> bool {
    lookup(name).is_some_and(|d| d.sensitive) || lookup_other(name).is_some_and(|o| o.sensitive)
}

/// Why a key passphrase is refused.
const TLS_PASS_WHY: &str =
    "security: encrypted private keys are not supported, store the key file decrypted (mode 0600)";

/// The `tls-*` directives redrepl implements (server/tls): not logged as ignored.
pub const TLS_IMPLEMENTED: &[&str] = &[
    "tls-port",
    "tls-cert-file",
    "tls-key-file",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-replication",
    "tls-protocols",
    "tls-ciphersuites",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
];
/// Why the signal shutdown flags are refused.
const SIGNAL_WHY: &str =
    "durability: SIGINT and SIGTERM always shut down as by default (save when save points are set)";

/// Directives of redis-server 7.0 that redrepl does not implement, with Redis's defaults and
/// the flags that decide what happens to them (see [`Other`]; the rule and the decision for
/// each class are in docs/architecture.md, "Configuration"). Every directive of Debian's
/// /etc/redis/redis.conf is here or in [`directives`].
pub static OTHERS: &[Other] = &[
    other("set-proc-title", "yes").immutable(),
    other("proc-title-template", "{title} {listen-addr} {server-mode}"),
    other("supervised", "no").immutable(),
    other("unixsocket", "")
        .immutable()
        .refuse("no Unix socket is created, so clients would find nothing at that path"),
    other("unixsocketperm", "0").immutable(),
    other("socket-mark-id", "0").immutable(),
    other("syslog-enabled", "no").immutable(),
    other("syslog-ident", "redis").immutable(),
    other("syslog-facility", "local0").immutable(),
    other("crash-log-enabled", "yes"),
    other("crash-memcheck-enabled", "yes"),
    other("rdb-del-sync-files", "no"),
    other("repl-diskless-load", "disabled"),
    other("repl-disable-tcp-nodelay", "no"),
    other("replica-ignore-maxmemory", "yes").refuse(
        "data model: a replica never evicts keys by itself, only the master's DELs remove them",
    ),
    other("slave-ignore-maxmemory", "yes").refuse(
        "data model: a replica never evicts keys by itself, only the master's DELs remove them",
    ),
    other("replica-announced", "yes"),
    other("replica-ignore-disk-write-errors", "no"),
    other("propagation-error-behavior", "ignore"),
    other("user", "").secret().hidden(),
    other("enable-module-command", "no").immutable(),
    other("loadmodule", "")
        .hidden()
        .refuse("data model: modules are not implemented"),
    other("rename-command", "").hidden(),
    other("maxmemory-eviction-tenacity", "10"),
    other("maxmemory-clients", "0"),
    other("active-expire-effort", "1"),
    other("lazyfree-lazy-eviction", "no"),
    other("lazyfree-lazy-expire", "no"),
    other("lazyfree-lazy-server-del", "no"),
    other("replica-lazy-flush", "no"),
    other("slave-lazy-flush", "no"),
    other("lazyfree-lazy-user-del", "no"),
    other("lazyfree-lazy-user-flush", "no"),
    other("oom-score-adj", "no"),
    other("oom-score-adj-values", "0 200 800"),
    other("disable-thp", "yes").immutable(),
    other("shutdown-timeout", "10")
        .refuse("durability: shutdown waits a fixed 10 seconds for replicas to catch up"),
    other("shutdown-on-sigint", "default").refuse(SIGNAL_WHY),
    other("shutdown-on-sigterm", "default").refuse(SIGNAL_WHY),
    other("cluster-enabled", "no")
        .immutable()
        .refuse("data model: cluster mode (hash slots, MOVED) is not implemented"),
    other("cluster-config-file", "nodes.conf").immutable(),
    other("cluster-node-timeout", "15000"),
    other("cluster-port", "0").immutable(),
    other("cluster-replica-validity-factor", "10"),
    other("cluster-slave-validity-factor", "10"),
    other("cluster-migration-barrier", "1"),
    other("cluster-allow-replica-migration", "yes"),
    other("cluster-require-full-coverage", "yes"),
    other("cluster-replica-no-failover", "no"),
    other("cluster-slave-no-failover", "no"),
    other("cluster-allow-reads-when-down", "no"),
    other("cluster-allow-pubsubshard-when-down", "yes"),
    other("cluster-link-sendbuf-limit", "0"),
    other("cluster-announce-hostname", ""),
    other("cluster-preferred-endpoint-type", "ip"),
    other("cluster-announce-ip", ""),
    other("cluster-announce-port", "0"),
    other("cluster-announce-tls-port", "0"),
    other("cluster-announce-bus-port", "0"),
    other("activerehashing", "yes"),
    other("dynamic-hz", "yes"),
    other("jemalloc-bg-thread", "yes"),
    other("activedefrag", "no"),
    other("active-defrag-ignore-bytes", "104857600"),
    other("active-defrag-threshold-lower", "10"),
    other("active-defrag-threshold-upper", "100"),
    other("active-defrag-cycle-min", "1"),
    other("active-defrag-cycle-max", "25"),
    other("active-defrag-max-scan-fields", "1000"),
    other("ignore-warnings", ""),
    // TLS (server/tls): stored here, read by tls::Settings; CONFIG SET rebuilds the contexts.
    other("tls-port", "0"),
    other("tls-cert-file", ""),
    other("tls-key-file", ""),
    other("tls-key-file-pass", "").secret().refuse(TLS_PASS_WHY),
    other("tls-client-cert-file", ""),
    other("tls-client-key-file", ""),
    other("tls-client-key-file-pass", "")
        .secret()
        .refuse(TLS_PASS_WHY),
    other("tls-dh-params-file", "").refuse(
        "security: rustls offers no finite-field Diffie-Hellman suites (ECDHE only), so DH parameters would not be used",
    ),
    other("tls-ca-cert-file", ""),
    other("tls-ca-cert-dir", ""),
    other("tls-auth-clients", "yes"),
    other("tls-replication", "no"),
    other("tls-cluster", "no").refuse("data model: cluster mode is not implemented"),
    other("tls-protocols", ""),
    other("tls-ciphers", "").refuse(
        "security: OpenSSL TLSv1.2 cipher lists are not mapped; rustls offers only its secure TLSv1.2 suites (ECDHE with AES-GCM or ChaCha20-Poly1305); tls-ciphersuites (TLSv1.3) is supported",
    ),
    other("tls-ciphersuites", ""),
    other("tls-prefer-server-ciphers", "no"),
    other("tls-session-caching", "yes"),
    other("tls-session-cache-size", "20480"),
    other("tls-session-cache-timeout", "300"),
    other("sanitize-dump-payload", "no"),
    other("bind-source-addr", ""),
    other("server_cpulist", "").immutable(),
    other("bio_cpulist", "").immutable(),
    other("aof_rewrite_cpulist", "").immutable(),
    other("bgsave_cpulist", "").immutable(),
    // Deprecated in 7.0: still accepted in config files, no effect.
    other("list-max-ziplist-entries", "512").hidden(),
    other("list-max-ziplist-value", "64").hidden(),
    other("lua-replicate-commands", "yes").hidden(),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_like_redis() {
        assert_eq!(parse_memory("1gb", 0, i64::MAX), Ok(1 << 30));
        assert_eq!(parse_memory("100mb", 0, i64::MAX), Ok(100 << 20));
        assert_eq!(parse_memory("1k", 0, i64::MAX), Ok(1000));
        assert_eq!(parse_memory("1KB", 0, i64::MAX), Ok(1024));
        assert_eq!(parse_memory("5m", 0, i64::MAX), Ok(5_000_000));
        assert_eq!(parse_memory("2g", 0, i64::MAX), Ok(2_000_000_000));
        assert_eq!(parse_memory("123", 0, i64::MAX), Ok(123));
        assert_eq!(parse_memory("12b", 0, i64::MAX), Ok(12));
        assert_eq!(
            parse_memory("1.5gb", 0, i64::MAX),
            Err("argument must be a memory value".into())
        );
        assert_eq!(
            parse_memory("lots", 0, i64::MAX),
            Err("argument must be a memory value".into())
        );
        assert_eq!(
            parse_memory("1tb", 0, i64::MAX),
            Err("argument must be a memory value".into())
        );
        assert_eq!(format_memory(256 << 20), "256mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(0), "0");
    }

    #[test]
    fn bool_and_int_errors_use_redis_wording() {
        assert_eq!(parse_bool("YES"), Ok(true));
        assert_eq!(
            parse_bool("maybe"),
            Err("argument must be 'yes' or 'no'".into())
        );
        assert_eq!(
            parse_int("x", 0, 10),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            parse_int("11", 0, 10),
            Err("argument must be between 0 and 10 inclusive".into())
        );
    }

    #[test]
    fn names_are_unique_and_aliases_resolve() {
        let mut seen = std::collections::HashSet::new();
        for d in directives() {
            assert!(seen.insert(d.name), "duplicate {}", d.name);
            if let Some(a) = d.alias {
                assert!(seen.insert(a), "duplicate {a}");
            }
        }
        for o in OTHERS {
            assert!(seen.insert(o.name), "duplicate {}", o.name);
        }
        assert_eq!(lookup("SLAVEOF").unwrap().name, "replicaof");
        assert_eq!(lookup("slave-read-only").unwrap().name, "replica-read-only");
        assert!(is_sensitive("requirepass") && is_sensitive("MASTERAUTH") && !is_sensitive("port"));
    }

    #[test]
    fn every_config_field_round_trips_through_get() {
        // Setting each directive to the value GET shows for the defaults changes nothing.
        let d = Config::default();
        for dir in directives() {
            let mut c = Config::default();
            let mut ctx = SetCtx {
                loading: true,
                save_loaded: false,
            };
            for line in dir.config_lines(&d) {
                if line.is_empty() {
                    continue;
                }
                (dir.set)(&mut c, &line, &mut ctx).unwrap_or_else(|e| panic!("{}: {e}", dir.name));
            }
            assert_eq!((dir.get)(&c), (dir.get)(&d), "{}", dir.name);
        }
    }
}
