//! Loading the AOF at start-up: the manifest, the base (RDB or commands), then every incr
//! file, commands run as Redis's fake AOF client runs them. A truncated last command is cut
//! (`aof-load-truncated yes`) or refused; anything else malformed refuses start with the
//! file name and byte offset. The single `appendonly.aof` of Redis < 7.0 is moved into the
//! directory form first, as 7.0 does.

use super::manifest::{AofFile, Manifest, Part};
use crate::resp::ReplyBuf;
use crate::server::client::{Client, ClientInfo};
use crate::server::commands::{self, Ctx};
use crate::server::loading::{Loader, Relock};
use crate::server::state::{Shared, State};
use crate::{notice, warning};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// How reading one file ended badly.
#[derive(Debug)]
enum Bad {
    /// The file ends inside a command; the bytes before `valid` are whole commands.
    Truncated { valid: usize },
    /// Not the AOF format at `offset`.
    Format { offset: usize, what: String },
    /// A command the server does not know.
    Unknown { name: String },
    /// The RDB preamble is bad.
    Rdb(String),
}

/// Loads the AOF when `appendonly yes` (instead of the RDB, as Redis), in the loading state
/// (clients are served meanwhile; see [`crate::server::loading`]), then opens it for
/// writing before the first client write can run. Missing AOF: an empty dataset (the base
/// is created by `open_at_start`).
pub fn load_at_start(shared: &Arc<Shared>) -> Result<(), String> {
    let mut guard = shared.lock();
    let st = &mut *guard;
    let dir = super::dir_path(st);
    let mname = super::manifest_name(st);
    let mpath = dir.join(&mname);
    let text = match std::fs::read(&mpath) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !upgrade_old_style(st)? {
                return super::open_at_start(st);
            }
            st.aof.manifest.to_text()
        }
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                mpath.display()
            ));
        }
    };
    let manifest = Manifest::parse(&text).map_err(|e| format!("{e} ({})", mpath.display()))?;
    st.aof.manifest = manifest.clone();
    let files = manifest.load_order();
    let size = |f: &&AofFile| std::fs::metadata(dir.join(&f.name)).map_or(0, |m| m.len());
    let total_bytes = files.iter().map(size).sum();
    drop(guard);
    let mut l = Relock::begin(shared, total_bytes);
    let r = load_files(&mut l, shared, &dir, &files).and_then(|()| super::open_at_start(l.st()));
    l.end();
    r
}

/// Loads the files of the manifest, in order.
fn load_files(
    l: &mut Relock,
    shared: &Arc<Shared>,
    dir: &std::path::Path,
    files: &[&AofFile],
) -> Result<(), String> {
    let started = Instant::now();
    let mut total = 0u64;
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let path = dir.join(&f.name);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("The AOF file {} can't be read: {e}", f.name))?;
        let t = Instant::now();
        l.file_offset(total);
        let len = load_file(l, shared, f, &bytes, last)?;
        total += len as u64;
        let what = if f.part == Part::Base { "base" } else { "incr" };
        notice!(
            "DB loaded from {what} file {}: {:.3} seconds",
            f.name,
            t.elapsed().as_secs_f64()
        );
        if f.part == Part::Base {
            l.st().aof.base_size = len as u64;
        }
    }
    notice!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    let st = l.st();
    st.aof.current_size = total;
    st.aof.rewrite_base_size = total;
    Ok(())
}

/// Moves an old single-file AOF (`appendfilename` in `dir`) into the directory as its base.
/// Returns false when there is none.
fn upgrade_old_style(st: &mut State) -> Result<bool, String> {
    let name = st.config.appendfilename.clone();
    let old = std::path::PathBuf::from(&name);
    if !old.is_file() {
        return Ok(false);
    }
    let dir = super::dir_path(st);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let mut m = Manifest {
        base_seq: 1,
        ..Default::default()
    };
    m.base = Some(AofFile {
        name: name.clone(),
        seq: 1,
        part: Part::Base,
    });
    st.aof.manifest = m;
    super::persist_manifest(st).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    std::fs::rename(&old, dir.join(&name))
        .map_err(|e| format!("Can't move {name} into {}: {e}", dir.display()))?;
    notice!(
        "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({}).",
        st.config.appenddirname
    );
    Ok(true)
}

/// Loads one file; returns its length (after a truncation, the kept length).
fn load_file(
    l: &mut Relock,
    shared: &Arc<Shared>,
    f: &AofFile,
    bytes: &[u8],
    last: bool,
) -> Result<usize, String> {
    let name = &f.name;
    let result = if bytes.starts_with(b"REDIS") {
        if f.part == Part::Base {
            notice!("Reading RDB base file on AOF loading...");
        } else {
            notice!("Reading RDB preamble from AOF file...");
        }
        load_rdb(l, bytes).and_then(|at| run_commands(l, shared, bytes, at))
    } else {
        run_commands(l, shared, bytes, 0)
    };
    let st = l.st();
    match result {
        Ok(()) => Ok(bytes.len()),
        Err(Bad::Truncated { valid }) if last && st.config.aof_load_truncated => {
            warning!("!!! Warning: short read while loading the AOF file {name}!!!");
            warning!("!!! Truncating the AOF {name} at offset {valid} !!!");
            let path = super::dir_path(st).join(name);
            let cut = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(valid as u64).and_then(|()| file.sync_all()));
            if let Err(e) = cut {
                warning!("Error truncating the AOF file {name}: {e}");
                return Err(format!("Can't truncate the AOF file {name}"));
            }
            warning!("AOF {name} loaded anyway because aof-load-truncated is enabled");
            Ok(valid)
        }
        Err(Bad::Truncated { valid }) => {
            if last {
                warning!(
                    "Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                );
            } else {
                warning!("Fatal error: the truncated file is not the last file");
            }
            Err(format!(
                "The AOF file {name} is truncated after offset {valid}"
            ))
        }
        Err(Bad::Format { offset, what }) => {
            warning!(
                "Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
            );
            Err(format!(
                "The AOF file {name} is corrupted at offset {offset}: {what}"
            ))
        }
        Err(Bad::Unknown { name: cmd }) => {
            let msg = format!("Unknown command '{cmd}' reading the append only file {name}");
            warning!("{msg}");
            Err(msg)
        }
        Err(Bad::Rdb(e)) => Err(format!("Failed loading the RDB part of {name}: {e}")),
    }
}

/// Loads an RDB (base file or preamble); returns the offset after it.
fn load_rdb(l: &mut Relock, bytes: &[u8]) -> Result<usize, Bad> {
    match crate::server::persistence::load_rdb_into(l, bytes) {
        Ok(info) => {
            let st = l.st();
            crate::server::scripting::functions::load_from_rdb(&mut st.scripting, &info.functions);
            Ok(info.consumed)
        }
        Err(e) => {
            for line in e.redis_log_lines().into_iter().flatten() {
                warning!("{line}");
            }
            Err(Bad::Rdb(e.to_string()))
        }
    }
}

/// Reads a `<prefix><number>\r\n` line at `pos`; returns the number and the next offset.
fn number_line(bytes: &[u8], pos: usize, prefix: u8) -> Result<(i64, usize), Bad> {
    let valid = pos;
    if pos >= bytes.len() {
        return Err(Bad::Truncated { valid });
    }
    if bytes[pos] != prefix {
        return Err(Bad::Format {
            offset: pos,
            what: format!("expected '{}'", prefix as char),
        });
    }
    // Redis reads these lines with a 128-byte buffer.
    let window = &bytes[pos..bytes.len().min(pos + 128)];
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        if bytes.len() < pos + 128 {
            return Err(Bad::Truncated { valid });
        }
        return Err(Bad::Format {
            offset: pos,
            what: "line too long".into(),
        });
    };
    let text = &window[1..nl];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let n = crate::server::numbers::parse_i64(text).ok_or_else(|| Bad::Format {
        offset: pos,
        what: "not a number".into(),
    })?;
    Ok((n, pos + nl + 1))
}

/// Runs the commands of `bytes` from `start` as Redis's fake AOF client.
fn run_commands(
    l: &mut Relock,
    shared: &Arc<Shared>,
    bytes: &[u8],
    start: usize,
) -> Result<(), Bad> {
    let info = Arc::new(ClientInfo::new(0, String::new(), String::new()));
    let mut client = Client::new(info, true, true);
    client.is_master = true;
    let mut out = ReplyBuf::default();
    let mut pos = start;
    // Offset before the open MULTI, if any: a file ending inside a transaction is cut there.
    let mut before_multi: Option<usize> = None;
    while pos < bytes.len() {
        let cmd_start = pos;
        // `#TS:` and other annotations: one line, skipped.
        if bytes[pos] == b'#' {
            match bytes[pos..].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    pos += nl + 1;
                    continue;
                }
                None => {
                    return Err(Bad::Truncated {
                        valid: before_multi.unwrap_or(cmd_start),
                    });
                }
            }
        }
        let fix = |e: Bad| match e {
            Bad::Truncated { .. } => Bad::Truncated {
                valid: before_multi.unwrap_or(cmd_start),
            },
            other => other,
        };
        let (argc, mut p) = number_line(bytes, pos, b'*').map_err(fix)?;
        if argc < 1 {
            return Err(Bad::Format {
                offset: pos,
                what: "invalid argument count".into(),
            });
        }
        let mut args: Vec<Bytes> = Vec::new();
        for _ in 0..argc {
            let (len, q) = number_line(bytes, p, b'$').map_err(fix)?;
            if len < 0 {
                return Err(Bad::Format {
                    offset: p,
                    what: "invalid bulk length".into(),
                });
            }
            let len = len as usize;
            if bytes.len() < q.saturating_add(len).saturating_add(2) {
                return Err(fix(Bad::Truncated { valid: 0 }));
            }
            if &bytes[q + len..q + len + 2] != b"\r\n" {
                return Err(Bad::Format {
                    offset: q + len,
                    what: "missing CRLF after an argument".into(),
                });
            }
            args.push(Bytes::copy_from_slice(&bytes[q..q + len]));
            p = q + len + 2;
        }
        pos = p;
        if commands::lookup(&args[0]).is_none() {
            return Err(Bad::Unknown {
                name: String::from_utf8_lossy(&args[0]).into_owned(),
            });
        }
        if commands::is(&args[0], "multi") {
            before_multi = Some(cmd_start);
        } else if commands::is(&args[0], "exec") {
            before_multi = None;
        }
        let mut ctx = Ctx::new(l.st(), &mut client, &mut out, shared);
        commands::dispatch(&mut ctx, &args);
        out.buf.clear();
        l.aof_command(pos);
    }
    if let Some(valid) = before_multi {
        warning!("Revert incomplete MULTI/EXEC transaction in AOF file");
        return Err(Bad::Truncated { valid });
    }
    Ok(())
}
