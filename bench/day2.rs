//! Day-2 operations timed side by side over real SSH: the bundled engine against
//! `engine: redis` (Debian's redis-server), each in its own three-VM lab (tests/lab).
//!
//! For each engine:
//! * **upgrade**: `redrepl upgrade --keep-master` onto a new binary while a writer sends
//!   `--rate` SETs per second to whichever node is the master (found again by ROLE after an
//!   error), each followed by `WAIT 1 100`. Reported: the upgrade's wall time, the writer's
//!   longest gap between two acknowledged writes (the unavailability it saw), its errors, and
//!   how many acknowledged writes are missing afterwards (must be 0).
//! * **backup / restore**: `--keys` keys SET on the master, replicas waited for, then the
//!   wall time of `redrepl backup` (BGSAVE on a replica + SHA-256-checked download) and of
//!   `redrepl restore --yes` (upload, master restart on the backup, replicas full-synced), and
//!   the key count after it.
//!
//! Only the ratios of one run compare; absolute times depend on the machine and its load.
//! Needs root (the lab's namespaces), OpenSSH and redis-server, as the lab tests do.
//!
//! ```text
//! cargo bench --bench day2 -- [--rate 5000] [--keys 1000000]   # --keys 0: upgrade only
//! ```

#[path = "../tests/lab/mod.rs"]
mod lab;
#[path = "../tests/orch/mod.rs"]
mod orch;

use lab::Lab;
use orch::{cli, connect, lab_inventory};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one engine's run measured, in the order of the printed table.
struct Figures {
    upgrade_s: f64,
    longest_gap_s: f64,
    writer_errors: u64,
    acked: usize,
    missing: usize,
    backup_s: f64,
    restore_s: f64,
    restored_keys: u64,
}

/// The address of the node that answers ROLE as master, if any.
fn master_addr(addrs: &[String]) -> Option<String> {
    addrs.iter().find_map(|a| {
        let client = redis::Client::open(format!("redis://:{}@{a}:6379/", orch::PASSWORD)).ok()?;
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok()?;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).ok()?;
        match role.first() {
            Some(redis::Value::BulkString(r)) if r == b"master" => Some(a.clone()),
            _ => None,
        }
    })
}

/// The writer's outcome: acknowledged keys, errors seen, longest gap between acks.
struct Written {
    acked: Vec<String>,
    errors: u64,
    longest_gap: Duration,
}

/// SET + `WAIT 1 100` at `rate` per second to the current master until `stop`.
fn writer(addrs: Vec<String>, rate: u64, stop: Arc<AtomicBool>) -> Written {
    let mut out = Written {
        acked: Vec::new(),
        errors: 0,
        longest_gap: Duration::ZERO,
    };
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut con = None;
    let mut last_ok = Instant::now();
    let mut next_at = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if con.is_none() {
            con = master_addr(&addrs).and_then(|a| {
                redis::Client::open(format!("redis://:{}@{a}:6379/", orch::PASSWORD))
                    .ok()?
                    .get_connection_with_timeout(Duration::from_secs(1))
                    .ok()
            });
            if con.is_none() {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        let c = con.as_mut().unwrap();
        let key = format!("w:{n}");
        let res: redis::RedisResult<i64> = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(n)
            .ignore()
            .cmd("WAIT")
            .arg(1)
            .arg(100)
            .query::<(i64,)>(c)
            .map(|(acks,)| acks);
        match res {
            Ok(acks) if acks >= 1 => {
                let now = Instant::now();
                out.longest_gap = out.longest_gap.max(now - last_ok);
                last_ok = now;
                out.acked.push(key);
                n += 1;
            }
            Ok(_) => n += 1, // written but not acknowledged by a replica: not counted
            Err(_) => {
                out.errors += 1;
                con = None;
                continue;
            }
        }
        next_at += period;
        let now = Instant::now();
        if next_at > now {
            std::thread::sleep(next_at - now);
        } else {
            next_at = now;
        }
    }
    out
}

/// Runs `redrepl upgrade --keep-master`, printing each progress line with the seconds since
/// the start (where the time goes); returns the total.
fn timed_upgrade(engine: &str, inv: &std::path::Path, binary: &str) -> f64 {
    use std::io::BufRead;
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .args([
            "upgrade",
            inv.to_str().unwrap(),
            "--binary",
            binary,
            "--keep-master",
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run redrepl upgrade");
    let echo = |stream: Box<dyn std::io::Read + Send>, engine: String| {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines() {
                let line = line.unwrap();
                assert!(!line.contains(orch::PASSWORD), "the password was printed");
                println!("{engine} {:7.2}s  {line}", seconds(started));
            }
        })
    };
    let out = echo(Box::new(child.stdout.take().unwrap()), engine.to_string());
    let err = echo(Box::new(child.stderr.take().unwrap()), engine.to_string());
    out.join().unwrap();
    err.join().unwrap();
    assert!(child.wait().unwrap().success(), "upgrade failed");
    seconds(started)
}

fn seconds(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

fn run_engine(engine: &str, rate: u64, keys: u64) -> Figures {
    let lab = Lab::new(3);
    let addrs: Vec<String> = (0..3).map(|i| lab.addr(i).to_string()).collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let inv = lab_inventory(
        &lab.dir,
        &refs,
        &lab.key,
        &lab.known_hosts,
        engine,
        &["role: master", "replicaof: node1", "replicaof: node1"],
    );
    cli("deploy", &inv, &[]).expect(0, "deploy");

    // The new binary: this program with bytes appended (another checksum).
    let mut data = std::fs::read(env!("CARGO_BIN_EXE_redrepl")).unwrap();
    data.extend_from_slice(b"\0redrepl day2 bench\0");
    let new_bin = lab.dir.join("redrepl-new");
    std::fs::write(&new_bin, &data).unwrap();
    std::fs::set_permissions(&new_bin, std::fs::Permissions::from_mode(0o755)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (addrs, stop) = (addrs.clone(), stop.clone());
        std::thread::spawn(move || writer(addrs, rate, stop))
    };
    std::thread::sleep(Duration::from_secs(2));
    let upgrade_s = timed_upgrade(engine, &inv, new_bin.to_str().unwrap());
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let written = w.join().unwrap();

    let master = master_addr(&addrs).expect("a master after the upgrade");
    let mut con = connect(&master, 6379);
    let mut missing = 0;
    for chunk in written.acked.chunks(1000) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut con).unwrap();
        missing += values.iter().filter(|v| v.is_none()).count();
    }

    if keys == 0 {
        cli("stop", &inv, &[]);
        return Figures {
            upgrade_s,
            longest_gap_s: written.longest_gap.as_secs_f64(),
            writer_errors: written.errors,
            acked: written.acked.len(),
            missing,
            backup_s: 0.0,
            restore_s: 0.0,
            restored_keys: 0,
        };
    }
    redis::cmd("FLUSHALL").exec(&mut con).unwrap();
    // DEBUG POPULATE is refused to remote clients (enable-debug-command local): pipelined SETs.
    for start in (0..keys).step_by(10_000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 10_000).min(keys) {
            pipe.cmd("SET")
                .arg(format!("key:{i}"))
                .arg(format!("value:{i:010}"))
                .ignore();
        }
        pipe.exec(&mut con).unwrap();
    }
    let _: i64 = redis::cmd("WAIT")
        .arg(2)
        .arg(120_000)
        .query(&mut con)
        .unwrap();
    let backups = lab.dir.join("backups");
    let started = Instant::now();
    cli("backup", &inv, &["--to", backups.to_str().unwrap()]).expect(0, "backup");
    let backup_s = seconds(started);
    let backup = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .expect("one backup folder")
        .unwrap()
        .path();
    redis::cmd("FLUSHALL").exec(&mut con).unwrap();
    drop(con);
    let started = Instant::now();
    cli("restore", &inv, &[backup.to_str().unwrap(), "--yes"]).expect(0, "restore");
    let restore_s = seconds(started);
    let master = master_addr(&addrs).expect("a master after the restore");
    let restored_keys: u64 = redis::cmd("DBSIZE")
        .query(&mut connect(&master, 6379))
        .unwrap();
    cli("stop", &inv, &[]);
    Figures {
        upgrade_s,
        longest_gap_s: written.longest_gap.as_secs_f64(),
        writer_errors: written.errors,
        acked: written.acked.len(),
        missing,
        backup_s,
        restore_s,
        restored_keys,
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate = arg(&args, "--rate", 5000);
    let keys = arg(&args, "--keys", 1_000_000);
    let ours = run_engine("bundled", rate, keys);
    let theirs = run_engine("redis", rate, keys);
    println!(
        "\nday-2 operations, {rate} writes/s (SET + WAIT 1 100), {keys} keys; ratio = bundled / redis"
    );
    println!("| measure | bundled | engine redis | ratio |");
    println!("|---|---:|---:|---:|");
    let secs = |name: &str, a: f64, b: f64| {
        println!("| {name} | {a:.2} | {b:.2} | {:.2} |", a / b.max(1e-9));
    };
    secs("upgrade (s)", ours.upgrade_s, theirs.upgrade_s);
    secs(
        "writer's longest gap (s)",
        ours.longest_gap_s,
        theirs.longest_gap_s,
    );
    println!(
        "| writer errors | {} | {} | |",
        ours.writer_errors, theirs.writer_errors
    );
    println!(
        "| acknowledged writes | {} | {} | |",
        ours.acked, theirs.acked
    );
    println!(
        "| acknowledged writes missing | {} | {} | |",
        ours.missing, theirs.missing
    );
    secs("backup (s)", ours.backup_s, theirs.backup_s);
    secs("restore (s)", ours.restore_s, theirs.restore_s);
    println!(
        "| keys after restore | {} | {} | |",
        ours.restored_keys, theirs.restored_keys
    );
}
