//! Redis's order of checks (processCommand) and the command table, side by side with
//! Debian's redis-server 7.0: every scenario runs the same steps against both engines and
//! the replies must be equal, error texts included.

mod common;

use common::{Kind, Server, err_text, free_port, q};
use std::time::{Duration, Instant};

/// One step of a scenario: which connection (0 or 1) sends which command.
type Step<'a> = (usize, &'a [&'a str]);

/// Runs `steps` on a fresh server of `kind` started with `extra`; returns each reply's
/// debug text. `setup` runs first (its replies are not compared).
fn run(kind: Kind, extra: &[&str], setup: &[&[&str]], steps: &[Step]) -> Vec<String> {
    let server = Server::start_kind(kind, extra);
    let mut cons = [server.conn(), server.conn()];
    for s in setup {
        q(&mut cons[1], s);
    }
    steps
        .iter()
        .map(|(c, args)| show(&q(&mut cons[*c], args)))
        .collect()
}

/// A reply as text: `-CODE message` for errors (as on the wire), the value's debug form
/// otherwise.
fn show(v: &redis::Value) -> String {
    match v {
        redis::Value::ServerError(_) => format!("-{}", err_text(v)),
        other => format!("{other:?}"),
    }
}

/// Runs a scenario on both engines, asserts equal replies, and returns them.
fn same(extra: &[&str], setup: &[&[&str]], steps: &[Step]) -> Vec<String> {
    let ours = run(Kind::Redrepl, extra, setup, steps);
    let theirs = run(Kind::Redis, extra, setup, steps);
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "step {i} {:?}: redrepl vs redis-server", steps[i].1);
    }
    ours
}

const EXECABORT_PREVIOUS: &str = "EXECABORT Transaction discarded because of previous errors.";

#[test]
fn read_only_replica_refuses_writes_before_queueing() {
    let dead = free_port().to_string();
    let r = same(
        &["--replicaof", "127.0.0.1", &dead],
        &[],
        &[
            (0, &["SET", "a", "b"]),
            (0, &["MULTI"]),
            (0, &["SET", "a", "b"]),
            (0, &["GET", "a"]),
            (0, &["EXEC"]),
            (0, &["MULTI"]),
            (0, &["GET", "a"]),
            (0, &["EXEC"]),
        ],
    );
    assert!(r[2].contains("READONLY You can't write against a read only replica."));
    assert!(r[4].contains(EXECABORT_PREVIOUS), "{}", r[4]);
}

#[test]
fn exec_rechecks_read_only_when_the_server_became_a_replica() {
    let dead = free_port().to_string();
    let r = same(
        &[],
        &[],
        &[
            (0, &["MULTI"]),
            (0, &["SET", "a", "b"]),
            (1, &["REPLICAOF", "127.0.0.1", &dead]),
            (0, &["EXEC"]),
            (0, &["GET", "a"]),
            (1, &["REPLICAOF", "NO", "ONE"]),
        ],
    );
    assert!(r[3].contains(
        "EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica."
    ));
}

#[test]
fn masterdown_before_queueing() {
    let dead = free_port().to_string();
    let r = same(
        &["--replicaof", "127.0.0.1", &dead],
        &[&["CONFIG", "SET", "replica-serve-stale-data", "no"]],
        &[
            (0, &["GET", "a"]),
            (0, &["MULTI"]),
            (0, &["GET", "a"]),
            (0, &["EXEC"]),
            (0, &["INFO", "nosuchsection"]),
            // PING is not flagged stale in Redis 7.0, ECHO is.
            (0, &["PING"]),
            (0, &["ECHO", "hi"]),
            // A subcommand's own flags decide: OBJECT HELP is stale-safe, OBJECT ENCODING
            // is not; CLIENT ID is.
            (0, &["OBJECT", "HELP"]),
            (0, &["OBJECT", "ENCODING", "a"]),
            (0, &["CLIENT", "GETNAME"]),
        ],
    );
    assert!(r[2].contains("MASTERDOWN Link with MASTER is down"));
    assert!(r[3].contains(EXECABORT_PREVIOUS));
    assert!(r[5].contains("MASTERDOWN"), "{}", r[5]);
    assert!(
        !r[7].contains("MASTERDOWN") && r[8].contains("MASTERDOWN"),
        "{r:?}"
    );
}

#[test]
fn oom_refuses_queueing_inside_multi() {
    let r = same(
        &["--maxmemory", "1"],
        &[],
        &[
            (0, &["SET", "a", "b"]),
            (0, &["GET", "a"]),
            (0, &["MULTI"]),
            (0, &["GET", "a"]),
            (0, &["EXEC"]),
            (0, &["MULTI"]),
            (0, &["DISCARD"]),
        ],
    );
    assert!(r[3].contains("OOM command not allowed when used memory > 'maxmemory'."));
    assert!(r[4].contains(EXECABORT_PREVIOUS));
}

#[test]
fn noreplicas_before_queueing_and_at_exec() {
    let r = same(
        &[],
        &[],
        &[
            (0, &["MULTI"]),
            (0, &["SET", "a", "b"]),
            (1, &["CONFIG", "SET", "min-replicas-to-write", "1"]),
            (0, &["EXEC"]),
            (0, &["SET", "a", "b"]),
            (0, &["MULTI"]),
            (0, &["SET", "a", "b"]),
            (0, &["EXEC"]),
        ],
    );
    assert!(r[3].contains(
        "EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write."
    ));
    assert!(r[6].contains("NOREPLICAS"));
    assert!(r[7].contains(EXECABORT_PREVIOUS));
}

/// Makes the next BGSAVE fail: a non-empty directory stands where the dump is renamed to.
fn fail_bgsave(server: &Server) {
    let mut con = server.conn();
    std::fs::create_dir_all(server.dir.path().join("dump.rdb").join("keep")).unwrap();
    q(&mut con, &["CONFIG", "SET", "save", "3600 1"]);
    q(&mut con, &["BGSAVE"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = format!("{:?}", q(&mut con, &["INFO", "persistence"]));
        if info.contains("rdb_bgsave_in_progress:0") && info.contains("rdb_last_bgsave_status:err")
        {
            return;
        }
        assert!(Instant::now() < deadline, "BGSAVE did not fail: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn misconf_before_queueing() {
    let mut all = Vec::new();
    for kind in [Kind::Redrepl, Kind::Redis] {
        let server = Server::start_kind(kind, &[]);
        fail_bgsave(&server);
        let mut con = server.conn();
        let replies: Vec<String> = [
            &["SET", "a", "b"][..],
            &["PING"],
            &["MULTI"],
            &["SET", "a", "b"],
            &["GET", "a"],
            &["EXEC"],
        ]
        .iter()
        .map(|a| show(&q(&mut con, a)))
        .collect();
        all.push(replies);
    }
    assert_eq!(all[0], all[1], "redrepl vs redis-server");
    assert!(all[0][3].contains("MISCONF"));
    assert!(all[0][5].contains(EXECABORT_PREVIOUS));
}

#[test]
fn noauth_arity_and_unknown_inside_and_outside_multi() {
    let r = same(
        &["--requirepass", "pw", "--enable-debug-command", "no"],
        &[],
        &[
            (0, &["DEBUG", "DIGEST"]),
            (0, &["GET", "a"]),
            (0, &["EXEC"]),
            (0, &["MULTI"]),
            (0, &["AUTH", "pw"]),
            (0, &["MULTI"]),
            (0, &["NOSUCH", "x"]),
            (0, &["GET"]),
            (0, &["SET", "a", "b"]),
            (0, &["EXEC"]),
            (0, &["MULTI"]),
            (0, &["EXEC", "extra"]),
            (0, &["EXEC"]),
            (0, &["EXEC", "extra"]),
        ],
    );
    assert!(r[0].contains("DEBUG command not allowed"), "{}", r[0]);
    assert!(r[1].contains("NOAUTH"));
    assert!(r[9].contains(EXECABORT_PREVIOUS));
}

#[test]
fn subcommand_arity_and_unknown_subcommands_are_refused_before_queueing() {
    let r = same(
        &[],
        &[],
        &[
            (0, &["CLIENT", "KILL"]),
            (0, &["CLIENT"]),
            (0, &["client", "nope"]),
            (0, &["MULTI"]),
            (0, &["CLIENT", "KILL"]),
            (0, &["CLIENT", "GETNAME", "extra"]),
            (0, &["OBJECT", "ENCODING"]),
            (0, &["CONFIG", "GET"]),
            (0, &["CONFIG", "NOPE"]),
            (0, &["COMMAND", "COUNT", "x"]),
            (0, &["CLIENT", "ID"]),
            (0, &["EXEC"]),
            (0, &["MULTI"]),
            (0, &["CLIENT", "PAUSE", "1", "WRITE", "x"]),
            (0, &["CONFIG", "SET", "maxmemory", "1", "hz"]),
            (0, &["EXEC"]),
        ],
    );
    assert!(r[0].contains("wrong number of arguments for 'client|kill' command"));
    assert!(r[2].contains("unknown subcommand 'nope'. Try CLIENT HELP."));
    assert!(r[4].contains("wrong number of arguments for 'client|kill' command"));
    assert!(r[8].contains("unknown subcommand 'NOPE'. Try CONFIG HELP."));
    assert!(r[11].contains(EXECABORT_PREVIOUS), "{}", r[11]);
    // Errors of the handlers themselves come at EXEC time, inside its reply.
    assert!(r[15].contains("unknown subcommand or wrong number of arguments for 'PAUSE'"));
    assert!(r[15].contains("syntax error"));
}

#[test]
fn client_list_shows_the_full_subcommand_name() {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let server = Server::start_kind(kind, &[]);
        let mut con = server.conn();
        let info = format!("{:?}", q(&mut con, &["CLIENT", "INFO"]));
        assert!(info.contains("cmd=client|info"), "{kind:?}: {info}");
        q(&mut con, &["CONFIG", "GET", "hz"]);
        let list = format!("{:?}", q(&mut server.conn(), &["CLIENT", "LIST"]));
        assert!(list.contains("cmd=config|get"), "{kind:?}: {list}");
    }
}
