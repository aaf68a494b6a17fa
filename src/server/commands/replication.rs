//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, REPLCONF, PSYNC, SYNC.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, Flow, NO_KEYS, Spec, arg_i64, err, is, spec};
use crate::notice;
use crate::server::replication::{LinkState, MasterState, failover, master, replica};
use bytes::Bytes;

/// The replication commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("replicaof", 3, ADMIN | STALE, NO_KEYS, replicaof),
        spec("slaveof", 3, ADMIN | STALE, NO_KEYS, replicaof),
        spec("role", 1, LOADING | STALE | FAST, NO_KEYS, role),
        spec("wait", 3, 0, NO_KEYS, wait),
        spec("replconf", -1, ADMIN | LOADING | STALE, NO_KEYS, replconf),
        spec("psync", -3, ADMIN | NO_MULTI, NO_KEYS, psync),
        spec("sync", 1, ADMIN | NO_MULTI, NO_KEYS, sync),
        spec("failover", -1, ADMIN | STALE, NO_KEYS, failover::command),
    ]
}

fn replicaof(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.state.repl.failover.is_some() {
        return Err(CmdError::fixed(
            "ERR REPLICAOF not allowed while failing over.",
        ));
    }
    let who = ctx.client.info.describe();
    if is(&args[1], "no") && is(&args[2], "one") {
        if ctx.state.config.replicaof.is_some() {
            replica::unset_master(ctx.state);
            notice!("MASTER MODE enabled (user request from '{who}')");
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = arg_i64(&args[2])?;
    if !(0..=65535).contains(&port) {
        return Err(CmdError::fixed("ERR Invalid master port"));
    }
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = port as u16;
    if ctx.state.config.replicaof.as_ref() == Some(&(host.clone(), port)) {
        notice!(
            "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
        );
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    replica::set_master(ctx.state, ctx.shared, host.clone(), port);
    notice!("REPLICAOF {host}:{port} enabled (user request from '{who}')");
    ctx.out.ok();
    Ok(())
}

fn role(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let st = &*ctx.state;
    let r = &st.repl;
    match &r.master {
        Some(m) if st.config.replicaof.is_some() => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(m.host.as_bytes());
            ctx.out.int(m.port as i64);
            let state: &[u8] = match m.state {
                MasterState::Connect => b"connect",
                MasterState::Connecting => b"connecting",
                MasterState::Transfer => b"sync",
                MasterState::Connected => b"connected",
            };
            ctx.out.bulk(state);
            ctx.out.int(if m.state == MasterState::Connected {
                r.offset
            } else {
                -1
            });
        }
        _ => {
            let online: Vec<(String, u16, i64)> = r
                .replicas
                .values()
                .filter(|l| l.state == LinkState::Online)
                .map(|l| (l.ip.clone(), l.listening_port, l.ack_offset))
                .collect();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(r.offset);
            ctx.out.array(online.len());
            for (ip, port, off) in online {
                ctx.out.array(3);
                ctx.out.bulk(ip.as_bytes());
                ctx.out.bulk(port.to_string().as_bytes());
                ctx.out.bulk(off.to_string().as_bytes());
            }
        }
    }
    Ok(())
}

/// WAIT numreplicas timeout: blocks until that many replicas acknowledged this client's
/// writes, or the timeout (ms, 0 = forever) passes; replies with how many did.
fn wait(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.state.config.replicaof.is_some() {
        return Err(CmdError::fixed(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let wanted = arg_i64(&args[1])?;
    let timeout = super::arg_i64(&args[2])
        .map_err(|_| CmdError::fixed("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    let target = ctx.client.woff;
    let acked = ctx
        .state
        .repl
        .replicas
        .values()
        .filter(|r| r.state == LinkState::Online && r.ack_offset >= target)
        .count() as i64;
    let first = ctx.client.blocked_until.is_none();
    let deadline = match ctx.client.blocked_until {
        Some(d) => d,
        None if timeout == 0 => i64::MAX,
        None => ctx.now_ms.saturating_add(timeout),
    };
    // CLIENT UNBLOCK: TIMEOUT answers the count so far, ERROR with Redis's UNBLOCKED error.
    let unblock = ctx.client.info.unblock.swap(
        crate::server::client::UNBLOCK_NONE,
        std::sync::atomic::Ordering::SeqCst,
    );
    if unblock == crate::server::client::UNBLOCK_ERROR {
        return Err(CmdError::fixed(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
        ));
    }
    if acked >= wanted
        || ctx.in_exec
        || ctx.now_ms >= deadline
        || unblock == crate::server::client::UNBLOCK_TIMEOUT
    {
        ctx.out.int(acked);
        return Ok(());
    }
    if first {
        master::request_acks(ctx.state);
    }
    // Registered as blocked (on no key), so CLIENT UNBLOCK finds it.
    let (id, db) = (ctx.client.info.id, ctx.client.db);
    if !ctx.state.blocked_on.iter().any(|b| b.0 == id) {
        ctx.state.blocked_on.push((id, db, Vec::new()));
    }
    ctx.client.blocked_until = Some(deadline);
    ctx.flow = Flow::Blocked(deadline);
    Ok(())
}

fn replconf(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(err::SYNTAX);
    }
    for pair in args[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") {
            let port = arg_i64(val)?;
            ctx.client.repl_listening_port = port.clamp(0, 65535) as u16;
        } else if is(opt, "ip-address") {
            ctx.client.repl_ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "capa") {
            if is(val, "eof") {
                ctx.client.repl_capa_eof = true;
            } else if is(val, "psync2") {
                ctx.client.repl_capa_psync2 = true;
            }
        } else if is(opt, "ack") || is(opt, "fack") {
            // ACKs from attached replicas are read by their stream task; elsewhere they
            // are ignored without a reply, as in Redis.
            return Ok(());
        } else if is(opt, "getack") {
            if ctx.client.is_master {
                ctx.client.ack_requested = true;
            }
            return Ok(());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn psync(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    master::sync_command(ctx, args, false)
}

fn sync(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    master::sync_command(ctx, args, true)
}
