//! INFO's `instantaneous_*` figures, as Redis's trackInstantaneousMetric: every 100 ms the
//! cron turns each counter's growth since the previous sample into a per-second rate; INFO
//! shows the mean of the last 16 samples (so a burst fades out over ~1.6 s).

/// Samples kept per metric (Redis's STATS_METRIC_SAMPLES).
const SAMPLES: usize = 16;
/// How often the cron samples (Redis samples in serverCron every 100 ms).
pub const PERIOD_MS: i64 = 100;

/// One tracked rate.
#[derive(Debug, Default, Clone)]
struct Metric {
    last_ms: i64,
    last_value: u64,
    samples: [u64; SAMPLES],
    idx: usize,
}

impl Metric {
    fn track(&mut self, now_ms: i64, value: u64) {
        let dt = now_ms - self.last_ms;
        if self.last_ms > 0 && dt > 0 {
            self.samples[self.idx] = value.saturating_sub(self.last_value) * 1000 / dt as u64;
            self.idx = (self.idx + 1) % SAMPLES;
        }
        self.last_ms = now_ms;
        self.last_value = value;
    }

    fn mean(&self) -> u64 {
        self.samples.iter().sum::<u64>() / SAMPLES as u64
    }
}

/// The counters sampled, in [`Instantaneous::track`]'s order.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    /// total_commands_processed.
    pub commands: u64,
    /// total_net_input_bytes.
    pub net_input: u64,
    /// total_net_output_bytes.
    pub net_output: u64,
    /// total_net_repl_input_bytes.
    pub repl_input: u64,
    /// total_net_repl_output_bytes.
    pub repl_output: u64,
}

/// The five rates INFO stats reports (reset by CONFIG RESETSTAT, as Redis's
/// resetServerStats does).
#[derive(Debug, Default, Clone)]
pub struct Instantaneous {
    metrics: [Metric; 5],
}

impl Instantaneous {
    /// Takes one sample of every counter at `now_ms`.
    pub fn track(&mut self, now_ms: i64, c: Counters) {
        let values = [
            c.commands,
            c.net_input,
            c.net_output,
            c.repl_input,
            c.repl_output,
        ];
        for (m, v) in self.metrics.iter_mut().zip(values) {
            m.track(now_ms, v);
        }
    }

    /// When the last sample was taken (0: never).
    pub fn last_ms(&self) -> i64 {
        self.metrics[0].last_ms
    }

    /// instantaneous_ops_per_sec.
    pub fn ops_per_sec(&self) -> u64 {
        self.metrics[0].mean()
    }

    /// instantaneous_input_kbps, output_kbps, input_repl_kbps, output_repl_kbps.
    pub fn kbps(&self) -> [f64; 4] {
        [1, 2, 3, 4].map(|i| self.metrics[i].mean() as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_shows_after_sixteen_samples_and_fades_after_it_stops() {
        let mut i = Instantaneous::default();
        let mut ops = 0;
        let counters = |ops| Counters {
            commands: ops,
            net_input: ops * 2048,
            net_output: 0,
            repl_input: 0,
            repl_output: 0,
        };
        for t in 0..=16 {
            i.track(1_000 + t * PERIOD_MS, counters(ops));
            ops += 500; // 5,000 ops/s
        }
        assert_eq!(i.ops_per_sec(), 5000);
        assert_eq!(i.kbps()[0], 5000.0 * 2.0);
        for t in 17..=40 {
            i.track(1_000 + t * PERIOD_MS, counters(ops));
        }
        assert_eq!(i.ops_per_sec(), 0);
    }
}
