//! The `bit` library (LuaBitOp 1.0, as Redis bundles it): 32-bit operations on Lua
//! numbers, results as signed 32-bit integers.

use mlua::{Lua, Table, Value, Variadic};

/// LuaBitOp's tobit: the number modulo 2^32, rounded to the nearest integer, as i32.
fn tobit(n: f64) -> i32 {
    // Adding 2^52 + 2^51 puts the integer part in the low mantissa bits (round to even).
    let b = n + 6755399441055744.0;
    b.to_bits() as u32 as i32
}

/// Lua's name of a value's type (argument errors).
pub fn lua_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        _ => "userdata",
    }
}

fn check(v: Option<&Value>, i: usize, name: &str) -> mlua::Result<i32> {
    let n = match v {
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(Value::String(s)) => s.to_str().ok().and_then(|t| t.trim().parse::<f64>().ok()),
        _ => None,
    };
    n.map(tobit).ok_or_else(|| {
        mlua::Error::RuntimeError(format!(
            "bad argument #{i} to '{name}' (number expected, got {})",
            v.map_or("no value", lua_type)
        ))
    })
}

type Op = fn(i32, i32) -> i32;

fn fold(lua: &Lua, name: &'static str, op: Op) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, args: Variadic<Value>| {
        let mut acc = check(args.first(), 1, name)?;
        for (i, a) in args.iter().enumerate().skip(1) {
            acc = op(acc, check(Some(a), i + 1, name)?);
        }
        Ok(acc)
    })
}

fn shift(lua: &Lua, name: &'static str, op: Op) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, args: Variadic<Value>| {
        let x = check(args.first(), 1, name)?;
        let n = check(args.get(1), 2, name)?;
        Ok(op(x, n & 31))
    })
}

/// The `bit` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, args: Variadic<Value>| check(args.first(), 1, "tobit"))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, args: Variadic<Value>| Ok(!check(args.first(), 1, "bnot")?))?,
    )?;
    t.raw_set("band", fold(lua, "band", |a, b| a & b)?)?;
    t.raw_set("bor", fold(lua, "bor", |a, b| a | b)?)?;
    t.raw_set("bxor", fold(lua, "bxor", |a, b| a ^ b)?)?;
    t.raw_set(
        "lshift",
        shift(lua, "lshift", |x, n| ((x as u32) << n) as i32)?,
    )?;
    t.raw_set(
        "rshift",
        shift(lua, "rshift", |x, n| ((x as u32) >> n) as i32)?,
    )?;
    t.raw_set("arshift", shift(lua, "arshift", |x, n| x >> n)?)?;
    t.raw_set(
        "rol",
        shift(lua, "rol", |x, n| (x as u32).rotate_left(n as u32) as i32)?,
    )?;
    t.raw_set(
        "ror",
        shift(lua, "ror", |x, n| (x as u32).rotate_right(n as u32) as i32)?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, args: Variadic<Value>| {
            Ok((check(args.first(), 1, "bswap")? as u32).swap_bytes() as i32)
        })?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, args: Variadic<Value>| {
            let x = check(args.first(), 1, "tohex")? as u32;
            let mut n = match args.get(1) {
                None | Some(Value::Nil) => 8,
                a => check(a, 2, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                n = n.wrapping_neg();
            }
            let n = n.clamp(1, 8) as usize;
            let s = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_and_rounds() {
        assert_eq!(tobit(0xffffffffu32 as f64), -1);
        assert_eq!(tobit(4294967296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
    }
}
