//! The write stream carries every command's effect exactly: a seeded random stream of
//! commands whose effect is not deterministic when replayed (SPOP, SRANDMEMBER-driven
//! choices, served blocking pops, INCRBYFLOAT, relative expiries, RESTORE with a TTL,
//! MULTI/EXEC, SELECT, SWAPDB, lazy and active expiry) runs on a redrepl master with two
//! replicas, one redrepl and one Debian redis-server 7.0. At the end every node has the
//! master's DEBUG DIGEST, the replicas' offsets equal the master's, and every key has the
//! same absolute expiry time everywhere (DEBUG DIGEST only notes that a key has a TTL, so
//! this checks that relative expiries are streamed as absolute times).

mod common;

use common::{Kind, Server, q};
use redis::Value;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg("replication").query(con).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn digest(con: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(con).unwrap()
}

/// One random command of the stream.
fn random_command(rng: &mut Rng, dump: &[u8]) -> Vec<Vec<u8>> {
    let k = |rng: &mut Rng, p: &str| format!("{p}{}", rng.next(6)).into_bytes();
    let v = |rng: &mut Rng| format!("v{}", rng.next(20)).into_bytes();
    let s = |x: &str| x.as_bytes().to_vec();
    let ms = |rng: &mut Rng| (20 + rng.next(300)).to_string().into_bytes();
    match rng.next(34) {
        0 => vec![s("SELECT"), rng.next(3).to_string().into_bytes()],
        1 => vec![s("SET"), k(rng, "s"), v(rng), s("PX"), ms(rng)],
        2 => vec![s("SET"), k(rng, "s"), v(rng), s("EX"), s("100")],
        3 => vec![s("SETEX"), k(rng, "s"), s("50"), v(rng)],
        4 => vec![s("EXPIRE"), k(rng, "s"), s("1")],
        5 => vec![s("PEXPIRE"), k(rng, "h"), ms(rng)],
        6 => vec![s("GETEX"), k(rng, "s"), s("PX"), ms(rng)],
        7 => vec![s("GETEX"), k(rng, "s"), s("PERSIST")],
        8 => vec![s("INCRBYFLOAT"), k(rng, "f"), s("1.1")],
        9 => vec![s("HINCRBYFLOAT"), k(rng, "h"), v(rng), s("0.3")],
        10 => vec![s("SADD"), k(rng, "t"), v(rng), v(rng), v(rng)],
        11 => vec![s("SPOP"), k(rng, "t")],
        12 => vec![s("SPOP"), k(rng, "t"), rng.next(4).to_string().into_bytes()],
        13 => vec![s("RPUSH"), k(rng, "l"), v(rng), v(rng)],
        14 => vec![s("BLPOP"), k(rng, "l"), k(rng, "l"), s("0.01")],
        15 => vec![
            s("LMPOP"),
            s("2"),
            k(rng, "l"),
            k(rng, "l"),
            s("RIGHT"),
            s("COUNT"),
            s("2"),
        ],
        16 => vec![
            s("BLMOVE"),
            k(rng, "l"),
            k(rng, "l"),
            s("LEFT"),
            s("RIGHT"),
            s("0.01"),
        ],
        17 => vec![s("ZADD"), k(rng, "z"), s("INCR"), s("1.5"), v(rng)],
        18 => vec![
            s("ZADD"),
            k(rng, "z"),
            rng.next(9).to_string().into_bytes(),
            v(rng),
        ],
        19 => vec![s("BZPOPMIN"), k(rng, "z"), s("0.01")],
        20 => vec![
            s("ZMPOP"),
            s("1"),
            k(rng, "z"),
            s("MAX"),
            s("COUNT"),
            s("2"),
        ],
        21 => vec![s("SINTERSTORE"), k(rng, "t"), k(rng, "t"), k(rng, "t")],
        22 => vec![
            s("ZUNIONSTORE"),
            k(rng, "z"),
            s("2"),
            k(rng, "z"),
            k(rng, "z"),
        ],
        23 => vec![s("HSET"), k(rng, "h"), v(rng), v(rng)],
        24 => vec![s("DEL"), k(rng, "s")],
        25 => vec![
            s("RESTORE"),
            k(rng, "r"),
            s("200"),
            dump.to_vec(),
            s("REPLACE"),
        ],
        26 => vec![s("COPY"), k(rng, "s"), k(rng, "c"), s("REPLACE")],
        27 => vec![s("RENAME"), k(rng, "z"), k(rng, "z")],
        28 => vec![
            s("SWAPDB"),
            rng.next(3).to_string().into_bytes(),
            rng.next(3).to_string().into_bytes(),
        ],
        29 => vec![s("INCR"), k(rng, "n")],
        30 => vec![s("SMOVE"), k(rng, "t"), k(rng, "t"), v(rng)],
        31 => vec![s("LPUSH"), k(rng, "q"), v(rng)],
        32 => vec![s("GET"), k(rng, "s")],
        _ => vec![s("MOVE"), k(rng, "n"), rng.next(3).to_string().into_bytes()],
    }
}

#[test]
fn random_stream_leaves_every_replica_with_the_masters_digest() {
    let master = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mport = master.port.to_string();
    let ours = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &mport,
    ]);
    let theirs = Server::start_kind(Kind::Redis, &["--replicaof", "127.0.0.1", &mport]);
    let mut m = master.conn();
    let mut replicas = [ours.conn(), theirs.conn()];
    for r in replicas.iter_mut() {
        wait_for("the replica link", Duration::from_secs(10), || {
            info_field(r, "master_link_status") == "up"
        });
    }
    // A second client blocks on a list that the stream pushes to, so served blocking pops
    // are part of the stream too.
    let mport_n: u16 = master.port;
    let blocker = std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{mport_n}/")).unwrap();
        let mut c = client.get_connection().unwrap();
        let mut served = 0;
        for _ in 0..200 {
            let r: Value = redis::cmd("BLPOP")
                .arg("q0")
                .arg("q1")
                .arg(0.05)
                .query(&mut c)
                .unwrap();
            if r != Value::Nil {
                served += 1;
            }
        }
        served
    });
    let _ = q(&mut m, &["SET", "dumped", "payload"]);
    let dump: Vec<u8> = redis::cmd("DUMP").arg("dumped").query(&mut m).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let steps: usize = std::env::var("REPL_STREAM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut i = 0;
    while i < steps {
        // Batches: a pipeline, or a transaction.
        let n = 1 + rng.next(20) as usize;
        let mut pipe = redis::pipe();
        let atomic = rng.next(5) == 0;
        if atomic {
            pipe.atomic();
        }
        for _ in 0..n {
            let mut args = random_command(&mut rng, &dump);
            if atomic && args[0].starts_with(b"B") {
                // Blocking commands do not block inside MULTI; keep them anyway.
                args[0].remove(0);
                if args[0] == b"LMOVE" || args[0] == b"LPOP" || args[0] == b"ZPOPMIN" {
                    args.pop();
                }
            }
            let mut cmd = redis::Cmd::new();
            for a in &args {
                cmd.arg(a.as_slice());
            }
            pipe.add_command(cmd).ignore();
        }
        // Errors (WRONGTYPE, syntax) are part of the stream; only the effect matters.
        let _: redis::RedisResult<()> = pipe.query(&mut m);
        i += n;
    }
    let served = blocker.join().unwrap();
    assert!(served > 0, "no blocking pop was served");
    // Every relative-expiry form once more, on its own key, while both replicas are held up
    // for 100 ms (DEBUG SLEEP): replayed as relative times they would come out 100 ms late.
    let _ = q(&mut m, &["SELECT", "0"]);
    let sleepers: Vec<_> = [ours.port, theirs.port]
        .into_iter()
        .map(|port| {
            std::thread::spawn(move || {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
                let mut c = client.get_connection().unwrap();
                let _: () = redis::cmd("DEBUG")
                    .arg("SLEEP")
                    .arg(0.1)
                    .query(&mut c)
                    .unwrap();
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    for cmd in [
        vec!["SET", "ttl:set", "v", "EX", "100"],
        vec!["SET", "ttl:setpx", "v", "PX", "100000"],
        vec!["SETEX", "ttl:setex", "100", "v"],
        vec!["PSETEX", "ttl:psetex", "100000", "v"],
        vec!["SET", "ttl:expire", "v"],
        vec!["EXPIRE", "ttl:expire", "100"],
        vec!["SET", "ttl:getex", "v"],
        vec!["GETEX", "ttl:getex", "EX", "100"],
    ] {
        let _ = q(&mut m, &cmd);
    }
    let _: () = redis::cmd("RESTORE")
        .arg("ttl:restore")
        .arg(100_000)
        .arg(dump.as_slice())
        .query(&mut m)
        .unwrap();
    for t in sleepers {
        t.join().unwrap();
    }
    // Keys with short TTLs expire on the master (lazily or actively) and reach the replicas
    // as DELs; the digests, which include TTLs, must converge.
    assert_ne!(
        digest(&mut m),
        "0".repeat(40),
        "the stream left an empty dataset"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let target = digest(&mut m);
        let last = replicas.iter_mut().map(digest).collect::<Vec<_>>();
        let offsets: Vec<String> = replicas
            .iter_mut()
            .map(|r| info_field(r, "master_repl_offset"))
            .collect();
        let moff = info_field(&mut m, "master_repl_offset");
        if last.iter().all(|d| *d == target) && offsets.iter().all(|o| *o == moff) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas did not converge: master {target} at {moff}, replicas {last:?} at {offsets:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // CLIENT LIST marks the replication links as Redis does: S on the master, M on a replica.
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut m).unwrap();
    assert_eq!(
        list.matches(" flags=S ").count(),
        2,
        "master's CLIENT LIST:\n{list}"
    );
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut replicas[0])
        .unwrap();
    assert_eq!(
        list.matches(" flags=M ").count(),
        1,
        "replica's CLIENT LIST:\n{list}"
    );
    let mut with_ttl = 0;
    for db in 0..3 {
        let select = |c: &mut redis::Connection| {
            let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        };
        select(&mut m);
        replicas.iter_mut().for_each(select);
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut m).unwrap();
        for key in keys {
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(&mut m).unwrap();
            if at == -2 {
                continue; // expired meanwhile
            }
            with_ttl += (at > 0) as usize;
            for r in replicas.iter_mut() {
                let theirs: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(r).unwrap();
                assert_eq!(theirs, at, "expiry time of {key} in db {db}");
            }
        }
    }
    assert!(with_ttl > 0, "no key with a TTL left to compare");
}

fn stat(con: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

#[test]
fn maxmemory_evicts_by_policy_and_replicas_follow_by_del() {
    let master = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--maxmemory",
        "16mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ]);
    let mport = master.port.to_string();
    let replica = Server::start_kind(Kind::Redis, &["--replicaof", "127.0.0.1", &mport]);
    let mut m = master.conn();
    let mut r = replica.conn();
    wait_for("the replica link", Duration::from_secs(10), || {
        info_field(&mut r, "master_link_status") == "up"
    });
    // Fill past the limit, then (a second later: the LRU clock counts seconds, as Redis's)
    // read 100 of the keys and write more: approximate LRU evicts older keys first.
    let value = "x".repeat(200);
    let fill = |m: &mut redis::Connection, prefix: &str, batches: usize| {
        for batch in 0..batches {
            let mut pipe = redis::pipe();
            for i in 0..100 {
                pipe.cmd("SET")
                    .arg(format!("{prefix}:{batch}:{i}"))
                    .arg(&value)
                    .ignore();
            }
            let _: () = pipe.query(m).unwrap();
        }
    };
    fill(&mut m, "a", 700);
    let evicted = stat(&mut m, "stats", "evicted_keys");
    assert!(evicted > 10_000, "evicted_keys {evicted}");
    std::thread::sleep(Duration::from_millis(1100));
    // (Keys may still be evicted while we read: every command first brings memory under
    // the limit. The ones read are the recently used ones.)
    let hot: Vec<String> = (0..100)
        .map(|i| format!("a:699:{i}"))
        .filter(|k| {
            redis::cmd("GET")
                .arg(k)
                .query::<Option<String>>(&mut m)
                .unwrap()
                .is_some()
        })
        .collect();
    assert!(
        hot.len() >= 50,
        "only {} of 100 new keys still there",
        hot.len()
    );
    fill(&mut m, "b", 200);
    let kept = hot
        .iter()
        .filter(|k| redis::cmd("EXISTS").arg(*k).query::<i64>(&mut m).unwrap() == 1)
        .count();
    assert!(
        kept >= 95,
        "only {kept} of 100 recently read keys survived LRU eviction"
    );
    let keys: i64 = redis::cmd("DBSIZE").query(&mut m).unwrap();
    assert!(keys > 10_000, "only {keys} keys left in 16 MB");
    // What counts against maxmemory, as Redis: used_memory less the replicas' buffers
    // (INFO measures while it builds its own reply: allow for that).
    let used = stat(&mut m, "memory", "used_memory");
    let not_counted = stat(&mut m, "memory", "mem_not_counted_for_evict");
    assert!(
        used - not_counted <= (16 << 20) + (64 << 10),
        "used_memory {used} (of which {not_counted} not counted) above maxmemory"
    );
    // Each eviction reached the replica as a DEL.
    wait_for(
        "the replica to match the master",
        Duration::from_secs(10),
        || digest(&mut m) == digest(&mut r),
    );
    // noeviction: once over the limit, commands that may grow memory are refused, reads
    // and deletions still work.
    let _ = q(&mut m, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    let _ = q(&mut m, &["CONFIG", "SET", "maxmemory", "1mb"]);
    let evicted = stat(&mut m, "stats", "evicted_keys");
    let e = redis::cmd("SET")
        .arg("new")
        .arg("v")
        .query::<()>(&mut m)
        .unwrap_err();
    assert!(
        e.code() == Some("OOM")
            && e.detail() == Some("command not allowed when used memory > 'maxmemory'."),
        "{e}"
    );
    let _: Option<String> = redis::cmd("GET").arg(&hot[0]).query(&mut m).unwrap();
    let n: i64 = redis::cmd("DEL").arg(&hot[0]).query(&mut m).unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        stat(&mut m, "stats", "evicted_keys"),
        evicted,
        "noeviction evicted keys"
    );
}

/// CLIENT UNBLOCK ends a WAIT as in Redis: TIMEOUT answers how many replicas acknowledged,
/// ERROR answers `UNBLOCKED client unblocked via CLIENT UNBLOCK`.
#[test]
fn client_unblock_ends_a_wait() {
    let master = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mport = master.port.to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &mport]);
    let mut r = replica.conn();
    wait_for("the replica link", Duration::from_secs(10), || {
        info_field(&mut r, "master_link_status") == "up"
    });
    for (how, expected) in [("TIMEOUT", "1"), ("ERROR", "UNBLOCKED")] {
        let port = master.port;
        let (id_tx, id_rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let mut c = client.get_connection().unwrap();
            let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
            id_tx.send(id).unwrap();
            let _: () = redis::cmd("SET").arg("k").arg(how).query(&mut c).unwrap();
            // Two replicas wanted, one attached: blocks until unblocked (no timeout).
            let r: redis::RedisResult<i64> = redis::cmd("WAIT").arg(2).arg(0).query(&mut c);
            (id, r)
        });
        let mut m = master.conn();
        // Wait until this round's waiter runs WAIT (the previous round's connection may
        // still be listed, with cmd=wait, while the server closes it).
        let id = id_rx.recv().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut m).unwrap();
            let mine = format!("id={id} ");
            if list
                .lines()
                .any(|l| l.starts_with(&mine) && l.contains("cmd=wait"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "client {id} not blocked in WAIT:\n{list}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let n: i64 = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(id)
            .arg(how)
            .query(&mut m)
            .unwrap();
        assert_eq!(n, 1, "CLIENT UNBLOCK {how} of a client in WAIT");
        let (waiter_id, reply) = waiter.join().unwrap();
        assert_eq!(waiter_id, id);
        match reply {
            Ok(v) => assert_eq!(v.to_string(), expected, "WAIT after UNBLOCK {how}"),
            Err(e) => assert_eq!(e.code(), Some(expected), "WAIT after UNBLOCK {how}: {e}"),
        }
    }
}
