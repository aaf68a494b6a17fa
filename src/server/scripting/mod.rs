//! Lua scripting as Redis 7.0 embeds it: one Lua 5.1 interpreter (mlua, vendored) with
//! Redis's environment, the EVAL script cache, the function libraries, and the watchdog
//! that lets a long script be noticed and stopped.
//!
//! - `env.rs` builds the interpreter: libraries, the `redis` table, protected globals.
//! - `call.rs` is `redis.call`/`redis.pcall`: a command run through the script checks and
//!   [`crate::server::commands::call`] with the script's own client.
//! - `convert.rs` converts replies to Lua values and Lua values to replies (RESP2/RESP3).
//! - `run.rs` runs one script or function under the state lock and writes its reply.
//! - `cjson.rs`, `bit.rs`, `structlib.rs`, `cmsgpack.rs`: the libraries Redis loads.
//! - `busy.rs`: serving other clients while a script runs past busy-reply-threshold.
//! - `functions.rs`: FUNCTION libraries (`#!lua name=...`, `redis.register_function`).

pub mod bit;
pub mod busy;
pub mod call;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod env;
pub mod functions;
pub mod rand;
pub mod run;
pub mod structlib;

use bytes::Bytes;
use mlua::{Function, Lua, Table};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// What another connection needs to see of a running script (BUSY replies, SCRIPT KILL):
/// shared outside the state lock. The Lua count hook reads `kill` every
/// [`HOOK_INSTRUCTIONS`] instructions and ends the script when it is set.
#[derive(Debug, Default)]
pub struct Watchdog {
    /// A script or function is running.
    pub running: AtomicBool,
    /// Unix ms when it started.
    pub started_ms: AtomicI64,
    /// It has written (SCRIPT KILL then answers UNKILLABLE).
    pub wrote: AtomicBool,
    /// It runs a function (FUNCTION KILL) rather than an EVAL script (SCRIPT KILL).
    pub is_function: AtomicBool,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    pub kill: AtomicBool,
    /// busy-reply-threshold in ms for this run (0: never busy).
    pub threshold_ms: AtomicI64,
    /// The run went past the threshold (logged once, other clients served by the hook).
    pub timed_out: AtomicBool,
    /// SHUTDOWN NOSAVE arrived while it ran: it ends, then the server.
    pub shutdown: AtomicBool,
    /// The script's SHA1 or the function's name (the slow script log line).
    pub label: Mutex<String>,
    /// The FCALL running a function, as sent (FUNCTION STATS' `running_script`); empty
    /// for EVAL scripts.
    pub command: Mutex<Vec<Bytes>>,
    /// Every client connection, for the hook to serve while busy.
    pub doors: busy::Doors,
    /// While FUNCTION LOAD runs a library's code: the unix ms after which it is stopped
    /// (`FUNCTION LOAD timeout`, 500 ms as Redis 7.0); 0 otherwise.
    pub load_deadline_ms: AtomicI64,
}

/// How long FUNCTION LOAD may run a library's top-level code (Redis's LOAD_TIMEOUT_MS).
pub const LOAD_TIMEOUT_MS: i64 = 500;

/// How often (in Lua VM instructions) the hook checks [`Watchdog::kill`].
pub const HOOK_INSTRUCTIONS: u32 = 100_000;

impl Watchdog {
    /// The running script's age in ms, if one runs.
    pub fn busy_for(&self, now_ms: i64) -> Option<i64> {
        self.running
            .load(Ordering::Acquire)
            .then(|| now_ms - self.started_ms.load(Ordering::Relaxed))
    }

    /// Marks a run starting now (unix ms) with this label and threshold; `command` is
    /// the FCALL of a function (kept until [`Watchdog::end`]).
    pub fn start(&self, now_ms: i64, label: &str, command: Option<&[Bytes]>, threshold_ms: i64) {
        let is_function = command.is_some();
        if let Some(command) = command {
            let mut c = self.command.lock().unwrap_or_else(|e| e.into_inner());
            c.clear();
            c.extend_from_slice(command);
        }
        self.started_ms.store(now_ms, Ordering::Relaxed);
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.timed_out.store(false, Ordering::Relaxed);
        self.shutdown.store(false, Ordering::Relaxed);
        self.is_function.store(is_function, Ordering::Relaxed);
        let mut l = self.label.lock().unwrap_or_else(|e| e.into_inner());
        l.clear();
        l.push_str(label);
        drop(l);
        self.running.store(true, Ordering::Release);
    }

    /// Marks the run ended (and lets go of its FCALL's arguments).
    pub fn end(&self) {
        self.running.store(false, Ordering::Release);
        if self.is_function.load(Ordering::Relaxed) {
            self.command
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
    }

    /// A script runs past its threshold: the requests the hook serves meanwhile are
    /// refused with BUSY unless flagged `allow_busy` (commands::process).
    pub fn serving_busy(&self) -> bool {
        self.running.load(Ordering::Acquire) && self.timed_out.load(Ordering::Relaxed)
    }

    /// The count hook's check: past the threshold, logs once and serves the other
    /// clients ([`busy::pump`]); returns the error that ends the run (SCRIPT KILL,
    /// SHUTDOWN NOSAVE, a FUNCTION LOAD past its time).
    pub fn interrupt(&self) -> Option<&'static str> {
        let deadline = self.load_deadline_ms.load(Ordering::Relaxed);
        if deadline > 0 && crate::server::clock::now_ms() > deadline {
            self.load_deadline_ms.store(0, Ordering::Relaxed);
            return Some(env::LOAD_TIMEOUT);
        }
        if !self.running.load(Ordering::Relaxed) {
            return None;
        }
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if threshold > 0 {
            let age = crate::server::clock::now_ms() - self.started_ms.load(Ordering::Relaxed);
            if age >= threshold {
                if !self.timed_out.swap(true, Ordering::Relaxed) {
                    let label = self.label.lock().unwrap_or_else(|e| e.into_inner());
                    let how = if self.is_function.load(Ordering::Relaxed) {
                        "FUNCTION KILL"
                    } else {
                        "SCRIPT KILL"
                    };
                    crate::warning!(
                        "Slow script detected: still in execution after {age} milliseconds. You can try killing the script using the {how} command. Script name is: {label}."
                    );
                }
                if busy::pump(self) {
                    self.shutdown.store(true, Ordering::Release);
                    self.kill.store(true, Ordering::Release);
                }
            }
        }
        if self.kill.load(Ordering::Acquire) {
            if !self.shutdown.load(Ordering::Relaxed) {
                crate::warning!("Lua script killed by user with SCRIPT KILL.");
            }
            return Some(env::KILLED);
        }
        None
    }
}

/// A cached EVAL script.
pub struct Script {
    /// Its source.
    pub body: Bytes,
    /// The compiled chunk.
    pub func: Function,
    /// Its shebang flags (None without a shebang).
    pub flags: Option<ScriptFlags>,
}

/// The `#!lua flags=...` of a script or function (`no-writes`, `allow-oom`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// no-writes.
    pub no_writes: bool,
    /// allow-oom.
    pub allow_oom: bool,
    /// allow-stale.
    pub allow_stale: bool,
    /// no-cluster.
    pub no_cluster: bool,
    /// allow-cross-slot-keys.
    pub allow_cross_slot: bool,
}

impl ScriptFlags {
    /// Parses one flag name into `self`; false when unknown.
    pub fn set(&mut self, name: &[u8]) -> bool {
        match name {
            b"no-writes" => self.no_writes = true,
            b"allow-oom" => self.allow_oom = true,
            b"allow-stale" => self.allow_stale = true,
            b"no-cluster" => self.no_cluster = true,
            b"allow-cross-slot-keys" => self.allow_cross_slot = true,
            _ => return false,
        }
        true
    }

    /// The flag names, in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.no_writes {
            v.push("no-writes");
        }
        if self.allow_oom {
            v.push("allow-oom");
        }
        if self.allow_stale {
            v.push("allow-stale");
        }
        if self.no_cluster {
            v.push("no-cluster");
        }
        if self.allow_cross_slot {
            v.push("allow-cross-slot-keys");
        }
        v
    }
}

/// The scripting state kept in [`crate::server::state::State`].
pub struct Scripting {
    /// The interpreter of EVAL scripts.
    pub lua: Lua,
    /// Rust↔Lua bridge table (see prelude.lua).
    pub bridge: Table,
    /// `bridge.run`, the Lua side of every script run (looked up once).
    pub runner: Function,
    /// EVAL scripts by lower-case hex SHA1.
    pub scripts: HashMap<String, Script>,
    /// Bytes of script sources cached (INFO used_memory_scripts_eval).
    pub scripts_bytes: usize,
    /// Shared with connections: BUSY and SCRIPT KILL.
    pub watchdog: Arc<Watchdog>,
    /// FUNCTION libraries.
    pub functions: functions::Libraries,
    /// The scripts' client (its database, RESP version), kept between runs.
    pub client: Option<crate::server::client::Client>,
}

impl Scripting {
    /// A fresh interpreter with Redis's environment.
    pub fn new() -> Scripting {
        let watchdog = Arc::new(Watchdog::default());
        let (lua, bridge) = env::create(&watchdog).expect("the Lua environment builds");
        let runner = bridge
            .raw_get("run")
            .expect("prelude.lua defines bridge.run");
        Scripting {
            lua,
            bridge,
            runner,
            scripts: HashMap::new(),
            scripts_bytes: 0,
            watchdog,
            functions: functions::Libraries::new(),
            client: None,
        }
    }

    /// SCRIPT FLUSH: drops every cached script and starts a new interpreter (as Redis).
    /// The FUNCTION libraries (Redis keeps them in an interpreter of their own) are loaded
    /// again into the new one: their functions belong to the interpreter that compiled
    /// them, and calling one from another state panics.
    pub fn flush_scripts(&mut self) {
        let (lua, bridge) = env::create(&self.watchdog).expect("the Lua environment builds");
        self.scripts.clear();
        self.scripts_bytes = 0;
        self.runner = bridge
            .raw_get("run")
            .expect("prelude.lua defines bridge.run");
        self.lua = lua;
        self.bridge = bridge;
        let codes = self.functions.codes();
        functions::load_from_rdb(self, &codes);
    }

    /// Compiles `body` and caches it under its SHA1; returns the SHA1, or the compile error
    /// reply (`ERR Error compiling script (new function): ...`), as bytes: the
    /// interpreter's message quotes the script, which need not be UTF-8.
    pub fn load_script(&mut self, body: &Bytes) -> Result<String, Vec<u8>> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = parse_eval_shebang(body).map_err(String::into_bytes)?;
        let func = self
            .lua
            .load(&code)
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                let mut text = b"ERR Error compiling script (new function): ".to_vec();
                text.extend_from_slice(&compile_error_bytes(&code, &e, c"@user_script"));
                text
            })?;
        self.scripts_bytes += body.len();
        self.scripts.insert(
            sha.clone(),
            Script {
                body: body.clone(),
                func,
                flags,
            },
        );
        Ok(sha)
    }
}

/// The scripting figures of INFO memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// The interpreter's memory (used_memory_lua, used_memory_vm_eval). EVAL scripts and
    /// function libraries share one interpreter here, so it is all counted as EVAL's.
    pub vm_eval: usize,
    /// A separate functions interpreter's memory (none here: 0).
    pub vm_functions: usize,
    /// Cached EVAL script sources (used_memory_scripts_eval).
    pub scripts_eval: usize,
    /// number_of_cached_scripts.
    pub cached_scripts: usize,
    /// number_of_functions.
    pub functions: usize,
    /// number_of_libraries.
    pub libraries: usize,
    /// Library code and names (used_memory_functions).
    pub functions_bytes: usize,
}

impl Scripting {
    /// The figures INFO memory shows.
    pub fn memory(&self) -> MemoryStats {
        let functions_bytes = self
            .functions
            .libraries()
            .map(|l| {
                l.code.len()
                    + l.name.len()
                    + l.functions
                        .iter()
                        .map(|f| f.name.len() + f.description.as_ref().map_or(0, |d| d.len()))
                        .sum::<usize>()
            })
            .sum();
        MemoryStats {
            vm_eval: self.lua.used_memory(),
            vm_functions: 0,
            scripts_eval: self.scripts_bytes,
            cached_scripts: self.scripts.len(),
            functions: self.functions.function_count(),
            libraries: self.functions.library_count(),
            functions_bytes,
        }
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

/// Lower-case hex SHA1 of `data` (script names, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha1::digest(data);
    let mut s = String::with_capacity(40);
    for b in d.iter() {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The message of a Lua error as Lua shows it (without mlua's decorations).
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// The interpreter's message for `code`, which did not compile (`e`), as bytes. mlua
/// hands it over decoded lossily; when that lost bytes, the message is made again by
/// compiling (never running) `code` in a scratch interpreter through the C API.
pub fn compile_error_bytes(code: &[u8], e: &mlua::Error, chunk: &std::ffi::CStr) -> Vec<u8> {
    let text = lua_error_text(e);
    // A precompiled chunk is refused by mlua and never handed to the raw loader.
    if !text.contains('\u{FFFD}') || code.first() == Some(&0x1b) {
        return text.into_bytes();
    }
    raw_compile_error(code, chunk).unwrap_or_else(|| text.into_bytes())
}

/// Compiles `code` as `chunk` in a fresh interpreter: its error message, if any.
fn raw_compile_error(code: &[u8], chunk: &std::ffi::CStr) -> Option<Vec<u8>> {
    use mlua::ffi;
    // SAFETY: a private state, closed before returning; the message is copied out of the
    // Lua string (valid while it is on the stack) before the state is closed.
    unsafe {
        let state = ffi::luaL_newstate();
        if state.is_null() {
            return None;
        }
        let mut message = None;
        if ffi::luaL_loadbuffer(state, code.as_ptr().cast(), code.len(), chunk.as_ptr()) != 0 {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(state, -1, &mut len);
            if !p.is_null() {
                message = Some(std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec());
            }
        }
        ffi::lua_close(state);
        message
    }
}

/// An EVAL script's shebang: `#!lua` then `flags=a,b`; the code is compiled with the
/// shebang line blanked (line numbers stay). Errors are Redis's texts.
pub fn parse_eval_shebang(body: &[u8]) -> Result<(Option<ScriptFlags>, Vec<u8>), String> {
    if !body.starts_with(b"#!") {
        return Ok((None, body.to_vec()));
    }
    let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = &body[2..line_end];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"");
    if engine != b"lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&body[..line_end])
        ));
    }
    let mut flags = ScriptFlags::default();
    for p in parts {
        let Some(list) = p.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(p)
            ));
        };
        for f in list.split(|&b| b == b',').filter(|f| !f.is_empty()) {
            if !flags.set(f) {
                return Err(format!(
                    "ERR Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(f)
                ));
            }
        }
    }
    // Lua would not parse "#!...": comment the line out, keeping line numbers.
    let mut code = Vec::with_capacity(body.len() + 2);
    code.extend_from_slice(b"--");
    code.extend_from_slice(body);
    Ok((Some(flags), code))
}
