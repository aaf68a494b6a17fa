//! ACL and its subcommands (SETUSER, GETUSER, DELUSER, USERS, LIST, WHOAMI, CAT, GENPASS,
//! LOG, LOAD, SAVE, DRYRUN, HELP), the permission check processCommand runs
//! ([`permission`]), and ACL LOG entries for refusals ([`log_denial`]).

use super::args::Args;
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, Flow, NO_KEYS, Spec, container, spec};
use crate::server::acl::catalog::{CATEGORIES, catalog, category};
use crate::server::acl::log::{Context, Entry, Reason};
use crate::server::acl::user::merge_selectors;
use crate::server::acl::{self, DEFAULT, Denial, User, file, has_spaces};
use bytes::Bytes;

/// ACL and its subcommands, with Redis 7.0's arities and flags.
pub fn specs() -> Vec<Spec> {
    const USER: u32 = LOADING | STALE;
    const ADMIN_: u32 = ADMIN | LOADING | STALE;
    vec![spec("acl", -2, 0, NO_KEYS, container).subcommands(vec![
        spec("acl|cat", -2, USER, NO_KEYS, acl_cat),
        spec("acl|deluser", -3, ADMIN_, NO_KEYS, acl_deluser),
        spec("acl|dryrun", -4, ADMIN_, NO_KEYS, acl_dryrun),
        spec("acl|genpass", -2, USER, NO_KEYS, acl_genpass),
        spec("acl|getuser", 3, ADMIN_, NO_KEYS, acl_getuser),
        spec("acl|help", 2, USER, NO_KEYS, acl_help),
        spec("acl|list", 2, ADMIN_, NO_KEYS, acl_list),
        spec("acl|load", 2, ADMIN_, NO_KEYS, acl_load),
        spec("acl|log", -2, ADMIN_, NO_KEYS, acl_log),
        spec("acl|save", 2, ADMIN_, NO_KEYS, acl_save),
        spec("acl|setuser", -3, ADMIN_, NO_KEYS, acl_setuser),
        spec("acl|users", 2, ADMIN_, NO_KEYS, acl_users),
        spec("acl|whoami", 2, USER, NO_KEYS, acl_whoami),
    ])]
}

/// The ACL part of processCommand (Redis's ACLCheckAllPerm): None when the client's
/// user may run `args` as `cmd`, else the NOPERM error, logged in ACL LOG.
pub fn permission(ctx: &mut Ctx, cmd: &Spec, args: &[Bytes]) -> Option<CmdError> {
    ctx.state
        .acl
        .refresh(&mut ctx.client.acl_user, &ctx.client.user);
    let denial = check_spec(ctx, cmd, args)?;
    let context = if ctx.client.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    log_refusal(ctx, denial, context, cmd.name, args);
    Some(CmdError::msg(denial.noperm(cmd.name)))
}

/// Checks `args` (command `name`) against the client's user; None when allowed. Our
/// master's stream is never checked (Redis's master client has no user).
pub fn check(ctx: &Ctx, name: &str, args: &[Bytes]) -> Option<Denial> {
    check_id(ctx, || acl::catalog::catalog().id_of(name), args)
}

/// [`check`] for a command of the table: its catalog id comes from its dense index.
pub fn check_spec(ctx: &Ctx, cmd: &Spec, args: &[Bytes]) -> Option<Denial> {
    check_id(ctx, || acl::catalog::id_of_spec(cmd), args)
}

/// One user lookup per command: a user allowed everything costs that and a flag test;
/// the command's catalog id is only looked for when the user is restricted.
fn check_id(ctx: &Ctx, id: impl FnOnce() -> Option<usize>, args: &[Bytes]) -> Option<Denial> {
    if ctx.client.is_master {
        return None;
    }
    ctx.state
        .acl
        .check_cached(&ctx.client.acl_user, &ctx.client.user, id, args)
        .err()
}

/// Logs a refused command, key or channel of the client's user.
pub fn log_refusal(ctx: &mut Ctx, d: Denial, context: Context, name: &str, args: &[Bytes]) {
    let object = match d.reason {
        acl::Denied::Command => name.as_bytes().to_vec(),
        _ => args.get(d.index).map(|a| a.to_vec()).unwrap_or_default(),
    };
    let user = ctx.client.user.to_vec();
    add_entry(ctx, Reason::from(d.reason), context, object, user);
}

/// Logs a refusal of kind `reason` about `object` for `username` (a failed AUTH names
/// the command as typed and the user tried, never the password).
pub fn log_denial(ctx: &mut Ctx, reason: Reason, object: &[u8], username: &[u8]) {
    let context = if ctx.client.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    add_entry(ctx, reason, context, object.to_vec(), username.to_vec());
}

fn add_entry(ctx: &mut Ctx, reason: Reason, context: Context, object: Vec<u8>, username: Vec<u8>) {
    let entry = Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime_ms: crate::server::clock::now_ms(),
        client_info: ctx.client.info.describe(),
    };
    let max = usize::try_from(ctx.state.config.acllog_max_len).unwrap_or(usize::MAX);
    ctx.state.acl.log.add(entry, max);
}

/// Closes every connection logged in as `name` (a deleted user); the calling one after
/// its reply, the others at once.
fn kill_clients_of(ctx: &mut Ctx, name: &[u8]) {
    let me = ctx.client.info.id;
    for c in ctx.state.clients.values() {
        if *c.user.lock().unwrap() != name {
            continue;
        }
        if c.id == me {
            ctx.flow = Flow::Close;
        } else {
            c.kill();
        }
    }
}

fn acl_setuser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let name = &args[2];
    if has_spaces(name) {
        return Err(CmdError::fixed(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let rules = merge_selectors(&args[3..]).map_err(|i| {
        CmdError::msg(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&args[i + 3])
        ))
    })?;
    let pubsub_all = ctx.state.acl.pubsub_all;
    let mut user = ctx
        .state
        .acl
        .user(name)
        .cloned()
        .unwrap_or_else(|| User::new(pubsub_all));
    for r in &rules {
        user.apply(r, pubsub_all).map_err(|e| {
            CmdError::msg(format!(
                "ERR Error in ACL SETUSER modifier '{}': {e}",
                String::from_utf8_lossy(r)
            ))
        })?;
    }
    // Subscribers of the user on channels it no longer allows are closed, as Redis 7.0.
    if ctx.state.acl.user(name).is_some() {
        let me = ctx.client.info.id;
        for c in crate::server::acl::subscribers_to_close(&user, name, &ctx.state.pubsub) {
            if c.id == me {
                ctx.flow = Flow::Close;
            } else {
                c.kill();
            }
        }
    }
    ctx.state.acl.put(name.clone(), user);
    ctx.out.ok();
    Ok(())
}

fn acl_deluser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args[2..].iter().any(|u| u.as_ref() == DEFAULT) {
        return Err(CmdError::fixed("ERR The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for name in &args[2..] {
        if ctx.state.acl.remove(name) {
            kill_clients_of(ctx, name);
            deleted += 1;
        }
    }
    ctx.out.int(deleted);
    Ok(())
}

/// One selector's `commands`, `keys` and `channels` fields.
fn reply_selector(ctx: &mut Ctx, s: &acl::selector::Selector) {
    ctx.out.bulk(b"commands");
    ctx.out.bulk(s.describe_commands().as_bytes());
    ctx.out.bulk(b"keys");
    ctx.out.bulk(&s.describe_keys());
    ctx.out.bulk(b"channels");
    ctx.out.bulk(&s.describe_channels());
}

fn acl_getuser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(u) = ctx.state.acl.user(&args[2]).cloned() else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.map(6);
    ctx.out.bulk(b"flags");
    let flags = u.flags();
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"passwords");
    ctx.out.array(u.passwords.len());
    for p in &u.passwords {
        ctx.out.bulk(p.as_bytes());
    }
    reply_selector(ctx, u.root());
    ctx.out.bulk(b"selectors");
    ctx.out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        ctx.out.map(3);
        reply_selector(ctx, s);
    }
    Ok(())
}

/// `user <name> <rules>` for every user, as ACL LIST and the ACL file have them.
fn user_lines(ctx: &Ctx) -> Vec<Vec<u8>> {
    file::render(ctx.state.acl.users())
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn acl_list(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let lines = user_lines(ctx);
    ctx.out.array(lines.len());
    for l in &lines {
        ctx.out.bulk(l);
    }
    Ok(())
}

fn acl_users(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let names: Vec<Bytes> = ctx.state.acl.users().map(|(n, _)| n.clone()).collect();
    ctx.out.array(names.len());
    for n in &names {
        ctx.out.bulk(n);
    }
    Ok(())
}

fn acl_whoami(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let user = ctx.client.user.clone();
    ctx.out.bulk(&user);
    Ok(())
}

/// The ACL file, or Redis's error when none is configured.
fn aclfile(ctx: &Ctx) -> Result<String, CmdError> {
    ctx.state
        .config
        .aclfile
        .clone()
        .filter(|f| !f.is_empty())
        .ok_or(CmdError::fixed(
            "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
        ))
}

fn acl_load(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx)?;
    let users = file::load(&path, ctx.state.acl.pubsub_all)
        .map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    // Every user but `default` is replaced by a new one: their clients are closed, as
    // Redis frees the old users.
    let old: Vec<Bytes> = ctx
        .state
        .acl
        .users()
        .map(|(n, _)| n.clone())
        .filter(|n| n.as_ref() != DEFAULT)
        .collect();
    ctx.state.acl.replace_all(users);
    for name in &old {
        kill_clients_of(ctx, name);
    }
    ctx.out.ok();
    Ok(())
}

fn acl_save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx)?;
    let text = file::render(ctx.state.acl.users());
    if let Err(e) = file::save(&path, &text) {
        crate::warning!("Writing ACL file for ACL SAVE: {e}");
        return Err(CmdError::fixed(
            "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    ctx.out.ok();
    Ok(())
}

fn acl_cat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut a = Args::new(args, 2);
    let Some(name) = a.take() else {
        ctx.out.array(CATEGORIES.len());
        for c in CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    };
    if !a.is_done() {
        return Err(super::subcommand_syntax_error(args));
    }
    let Some(flag) = category(name) else {
        let shown = String::from_utf8_lossy(&name[..name.len().min(128)]).into_owned();
        return Err(CmdError::msg(format!("ERR Unknown category '{shown}'")));
    };
    let names: Vec<&str> = catalog()
        .commands
        .iter()
        .filter(|c| c.categories & flag != 0)
        .map(|c| c.name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn acl_genpass(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut a = Args::new(args, 2);
    let bits = if a.is_done() { 256 } else { a.next_i64()? };
    if !a.is_done() {
        return Err(super::subcommand_syntax_error(args));
    }
    if !(1..=4096).contains(&bits) {
        return Err(CmdError::fixed(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        ));
    }
    let chars = ((bits + 3) / 4) as usize;
    let (hex, _) = crate::sysrand::hex_or_fallback(chars);
    ctx.out.bulk(hex.as_bytes());
    Ok(())
}

fn acl_log(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut a = Args::new(args, 2);
    let mut count = 10i64;
    if let Some(arg) = a.take() {
        if super::is(arg, "reset") {
            ctx.state.acl.log.reset();
            ctx.out.ok();
            return Ok(());
        }
        count = super::arg_i64(arg)?.max(0);
    }
    if !a.is_done() {
        return Err(super::subcommand_syntax_error(args));
    }
    let now = crate::server::clock::now_ms();
    let entries: Vec<Entry> = ctx
        .state
        .acl
        .log
        .entries()
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    ctx.out.array(entries.len());
    for e in &entries {
        ctx.out.map(7);
        ctx.out.bulk(b"count");
        ctx.out.int(e.count as i64);
        ctx.out.bulk(b"reason");
        ctx.out.bulk(e.reason.name().as_bytes());
        ctx.out.bulk(b"context");
        ctx.out.bulk(e.context.name().as_bytes());
        ctx.out.bulk(b"object");
        ctx.out.bulk(&e.object);
        ctx.out.bulk(b"username");
        ctx.out.bulk(&e.username);
        ctx.out.bulk(b"age-seconds");
        ctx.out.double((now - e.ctime_ms) as f64 / 1000.0);
        ctx.out.bulk(b"client-info");
        ctx.out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

fn acl_dryrun(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let name = &args[2];
    if ctx.state.acl.user(name).is_none() {
        return Err(CmdError::msg(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(name)
        )));
    }
    let request = &args[3..];
    let Some(cmd) = dryrun_command(request) else {
        return Err(CmdError::msg(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&request[0])
        )));
    };
    let n = request.len() as i64;
    if (cmd.arity > 0 && n != cmd.arity) || n < -cmd.arity {
        return Err(super::arity_error(cmd.name));
    }
    let argv: Vec<&[u8]> = request.iter().map(|a| a.as_ref()).collect();
    match ctx.state.acl.check(name, cmd.name, &argv) {
        Ok(()) => ctx.out.ok(),
        Err(d) => {
            let text = match d.reason {
                acl::Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    cmd.name
                ),
                acl::Denied::Key => format!(
                    "This user has no permissions to access the '{}' key",
                    String::from_utf8_lossy(&request[d.index])
                ),
                acl::Denied::Channel => format!(
                    "This user has no permissions to access the '{}' channel",
                    String::from_utf8_lossy(&request[d.index])
                ),
            };
            ctx.out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

/// The command a DRYRUN request names: a Redis 7.0 command (implemented or not), or its
/// subcommand.
fn dryrun_command(request: &[Bytes]) -> Option<DryrunCmd> {
    if let Some(spec) = super::resolve(request) {
        return Some(DryrunCmd {
            name: spec.name,
            arity: i64::from(spec.arity),
        });
    }
    let cat = catalog();
    let base = cat.lookup(&request[0])?;
    if super::rename::is_gone(base.name) {
        return None;
    }
    let c = match (request.get(1), base.subs.is_empty()) {
        (Some(sub), false) => {
            let full = [base.name.as_bytes(), b"|", sub].concat();
            cat.lookup(&full)?
        }
        _ => base,
    };
    let m = super::meta::get(c.name)?;
    Some(DryrunCmd {
        name: c.name,
        arity: m.arity,
    })
}

struct DryrunCmd {
    name: &'static str,
    arity: i64,
}

fn acl_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
