//! RESP2 replies as the fuzzer reads them off the wire, the request encoder, and a short
//! printable form for mismatch reports.

use std::fmt;
use std::io::{self, BufRead};

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$n` with its payload.
    Bulk(Vec<u8>),
    /// `$-1`
    Nil,
    /// `*n` with its elements.
    Array(Vec<Reply>),
    /// `*-1`
    NilArray,
}

impl Reply {
    /// The payload of a simple or bulk string.
    pub fn text(&self) -> Option<&[u8]> {
        match self {
            Reply::Simple(b) | Reply::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// True for an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The kind of reply, for shape comparisons (`nil` and `nil array` are kinds of their own).
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Simple(_) => "simple",
            Reply::Error(_) => "error",
            Reply::Int(_) => "integer",
            Reply::Bulk(_) => "bulk",
            Reply::Nil => "nil",
            Reply::Array(_) => "array",
            Reply::NilArray => "nil array",
        }
    }
}

fn short(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned();
    if b.len() > 120 {
        format!("{s:?}...({} bytes)", b.len())
    } else {
        format!("{s:?}")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(b) => write!(f, "+{}", short(b)),
            Reply::Error(b) => write!(f, "-{}", short(b)),
            Reply::Int(n) => write!(f, ":{n}"),
            Reply::Bulk(b) => write!(f, "{}", short(b)),
            Reply::Nil => write!(f, "(nil)"),
            Reply::NilArray => write!(f, "(nil array)"),
            Reply::Array(xs) => {
                write!(f, "[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i == 12 {
                        return write!(f, ", ...{} elements]", xs.len());
                    }
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// A command line in printable form (long arguments cut).
pub fn show_command(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| short(a)).collect::<Vec<_>>().join(" ")
}

/// Appends `args` as a RESP array of bulk strings.
pub fn encode(args: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut l = Vec::new();
    r.read_until(b'\n', &mut l)?;
    if l.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if !l.ends_with(b"\r\n") {
        return Err(bad("reply line without CRLF"));
    }
    l.truncate(l.len() - 2);
    Ok(l)
}

fn number(b: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad length or integer"))
}

/// Reads one complete reply.
pub fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let l = line(r)?;
    let (t, rest) = l.split_first().ok_or_else(|| bad("empty reply line"))?;
    Ok(match t {
        b'+' => Reply::Simple(rest.to_vec()),
        b'-' => Reply::Error(rest.to_vec()),
        b':' => Reply::Int(number(rest)?),
        b'$' => {
            let n = number(rest)?;
            if n < 0 {
                Reply::Nil
            } else {
                let mut b = vec![0u8; n as usize + 2];
                r.read_exact(&mut b)?;
                b.truncate(n as usize);
                Reply::Bulk(b)
            }
        }
        b'*' => {
            let n = number(rest)?;
            if n < 0 {
                Reply::NilArray
            } else {
                let mut xs = Vec::with_capacity((n as usize).min(4096));
                for _ in 0..n {
                    xs.push(read_reply(r)?);
                }
                Reply::Array(xs)
            }
        }
        _ => return Err(bad("unknown reply type")),
    })
}
