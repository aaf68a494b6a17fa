//! RDB files in Redis 7.0's format (version 10): the encoder ([`writer`]), the decoder
//! ([`reader`], with [`blobs`] for the packed encodings inside values) and the save/load operations on a whole dataset.
//!
//! Format facts (from Redis's rdb.h / rdb.c): a `REDIS0010` header, AUX fields, per database a
//! SELECTDB and RESIZEDB, then entries (optional EXPIRETIME_MS, a type byte, the key, the
//! value), EOF, and a CRC-64/Jones checksum of everything before it (little-endian; zero when
//! `rdbchecksum no`).

pub mod autosync;
pub mod blobs;
pub mod lzf;
pub mod reader;
pub mod stream;
pub mod writer;

/// The RDB version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;

/// Opcodes and type bytes.
pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;

    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// What a save records besides the data (AUX fields).
#[derive(Clone, Debug, Default)]
pub struct SaveInfo {
    /// `repl-id` (40 hex chars).
    pub repl_id: String,
    /// `repl-offset`.
    pub repl_offset: i64,
    /// `repl-stream-db`.
    pub repl_stream_db: i64,
    /// The code of every function library (RDB_OPCODE_FUNCTION2 records).
    pub functions: Vec<bytes::Bytes>,
    /// An AOF base file: `aof-base 1` and no replication fields, as Redis's rewrite writes.
    pub aof_base: bool,
}
