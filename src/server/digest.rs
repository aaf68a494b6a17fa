//! DEBUG DIGEST and DEBUG DIGEST-VALUE with Redis 7.0's algorithm (debug.c), so that the
//! same dataset gives the same 40 hex digits on redrepl and on redis-server.
//!
//! `mix` folds bytes in order-dependently (SHA1 of xor), `xor` order-independently; sets,
//! hashes and sorted sets are xor-combined per element, lists mixed in order.

use super::db::Db;
use super::numbers::format_double;
use super::types::Value;
use sha1::{Digest, Sha1};

type D = [u8; 20];

fn sha1(bytes: &[u8]) -> D {
    let mut h = Sha1::new();
    h.update(bytes);
    h.finalize().into()
}

/// Redis `xorDigest`: digest ^= SHA1(bytes).
fn xor(digest: &mut D, bytes: &[u8]) {
    let h = sha1(bytes);
    for (d, x) in digest.iter_mut().zip(h) {
        *d ^= x;
    }
}

/// Redis `mixDigest`: xor, then digest = SHA1(digest).
fn mix(digest: &mut D, bytes: &[u8]) {
    xor(digest, bytes);
    *digest = sha1(digest);
}

/// The digest of one value (Redis `xorObjectDigest` on a zeroed digest, as DEBUG
/// DIGEST-VALUE): the type code, the value, and the "!!expire!!" marker for volatile keys.
pub fn value_digest(value: &Value, has_expire: bool) -> D {
    let mut d = [0u8; 20];
    object_digest(&mut d, value, has_expire);
    d
}

/// Redis `xorObjectDigest`: mixes in the type code (OBJ_STRING 0, LIST 1, SET 2, ZSET 3,
/// HASH 4, STREAM 6, as a big-endian u32) before the value, and xors "!!expire!!" in for keys with
/// a TTL.
fn object_digest(d: &mut D, value: &Value, has_expire: bool) {
    let code: u32 = match value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix(d, &code.to_be_bytes());
    mix_value(d, value);
    if has_expire {
        xor(d, b"!!expire!!");
    }
}

fn mix_value(d: &mut D, value: &Value) {
    match value {
        Value::Str(s) => mix(d, s),
        Value::List(l) => {
            for e in l.iter() {
                mix(d, &e);
            }
        }
        Value::Set(s) => {
            for m in s.iter() {
                xor(d, &m);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, &m);
                mix(&mut e, format_double(score).as_bytes());
                xor(d, &e);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, &f);
                mix(&mut e, &v);
                xor(d, &e);
            }
        }
        Value::Stream(st) => {
            // Every entry in order: "<ms>.<seq>", then each field and value. Groups are
            // not part of the digest (debug.c).
            st.for_range(
                super::types::stream::StreamId::MIN,
                super::types::stream::StreamId::MAX,
                false,
                |id, fields| {
                    mix(d, format!("{}.{}", id.ms, id.seq).as_bytes());
                    for (f, v) in fields {
                        mix(d, &f.bytes());
                        mix(d, &v.bytes());
                    }
                    true
                },
            );
        }
    }
}

/// The digest of all databases (Redis `computeDatasetDigest`); all zeros when empty.
pub fn dataset_digest(dbs: &[Db]) -> D {
    let mut fin = [0u8; 20];
    for (j, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut fin, &(j as u32).to_be_bytes());
        for e in db.iter() {
            let mut d = [0u8; 20];
            mix(&mut d, &e.key);
            object_digest(&mut d, &e.value, db.expire_at(&e.key).is_some());
            // Redis: xorDigest(final, digest, 20), i.e. final ^= SHA1(digest).
            xor(&mut fin, &d);
        }
    }
    fin
}

/// Lower-case hex of a digest.
pub fn hex(d: &D) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
