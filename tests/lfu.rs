//! Issue #11: OBJECT FREQ and the LFU maxmemory policies (Redis's evict.c counter), side by
//! side with Debian's redis-server: the counter of a key touched N times, which commands
//! count as an access, OBJECT IDLETIME/FREQ errors, the counter and idle time kept through
//! RDB files (RDB_OPCODE_FREQ / RDB_OPCODE_IDLE, both ways between the servers), and an LFU
//! eviction that keeps the hot keys.

mod common;

use common::{Kind, Raw, Server};

/// Both engines, each started with `args` (DEBUG enabled on both).
fn both(args: &[&str]) -> [Server; 2] {
    [Kind::Redrepl, Kind::Redis].map(|k| Server::builder(k).debug_command(true).args(args).start())
}

/// The integer of a `:n` reply.
fn int_reply(r: &[u8]) -> i64 {
    let t = String::from_utf8_lossy(r);
    t.strip_prefix(':')
        .and_then(|t| t.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("expected an integer, got {t:?}"))
}

/// Sends `n` copies of `cmd` pipelined and reads the `n` replies.
fn repeat(c: &mut Raw, cmd: &[&str], n: usize) {
    let one = common::resp(&cmd.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
    c.send(&one.repeat(n));
    for _ in 0..n {
        c.read_reply();
    }
}

/// Runs `script` on both servers; every reply must be byte-identical.
fn same_script(servers: &[Server; 2], script: &[&[&str]]) {
    common::assert_same_replies(&mut servers[0].raw(), &mut servers[1].raw(), script);
}

/// With lfu-log-factor 0 every access increments the counter (up to 255), and the same
/// commands count as accesses on both servers (OBJECT, EXISTS, TYPE, TTL do not).
#[test]
fn freq_counts_each_access_with_log_factor_0() {
    let servers = both(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ]);
    let mut script: Vec<Vec<&str>> = vec![
        vec!["SET", "k", "v"],
        vec!["OBJECT", "FREQ", "k"],
        vec!["OBJECT", "FREQ", "missing"],
    ];
    for _ in 0..10 {
        script.push(vec!["GET", "k"]);
    }
    for cmd in [
        vec!["OBJECT", "FREQ", "k"],
        vec!["EXISTS", "k"],
        vec!["TYPE", "k"],
        vec!["TTL", "k"],
        vec!["PTTL", "k"],
        vec!["OBJECT", "ENCODING", "k"],
        vec!["OBJECT", "FREQ", "k"],
        vec!["SET", "k", "w"],
        vec!["OBJECT", "FREQ", "k"],
        vec!["APPEND", "k", "x"],
        vec!["STRLEN", "k"],
        vec!["OBJECT", "FREQ", "k"],
        vec!["INCR", "n"],
        vec!["INCR", "n"],
        vec!["INCRBY", "n", "1000"],
        vec!["OBJECT", "FREQ", "n"],
        vec!["RPUSH", "l", "a", "b"],
        vec!["LRANGE", "l", "0", "-1"],
        vec!["LPOP", "l"],
        vec!["OBJECT", "FREQ", "l"],
        vec!["HSET", "h", "f", "v"],
        vec!["HGET", "h", "f"],
        vec!["OBJECT", "FREQ", "h"],
        vec!["RENAME", "h", "h2"],
        vec!["OBJECT", "FREQ", "h2"],
        vec!["MOVE", "h2", "1"],
        vec!["SELECT", "1"],
        vec!["OBJECT", "FREQ", "h2"],
        vec!["SELECT", "0"],
        vec!["COPY", "k", "k2"],
        vec!["OBJECT", "FREQ", "k2"],
        vec!["OBJECT", "FREQ", "k"],
        vec!["OBJECT", "IDLETIME", "k"],
        vec!["OBJECT", "IDLETIME", "missing"],
        vec!["SETNX", "k", "z"],
        vec!["OBJECT", "FREQ", "k"],
    ] {
        script.push(cmd);
    }
    let refs: Vec<Vec<&str>> = script;
    let refs: Vec<&[&str]> = refs.iter().map(|c| c.as_slice()).collect();
    same_script(&servers, &refs);
    // 300 more reads saturate the counter at 255 on both.
    for s in &servers {
        let mut c = s.raw();
        repeat(&mut c, &["GET", "k"], 300);
        assert_eq!(int_reply(&c.request(&["OBJECT", "FREQ", "k"])), 255);
    }
}

/// With the default lfu-log-factor (10) the counter grows logarithmically: 1000 reads give
/// a counter in the same range on both servers, far below 1000; a key read 3 times stays
/// near the initial 5.
#[test]
fn freq_grows_logarithmically_with_default_factor() {
    let servers = both(&["--maxmemory-policy", "volatile-lfu"]);
    for s in &servers {
        let mut c = s.raw();
        c.request(&["SET", "hot", "v"]);
        c.request(&["SET", "cold", "v"]);
        repeat(&mut c, &["GET", "hot"], 1000);
        repeat(&mut c, &["GET", "cold"], 3);
        let hot = int_reply(&c.request(&["OBJECT", "FREQ", "hot"]));
        let cold = int_reply(&c.request(&["OBJECT", "FREQ", "cold"]));
        assert!((12..=28).contains(&hot), "{:?}: hot {hot}", s.kind);
        assert!((5..=8).contains(&cold), "{:?}: cold {cold}", s.kind);
    }
}

/// OBJECT FREQ errors unless the policy is LFU, OBJECT IDLETIME errors when it is; CONFIG
/// SET switches at run time (new keys start at the initial counter 5).
#[test]
fn object_errors_follow_the_policy_set_at_run_time() {
    let servers = both(&[]);
    same_script(
        &servers,
        &[
            &["SET", "k", "v"],
            &["OBJECT", "FREQ", "k"],
            &["OBJECT", "FREQ", "missing"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
            &[
                "CONFIG",
                "SET",
                "lfu-log-factor",
                "0",
                "lfu-decay-time",
                "0",
            ],
            &["CONFIG", "GET", "lfu-log-factor"],
            &["CONFIG", "GET", "lfu-decay-time"],
            &["CONFIG", "SET", "lfu-log-factor", "-1"],
            &["OBJECT", "IDLETIME", "k"],
            &["SET", "new", "v"],
            &["OBJECT", "FREQ", "new"],
            &["GET", "new"],
            &["OBJECT", "FREQ", "new"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            &["OBJECT", "FREQ", "new"],
            &["SET", "again", "v"],
            &["OBJECT", "IDLETIME", "again"],
        ],
    );
}

/// The counter survives DEBUG RELOAD and goes through RDB files both ways between the
/// servers (RDB_OPCODE_FREQ); under an LRU policy the idle time does (RDB_OPCODE_IDLE).
#[test]
fn rdb_keeps_freq_and_idle_time_both_ways() {
    let lfu = [
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ];
    let servers = both(&lfu);
    for (i, s) in servers.iter().enumerate() {
        let mut c = s.raw();
        c.request(&["SET", "k", "v"]);
        repeat(&mut c, &["GET", "k"], 20 + i * 10);
        let payload = dump_of_k(&mut c);
        assert_eq!(restore(&mut c, "r", &payload, "FREQ", "77"), b"+OK\r\n");
        assert_eq!(c.request(&["DEBUG", "RELOAD"]), b"+OK\r\n");
        // SET (5), the GETs, and DUMP (a read: one more).
        assert_eq!(
            int_reply(&c.request(&["OBJECT", "FREQ", "k"])),
            26 + i as i64 * 10
        );
        assert_eq!(int_reply(&c.request(&["OBJECT", "FREQ", "r"])), 77);
        assert_eq!(c.request(&["SAVE"]), b"+OK\r\n");
    }
    // Each server's dump loaded by the other one.
    for (from, to_kind) in [(0, Kind::Redis), (1, Kind::Redrepl)] {
        let dir = servers[from].path().to_path_buf();
        let other = Server::builder(to_kind)
            .debug_command(true)
            .dir(&dir)
            .args(&lfu)
            .start();
        let mut c = other.raw();
        let expected = 26 + from as i64 * 10;
        assert_eq!(
            int_reply(&c.request(&["OBJECT", "FREQ", "k"])),
            expected,
            "{to_kind:?}"
        );
        drop(other);
    }
    // LRU: the idle time given by RESTORE IDLETIME is saved and loaded.
    let servers = both(&["--maxmemory-policy", "allkeys-lru"]);
    for s in &servers {
        let mut c = s.raw();
        c.request(&["SET", "k", "v"]);
        let payload = dump_of_k(&mut c);
        assert_eq!(
            restore(&mut c, "idle", &payload, "IDLETIME", "5000"),
            b"+OK\r\n"
        );
        assert_eq!(c.request(&["DEBUG", "RELOAD"]), b"+OK\r\n");
        let idle = int_reply(&c.request(&["OBJECT", "IDLETIME", "idle"]));
        assert!((5000..5010).contains(&idle), "{:?}: {idle}", s.kind);
        let fresh = int_reply(&c.request(&["OBJECT", "IDLETIME", "k"]));
        assert!(fresh < 10, "{:?}: {fresh}", s.kind);
    }
}

/// RESTORE IDLETIME longer than the LRU clock's value (seconds since the epoch modulo 2^24,
/// about 194 days), or than its whole period: OBJECT IDLETIME reports what redis-server's
/// wrapping 24-bit clock gives (found by the fuzzer, seed 2: 1000000 was reported as 2^23).
#[test]
fn restore_idletime_past_the_clock_wraps_as_redis() {
    let servers = both(&[]);
    let mut seen = Vec::new();
    for s in &servers {
        let mut c = s.raw();
        c.request(&["SET", "k", "v"]);
        let payload = dump_of_k(&mut c);
        let mut row = Vec::new();
        for idle in [
            "1000000",
            "16777215",
            "16777216",
            "20000000",
            "1000000000000",
        ] {
            c.request(&["DEL", "idle"]);
            assert_eq!(
                restore(&mut c, "idle", &payload, "IDLETIME", idle),
                b"+OK\r\n"
            );
            row.push(int_reply(&c.request(&["OBJECT", "IDLETIME", "idle"])));
        }
        seen.push(row);
    }
    // The two servers may read their clocks a second apart.
    for (ours, theirs) in seen[0].iter().zip(&seen[1]) {
        assert!(
            (ours - theirs).abs() <= 2,
            "ours {:?}, redis {:?}",
            seen[0],
            seen[1]
        );
    }
    assert!(
        (1_000_000..1_000_003).contains(&seen[1][0]),
        "{:?}",
        seen[1]
    );
}

/// DUMP of `k`: the payload bytes.
fn dump_of_k(c: &mut Raw) -> Vec<u8> {
    let r = c.request(&["DUMP", "k"]);
    // $<len>\r\n<payload>\r\n
    let start = r.iter().position(|&b| b == b'\n').unwrap() + 1;
    r[start..r.len() - 2].to_vec()
}

/// RESTORE `key` 0 <payload> <option> <value>; returns the reply.
fn restore(c: &mut Raw, key: &str, payload: &[u8], option: &str, value: &str) -> Vec<u8> {
    let args: [&[u8]; 6] = [
        b"RESTORE",
        key.as_bytes(),
        b"0",
        payload,
        option.as_bytes(),
        value.as_bytes(),
    ];
    c.send(&common::resp(&args));
    c.read_reply()
}

/// Under allkeys-lfu a memory limit evicts the cold keys and keeps the hot ones, on both
/// servers (idle time cannot tell them apart here: every key was just written).
#[test]
fn lfu_eviction_keeps_the_hot_keys() {
    let servers = both(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ]);
    let value = "x".repeat(10_000);
    for s in &servers {
        let mut c = s.raw();
        for i in 0..100 {
            c.request(&["SET", &format!("cold:{i}"), &value]);
        }
        for i in 0..10 {
            let k = format!("hot:{i}");
            c.request(&["SET", &k, &value]);
            repeat(&mut c, &["GET", &k], 20);
        }
        let info = String::from_utf8_lossy(&c.request(&["INFO", "memory"])).into_owned();
        let used: i64 = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // About 30 values over the limit.
        let limit = (used - 300_000).to_string();
        c.request(&["CONFIG", "SET", "maxmemory", &limit]);
        c.request(&["SET", "trigger", "1"]);
        let stats = String::from_utf8_lossy(&c.request(&["INFO", "stats"])).into_owned();
        let evicted: i64 = stats
            .lines()
            .find_map(|l| l.strip_prefix("evicted_keys:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(evicted >= 20, "{:?}: evicted {evicted}", s.kind);
        for i in 0..10 {
            let k = format!("hot:{i}");
            assert_eq!(
                c.request(&["EXISTS", &k]),
                b":1\r\n",
                "{:?}: {k} was evicted",
                s.kind
            );
        }
        c.request(&["CONFIG", "SET", "maxmemory", "0"]);
    }
}
