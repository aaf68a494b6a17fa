//! The `cjson` library as Redis bundles it (lua-cjson 2.1): `encode` with `%.14g` numbers,
//! `\/` escaped, sparse-array and nesting checks; `decode` to tables with `cjson.null`.

use mlua::{LightUserData, Lua, Table, Value};

/// Nesting limit of encode and decode (lua-cjson's default 1000).
const MAX_DEPTH: usize = 1000;

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

/// The `cjson` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            encode(&mut out, &v, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, args: mlua::Variadic<Value>| {
            // luaL_argcheck(top == 1) then luaL_checklstring (a number is its text).
            let bad = |what: String| {
                mlua::Error::RuntimeError(format!("bad argument #1 to 'decode' ({what})"))
            };
            if args.len() != 1 {
                return Err(bad("expected 1 argument".into()));
            }
            let s = match &args[0] {
                Value::String(s) => s.clone(),
                v @ (Value::Integer(_) | Value::Number(_)) => lua
                    .coerce_string(v.clone())?
                    .ok_or_else(|| bad("string expected, got number".into()))?,
                v => {
                    return Err(bad(format!(
                        "string expected, got {}",
                        super::bit::lua_type(v)
                    )));
                }
            };
            let bytes = s.as_bytes();
            let mut d = Decoder {
                lua,
                s: &bytes,
                pos: 0,
            };
            d.skip_ws();
            let v = d.value(0)?;
            d.skip_ws();
            if d.pos < d.s.len() {
                return Err(d.unexpected("the end"));
            }
            Ok(v)
        })?,
    )?;
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn number(out: &mut Vec<u8>, n: f64) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(err("Cannot serialise number: must not be NaN or Inf".into()));
    }
    out.extend_from_slice(crate::server::numbers::format_g(n, 14).as_bytes());
    Ok(())
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// The array length of `t` when every key is a positive integer (0 for an empty table),
/// None for an object; lua-cjson's "excessively sparse" rule.
fn array_length(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let idx = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            _ => return Ok(None),
        };
        max = max.max(idx);
        items += 1;
    }
    if max > 10 && max > items * 2 {
        return Err(err(
            "Cannot serialise table: excessively sparse array".into()
        ));
    }
    Ok(Some(max))
}

fn encode(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => number(out, *n as f64)?,
        Value::Number(n) => number(out, *n)?,
        Value::String(s) => string(out, &s.as_bytes()),
        Value::Table(t) => {
            if depth + 1 > MAX_DEPTH {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                )));
            }
            match array_length(t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode(out, &t.raw_get::<Value>(i)?, depth + 1)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => string(out, &s.as_bytes()),
                            Value::Integer(n) => {
                                out.push(b'"');
                                number(out, *n as f64)?;
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                number(out, *n)?;
                                out.push(b'"');
                            }
                            other => {
                                return Err(err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                )));
                            }
                        }
                        out.push(b':');
                        encode(out, &val, depth + 1)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )));
        }
    }
    Ok(())
}

struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn skip_ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> mlua::Error {
        let found = match self.s.get(self.pos) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b',') => "T_COMMA",
            Some(b':') => "T_COLON",
            Some(b'"') => "T_STRING",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            _ if self.s[self.pos..].starts_with(b"true")
                || self.s[self.pos..].starts_with(b"false") =>
            {
                "T_BOOLEAN"
            }
            _ if self.s[self.pos..].starts_with(b"null") => "T_NULL",
            _ => "invalid token",
        };
        err(format!(
            "Expected {expected} but found {found} at character {}",
            self.pos + 1
        ))
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        match self.s.get(self.pos) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b't') if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(Value::LightUserData(LightUserData(std::ptr::null_mut())))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("value")),
        }
    }

    fn nest(&self, depth: usize) -> mlua::Result<()> {
        if depth > MAX_DEPTH {
            return Err(err(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.pos + 1
            )));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> mlua::Result<Value> {
        self.nest(depth)?;
        self.pos += 1;
        let t = self.lua.create_table()?;
        self.skip_ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.unexpected("object key string"));
            }
            let k = self.string()?;
            self.skip_ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.unexpected("colon"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value(depth)?;
            t.raw_set(self.lua.create_string(k)?, v)?;
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.unexpected("comma or object end")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> mlua::Result<Value> {
        self.nest(depth)?;
        self.pos += 1;
        let t = self.lua.create_table()?;
        self.skip_ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            self.skip_ws();
            let v = self.value(depth)?;
            t.raw_set(i, v)?;
            i += 1;
            self.skip_ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.unexpected("comma or array end")),
            }
        }
    }

    fn number(&mut self) -> mlua::Result<Value> {
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => {
                self.pos = start;
                Err(self.unexpected("value"))
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.pos..self.pos + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                self.pos = start;
                return Err(self.unexpected("value"));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = self.s.get(self.pos).copied();
                    self.pos += 1;
                    match e {
                        Some(b'"') => out.push(b'"'),
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'/') => out.push(b'/'),
                        Some(b'b') => out.push(8),
                        Some(b'f') => out.push(12),
                        Some(b'n') => out.push(b'\n'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'u') => {
                            let mut cp = self.hex4().ok_or_else(|| self.bad_escape(start))?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4().ok_or_else(|| self.bad_escape(start))?;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00));
                            }
                            let ch = char::from_u32(cp).ok_or_else(|| self.bad_escape(start))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.bad_escape(start)),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn bad_escape(&self, start: usize) -> mlua::Error {
        err(format!(
            "Expected value but found invalid unicode escape code at character {}",
            start + 1
        ))
    }
}
