//! Geo commands on sorted sets whose scores are 52-bit geohashes (Redis's geo.c):
//! GEOADD (NX, XX, CH; propagated as the ZADD it performs), GEOPOS, GEODIST, GEOHASH.
//! The geohash math is in `geo/hash.rs`.

mod hash;

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, err, is, spec};
use crate::server::longdouble::{self, Ld};
use crate::server::types::{Value, ZSet};
use bytes::Bytes;

/// The geo commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("geoadd", -5, WRITE | DENYOOM, KEY1, geoadd),
        spec("geopos", -2, READONLY, KEY1, geopos),
        spec("geodist", -4, READONLY, KEY1, geodist),
        spec("geohash", -2, READONLY, KEY1, geohash),
    ]
}

/// The sorted set under `key` for reading (None when absent), WRONGTYPE otherwise.
fn read_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ZSet>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// A longitude/latitude pair (extractLongLatOrReply).
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = super::args::double(lon).ok_or(err::NOT_FLOAT)?;
    let lat = super::args::double(lat).ok_or(err::NOT_FLOAT)?;
    if !hash::valid(lon, lat) {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

fn geoadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut first = 2;
    while first < args.len() {
        let a = &args[first];
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else {
            break;
        }
        first += 1;
    }
    if !(args.len() - first).is_multiple_of(3) || (nx && xx) {
        return Err(err::SYNTAX);
    }
    let mut points = Vec::with_capacity((args.len() - first) / 3);
    for t in args[first..].chunks(3) {
        let (lon, lat) = lon_lat(&t[0], &t[1])?;
        points.push((hash::score(lon, lat) as f64, &t[2]));
    }
    let (max_e, max_v) = (
        ctx.state.config.zset_max_listpack_entries,
        ctx.state.config.zset_max_listpack_value,
    );
    let exists = match ctx.lookup_write(key) {
        None => false,
        Some(Value::ZSet(_)) => true,
        Some(_) => return Err(err::WRONGTYPE),
    };
    let (mut added, mut updated) = (0i64, 0i64);
    if exists || !xx {
        if !exists {
            let mut z = ZSet::default();
            let maxlen = points.iter().map(|p| p.1.len()).max().unwrap_or(0);
            z.skiplist = points.len() as i64 > max_e || maxlen as i64 > max_v;
            ctx.db().set(key, Value::ZSet(Box::new(z)), false);
        }
        let Some(Value::ZSet(z)) = ctx.db().get_mut(key) else {
            unreachable!("the sorted set was just looked up or created")
        };
        for (score, member) in &points {
            match z.score(member) {
                Some(_) if nx => {}
                Some(cur) => {
                    if *score != cur {
                        z.insert(member, *score);
                        updated += 1;
                    }
                }
                None if xx => {}
                None => {
                    z.insert(member, *score);
                    z.maybe_convert(max_e, member.len(), max_v);
                    added += 1;
                }
            }
        }
        if z.is_empty() {
            ctx.db().remove(key);
        }
        if added + updated > 0 {
            ctx.modified(key, (added + updated) as u64);
        }
    }
    // Replicas get the ZADD Redis runs in its place.
    let mut zadd: Vec<Vec<u8>> = vec![b"ZADD".to_vec()];
    zadd.extend(args[1..first].iter().map(|a| a.to_vec()));
    for (score, member) in &points {
        zadd.push((*score as u64).to_string().into_bytes());
        zadd.push(member.to_vec());
    }
    ctx.propagate_instead(&zadd);
    ctx.out.int(if ch { added + updated } else { added });
    Ok(())
}

fn geopos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = match read_zset(ctx, &args[1])? {
        Some(z) => args[2..].iter().map(|m| z.score(m)).collect(),
        None => vec![None; args.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => {
                let (lon, lat) = hash::decode(s);
                ctx.out.array(2);
                ctx.out.bulk(human(lon).as_bytes());
                ctx.out.bulk(human(lat).as_bytes());
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// A coordinate as Redis's addReplyHumanLongDouble writes it: `%.17Lf` of the exact
/// value, trailing zeros removed.
fn human(d: f64) -> String {
    let bits = d.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    };
    let neg = bits >> 63 == 1;
    longdouble::format_human(Ld::Finite { neg, m, e }).unwrap_or_default()
}

/// Meters per unit (extractUnitOrReply).
fn unit(a: &[u8]) -> Result<f64, CmdError> {
    Ok(if is(a, "m") {
        1.0
    } else if is(a, "km") {
        1000.0
    } else if is(a, "ft") {
        0.3048
    } else if is(a, "mi") {
        1609.34
    } else {
        return Err(CmdError::fixed(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ));
    })
}

fn geodist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let to_meter = match args.len() {
        4 => 1.0,
        5 => unit(&args[4])?,
        _ => return Err(err::SYNTAX),
    };
    let pair = match read_zset(ctx, &args[1])? {
        Some(z) => z.score(&args[2]).zip(z.score(&args[3])),
        None => None,
    };
    match pair {
        Some((a, b)) => {
            let (lon1, lat1) = hash::decode(a);
            let (lon2, lat2) = hash::decode(b);
            let d = hash::distance(lon1, lat1, lon2, lat2) / to_meter;
            ctx.out.bulk(format!("{d:.4}").as_bytes());
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = match read_zset(ctx, &args[1])? {
        Some(z) => args[2..].iter().map(|m| z.score(m)).collect(),
        None => vec![None; args.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.bulk(&hash::geohash_string(s)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}
