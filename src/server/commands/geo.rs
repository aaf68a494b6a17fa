//! Geo commands on sorted sets whose scores are 52-bit geohashes (Redis's geo.c):
//! GEOADD (NX, XX, CH; propagated as the ZADD it performs), GEOPOS, GEODIST, GEOHASH,
//! and the searches: GEORADIUS, GEORADIUSBYMEMBER (and _RO), GEOSEARCH, GEOSEARCHSTORE,
//! which scan the nine geohash cells Redis scans, in its order.
//! The geohash math is in `geo/hash.rs`.

mod hash;

use super::flags::*;
use super::zsets::{ZaddFlags, zadd_pairs};
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, err, is, spec};
use crate::server::longdouble::{self, Ld};
use crate::server::notify::{GENERIC, ZSET, notify};
use crate::server::types::{Value, ZSet};
use bytes::Bytes;

/// The geo commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("geoadd", -5, WRITE | DENYOOM, KEY1, geoadd),
        spec("geopos", -2, READONLY, KEY1, geopos),
        spec("geodist", -4, READONLY, KEY1, geodist),
        spec("geohash", -2, READONLY, KEY1, geohash),
        spec("georadius", -6, WRITE | DENYOOM, KEY1, georadius),
        spec("georadius_ro", -6, READONLY, KEY1, georadius_ro),
        spec(
            "georadiusbymember",
            -5,
            WRITE | DENYOOM,
            KEY1,
            georadiusbymember,
        ),
        spec(
            "georadiusbymember_ro",
            -5,
            READONLY,
            KEY1,
            georadiusbymember_ro,
        ),
        spec("geosearch", -7, READONLY, KEY1, geosearch),
        spec(
            "geosearchstore",
            -8,
            WRITE | DENYOOM,
            (1, 2, 1),
            geosearchstore,
        ),
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
    // Redis's geoaddCommand runs zaddCommand with the rewritten arguments: the same
    // encoding choice (member by member), events and reply.
    let pairs: Vec<(f64, &[u8])> = points.iter().map(|(s, m)| (*s, &m[..])).collect();
    let flags = ZaddFlags {
        nx,
        xx,
        ch,
        ..ZaddFlags::default()
    };
    zadd_pairs(ctx, key, flags, &pairs)?;
    // Replicas get the ZADD Redis runs in its place.
    let mut zadd: Vec<Vec<u8>> = vec![b"ZADD".to_vec()];
    zadd.extend(args[1..first].iter().map(|a| a.to_vec()));
    for (score, member) in &points {
        zadd.push((*score as u64).to_string().into_bytes());
        zadd.push(member.to_vec());
    }
    ctx.propagate_instead(&zadd);
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

/// Which search command runs (Redis's georadiusGeneric flags).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// GEORADIUS / GEORADIUS_RO: centre and radius as arguments.
    Coords,
    /// GEORADIUSBYMEMBER(_RO): a member as centre.
    Member,
    /// GEOSEARCH / GEOSEARCHSTORE: FROM... and BY... options.
    Search,
}

/// The area searched.
#[derive(Clone, Copy)]
enum Area {
    Radius(f64),
    Box(f64, f64),
}

/// One point found.
struct Point {
    member: Vec<u8>,
    dist: f64,
    score: f64,
    lon: f64,
    lat: f64,
}

/// A distance with its unit (extractDistanceOrReply): (value, meters per unit).
fn distance_arg(v: &[u8], u: &[u8]) -> Result<(f64, f64), CmdError> {
    let d = super::args::double(v).ok_or(CmdError::fixed("ERR need numeric radius"))?;
    if d < 0.0 {
        return Err(CmdError::fixed("ERR radius cannot be negative"));
    }
    Ok((d, unit(u)?))
}

/// A box with its unit (extractBoxOrReply): (width, height, meters per unit).
fn box_arg(w: &[u8], h: &[u8], u: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = super::args::double(w).ok_or(CmdError::fixed("ERR need numeric width"))?;
    let h = super::args::double(h).ok_or(CmdError::fixed("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::fixed("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit(u)?))
}

const NO_MEMBER: CmdError = CmdError::fixed("ERR could not decode requested zset member");

/// The points of `z` inside the area, scanning Redis's cells in order; stops after
/// `limit` points when given (ANY).
fn search(z: &ZSet, lon: f64, lat: f64, area: Area, conv: f64, limit: usize) -> Vec<Point> {
    let (half_w, half_h, radius) = match area {
        Area::Radius(r) => (r * conv, r * conv, r * conv),
        Area::Box(w, h) => (
            w / 2.0 * conv,
            h / 2.0 * conv,
            ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt() * conv,
        ),
    };
    let cells = hash::search_cells(lon, lat, half_w, half_h, radius);
    let mut out = Vec::new();
    let mut last: Option<hash::Cell> = None;
    for cell in cells.into_iter().flatten() {
        // Huge radii make neighbours repeat: Redis skips a cell equal to the last one.
        if last == Some(cell) {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let (min, max) = cell.scores();
        let from = z.count_before(&|s, _| s < min);
        let to = z.count_before(&|s, _| s < max);
        for (member, score) in z.range(from, to) {
            let (plon, plat) = hash::decode(score);
            let inside = match area {
                Area::Radius(r) => {
                    let d = hash::distance(lon, lat, plon, plat);
                    (d <= r * conv).then_some(d)
                }
                Area::Box(w, h) => {
                    let inside = hash::lat_distance(plat, lat) <= h * conv / 2.0
                        && hash::distance(plon, plat, lon, plat) <= w * conv / 2.0;
                    inside.then(|| hash::distance(lon, lat, plon, plat))
                }
            };
            if let Some(dist) = inside {
                out.push(Point {
                    member: member.to_vec(),
                    dist,
                    score,
                    lon: plon,
                    lat: plat,
                });
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
        }
        last = Some(cell);
    }
    out
}

/// Options of a search command.
#[derive(Default)]
struct SearchOpts<'a> {
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    /// Some(true) ASC, Some(false) DESC.
    asc: Option<bool>,
    count: i64,
    store: Option<&'a Bytes>,
    storedist: bool,
    centre: Option<(f64, f64)>,
    from_member: bool,
    from_lonlat: bool,
    area: Option<(Area, f64)>,
}

/// The sorted set under `key`, already looked up (no statistics, no expiry).
fn stored_zset<'c>(ctx: &'c Ctx, key: &[u8]) -> Option<&'c ZSet> {
    match ctx.state.dbs[ctx.client.db].get(key) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

/// The score of `member` in the sorted set under `key`, already looked up.
fn member_score(ctx: &Ctx, key: &[u8], member: &[u8]) -> Option<f64> {
    stored_zset(ctx, key)?.score(member)
}

/// Redis's georadiusGeneric.
fn geo_search(ctx: &mut Ctx, args: &[Bytes], kind: Kind, src: usize, can_store: bool) -> CmdResult {
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    let event = match kind {
        Kind::Search => "geosearchstore",
        _ => "georadiusstore",
    };
    let exists = read_zset(ctx, &args[src])?.is_some();
    let key = &args[src];
    let mut o = SearchOpts::default();
    let base = match kind {
        Kind::Coords => {
            o.centre = Some(lon_lat(&args[2], &args[3])?);
            let (r, c) = distance_arg(&args[4], &args[5])?;
            o.area = Some((Area::Radius(r), c));
            6
        }
        Kind::Member => {
            if exists {
                let s = member_score(ctx, key, &args[2]).ok_or(NO_MEMBER)?;
                o.centre = Some(hash::decode(s));
                let (r, c) = distance_arg(&args[3], &args[4])?;
                o.area = Some((Area::Radius(r), c));
            }
            5
        }
        Kind::Search => {
            if can_store {
                o.store = Some(&args[1]);
                3
            } else {
                2
            }
        }
    };
    let is_search = kind == Kind::Search;
    let rest = &args[base..];
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        let left = rest.len() - i - 1;
        if is(a, "withdist") {
            o.withdist = true;
        } else if is(a, "withhash") {
            o.withhash = true;
        } else if is(a, "withcoord") {
            o.withcoord = true;
        } else if is(a, "any") {
            o.any = true;
        } else if is(a, "asc") {
            o.asc = Some(true);
        } else if is(a, "desc") {
            o.asc = Some(false);
        } else if is(a, "count") && left >= 1 {
            o.count = super::arg_i64(&rest[i + 1])?;
            if o.count <= 0 {
                return Err(CmdError::fixed("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && can_store && !is_search {
            o.store = Some(&rest[i + 1]);
            o.storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && is_search && can_store {
            o.storedist = true;
        } else if is(a, "frommember") && left >= 1 && is_search && !o.from_lonlat {
            if exists {
                let s = member_score(ctx, key, &rest[i + 1]).ok_or(NO_MEMBER)?;
                o.centre = Some(hash::decode(s));
            }
            o.from_member = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && is_search && !o.from_member {
            o.centre = Some(lon_lat(&rest[i + 1], &rest[i + 2])?);
            o.from_lonlat = true;
            i += 2;
        } else if is(a, "byradius")
            && left >= 2
            && is_search
            && !matches!(o.area, Some((Area::Box(..), _)))
        {
            let (r, c) = distance_arg(&rest[i + 1], &rest[i + 2])?;
            o.area = Some((Area::Radius(r), c));
            i += 2;
        } else if is(a, "bybox")
            && left >= 3
            && is_search
            && !matches!(o.area, Some((Area::Radius(_), _)))
        {
            let (w, h, c) = box_arg(&rest[i + 1], &rest[i + 2], &rest[i + 3])?;
            o.area = Some((Area::Box(w, h), c));
            i += 3;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if o.store.is_some() && (o.withdist || o.withhash || o.withcoord) {
        return Err(CmdError::msg(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if is_search {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if is_search && !(o.from_member || o.from_lonlat) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if is_search && o.area.is_none() {
        return Err(CmdError::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if o.any && o.count == 0 {
        return Err(CmdError::fixed(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    let (true, Some((lon, lat)), Some((area, conv))) = (exists, o.centre, o.area) else {
        // No source key: an empty reply, or the destination deleted.
        match o.store {
            Some(dest) => {
                if ctx.db().remove(dest).is_some() {
                    ctx.modified(dest, 1);
                    notify(ctx, GENERIC, "del", dest);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if o.count != 0 && o.asc.is_none() && !o.any {
        o.asc = Some(true);
    }
    let limit = if o.any { o.count as usize } else { 0 };
    let Some(z) = stored_zset(ctx, key) else {
        unreachable!("the sorted set was just looked up")
    };
    let mut points = search(z, lon, lat, area, conv, limit);
    if let Some(asc) = o.asc {
        points.sort_by(|a, b| {
            let c = a
                .dist
                .partial_cmp(&b.dist)
                .unwrap_or(std::cmp::Ordering::Equal);
            if asc { c } else { c.reverse() }
        });
    }
    let n = if o.count == 0 {
        points.len()
    } else {
        points.len().min(o.count as usize)
    };
    points.truncate(n);
    match o.store {
        None => reply_points(ctx, &points, &o, conv),
        Some(dest) => store_points(ctx, dest, &points, (o.storedist, conv), event),
    }
    Ok(())
}

fn reply_points(ctx: &mut Ctx, points: &[Point], o: &SearchOpts, conv: f64) {
    let extra = o.withdist as usize + o.withhash as usize + o.withcoord as usize;
    ctx.out.array(points.len());
    for p in points {
        if extra > 0 {
            ctx.out.array(extra + 1);
        }
        ctx.out.bulk(&p.member);
        if o.withdist {
            ctx.out.bulk(format!("{:.4}", p.dist / conv).as_bytes());
        }
        if o.withhash {
            ctx.out.int(p.score as i64);
        }
        if o.withcoord {
            ctx.out.array(2);
            ctx.out.bulk(human(p.lon).as_bytes());
            ctx.out.bulk(human(p.lat).as_bytes());
        }
    }
}

/// Stores the found points under `dest` (scores, or distances in the unit `conv` when
/// `dist.0`), or deletes `dest` when none; `event` is the keyspace event of the command.
fn store_points(ctx: &mut Ctx, dest: &[u8], points: &[Point], dist: (bool, f64), event: &str) {
    let (storedist, conv) = dist;
    if points.is_empty() {
        if ctx.db().remove(dest).is_some() {
            ctx.modified(dest, 1);
            notify(ctx, GENERIC, "del", dest);
        }
        ctx.out.int(0);
        return;
    }
    let mut z = ZSet::default();
    let maxlen = points.iter().map(|p| p.member.len()).max().unwrap_or(0);
    z.skiplist = points.len() as i64 > ctx.state.config.zset_max_listpack_entries
        || maxlen as i64 > ctx.state.config.zset_max_listpack_value;
    for p in points {
        z.insert(&p.member, if storedist { p.dist / conv } else { p.score });
    }
    ctx.db().set(dest, Value::ZSet(Box::new(z)), false);
    ctx.modified(dest, points.len() as u64);
    notify(ctx, ZSET, event, dest);
    ctx.out.int(points.len() as i64);
}

fn georadius(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    geo_search(ctx, args, Kind::Coords, 1, true)
}

fn georadius_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    geo_search(ctx, args, Kind::Coords, 1, false)
}

fn georadiusbymember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    geo_search(ctx, args, Kind::Member, 1, true)
}

fn georadiusbymember_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    geo_search(ctx, args, Kind::Member, 1, false)
}

fn geosearch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    geo_search(ctx, args, Kind::Search, 1, false)
}

fn geosearchstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    geo_search(ctx, args, Kind::Search, 2, true)
}
