//! A script running past `busy-reply-threshold`: other clients (connected before, or
//! connecting while it runs) get `-BUSY ...`, SCRIPT KILL / FUNCTION KILL stop a script
//! that has not written, `-UNKILLABLE` one that has, and SHUTDOWN NOSAVE ends the server.
//! Every scenario runs on redrepl and on Debian's redis-server; the replies must be equal.

mod common;

use common::{Kind, Raw, Server};
use std::time::Duration;

const LOOP: &str = "while true do end";
const WRITE_LOOP: &str = "redis.call('set', 'x', 1) while true do end";
const LOOP_LIB: &str =
    "#!lua name=busylib\nredis.register_function('loop', function() while true do end end)";

fn start(kind: Kind) -> Server {
    Server::builder(kind)
        .args(&["--busy-reply-threshold", "100", "--save", ""])
        .start()
}

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

/// A client connected (and served once) before the script starts.
fn ready_client(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    assert_eq!(text(c.request(&["PING"])), "+PONG\r\n");
    c
}

/// PINGs until the script runs (PONG before it starts; once it runs, the reply comes when
/// it is past the threshold): returns that BUSY reply.
fn wait_busy(b: &mut Raw) -> String {
    for _ in 0..500 {
        let reply = text(b.request(&["PING"]));
        if reply.starts_with("-BUSY") {
            return reply;
        }
        assert_eq!(reply, "+PONG\r\n");
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the script never made the server busy");
}

/// Starts `args` on a fresh connection without waiting for its reply.
fn launch(port: u16, args: &[&str]) -> Raw {
    let mut a = Raw::connect(port);
    let req: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    a.send(&common::resp(&req));
    a
}

/// EVAL of an endless loop: BUSY for others (usual errors first), SCRIPT KILL ends it.
fn eval_scenario(kind: Kind) -> Vec<String> {
    let server = start(kind);
    let mut b = ready_client(server.port);
    let mut a = launch(server.port, &["EVAL", LOOP, "0"]);
    let mut t = vec![wait_busy(&mut b)];
    t.push(text(b.request(&["NOSUCH"])));
    t.push(text(b.request(&["GET"])));
    t.push(text(b.request(&["FUNCTION", "KILL"])));
    t.push(text(b.request(&["SHUTDOWN"])));
    t.push(text(b.request(&["SET", "k", "v"])));
    // FUNCTION STATS is refused while an EVAL script runs.
    t.push(text(b.request(&["FUNCTION", "STATS"])));
    // A connection opened while the script runs is served too.
    let mut c = Raw::connect(server.port);
    t.push(text(c.request(&["PING"])));
    t.push(text(b.request(&["SCRIPT", "KILL"])));
    t.push(text(a.read_reply()));
    t.push(text(b.request(&["SCRIPT", "KILL"])));
    t.push(text(c.request(&["PING"])));
    t.push(text(a.request(&[
        "EVAL",
        "return redis.call('get', 'k')",
        "0",
    ])));
    if kind == Kind::Redrepl {
        let log = server.log();
        assert!(
            log.contains("Slow script detected: still in execution after")
                && log.contains("You can try killing the script using the SCRIPT KILL command. Script name is: 694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7.")
                && log.contains("Lua script killed by user with SCRIPT KILL."),
            "{log}"
        );
    }
    t
}

#[test]
fn busy_eval_answers_others_and_script_kill_stops_it() {
    let ours = eval_scenario(Kind::Redrepl);
    let theirs = eval_scenario(Kind::Redis);
    assert!(
        ours[0].starts_with(
            "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        ),
        "{ours:?}"
    );
    assert_eq!(ours, theirs);
}

/// FCALL of an endless loop: the BUSY text names FUNCTION KILL; SCRIPT KILL is refused.
fn function_scenario(kind: Kind) -> Vec<String> {
    let server = start(kind);
    let mut b = ready_client(server.port);
    let mut t = vec![text(b.request(&["FUNCTION", "LOAD", LOOP_LIB]))];
    let mut a = launch(server.port, &["fcall", "loop", "1", "kk", "arg"]);
    t.push(wait_busy(&mut b));
    // FUNCTION STATS names the running function, its command and its age.
    t.push(without_duration(text(b.request(&["FUNCTION", "STATS"]))));
    t.push(text(b.request(&["SCRIPT", "KILL"])));
    t.push(text(b.request(&["FUNCTION", "KILL"])));
    t.push(text(a.read_reply()));
    t.push(text(b.request(&["FUNCTION", "KILL"])));
    t
}

/// A reply with the value after `duration_ms` replaced by N.
fn without_duration(reply: String) -> String {
    let key = "$11\r\nduration_ms\r\n:";
    let Some(at) = reply.find(key) else {
        return reply;
    };
    let from = at + key.len();
    let to = from + reply[from..].find("\r\n").unwrap_or(0);
    format!("{}N{}", &reply[..from], &reply[to..])
}

#[test]
fn busy_function_is_stopped_by_function_kill_only() {
    let ours = function_scenario(Kind::Redrepl);
    let theirs = function_scenario(Kind::Redis);
    assert!(
        ours[1].contains("You can only call FUNCTION KILL"),
        "{ours:?}"
    );
    assert!(
        ours[2].contains("$5\r\nfcall\r\n$4\r\nloop\r\n$1\r\n1\r\n$2\r\nkk\r\n$3\r\narg\r\n$11\r\nduration_ms\r\n:N\r\n"),
        "{ours:?}"
    );
    assert_eq!(ours, theirs);
}

/// A script that wrote cannot be killed; SHUTDOWN NOSAVE ends the server (no save, the
/// script's client sees the connection close).
fn unkillable_scenario(kind: Kind) -> Vec<String> {
    let mut server = start(kind);
    let mut b = ready_client(server.port);
    let mut a = launch(server.port, &["EVAL", WRITE_LOOP, "0"]);
    let mut t = vec![wait_busy(&mut b)];
    t.push(text(b.request(&["SCRIPT", "KILL"])));
    t.push(text(b.request(&["FUNCTION", "KILL"])));
    t.push(text(b.request(&["SHUTDOWN", "SAVE", "NOW"])));
    t.push(text(b.request(&["SHUTDOWN", "SAVE", "NOSAVE"])));
    t.push(text(b.request(&["SHUTDOWN", "ABORT"])));
    b.send(&common::resp(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(b.is_closed(Duration::from_secs(10)));
    assert!(a.is_closed(Duration::from_secs(10)));
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    assert!(!server.path().join("dump.rdb").exists());
    t
}

#[test]
fn busy_script_that_wrote_is_unkillable_and_shutdown_nosave_ends_the_server() {
    let ours = unkillable_scenario(Kind::Redrepl);
    let theirs = unkillable_scenario(Kind::Redis);
    assert!(
        ours[1].starts_with("-UNKILLABLE Sorry the script already executed write commands"),
        "{ours:?}"
    );
    assert_eq!(ours, theirs);
}

/// Polls the server's log until it contains `line`.
fn wait_log(server: &Server, line: &str) {
    for _ in 0..1000 {
        if server.log().contains(line) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no {line:?} in the log:\n{}", server.log());
}

/// SIGTERM while a script is busy, as Redis 7.0: the signal only schedules the shutdown
/// (the server goes on answering BUSY); once SCRIPT KILL has ended the script, the server
/// shuts down, saving as configured.
fn sigterm_scenario(kind: Kind) -> Vec<String> {
    let mut server = Server::builder(kind)
        .args(&["--busy-reply-threshold", "100", "--save", "900 1"])
        .start();
    let mut b = ready_client(server.port);
    let mut t = vec![text(b.request(&["SET", "saved", "1"]))];
    let _a = launch(server.port, &["EVAL", LOOP, "0"]);
    t.push(wait_busy(&mut b));
    server.signal(libc::SIGTERM);
    if kind == Kind::Redis {
        // Its signal handler logs at once. Ours is read by the event loop, which the
        // script holds: the line comes when the script has ended (checked below).
        wait_log(&server, "Received SIGTERM scheduling shutdown...");
    }
    // Still serving: the script runs on, the shutdown waits for it.
    t.push(text(b.request(&["PING"])));
    t.push(text(b.request(&["SCRIPT", "KILL"])));
    assert!(server.wait_exit(Duration::from_secs(20)).is_some());
    let log = server.log();
    let killed = log.find("Lua script killed by user with SCRIPT KILL.");
    let shutdown = log.find("User requested shutdown...");
    assert!(killed.is_some() && shutdown > killed, "{log}");
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );
    assert!(log.contains("DB saved on disk"), "{log}");
    assert!(server.path().join("dump.rdb").exists());
    t
}

#[test]
fn sigterm_during_a_busy_script_shuts_down_once_the_script_ends() {
    let ours = sigterm_scenario(Kind::Redrepl);
    let theirs = sigterm_scenario(Kind::Redis);
    assert!(ours[2].starts_with("-BUSY"), "{ours:?}");
    assert_eq!(ours, theirs);
}

/// A connection that authenticated with `pw` (and got +OK).
fn authed(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    assert_eq!(text(c.request(&["AUTH", "pw"])), "+OK\r\n");
    c
}

/// HELLO's reply with the connection id (which counts the harness's own connections)
/// replaced by N.
fn without_id(reply: String) -> String {
    let Some(at) = reply.find("$2\r\nid\r\n:") else {
        return reply;
    };
    let from = at + "$2\r\nid\r\n:".len();
    let to = from + reply[from..].find("\r\n").unwrap_or(0);
    format!("{}N{}", &reply[..from], &reply[to..])
}

/// While a script is busy, Redis runs the commands flagged allow-busy (AUTH, HELLO, MULTI,
/// DISCARD, WATCH, UNWATCH, QUIT ...) for other clients, after the usual checks (NOAUTH
/// first), and answers BUSY to the rest; inside MULTI a refused command dooms the
/// transaction and EXEC answers EXECABORT.
fn allow_busy_scenario(kind: Kind) -> Vec<String> {
    let server = Server::builder(kind)
        .args(&[
            "--busy-reply-threshold",
            "100",
            "--save",
            "",
            "--requirepass",
            "pw",
        ])
        .start();
    let port = server.port;
    let mut b = authed(port);
    let mut c = Raw::connect(port);
    let mut t = vec![text(c.request(&["PING"]))];
    let mut d = authed(port);
    let mut e = authed(port);
    let mut a = authed(port);
    a.send(&common::resp(&[b"EVAL", LOOP.as_bytes(), b"0"]));
    t.push(wait_busy(&mut b));
    // Not authenticated: NOAUTH comes before BUSY; AUTH itself runs.
    t.push(text(c.request(&["GET", "k"])));
    t.push(text(c.request(&["AUTH", "wrong"])));
    t.push(text(c.request(&["AUTH", "pw"])));
    t.push(text(c.request(&["GET", "k"])));
    t.push(without_id(text(c.request(&["HELLO", "3"]))));
    t.push(text(c.request(&["PING"])));
    // A transaction: MULTI runs, a write is refused (BUSY), EXEC aborts it.
    t.push(text(d.request(&["MULTI"])));
    t.push(text(d.request(&["SET", "x", "1"])));
    t.push(text(d.request(&["WATCH", "k"])));
    t.push(text(d.request(&["EXEC"])));
    t.push(text(d.request(&["MULTI"])));
    t.push(text(d.request(&["DISCARD"])));
    t.push(text(d.request(&["WATCH", "k"])));
    t.push(text(d.request(&["UNWATCH"])));
    t.push(text(d.request(&["MULTI"])));
    t.push(text(d.request(&["INCR", "n"])));
    // QUIT answers and closes.
    t.push(text(e.request(&["QUIT"])));
    assert!(e.is_closed(Duration::from_secs(10)));
    t.push(text(b.request(&["SCRIPT", "KILL"])));
    t.push(text(a.read_reply()));
    // After the script: the RESP3 connection and the doomed transaction go on.
    t.push(text(c.request(&["PING"])));
    t.push(text(d.request(&["EXEC"])));
    t.push(text(d.request(&["GET", "n"])));
    t
}

#[test]
fn busy_script_runs_allow_busy_commands_for_others() {
    let ours = allow_busy_scenario(Kind::Redrepl);
    let theirs = allow_busy_scenario(Kind::Redis);
    assert_eq!(ours[2], "-NOAUTH Authentication required.\r\n", "{ours:?}");
    assert_eq!(ours[4], "+OK\r\n", "{ours:?}");
    assert_eq!(ours, theirs);
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files.
struct Cert {
    dir: tempfile::TempDir,
}

impl Cert {
    fn new() -> Cert {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), ck.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
        Cert { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

/// A TLS connection seen as a [`Raw`] one: `openssl s_client` speaks TLS to the server and
/// a local socket relays its plaintext. Dropping it ends the s_client process.
struct TlsRaw {
    raw: Raw,
    child: std::process::Child,
}

impl TlsRaw {
    fn connect(tls_port: u16) -> TlsRaw {
        use std::io::{Read, Write};
        use std::process::{Command, Stdio};
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-connect"])
            .arg(format!("127.0.0.1:{tls_port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_client");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let raw = Raw::connect(port);
        let (relay, _) = listener.accept().unwrap();
        let mut to_tls = child.stdin.take().unwrap();
        let mut from_tls = child.stdout.take().unwrap();
        let mut rx = relay.try_clone().unwrap();
        let mut tx = relay;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = rx.read(&mut buf) {
                if to_tls
                    .write_all(&buf[..n])
                    .and_then(|_| to_tls.flush())
                    .is_err()
                {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = from_tls.read(&mut buf) {
                if tx.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        TlsRaw { raw, child }
    }
}

impl Drop for TlsRaw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// While a script is busy, a TLS client connected before it and a plain connection opened
/// during it are served as Redis serves them: AUTH and HELLO run (NOAUTH first for the new
/// connection), the rest gets BUSY.
fn tls_and_new_connection_scenario(kind: Kind) -> Vec<String> {
    let cert = Cert::new();
    let tls_port = common::free_port();
    let server = Server::builder(kind)
        .args(&[
            "--busy-reply-threshold",
            "100",
            "--save",
            "",
            "--requirepass",
            "pw",
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &cert.file("cert.pem"),
            "--tls-key-file",
            &cert.file("key.pem"),
            "--tls-ca-cert-file",
            &cert.file("cert.pem"),
            "--tls-auth-clients",
            "no",
        ])
        .start();
    let port = server.port;
    let mut b = authed(port);
    let mut tls = TlsRaw::connect(tls_port);
    let mut t = vec![text(tls.raw.request(&["AUTH", "pw"]))];
    let mut a = authed(port);
    a.send(&common::resp(&[b"EVAL", LOOP.as_bytes(), b"0"]));
    t.push(wait_busy(&mut b));
    // The TLS client, connected before the script.
    t.push(text(tls.raw.request(&["PING"])));
    t.push(without_id(text(tls.raw.request(&["HELLO", "3"]))));
    t.push(text(tls.raw.request(&["GET", "k"])));
    // A connection opened while the script runs.
    let mut n = Raw::connect(port);
    t.push(text(n.request(&["GET", "k"])));
    t.push(text(n.request(&["AUTH", "wrong"])));
    t.push(text(n.request(&["AUTH", "pw"])));
    t.push(without_id(text(n.request(&["HELLO", "3"]))));
    t.push(text(n.request(&["PING"])));
    t.push(text(n.request(&["SCRIPT", "KILL"])));
    t.push(text(a.read_reply()));
    // After the script both go on, in RESP3.
    t.push(text(tls.raw.request(&["SET", "k", "v"])));
    t.push(text(n.request(&["GET", "k"])));
    t.push(
        text(n.request(&["CLIENT", "INFO"]))
            .contains("resp=3")
            .to_string(),
    );
    t
}

#[test]
fn busy_script_serves_tls_clients_and_new_connections() {
    let ours = tls_and_new_connection_scenario(Kind::Redrepl);
    let theirs = tls_and_new_connection_scenario(Kind::Redis);
    assert!(ours[2].starts_with("-BUSY"), "{ours:?}");
    assert_eq!(ours[5], "-NOAUTH Authentication required.\r\n", "{ours:?}");
    assert_eq!(ours, theirs);
}
