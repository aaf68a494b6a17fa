//! The `cmsgpack` library (lua-cmsgpack 0.4.0 as Redis 7.0 bundles it): `pack(...)`,
//! `unpack(s)`, `unpack_one(s [, offset])`, `unpack_limit(s, limit [, offset])`.
//!
//! Packing follows the C code: integral numbers (as int64) get the smallest integer
//! encoding, other numbers float32 when exact, else float64; a table whose keys are
//! exactly 1..n is an array, anything else a map (in `next` order); tables nested deeper
//! than 16 and values of other types pack as nil. Unpacking reads every MessagePack type
//! Redis reads (str as Lua strings; bin 8/16/32, unknown to 0.4.0, are bad data format);
//! errors are Redis's texts. Decoding depth is bounded so that no input can exhaust the
//! stack.

use mlua::{Lua, Table, Value, Variadic};

/// Tables nested deeper than this pack as nil (LUACMSGPACK_MAX_NESTING).
const MAX_NESTING: usize = 16;
/// Deepest structure unpacked (Lua's own stack would refuse far less).
const MAX_DECODE_DEPTH: usize = 1000;

fn err(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.to_string())
}

/// IS_INT64_EQUIVALENT.
fn int64_equivalent(n: f64) -> Option<i64> {
    (n.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n))
        .then_some(n as i64)
        .filter(|&i| i as f64 == n)
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if let Some(i) = int64_equivalent(n) {
        return encode_int(out, i);
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A header: the fix form below `fix_max`, else `op16` / `op32` with a 16/32-bit length.
fn header(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, op16: u8, op32: u8) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(op16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(op32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// table_is_an_array: every key a positive integral number, and as many as the largest.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n != (n as i32) as f64 {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_number(out, *n as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Table(_) if level == MAX_NESTING => out.push(0xc0),
        Value::Table(t) => {
            if is_array(t)? {
                let len = t.raw_len();
                header(out, len, 0x90, 16, 0xdc, 0xdd);
                for i in 1..=len {
                    encode(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            } else {
                let len = t.clone().pairs::<Value, Value>().count();
                header(out, len, 0x80, 16, 0xde, 0xdf);
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    encode(out, &k, level + 1)?;
                    encode(out, &v, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    if args.is_empty() {
        return Err(err(
            "bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ));
    }
    let mut out = Vec::new();
    for a in args.iter() {
        encode(&mut out, a, 0)?;
    }
    lua.create_string(&out)
}

/// Why decoding stopped.
enum Stop {
    /// The input ended inside an object.
    Eof,
    /// An unknown type byte (or a value Lua cannot hold, such as a nil key).
    BadFormat,
    /// A Lua error.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Stop {
        Stop::Lua(e)
    }
}

struct Cursor<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        if self.s.len() - self.pos < n {
            return Err(Stop::Eof);
        }
        let s: &'a [u8] = self.s;
        let b = &s[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn be(&mut self, n: usize) -> Result<u64, Stop> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    fn string(&mut self, len: usize) -> Result<Value, Stop> {
        let b = self.take(len)?;
        Ok(Value::String(self.lua.create_string(b)?))
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, Stop> {
        let t = self.lua.create_table()?;
        for i in 1..=len {
            let v = self.value(depth + 1)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, Stop> {
        let t = self.lua.create_table()?;
        for _ in 0..len {
            let k = self.value(depth + 1)?;
            let v = self.value(depth + 1)?;
            match k {
                Value::Nil => return Err(Stop::Lua(err("table index is nil"))),
                Value::Number(n) if n.is_nan() => {
                    return Err(Stop::Lua(err("table index is NaN")));
                }
                k => t.raw_set(k, v)?,
            }
        }
        Ok(Value::Table(t))
    }

    fn value(&mut self, depth: usize) -> Result<Value, Stop> {
        if depth > MAX_DECODE_DEPTH {
            return Err(Stop::Lua(err("too many nested structures")));
        }
        let t = self.take(1)?[0];
        Ok(match t {
            0x00..=0x7f => Value::Number(t as f64),
            0xe0..=0xff => Value::Number(t as i8 as f64),
            0xa0..=0xbf => self.string((t & 0x1f) as usize)?,
            0x90..=0x9f => self.array((t & 0x0f) as usize, depth)?,
            0x80..=0x8f => self.map((t & 0x0f) as usize, depth)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(self.be(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.be(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.be(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xca => Value::Number(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xd9 => {
                let n = self.be(1)? as usize;
                self.string(n)?
            }
            0xda => {
                let n = self.be(2)? as usize;
                self.string(n)?
            }
            0xdb => {
                let n = self.be(4)? as usize;
                self.string(n)?
            }
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(n, depth)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(n, depth)?
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(n, depth)?
            }
            _ => return Err(Stop::BadFormat),
        })
    }
}

/// luaL_checkinteger-style argument (numbers and numeric strings, truncated).
fn int_arg(args: &[Value], i: usize, name: &str, default: Option<i64>) -> mlua::Result<i64> {
    match args.get(i - 1) {
        None | Some(Value::Nil) if default.is_some() => Ok(default.unwrap_or(0)),
        Some(Value::Integer(n)) => Ok(*n),
        Some(Value::Number(n)) => Ok(*n as i64),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map(|n| n as i64)
            .ok_or_else(|| bad_arg(i, name, "number", args.get(i - 1))),
        other => Err(bad_arg(i, name, "number", other)),
    }
}

fn bad_arg(i: usize, name: &str, want: &str, got: Option<&Value>) -> mlua::Error {
    mlua::Error::RuntimeError(format!(
        "bad argument #{i} to '{name}' ({want} expected, got {})",
        got.map_or("no value", super::bit::lua_type)
    ))
}

/// mp_unpack_full: up to `limit` objects from `offset` (0, 0: all of them, no offset
/// returned).
fn unpack_full(
    lua: &Lua,
    args: &[Value],
    name: &str,
    limit: i64,
    offset: i64,
) -> mlua::Result<Variadic<Value>> {
    let s = match args.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(Value::Integer(n)) => n.to_string().into_bytes(),
        Some(Value::Number(n)) => crate::server::numbers::format_g(*n, 14).into_bytes(),
        other => return Err(bad_arg(1, name, "string", other)),
    };
    let decode_all = limit == 0 && offset == 0;
    let len = s.len() as i64;
    if offset < 0 || limit < 0 {
        return Err(err(&format!(
            "Invalid request to unpack with offset of {offset} and limit of {len}."
        )));
    } else if offset > len {
        return Err(err(&format!(
            "Start offset {offset} greater than input length {len}."
        )));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let mut c = Cursor {
        lua,
        s: &s,
        pos: offset as usize,
    };
    let mut out = Vec::new();
    let mut cnt = 0;
    while c.pos < s.len() && cnt < limit {
        match c.value(0) {
            Ok(v) => out.push(v),
            Err(Stop::Eof) => return Err(err("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(err("Bad data format in input.")),
            Err(Stop::Lua(e)) => return Err(e),
        }
        cnt += 1;
    }
    if !decode_all {
        let next = if c.pos == s.len() { -1 } else { c.pos as i64 };
        out.insert(0, Value::Integer(next as _));
    }
    Ok(Variadic::from_iter(out))
}

/// The `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: Variadic<Value>| unpack_full(lua, &a, "unpack", 0, 0))?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, a: Variadic<Value>| {
            let offset = int_arg(&a, 2, "unpack_one", Some(0))?;
            unpack_full(lua, &a, "unpack_one", 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, a: Variadic<Value>| {
            let limit = int_arg(&a, 2, "unpack_limit", None)?;
            let offset = int_arg(&a, 3, "unpack_limit", Some(0))?;
            unpack_full(lua, &a, "unpack_limit", limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}
