//! AOF rewrite under load (issue #15): a writer keeps writing (pipelined, every type) while
//! BGREWRITEAOF runs five times on a master with a replica; at the end the master's DEBUG
//! DIGEST equals the replica's and equals the digest of the master restarted (after kill -9)
//! from its AOF alone, and the manifest names one base and one incr file (history removed).

mod common;

use common::{Kind, Server, q};
use redis::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info_field(s: &Server, section: &str, field: &str) -> String {
    let text = match q(&mut s.conn(), &["INFO", section]) {
        Value::VerbatimString { text, .. } => text,
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("INFO: {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

fn digest(s: &Server) -> String {
    match q(&mut s.conn(), &["DEBUG", "DIGEST"]) {
        Value::SimpleString(d) => d,
        Value::BulkString(d) => String::from_utf8(d).unwrap(),
        other => panic!("DEBUG DIGEST: {other:?}"),
    }
}

/// Pipelines of 100 writes of every type until `stop`; counts the batches acknowledged.
fn writer(url: String, stop: Arc<AtomicBool>, batches: Arc<AtomicU64>) {
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut p = redis::pipe();
        for _ in 0..20 {
            let k = n % 5000;
            p.cmd("SET").arg(format!("s{k}")).arg(n).ignore();
            p.cmd("INCR").arg(format!("c{}", n % 97)).ignore();
            p.cmd("RPUSH").arg(format!("l{}", n % 50)).arg(n).ignore();
            p.cmd("HSET")
                .arg(format!("h{}", n % 40))
                .arg(format!("f{}", n % 300))
                .arg(n)
                .ignore();
            p.cmd("ZADD")
                .arg(format!("z{}", n % 30))
                .arg(n)
                .arg(format!("m{}", n % 700))
                .ignore();
            n += 1;
        }
        let () = p.query(&mut c).unwrap();
        batches.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn rewrites_under_a_writer_keep_master_replica_and_restart_digests_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let mut master = Server::builder(Kind::Redrepl)
        .dir(tmp.path())
        .debug_command(true)
        .args(&args)
        .start();
    let mport = master.port.to_string();
    let replica = Server::builder(Kind::Redrepl)
        .debug_command(true)
        .args(&["--replicaof", "127.0.0.1", &mport])
        .start();
    wait_until("the replica's link", || {
        info_field(&replica, "replication", "master_link_status") == "up"
    });

    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let w = {
        let (url, stop, batches) = (master.url(), stop.clone(), batches.clone());
        std::thread::spawn(move || writer(url, stop, batches))
    };
    for i in 0..5 {
        // Some writes before each rewrite and while it runs.
        let at = batches.load(Ordering::Relaxed);
        wait_until("writes", || batches.load(Ordering::Relaxed) >= at + 20);
        let v = q(&mut master.conn(), &["BGREWRITEAOF"]);
        assert_eq!(
            v,
            Value::SimpleString("Background append only file rewriting started".into()),
            "rewrite {i}"
        );
        let at = batches.load(Ordering::Relaxed);
        wait_until("the rewrite", || {
            info_field(&master, "persistence", "aof_rewrite_in_progress") == "0"
        });
        assert_eq!(
            info_field(&master, "persistence", "aof_last_bgrewrite_status"),
            "ok"
        );
        wait_until("writes after the rewrite", || {
            batches.load(Ordering::Relaxed) >= at + 20
        });
    }
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert_eq!(info_field(&master, "persistence", "aof_rewrites"), "5");
    assert_eq!(
        info_field(&master, "persistence", "aof_last_write_status"),
        "ok"
    );

    // The replica has everything; same dataset.
    let target = info_field(&master, "replication", "master_repl_offset");
    wait_until("the replica's offset", || {
        info_field(&replica, "replication", "master_repl_offset") == target
    });
    let want = digest(&master);
    assert_eq!(digest(&replica), want, "replica digest");

    // One base, one incr: the history of the five rewrites is gone.
    let manifest =
        std::fs::read_to_string(tmp.path().join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest.matches(" type b").count(), 1, "{manifest}");
    assert_eq!(manifest.matches(" type i").count(), 1, "{manifest}");
    assert_eq!(manifest.matches(" type h").count(), 0, "{manifest}");

    // kill -9 and restart from the AOF alone (no RDB: --save "" and no dump file).
    master.kill9();
    drop(master);
    assert!(!tmp.path().join("dump.rdb").exists());
    let master = Server::builder(Kind::Redrepl)
        .dir(tmp.path())
        .debug_command(true)
        .args(&args)
        .start();
    assert_eq!(digest(&master), want, "digest after restart from the AOF");
    assert!(
        master.log().contains("DB loaded from append only file"),
        "{}",
        master.log()
    );
}
