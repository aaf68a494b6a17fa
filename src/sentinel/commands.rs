//! The commands a sentinel answers (redis-sentinel 7.0's command table): PING, AUTH,
//! HELLO, INFO, ROLE, CLIENT, SHUTDOWN, SUBSCRIBE and friends, PUBLISH (hello messages
//! only), and SENTINEL with its subcommands ([`super::sentinel_cmd`]).

use super::Shared;
use super::listener::Conn;
use super::sentinel_cmd;
use crate::resp::{Proto, ReplyBuf};
use crate::server::clock::now_ms;
use bytes::Bytes;

/// A command handler.
pub type Handler = fn(&Shared, &mut Conn, &[Bytes], &mut ReplyBuf);

/// One command: name, arity (negative: at least), handler.
pub struct Cmd {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity.
    pub arity: i32,
    /// The handler.
    pub run: Handler,
}

/// The command table.
const TABLE: &[Cmd] = &[
    Cmd {
        name: "ping",
        arity: -1,
        run: ping,
    },
    Cmd {
        name: "auth",
        arity: -2,
        run: auth,
    },
    Cmd {
        name: "hello",
        arity: -1,
        run: hello,
    },
    Cmd {
        name: "info",
        arity: -1,
        run: info,
    },
    Cmd {
        name: "role",
        arity: 1,
        run: role,
    },
    Cmd {
        name: "client",
        arity: -2,
        run: client,
    },
    Cmd {
        name: "shutdown",
        arity: -1,
        run: shutdown,
    },
    Cmd {
        name: "subscribe",
        arity: -2,
        run: subscribe,
    },
    Cmd {
        name: "unsubscribe",
        arity: -1,
        run: unsubscribe,
    },
    Cmd {
        name: "psubscribe",
        arity: -2,
        run: psubscribe,
    },
    Cmd {
        name: "punsubscribe",
        arity: -1,
        run: punsubscribe,
    },
    Cmd {
        name: "publish",
        arity: 3,
        run: publish,
    },
    Cmd {
        name: "sentinel",
        arity: -2,
        run: sentinel_cmd::sentinel,
    },
    Cmd {
        name: "quit",
        arity: -1,
        run: quit,
    },
];

/// The argument as text.
pub fn text(a: &Bytes) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// `ERR wrong number of arguments for '<name>' command`.
pub fn arity_error(out: &mut ReplyBuf, name: &str) {
    out.error(&format!(
        "ERR wrong number of arguments for '{name}' command"
    ));
}

/// Whether `argc` fits `arity`.
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

/// Runs one request.
pub fn dispatch(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let name = text(&args[0]).to_ascii_lowercase();
    {
        let mut s = super::lock(shared);
        s.stats.commands += 1;
    }
    if let Some(c) = shared.clients_lock().get_mut(&conn.id) {
        c.last = now_ms();
        c.cmd = name.clone();
    }
    let Some(cmd) = TABLE.iter().find(|c| c.name == name) else {
        out.error(&crate::server::commands::unknown_command(args));
        return;
    };
    if !conn.authed && !matches!(cmd.name, "auth" | "hello" | "quit") {
        out.error("NOAUTH Authentication required.");
        return;
    }
    if !arity_ok(cmd.arity, args.len()) {
        arity_error(out, cmd.name);
        return;
    }
    if conn.subscribed()
        && conn.proto == Proto::Resp2
        && !matches!(
            cmd.name,
            "ping" | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "quit"
        )
    {
        out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
             RESET are allowed in this context",
            cmd.name
        ));
        return;
    }
    (cmd.run)(shared, conn, args, out);
}

fn ping(_: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    if args.len() > 2 {
        arity_error(out, "ping");
        return;
    }
    if conn.subscribed() && conn.proto == Proto::Resp2 {
        out.array(2);
        out.bulk(b"pong");
        out.bulk(args.get(1).map(|a| &a[..]).unwrap_or(b""));
        return;
    }
    match args.get(1) {
        Some(a) => out.bulk(a),
        None => out.simple("PONG"),
    }
}

fn quit(_: &Shared, conn: &mut Conn, _: &[Bytes], out: &mut ReplyBuf) {
    out.ok();
    conn.close = true;
}

/// Checks `user`/`pass` against the `user` lines and requirepass.
fn check_password(shared: &Shared, user: Option<&str>, pass: &[u8]) -> bool {
    super::lock(shared).conf.login_ok(user, pass)
}

fn auth(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    if args.len() > 3 {
        out.error("ERR syntax error");
        return;
    }
    let no_pass = super::lock(shared).conf.default_open();
    if args.len() == 2 && no_pass {
        out.error(
            "ERR AUTH <password> called without any password configured for the default \
             user. Are you sure your configuration is correct?",
        );
        return;
    }
    let user = (args.len() == 3).then(|| text(&args[1]));
    if check_password(shared, user.as_deref(), &args[args.len() - 1]) {
        conn.authed = true;
        out.ok();
    } else {
        out.error("WRONGPASS invalid username-password pair or user is disabled.");
    }
}

fn hello(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let mut proto = conn.proto;
    let mut i = 1;
    if let Some(v) = args.get(1) {
        match text(v).parse::<i64>() {
            Ok(2) => proto = Proto::Resp2,
            Ok(3) => proto = Proto::Resp3,
            Ok(_) => {
                out.error("NOPROTO unsupported protocol version");
                return;
            }
            Err(_) => {
                out.error("ERR Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        let opt = text(&args[i]).to_ascii_lowercase();
        if opt == "auth" && i + 2 < args.len() {
            let user = text(&args[i + 1]);
            if !check_password(shared, Some(&user), &args[i + 2]) {
                out.error("WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            conn.authed = true;
            i += 3;
        } else if opt == "setname" && i + 1 < args.len() {
            name = Some(text(&args[i + 1]));
            i += 2;
        } else {
            out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                text(&args[i])
            ));
            return;
        }
    }
    if !conn.authed {
        out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(n) = name
        && let Some(c) = shared.clients_lock().get_mut(&conn.id)
    {
        c.name = n;
    }
    conn.proto = proto;
    out.proto = proto;
    out.map(6);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::server::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if proto == Proto::Resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(conn.id as i64);
    out.bulk(b"mode");
    out.bulk(b"sentinel");
    out.bulk(b"modules");
    out.array(0);
}

fn info(shared: &Shared, _: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let text = super::info::render(shared, &args[1..]);
    out.verbatim(text.as_bytes());
}

fn role(shared: &Shared, _: &mut Conn, _: &[Bytes], out: &mut ReplyBuf) {
    let s = super::lock(shared);
    out.array(2);
    out.bulk(b"sentinel");
    out.array(s.masters.len());
    for m in &s.masters {
        out.bulk(m.name().as_bytes());
    }
}

fn shutdown(shared: &Shared, _: &mut Conn, _: &[Bytes], _: &mut ReplyBuf) {
    let mut s = super::lock(shared);
    crate::warning!("User requested shutdown...");
    s.flush_config();
    if let Some(p) = &s.conf.pidfile {
        crate::server::process::remove_pidfile(p);
    }
    crate::warning!("Sentinel is now ready to exit, bye bye...");
    std::process::exit(0);
}

fn client(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let sub = text(&args[1]).to_ascii_lowercase();
    let now = now_ms();
    match (sub.as_str(), args.len()) {
        ("id", 2) => out.int(conn.id as i64),
        ("setname", 3) => {
            let name = text(&args[2]);
            if name.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
            }
            if let Some(c) = shared.clients_lock().get_mut(&conn.id) {
                c.name = name;
            }
            out.ok();
        }
        ("getname", 2) => match shared.clients_lock().get(&conn.id) {
            Some(c) if !c.name.is_empty() => out.bulk(c.name.as_bytes()),
            _ => out.null(),
        },
        ("info", 2) => {
            let line = shared
                .clients_lock()
                .get(&conn.id)
                .map(|c| c.line(now))
                .unwrap_or_default();
            out.verbatim(format!("{line}\n").as_bytes());
        }
        ("list", 2) => {
            let clients = shared.clients_lock();
            let mut text = String::new();
            for c in clients.values() {
                text.push_str(&c.line(now));
                text.push('\n');
            }
            out.verbatim(text.as_bytes());
        }
        ("kill", n) if n >= 3 => client_kill(shared, conn, args, out),
        ("help", 2) => {
            let lines = [
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, TYPE <normal|pubsub>.",
                "LIST",
                "    Return information about client connections.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
            ];
            help(out, "CLIENT", &lines);
        }
        _ => out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            text(&args[1])
        )),
    }
}

fn client_kill(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let clients = shared.clients_lock();
    if args.len() == 3 {
        let addr = text(&args[2]);
        match clients.values().find(|c| c.addr == addr) {
            Some(c) => {
                if c.id == conn.id {
                    conn.close = true;
                }
                c.kill.notify_one();
                out.ok();
            }
            None => out.error("ERR No such client"),
        }
        return;
    }
    if !args.len().is_multiple_of(2) {
        out.error("ERR syntax error");
        return;
    }
    let mut id = None;
    let mut addr = None;
    let mut kind = None;
    for pair in args[2..].chunks(2) {
        let v = text(&pair[1]);
        match text(&pair[0]).to_ascii_lowercase().as_str() {
            "id" => match v.parse::<u64>() {
                Ok(n) => id = Some(n),
                Err(_) => {
                    out.error("ERR client-id should be greater than 0");
                    return;
                }
            },
            "addr" => addr = Some(v),
            "type" => kind = Some(v.to_ascii_lowercase()),
            "skipme" => {}
            _ => {
                out.error("ERR syntax error");
                return;
            }
        }
    }
    let mut n = 0;
    for c in clients.values() {
        let pubsub = c.sub + c.psub > 0;
        let matches = id.is_none_or(|i| c.id == i)
            && addr.as_ref().is_none_or(|a| &c.addr == a)
            && kind.as_deref().is_none_or(|k| match k {
                "pubsub" => pubsub,
                "normal" => !pubsub,
                _ => false,
            });
        if matches && c.id != conn.id {
            c.kill.notify_one();
            n += 1;
        }
    }
    out.int(n);
}

/// A HELP reply in Redis's shape.
pub fn help(out: &mut ReplyBuf, cmd: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

/// Keeps the client table's sub/psub counts and the event receiver in step.
fn sync_subs(shared: &Shared, conn: &mut Conn) {
    if let Some(c) = shared.clients_lock().get_mut(&conn.id) {
        c.sub = conn.channels.len();
        c.psub = conn.patterns.len();
    }
    if conn.subscribed() {
        if conn.events.is_none() {
            conn.events = Some(super::lock(shared).events.subscribe());
        }
    } else {
        conn.events = None;
    }
}

fn sub_reply(conn: &Conn, out: &mut ReplyBuf, kind: &str, name: Option<&str>) {
    let count = conn.channels.len() + conn.patterns.len();
    if conn.proto == Proto::Resp3 {
        out.raw(b">3\r\n");
    } else {
        out.array(3);
    }
    out.bulk(kind.as_bytes());
    match name {
        Some(n) => out.bulk(n.as_bytes()),
        None => out.null(),
    }
    out.int(count as i64);
}

fn subscribe(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    for a in &args[1..] {
        conn.channels.insert(text(a));
        sub_reply(conn, out, "subscribe", Some(&text(a)));
    }
    sync_subs(shared, conn);
}

fn psubscribe(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    for a in &args[1..] {
        conn.patterns.insert(text(a));
        sub_reply(conn, out, "psubscribe", Some(&text(a)));
    }
    sync_subs(shared, conn);
}

fn unsubscribe_from(
    shared: &Shared,
    conn: &mut Conn,
    args: &[Bytes],
    out: &mut ReplyBuf,
    patterns: bool,
) {
    let kind = if patterns {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let names: Vec<String> = if args.len() > 1 {
        args[1..].iter().map(text).collect()
    } else if patterns {
        conn.patterns.iter().cloned().collect()
    } else {
        conn.channels.iter().cloned().collect()
    };
    if names.is_empty() {
        sub_reply(conn, out, kind, None);
    }
    for n in names {
        if patterns {
            conn.patterns.remove(&n);
        } else {
            conn.channels.remove(&n);
        }
        sub_reply(conn, out, kind, Some(&n));
    }
    sync_subs(shared, conn);
}

fn unsubscribe(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    unsubscribe_from(shared, conn, args, out, false);
}

fn punsubscribe(shared: &Shared, conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    unsubscribe_from(shared, conn, args, out, true);
}

fn publish(shared: &Shared, _: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    if args[1][..] != *super::monitor::HELLO_CHANNEL.as_bytes() {
        out.error("ERR Only HELLO messages are accepted by Sentinel instances.");
        return;
    }
    let mut s = super::lock(shared);
    super::discovery::hello(&mut s, &text(&args[2]), now_ms());
    out.int(1);
}
