//! The latency monitor's store (Redis's latency.c): for each event class (`command`,
//! `fast-command`, `fork`, ...) the last 160 one-second samples of the worst latency in
//! milliseconds at or above `latency-monitor-threshold`, and the all-time maximum.

use std::collections::BTreeMap;

/// Samples kept per event (LATENCY_TS_LEN).
pub const TS_LEN: usize = 160;

/// One sample: unix seconds and the worst latency in that second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds (0: unused slot).
    pub time: i64,
    /// Milliseconds.
    pub latency: u64,
}

/// One event's time series: a ring of samples, the next slot, the all-time maximum.
#[derive(Clone, Debug)]
pub struct Series {
    samples: [Sample; TS_LEN],
    idx: usize,
    /// Highest latency ever recorded for the event.
    pub max: u64,
}

impl Series {
    /// The samples in use, oldest first.
    pub fn history(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }

    /// The newest sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// Every event seen, by name.
#[derive(Debug, Default)]
pub struct Events {
    by_name: BTreeMap<&'static str, Series>,
}

impl Events {
    /// latencyAddSampleIfNeeded: records `ms` for `event` when monitoring is on
    /// (`threshold_ms` > 0) and `ms` reaches it.
    pub fn add_if_needed(&mut self, threshold_ms: i64, event: &'static str, ms: u64, now_s: i64) {
        if threshold_ms > 0 && ms as i64 >= threshold_ms {
            self.add(event, ms, now_s);
        }
    }

    /// latencyAddSample: one sample per second per event, keeping the worst.
    pub fn add(&mut self, event: &'static str, ms: u64, now_s: i64) {
        let ts = self.by_name.entry(event).or_insert_with(|| Series {
            samples: [Sample::default(); TS_LEN],
            idx: 0,
            max: 0,
        });
        ts.max = ts.max.max(ms);
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].time == now_s {
            let s = &mut ts.samples[prev];
            s.latency = s.latency.max(ms);
            return;
        }
        ts.samples[ts.idx] = Sample {
            time: now_s,
            latency: ms,
        };
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// The series of `event`, if any sample was recorded.
    pub fn get(&self, event: &[u8]) -> Option<&Series> {
        self.by_name
            .iter()
            .find(|(k, _)| k.as_bytes() == event)
            .map(|(_, v)| v)
    }

    /// Every event with its series.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Series)> {
        self.by_name.iter().map(|(k, v)| (*k, v))
    }

    /// Number of events with samples.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether no event has samples.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Forgets `event`; true if it had samples.
    pub fn reset(&mut self, event: &[u8]) -> bool {
        let key = self.by_name.keys().find(|k| k.as_bytes() == event).copied();
        key.is_some_and(|k| self.by_name.remove(k).is_some())
    }

    /// Forgets every event; returns how many there were.
    pub fn reset_all(&mut self) -> usize {
        let n = self.by_name.len();
        self.by_name.clear();
        n
    }
}
