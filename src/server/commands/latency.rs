//! LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR / HISTOGRAM / HELP: the latency
//! monitor's events (`stats::latency`, fed when a command or fork reaches
//! `latency-monitor-threshold` ms) and the per-command histograms of `latency-tracking`.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, container, spec};
use crate::server::stats::latency::Series;
use bytes::Bytes;
use std::fmt::Write as _;

/// The LATENCY command.
pub fn specs() -> Vec<Spec> {
    const ADMIN_: u32 = ADMIN | LOADING | STALE;
    vec![spec("latency", -2, 0, NO_KEYS, container).subcommands(vec![
        spec("latency|latest", 2, ADMIN_, NO_KEYS, latency_latest),
        spec("latency|history", 3, ADMIN_, NO_KEYS, latency_history),
        spec("latency|reset", -2, ADMIN_, NO_KEYS, latency_reset),
        spec("latency|graph", 3, ADMIN_, NO_KEYS, latency_graph),
        spec("latency|doctor", 2, ADMIN_, NO_KEYS, latency_doctor),
        spec("latency|histogram", -2, ADMIN_, NO_KEYS, latency_histogram),
        spec("latency|help", 2, LOADING | STALE, NO_KEYS, latency_help),
    ])]
}

/// LATENCY LATEST: `[event, time of the newest sample, its latency, all-time max]` each.
fn latency_latest(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let events = &ctx.state.monitor.latency;
    ctx.out.array(events.len());
    for (name, ts) in events.iter() {
        let last = ts.latest();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(last.time);
        ctx.out.int(last.latency as i64);
        ctx.out.int(ts.max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: `[time, latency]` pairs, oldest first (empty for an unknown
/// event).
fn latency_history(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let samples: Vec<_> = match ctx.state.monitor.latency.get(&args[2]) {
        Some(ts) => ts.history().collect(),
        None => Vec::new(),
    };
    ctx.out.array(samples.len());
    for s in samples {
        ctx.out.array(2);
        ctx.out.int(s.time);
        ctx.out.int(s.latency as i64);
    }
    Ok(())
}

/// LATENCY RESET [event ...]: how many events were reset (all without arguments).
fn latency_reset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let events = &mut ctx.state.monitor.latency;
    let n = if args.len() == 2 {
        events.reset_all()
    } else {
        args[2..].iter().filter(|e| events.reset(e)).count()
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// LATENCY GRAPH event: Redis's ASCII sparkline of the event's samples.
fn latency_graph(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now_s = ctx.now_ms / 1000;
    let Some(ts) = ctx.state.monitor.latency.get(&args[2]) else {
        return Err(CmdError::msg(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(&args[2])
        )));
    };
    let event = String::from_utf8_lossy(&args[2]);
    let graph = sparkline::graph(&event, ts, now_s);
    ctx.out.verbatim(graph.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR: Redis's human-readable report on the recorded events.
fn latency_doctor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let report = doctor(ctx);
    ctx.out.verbatim(report.as_bytes());
    Ok(())
}

/// Per-event figures for the doctor (Redis's analyzeLatencyForEvent).
struct Analysis {
    samples: u64,
    avg: u64,
    mad: u64,
    period: i64,
}

fn analyze(ts: &Series, now_s: i64) -> Analysis {
    let samples: Vec<_> = ts.history().collect();
    let n = samples.len() as u64;
    let sum: u64 = samples.iter().map(|s| s.latency).sum();
    let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now_s);
    let avg = sum.checked_div(n).unwrap_or(0);
    let period = (now_s - oldest).max(1);
    let dev: u64 = samples.iter().map(|s| s.latency.abs_diff(avg)).sum();
    Analysis {
        samples: n,
        avg,
        mad: dev.checked_div(n).unwrap_or(0),
        period,
    }
}

/// The advice lines the doctor may end with, in Redis's order.
const ADVICE_SLOWLOG_INSPECT: &str = "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n";
const ADVICE_SCHEDULER: &str = "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n";
const ADVICE_LARGE_OBJECTS: &str = "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n";
const ADVICE_BETTER_VM: &str = "- If you are using a virtual machine, consider upgrading it with a faster one using a hypervisor that provides less latency during fork() calls. Xen is known to have poor fork() performance. Even in the context of the same VM provider, certain kinds of instances can execute fork faster than others.\n";

/// Redis's createLatencyReport for the events this server records (command,
/// fast-command, fork).
fn doctor(ctx: &Ctx) -> String {
    let events = &ctx.state.monitor.latency;
    let threshold = ctx.state.config.latency_monitor_threshold;
    let slower_than = ctx.state.config.slowlog_log_slower_than;
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let now_s = ctx.now_ms / 1000;
    let mut report = String::new();
    let (mut slowlog_enabled, mut slowlog_tuning, mut inspect) = (false, false, false);
    let (mut scheduler, mut better_vm) = (false, false);
    for (i, (name, ts)) in events.iter().enumerate() {
        if i == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let a = analyze(ts, now_s);
        let _ = write!(
            report,
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            i + 1,
            a.samples,
            a.avg,
            a.mad,
            a.period as f64 / a.samples.max(1) as f64,
            ts.max
        );
        match name {
            "fork" => {
                // No fork rate is measured here: reported as Redis does before any fork.
                report.push_str(" Fork rate is 0.00 GB/sec (terrible).");
                better_vm = true;
            }
            "command" => {
                if slower_than < 0 {
                    slowlog_enabled = true;
                } else if slower_than / 1000 > threshold {
                    slowlog_tuning = true;
                }
                inspect = true;
            }
            "fast-command" => scheduler = true,
            _ => {}
        }
        report.push('\n');
    }
    let advices = slowlog_enabled || slowlog_tuning || inspect || scheduler || better_vm;
    if events.is_empty() {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if !advices {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        if better_vm {
            report.push_str(ADVICE_BETTER_VM);
        }
        if slowlog_enabled {
            let _ = writeln!(
                report,
                "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.",
                threshold * 1000
            );
        }
        if slowlog_tuning {
            let _ = writeln!(
                report,
                "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.",
                threshold * 1000
            );
        }
        if inspect {
            report.push_str(ADVICE_SLOWLOG_INSPECT);
        }
        if scheduler {
            report.push_str(ADVICE_SCHEDULER);
        }
        if inspect {
            report.push_str(ADVICE_LARGE_OBJECTS);
        }
    }
    report
}

/// LATENCY HISTOGRAM [command ...]: for each named command (a container names all its
/// subcommands) that has a histogram, `{calls, histogram_usec: {µs: cumulative count}}`.
fn latency_histogram(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let stats = &ctx.state.stats.commands;
    let all = stats.sorted();
    let wanted = |name: &str| {
        args.len() == 2
            || args[2..].iter().any(|a| {
                let base = name.split('|').next().unwrap_or(name);
                a.eq_ignore_ascii_case(name.as_bytes()) || a.eq_ignore_ascii_case(base.as_bytes())
            })
    };
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|(name, c)| c.histogram.is_some() && wanted(name))
        .collect();
    ctx.out.map(chosen.len());
    for (name, c) in chosen {
        let Some(h) = c.histogram.as_ref() else {
            continue;
        };
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(h.total() as i64);
        ctx.out.bulk(b"histogram_usec");
        let cdf = h.cdf();
        ctx.out.map(cdf.len());
        for (us, n) in cdf {
            ctx.out.int(us as i64);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// LATENCY HELP.
fn latency_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

/// Redis's sparkline.c as LATENCY GRAPH uses it: 80 columns, 4 rows, filled, with the age
/// of each sample as a vertical label.
mod sparkline {
    use crate::server::stats::latency::Series;

    const COLUMNS: usize = 80;
    const ROWS: usize = 4;
    const FILL: &[u8] = b"_o#";

    /// The whole graph: title line, a rule, the sparkline.
    pub fn graph(event: &str, ts: &Series, now_s: i64) -> String {
        let samples: Vec<(u64, String)> = ts
            .history()
            .map(|s| (s.latency, age_label(now_s - s.time)))
            .collect();
        let min = samples.iter().map(|s| s.0).min().unwrap_or(0);
        let max = samples.iter().map(|s| s.0).max().unwrap_or(0);
        let mut out = format!(
            "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
            ts.max
        );
        out.push_str(&"-".repeat(COLUMNS));
        out.push('\n');
        for (i, chunk) in samples.chunks(COLUMNS).enumerate() {
            if i != 0 {
                out.push('\n');
            }
            render(&mut out, chunk, min, max);
        }
        out
    }

    fn age_label(elapsed: i64) -> String {
        match elapsed {
            e if e < 60 => format!("{e}s"),
            e if e < 3600 => format!("{}m", e / 60),
            e if e < 86400 => format!("{}h", e / 3600),
            e => format!("{}d", e / 86400),
        }
    }

    /// sparklineRenderRange with SPARKLINE_FILL: rows of bars, a blank line, labels.
    fn render(out: &mut String, samples: &[(u64, String)], min: u64, max: u64) {
        let relmax = if max == min { 1.0 } else { (max - min) as f64 };
        let steps = (FILL.len() * ROWS) as i64;
        let step_of = |v: u64| {
            let s = (((v - min) as f64 * steps as f64) as i64 as f64 / relmax) as i64;
            s.clamp(0, steps - 1)
        };
        for row in 0..ROWS {
            let line: String = samples
                .iter()
                .map(|(v, _)| {
                    let idx = step_of(*v) - ((ROWS - row - 1) * FILL.len()) as i64;
                    match idx {
                        i if (0..FILL.len() as i64).contains(&i) => FILL[i as usize] as char,
                        i if i >= FILL.len() as i64 => '|',
                        _ => ' ',
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        if samples.is_empty() {
            return;
        }
        // The margin line above the labels.
        out.push_str(&" ".repeat(samples.len()));
        out.push('\n');
        let longest = samples.iter().map(|s| s.1.len()).max().unwrap_or(0);
        for k in 0..longest {
            let line: String = samples
                .iter()
                .map(|(_, l)| l.as_bytes().get(k).map_or(' ', |&b| b as char))
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
}
