//! DUMP and RESTORE with Redis 7.0's payload format: the serialized value, the RDB version
//! (2 bytes, little-endian) and a CRC64 of both (8 bytes, little-endian), so a payload from
//! redis-server restores here and the other way round.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, arg_i64, err, is, spec};
use crate::server::notify::{GENERIC, notify};
use crate::server::rdb::{RDB_VERSION, reader, writer};
use bytes::Bytes;

/// DUMP and RESTORE.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("dump", 2, READONLY, KEY1, dump),
        spec("restore", -4, WRITE | DENYOOM, KEY1, restore),
        // Without cluster mode, RESTORE-ASKING is RESTORE.
        spec("restore-asking", -4, WRITE | DENYOOM, KEY1, restore),
    ]
}

fn dump(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let compress = ctx.state.config.rdbcompression;
    let Some(v) = ctx.lookup_read(&args[1]) else {
        ctx.out.null();
        return Ok(());
    };
    let payload = payload(v, compress);
    ctx.out.bulk(&payload);
    Ok(())
}

/// DUMP's payload for a value: its RDB encoding, the RDB version and a CRC64 (also what
/// MIGRATE sends to RESTORE, and the AOF rewrite's RESTORE arguments).
pub fn payload(v: &crate::server::types::Value, compress: bool) -> Vec<u8> {
    let mut payload = writer::encode_value(v, compress);
    payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload
}

const BAD_PAYLOAD: CmdError = CmdError::fixed("ERR DUMP payload version or checksum are wrong");

fn restore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let payload = &args[3];
    // Redis's restoreCommand order: the options (IDLETIME and FREQ exclude each other), then
    // BUSYKEY, then the TTL, then the payload.
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "absttl") {
            absttl = true;
        } else if is(&args[i], "idletime") && more && freq.is_none() {
            let secs = arg_i64(&args[i + 1])?;
            if secs < 0 {
                return Err(CmdError::fixed("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(secs as u64);
            i += 1;
        } else if is(&args[i], "freq") && more && idle.is_none() {
            let f = arg_i64(&args[i + 1])?;
            if !(0..=255).contains(&f) {
                return Err(CmdError::fixed(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(f as u8);
            i += 1;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if !replace && ctx.exists(key) {
        return Err(CmdError::fixed("BUSYKEY Target key name already exists."));
    }
    let mut ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return Err(CmdError::fixed("ERR Invalid TTL value, must be >= 0"));
    }
    if payload.len() < 10 {
        return Err(BAD_PAYLOAD);
    }
    let footer = &payload[payload.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().unwrap());
    if version > RDB_VERSION || crc64::crc64(0, &payload[..payload.len() - 8]) != crc {
        return Err(BAD_PAYLOAD);
    }
    // As Redis, the value is read from the whole payload: a value that claims more bytes than
    // the body reads into the footer (and the bytes after the value are ignored).
    let value =
        reader::decode_value(payload).map_err(|_| CmdError::fixed("ERR Bad data format"))?;
    if ttl > 0 && !absttl {
        // Redis's `ttl += mstime()` wraps near i64::MAX: the key is then already expired.
        ttl = ttl.wrapping_add(ctx.now_ms);
    }
    if ttl != 0 && ttl <= ctx.now_ms {
        // Already expired: like Redis, the key is (re)moved and nothing is stored.
        if ctx.db().remove(key).is_some() {
            ctx.state.dirty += 1;
            ctx.propagate_instead(&[b"DEL".as_slice(), key]);
            notify(ctx, GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let db = ctx.db();
    // REPLACE deletes the old value, then the key is added (`new`), as in Redis.
    db.remove(key);
    db.set(key, value, false);
    db.set_access(key, crate::server::db::access::loaded_field(freq, idle));
    if ttl > 0 {
        db.set_expire(key, ttl);
        if !absttl {
            // Replicas get the absolute time (RESTORE ... <unix ms> ... ABSTTL), as in Redis.
            let mut rewritten: Vec<Bytes> = args.to_vec();
            rewritten[2] = Bytes::from(ttl.to_string());
            rewritten.push(Bytes::from_static(b"ABSTTL"));
            ctx.propagate_instead(&rewritten);
        }
    }
    ctx.state.dirty += 1;
    notify(ctx, GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
