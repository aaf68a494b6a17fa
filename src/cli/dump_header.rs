//! What a node's RDB dump would bring back: the `repl-id` / `repl-offset` AUX fields at the
//! head of the file (Redis writes them, with the other AUX fields, before any key). Only the
//! header is read, so a multi-gigabyte dump costs one small read over SSH.

/// How many bytes of a dump are fetched: the AUX fields fit in a few hundred.
pub const HEADER_BYTES: usize = 64 * 1024;

/// A replication history: an ID and how far into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// The replication ID (40 hex characters).
    pub replid: String,
    /// The offset reached in it.
    pub offset: i64,
}

/// What a dump file holds, as far as replication goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dump {
    /// There is no dump file: the server would start empty.
    Missing,
    /// A dump without replication fields (saved by a server that never had replicas).
    NoHistory,
    /// The dump's history.
    History(History),
    /// The file is there but its header cannot be read (what is wrong).
    Unreadable(String),
}

impl std::fmt::Display for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dump::Missing => f.write_str("no dump"),
            Dump::NoHistory => f.write_str("a dump without repl-id"),
            Dump::History(h) => write!(f, "repl-id {} offset {}", h.replid, h.offset),
            Dump::Unreadable(why) => write!(f, "an unreadable dump ({why})"),
        }
    }
}

const OP_AUX: u8 = 0xfa;

/// Reads the AUX fields at the head of an RDB file (`bytes` may be cut anywhere after them).
pub fn parse(bytes: &[u8]) -> Dump {
    match aux_history(bytes) {
        Ok(Some(h)) => Dump::History(h),
        Ok(None) => Dump::NoHistory,
        Err(why) => Dump::Unreadable(why),
    }
}

fn aux_history(bytes: &[u8]) -> Result<Option<History>, String> {
    if bytes.len() < 9 || &bytes[..5] != b"REDIS" {
        return Err("not an RDB file".into());
    }
    let mut cur = Cursor { bytes, at: 9 };
    let (mut replid, mut offset) = (None, None);
    while cur.peek() == Some(OP_AUX) {
        cur.at += 1;
        let key = cur.string()?;
        let value = cur.string()?;
        match key.as_slice() {
            b"repl-id" => replid = Some(String::from_utf8_lossy(&value).into_owned()),
            b"repl-offset" => {
                offset = Some(
                    std::str::from_utf8(&value)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok())
                        .ok_or("repl-offset is not a number")?,
                )
            }
            _ => {}
        }
    }
    Ok(match (replid, offset) {
        (Some(replid), Some(offset)) => Some(History { replid, offset }),
        _ => None,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("header cut at byte {}", self.bytes.len()))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// An RDB length; `Err(special)` in the Ok side tells an encoded integer or LZF string.
    fn length(&mut self) -> Result<Result<u64, u8>, String> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Ok(u64::from(b & 0x3f)),
            1 => Ok((u64::from(b & 0x3f) << 8) | u64::from(self.byte()?)),
            2 if b == 0x80 => Ok(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            ))),
            2 if b == 0x81 => Ok(u64::from_be_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => return Err(format!("bad length byte {b:#04x}")),
            _ => Err(b & 0x3f),
        })
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        match self.length()? {
            Ok(len) => {
                let len = usize::try_from(len).map_err(|_| "length too large")?;
                Ok(self.take(len)?.to_vec())
            }
            Err(0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(1) => {
                let v = i16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes"));
                Ok(v.to_string().into_bytes())
            }
            Err(2) => {
                let v = i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
                Ok(v.to_string().into_bytes())
            }
            Err(3) => {
                let clen = self.length()?.map_err(|_| "bad LZF length")?;
                let len = self.length()?.map_err(|_| "bad LZF length")?;
                // An AUX field is short; a larger claim is not a header we understand.
                if len > HEADER_BYTES as u64 {
                    return Err("LZF string too long for an AUX field".into());
                }
                let data = self.take(usize::try_from(clen).map_err(|_| "length too large")?)?;
                lzf::decompress(data, len as usize).map_err(|e| format!("LZF: {e:?}"))
            }
            Err(e) => Err(format!("unknown string encoding {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aux(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut v = vec![OP_AUX, key.len() as u8];
        v.extend_from_slice(key);
        v.extend_from_slice(value);
        v
    }

    fn raw(s: &str) -> Vec<u8> {
        let mut v = vec![s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    #[test]
    fn reads_repl_id_and_an_int_encoded_offset() {
        let id = "0123456789abcdef0123456789abcdef01234567";
        let mut f = b"REDIS0010".to_vec();
        f.extend(aux(b"redis-ver", &raw("7.0.15")));
        f.extend(aux(b"redis-bits", &[0xc0, 64]));
        f.extend(aux(b"repl-stream-db", &[0xc0, 0]));
        f.extend(aux(b"repl-id", &raw(id)));
        let mut off = vec![0xc2];
        off.extend_from_slice(&123456i32.to_le_bytes());
        f.extend(aux(b"repl-offset", &off));
        f.extend([0xfe, 0x00, 0xff]);
        assert_eq!(
            parse(&f),
            Dump::History(History {
                replid: id.into(),
                offset: 123456
            })
        );
        // Without the replication fields.
        let mut g = b"REDIS0010".to_vec();
        g.extend(aux(b"redis-ver", &raw("7.0.15")));
        g.push(0xff);
        assert_eq!(parse(&g), Dump::NoHistory);
        assert!(matches!(parse(b"REDIS00"), Dump::Unreadable(_)));
        assert!(matches!(parse(&f[..20]), Dump::Unreadable(_)));
    }
}
