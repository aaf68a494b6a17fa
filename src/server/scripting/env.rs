//! Builds the interpreter with Redis 7.0's environment: base (without loadfile, dofile,
//! print), table, string, math (Redis's deterministic random), cjson, bit, struct,
//! cmsgpack, the `redis` table, and globals protected as Redis protects them
//! (prelude.lua).

use super::Watchdog;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::sync::Arc;

/// The Lua side of the environment.
const PRELUDE: &str = include_str!("prelude.lua");

/// Creates the interpreter; returns it and the bridge table (see prelude.lua).
pub fn create(watchdog: &Arc<Watchdog>) -> mlua::Result<(Lua, Table)> {
    // SAFETY: the debug library is only reachable from the prelude's own locals (its error
    // handler); the prelude removes the global before any script runs.
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::new(),
        )
    };
    let globals = lua.globals();
    super::rand::install(&lua)?;
    globals.raw_set("cjson", super::cjson::library(&lua)?)?;
    globals.raw_set("bit", super::bit::library(&lua)?)?;
    globals.raw_set("struct", super::structlib::library(&lua)?)?;
    globals.raw_set("cmsgpack", super::cmsgpack::library(&lua)?)?;

    let bridge = lua.create_table()?;
    let redis = lua.create_table()?;
    redis.raw_set("REDIS_VERSION", crate::server::REDIS_VERSION)?;
    redis.raw_set(
        "REDIS_VERSION_NUM",
        version_num(crate::server::REDIS_VERSION),
    )?;
    bridge.raw_set("redis", redis)?;
    bridge.raw_set("resp", 2)?;
    bridge.raw_set("repl", 3)?;
    bridge.raw_set(
        "sha1hex",
        // lua_tolstring: a string or a number is hashed as its text, anything else as "".
        lua.create_function(|lua, args: mlua::Variadic<Value>| {
            if args.len() != 1 {
                return Err(mlua::Error::RuntimeError(
                    "wrong number of arguments".into(),
                ));
            }
            let text = lua
                .coerce_string(args[0].clone())?
                .map_or_else(Vec::new, |s| s.as_bytes().to_vec());
            Ok(super::sha1_hex(&text))
        })?,
    )?;
    bridge.raw_set("log", lua.create_function(script_log)?)?;
    bridge.raw_set("call", lua.create_function(super::call::lua_entry)?)?;
    // SAFETY: `cwrap` only uses the Lua stack.
    bridge.raw_set("cwrap", unsafe { lua.create_c_function(cwrap)? })?;
    // SAFETY: `passthrough` only uses the Lua stack.
    bridge.raw_set("passthrough", unsafe {
        lua.create_c_function(passthrough)?
    })?;
    bridge.raw_set(
        "errtext",
        lua.create_function(|_, e: Value| {
            Ok(match e {
                Value::Error(e) => {
                    let text = super::lua_error_text(&e);
                    let raw = text == KILLED || text == LOAD_TIMEOUT;
                    (text, raw)
                }
                Value::String(s) => (s.to_string_lossy(), false),
                _ => (String::from("unknown error"), false),
            })
        })?,
    )?;
    lua.load(PRELUDE)
        .set_name("=redis")
        .call::<()>(bridge.clone())?;

    let dog = watchdog.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(super::HOOK_INSTRUCTIONS),
        move |_, _| {
            if let Some(e) = dog.interrupt() {
                return Err(mlua::Error::RuntimeError(e.into()));
            }
            Ok(VmState::Continue)
        },
    )?;
    Ok((lua, bridge))
}

/// `cwrap(f)`: a C closure around `f`, which returns `true, results...` or `false, message`;
/// the closure returns the results or raises the message as a Lua string error, as a C
/// library function of Redis would (see prelude.lua's `protect`).
unsafe extern "C-unwind" fn cwrap(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    unsafe {
        mlua::ffi::lua_settop(state, 1);
        mlua::ffi::lua_pushcclosure(state, wrapped, 1);
    }
    1
}

unsafe extern "C-unwind" fn wrapped(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, n, ffi::LUA_MULTRET);
        if ffi::lua_toboolean(state, 1) == 0 {
            // As luaL_error: the calling Lua function's position, then the message.
            ffi::lua_settop(state, 2);
            ffi::luaL_where(state, 1);
            ffi::lua_insert(state, 2);
            ffi::lua_concat(state, 2);
            ffi::lua_error(state);
        }
        ffi::lua_gettop(state) - 1
    }
}

/// `passthrough(f)`: a C closure calling `f` with its arguments and returning its results.
/// Being a C function, it keeps its caller's frame in a tail call (`return redis.call(..)`),
/// so error replies name the script's line as Redis's do. Errors propagate as Lua errors;
/// no Rust value with a destructor is alive here.
unsafe extern "C-unwind" fn passthrough(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    unsafe {
        mlua::ffi::lua_settop(state, 1);
        mlua::ffi::lua_pushcclosure(state, call_upvalue, 1);
    }
    1
}

unsafe extern "C-unwind" fn call_upvalue(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    use mlua::ffi;
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, n, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

/// The error a killed script ends with.
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The error a FUNCTION LOAD whose code runs too long ends with.
pub const LOAD_TIMEOUT: &str = "ERR FUNCTION LOAD timeout";

/// `7.0.15` → 0x00070f (REDIS_VERSION_NUM).
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .fold(0, |acc, p| (acc << 8) | p.parse::<i64>().unwrap_or(0))
}

/// redis.log(level, ...): the arguments joined by spaces, at Redis's level.
fn script_log(_: &Lua, args: mlua::Variadic<Value>) -> mlua::Result<()> {
    use crate::config::LogLevel;
    let level = match args.first() {
        Some(Value::Integer(0)) => LogLevel::Debug,
        Some(Value::Integer(1)) => LogLevel::Verbose,
        Some(Value::Integer(2)) => LogLevel::Notice,
        _ => LogLevel::Warning,
    };
    let mut msg = String::new();
    for (i, a) in args.iter().skip(1).enumerate() {
        if i > 0 {
            msg.push(' ');
        }
        match a {
            Value::String(s) => msg.push_str(&String::from_utf8_lossy(&s.as_bytes())),
            Value::Integer(n) => msg.push_str(&n.to_string()),
            Value::Number(n) => msg.push_str(&crate::server::numbers::format_g(*n, 14)),
            _ => {}
        }
    }
    crate::server::log::log(level, &msg);
    Ok(())
}
