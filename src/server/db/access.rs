//! The access field every key carries (`Entry::atime`), as Redis's 24-bit `robj.lru`.
//!
//! Under an LFU `maxmemory-policy` it holds, as Redis's evict.c, the minutes (16 bits) of
//! the last decrement and a logarithmic access counter (8 bits): a new key starts at
//! [`LFU_INIT_VAL`], each access may increment the counter (with probability
//! 1 / ((counter - 5) * lfu-log-factor + 1)), and the counter loses one per `lfu-decay-time`
//! minutes without access. Under any other policy it holds the LRU clock (seconds) of the
//! last access. The field is not converted when the policy changes at run time: as in Redis,
//! LRU and LFU data "take some time to adjust".
//!
//! The policy and the two LFU settings are kept here, process-wide (`configure`), so the
//! places that create or touch keys pay one relaxed load when the policy is not LFU.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering::Relaxed};

/// The counter of a new key (Redis's LFU_INIT_VAL).
pub const LFU_INIT_VAL: u32 = 5;
/// The LRU clock wraps at 24 bits (Redis's LRU_CLOCK_MAX).
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// What the access field holds, from `maxmemory-policy` (Redis's MAXMEMORY_FLAG_LRU/LFU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// noeviction, *-random, volatile-ttl: the LRU clock, not saved in RDB files.
    Other,
    /// volatile-lru, allkeys-lru: the LRU clock, saved as RDB_OPCODE_IDLE.
    Lru,
    /// volatile-lfu, allkeys-lfu: minutes and counter, saved as RDB_OPCODE_FREQ.
    Lfu,
}

static MODE: AtomicU8 = AtomicU8::new(0);
static LOG_FACTOR: AtomicI64 = AtomicI64::new(10);
static DECAY_TIME: AtomicI64 = AtomicI64::new(1);
static RANDOM: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);

/// Applies `maxmemory-policy`, `lfu-log-factor` and `lfu-decay-time` (at start-up and after
/// every CONFIG SET).
pub fn configure(config: &crate::config::Config) {
    let policy = crate::config::table::MAXMEMORY_POLICIES[config.maxmemory_policy];
    let mode = if policy.ends_with("lfu") {
        Mode::Lfu
    } else if policy.ends_with("lru") {
        Mode::Lru
    } else {
        Mode::Other
    };
    MODE.store(mode as u8, Relaxed);
    LOG_FACTOR.store(config.lfu_log_factor, Relaxed);
    DECAY_TIME.store(config.lfu_decay_time, Relaxed);
}

/// The current mode.
#[inline]
pub fn mode() -> Mode {
    match MODE.load(Relaxed) {
        2 => Mode::Lfu,
        1 => Mode::Lru,
        _ => Mode::Other,
    }
}

/// True under an LFU policy.
#[inline]
pub fn is_lfu() -> bool {
    MODE.load(Relaxed) == Mode::Lfu as u8
}

/// Minutes clock of the LFU field (Redis's LFUGetTimeInMinutes).
fn minutes() -> u32 {
    (super::lru_clock() / 60) & 0xFFFF
}

/// The field of a new key (Redis's createObject).
#[inline]
pub fn new_field() -> u32 {
    if is_lfu() {
        (minutes() << 8) | LFU_INIT_VAL
    } else {
        super::lru_clock()
    }
}

/// The field after one access (Redis's lookupKey: updateLFU, or the LRU clock).
#[inline]
pub fn touch(field: &mut u32) {
    *field = if is_lfu() {
        lfu_touched(*field, random_unit())
    } else {
        super::lru_clock()
    };
}

/// updateLFU: the counter decayed, then maybe incremented (`r` uniform in [0, 1)).
fn lfu_touched(field: u32, r: f64) -> u32 {
    let counter = log_incr(counter(field), LOG_FACTOR.load(Relaxed), r);
    (minutes() << 8) | counter
}

/// LFULogIncr: the counter grows logarithmically, saturating at 255.
fn log_incr(counter: u32, factor: i64, r: f64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * factor as f64 + 1.0);
    if r < p { counter + 1 } else { counter }
}

/// The LFU counter with the decay since its last access applied, without storing it
/// (Redis's LFUDecrAndReturn): OBJECT FREQ, eviction, RDB_OPCODE_FREQ.
pub fn counter(field: u32) -> u32 {
    decayed(field, minutes(), DECAY_TIME.load(Relaxed))
}

/// The counter of `field` at minute `now`: one less per `decay` minutes since its last
/// access (0: no decay).
fn decayed(field: u32, now: u32, decay: i64) -> u32 {
    let ldt = (field >> 8) & 0xFFFF;
    let counter = field & 0xFF;
    if decay <= 0 {
        return counter;
    }
    // LFUTimeElapsed: the minutes clock wraps at 16 bits.
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = (elapsed as i64 / decay).min(255) as u32;
    counter.saturating_sub(periods)
}

/// Seconds since the last access (Redis's estimateObjectIdleTime / 1000, on the 24-bit
/// clock; meaningless under LFU, as in Redis).
pub fn idle_seconds(field: u32) -> u64 {
    let clock = super::lru_clock() & LRU_CLOCK_MAX;
    let lru = field & LRU_CLOCK_MAX;
    if clock >= lru {
        (clock - lru) as u64
    } else {
        (clock + (LRU_CLOCK_MAX - lru)) as u64
    }
}

/// The field of a key loaded with a saved frequency or idle time (RDB FREQ/IDLE opcodes,
/// RESTORE FREQ/IDLETIME; Redis's objectSetLRUOrLFU). None: keep the new key's field.
pub fn loaded_field(freq: Option<u8>, idle_secs: Option<u64>) -> Option<u32> {
    if is_lfu() {
        return freq.map(|f| (minutes() << 8) | f as u32);
    }
    let idle = idle_secs?;
    let clock = (super::lru_clock() & LRU_CLOCK_MAX) as i64;
    let mut abs = clock - idle.min(i64::MAX as u64) as i64;
    // An underflow of the wrapping clock goes round it once (redis-server 7.0.15 then reports
    // the idle time given, for any idle time below the clock's period); what is still
    // negative keeps its low 24 bits, as the C bit-field assignment does.
    if abs < 0 {
        abs += LRU_CLOCK_MAX as i64;
    }
    Some((abs as u64 & LRU_CLOCK_MAX as u64) as u32)
}

/// A uniform number in [0, 1) (Redis uses rand()/RAND_MAX): splitmix64 over a counter.
fn random_unit() -> f64 {
    let mut z = RANDOM.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_factor_zero_always_increments() {
        assert_eq!(log_incr(5, 0, 0.999), 6);
        assert_eq!(log_incr(254, 0, 0.999), 255);
        assert_eq!(log_incr(255, 0, 0.0), 255);
    }

    #[test]
    fn counters_decay_one_per_decay_time_minutes() {
        let field = (100 << 8) | 20;
        assert_eq!(decayed(field, 100, 1), 20);
        assert_eq!(decayed(field, 103, 1), 17);
        assert_eq!(decayed(field, 109, 5), 19);
        assert_eq!(decayed(field, 110, 5), 18);
        assert_eq!(decayed(field, 1000, 1), 0);
        assert_eq!(decayed(field, 1000, 0), 20);
        // The 16-bit minutes clock wrapped since the access.
        assert_eq!(decayed((65530 << 8) | 20, 2, 1), 13);
    }

    #[test]
    fn higher_counters_grow_less_often() {
        // (20 - 5) * 10 + 1 = 151: p = 1/151.
        assert_eq!(log_incr(20, 10, 0.5), 20);
        assert_eq!(log_incr(20, 10, 0.001), 21);
        // Below the initial value the base is 0: always incremented.
        assert_eq!(log_incr(2, 10, 0.99), 3);
    }
}
