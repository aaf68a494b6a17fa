//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO, SELECT and CLIENT.

use super::args::Args;
use super::flags::*;
use super::{
    CmdError, CmdResult, Ctx, Flow, NO_KEYS, Spec, arg_i64, container, err, is, spec,
    subcommand_syntax_error,
};
use crate::resp::Proto;
use crate::server::client::ReplyMode;
use crate::server::state::Pause;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// The connection commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("ping", -1, FAST, NO_KEYS, ping),
        spec("echo", 2, FAST | LOADING | STALE, NO_KEYS, echo),
        spec(
            "quit",
            -1,
            NOAUTH | NO_QUEUE | STALE | LOADING | FAST,
            NO_KEYS,
            quit,
        ),
        spec(
            "reset",
            1,
            NOAUTH | NO_QUEUE | STALE | LOADING | FAST,
            NO_KEYS,
            reset,
        ),
        spec("auth", -2, NOAUTH | STALE | LOADING | FAST, NO_KEYS, auth),
        spec("hello", -1, NOAUTH | STALE | LOADING | FAST, NO_KEYS, hello),
        spec("select", 2, FAST | LOADING | STALE, NO_KEYS, select),
        spec("client", -2, 0, NO_KEYS, container).subcommands(client_specs()),
    ]
}

/// CLIENT's subcommands, with Redis 7.0's arities and flags (no-script is not modelled).
fn client_specs() -> Vec<Spec> {
    const USER: u32 = LOADING | STALE;
    const ADMIN_: u32 = ADMIN | LOADING | STALE;
    vec![
        spec("client|id", 2, USER, NO_KEYS, client_id),
        spec("client|setname", 3, USER, NO_KEYS, client_setname),
        spec("client|getname", 2, USER, NO_KEYS, client_getname),
        spec("client|info", 2, USER, NO_KEYS, client_info),
        spec("client|list", -2, ADMIN_, NO_KEYS, client_list),
        spec("client|kill", -3, ADMIN_, NO_KEYS, client_kill),
        spec("client|pause", -3, ADMIN_, NO_KEYS, client_pause),
        spec("client|unpause", 2, ADMIN_, NO_KEYS, client_unpause),
        spec("client|unblock", -3, ADMIN_, NO_KEYS, client_unblock),
        spec("client|no-evict", 3, ADMIN_, NO_KEYS, client_no_evict),
        spec("client|reply", 3, USER, NO_KEYS, client_reply),
        spec("client|help", 2, USER, NO_KEYS, client_help),
        spec("client|tracking", -3, USER, NO_KEYS, client_tracking),
        spec("client|caching", 3, USER, NO_KEYS, client_caching),
        spec("client|getredir", 2, USER, NO_KEYS, client_getredir),
        spec("client|trackinginfo", 2, USER, NO_KEYS, client_trackinginfo),
    ]
}

fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.resp2_subscriber() {
        // Subscriber mode: PING answers as a message, `pong` and the argument.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map_or(&b""[..], |a| a));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&args[1]),
        _ => return Err(super::arity_error("ping")),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.flow = Flow::Close;
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::transactions::discard_state(ctx);
    super::transactions::unwatch_all(ctx);
    ctx.client.db = 0;
    ctx.client.info.db.store(0, Ordering::Relaxed);
    ctx.client.set_proto(Proto::Resp2);
    ctx.out.proto = Proto::Resp2;
    // Leaves subscriber and MONITOR mode.
    ctx.state.pubsub.remove_client(ctx.client);
    ctx.client.reply_mode = ReplyMode::On;
    // Redis's clearClientConnectionState: back to the default user, authenticated only
    // when it needs no password.
    ctx.client.set_user(Bytes::from_static(b"default"));
    ctx.client.authenticated = ctx.state.acl.default_is_open();
    // Redis's clearClientConnectionState also drops the client name.
    ctx.client.info.name.lock().unwrap().clear();
    ctx.out.simple("RESET");
    Ok(())
}

fn auth(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        (b"default", &args[1])
    } else {
        (&args[1], &args[2])
    };
    if args.len() == 2 && ctx.state.acl.user(b"default").is_some_and(|u| u.nopass) {
        return Err(CmdError::fixed(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    authenticate(ctx, &args[0], user, pass)?;
    ctx.out.ok();
    Ok(())
}

/// Logs the connection in as `user` (Redis's ACLAuthenticateUser); a failure is logged
/// in ACL LOG (object: the command as typed, never the password) and answers WRONGPASS.
fn authenticate(ctx: &mut Ctx, command: &[u8], user: &[u8], pass: &[u8]) -> CmdResult {
    if ctx.state.acl.credentials_ok(user, pass) {
        ctx.client.authenticated = true;
        ctx.client.set_user(Bytes::copy_from_slice(user));
        return Ok(());
    }
    crate::server::commands::acl::log_denial(
        ctx,
        crate::server::acl::log::Reason::Auth,
        command,
        user,
    );
    Err(err::WRONGPASS)
}

fn hello(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut proto = ctx.client.proto;
    let mut i = 1;
    if args.len() >= 2 {
        let v = crate::server::numbers::parse_i64(&args[1]).ok_or(CmdError::fixed(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        proto = match v {
            2 => Proto::Resp2,
            3 => Proto::Resp3,
            _ => return Err(CmdError::fixed("NOPROTO unsupported protocol version")),
        };
        i = 2;
    }
    let mut name: Option<Bytes> = None;
    // As Redis's helloCommand: AUTH authenticates when the loop reaches it, so a wrong
    // password is reported before a later syntax error, and a right one stays in force.
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            authenticate(ctx, &args[0], &args[i + 1], &args[i + 2])?;
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::fixed(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        set_name(ctx, &n)?;
    }
    ctx.client.set_proto(proto);
    ctx.out.proto = proto;
    let replica = ctx.state.config.replicaof.is_some();
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::server::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(if proto == Proto::Resp3 { 3 } else { 2 });
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client.info.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(if replica { b"replica" } else { b"master" });
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = super::args::int_arg(&args[1], None)?;
    if n < 0 || n >= ctx.state.dbs.len() as i64 {
        return Err(err::DB_RANGE);
    }
    ctx.client.db = n as usize;
    ctx.client.info.db.store(n as usize, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if name.iter().any(|c| !(b'!'..=b'~').contains(c)) {
        return Err(CmdError::fixed(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *ctx.client.info.name.lock().unwrap() = name.to_vec();
    Ok(())
}

/// CLIENT ID.
fn client_id(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.client.info.id as i64);
    Ok(())
}

/// CLIENT SETNAME name.
fn client_setname(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_name(ctx, &args[2])?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETNAME: the name, or nil.
fn client_getname(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let name = ctx.client.info.name.lock().unwrap().clone();
    if name.is_empty() {
        ctx.out.null()
    } else {
        ctx.out.bulk(&name)
    }
    Ok(())
}

/// CLIENT INFO: this connection's CLIENT LIST line.
fn client_info(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let line = ctx.client.info.describe() + "\n";
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL].
fn client_pause(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = args.len();
    if n > 4 {
        return Err(subcommand_syntax_error(args));
    }
    let ms = arg_i64(&args[2])
        .map_err(|_| CmdError::fixed("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    let writes_only = if n == 4 {
        if is(&args[3], "write") {
            true
        } else if is(&args[3], "all") {
            false
        } else {
            return Err(CmdError::fixed(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ));
        }
    } else {
        false
    };
    let until_ms = ctx.now_ms + ms;
    // A second PAUSE can extend the pause or make it stricter, never relax it.
    let p = match ctx.state.pause {
        Some(old) => Pause {
            until_ms: until_ms.max(old.until_ms),
            writes_only: writes_only && old.writes_only,
        },
        None => Pause {
            until_ms,
            writes_only,
        },
    };
    ctx.state.pause = Some(p);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE.
fn client_unpause(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.state.pause = None;
    ctx.shared.unpaused.notify_waiters();
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF (accepted; clients are never evicted here).
fn client_no_evict(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if is(&args[2], "on") || is(&args[2], "off") {
        ctx.out.ok();
        Ok(())
    } else {
        Err(err::SYNTAX)
    }
}

/// CLIENT REPLY ON|OFF|SKIP.
fn client_reply(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if is(&args[2], "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if is(&args[2], "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(&args[2], "skip") {
        ctx.client.reply_mode = ReplyMode::Skip;
    } else {
        return Err(err::SYNTAX);
    }
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP].
fn client_tracking(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::server::tracking;
    let mut o = tracking::Options::default();
    let mut opts = Args::new(args, 3);
    while let Some(a) = opts.peek() {
        if let Some(id) = opts.keyword_value("redirect") {
            if o.redirect != 0 {
                return Err(CmdError::fixed(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = arg_i64(id)?;
            if id <= 0 || !ctx.state.clients.contains_key(&(id as u64)) {
                return Err(CmdError::fixed(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            o.redirect = id as u64;
        } else if let Some(p) = opts.keyword_value("prefix") {
            o.prefixes.push(p.to_vec());
        } else {
            opts.take();
            match () {
                _ if is(a, "bcast") => o.bcast = true,
                _ if is(a, "optin") => o.optin = true,
                _ if is(a, "optout") => o.optout = true,
                _ if is(a, "noloop") => o.noloop = true,
                _ => return Err(err::SYNTAX),
            }
        }
    }
    let id = ctx.client.info.id;
    if is(&args[2], "on") {
        tracking::check(ctx.state.tracking.get(id), &o).map_err(CmdError::msg)?;
        tracking::enable(ctx.state, id, o);
    } else if is(&args[2], "off") {
        tracking::disable(ctx.state, id);
    } else {
        return Err(err::SYNTAX);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN/OPTOUT).
fn client_caching(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let id = ctx.client.info.id;
    let Some(t) = ctx.state.tracking.get(id) else {
        return Err(CmdError::fixed(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(&args[2], "yes") {
        if !t.optin {
            return Err(CmdError::fixed(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(&args[2], "no") {
        if !t.optout {
            return Err(CmdError::fixed(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(err::SYNTAX);
    }
    crate::server::tracking::set_caching(ctx.state, id);
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the redirect id (0 for none) while tracking, -1 otherwise.
fn client_getredir(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let id = ctx.client.info.id;
    let r = ctx.state.tracking.get(id).map_or(-1, |t| t.redirect as i64);
    ctx.out.int(r);
    Ok(())
}

/// CLIENT TRACKINGINFO: flags (a set), redirect, prefixes, as Redis 7.0.
fn client_trackinginfo(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let id = ctx.client.info.id;
    let t = ctx.state.tracking.get(id);
    let mut flags: Vec<&str> = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = t {
        for (on, name) in [
            (t.bcast, "bcast"),
            (t.optin, "optin"),
            (t.optin && t.caching, "caching-yes"),
            (t.optout, "optout"),
            (t.optout && t.caching, "caching-no"),
            (t.noloop, "noloop"),
            (t.broken_redirect, "broken_redirect"),
        ] {
            if on {
                flags.push(name);
            }
        }
    }
    let redirect = t.map_or(-1, |t| t.redirect as i64);
    let prefixes: Vec<Vec<u8>> = t
        .map(|t| t.prefixes.iter().cloned().collect())
        .unwrap_or_default();
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(redirect);
    ctx.out.bulk(b"prefixes");
    ctx.out.array(prefixes.len());
    for p in prefixes {
        ctx.out.bulk(&p);
    }
    Ok(())
}

/// CLIENT HELP.
fn client_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: :1 when that client waited in a blocking
/// command and is now told to leave it, :0 otherwise.
fn client_unblock(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::server::client::{UNBLOCK_ERROR, UNBLOCK_TIMEOUT};
    if args.len() > 4 {
        // The table's arity (-3) let it through; Redis 7.0's handler then answers this.
        return Err(subcommand_syntax_error(args));
    }
    let how = match args.get(3) {
        None => UNBLOCK_TIMEOUT,
        Some(a) if is(a, "timeout") => UNBLOCK_TIMEOUT,
        Some(a) if is(a, "error") => UNBLOCK_ERROR,
        Some(_) => {
            return Err(CmdError::fixed(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    let id = arg_i64(&args[2])?;
    // A client is blocked while it is registered as waiting on keys (until its command
    // is served, times out or is unblocked).
    let blocked = id >= 0
        && ctx.state.blocked_on.iter().any(|b| b.0 == id as u64)
        && ctx
            .state
            .clients
            .get(&(id as u64))
            .is_some_and(|c| c.request_unblock(how));
    ctx.out.int(blocked as i64);
    Ok(())
}

/// CLIENT LIST [TYPE type | ID id...], parsed as Redis 7.0 does: TYPE only as the last two
/// arguments, ID with at least one id, anything else a syntax error; IDs are listed in the
/// order given, once per mention.
fn client_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut text = String::new();
    if args.len() == 4 && is(&args[2], "type") {
        let t = &args[3];
        if !["normal", "master", "replica", "slave", "pubsub"]
            .iter()
            .any(|k| is(t, k))
        {
            return Err(CmdError::msg(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(t)
            )));
        }
        for info in ctx.state.clients.values() {
            if is_type(info, t) {
                text.push_str(&info.describe());
                text.push('\n');
            }
        }
    } else if args.len() > 3 && is(&args[2], "id") {
        for a in &args[3..] {
            // Any integer is accepted (Redis: getLongLongFromObjectOrReply); 0 or a negative
            // id just matches no client.
            let id = arg_i64(a).map_err(|_| CmdError::fixed("ERR Invalid client ID"))?;
            if let Some(info) = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.state.clients.get(&id))
            {
                text.push_str(&info.describe());
                text.push('\n');
            }
        }
    } else if args.len() != 2 {
        return Err(err::SYNTAX);
    } else {
        for info in ctx.state.clients.values() {
            text.push_str(&info.describe());
            text.push('\n');
        }
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Whether `info` is of the CLIENT LIST/KILL TYPE `t` (`slave` is `replica`).
fn is_type(info: &crate::server::client::ClientInfo, t: &[u8]) -> bool {
    let t = if is(t, "slave") { &b"replica"[..] } else { t };
    is(t, info.type_name())
}

fn client_kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port.
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let target = ctx.state.clients.values().find(|c| c.addr == addr).cloned();
        return match target {
            Some(c) => {
                if c.id == ctx.client.info.id {
                    ctx.flow = Flow::Close;
                }
                c.kill();
                ctx.out.ok();
                Ok(())
            }
            None => Err(CmdError::fixed("ERR No such client")),
        };
    }
    if !args.len().is_multiple_of(2) {
        return Err(err::SYNTAX);
    }
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut skipme = true;
    let mut of_type: Option<&Bytes> = None;
    let mut user: Option<Bytes> = None;
    for pair in args[2..].chunks(2) {
        let (k, v) = (&pair[0], &pair[1]);
        if is(k, "id") {
            id = Some(
                arg_i64(v)
                    .ok()
                    .filter(|&x| x > 0)
                    .ok_or(CmdError::fixed("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(k, "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(err::SYNTAX);
            };
        } else if is(k, "type") {
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|t| is(v, t))
            {
                return Err(CmdError::msg(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
            of_type = Some(v);
        } else if is(k, "user") {
            if ctx.state.acl.user(v).is_none() {
                return Err(CmdError::msg(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
            user = Some(v.clone());
        } else if is(k, "maxage") {
            // single default user; no age filter support beyond matching everyone
        } else {
            return Err(err::SYNTAX);
        }
    }
    let me = ctx.client.info.id;
    let targets: Vec<_> = ctx
        .state
        .clients
        .values()
        .filter(|c| of_type.is_none_or(|t| is_type(c, t)))
        .filter(|c| id.is_none_or(|i| c.id == i))
        .filter(|c| addr.as_ref().is_none_or(|a| &c.addr == a))
        .filter(|c| laddr.as_ref().is_none_or(|a| &c.laddr == a))
        .filter(|c| user.as_ref().is_none_or(|u| *c.user.lock().unwrap() == *u))
        .filter(|c| !(skipme && c.id == me))
        .cloned()
        .collect();
    for c in &targets {
        if c.id == me {
            ctx.flow = Flow::Close;
        }
        c.kill();
    }
    ctx.out.int(targets.len() as i64);
    Ok(())
}
