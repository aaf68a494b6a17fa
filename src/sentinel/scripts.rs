//! The user scripts of sentinel.c: `notification-script` (called with `<event type> <event
//! description>` for every warning-level event of a master) and `client-reconfig-script`
//! (`<master-name> <role> <state> <from-ip> <from-port> <to-ip> <to-port>` on a failover).
//!
//! Scripts are queued (at most [`MAX_QUEUE`], the oldest waiting job dropped), run at most
//! [`MAX_RUNNING`] at a time, killed after [`MAX_RUNTIME_MS`], and retried when they exit
//! with code 1 or die by a signal, up to [`MAX_RETRY`] runs, with a delay doubling from
//! [`RETRY_DELAY_MS`]. Any other non-zero exit is an error, never retried. A script that
//! cannot be executed counts as exit code 2 (the code of sentinel.c's child after a failed
//! `execve`).

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};

/// SENTINEL_SCRIPT_MAX_QUEUE.
pub const MAX_QUEUE: usize = 256;
/// SENTINEL_SCRIPT_MAX_RUNNING.
pub const MAX_RUNNING: usize = 16;
/// SENTINEL_SCRIPT_MAX_RUNTIME: a script running longer is killed (SIGKILL).
pub const MAX_RUNTIME_MS: i64 = 60_000;
/// SENTINEL_SCRIPT_MAX_RETRY: the number of runs a failing script gets.
pub const MAX_RETRY: u32 = 10;
/// SENTINEL_SCRIPT_RETRY_DELAY: the delay before the second run, doubled for each next one.
pub const RETRY_DELAY_MS: i64 = 30_000;

/// One queued script execution.
struct Job {
    argv: Vec<String>,
    child: Option<Child>,
    /// When running: its start. When waiting: not before this time (0: at once).
    start_time: i64,
    retry_num: u32,
}

/// What SENTINEL PENDING-SCRIPTS shows of a job.
pub struct PendingJob<'a> {
    /// The script and its arguments.
    pub argv: &'a [String],
    /// The child's pid (0 when not running).
    pub pid: i64,
    /// Running: milliseconds since its start. Waiting: milliseconds before it may run.
    pub running: Option<i64>,
    /// Waiting: milliseconds before the next run.
    pub delay: i64,
    /// Runs so far.
    pub retry_num: u32,
}

/// The delay before run `retry_num + 1` (sentinelScriptRetryDelay: 30 s, 60 s, 2 min...).
pub fn retry_delay(retry_num: u32) -> i64 {
    RETRY_DELAY_MS << retry_num.saturating_sub(1).min(20)
}

/// The queue of script executions.
#[derive(Default)]
pub struct Queue {
    jobs: VecDeque<Job>,
}

/// An event the queue asks to emit: (type, description), warning level, no master.
pub type ScriptEvent = (&'static str, String);

impl Queue {
    /// Queues `argv` (script path first); drops the oldest waiting job past [`MAX_QUEUE`].
    pub fn schedule(&mut self, argv: Vec<String>) {
        self.jobs.push_back(Job {
            argv,
            child: None,
            start_time: 0,
            retry_num: 0,
        });
        if self.jobs.len() > MAX_QUEUE
            && let Some(i) = self.jobs.iter().position(|j| j.child.is_none())
        {
            self.jobs.remove(i);
        }
    }

    /// Scripts running now.
    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.child.is_some()).count()
    }

    /// Jobs queued, running or not.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The jobs as SENTINEL PENDING-SCRIPTS shows them, oldest first.
    pub fn pending(&self, now: i64) -> Vec<PendingJob<'_>> {
        self.jobs
            .iter()
            .map(|j| PendingJob {
                argv: &j.argv,
                pid: j.child.as_ref().map_or(0, |c| c.id() as i64),
                running: j.child.as_ref().map(|_| now - j.start_time),
                delay: if j.start_time != 0 {
                    (j.start_time - now).max(0)
                } else {
                    0
                },
                retry_num: j.retry_num,
            })
            .collect()
    }

    /// One timer tick (sentinelRunPendingScripts, sentinelCollectTerminatedScripts,
    /// sentinelKillTimedoutScripts): returns the events to emit.
    pub fn tick(&mut self, now: i64) -> Vec<ScriptEvent> {
        let mut events = Vec::new();
        self.start_due(now, &mut events);
        self.collect(now, &mut events);
        self.kill_timed_out(now, &mut events);
        events
    }

    fn start_due(&mut self, now: i64, events: &mut Vec<ScriptEvent>) {
        let mut running = self.running();
        let mut failed = Vec::new();
        for (i, j) in self.jobs.iter_mut().enumerate() {
            if running >= MAX_RUNNING {
                break;
            }
            if j.child.is_some() || (j.start_time != 0 && j.start_time > now) {
                continue;
            }
            j.start_time = now;
            j.retry_num += 1;
            match Command::new(&j.argv[0]).args(&j.argv[1..]).spawn() {
                Ok(c) => {
                    debug(&format!("+script-child {}", c.id()));
                    j.child = Some(c);
                    running += 1;
                }
                Err(_) => failed.push(i),
            }
        }
        // Not executable: what sentinel.c's child reports after a failed execve (exit 2).
        for i in failed.into_iter().rev() {
            if let Some(j) = self.jobs.remove(i) {
                events.push(("-script-error", format!("{} 0 2", j.argv[0])));
            }
        }
    }

    fn collect(&mut self, now: i64, events: &mut Vec<ScriptEvent>) {
        let mut i = 0;
        while i < self.jobs.len() {
            let j = &mut self.jobs[i];
            let status = match j.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(st))) => st,
                Some(Err(_)) => std::process::ExitStatus::from_raw(0),
                _ => {
                    i += 1;
                    continue;
                }
            };
            let signal = status.signal().unwrap_or(0);
            let code = status.code().unwrap_or(0);
            debug(&format!(
                "-script-child {} {code} {signal}",
                j.child.as_ref().map_or(0, |c| c.id())
            ));
            j.child = None;
            if (signal != 0 || code == 1) && j.retry_num != MAX_RETRY {
                j.start_time = now + retry_delay(j.retry_num);
                i += 1;
                continue;
            }
            if signal != 0 || code != 0 {
                events.push(("-script-error", format!("{} {signal} {code}", j.argv[0])));
            }
            self.jobs.remove(i);
        }
    }

    fn kill_timed_out(&mut self, now: i64, events: &mut Vec<ScriptEvent>) {
        for j in &mut self.jobs {
            if let Some(c) = j.child.as_mut()
                && now - j.start_time > MAX_RUNTIME_MS
            {
                events.push(("-script-timeout", format!("{} {}", j.argv[0], c.id())));
                let _ = c.kill();
            }
        }
    }
}

/// A debug-level event (`+script-child` / `-script-child`): logged only.
fn debug(line: &str) {
    crate::server::log::log(crate::config::LogLevel::Debug, line);
}

/// True when `path` names a file this process may execute (`access(path, X_OK)`).
pub fn executable(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_from_thirty_seconds() {
        let d: Vec<i64> = (1..=4).map(retry_delay).collect();
        assert_eq!(d, vec![30_000, 60_000, 120_000, 240_000]);
    }

    #[test]
    fn the_queue_keeps_the_newest_waiting_jobs() {
        let mut q = Queue::default();
        for i in 0..MAX_QUEUE + 3 {
            q.schedule(vec!["/bin/true".into(), i.to_string()]);
        }
        assert_eq!(q.len(), MAX_QUEUE);
        assert_eq!(q.pending(0)[0].argv[1], "3");
    }
}
