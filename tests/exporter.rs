//! Prometheus's redis_exporter (Debian's `prometheus-redis-exporter`) scraping `redrepl
//! server` yields the metrics it yields for redis-server: the same metric names for the
//! same dataset and topology (a master with one replica), and the same values where the
//! dataset decides them (keys per db, keys with a TTL, connected replicas, role, link).
//! Also: INFO's fields (what the exporter parses) are Redis 7.0's, in Redis's order.

mod common;

use common::{Kind, Server, free_port, q};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The exporter Debian installs (`apt-get install prometheus-redis-exporter`).
const EXPORTER: &str = "/usr/bin/prometheus-redis-exporter";

/// Metric names that may differ between the engines, each with its reason. Every other
/// name the exporter derives from redis-server 7.0.15 must come from redrepl too.
const NAMES_ALLOWED_TO_DIFFER: &[(&str, &str)] = &[];

/// INFO fields that may be absent or extra on one side, with why.
const FIELDS_ALLOWED_TO_DIFFER: &[(&str, &str)] = &[(
    "redrepl_version",
    "redrepl's own version, after Redis's server fields",
)];

/// A running exporter, killed by PID on drop.
struct Exporter {
    child: Child,
    port: u16,
}

impl Exporter {
    /// Starts the exporter for the server on `redis_port`, listening on a free port.
    fn start(redis_port: u16) -> Exporter {
        assert!(
            std::path::Path::new(EXPORTER).exists(),
            "{EXPORTER} missing: apt-get install prometheus-redis-exporter"
        );
        let port = free_port();
        let child = Command::new(EXPORTER)
            .arg(format!("--redis.addr=redis://127.0.0.1:{redis_port}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--redis-only-metrics")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the exporter");
        Exporter { child, port }
    }

    /// One scrape: the `/metrics` body.
    fn scrape(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.try_scrape() {
                Ok(body) => return body,
                Err(e) if Instant::now() > deadline => panic!("scrape failed: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn try_scrape(&self) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        match reply.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.0 200") => Ok(body.to_string()),
            _ => Err(std::io::Error::other(format!("bad reply: {reply:.200}"))),
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // Child::kill signals this child's own PID (SIGKILL); wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The samples of a scrape: `name{labels}` -> value.
fn samples(body: &str) -> BTreeMap<String, String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The metric names of a scrape.
fn names(body: &str) -> BTreeSet<String> {
    samples(body)
        .keys()
        .map(|k| k.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

/// A master with one replica attached, and the same dataset.
fn topology(kind: Kind) -> (Server, Server) {
    let master = Server::builder(kind).start();
    let replica = Server::builder(kind)
        .args(&["--replicaof", "127.0.0.1", &master.port.to_string()])
        .start();
    let mut m = master.conn();
    for i in 0..20 {
        q(&mut m, &["SET", &format!("k{i}"), "v"]);
    }
    q(&mut m, &["SET", "t1", "v", "EX", "1000"]);
    q(&mut m, &["SET", "t2", "v", "EX", "1000"]);
    q(&mut m, &["SELECT", "3"]);
    q(&mut m, &["RPUSH", "l", "a", "b"]);
    q(&mut m, &["SELECT", "0"]);
    q(&mut m, &["WAIT", "1", "10000"]);
    let mut r = replica.conn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut r, "replication", "master_link_status") != "up"
        || q(&mut r, &["DBSIZE"]) != redis::Value::Int(22)
    {
        assert!(Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
    (master, replica)
}

fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

fn info_field(c: &mut redis::Connection, section: &str, name: &str) -> String {
    info(c, section)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The scrapes of master and replica.
fn scrape_both(kind: Kind) -> [String; 2] {
    let (master, replica) = topology(kind);
    [&master, &replica].map(|s| Exporter::start(s.port).scrape())
}

#[test]
fn exporter_sees_the_same_metrics_from_both_engines() {
    let [ours, theirs] = [Kind::Redrepl, Kind::Redis].map(scrape_both);
    let allowed: BTreeSet<&str> = NAMES_ALLOWED_TO_DIFFER.iter().map(|a| a.0).collect();
    for (role, (a, b)) in ["master", "replica"]
        .iter()
        .zip(ours.iter().zip(theirs.iter()))
    {
        let (na, nb) = (names(a), names(b));
        let missing: Vec<_> = nb
            .difference(&na)
            .filter(|n| !allowed.contains(n.as_str()))
            .collect();
        let extra: Vec<_> = na
            .difference(&nb)
            .filter(|n| !allowed.contains(n.as_str()))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{role}: missing {missing:?}, extra {extra:?}"
        );
        let (sa, sb) = (samples(a), samples(b));
        assert_eq!(sa["redis_up"], "1", "{role}");
        let scrape_error = sa
            .iter()
            .find(|(k, _)| k.starts_with("redis_exporter_last_scrape_error"))
            .map(|(_, v)| v.as_str());
        assert_eq!(scrape_error, Some("0"), "{role}");
        for key in [
            "redis_db_keys{db=\"db0\"}",
            "redis_db_keys{db=\"db3\"}",
            "redis_db_keys_expiring{db=\"db0\"}",
            "redis_db_keys_expiring{db=\"db3\"}",
            "redis_connected_slaves",
            "redis_aof_enabled",
            "redis_cluster_enabled",
        ] {
            assert_eq!(sa.get(key), sb.get(key), "{role}: {key}");
        }
        // The role is a label of redis_instance_info.
        let role_of = |s: &BTreeMap<String, String>| {
            s.keys()
                .find(|k| k.starts_with("redis_instance_info{"))
                .and_then(|k| k.split("role=\"").nth(1))
                .map(|r| r.split('"').next().unwrap().to_string())
        };
        assert_eq!(role_of(&sa), role_of(&sb), "{role}");
        assert_eq!(
            role_of(&sa).as_deref(),
            Some(["master", "slave"][(*role != "master") as usize])
        );
    }
    // The replica's link (a label set may follow the name).
    let link_up = |body: &str| {
        samples(body)
            .into_iter()
            .find(|(k, _)| k.starts_with("redis_master_link_up"))
            .map(|(_, v)| v)
    };
    assert_eq!(link_up(&ours[1]), link_up(&theirs[1]));
    assert_eq!(link_up(&ours[1]).as_deref(), Some("1"));
    assert_eq!(samples(&ours[0])["redis_connected_slaves"], "1");
}

/// The field names of INFO everything, per section, in order (commandstats, errorstats,
/// latencystats and keyspace list what ran and what is stored, not fixed fields).
fn info_fields(c: &mut redis::Connection) -> Vec<(String, Vec<String>)> {
    let text = info(c, "everything");
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("# ") {
            sections.push((name.to_string(), Vec::new()));
        } else if let Some((field, _)) = line.split_once(':') {
            let allowed = FIELDS_ALLOWED_TO_DIFFER.iter().any(|a| a.0 == field);
            if !allowed {
                sections.last_mut().unwrap().1.push(field.to_string());
            }
        }
    }
    sections.retain(|(s, _)| {
        !matches!(
            s.as_str(),
            "Commandstats" | "Errorstats" | "Latencystats" | "Keyspace"
        )
    });
    sections
}

#[test]
fn info_fields_are_redis_fields_in_redis_order() {
    let [ours, theirs] = [Kind::Redrepl, Kind::Redis].map(|k| {
        let (master, replica) = topology(k);
        [
            info_fields(&mut master.conn()),
            info_fields(&mut replica.conn()),
        ]
    });
    for (a, b) in ours.iter().zip(theirs.iter()) {
        for ((sa, fa), (sb, fb)) in a.iter().zip(b.iter()) {
            assert_eq!(sa, sb);
            assert_eq!(fa, fb, "section {sa}");
        }
        assert_eq!(a.len(), b.len());
    }
}

/// The figures that are counted, not fixed: they move the way Redis's do.
#[test]
fn counted_info_fields_move() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let num = |c: &mut redis::Connection, section: &str, name: &str| -> f64 {
        info_field(c, section, name)
            .trim_end_matches('%')
            .parse()
            .unwrap_or_else(|_| panic!("{name} missing"))
    };
    let reads = num(&mut c, "stats", "total_reads_processed");
    let writes = num(&mut c, "stats", "total_writes_processed");
    assert!(reads >= 1.0 && writes >= 1.0);
    for _ in 0..5 {
        q(&mut c, &["PING"]);
    }
    assert!(num(&mut c, "stats", "total_reads_processed") >= reads + 5.0);
    assert!(num(&mut c, "stats", "total_writes_processed") >= writes + 5.0);
    // A fork is counted and timed.
    assert_eq!(num(&mut c, "stats", "total_forks"), 0.0);
    q(&mut c, &["BGSAVE"]);
    assert_eq!(num(&mut c, "stats", "total_forks"), 1.0);
    assert!(num(&mut c, "stats", "latest_fork_usec") > 0.0);
    // The dataset grows used_memory_dataset and the peak; the allocator holds it.
    let dataset = num(&mut c, "memory", "used_memory_dataset");
    let value = "x".repeat(1000);
    for i in 0..2000 {
        q(&mut c, &["SET", &format!("key:{i}"), &value]);
    }
    let grown = num(&mut c, "memory", "used_memory_dataset");
    assert!(grown >= dataset + 2_000_000.0, "{dataset} -> {grown}");
    assert!(num(&mut c, "memory", "allocator_allocated") >= 2_000_000.0);
    assert!(
        num(&mut c, "memory", "allocator_active") >= num(&mut c, "memory", "allocator_allocated")
    );
    q(&mut c, &["FLUSHALL"]);
    let used = num(&mut c, "memory", "used_memory");
    assert!(num(&mut c, "memory", "used_memory_peak") >= used + 2_000_000.0);
    assert!(num(&mut c, "memory", "used_memory_startup") > 0.0);
    // CONFIG RESETSTAT clears the counters, as Redis's resetServerStats.
    q(&mut c, &["CONFIG", "RESETSTAT"]);
    assert_eq!(num(&mut c, "stats", "total_forks"), 0.0);
    assert_eq!(num(&mut c, "stats", "latest_fork_usec"), 0.0);
}
