//! RDB encoder: writes a dataset in the encodings Redis 7.0 loads, with a running CRC64.

use super::{SaveInfo, op};
use crate::server::db::Db;
use crate::server::types::Value;
use std::io::{self, Write};

/// A writer that keeps the CRC64 of everything written.
pub struct RdbWriter<W: Write> {
    out: W,
    crc: u64,
    checksum: bool,
    compress: bool,
    lzf: super::lzf::Compressor,
    lzf_out: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    /// Wraps `out`. `checksum`: compute the trailer (else zero); `compress`: LZF for strings.
    pub fn new(out: W, checksum: bool, compress: bool) -> Self {
        RdbWriter {
            out,
            crc: 0,
            checksum,
            compress,
            lzf: super::lzf::Compressor::default(),
            lzf_out: Vec::new(),
        }
    }

    pub(super) fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::crc64(self.crc, b);
        }
        self.out.write_all(b)
    }

    /// A length in RDB's variable encoding.
    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.raw(&[0x80])?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.raw(&[0x81])?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// A string: integer-encoded when it is a small canonical integer, LZF-compressed when
    /// that helps (strings over 20 bytes, as Redis), raw otherwise.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11
            && let Some(v) = crate::server::numbers::parse_i64(s)
        {
            if let Ok(v) = i8::try_from(v) {
                return self.raw(&[0xC0, v as u8]);
            } else if let Ok(v) = i16::try_from(v) {
                self.raw(&[0xC1])?;
                return self.raw(&v.to_le_bytes());
            } else if let Ok(v) = i32::try_from(v) {
                self.raw(&[0xC2])?;
                return self.raw(&v.to_le_bytes());
            }
        }
        // As Redis: only when it saves at least 4 bytes.
        if self.compress && s.len() > 20 {
            let mut c = std::mem::take(&mut self.lzf_out);
            let done = if self.lzf.compress(s, &mut c, s.len() - 4) {
                self.raw(&[0xC3])?;
                self.len(c.len() as u64)?;
                self.len(s.len() as u64)?;
                self.raw(&c).map(|_| true)
            } else {
                Ok(false)
            };
            self.lzf_out = c;
            if done? {
                return Ok(());
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    fn aux(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        self.raw(&[op::AUX])?;
        self.string(key.as_bytes())?;
        self.string(value)
    }

    /// The header and AUX fields.
    pub fn header(&mut self, info: &SaveInfo, used_mem: usize) -> io::Result<()> {
        self.raw(format!("REDIS{:04}", super::RDB_VERSION).as_bytes())?;
        self.aux("redis-ver", crate::server::REDIS_VERSION.as_bytes())?;
        self.aux("redis-bits", b"64")?;
        let ctime = crate::server::clock::now_ms() / 1000;
        self.aux("ctime", ctime.to_string().as_bytes())?;
        self.aux("used-mem", used_mem.to_string().as_bytes())?;
        if info.aof_base {
            self.aux("aof-base", b"1")?;
        } else {
            self.aux("repl-stream-db", info.repl_stream_db.to_string().as_bytes())?;
            self.aux("repl-id", info.repl_id.as_bytes())?;
            self.aux("repl-offset", info.repl_offset.to_string().as_bytes())?;
            self.aux("aof-base", b"0")?;
        }
        // Function libraries come before the databases, as Redis writes them.
        for code in &info.functions {
            self.raw(&[op::FUNCTION2])?;
            self.string(code)?;
        }
        Ok(())
    }

    /// The type byte `value` writes.
    pub fn type_byte(v: &Value) -> u8 {
        match v {
            Value::Str(_) => op::STRING,
            Value::List(_) => op::LIST,
            Value::Set(_) => op::SET,
            Value::Hash(_) => op::HASH,
            Value::ZSet(_) => op::ZSET_2,
            Value::Stream(_) => op::STREAM_LISTPACKS_2,
        }
    }

    /// One value's payload (after its type byte and key).
    pub fn value(&mut self, v: &Value) -> io::Result<()> {
        match v {
            Value::Str(s) => self.string(s),
            Value::List(l) => {
                self.len(l.len() as u64)?;
                for e in l.iter() {
                    self.string(&e)?;
                }
                Ok(())
            }
            Value::Set(s) => {
                self.len(s.len() as u64)?;
                for m in s.iter() {
                    self.string(&m)?;
                }
                Ok(())
            }
            Value::Hash(h) => {
                self.len(h.len() as u64)?;
                for (f, v) in h.iter() {
                    self.string(&f)?;
                    self.string(&v)?;
                }
                Ok(())
            }
            Value::ZSet(z) => {
                self.len(z.len() as u64)?;
                // Redis writes from the highest score down so loading appends at the head.
                let items: Vec<_> = z.iter().collect();
                for (m, score) in items.iter().rev() {
                    self.string(m)?;
                    self.raw(&score.to_le_bytes())?;
                }
                Ok(())
            }
            Value::Stream(st) => super::stream::write(self, st),
        }
    }

    /// One database: SELECTDB, RESIZEDB and every entry (with its expiry, and as Redis's
    /// rdbSaveKeyValuePair its idle time under an LRU policy or its LFU counter under LFU).
    pub fn db(&mut self, index: usize, db: &Db) -> io::Result<()> {
        use crate::server::db::access::{self, Mode};
        let mode = access::mode();
        if db.is_empty() {
            return Ok(());
        }
        self.raw(&[op::SELECTDB])?;
        self.len(index as u64)?;
        self.raw(&[op::RESIZEDB])?;
        self.len(db.len() as u64)?;
        self.len(db.expires_len() as u64)?;
        for e in db.iter() {
            if let Some(at) = db.expire_at(&e.key) {
                self.raw(&[op::EXPIRETIME_MS])?;
                self.raw(&at.to_le_bytes())?;
            }
            match mode {
                Mode::Lru => {
                    self.raw(&[op::IDLE])?;
                    self.len(access::idle_seconds(e.atime))?;
                }
                Mode::Lfu => self.raw(&[op::FREQ, access::counter(e.atime) as u8])?,
                Mode::Other => {}
            }
            self.raw(&[Self::type_byte(&e.value)])?;
            self.string(&e.key)?;
            self.value(&e.value)?;
        }
        Ok(())
    }

    /// EOF and the checksum; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.raw(&[op::EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a whole dataset.
pub fn write_dataset<W: Write>(
    out: W,
    dbs: &[Db],
    info: &SaveInfo,
    checksum: bool,
    compress: bool,
) -> io::Result<W> {
    let mut w = RdbWriter::new(out, checksum, compress);
    w.header(info, crate::server::alloc::allocated())?;
    for (i, db) in dbs.iter().enumerate() {
        w.db(i, db)?;
    }
    w.finish()
}

/// Serializes one value (type byte + payload), as DUMP does.
pub fn encode_value(v: &Value, compress: bool) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), false, compress);
    // Writing into a Vec cannot fail.
    let _ = w.raw(&[RdbWriter::<Vec<u8>>::type_byte(v)]);
    let _ = w.value(v);
    w.out
}
