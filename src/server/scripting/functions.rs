//! FUNCTION libraries (Redis 7.0's functions.c / function_lua.c): `#!lua name=<lib>` code
//! whose top level calls `redis.register_function`; the registry of libraries and
//! functions; FUNCTION DUMP/RESTORE payloads (RDB_OPCODE_FUNCTION2 records, as Redis, so
//! dumps interchange).

use super::{ScriptFlags, Scripting, lua_error_text};
use bytes::Bytes;
use mlua::{Table, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

/// RDB opcode of a function library (its code as one string).
pub const RDB_OPCODE_FUNCTION2: u8 = 245;

/// One registered function.
pub struct FunctionDef {
    /// Its name (unique across libraries).
    pub name: String,
    /// The Lua callback.
    pub func: mlua::Function,
    /// Its flags.
    pub flags: ScriptFlags,
    /// Its description, if given.
    pub description: Option<String>,
}

/// One library.
pub struct Library {
    /// The name from the shebang.
    pub name: String,
    /// The whole code, shebang included (FUNCTION LIST WITHCODE, DUMP, RDB).
    pub code: Bytes,
    /// Its functions, in registration order.
    pub functions: Vec<FunctionDef>,
}

/// Every library, and the function index.
#[derive(Default)]
pub struct Libraries {
    libs: BTreeMap<String, Library>,
    /// Function name → library name.
    index: HashMap<String, String>,
}

/// How FUNCTION RESTORE treats libraries that exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Fail on a collision (the default).
    Append,
    /// Replace colliding libraries.
    Replace,
    /// Delete every library first.
    Flush,
}

impl Libraries {
    /// No libraries.
    pub fn new() -> Libraries {
        Libraries::default()
    }

    /// The function called `name`.
    pub fn find(&self, name: &str) -> Option<&FunctionDef> {
        let lib = self.libs.get(self.index.get(name)?)?;
        lib.functions.iter().find(|f| f.name == name)
    }

    /// Every library, by name.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// Number of libraries.
    pub fn library_count(&self) -> usize {
        self.libs.len()
    }

    /// Number of functions.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Removes a library; false when there is none by that name.
    pub fn delete(&mut self, name: &str) -> bool {
        match self.libs.remove(name) {
            Some(lib) => {
                for f in &lib.functions {
                    self.index.remove(&f.name);
                }
                true
            }
            None => false,
        }
    }

    /// The code of every library (what the RDB stores).
    pub fn codes(&self) -> Vec<Bytes> {
        self.libs.values().map(|l| l.code.clone()).collect()
    }

    /// Removes every library.
    pub fn clear(&mut self) {
        self.libs.clear();
        self.index.clear();
    }

    /// Adds `lib`, replacing one with its name (the caller checked collisions).
    fn insert(&mut self, lib: Library) {
        self.delete(&lib.name);
        for f in &lib.functions {
            self.index.insert(f.name.clone(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }
}

/// The library name of `#!lua name=<lib>` (Redis's texts for a bad shebang).
fn parse_shebang(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let mut parts = code[2..end].split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"");
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut name = None;
    for p in parts {
        match p.strip_prefix(b"name=") {
            Some(n) if name.is_none() => name = Some(String::from_utf8_lossy(n).into_owned()),
            _ => {
                return Err(format!(
                    "ERR Invalid metadata value given: {}",
                    String::from_utf8_lossy(p)
                ));
            }
        }
    }
    let name = name.ok_or_else(|| String::from("ERR Library name was not given"))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    Ok(name)
}

/// Compiles and runs a library's code, collecting what it registers. A compile error
/// is bytes (the interpreter's message may quote bytes that are not UTF-8).
fn compile(s: &Scripting, name: &str, code: &Bytes) -> Result<Library, Vec<u8>> {
    let mut src = Vec::with_capacity(code.len() + 2);
    src.extend_from_slice(b"--");
    src.extend_from_slice(code);
    let chunk = match s
        .lua
        .load(&src[..])
        .set_name("@user_function")
        .into_function()
    {
        Ok(chunk) => chunk,
        Err(e) => {
            let mut text = b"ERR Error compiling function: ".to_vec();
            text.extend_from_slice(&super::compile_error_bytes(&src, &e, c"@user_function"));
            return Err(text);
        }
    };
    registered(s, name, code, chunk).map_err(String::into_bytes)
}

/// Runs a library's compiled top level, collecting what it registers.
fn registered(
    s: &Scripting,
    name: &str,
    code: &Bytes,
    chunk: mlua::Function,
) -> Result<Library, String> {
    let loader: mlua::Function = s
        .bridge
        .raw_get("load_library")
        .map_err(|e| e.to_string())?;
    let (ok, result): (bool, Value) = loader
        .call(chunk)
        .map_err(|e| format!("ERR Error registering functions: {}", lua_error_text(&e)))?;
    let list = match (ok, result) {
        (true, Value::Table(t)) => t,
        (_, Value::Table(e)) => {
            let msg: Option<String> = e.raw_get("err").ok().flatten();
            return Err(format!(
                "ERR Error registering functions: {}",
                msg.unwrap_or_else(|| "unknown error".into())
            ));
        }
        _ => return Err("ERR Error registering functions: unknown error".into()),
    };
    let mut functions = Vec::new();
    for entry in list.sequence_values::<Table>() {
        let entry = entry.map_err(|e| e.to_string())?;
        let fname: String = entry.raw_get("name").map_err(|e| e.to_string())?;
        let func: mlua::Function = entry.raw_get("callback").map_err(|e| e.to_string())?;
        let description: Option<String> = entry.raw_get("description").ok().flatten();
        let mut flags = ScriptFlags::default();
        let names: Table = entry.raw_get("flags").map_err(|e| e.to_string())?;
        for f in names.sequence_values::<mlua::String>() {
            let f = f.map_err(|e| e.to_string())?;
            flags.set(&f.as_bytes());
        }
        functions.push(FunctionDef {
            name: fname,
            func,
            flags,
            description,
        });
    }
    if functions.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(Library {
        name: name.to_string(),
        code: code.clone(),
        functions,
    })
}

/// A function name of `lib` that another library (not `replacing`) already has.
fn collision(libs: &Libraries, lib: &Library, replacing: Option<&str>) -> Option<String> {
    lib.functions.iter().find_map(|f| {
        libs.index
            .get(&f.name)
            .filter(|owner| Some(owner.as_str()) != replacing)
            .map(|_| f.name.clone())
    })
}

/// FUNCTION LOAD [REPLACE]: returns the library name or the error reply text.
pub fn load(s: &mut Scripting, code: &Bytes, replace: bool) -> Result<String, Vec<u8>> {
    let name = parse_shebang(code).map_err(String::into_bytes)?;
    let exists = s.functions.libs.contains_key(&name);
    if exists && !replace {
        return Err(format!("ERR Library '{name}' already exists").into_bytes());
    }
    // The library's top level may only run for LOAD_TIMEOUT_MS (Redis's load hook).
    let deadline = crate::server::clock::now_ms() + super::LOAD_TIMEOUT_MS;
    s.watchdog
        .load_deadline_ms
        .store(deadline, Ordering::Relaxed);
    let lib = compile(s, &name, code);
    s.watchdog.load_deadline_ms.store(0, Ordering::Relaxed);
    let lib = lib?;
    if let Some(f) = collision(&s.functions, &lib, exists.then_some(name.as_str())) {
        return Err(format!("ERR Function {f} already exists").into_bytes());
    }
    s.functions.insert(lib);
    Ok(name)
}

/// The payload of FUNCTION DUMP: one RDB_OPCODE_FUNCTION2 record per library, then the
/// RDB version and CRC64, as Redis's DUMP payloads.
pub fn dump(libs: &Libraries) -> Vec<u8> {
    let mut out = Vec::new();
    for lib in libs.libraries() {
        out.push(RDB_OPCODE_FUNCTION2);
        rdb_string(&mut out, &lib.code);
    }
    out.extend_from_slice(&crate::server::rdb::RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// An RDB length-prefixed raw string.
pub fn rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len() as u64;
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Reads an RDB string (plain or LZF-compressed) at `*pos`; None when malformed.
pub fn read_rdb_string(buf: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    let len = |pos: &mut usize| -> Option<u64> {
        let b = *buf.get(*pos)?;
        *pos += 1;
        match b >> 6 {
            0 => Some((b & 0x3f) as u64),
            1 => {
                let b2 = *buf.get(*pos)?;
                *pos += 1;
                Some((((b & 0x3f) as u64) << 8) | b2 as u64)
            }
            2 if b == 0x80 => {
                let v = u32::from_be_bytes(buf.get(*pos..*pos + 4)?.try_into().ok()?);
                *pos += 4;
                Some(v as u64)
            }
            2 if b == 0x81 => {
                let v = u64::from_be_bytes(buf.get(*pos..*pos + 8)?.try_into().ok()?);
                *pos += 8;
                Some(v)
            }
            _ => None,
        }
    };
    *pos -= 1;
    if first >> 6 == 3 {
        *pos += 1;
        if first & 0x3f != 3 {
            return None; // integer encodings never hold library code
        }
        let clen = len(pos)? as usize;
        let ulen = len(pos)? as usize;
        let data = buf.get(*pos..pos.checked_add(clen)?)?;
        *pos += clen;
        if ulen > 512 << 20 {
            return None;
        }
        return lzf::decompress(data, ulen).ok().filter(|d| d.len() == ulen);
    }
    let n = len(pos)? as usize;
    let data = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(data.to_vec())
}

/// Replaces the libraries with those of a loaded RDB (start-up, DEBUG RELOAD, full sync).
/// A library that does not load is logged and skipped.
pub fn load_from_rdb(s: &mut Scripting, codes: &[Bytes]) {
    s.functions.clear();
    for code in codes {
        if let Err(e) = load(s, code, true) {
            crate::server::log::log(
                crate::config::LogLevel::Warning,
                &format!(
                    "Failed loading library from the RDB: {}",
                    String::from_utf8_lossy(&e)
                ),
            );
        }
    }
}

/// FUNCTION RESTORE: checks the payload, then loads every library (all or nothing).
pub fn restore(s: &mut Scripting, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
    const BAD: &str = "ERR DUMP payload version or checksum are wrong";
    if payload.len() < 10 {
        return Err(BAD.into());
    }
    let body_end = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
    let crc = u64::from_le_bytes(payload[body_end + 2..].try_into().unwrap());
    if version > crate::server::rdb::RDB_VERSION
        || crc64::crc64(0, &payload[..payload.len() - 8]) != crc
    {
        return Err(BAD.into());
    }
    let mut codes = Vec::new();
    let mut pos = 0;
    while pos < body_end {
        if payload[pos] != RDB_OPCODE_FUNCTION2 {
            return Err("ERR given type is not a function".into());
        }
        pos += 1;
        let code = read_rdb_string(&payload[..body_end], &mut pos)
            .ok_or_else(|| String::from("ERR Bad data format"))?;
        codes.push(Bytes::from(code));
    }
    let mut staged = Vec::new();
    for code in &codes {
        let name = parse_shebang(code)?;
        staged.push(compile(s, &name, code).map_err(|e| String::from_utf8_lossy(&e).into_owned())?);
    }
    if policy == RestorePolicy::Flush {
        s.functions.clear();
    }
    for lib in &staged {
        let exists = s.functions.libs.contains_key(&lib.name);
        if exists && policy == RestorePolicy::Append {
            return Err(format!("ERR Library {} already exists", lib.name));
        }
        let replacing = (policy == RestorePolicy::Replace).then_some(lib.name.as_str());
        if let Some(f) = collision(&s.functions, lib, replacing) {
            return Err(format!("ERR Function {f} already exists"));
        }
    }
    for lib in staged {
        s.functions.insert(lib);
    }
    Ok(())
}
