//! RDB decoder: loads every encoding Redis 7.0 (and older versions up to it) writes for
//! strings, lists, sets, sorted sets, hashes and streams. Anything else (modules, functions,
//! 7.2's stream type 21)
//! stops the load with an error naming the key and the type: data is never dropped silently.

use super::{blobs, op};
use crate::server::db::{Db, access};
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
    /// Set when the file is whole but its CRC64 is wrong: (computed, stored), which Redis
    /// logs in its own words.
    pub checksum: Option<(u64, u64)>,
}

impl RdbError {
    /// The lines Redis 7.0 logs for this error when loading a file (rdb.c), when it has
    /// words of its own for it: the checksum mismatch and `RDB CRC error`.
    pub fn redis_log_lines(&self) -> Option<[String; 2]> {
        let (expected, got) = self.checksum?;
        Some([
            format!("Wrong RDB checksum expected: ({expected:x}) but got ({got:x}). Aborting now."),
            "Internal error in RDB reading offset 0, function at rdb.c:3225 -> RDB CRC error"
                .to_string(),
        ])
    }
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
    /// Empty collections skipped (Redis's "empty keys skipped").
    pub empty_skipped: u64,
    /// The code of every function library (RDB_OPCODE_FUNCTION2 records).
    pub functions: Vec<bytes::Bytes>,
    /// Those keys, by database, so a restarted master can tell its replicas (DEL).
    pub expired_keys: Vec<(usize, Vec<u8>)>,
    /// Bytes the RDB took (an AOF file may go on with commands after it).
    pub consumed: usize,
}

pub(super) type R<T> = Result<T, RdbError>;

/// Most output bytes one byte of LZF input can give (a 3-byte back reference copies 264).
const LZF_MAX_RATIO: usize = 88;

/// Elements reserved ahead at most, whatever count a header claims.
const PREALLOC: usize = 1024;

pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    key: Option<String>,
}

impl<'a> Cursor<'a> {
    pub(super) fn err<T>(&self, reason: impl Into<String>) -> R<T> {
        Err(RdbError {
            offset: self.pos,
            key: self.key.clone(),
            reason: reason.into(),
            checksum: None,
        })
    }

    pub(super) fn take(&mut self, n: usize) -> R<&'a [u8]> {
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

    pub(super) fn len(&mut self) -> R<u64> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            _ => self.err("expected a length, found an encoded string"),
        }
    }

    pub(super) fn count(&mut self) -> R<usize> {
        let n = self.len()?;
        // Every element takes at least one byte: a count beyond the bytes left is corrupt.
        if n > (self.buf.len() - self.pos) as u64 {
            return self.err(format!("length {n} exceeds the file size"));
        }
        Ok(n as usize)
    }

    pub(super) fn string(&mut self) -> R<Vec<u8>> {
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
                // LZF expands at most 264 bytes out of 3 in: a larger claimed length is
                // corrupt, and must not size the output buffer.
                if ulen == 0 || ulen > data.len().saturating_mul(LZF_MAX_RATIO) {
                    return self.err("invalid LZF compressed string");
                }
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

/// (field, value) pairs of a hash.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(items: Vec<Vec<u8>>) -> Result<Pairs, String> {
    if !items.len().is_multiple_of(2) {
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

/// Refuses a member or field that appears twice (rdb.c: "Duplicate set members detected",
/// "Duplicate hash fields detected", "Duplicate zset fields detected").
fn unique<'a>(mut items: impl Iterator<Item = &'a [u8]>, what: &str) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    if items.all(|m| seen.insert(m)) {
        Ok(())
    } else {
        Err(format!("duplicate {what} detected"))
    }
}

/// A decoded value, or `None` for a collection with no elements (which Redis never writes:
/// a file load skips it, RESTORE refuses it).
type Loaded = Option<Value>;

fn set_of(items: Vec<Vec<u8>>) -> Result<Loaded, String> {
    unique(items.iter().map(|m| m.as_slice()), "set members")?;
    Ok((!items.is_empty()).then(|| types::build::set(items)))
}

fn hash_of(items: Pairs) -> Result<Loaded, String> {
    unique(items.iter().map(|(f, _)| f.as_slice()), "hash fields")?;
    Ok((!items.is_empty()).then(|| types::build::hash(items)))
}

fn zset_of(items: Vec<(Vec<u8>, f64)>) -> Result<Loaded, String> {
    unique(items.iter().map(|(m, _)| m.as_slice()), "zset members")?;
    Ok((!items.is_empty()).then(|| types::build::zset(items)))
}

fn list_of(items: Vec<Vec<u8>>) -> Loaded {
    (!items.is_empty()).then(|| types::build::list(items))
}

fn read_value(c: &mut Cursor, t: u8) -> R<Loaded> {
    let blob = |c: &mut Cursor, f: fn(&[u8]) -> Result<blobs::Items, String>| -> R<blobs::Items> {
        let b = c.string()?;
        f(&b).or_else(|e| c.err(e))
    };
    let checked = |c: &Cursor, r: Result<Loaded, String>| r.or_else(|e| c.err(e));
    Ok(match t {
        op::STRING => Some(Value::Str(c.sds()?)),
        op::LIST | op::SET => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                items.push(c.string()?);
            }
            if t == op::LIST {
                list_of(items)
            } else {
                checked(c, set_of(items))?
            }
        }
        op::ZSET | op::ZSET_2 => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n.min(PREALLOC));
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
            checked(c, zset_of(items))?
        }
        op::HASH => {
            let n = c.count()?;
            let mut items = Vec::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                let f = c.string()?;
                let v = c.string()?;
                items.push((f, v));
            }
            checked(c, hash_of(items))?
        }
        op::SET_INTSET => {
            let items = blob(c, blobs::intset)?;
            checked(c, set_of(items))?
        }
        op::LIST_ZIPLIST => list_of(blob(c, blobs::ziplist)?),
        op::HASH_ZIPLIST | op::HASH_LISTPACK | op::HASH_ZIPMAP => {
            let f = match t {
                op::HASH_ZIPLIST => blobs::ziplist,
                op::HASH_LISTPACK => blobs::listpack,
                _ => blobs::zipmap,
            };
            let items = blob(c, f)?;
            checked(c, pairs(items).and_then(hash_of))?
        }
        op::ZSET_ZIPLIST | op::ZSET_LISTPACK => {
            let items = blob(
                c,
                if t == op::ZSET_ZIPLIST {
                    blobs::ziplist
                } else {
                    blobs::listpack
                },
            )?;
            checked(c, scores(items).and_then(zset_of))?
        }
        op::LIST_QUICKLIST | op::LIST_QUICKLIST_2 => {
            let nodes = c.count()?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                if t == op::LIST_QUICKLIST {
                    items.extend(blob(c, blobs::ziplist)?);
                } else {
                    // Empty nodes are skipped, as Redis does.
                    match c.len()? {
                        1 => items.push(c.string()?),
                        2 => items.extend(blob(c, blobs::listpack)?),
                        other => return c.err(format!("unknown quicklist container {other}")),
                    }
                }
            }
            list_of(items)
        }
        op::STREAM_LISTPACKS | op::STREAM_LISTPACKS_2 => Some(super::stream::read(c, t)?),
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
    load_with(buf, dbs, drop_expired, &mut |_| {})
}

/// What [`load_with`] reports while it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// One key was read; the offset reached after it (Redis's rdbLoadProgressCallback and
    /// key-load-delay).
    Key(usize),
    /// The `used-mem` AUX field: the saving server's used_memory (INFO's
    /// `loading_rdb_used_mem`).
    UsedMem(u64),
    /// An AUX field as read (name, value): the loader logs the ones Redis logs.
    Aux(&'a [u8], &'a [u8]),
}

/// [`load`], calling `on_progress` after each key read and for the `used-mem` AUX field.
pub fn load_with(
    buf: &[u8],
    dbs: &mut [Db],
    drop_expired: bool,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<LoadInfo, RdbError> {
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
    // RDB_OPCODE_FREQ / RDB_OPCODE_IDLE of the next key.
    let (mut freq, mut idle): (Option<u8>, Option<u64>) = (None, None);
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
                            let mut e = c
                                .err::<()>(format!(
                                    "wrong RDB checksum (expected {actual:x}, got {stored:x})"
                                ))
                                .unwrap_err();
                            e.checksum = Some((actual, stored));
                            return Err(e);
                        }
                    }
                }
                info.consumed = c.pos;
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
                on_progress(Progress::Aux(&k, &v));
                let text = String::from_utf8_lossy(&v).into_owned();
                match &k[..] {
                    b"repl-id" => info.repl_id = Some(text),
                    b"repl-offset" => info.repl_offset = text.parse().ok(),
                    b"repl-stream-db" => info.repl_stream_db = text.parse().ok(),
                    // Redis reads it with strtoll: a bad value counts as 0.
                    b"used-mem" => on_progress(Progress::UsedMem(text.parse().unwrap_or(0))),
                    _ => {}
                }
            }
            op::EXPIRETIME_MS => expire = Some(i64::from_le_bytes(c.take(8)?.try_into().unwrap())),
            op::EXPIRETIME => {
                expire = Some(i32::from_le_bytes(c.take(4)?.try_into().unwrap()) as i64 * 1000)
            }
            op::IDLE => idle = Some(c.len()?),
            op::FREQ => freq = Some(c.u8()?),
            op::MODULE_AUX => return c.err("module data is not supported by redrepl"),
            op::FUNCTION2 => info
                .functions
                .push(bytes::Bytes::from(c.string()?.to_vec())),
            op::FUNCTION => {
                return c.err("pre-7.0 function records (RDB_OPCODE_FUNCTION) are not supported");
            }
            _ => {
                let key = c.sds()?;
                let value = read_value(&mut c, t).map_err(|mut e| {
                    e.key = Some(String::from_utf8_lossy(&key).into_owned());
                    e
                })?;
                let at = expire.take();
                let field = access::loaded_field(freq.take(), idle.take());
                on_progress(Progress::Key(c.pos));
                let Some(value) = value else {
                    // An empty collection (written by no Redis version): skipped, as Redis.
                    info.empty_skipped += 1;
                    continue;
                };
                if drop_expired && at.is_some_and(|a| a <= now) {
                    info.expired_skipped += 1;
                    info.expired_keys.push((db, key.to_vec()));
                    continue;
                }
                let d = &mut dbs[db];
                let ttl_key = (at.is_some() || field.is_some()).then(|| key.clone());
                if let Err(key) = d.insert_if_absent(key, value) {
                    c.key = Some(String::from_utf8_lossy(&key).into_owned());
                    return c.err("duplicate key in the same database");
                }
                if let Some(k) = ttl_key {
                    if let Some(a) = at {
                        d.set_expire(&k, a);
                    }
                    d.set_access(&k, field);
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
    let Some(v) = read_value(&mut c, t)? else {
        return c.err("empty keys are not allowed");
    };
    // Bytes after the value are ignored, as Redis's RESTORE does (the checksum covers them).
    Ok(v)
}
