//! Client-side caching (CLIENT TRACKING), side by side with redis-server: the same scenario
//! on both servers gives the same replies and invalidation messages, byte for byte (client
//! ids replaced by `<id>`): default mode over RESP3, BCAST with prefixes, NOLOOP, OPTIN
//! with CLIENT CACHING yes, REDIRECT to a RESP2 subscriber of `__redis__:invalidate`,
//! FLUSHALL's null invalidation, `tracking-table-max-keys`, the error texts, INFO and
//! CLIENT LIST fields.

mod common;

use common::{Kind, Raw, Server};

/// One scenario's transcript: every reply and message, as text.
struct Log {
    lines: Vec<String>,
    ids: Vec<String>,
}

impl Log {
    fn new() -> Log {
        Log {
            lines: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Records a frame, with the client ids seen so far replaced.
    fn push(&mut self, frame: Vec<u8>) {
        let mut s = String::from_utf8_lossy(&frame).into_owned();
        for (i, id) in self.ids.iter().enumerate() {
            s = s.replace(&format!(":{id}\r\n"), &format!(":<id{i}>\r\n"));
            s = s.replace(&format!(" {id}\r\n"), &format!(" <id{i}>\r\n"));
            if s.ends_with(&format!("redir={id}")) {
                s = s.replace(&format!("redir={id}"), &format!("redir=<id{i}>"));
            }
        }
        self.lines.push(s);
    }

    /// Sends `args` on `c` and records the reply.
    fn req(&mut self, c: &mut Raw, args: &[&str]) {
        let r = c.request(args);
        self.push(r);
    }

    /// Sends PING on `c` and records every frame up to its reply (invalidations queued
    /// before it come first).
    fn ping(&mut self, c: &mut Raw) {
        c.send(b"*1\r\n$4\r\nPING\r\n");
        loop {
            let f = c.read_reply();
            let done = f == b"+PONG\r\n";
            self.push(f);
            if done {
                return;
            }
        }
    }

    /// Records the client id of `c` (CLIENT ID) so later frames name it `<idN>`.
    fn id(&mut self, c: &mut Raw) -> String {
        let r = c.request(&["CLIENT", "ID"]);
        let id = String::from_utf8_lossy(&r[1..r.len() - 2]).into_owned();
        self.ids.push(id.clone());
        id
    }
}

/// The lines of INFO whose names start with `prefix`.
fn info_lines(c: &mut Raw, section: &str, prefix: &str) -> Vec<u8> {
    let r = c.request(&["INFO", section]);
    String::from_utf8_lossy(&r)
        .split("\r\n")
        .filter(|l| l.starts_with(prefix))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

/// The `flags=` and `redir=` fields of CLIENT INFO on `c`.
fn client_flags(c: &mut Raw) -> Vec<u8> {
    let r = c.request(&["CLIENT", "INFO"]);
    String::from_utf8_lossy(&r)
        .split(' ')
        .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

/// Runs `scenario` against a fresh redrepl and a fresh redis-server; asserts equal
/// transcripts and returns redrepl's.
fn both(scenario: fn(&Server, &mut Log)) -> Vec<String> {
    let mut logs = Vec::new();
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = Server::builder(kind).start();
        let mut log = Log::new();
        scenario(&s, &mut log);
        logs.push(log.lines);
    }
    assert_eq!(logs[0], logs[1]);
    logs.swap_remove(0)
}

fn resp3(s: &Server) -> Raw {
    let mut c = s.raw();
    c.request(&["HELLO", "3"]);
    c
}

/// Default mode: a RESP3 client that read a key gets one invalidation when another client
/// writes it (and none for a second write), also for a key that did not exist, for its own
/// write (after its reply), and a null one on FLUSHALL.
#[test]
fn resp3_reader_is_invalidated_when_another_client_writes() {
    let log = both(|s, log| {
        let mut a = resp3(s);
        let mut b = s.raw();
        log.req(&mut b, &["SET", "k", "v"]);
        log.req(&mut a, &["CLIENT", "TRACKING", "ON"]);
        log.req(&mut a, &["GET", "k"]);
        log.req(&mut a, &["GET", "missing"]);
        log.req(&mut a, &["MGET", "m1", "m2"]);
        log.push(info_lines(&mut b, "clients", "tracking_clients"));
        log.push(info_lines(&mut b, "stats", "tracking_"));
        log.push(client_flags(&mut a));
        log.req(&mut b, &["SET", "k", "v2"]);
        log.ping(&mut a);
        log.req(&mut b, &["SET", "k", "v3"]);
        log.req(&mut b, &["SET", "missing", "now"]);
        log.req(&mut b, &["DEL", "m1", "m2"]);
        log.ping(&mut a);
        // Its own write: the reply, then the invalidation.
        log.req(&mut a, &["GET", "mine"]);
        a.send(b"*3\r\n$3\r\nSET\r\n$4\r\nmine\r\n$1\r\nx\r\n");
        log.push(a.read_reply());
        log.push(a.read_reply());
        log.req(&mut a, &["GET", "k"]);
        log.req(&mut b, &["FLUSHALL"]);
        log.ping(&mut a);
        log.push(info_lines(&mut b, "stats", "tracking_"));
        log.req(&mut a, &["CLIENT", "GETREDIR"]);
        log.req(&mut a, &["CLIENT", "TRACKINGINFO"]);
        log.req(&mut a, &["CLIENT", "TRACKING", "OFF"]);
        log.req(&mut a, &["CLIENT", "GETREDIR"]);
        log.push(client_flags(&mut a));
    });
    let invalidate_k = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
    assert!(log.iter().any(|l| l == invalidate_k), "{log:?}");
    assert!(
        log.iter().any(|l| l == ">2\r\n$10\r\ninvalidate\r\n_\r\n"),
        "{log:?}"
    );
}

/// BCAST: every key under the client's prefixes is announced (one message per prefix),
/// whoever read it; NOLOOP leaves out the client's own writes.
#[test]
fn bcast_with_prefixes_and_noloop() {
    let log = both(|s, log| {
        let mut a = resp3(s);
        let mut b = s.raw();
        log.req(
            &mut a,
            &[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
            ],
        );
        log.push(info_lines(&mut b, "stats", "tracking_total_prefixes"));
        log.req(&mut b, &["SET", "user:1", "x"]);
        log.req(&mut b, &["SET", "other", "y"]);
        log.req(&mut b, &["MSET", "obj:2", "a", "user:3", "b", "zzz", "c"]);
        log.ping(&mut a);
        log.req(&mut a, &["CLIENT", "TRACKINGINFO"]);
        log.push(client_flags(&mut a));
        log.req(&mut a, &["CLIENT", "TRACKING", "OFF"]);
        log.req(
            &mut a,
            &["CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", "p"],
        );
        log.req(&mut a, &["SET", "p1", "mine"]);
        log.req(&mut b, &["SET", "p2", "theirs"]);
        log.ping(&mut a);
        // Without prefixes: every key.
        let mut c = resp3(s);
        log.req(&mut c, &["CLIENT", "TRACKING", "ON", "BCAST"]);
        log.req(&mut b, &["SET", "anything", "1"]);
        log.ping(&mut c);
        log.push(info_lines(&mut b, "stats", "tracking_total_prefixes"));
    });
    let both_users = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:3\r\n";
    assert!(log.iter().any(|l| l == both_users), "{log:?}");
}

/// OPTIN: only the command after CLIENT CACHING yes has its keys tracked.
#[test]
fn optin_tracks_after_caching_yes() {
    let log = both(|s, log| {
        let mut a = resp3(s);
        let mut b = s.raw();
        log.req(&mut a, &["CLIENT", "TRACKING", "ON", "OPTIN"]);
        log.req(&mut a, &["GET", "x1"]);
        log.req(&mut a, &["CLIENT", "CACHING", "yes"]);
        log.req(&mut a, &["CLIENT", "TRACKINGINFO"]);
        log.req(&mut a, &["GET", "x2"]);
        log.req(&mut a, &["GET", "x3"]);
        log.req(&mut a, &["CLIENT", "TRACKINGINFO"]);
        log.req(&mut b, &["MSET", "x1", "1", "x2", "2", "x3", "3"]);
        log.ping(&mut a);
        // OPTOUT: CLIENT CACHING no skips the next command.
        log.req(&mut a, &["CLIENT", "TRACKING", "OFF"]);
        log.req(&mut a, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
        log.req(&mut a, &["CLIENT", "CACHING", "no"]);
        log.req(&mut a, &["GET", "y1"]);
        log.req(&mut a, &["GET", "y2"]);
        log.req(&mut b, &["MSET", "y1", "1", "y2", "2"]);
        log.ping(&mut a);
    });
    let x2 = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nx2\r\n";
    assert!(log.iter().any(|l| l == x2), "{log:?}");
}

/// REDIRECT to a RESP2 client subscribed to `__redis__:invalidate`: the invalidations
/// arrive there as Pub/Sub messages (a null one for FLUSHALL); once that client is gone,
/// the tracking client is flagged with a broken redirect.
#[test]
fn redirect_to_a_resp2_subscriber() {
    both(|s, log| {
        let mut sub = s.raw();
        let sub_id = log.id(&mut sub);
        log.req(&mut sub, &["SUBSCRIBE", "__redis__:invalidate"]);
        let mut a = s.raw();
        log.id(&mut a);
        let mut b = s.raw();
        log.req(&mut a, &["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id]);
        log.req(&mut a, &["CLIENT", "GETREDIR"]);
        log.push(client_flags(&mut a));
        log.req(&mut a, &["GET", "k"]);
        log.req(&mut b, &["SET", "k", "v"]);
        log.push(sub.read_reply());
        log.req(&mut a, &["GET", "k"]);
        log.req(&mut b, &["FLUSHALL"]);
        log.push(sub.read_reply());
        // The subscriber leaves: the next invalidation finds the redirect broken.
        drop(sub);
        while String::from_utf8_lossy(&b.request(&["CLIENT", "LIST"]))
            .contains(&format!("id={sub_id} "))
        {
            std::thread::yield_now();
        }
        log.req(&mut a, &["GET", "k2"]);
        log.req(&mut b, &["SET", "k2", "v"]);
        log.req(&mut a, &["CLIENT", "TRACKINGINFO"]);
        log.push(client_flags(&mut a));
    });
}

/// Refused CLIENT TRACKING / CACHING forms answer with Redis's texts.
#[test]
fn tracking_errors_as_redis() {
    both(|s, log| {
        let mut a = s.raw();
        for cmd in [
            &["CLIENT", "TRACKING", "ON", "PREFIX", "a"][..],
            &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
            &["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
            &["CLIENT", "TRACKING", "MAYBE"],
            &["CLIENT", "TRACKING", "ON", "BOGUS"],
            &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
            &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
            &[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
            ],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "GETREDIR"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING", "ON"],
            &["CLIENT", "TRACKING", "ON", "BCAST"],
            &["CLIENT", "CACHING", "yes"],
            &["CLIENT", "TRACKING", "ON", "OPTIN"],
            &["CLIENT", "CACHING", "no"],
            &["CLIENT", "CACHING", "maybe"],
            &["CLIENT", "TRACKING", "ON", "OPTOUT"],
            &["CLIENT", "TRACKING", "OFF"],
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"],
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b"],
            &["CLIENT", "TRACKINGINFO"],
            &["CLIENT", "TRACKING"],
            &["CLIENT", "CACHING"],
        ] {
            log.req(&mut a, cmd);
        }
    });
}

/// `tracking-table-max-keys`: past the limit, keys are invalidated (before the next
/// command's reply) until the table fits again.
#[test]
fn table_limit_invalidates_keys() {
    both(|s, log| {
        let mut a = resp3(s);
        log.req(&mut a, &["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        log.req(&mut a, &["CONFIG", "GET", "tracking-table-max-keys"]);
        log.req(&mut a, &["CLIENT", "TRACKING", "ON"]);
        log.req(&mut a, &["GET", "t1"]);
        log.req(&mut a, &["GET", "t2"]);
        // Which of the two goes is random: record only that one did.
        a.send(b"*1\r\n$4\r\nPING\r\n");
        let first = a.read_reply();
        assert!(first.starts_with(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nt"));
        log.push(a.read_reply());
        log.push(info_lines(&mut a, "stats", "tracking_total_keys"));
    });
}

/// Invalidations count against the receiver's `client-output-buffer-limit` class, as any
/// reply in Redis: a RESP3 BCAST client that stops reading (here blocked in BLPOP) is closed
/// by the `normal` limit, a RESP2 REDIRECT target subscribed to `__redis__:invalidate` by
/// the `pubsub` limit; the tracking client that redirects and the writer keep being served.
#[test]
fn invalidations_obey_the_receivers_output_buffer_limit() {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = Server::builder(kind).start();
        let mut w = s.raw();
        w.request(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0 pubsub 1mb 0 0",
        ]);
        let mut t3 = resp3(&s);
        t3.request(&["CLIENT", "SETNAME", "t3"]);
        t3.request(&["CLIENT", "TRACKING", "ON", "BCAST"]);
        t3.send(&common::resp(&[b"BLPOP", b"nolist", b"0"]));
        let mut sub = s.raw();
        sub.request(&["CLIENT", "SETNAME", "sub"]);
        let sub_id = String::from_utf8_lossy(&sub.request(&["CLIENT", "ID"]))
            .trim()
            .trim_start_matches(':')
            .to_string();
        sub.request(&["SUBSCRIBE", "__redis__:invalidate"]);
        let mut r = s.raw();
        r.request(&["CLIENT", "SETNAME", "redirecting"]);
        let on = r.request(&["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &sub_id]);
        assert_eq!(on, b"+OK\r\n", "{kind:?}");
        // 3000 keys of 10 KB: 30 MB of invalidations to each receiver, which read nothing.
        let pad = "x".repeat(10_000);
        let mut batch = Vec::new();
        for i in 0..3000 {
            let key = format!("k{i}:{pad}");
            batch.extend(common::resp(&[b"SET", key.as_bytes(), b"v"]));
        }
        w.send(&batch);
        for _ in 0..3000 {
            assert_eq!(w.read_reply(), b"+OK\r\n");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let list = loop {
            let list = String::from_utf8_lossy(&w.request(&["CLIENT", "LIST"])).into_owned();
            if !list.contains("name=t3 ") && !list.contains("name=sub ") {
                break list;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{kind:?}: receivers still connected:\n{list}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(list.contains("name=redirecting "), "{kind:?}: {list}");
        assert_eq!(w.request(&["PING"]), b"+PONG\r\n");
        drop(s);
    }
}
