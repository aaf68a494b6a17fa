//! Conversions between replies and Lua values, as Redis 7.0 documents them.
//!
//! Reply → Lua ([`reply_to_lua`], what `redis.call` returns): integer → number, bulk →
//! string, null bulk/array → false (RESP2) or nil (RESP3 null), array → table, status →
//! `{ok=...}`, error → `{err=...}`, and in RESP3 map → `{map=...}`, set → `{set=...}`,
//! double → `{double=...}`, boolean → boolean, big number → `{big_number=...}`, verbatim →
//! `{verbatim_string={format=..., string=...}}`.
//!
//! Lua → reply ([`lua_to_reply`], what a script returns): string → bulk, number → integer
//! (truncated), boolean → 1/null (RESP2) or a RESP3 boolean, tables with `err`, `ok`,
//! `double`, `big_number`, `map`, `set`, `verbatim_string` → that type, other tables →
//! arrays up to the first nil, anything else → null.

use crate::resp::{Proto, ReplyBuf};
use mlua::{Lua, Table, Value};

/// Nesting beyond which a returned table is answered with Redis's stack-limit error.
const MAX_DEPTH: usize = 1000;

/// Parses one RESP reply from `buf` at `*pos` into a Lua value.
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let kind = buf[*pos];
    let line_end = find_crlf(buf, *pos + 1);
    let line = &buf[*pos + 1..line_end];
    *pos = line_end + 2;
    let num = || -> i64 {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    Ok(match kind {
        b'+' => single(lua, "ok", Value::String(lua.create_string(line)?))?,
        b'-' => single(lua, "err", Value::String(lua.create_string(line)?))?,
        b':' => Value::Integer(num()),
        b'$' | b'=' => {
            let n = num();
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = &buf[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            if kind == b'$' {
                Value::String(lua.create_string(data)?)
            } else {
                let inner = lua.create_table()?;
                inner.raw_set("format", lua.create_string(&data[..3.min(data.len())])?)?;
                inner.raw_set("string", lua.create_string(&data[4.min(data.len())..])?)?;
                single(lua, "verbatim_string", Value::Table(inner))?
            }
        }
        b'*' => {
            let n = num();
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            for i in 1..=n {
                t.raw_set(i, reply_to_lua(lua, buf, pos)?)?;
            }
            Value::Table(t)
        }
        b'%' | b'~' => {
            let t = lua.create_table()?;
            for _ in 0..num() {
                let k = reply_to_lua(lua, buf, pos)?;
                let v = if kind == b'%' {
                    reply_to_lua(lua, buf, pos)?
                } else {
                    Value::Boolean(true)
                };
                t.raw_set(k, v)?;
            }
            single(
                lua,
                if kind == b'%' { "map" } else { "set" },
                Value::Table(t),
            )?
        }
        b',' => {
            let d = std::str::from_utf8(line)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => s.parse().ok(),
                })
                .unwrap_or(0.0);
            single(lua, "double", Value::Number(d))?
        }
        b'#' => Value::Boolean(line == b"t"),
        b'(' => single(lua, "big_number", Value::String(lua.create_string(line)?))?,
        _ => Value::Nil,
    })
}

fn find_crlf(buf: &[u8], from: usize) -> usize {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(buf.len(), |p| from + p)
}

fn single(lua: &Lua, key: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(key, v)?;
    Ok(Value::Table(t))
}

/// Writes what a script returned as the reply to its caller. `script_resp` is the
/// protocol the script chose with `redis.setresp` (booleans depend on it).
pub fn lua_to_reply(out: &mut ReplyBuf, v: &Value, script_resp: u8) -> mlua::Result<()> {
    write(out, v, script_resp, 0)
}

fn write(out: &mut ReplyBuf, v: &Value, resp: u8, depth: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp == 2 {
                if *b { out.int(1) } else { out.null() }
            } else {
                boolean(out, *b)
            }
        }
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(c_long_long(*n)),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                out.error("ERR reached lua stack limit");
                return Ok(());
            }
            table(out, t, resp, depth)?
        }
        _ => out.null(),
    }
    Ok(())
}

fn boolean(out: &mut ReplyBuf, b: bool) {
    match out.proto {
        Proto::Resp3 => out.raw(if b { b"#t\r\n" } else { b"#f\r\n" }),
        Proto::Resp2 => out.int(b as i64),
    }
}

/// An error reply of raw bytes (a Lua string need not be UTF-8), CR and LF made spaces
/// as Redis's addReplyErrorLength does.
pub fn error_bytes(out: &mut ReplyBuf, text: &[u8]) {
    let mut line = Vec::with_capacity(text.len() + 3);
    line.push(b'-');
    line.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    line.extend_from_slice(b"\r\n");
    out.raw(&line);
}

fn table(out: &mut ReplyBuf, t: &Table, resp: u8, depth: usize) -> mlua::Result<()> {
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        error_bytes(out, &e.as_bytes());
        return Ok(());
    }
    if let Value::String(s) = t.raw_get::<Value>("ok")? {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        out.simple(&text);
        return Ok(());
    }
    match t.raw_get::<Value>("double")? {
        Value::Number(d) => {
            out.double(d);
            return Ok(());
        }
        Value::Integer(d) => {
            out.double(d as f64);
            return Ok(());
        }
        _ => {}
    }
    if let Value::String(s) = t.raw_get::<Value>("big_number")? {
        match out.proto {
            Proto::Resp3 => {
                out.raw(b"(");
                out.raw(&s.as_bytes());
                out.raw(b"\r\n");
            }
            Proto::Resp2 => out.bulk(&s.as_bytes()),
        }
        return Ok(());
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().collect::<Result<_, _>>()?;
        out.map(pairs.len());
        for (k, v) in &pairs {
            write(out, k, resp, depth + 1)?;
            write(out, v, resp, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        out.set(keys.len());
        for k in &keys {
            write(out, k, resp, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(vs) = t.raw_get::<Value>("verbatim_string")? {
        let format: Option<mlua::String> = vs.raw_get("format")?;
        let string: Option<mlua::String> = vs.raw_get("string")?;
        if let (Some(f), Some(s)) = (format, string) {
            let (f, s) = (f.as_bytes(), s.as_bytes());
            match out.proto {
                Proto::Resp3 => {
                    out.raw(format!("={}\r\n", s.len() + 4).as_bytes());
                    out.raw(&f[..3.min(f.len())]);
                    out.raw(b":");
                    out.raw(&s);
                    out.raw(b"\r\n");
                }
                Proto::Resp2 => out.bulk(&s),
            }
            return Ok(());
        }
    }
    let mut items = Vec::new();
    loop {
        let v: Value = t.raw_get(items.len() + 1)?;
        if v.is_nil() {
            break;
        }
        items.push(v);
    }
    out.array(items.len());
    for v in &items {
        write(out, v, resp, depth + 1)?;
    }
    Ok(())
}

/// C's `(long long)` cast of a double as x86-64 does it (cvttsd2si): the value truncated,
/// and the "integer indefinite" i64::MIN for NaN and anything outside the range (Rust's `as`
/// saturates instead): `return 1e23` replies -9223372036854775808 in Redis.
fn c_long_long(n: f64) -> i64 {
    // NaN is in no range either.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}
