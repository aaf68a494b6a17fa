//! What the server measures about the commands it runs: per-command statistics (INFO
//! commandstats, latencystats), error counts by error code (INFO errorstats), the slow log
//! (SLOWLOG) and latency events (LATENCY). Recorded around the handler call only, as Redis's
//! `call()` times `c->cmd->proc(c)`: reading, parsing and writing replies are not counted.
//!
//! [`CommandStats`] and [`ErrorStats`] live in `State::stats` (CONFIG RESETSTAT clears them
//! with the other counters); the slow log and latency events in `State::monitor` (RESETSTAT
//! keeps them, as Redis does).

pub mod hdr;
pub mod instantaneous;
pub mod latency;
pub mod memory;
pub mod slowlog;
pub mod usage;

use super::commands::{Ctx, Spec};
use bytes::Bytes;
use std::collections::BTreeMap;

/// One command's (or subcommand's) counters.
#[derive(Clone, Debug, Default)]
pub struct CommandStat {
    /// Times the command ran (blocked runs count once, when served).
    pub calls: u64,
    /// Microseconds spent in the command's own code.
    pub usec: u64,
    /// Refused before running (arity, NOAUTH, OOM, READONLY, ...).
    pub rejected_calls: u64,
    /// Ran and replied with at least one error.
    pub failed_calls: u64,
    /// Latency histogram (latency-tracking), made on the first tracked call.
    pub histogram: Option<hdr::Histogram>,
}

/// Counters of every command that ran or was refused, at the command's dense index
/// ([`Spec::index`]): recording a run is an index, not a hash lookup.
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    by_index: Vec<CommandStat>,
}

impl CommandStats {
    #[inline]
    fn entry(&mut self, cmd: &Spec) -> &mut CommandStat {
        if cmd.index >= self.by_index.len() {
            let n = super::commands::count().max(cmd.index + 1);
            self.by_index.resize_with(n, Default::default);
        }
        &mut self.by_index[cmd.index]
    }

    /// Counts a refusal of `cmd` before it ran.
    pub fn rejected(&mut self, cmd: &Spec) {
        self.entry(cmd).rejected_calls += 1;
    }

    /// The statistics of `name`, if it ran or was refused since the last reset.
    pub fn get(&self, name: &str) -> Option<&CommandStat> {
        self.sorted()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
    }

    /// Every command with counters, sorted by name.
    pub fn sorted(&self) -> Vec<(&'static str, &CommandStat)> {
        let all = super::commands::by_index();
        let mut v: Vec<_> = self
            .by_index
            .iter()
            .enumerate()
            .filter(|(_, c)| c.calls > 0 || c.rejected_calls > 0 || c.failed_calls > 0)
            .filter_map(|(i, c)| {
                let at = all.binary_search_by_key(&i, |s| s.index).ok()?;
                Some((all[at].name, c))
            })
            .collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v
    }
}

/// INFO stats counters of the I/O, forks, expiry cycle and unexpected errors (in
/// `State::stats`, so CONFIG RESETSTAT clears them as Redis's resetServerStats does).
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// `total_reads_processed`: socket reads that brought request bytes.
    pub reads_processed: u64,
    /// `total_writes_processed`: reply batches written (one write per batch).
    pub writes_processed: u64,
    /// `total_forks`: fork() calls (BGSAVE, BGREWRITEAOF, diskless sync).
    pub forks: u64,
    /// `latest_fork_usec`: how long the last fork() took.
    pub latest_fork_usec: u64,
    /// `unexpected_error_replies`: errors answered to our master's stream (Redis counts
    /// errors replied to a master, a replica or the AOF loader).
    pub unexpected_error_replies: u64,
    /// `expired_stale_perc`: the active expiry cycle's moving estimate (0..1) of the share
    /// of keys with a TTL that are already expired.
    pub expired_stale: f64,
    /// `expired_time_cap_reached_count`: cycles stopped by their time budget.
    pub expire_time_cap_reached: u64,
    /// `expire_cycle_cpu_milliseconds`, in microseconds.
    pub expire_cycle_usec: u64,
}

impl Counters {
    /// Records one active expiry cycle, as Redis's activeExpireCycle: `sampled` keys with
    /// a TTL looked at, `expired` of them deleted, `usec` spent, `capped` when the time
    /// budget ended it.
    pub fn expire_cycle(&mut self, sampled: usize, expired: usize, usec: u64, capped: bool) {
        let current = if sampled > 0 {
            expired as f64 / sampled as f64
        } else {
            0.0
        };
        self.expired_stale = current * 0.05 + self.expired_stale * 0.95;
        self.expire_cycle_usec += usec;
        if capped {
            self.expire_time_cap_reached += 1;
        }
    }
}

/// Most distinct error codes tracked: error codes can come from scripts
/// (`redis.error_reply`), so the table is bounded (Redis 7.2 bounds it at 128 too).
pub const MAX_ERROR_CODES: usize = 128;

/// Error replies by code (the first word: `ERR`, `WRONGTYPE`, ...), for INFO errorstats.
#[derive(Clone, Debug, Default)]
pub struct ErrorStats {
    by_code: BTreeMap<String, u64>,
}

impl ErrorStats {
    /// Counts one error reply whose full text is `text` (`WRONGTYPE Operation ...`). The
    /// code is the text up to the first space within its first 31 bytes, else `ERR`, as
    /// Redis's afterErrorReply.
    pub fn count(&mut self, text: &str) {
        let head = &text.as_bytes()[..text.len().min(31)];
        let code = match head.iter().position(|&b| b == b' ') {
            Some(n) if n > 0 => &text[..n],
            _ => "ERR",
        };
        if let Some(n) = self.by_code.get_mut(code) {
            *n += 1;
        } else if self.by_code.len() < MAX_ERROR_CODES {
            self.by_code.insert(code.to_string(), 1);
        }
    }

    /// Counts by code, in code order (as Redis's rax).
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.by_code.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// The slow log and the latency events: kept across CONFIG RESETSTAT.
#[derive(Debug, Default)]
pub struct Monitor {
    /// SLOWLOG entries.
    pub slowlog: slowlog::SlowLog,
    /// LATENCY events.
    pub latency: latency::Events,
}

/// What one run of a command's handler measured.
pub struct Run<'a> {
    /// The command or subcommand that ran.
    pub cmd: &'static Spec,
    /// Its arguments as received.
    pub args: &'a [Bytes],
    /// Microseconds in the handler.
    pub usec: u64,
    /// It replied with an error.
    pub failed: bool,
}

/// Records a finished run: command counters and histogram, the `command` /
/// `fast-command` latency event, and the slow log (except commands flagged
/// `skip_slowlog`, such as EXEC, whose commands are logged one by one).
pub fn record(ctx: &mut Ctx, run: Run) {
    let config = &ctx.state.config;
    let (tracking, threshold_ms) = (config.latency_tracking, config.latency_monitor_threshold);
    let slower_than = config.slowlog_log_slower_than;
    let max_len = config.slowlog_max_len;
    let stat = ctx.state.stats.commands.entry(run.cmd);
    stat.calls += 1;
    stat.usec += run.usec;
    if run.failed {
        stat.failed_calls += 1;
    }
    if tracking {
        stat.histogram
            .get_or_insert_with(Default::default)
            .record(run.usec.saturating_mul(1000));
    }
    let now_s = ctx.now_ms / 1000;
    let event = if run.cmd.has(super::commands::flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    let monitor = &mut ctx.state.monitor;
    monitor
        .latency
        .add_if_needed(threshold_ms, event, run.usec / 1000, now_s);
    // The metadata lookup (a flag scan) only for the rare command slow enough to log.
    let slow = slower_than >= 0 && run.usec as i64 >= slower_than;
    if slow && !run.cmd.meta().is_some_and(|m| m.has_flag("skip_slowlog")) {
        let client = slowlog::ClientId {
            addr: &ctx.client.info.addr,
            name: &ctx
                .client
                .info
                .name
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        };
        let args = slowlog::redacted_args(run.cmd, run.args);
        monitor
            .slowlog
            .push(&args, run.usec, now_s, client, max_len.max(0) as usize);
    }
}

/// Records the `fork` latency event after a fork (BGSAVE, diskless sync), as Redis does.
pub fn forked(state: &mut super::state::State, started: std::time::Instant) {
    let usec = started.elapsed().as_micros() as u64;
    let ms = usec / 1000;
    state.stats.counters.forks += 1;
    state.stats.counters.latest_fork_usec = usec;
    let threshold = state.config.latency_monitor_threshold;
    let now_s = super::clock::now_ms() / 1000;
    state
        .monitor
        .latency
        .add_if_needed(threshold, "fork", ms, now_s);
}
