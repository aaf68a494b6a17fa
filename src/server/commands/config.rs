//! CONFIG GET, SET, REWRITE, RESETSTAT and HELP. The directive logic lives in
//! `crate::config` (table, access, rewrite); this file adds the wire and the side effects
//! of a change (logging target, ...). Values of sensitive directives never reach a log line.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, container, spec};
use crate::config::{access, rewrite};
use bytes::Bytes;

/// The CONFIG command.
pub fn specs() -> Vec<Spec> {
    const ADMIN_: u32 = ADMIN | LOADING | STALE;
    vec![spec("config", -2, 0, NO_KEYS, container).subcommands(vec![
        spec("config|get", -3, ADMIN_, NO_KEYS, config_get),
        spec("config|set", -4, ADMIN_, NO_KEYS, config_set),
        spec("config|rewrite", 2, ADMIN_, NO_KEYS, config_rewrite),
        spec("config|resetstat", 2, ADMIN_, NO_KEYS, config_resetstat),
        spec("config|help", 2, LOADING | STALE, NO_KEYS, config_help),
    ])]
}

/// CONFIG GET pattern [pattern ...].
fn config_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let patterns: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let found = access::get(&ctx.state.config, &patterns);
    ctx.out.map(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET directive value [directive value ...]: all or nothing.
fn config_set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        // A directive without its value (the table's arity checked the minimum).
        return Err(super::err::SYNTAX);
    }
    let pairs: Vec<(String, String)> = args[2..]
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    let allow_protected = ctx
        .state
        .config
        .enable_protected_configs
        .allows(ctx.client.is_local);
    let (mut next, names) = access::set(&ctx.state.config, &pairs, allow_protected)
        .map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    // The TLS contexts are rebuilt from the new files before anything changes; a file that
    // cannot be used fails the whole CONFIG SET and keeps the old contexts (Redis's text).
    let tls = crate::server::tls::reconfigure(&next, &names).map_err(CmdError::msg)?;
    // New listening sockets (port, tls-port, bind) are opened before anything changes;
    // the old ones close only when the whole CONFIG SET succeeded (a new bind closes them
    // first, and opens them again if the CONFIG SET fails).
    let listeners = crate::server::listeners::reopen(ctx.shared, &ctx.state.config, &next, &names)
        .map_err(CmdError::msg)?;
    if names.contains(&"dir") && next.dir != ctx.state.config.dir {
        // Redis changes its working directory (the RDB file is relative to it); this is
        // the last check, so a failure still leaves the configuration untouched.
        let arg = pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("dir"))
            .map(|p| p.0.clone());
        std::env::set_current_dir(&next.dir).map_err(|e| {
            let reason = e.to_string();
            let reason = reason
                .split(" (os error")
                .next()
                .unwrap_or(&reason)
                .to_string();
            CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {reason}",
                arg.unwrap_or_default()
            ))
        })?;
        if let Ok(cwd) = std::env::current_dir() {
            next.dir = cwd.display().to_string();
        }
    }
    let aof_was = ctx.state.config.appendonly;
    ctx.state.config = next;
    crate::server::db::access::configure(&ctx.state.config);
    if let Some(contexts) = tls {
        crate::server::tls::install(contexts);
    }
    listeners.install(ctx.shared);
    if names.contains(&"requirepass") {
        // requirepass is the default user's password (Redis's ACLUpdateDefaultUserPassword).
        let pass = ctx.state.config.requirepass.clone();
        ctx.state.acl.set_default_password(pass.as_deref());
    }
    ctx.state.acl.pubsub_all = ctx.state.config.acl_pubsub_all;
    if ctx.state.config.appendonly != aof_was
        && let Err(e) = crate::server::aof::config_changed(ctx.state)
    {
        ctx.state.config.appendonly = aof_was;
        return Err(CmdError::msg(format!(
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
        )));
    }
    if names.contains(&"repl-backlog-size") {
        // At once, as Redis's resizeReplicationBacklog (INFO shows the new size).
        let size = ctx.state.config.repl_backlog_size;
        ctx.state.repl.resize_backlog(size);
    }
    if names.iter().any(|n| *n == "loglevel" || *n == "logfile") {
        crate::server::log::configure(ctx.state.config.loglevel, &ctx.state.config.logfile);
    }
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE: the configuration file rewritten in place.
fn config_rewrite(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let Some(path) = ctx.state.config_file.clone() else {
        return Err(CmdError::fixed(
            "ERR The server is running without a config file",
        ));
    };
    // `user` lines come from the live users (Redis's rewriteConfigUserOption); none when
    // an aclfile holds them.
    let mut config = ctx.state.config.clone();
    config.users = match config.aclfile {
        Some(_) => Vec::new(),
        None => crate::server::acl::file::config_lines(ctx.state.acl.users()),
    };
    match rewrite::rewrite_file(&path, &config) {
        Ok(()) => {
            crate::notice!("CONFIG REWRITE executed with success.");
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            crate::warning!("CONFIG REWRITE failed: {e}");
            Err(CmdError::msg(format!("ERR Rewriting config file: {e}")))
        }
    }
}

/// CONFIG RESETSTAT.
fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.state.stats = Default::default();
    ctx.out.ok();
    Ok(())
}

/// CONFIG HELP.
fn config_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}
