//! RDB decoder: loads every encoding Redis 7.0 (and older versions up to it) writes for
//! strings, lists, sets, sorted sets and hashes. Anything else (streams, modules, functions)
//! stops the load with an error naming the key and the type: data is never dropped silently.

use super::op;
use crate::server::db::Db;
use crate::server::sds::Sds;
use crate::server::types::{self, Value};

/// Why a load failed: where in the file, which key if known, and what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("RDB error at byte offset {offset}{}: {reason}", key.as_ref().map(|k| format!(" (key '{k}')")).unwrap_or_default())]
pub struct RdbError {
    /// Byte offset in the file where the problem was found.
    pub offset: usize,
    /// The key being loaded, if any.
    pub key: Option<String>,
    /// What was wrong.
    pub reason: String,
}

/// AUX fields and other facts read from the file.
#[derive(Debug, Default, Clone)]
pub struct LoadInfo {
    /// RDB version of the file.
    pub version: u16,
    /// `repl-id` if present.
    pub repl_id: Option<String>,
    /// `repl-offset` if present.
    pub repl_offset: Option<i64>,
    /// `repl-stream-db` if present.
    pub repl_stream_db: Option<i64>,
    /// Keys loaded.
    pub keys: u64,
    /// Keys skipped because they had already expired (a master drops them at load).
    pub expired_skipped: u64,
    /// Those keys, by database, so a restarted master can tell its replicas (DEL).
    pub expired_keys: Vec<(usize, Vec<u8>)>,
}

type R<T> = Result<T, RdbError>;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    key: Option<String>,
}

impl<'a> Cursor<'a> {
    fn err<T>(&self, reason: impl Into<String>) -> R<T> {
        Err(RdbError {
            offset: self.pos,
            key: self.key.clone(),
            reason: reason.into(),
        })
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return self.err(format!("unexpected end of file (needed {n} more bytes)"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    /// A length, or an encoded-string marker: (value, is_encoded).
    fn len_enc(&mut self) -> R<(u64, bool)> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | self.u8()? as u64, false),
            2 => match b {
                0x80 => (
                    u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64,
                    false,
                ),
                0x81 => (u64::from_be_bytes(self.take(8)?.try_into().unwrap()), false),
                _ => return self.err(format!("unknown length encoding 0x{b:02x}")),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    fn len(&mut self) -> R<u64> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            _ => self.err("expected a length, found an encoded string"),
        }
    }

    fn count(&mut self) -> R<usize> {
        let n = self.len()?;
        if n > (self.buf.len() - self.pos) as u64 * 8 + 16 {
            return self.err(format!("length {n} exceeds the file size"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> R<Vec<u8>> {
        let (n, encoded) = self.len_enc()?;
        if !encoded {
            return Ok(self.take(n as usize)?.to_vec());
        }
        match n {
            0 => Ok((self.u8()? as i8).to_string().into_bytes()),
            1 => Ok(i16::from_le_bytes(self.take(2)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            2 => Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            3 => {
                let clen = self.len()? as usize;
                let ulen = self.len()? as usize;
                let data = self.take(clen)?;
                match lzf::decompress(data, ulen) {
                    Ok(v) if v.len() == ulen => Ok(v),
                    _ => self.err("invalid LZF compressed string"),
                }
            }
            _ => self.err(format!("unknown string encoding {n}")),
        }
    }

    /// A string straight into an `Sds` (no intermediate Vec for the common raw case).
    fn sds(&mut self) -> R<Sds> {
        let start = self.pos;
        let (n, encoded) = self.len_enc()?;
        if !encoded {
            return Ok(Sds::from_slice(self.take(n as usize)?));
        }
        self.pos = start;
        Ok(Sds::from_vec(self.string()?))
    }

    fn binary_double(&mut self) -> R<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    /// The old ZSET score format: a length byte then ASCII (253 nan, 254 inf, 255 -inf).
    fn text_double(&mut self) -> R<f64> {
        let n = self.u8()?;
        match n {
            253 => self.err("NaN score"),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let t = self.take(n as usize)?;
                match std::str::from_utf8(t)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(v) => Ok(v),
                    None => self.err("invalid score"),
                }
            }
        }
    }
}

/// Decodes a listpack blob into its elements (integers as their decimal text).
pub fn listpack_entries(lp: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if lp.len() < 7 {
        return Err("listpack too short".into());
    }
    let total = u32::from_le_bytes(lp[0..4].try_into().unwrap()) as usize;
    if total != lp.len() {
        return Err("listpack size mismatch".into());
    }
    let mut out = Vec::new();
    let mut p = 6;
    let need = |p: usize, n: usize| {
        if p + n <= lp.len() {
            Ok(())
        } else {
            Err("listpack entry out of bounds".to_string())
        }
    };
    loop {
        need(p, 1)?;
        let b = lp[p];
        if b == 0xFF {
            break;
        }
        let (value, enc_len): (Vec<u8>, usize) = if b & 0x80 == 0 {
            ((b & 0x7f).to_string().into_bytes(), 1)
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3f) as usize;
            need(p + 1, n)?;
            (lp[p + 1..p + 1 + n].to_vec(), 1 + n)
        } else if b & 0xE0 == 0xC0 {
            need(p, 2)?;
            let v = (((b & 0x1f) as i64) << 8) | lp[p + 1] as i64;
            let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
            (v.to_string().into_bytes(), 2)
        } else if b & 0xF0 == 0xE0 {
            need(p, 2)?;
            let n = (((b & 0x0f) as usize) << 8) | lp[p + 1] as usize;
            need(p + 2, n)?;
            (lp[p + 2..p + 2 + n].to_vec(), 2 + n)
        } else {
            match b {
                0xF0 => {
                    need(p, 5)?;
                    let n = u32::from_le_bytes(lp[p + 1..p + 5].try_into().unwrap()) as usize;
                    need(p + 5, n)?;
                    (lp[p + 5..p + 5 + n].to_vec(), 5 + n)
                }
                0xF1 => {
                    need(p, 3)?;
                    (
                        i16::from_le_bytes(lp[p + 1..p + 3].try_into().unwrap())
                            .to_string()
                            .into_bytes(),
                        3,
                    )
                }
                0xF2 => {
                    need(p, 4)?;
                    let v = (lp[p + 1] as i32) | (lp[p + 2] as i32) << 8 | (lp[p + 3] as i32) << 16;
                    let v = (v << 8) >> 8;
                    (v.to_string().into_bytes(), 4)
                }
                0xF3 => {
                    need(p, 5)?;
                    (
                        i32::from_le_bytes(lp[p + 1..p + 5].try_into().unwrap())
                            .to_string()
                            .into_bytes(),
                        5,
                    )
                }
                0xF4 => {
                    need(p, 9)?;
                    (
                        i64::from_le_bytes(lp[p + 1..p + 9].try_into().unwrap())
                            .to_string()
                            .into_bytes(),
                        9,
                    )
                }
                _ => return Err(format!("unknown listpack encoding 0x{b:02x}")),
            }
        };
        let backlen = match enc_len {
            0..=127 => 1,
            128..=16383 => 2,
            16384..=2097151 => 3,
            2097152..=268435455 => 4,
            _ => 5,
        };
        p += enc_len + backlen;
        out.push(value);
    }
    Ok(out)
}

/// Decodes a ziplist blob (Redis < 7.0) into its elements.
pub fn ziplist_entries(zl: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if zl.len() < 11 {
        return Err("ziplist too short".into());
    }
    let mut out = Vec::new();
    let mut p = 10;
    let need = |p: usize, n: usize| {
        if p + n <= zl.len() {
            Ok(())
        } else {
            Err("ziplist entry out of bounds".to_string())
        }
    };
    loop {
        need(p, 1)?;
        if zl[p] == 0xFF {
            break;
        }
        p += if zl[p] < 254 { 1 } else { 5 };
        need(p, 1)?;
        let b = zl[p];
        let (value, n): (Vec<u8>, usize) = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                need(p + 1, n)?;
                (zl[p + 1..p + 1 + n].to_vec(), 1 + n)
            }
            1 => {
                need(p, 2)?;
                let n = (((b & 0x3f) as usize) << 8) | zl[p + 1] as usize;
                need(p + 2, n)?;
                (zl[p + 2..p + 2 + n].to_vec(), 2 + n)
            }
            2 => {
                need(p, 5)?;
                let n = u32::from_be_bytes(zl[p + 1..p + 5].try_into().unwrap()) as usize;
                need(p + 5, n)?;
                (zl[p + 5..p + 5 + n].to_vec(), 5 + n)
            }
            _ => {
                let int = |v: i64| v.to_string().into_bytes();
                match b {
                    0xC0 => {
                        need(p, 3)?;
                        (
                            int(i16::from_le_bytes(zl[p + 1..p + 3].try_into().unwrap()) as i64),
                            3,
                        )
                    }
                    0xD0 => {
                        need(p, 5)?;
                        (
                            int(i32::from_le_bytes(zl[p + 1..p + 5].try_into().unwrap()) as i64),
                            5,
                        )
                    }
                    0xE0 => {
                        need(p, 9)?;
                        (
                            int(i64::from_le_bytes(zl[p + 1..p + 9].try_into().unwrap())),
                            9,
                        )
                    }
                    0xF0 => {
                        need(p, 4)?;
                        let v =
                            (zl[p + 1] as i32) | (zl[p + 2] as i32) << 8 | (zl[p + 3] as i32) << 16;
                        (int(((v << 8) >> 8) as i64), 4)
                    }
                    0xFE => {
                        need(p, 2)?;
                        (int(zl[p + 1] as i8 as i64), 2)
                    }
                    0xF1..=0xFD => (int((b & 0x0f) as i64 - 1), 1),
                    _ => return Err(format!("unknown ziplist encoding 0x{b:02x}")),
                }
            }
        };
        p += n;
        out.push(value);
    }
    Ok(out)
}

/// Decodes an intset blob.
pub fn intset_entries(is: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if is.len() < 8 {
        return Err("intset too short".into());
    }
    let width = u32::from_le_bytes(is[0..4].try_into().unwrap()) as usize;
    let n = u32::from_le_bytes(is[4..8].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) || is.len() != 8 + width * n {
        return Err("invalid intset".into());
    }
    Ok(is[8..]
        .chunks(width)
        .map(|c| {
            let v = match width {
                2 => i16::from_le_bytes(c.try_into().unwrap()) as i64,
                4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
                _ => i64::from_le_bytes(c.try_into().unwrap()),
            };
            v.to_string().into_bytes()
        })
        .collect())
}

fn pairs(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
    if items.len() % 2 != 0 {
        return Err("odd number of elements in a pair encoding".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn scores(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>, String> {
    pairs(items)?
        .into_iter()
        .map(|(m, s)| {
            crate::server::numbers::parse_f64(&s)
                .map(|v| (m, v))
                .ok_or_else(|| "invalid score in sorted set".to_string())
        })
        .collect()
}

fn type_name(t: u8) -> &'static str {
    match t {
        op::MODULE | op::MODULE_2 => "module",
        op::STREAM_LISTPACKS | op::STREAM_LISTPACKS_2 => "stream",
        _ => "unknown",
    }
}

fn read_value(c: &mut Cursor, t: u8) -> R<Value> {
    let blob = |c: &mut Cursor, f: fn(&[u8]) -> Result<Vec<Vec<u8>>, String>| -> R<Vec<Vec<u8>>> {
        let b = c.string()?;
        f(&b).or_else(|e| c.err(e))
    };
    Ok(match t {
        op::STRING => Value::Str(c.sds()?),
        op::LIST | op::SET => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n.min(1 << 20));
            for _ in 0..n {
                items.push(c.string()?);
            }
            if t == op::LIST {
                types::build::list(items)
            } else {
                types::build::set(items)
            }
        }
        op::ZSET | op::ZSET_2 => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n.min(1 << 20));
            for _ in 0..n {
                let m = c.string()?;
                let s = if t == op::ZSET_2 {
                    c.binary_double()?
                } else {
                    c.text_double()?
                };
                if s.is_nan() {
                    return c.err("NaN score");
                }
                items.push((m, s));
            }
            types::build::zset(items)
        }
        op::HASH => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n.min(1 << 20));
            for _ in 0..n {
                let f = c.string()?;
                let v = c.string()?;
                items.push((f, v));
            }
            types::build::hash(items)
        }
        op::SET_INTSET => types::build::set(blob(c, intset_entries)?),
        op::LIST_ZIPLIST => types::build::list(blob(c, ziplist_entries)?),
        op::HASH_ZIPLIST | op::HASH_LISTPACK => {
            let items = blob(
                c,
                if t == op::HASH_ZIPLIST {
                    ziplist_entries
                } else {
                    listpack_entries
                },
            )?;
            types::build::hash(pairs(items).or_else(|e| c.err(e))?)
        }
        op::ZSET_ZIPLIST | op::ZSET_LISTPACK => {
            let items = blob(
                c,
                if t == op::ZSET_ZIPLIST {
                    ziplist_entries
                } else {
                    listpack_entries
                },
            )?;
            types::build::zset(scores(items).or_else(|e| c.err(e))?)
        }
        op::LIST_QUICKLIST | op::LIST_QUICKLIST_2 => {
            let nodes = c.count()?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                if t == op::LIST_QUICKLIST {
                    items.extend(blob(c, ziplist_entries)?);
                } else {
                    match c.len()? {
                        1 => items.push(c.string()?),
                        2 => items.extend(blob(c, listpack_entries)?),
                        other => return c.err(format!("unknown quicklist container {other}")),
                    }
                }
            }
            types::build::list(items)
        }
        op::HASH_ZIPMAP => {
            return c.err("hash in the zipmap encoding (Redis < 2.6) is not supported");
        }
        other => {
            return c.err(format!(
                "values of type {} (RDB type {other}) are not supported by redrepl",
                type_name(other)
            ));
        }
    })
}

/// Loads an RDB image into `dbs` (which should be empty). Keys whose TTL has passed are
/// skipped when `drop_expired` (a master's behaviour at load).
pub fn load(buf: &[u8], dbs: &mut [Db], drop_expired: bool) -> Result<LoadInfo, RdbError> {
    let mut c = Cursor {
        buf,
        pos: 0,
        key: None,
    };
    let magic = c.take(9)?;
    if &magic[..5] != b"REDIS" {
        return c.err("not an RDB file (wrong signature)");
    }
    let version: u16 = match std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(v) if (1..=super::RDB_VERSION).contains(&v) => v,
        _ => {
            return c.err(format!(
                "unsupported RDB version '{}'",
                String::from_utf8_lossy(&magic[5..])
            ));
        }
    };
    let mut info = LoadInfo {
        version,
        ..Default::default()
    };
    let now = crate::server::clock::now_ms();
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    loop {
        let t = c.u8()?;
        match t {
            op::EOF => {
                if version >= 5 {
                    let at = c.pos;
                    let stored = u64::from_le_bytes(c.take(8)?.try_into().unwrap());
                    if stored != 0 {
                        let actual = crc64::crc64(0, &buf[..at]);
                        if actual != stored {
                            c.pos = at;
                            return c.err(format!(
                                "wrong RDB checksum (expected {stored:016x}, got {actual:016x})"
                            ));
                        }
                    }
                }
                return Ok(info);
            }
            op::SELECTDB => {
                let n = c.len()? as usize;
                if n >= dbs.len() {
                    return c.err(format!(
                        "database {n} is out of range (databases {})",
                        dbs.len()
                    ));
                }
                db = n;
            }
            op::RESIZEDB => {
                let keys = c.len()? as usize;
                let expires = c.len()? as usize;
                // A hint only; capped so a corrupt header cannot make us allocate wildly.
                let cap = buf.len() / 4;
                dbs[db].reserve(keys.min(cap), expires.min(cap));
            }
            op::AUX => {
                let k = c.string()?;
                let v = c.string()?;
                let text = String::from_utf8_lossy(&v).into_owned();
                match &k[..] {
                    b"repl-id" => info.repl_id = Some(text),
                    b"repl-offset" => info.repl_offset = text.parse().ok(),
                    b"repl-stream-db" => info.repl_stream_db = text.parse().ok(),
                    _ => {}
                }
            }
            op::EXPIRETIME_MS => expire = Some(i64::from_le_bytes(c.take(8)?.try_into().unwrap())),
            op::EXPIRETIME => {
                expire = Some(i32::from_le_bytes(c.take(4)?.try_into().unwrap()) as i64 * 1000)
            }
            op::IDLE => {
                c.len()?;
            }
            op::FREQ => {
                c.u8()?;
            }
            op::MODULE_AUX => return c.err("module data is not supported by redrepl"),
            op::FUNCTION | op::FUNCTION2 => {
                return c.err("functions (FUNCTION LOAD) are not supported by redrepl");
            }
            _ => {
                let key = c.sds()?;
                let value = read_value(&mut c, t).map_err(|mut e| {
                    e.key = Some(String::from_utf8_lossy(&key).into_owned());
                    e
                })?;
                let at = expire.take();
                if drop_expired && at.is_some_and(|a| a <= now) {
                    info.expired_skipped += 1;
                    info.expired_keys.push((db, key.to_vec()));
                    continue;
                }
                let d = &mut dbs[db];
                let ttl_key = at.map(|a| (key.clone(), a));
                if let Err(key) = d.insert_if_absent(key, value) {
                    c.key = Some(String::from_utf8_lossy(&key).into_owned());
                    return c.err("duplicate key in the same database");
                }
                if let Some((k, a)) = ttl_key {
                    d.set_expire(&k, a);
                }
                info.keys += 1;
            }
        }
    }
}

/// Decodes one serialized value (type byte + payload), as in a DUMP payload.
pub fn decode_value(bytes: &[u8]) -> Result<Value, RdbError> {
    let mut c = Cursor {
        buf: bytes,
        pos: 0,
        key: None,
    };
    let t = c.u8()?;
    let v = read_value(&mut c, t)?;
    if c.pos != bytes.len() {
        return c.err("trailing bytes after the value");
    }
    Ok(v)
}
