//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key ...], as Redis 7.0's migrateCommand: the keys'
//! DUMP payloads are sent to the target as `RESTORE key ttl payload [REPLACE]` (after AUTH
//! and SELECT) in one write, the replies read line by line, each acknowledged key deleted
//! here unless COPY (and streamed to replicas as one DEL). Like Redis, the server waits
//! for the target (at most `timeout` ms per step) while holding the dataset; unlike Redis,
//! no connection is cached between calls, so SELECT is always sent.

use super::args::Args;
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, Spec, arg_i64, err, spec};
use bytes::Bytes;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The MIGRATE command.
pub fn specs() -> Vec<Spec> {
    vec![spec("migrate", -6, WRITE, (3, 3, 1), migrate)]
}

/// What MIGRATE was asked to do.
struct Options<'a> {
    copy: bool,
    replace: bool,
    /// AUTH password, or AUTH2 username password.
    auth: Option<(Option<&'a Bytes>, &'a Bytes)>,
    keys: Vec<&'a Bytes>,
    db: i64,
    timeout: Duration,
}

/// Why talking to the target failed (Redis's IOERR texts).
enum Io {
    Connect,
    Write,
    Read,
}

impl Io {
    fn error(&self) -> CmdError {
        CmdError::fixed(match self {
            Io::Connect => "IOERR error or timeout connecting to the client",
            Io::Write => "IOERR error or timeout writing to target instance",
            Io::Read => "IOERR error or timeout reading to target instance",
        })
    }
}

fn options(args: &[Bytes]) -> Result<Options<'_>, CmdError> {
    let mut o = Options {
        copy: false,
        replace: false,
        auth: None,
        keys: vec![&args[3]],
        db: 0,
        timeout: Duration::ZERO,
    };
    let mut cursor = Args::new(args, 6);
    while !cursor.is_done() {
        if cursor.keyword("copy") {
            o.copy = true;
        } else if cursor.keyword("replace") {
            o.replace = true;
        } else if cursor.keyword("auth") {
            o.auth = Some((None, cursor.next_bytes()?));
        } else if cursor.keyword("auth2") {
            if cursor.remaining() < 2 {
                return Err(err::SYNTAX);
            }
            let user = cursor.next_bytes()?;
            o.auth = Some((Some(user), cursor.next_bytes()?));
        } else if cursor.keyword("keys") {
            if !args[3].is_empty() {
                return Err(CmdError::fixed(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            o.keys = cursor.rest().iter().collect();
        } else {
            return Err(err::SYNTAX);
        }
    }
    let timeout = arg_i64(&args[5])?;
    o.db = arg_i64(&args[4])?;
    let ms = if timeout <= 0 { 1000 } else { timeout as u64 };
    o.timeout = Duration::from_millis(ms);
    Ok(o)
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        bulk(out, a);
    }
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TcpStream, Io> {
    let host = std::str::from_utf8(host).map_err(|_| Io::Connect)?;
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or(Io::Connect)?;
    let addr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(Io::Connect)?;
    // Redis connects without blocking and only then waits: a refused (or timed out)
    // connection surfaces as a failed write of the first command, and so its error text.
    let s = TcpStream::connect_timeout(&addr, timeout).map_err(|_| Io::Write)?;
    s.set_read_timeout(Some(timeout)).map_err(|_| Io::Connect)?;
    s.set_write_timeout(Some(timeout))
        .map_err(|_| Io::Connect)?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Reads one reply line (Redis's connSyncReadLine: at most 1 KB kept).
fn read_line<R: BufRead>(r: &mut R) -> Result<String, Io> {
    use std::io::Read as _;
    let mut line = Vec::new();
    let n = r
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .map_err(|_| Io::Read)?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(Io::Read);
    }
    line.truncate(line.len().min(1023));
    let text = String::from_utf8_lossy(&line);
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

fn migrate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = options(args)?;
    // The keys that exist (expired ones are dropped here, as lookupKeyRead does).
    let mut keys = Vec::new();
    for k in o.keys.iter().copied() {
        if ctx.lookup_read(k).is_some() {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let compress = ctx.state.config.rdbcompression;
    let now = ctx.now_ms;
    let mut request = Vec::new();
    if let Some((user, pass)) = o.auth {
        match user {
            Some(u) => command(&mut request, &[b"AUTH", u, pass]),
            None => command(&mut request, &[b"AUTH", pass]),
        }
    }
    command(&mut request, &[b"SELECT", o.db.to_string().as_bytes()]);
    let mut sent = Vec::new();
    let db = &ctx.state.dbs[ctx.client.db];
    for k in keys {
        let ttl = match db.expire_at(k) {
            Some(at) if at < now => continue,
            Some(at) => (at - now).max(1),
            None => 0,
        };
        let Some(entry) = db.entry(k) else {
            continue;
        };
        let payload = super::dump::payload(&entry.value, compress);
        let ttl = ttl.to_string();
        let mut restore: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), &payload];
        if o.replace {
            restore.push(b"REPLACE");
        }
        command(&mut request, &restore);
        sent.push(k);
    }
    let mut stream = connect(&args[1], &args[2], o.timeout).map_err(|e| e.error())?;
    stream.write_all(&request).map_err(|_| Io::Write.error())?;
    let mut reader = BufReader::new(stream);
    let auth_reply = match o.auth {
        Some(_) => Some(read_line(&mut reader).map_err(|e| e.error())?),
        None => None,
    };
    let select_reply = read_line(&mut reader).map_err(|e| e.error())?;
    let mut target_error: Option<String> = None;
    let mut socket_error = false;
    let mut deleted: Vec<&Bytes> = Vec::new();
    for k in &sent {
        let Ok(reply) = read_line(&mut reader) else {
            socket_error = true;
            break;
        };
        let failed = [
            auth_reply.as_deref(),
            Some(select_reply.as_str()),
            Some(reply.as_str()),
        ]
        .into_iter()
        .flatten()
        .find(|r| r.starts_with('-'));
        match failed {
            Some(e) => {
                target_error.get_or_insert_with(|| e[1..].to_string());
            }
            None if !o.copy => {
                ctx.db().remove(k);
                ctx.modified(k, 1);
                deleted.push(k);
            }
            None => {}
        }
    }
    if !deleted.is_empty() {
        let mut del: Vec<&[u8]> = vec![b"DEL"];
        del.extend(deleted.iter().map(|k| &k[..]));
        ctx.propagate_instead(&del);
    }
    if let Some(e) = target_error {
        return Err(CmdError::msg(format!(
            "ERR Target instance replied with error: {e}"
        )));
    }
    if socket_error {
        return Err(Io::Read.error());
    }
    ctx.out.ok();
    Ok(())
}
