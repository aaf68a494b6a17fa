//! `io-threads`: the one knob for cores (issue #18). With `io-threads 4` connections are
//! served by four threads, yet every client gets its replies in request order, pipelined or
//! not, commands stay atomic (one global order), and a replica ends with the master's
//! dataset after a concurrent mixed load. The setting is reported by CONFIG GET and, as in
//! Redis 7.0, cannot be changed at run time (checked side by side with redis-server). Also
//! what the connection layer's event loop must keep: a half-closed client still gets its
//! replies, and the idle `timeout` closes idle clients only.

mod common;

use common::repl::{Node, NodeOpts, assert_same_digest, wait_synced};
use common::{Kind, Raw, Server, err_text, q, resp};
use redis::Value;
use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// An unpipelined client: each SET/GET/INCR answer must be the one for its own request.
fn unpipelined_client(port: u16, id: usize, rounds: usize) {
    let mut raw = Raw::connect(port);
    for n in 0..rounds {
        let key = format!("u:{id}:{n}");
        let val = format!("v:{id}:{n}");
        raw.roundtrip(&resp(&[b"SET", key.as_bytes(), val.as_bytes()]), b"+OK\r\n");
        raw.roundtrip(&resp(&[b"GET", key.as_bytes()]), &bulk(&val));
        let counter = format!("c:{id}");
        raw.roundtrip(
            &resp(&[b"INCR", counter.as_bytes()]),
            format!(":{}\r\n", n + 1).as_bytes(),
        );
        raw.roundtrip(&resp(&[b"INCR", b"shared"]), b":");
        // The shared counter's value is whatever it is now; read the rest of the line.
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            line.extend(raw.read_exact_n(1));
        }
    }
}

/// A pipelined client: batches of requests in one write, replies read back as one block that
/// must be exactly the replies in request order.
fn pipelined_client(port: u16, id: usize, batches: usize, per_batch: usize) {
    let mut raw = Raw::connect(port);
    for b in 0..batches {
        let mut req = Vec::new();
        let mut expected = Vec::new();
        for n in 0..per_batch {
            let key = format!("p:{id}:{b}:{n}");
            let val = format!("value-{id}-{b}-{n}-{}", "x".repeat(n % 50));
            req.extend(resp(&[b"SET", key.as_bytes(), val.as_bytes()]));
            expected.extend(b"+OK\r\n");
            req.extend(resp(&[b"GET", key.as_bytes()]));
            expected.extend(bulk(&val));
            let list = format!("l:{id}");
            req.extend(resp(&[b"RPUSH", list.as_bytes(), val.as_bytes()]));
            expected.extend(format!(":{}\r\n", b * per_batch + n + 1).into_bytes());
        }
        raw.send(&req);
        let got = raw.read_exact_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "client {id} batch {b}"
        );
    }
}

#[test]
fn io_threads_4_serves_pipelined_and_unpipelined_clients_with_replies_in_order() {
    let s = Server::start(&["--io-threads", "4"]);
    let port = s.port;
    let (unpiped, piped, rounds) = (6, 6, 300);
    let mut threads = Vec::new();
    for id in 0..unpiped {
        threads.push(std::thread::spawn(move || {
            unpipelined_client(port, id, rounds)
        }));
    }
    for id in 0..piped {
        threads.push(std::thread::spawn(move || {
            pipelined_client(port, id, 20, 100)
        }));
    }
    for t in threads {
        t.join()
            .expect("a client saw a wrong or out-of-order reply");
    }
    let mut c = s.conn();
    // Every INCR of the shared counter ran once and atomically.
    assert_eq!(
        q(&mut c, &["GET", "shared"]),
        Value::BulkString((unpiped * rounds).to_string().into_bytes())
    );
    // Each pipelined client's list holds its pushes in the order they were sent.
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg("l:3")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    let want: Vec<String> = (0..20)
        .flat_map(|b| (0..100).map(move |n| format!("value-3-{b}-{n}-{}", "x".repeat(n % 50))))
        .collect();
    assert_eq!(items, want);
}

/// A mixed load whose result depends on the order of commands on shared keys (APPEND,
/// LPUSH/LPOP, INCRBY, HINCRBY, ZADD over the same members, SETRANGE, DEL), from `clients`
/// connections at once.
fn mixed_load(port: u16, password: &str, clients: usize, ops: usize) {
    let mut threads = Vec::new();
    for id in 0..clients {
        let url = format!("redis://:{password}@127.0.0.1:{port}/0");
        threads.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut pipe = redis::pipe();
            let mut queued = 0;
            for n in 0..ops {
                let k = n % 7;
                let v = format!("{id}.{n};");
                match n % 9 {
                    0 => pipe.cmd("APPEND").arg(format!("s{k}")).arg(&v),
                    1 => pipe.cmd("LPUSH").arg(format!("l{k}")).arg(&v),
                    2 => pipe.cmd("LPOP").arg(format!("l{}", (k + 1) % 7)),
                    3 => pipe.cmd("INCRBY").arg(format!("i{k}")).arg(id + 1),
                    4 => pipe.cmd("HINCRBY").arg("h").arg(k).arg(n),
                    5 => pipe.cmd("ZADD").arg("z").arg(n * (id + 1)).arg(k),
                    6 => pipe.cmd("SETRANGE").arg(format!("s{k}")).arg(id).arg(&v),
                    7 => pipe.cmd("SADD").arg(format!("set{k}")).arg(&v),
                    _ => pipe.cmd("DEL").arg(format!("set{}", (k + 3) % 7)),
                };
                queued += 1;
                // Alternate unpipelined steps and small pipelines.
                if queued > id % 4 {
                    let _: Vec<Value> = pipe.query(&mut c).unwrap();
                    pipe = redis::pipe();
                    queued = 0;
                }
            }
            if queued > 0 {
                let _: Vec<Value> = pipe.query(&mut c).unwrap();
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn io_threads_4_replicates_in_the_order_commands_ran() {
    let master = Node::start(NodeOpts::seed(Kind::Redrepl).with("io-threads", "4"));
    let replica =
        Node::start(NodeOpts::seed_replica(Kind::Redrepl, master.port).with("io-threads", "4"));
    let redis_replica = Node::start(NodeOpts::seed_replica(Kind::Redis, master.port));
    wait_synced(&master, &replica);
    wait_synced(&master, &redis_replica);
    let pass = master.opts.requirepass.clone().unwrap();
    mixed_load(master.port, &pass, 8, 3000);
    wait_synced(&master, &replica);
    wait_synced(&master, &redis_replica);
    let digest = assert_same_digest(&[&master, &replica, &redis_replica]);
    assert_ne!(digest, "0".repeat(40), "the load wrote nothing");
}

fn config_get(c: &mut redis::Connection, name: &str) -> Value {
    q(c, &["CONFIG", "GET", name])
}

fn pair(name: &str, value: &str) -> Value {
    Value::Array(vec![
        Value::BulkString(name.as_bytes().to_vec()),
        Value::BulkString(value.as_bytes().to_vec()),
    ])
}

#[test]
fn config_get_io_threads_reports_the_running_value() {
    let s = Server::start(&["--io-threads", "4", "--io-threads-do-reads", "yes"]);
    let mut c = s.conn();
    assert_eq!(config_get(&mut c, "io-threads"), pair("io-threads", "4"));
    assert_eq!(
        config_get(&mut c, "io-threads-do-reads"),
        pair("io-threads-do-reads", "yes")
    );
    let d = Server::start(&[]);
    let mut c = d.conn();
    assert_eq!(config_get(&mut c, "io-threads"), pair("io-threads", "1"));
    assert_eq!(
        config_get(&mut c, "io-threads-do-reads"),
        pair("io-threads-do-reads", "no")
    );
}

#[test]
fn config_set_io_threads_is_refused_as_redis_server_refuses_it() {
    let ours = Server::start(&["--io-threads", "2"]);
    let redis = Server::start_redis(&["--io-threads", "2"]);
    let (mut a, mut b) = (ours.conn(), redis.conn());
    for args in [
        ["CONFIG", "SET", "io-threads", "4"],
        ["CONFIG", "SET", "io-threads", "2"],
        ["CONFIG", "SET", "io-threads-do-reads", "yes"],
    ] {
        let (x, y) = (q(&mut a, &args), q(&mut b, &args));
        assert!(err_text(&x).contains("can't set immutable config"), "{x:?}");
        assert_eq!(err_text(&x), err_text(&y), "{args:?}");
    }
    assert_eq!(
        config_get(&mut a, "io-threads"),
        config_get(&mut b, "io-threads")
    );
    // A glob's pairs come in dict order in Redis: compare them sorted.
    let sorted = |v: Value| {
        let Value::Array(items) = v else {
            panic!("{v:?}")
        };
        let mut pairs: Vec<Vec<Value>> = items.chunks(2).map(|p| p.to_vec()).collect();
        pairs.sort_by_key(|p| format!("{p:?}"));
        pairs
    };
    assert_eq!(
        sorted(config_get(&mut a, "io-thread*")),
        sorted(config_get(&mut b, "io-thread*"))
    );
}

#[test]
fn io_threads_out_of_range_stops_start_up_as_redis_server() {
    for value in ["0", "129"] {
        let ours = Server::builder(Kind::Redrepl)
            .args(&["--io-threads", value])
            .start_fails();
        let theirs = Server::builder(Kind::Redis)
            .args(&["--io-threads", value])
            .start_fails();
        let reason = "argument must be between 1 and 128 inclusive";
        assert!(ours.contains(reason), "{ours}");
        assert!(theirs.contains(reason), "{theirs}");
    }
}

#[test]
fn a_half_closed_client_still_gets_every_reply() {
    for threads in ["1", "3"] {
        let s = Server::start(&["--io-threads", threads]);
        let mut raw = Raw::connect(s.port);
        let mut req = resp(&[b"SET", b"k", b"v"]);
        req.extend(resp(&[b"GET", b"k"]));
        req.extend(b"PING\r\n");
        raw.stream.write_all(&req).unwrap();
        raw.stream.shutdown(Shutdown::Write).unwrap();
        let got = raw.read_available(Duration::from_secs(10));
        assert_eq!(
            String::from_utf8_lossy(&got),
            "+OK\r\n$1\r\nv\r\n+PONG\r\n",
            "io-threads {threads}"
        );
        assert!(raw.is_closed(Duration::from_secs(10)));
    }
}

#[test]
fn idle_timeout_closes_idle_clients_only() {
    let s = Server::start(&["--timeout", "2"]);
    let mut idle = Raw::connect(s.port);
    idle.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let mut busy = Raw::connect(s.port);
    // Busy for longer than the timeout, a request every 100 ms: never closed.
    for _ in 0..35 {
        busy.roundtrip(b"PING\r\n", b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(idle.is_closed(Duration::from_secs(10)));
    busy.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn io_threads_4_keeps_blocking_pops_client_pause_and_multi() {
    let s = Server::start(&["--io-threads", "4"]);
    // BLPOP on one thread's connection is served by an LPUSH from another.
    let port = s.port;
    let waiter = std::thread::spawn(move || {
        let mut raw = Raw::connect(port);
        raw.send(&resp(&[b"BLPOP", b"q", b"0"]));
        raw.read_exact_n(b"*2\r\n$1\r\nq\r\n$3\r\none\r\n".len())
    });
    let mut c = s.conn();
    let ok = (0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        info.contains("blocked_clients:1")
    });
    assert!(ok, "BLPOP never blocked");
    assert_eq!(q(&mut c, &["LPUSH", "q", "one"]), Value::Int(1));
    assert_eq!(waiter.join().unwrap(), b"*2\r\n$1\r\nq\r\n$3\r\none\r\n");
    // A write sent during CLIENT PAUSE WRITE runs only after CLIENT UNPAUSE, in order.
    assert_eq!(
        q(&mut c, &["CLIENT", "PAUSE", "100000", "WRITE"]),
        Value::Okay
    );
    let mut raw = Raw::connect(port);
    raw.send(&resp(&[b"INCR", b"n"]));
    raw.send(&resp(&[b"GET", b"n"]));
    assert!(raw.read_available(Duration::from_millis(300)).is_empty());
    assert_eq!(q(&mut c, &["GET", "n"]), Value::Nil);
    assert_eq!(q(&mut c, &["CLIENT", "UNPAUSE"]), Value::Okay);
    assert_eq!(
        raw.read_exact_n(b":1\r\n$1\r\n1\r\n".len()),
        b":1\r\n$1\r\n1\r\n"
    );
    // MULTI/EXEC stays atomic while clients on other threads run transactions too.
    let mut threads = Vec::new();
    for _ in 0..4 {
        let url = s.url();
        threads.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            for _ in 0..200 {
                let (a, b): (i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg("a")
                    .cmd("INCR")
                    .arg("b")
                    .query(&mut c)
                    .unwrap();
                assert_eq!(a, b, "EXEC interleaved with another transaction");
            }
        }));
    }
    for _ in 0..200 {
        let v: Vec<Option<i64>> = redis::cmd("MGET").arg("a").arg("b").query(&mut c).unwrap();
        assert_eq!(v[0], v[1], "MGET saw half a transaction");
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(q(&mut c, &["GET", "b"]), Value::BulkString(b"800".to_vec()));
}
