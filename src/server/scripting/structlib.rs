//! The `struct` library (Roberto Ierusalimschy's struct 0.2 as Redis 7.0 bundles it):
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])`, `struct.size(fmt)`.
//!
//! Formats: `>` big endian, `<` little endian, `![n]` alignment, `x` a pad byte, `b/B`
//! `h/H` `l/L` `T` `i/I[n]` signed/unsigned integers (1, 2, 8, 8, n bytes, n ≤ 32), `f`
//! float, `d` double, `s` zero-terminated string, `c[n]` n chars (`c0`: the whole string
//! when packing, the previously unpacked number as the length when unpacking), ` `.
//! Numbers are Lua numbers (doubles); integers are converted through `long` as Redis's C
//! code does. Errors are Redis's texts.

use super::bit::lua_type;
use mlua::{Lua, Table, Value, Variadic};

/// The largest `i/I` size.
const MAXINTSIZE: usize = 32;
/// The default `!` alignment (alignment of a double on x86-64).
const MAXALIGN: usize = 8;

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

fn arg_err(arg: usize, name: &str, msg: &str) -> mlua::Error {
    err(format!("bad argument #{arg} to '{name}' ({msg})"))
}

/// The state of a format walk: endianness and maximum alignment.
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format string read one option at a time.
struct Fmt<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    /// The number following an option, or `df` (overflow refused as Redis's patched getnum).
    fn num(&mut self, df: usize) -> mlua::Result<usize> {
        if !self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(df);
        }
        let mut a: i64 = 0;
        while let Some(d) = self.s.get(self.pos).filter(|d| d.is_ascii_digit()) {
            let d = (d - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                return Err(err("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.s.get(self.pos).copied();
        self.pos += 1;
        c.filter(|&c| c != 0)
    }

    /// optsize: the size of option `opt` (reads its count).
    fn size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.num(1)?,
            b'i' | b'I' => {
                let sz = self.num(4)?;
                if sz > MAXINTSIZE {
                    return Err(err(format!(
                        "integral size {sz} is larger than limit of {MAXINTSIZE}"
                    )));
                }
                sz
            }
            _ => 0,
        })
    }

    /// controloptions: endianness, alignment, spaces; anything else is invalid.
    fn control(&mut self, opt: u8, h: &mut Header, name: &str) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.num(MAXALIGN)?;
                if a == 0 || a & (a - 1) != 0 {
                    return Err(err(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
            }
            _ => {
                let msg = format!("invalid format option '{}'", opt as char);
                return Err(arg_err(1, name, &msg));
            }
        }
        Ok(())
    }
}

/// gettoalign: padding before an item of `size` at `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    if size == 0 {
        return 0;
    }
    (size - (len & (size - 1))) & (size - 1)
}

fn format_arg(v: Option<&Value>, name: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(crate::server::numbers::format_g(*n, 14).into_bytes()),
        other => Err(arg_err(
            1,
            name,
            &format!(
                "string expected, got {}",
                other.map_or("no value", lua_type)
            ),
        )),
    }
}

/// luaL_checknumber.
fn check_number(args: &[Value], i: usize, name: &str) -> mlua::Result<f64> {
    let v = args.get(i - 1);
    let n = match v {
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(Value::String(s)) => s.to_str().ok().and_then(|t| lua_str_number(&t)),
        _ => None,
    };
    n.ok_or_else(|| {
        arg_err(
            i,
            name,
            &format!("number expected, got {}", v.map_or("no value", lua_type)),
        )
    })
}

/// A string as Lua 5.1 converts it to a number (decimal or hex, spaces around).
fn lua_str_number(t: &str) -> Option<f64> {
    let t = t.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if neg { -v } else { v });
    }
    t.parse::<f64>()
        .ok()
        .filter(|_| !t.contains(['n', 'N', 'i', 'I']))
}

/// luaL_checklstring.
fn check_string(args: &[Value], i: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(crate::server::numbers::format_g(*n, 14).into_bytes()),
        v => Err(arg_err(
            i,
            name,
            &format!("string expected, got {}", v.map_or("no value", lua_type)),
        )),
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut buf = [0u8; MAXINTSIZE];
    for i in 0..size {
        let at = if little { i } else { size - 1 - i };
        buf[at] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&buf[..size]);
}

fn pack(lua: &Lua, mut args: Variadic<Value>) -> mlua::Result<mlua::String> {
    let fmt_bytes = format_arg(args.first(), "pack")?;
    // Redis's b_pack pushes a nil after the arguments (the mark separating them from its
    // string buffer): a missing value is reported as "got nil", not "got no value".
    args.push(Value::Nil);
    let mut fmt = Fmt {
        s: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::new();
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(&args, arg, "pack")?;
                arg += 1;
                put_integer(&mut out, n, h.little, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(&args, arg, "pack")? as f32;
                arg += 1;
                let b = if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'd' => {
                let d = check_number(&args, arg, "pack")?;
                arg += 1;
                let b = if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = check_string(&args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_err(arg, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(opt, &mut h, "pack")?,
        }
    }
    lua.create_string(&out)
}

fn get_integer(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if little { data[size - 1 - i] } else { data[i] };
        l = l.checked_shl(8).unwrap_or(0) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    let shift = (size * 8).saturating_sub(1) as u32;
    let mask = u64::MAX.checked_shl(shift).unwrap_or(0);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Variadic<Value>> {
    let fmt_bytes = format_arg(args.first(), "unpack")?;
    let data = check_string(&args, 2, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => check_number(&args, 3, "unpack")?,
    };
    let start = start as i64;
    if start <= 0 {
        return Err(arg_err(3, "unpack", "offset must be 1 or greater"));
    }
    let ld = data.len();
    let mut pos = (start - 1) as usize;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    let too_short = || arg_err(2, "unpack", "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size(opt)?;
        pos = pos.saturating_add(to_align(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_integer(&data[pos..], h.little, opt.is_ascii_lowercase(), size);
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or([0; 4]);
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or([0; 8]);
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::Integer(n)) => Some(*n as f64),
                        Some(Value::String(s)) => s.to_str().ok().and_then(|t| lua_str_number(&t)),
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(err("format 'c0' needs a previous size".into()));
                    };
                    out.pop();
                    size = if n <= 0.0 { 0 } else { n as usize };
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(z) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(err("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + z])?));
                size = z + 1;
            }
            _ => fmt.control(opt, &mut h, "unpack")?,
        }
        pos += size;
    }
    out.push(Value::Integer((pos + 1) as _));
    Ok(Variadic::from_iter(out))
}

fn size(_: &Lua, args: Variadic<Value>) -> mlua::Result<i64> {
    let fmt_bytes = format_arg(args.first(), "size")?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::new();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = fmt.size(opt)?;
        pos = pos.saturating_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_err(1, "size", "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_err(1, "size", "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h, "size")?;
        }
        pos = pos.saturating_add(size);
    }
    Ok(pos as i64)
}

/// The `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}
