//! `math.random` / `math.randomseed` as Redis replaces them (rand.c): the 48-bit lrand48
//! generator. Redis 7.0 replicates effects, so it reseeds it with a random value before
//! every script (`redisSrand48(rand())`); `math.randomseed(n)` gives Redis's sequence.

use mlua::{Lua, Value, Variadic};

/// lrand48's state.
#[derive(Debug, Clone, Copy)]
pub struct Lrand48(u64);

const MASK48: u64 = (1 << 48) - 1;
/// Redis's REDIS_LRAND48_MAX (INT32_MAX).
const LRAND48_MAX: i64 = i32::MAX as i64;

impl Lrand48 {
    /// srand48(seed).
    pub fn seeded(seed: i32) -> Lrand48 {
        Lrand48((((seed as u32) as u64) << 16 | 0x330E) & MASK48)
    }

    /// lrand48(): the next 31-bit value.
    pub fn next_value(&mut self) -> i64 {
        self.0 = (self.0.wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB)) & MASK48;
        (self.0 >> 17) as i64
    }
}

/// Reseeds (before each script, as Redis 7.0).
pub fn reset(lua: &Lua, seed: i32) {
    match lua.app_data_mut::<Lrand48>() {
        Some(mut g) => *g = Lrand48::seeded(seed),
        None => {
            lua.set_app_data(Lrand48::seeded(seed));
        }
    }
}

/// Replaces math.random and math.randomseed.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    reset(lua, 0);
    let math: mlua::Table = lua.globals().get("math")?;
    math.raw_set("random", lua.create_function(random)?)?;
    math.raw_set(
        "randomseed",
        lua.create_function(|lua, seed: Value| {
            let s = match seed {
                Value::Integer(n) => n as i32,
                Value::Number(n) => n as i64 as i32,
                Value::String(s) => s
                    .to_str()
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .map_or(0, |n| n as i64 as i32),
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "bad argument #1 to 'randomseed' (number expected)".into(),
                    ));
                }
            };
            lua.set_app_data(Lrand48::seeded(s));
            Ok(())
        })?,
    )?;
    Ok(())
}

fn arg(v: &Value, i: usize) -> mlua::Result<f64> {
    match v {
        Value::Integer(n) => Ok(*n as f64),
        Value::Number(n) => Ok(*n),
        _ => Err(mlua::Error::RuntimeError(format!(
            "bad argument #{i} to 'random' (number expected)"
        ))),
    }
}

fn random(lua: &Lua, args: Variadic<Value>) -> mlua::Result<f64> {
    let n = {
        let mut g = lua
            .app_data_mut::<Lrand48>()
            .ok_or_else(|| mlua::Error::RuntimeError("no generator".into()))?;
        g.next_value()
    };
    let r = (n % LRAND48_MAX) as f64 / LRAND48_MAX as f64;
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = arg(&args[0], 1)?.floor();
            if u < 1.0 {
                return Err(mlua::Error::RuntimeError(
                    "bad argument #1 to 'random' (interval is empty)".into(),
                ));
            }
            Ok((r * u).floor() + 1.0)
        }
        2 => {
            let l = arg(&args[0], 1)?.floor();
            let u = arg(&args[1], 2)?.floor();
            if l > u {
                return Err(mlua::Error::RuntimeError(
                    "bad argument #2 to 'random' (interval is empty)".into(),
                ));
            }
            Ok((r * (u - l + 1.0)).floor() + l)
        }
        _ => Err(mlua::Error::RuntimeError(
            "wrong number of arguments".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrand48_matches_libc_sequence() {
        // srand48(0); lrand48() x3 in glibc.
        let mut g = Lrand48::seeded(0);
        assert_eq!(g.next_value(), 366850414);
        assert_eq!(g.next_value(), 1610402240);
        assert_eq!(g.next_value(), 206956554);
    }
}
