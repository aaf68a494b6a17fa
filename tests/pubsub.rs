//! Pub/Sub against redis-server side by side: the same subscribe / publish / pattern /
//! unsubscribe script gives the same reply stream over RESP2 and RESP3; subscriber mode;
//! CLIENT LIST and INFO fields; PUBLISH through replication (redrepl and redis-server
//! replicas); the `pubsub` output buffer limit; redis-cli and redis-py as clients.

mod common;

use common::{Kind, Raw, Server, resp};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn start(kind: Kind, extra: &[&str]) -> Server {
    Server::builder(kind).args(extra).start()
}

/// Sends `args` on `con` and returns its reply bytes.
fn req(con: &mut Raw, args: &[&str]) -> Vec<u8> {
    con.request(args)
}

/// The subscriber's transcript of a fixed script: every reply and message it receives.
fn transcript(kind: Kind, resp3: bool) -> String {
    let server = start(kind, &[]);
    let mut sub = server.raw();
    let mut publ = server.raw();
    let mut log = Vec::new();
    if resp3 {
        req(&mut sub, &["HELLO", "3"]);
    }
    let step = |log: &mut Vec<u8>, what: &str, bytes: Vec<u8>| {
        log.extend_from_slice(what.as_bytes());
        log.extend_from_slice(b" => ");
        log.extend_from_slice(&bytes);
        log.push(b'\n');
    };
    // SUBSCRIBE with two channels: two confirmations.
    sub.send(&resp(&[b"SUBSCRIBE", b"news", b"sport"]));
    let r = [sub.read_reply(), sub.read_reply()].concat();
    step(&mut log, "subscribe", r);
    step(&mut log, "psubscribe", req(&mut sub, &["PSUBSCRIBE", "n*"]));
    step(
        &mut log,
        "ssubscribe",
        req(&mut sub, &["SSUBSCRIBE", "shard"]),
    );
    // Subscribing twice keeps the count.
    step(
        &mut log,
        "subscribe again",
        req(&mut sub, &["SUBSCRIBE", "news"]),
    );
    // PUBLISH to a channel that also matches the pattern: two deliveries.
    step(
        &mut log,
        "publish",
        req(&mut publ, &["PUBLISH", "news", "hello\r\nworld"]),
    );
    let r = [sub.read_reply(), sub.read_reply()].concat();
    step(&mut log, "messages", r);
    step(
        &mut log,
        "publish pattern",
        req(&mut publ, &["PUBLISH", "nope", "x"]),
    );
    step(&mut log, "pmessage", sub.read_reply());
    step(
        &mut log,
        "publish none",
        req(&mut publ, &["PUBLISH", "other", "x"]),
    );
    step(
        &mut log,
        "spublish",
        req(&mut publ, &["SPUBLISH", "shard", "s"]),
    );
    step(&mut log, "smessage", sub.read_reply());
    // Shard channels are a namespace of their own.
    step(
        &mut log,
        "publish shard name",
        req(&mut publ, &["PUBLISH", "shard", "s"]),
    );
    step(
        &mut log,
        "numsub",
        req(&mut publ, &["PUBSUB", "NUMSUB", "news", "sport", "zz"]),
    );
    step(&mut log, "numpat", req(&mut publ, &["PUBSUB", "NUMPAT"]));
    step(
        &mut log,
        "channels",
        req(&mut publ, &["PUBSUB", "CHANNELS", "s*"]),
    );
    step(
        &mut log,
        "shardchannels",
        req(&mut publ, &["PUBSUB", "SHARDCHANNELS"]),
    );
    step(
        &mut log,
        "shardnumsub",
        req(&mut publ, &["PUBSUB", "SHARDNUMSUB", "shard"]),
    );
    step(
        &mut log,
        "pubsub channels extra",
        req(&mut publ, &["PUBSUB", "CHANNELS", "a", "b"]),
    );
    step(&mut log, "pubsub help", req(&mut publ, &["PUBSUB", "HELP"]));
    step(
        &mut log,
        "pubsub bogus",
        req(&mut publ, &["PUBSUB", "BOGUS"]),
    );
    // Subscriber mode: RESP2 refuses other commands, RESP3 runs them.
    step(&mut log, "get", req(&mut sub, &["GET", "k"]));
    step(&mut log, "ping", req(&mut sub, &["PING"]));
    step(&mut log, "ping arg", req(&mut sub, &["PING", "hi"]));
    step(
        &mut log,
        "unsubscribe one",
        req(&mut sub, &["UNSUBSCRIBE", "sport"]),
    );
    step(
        &mut log,
        "unsubscribe unknown",
        req(&mut sub, &["UNSUBSCRIBE", "nothere"]),
    );
    step(&mut log, "unsubscribe all", req(&mut sub, &["UNSUBSCRIBE"]));
    step(
        &mut log,
        "punsubscribe all",
        req(&mut sub, &["PUNSUBSCRIBE"]),
    );
    step(
        &mut log,
        "punsubscribe none",
        req(&mut sub, &["PUNSUBSCRIBE"]),
    );
    step(
        &mut log,
        "sunsubscribe",
        req(&mut sub, &["SUNSUBSCRIBE", "shard"]),
    );
    step(
        &mut log,
        "unsubscribe none",
        req(&mut sub, &["UNSUBSCRIBE"]),
    );
    // Out of subscriber mode: ordinary commands again.
    step(&mut log, "ping after", req(&mut sub, &["PING"]));
    step(&mut log, "get after", req(&mut sub, &["GET", "k"]));
    // RESET leaves subscriber mode.
    req(&mut sub, &["SUBSCRIBE", "again"]);
    step(&mut log, "reset", req(&mut sub, &["RESET"]));
    step(
        &mut log,
        "numsub after reset",
        req(&mut publ, &["PUBSUB", "NUMSUB", "again"]),
    );
    step(&mut log, "get after reset", req(&mut sub, &["GET", "k"]));
    String::from_utf8_lossy(&log).into_owned()
}

#[test]
fn reply_stream_equals_redis_server_resp2() {
    assert_eq!(
        transcript(Kind::Redrepl, false),
        transcript(Kind::Redis, false)
    );
}

#[test]
fn reply_stream_equals_redis_server_resp3() {
    assert_eq!(
        transcript(Kind::Redrepl, true),
        transcript(Kind::Redis, true)
    );
}

/// A subscriber's own PUBLISH: over RESP3 the message comes before the PUBLISH reply.
#[test]
fn own_publish_message_precedes_the_reply_resp3() {
    let mut outs = Vec::new();
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = start(kind, &[]);
        let mut c = s.raw();
        req(&mut c, &["HELLO", "3"]);
        req(&mut c, &["SUBSCRIBE", "me"]);
        c.send(&resp(&[b"PUBLISH", b"me", b"hi"]));
        outs.push([c.read_reply(), c.read_reply()].concat());
    }
    assert_eq!(outs[0], outs[1]);
    assert!(
        outs[0].starts_with(b">3\r\n$7\r\nmessage\r\n"),
        "{:?}",
        String::from_utf8_lossy(&outs[0])
    );
}

/// One CLIENT LIST line of the client named `name`.
fn client_line(con: &mut Raw, args: &[&str], name: &str) -> String {
    let text = String::from_utf8_lossy(&req(con, args)).into_owned();
    text.lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn client_list_and_info_show_subscriptions() {
    let s = start(Kind::Redrepl, &[]);
    let mut sub = s.raw();
    let mut admin = s.raw();
    req(&mut sub, &["CLIENT", "SETNAME", "subber"]);
    sub.send(&resp(&[b"SUBSCRIBE", b"a", b"b"]));
    sub.read_reply();
    sub.read_reply();
    req(&mut sub, &["PSUBSCRIBE", "p*"]);
    req(&mut sub, &["SSUBSCRIBE", "s"]);
    let line = client_line(&mut admin, &["CLIENT", "LIST", "TYPE", "pubsub"], "subber");
    assert!(line.contains(" flags=P "), "{line}");
    assert!(line.contains(" sub=2 psub=1 ssub=1 "), "{line}");
    assert!(client_line(&mut admin, &["CLIENT", "LIST", "TYPE", "normal"], "subber").is_empty());
    let info = String::from_utf8_lossy(&req(&mut admin, &["INFO", "stats"])).into_owned();
    for field in [
        "pubsub_channels:2",
        "pubsub_patterns:1",
        "pubsubshard_channels:1",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    // CLIENT KILL TYPE pubsub closes the subscriber only.
    assert_eq!(
        req(&mut admin, &["CLIENT", "KILL", "TYPE", "pubsub"]),
        b":1\r\n"
    );
    assert!(sub.is_closed(Duration::from_secs(5)));
    assert_eq!(req(&mut admin, &["PING"]), b"+PONG\r\n");
    let info = String::from_utf8_lossy(&req(&mut admin, &["INFO", "stats"])).into_owned();
    assert!(info.contains("pubsub_channels:0"), "{info}");
}

/// Waits (bounded) until `replica` reports its link with the master up.
fn wait_link_up(replica: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut con = replica.raw();
    loop {
        let info = String::from_utf8_lossy(&req(&mut con, &["INFO", "replication"])).into_owned();
        if info.contains("master_link_status:up") {
            return;
        }
        assert!(Instant::now() < deadline, "replica never synced: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A subscriber on `replica` receives what is published on `master`.
fn publish_reaches_replica(master_kind: Kind, replica_kind: Kind) {
    let master = start(master_kind, &["--repl-diskless-sync-delay", "0"]);
    let port = master.port.to_string();
    let replica = start(replica_kind, &["--replicaof", "127.0.0.1", &port]);
    wait_link_up(&replica);
    let mut sub = replica.raw();
    req(&mut sub, &["SUBSCRIBE", "repl"]);
    let mut m = master.raw();
    req(&mut m, &["PUBLISH", "repl", "from-master"]);
    assert_eq!(
        String::from_utf8_lossy(&sub.read_reply()),
        "*3\r\n$7\r\nmessage\r\n$4\r\nrepl\r\n$11\r\nfrom-master\r\n",
        "{master_kind:?} -> {replica_kind:?}"
    );
}

#[test]
fn publish_reaches_subscribers_on_a_redrepl_replica() {
    publish_reaches_replica(Kind::Redrepl, Kind::Redrepl);
}

#[test]
fn publish_reaches_subscribers_on_a_redis_server_replica_of_redrepl() {
    publish_reaches_replica(Kind::Redrepl, Kind::Redis);
}

#[test]
fn redrepl_replica_of_redis_server_delivers_the_masters_publish() {
    publish_reaches_replica(Kind::Redis, Kind::Redrepl);
}

/// A subscriber that never reads is closed by the `pubsub` limit while another, reading,
/// keeps receiving every message.
#[test]
fn stalled_subscriber_is_closed_by_the_pubsub_limit() {
    let s = start(
        Kind::Redrepl,
        &["--client-output-buffer-limit", "pubsub 1mb 512kb 60"],
    );
    let mut stalled = s.raw();
    req(&mut stalled, &["CLIENT", "SETNAME", "stalled"]);
    req(&mut stalled, &["SUBSCRIBE", "flood"]);
    let mut good = s.raw();
    req(&mut good, &["SUBSCRIBE", "flood"]);
    let messages = 3008usize;
    let payload = "x".repeat(16 * 1024);
    let frame_len = resp(&[b"message", b"flood", payload.as_bytes()]).len();
    // Batches of 16 messages (256 KB): each is answered, and read whole by the reading
    // subscriber, before the next, so its pending output stays under the limits while the
    // stalled one's grows past them.
    let mut publ = s.raw();
    let mut batch = Vec::new();
    for _ in 0..16 {
        batch.extend(resp(&[b"PUBLISH", b"flood", payload.as_bytes()]));
    }
    let mut got = 0;
    for _ in 0..messages / 16 {
        publ.send(&batch);
        for _ in 0..16 {
            publ.read_reply();
        }
        got += good.read_exact_n(16 * frame_len).len();
    }
    assert_eq!(
        got,
        messages * frame_len,
        "the reading subscriber got everything"
    );
    assert_eq!(req(&mut good, &["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert!(client_line(&mut publ, &["CLIENT", "LIST"], "stalled").is_empty());
    assert!(
        s.log().contains("for overcoming of output buffer limits"),
        "{}",
        s.log()
    );
}

/// Whether redis-cli's subscription (channel `chan` or one pattern) is in place.
fn subscribed(con: &mut Raw) -> bool {
    req(con, &["PUBSUB", "NUMPAT"]) == b":1\r\n"
        || req(con, &["PUBSUB", "NUMSUB", "chan"]).ends_with(b":1\r\n")
}

/// Runs `redis-cli -p port <args>`, returns its first `lines` lines of output once
/// `publish` was run on `server` after the subscription.
fn redis_cli_lines(server: &Server, args: &[&str], lines: usize) -> Vec<String> {
    let mut child = Command::new(common::redis_cli_path())
        .args(["-p", &server.port.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli");
    let pid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut got = Vec::new();
    let mut published = false;
    let mut con = server.raw();
    while got.len() < lines {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        got.push(l.trim_end().to_string());
        if !published && subscribed(&mut con) {
            req(&mut con, &["PUBLISH", "chan", "a \"quoted\" message"]);
            published = true;
        }
    }
    common::kill_pid(pid);
    let _ = child.wait();
    got
}

#[test]
fn redis_cli_subscribe_and_csv_psubscribe_print_as_with_redis_server() {
    for (args, lines) in [
        (&["subscribe", "chan"][..], 6),
        (&["--csv", "psubscribe", "ch*"][..], 3),
    ] {
        let ours = redis_cli_lines(&start(Kind::Redrepl, &[]), args, lines);
        let theirs = redis_cli_lines(&start(Kind::Redis, &[]), args, lines);
        assert_eq!(ours, theirs, "{args:?}");
        assert!(ours.iter().any(|l| l.contains("quoted")), "{ours:?}");
    }
}

/// redis-py's `pubsub()`: subscribe, receive, unsubscribe, as it prints them.
fn redis_py_run(server: &Server) -> String {
    let script = format!(
        r#"
import redis
r = redis.Redis(port={port})
p = r.pubsub()
p.subscribe('py')
p.psubscribe('p*')
def msg():
    m = p.get_message(timeout=10)
    return (m['type'], m['channel'], m['data'], m.get('pattern'))
print(msg()); print(msg())
print(r.publish('py', 'hello'))
print(msg()); print(msg())
p.unsubscribe('py')
print(msg())
print(r.pubsub_numsub('py'), r.pubsub_numpat())
"#,
        port = server.port
    );
    common::python(&script)
}

#[test]
fn redis_py_pubsub_receives_messages_as_from_redis_server() {
    let ours = redis_py_run(&start(Kind::Redrepl, &[]));
    let theirs = redis_py_run(&start(Kind::Redis, &[]));
    assert_eq!(ours, theirs);
    assert!(ours.contains("'message', b'py', b'hello'"), "{ours}");
}

/// The `redis` crate's PubSub (blocking API) receives messages.
#[test]
fn redis_crate_pubsub_receives_messages() {
    let s = start(Kind::Redrepl, &[]);
    let mut con = s.conn();
    let mut pubsub = con.as_pubsub();
    pubsub.subscribe("crate").unwrap();
    pubsub.psubscribe("cr*").unwrap();
    let mut other = s.conn();
    assert_eq!(
        common::q(&mut other, &["PUBLISH", "crate", "payload"]),
        redis::Value::Int(2)
    );
    let m = pubsub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "crate");
    assert_eq!(m.get_payload::<String>().unwrap(), "payload");
    let m = pubsub.get_message().unwrap();
    assert_eq!(m.get_pattern::<String>().unwrap(), "cr*");
}
