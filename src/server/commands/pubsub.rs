//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB and its
//! subcommands, and MONITOR. The registry and delivery are in [`crate::server::pubsub`].

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, NO_KEYS, Spec, container, spec};
use crate::server::pubsub::{Kind, Publisher};
use bytes::Bytes;

/// The Pub/Sub commands and MONITOR.
pub fn specs() -> Vec<Spec> {
    const SUB: u32 = LOADING | STALE;
    vec![
        spec("subscribe", -2, SUB, NO_KEYS, subscribe),
        spec("unsubscribe", -1, SUB, NO_KEYS, unsubscribe),
        spec("psubscribe", -2, SUB, NO_KEYS, psubscribe),
        spec("punsubscribe", -1, SUB, NO_KEYS, punsubscribe),
        spec("ssubscribe", -2, SUB, (1, -1, 1), ssubscribe),
        spec("sunsubscribe", -1, SUB, (1, -1, 1), sunsubscribe),
        spec("publish", 3, SUB | FAST, NO_KEYS, publish),
        spec("spublish", 3, SUB | FAST, KEY1, spublish),
        spec("monitor", 1, ADMIN | SUB, NO_KEYS, monitor),
        spec("pubsub", -2, 0, NO_KEYS, container).subcommands(vec![
            spec("pubsub|channels", -2, SUB, NO_KEYS, pubsub_channels),
            spec("pubsub|numsub", -2, SUB, NO_KEYS, pubsub_numsub),
            spec("pubsub|numpat", 2, SUB, NO_KEYS, pubsub_numpat),
            spec(
                "pubsub|shardchannels",
                -2,
                SUB,
                NO_KEYS,
                pubsub_shardchannels,
            ),
            spec("pubsub|shardnumsub", -2, SUB, NO_KEYS, pubsub_shardnumsub),
            spec("pubsub|help", 2, SUB, NO_KEYS, pubsub_help),
        ]),
    ]
}

fn subscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.state
        .pubsub
        .subscribe(ctx.client, ctx.out, Kind::Channel, &args[1..]);
    Ok(())
}

fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.state
        .pubsub
        .subscribe(ctx.client, ctx.out, Kind::Pattern, &args[1..]);
    Ok(())
}

fn ssubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.in_exec {
        // EXEC marks the client "deny blocking": it expects one reply per command.
        return Err(CmdError::fixed(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    ctx.state
        .pubsub
        .subscribe(ctx.client, ctx.out, Kind::Shard, &args[1..]);
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.state
        .pubsub
        .unsubscribe(ctx.client, ctx.out, Kind::Channel, &args[1..]);
    Ok(())
}

fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.state
        .pubsub
        .unsubscribe(ctx.client, ctx.out, Kind::Pattern, &args[1..]);
    Ok(())
}

fn sunsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.state
        .pubsub
        .unsubscribe(ctx.client, ctx.out, Kind::Shard, &args[1..]);
    Ok(())
}

/// Delivers `message` on `channel` to its subscribers; returns how many received it.
pub fn publish_message(ctx: &mut Ctx, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
    let mut from = Publisher::new(ctx.client.info.id, Some(ctx.out), &ctx.state.config);
    ctx.state.pubsub.publish(kind, channel, message, &mut from)
}

/// PUBLISH and SPUBLISH: deliver, then reach replicas (Redis forces their propagation,
/// although they change no data). A replica propagates nothing of its own: its replicas
/// get its master's stream, PUBLISH included.
fn publish_command(ctx: &mut Ctx, kind: Kind, args: &[Bytes]) -> CmdResult {
    let n = publish_message(ctx, kind, &args[1], &args[2]);
    if !ctx.client.is_master && ctx.state.config.replicaof.is_none() {
        let db = ctx.client.db;
        ctx.state.propagate_to_replicas(db, args);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn publish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    publish_command(ctx, Kind::Channel, args)
}

fn spublish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    publish_command(ctx, Kind::Shard, args)
}

fn monitor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.in_exec {
        return Err(CmdError::fixed(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if ctx
        .client
        .info
        .monitor
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        // Redis ignores a second MONITOR, without a reply.
        return Ok(());
    }
    let info = ctx.client.info.clone();
    ctx.state.pubsub.set_monitor(&info, true);
    ctx.out.ok();
    Ok(())
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
fn list_channels(ctx: &mut Ctx, kind: Kind, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(super::subcommand_syntax_error(args));
    }
    let pattern = args.get(2);
    let names: Vec<&Bytes> = ctx
        .state
        .pubsub
        .names(kind)
        .filter(|n| pattern.is_none_or(|p| crate::server::glob::glob_match(p, n, false)))
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n);
    }
    Ok(())
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: channel, count pairs.
fn count_subscribers(ctx: &mut Ctx, kind: Kind, args: &[Bytes]) -> CmdResult {
    ctx.out.array((args.len() - 2) * 2);
    for ch in &args[2..] {
        ctx.out.bulk(ch);
        let n = ctx.state.pubsub.subscribers(kind, ch);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    list_channels(ctx, Kind::Channel, args)
}

fn pubsub_shardchannels(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    list_channels(ctx, Kind::Shard, args)
}

fn pubsub_numsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    count_subscribers(ctx, Kind::Channel, args)
}

fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    count_subscribers(ctx, Kind::Shard, args)
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.state.pubsub.count(Kind::Pattern);
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
