//! Incremental request parser.
//!
//! Bytes arrive in arbitrary pieces; [`RequestParser::parse`] either returns one complete
//! command (and how many bytes it used) or says more bytes are needed. A request is a RESP
//! multibulk (`*N\r\n$len\r\narg\r\n...`) or an inline line (`SET k v\r\n`), decided by its
//! first byte as in Redis's `processInputBuffer`.

use bytes::{Bytes, BytesMut};

/// Longest inline request or multibulk header line accepted (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits taken from the configuration (`proto-max-bulk-len`) and the client's state.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// Largest bulk argument (`proto-max-bulk-len`).
    pub max_bulk_len: i64,
    /// Whether the client still has to authenticate: Redis then accepts only small requests.
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// A request that breaks the protocol; the text is what follows `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Parses requests out of a connection's query buffer.
///
/// Work is proportional to the bytes that arrived: a request that comes in pieces is never
/// rescanned from its start (an inline line remembers how far it was searched, a multibulk
/// where its next argument starts), and nothing is allocated from a length the client
/// declares (the buffer grows with the bytes actually received).
#[derive(Default, Debug)]
pub struct RequestParser {
    /// Byte offset up to which the buffer was already searched for the end of an inline
    /// line, so a long line arriving in pieces is not rescanned from the start.
    inline_scanned: usize,
    /// The multibulk being received, when its header was read but not all its arguments.
    multibulk: Option<Multibulk>,
    /// Where each argument of the multibulk being read lies in the buffer; kept from one
    /// request to the next (one allocation per connection, not one per request), and
    /// freed when a request with many arguments left it large.
    spans: Vec<(usize, usize)>,
}

/// `spans` of more entries than this is freed once its request is taken.
const KEEP_SPANS: usize = 64;

/// Progress through one multibulk request whose bytes are still in the buffer.
#[derive(Debug)]
struct Multibulk {
    /// Arguments announced by the `*<count>` header.
    count: usize,
    /// Offset of the next unread `$<len>` line.
    pos: usize,
}

impl RequestParser {
    /// Creates a parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of bookkeeping held for a request still arriving (counted with the query
    /// buffer against `client-query-buffer-limit`).
    pub fn pending_overhead(&self) -> usize {
        self.multibulk.as_ref().map_or(0, |_| {
            self.spans.capacity() * std::mem::size_of::<(usize, usize)>()
        })
    }

    /// Takes one complete command off the front of `buf`.
    ///
    /// Returns `Ok(Some(args))` for a command (possibly empty: an empty line or `*0`, which the
    /// caller skips), `Ok(None)` when more bytes are needed, and an error for a protocol
    /// violation (the caller replies and closes the connection).
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        Ok(self.parse_frame(buf, limits)?.map(|(_, args)| args))
    }

    /// Like [`parse`](Self::parse), also returning the command's exact bytes (a replica
    /// passes its master's stream on unchanged and counts its offset in bytes).
    pub fn parse_frame(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>, ProtocolError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] == b'*' {
            self.parse_multibulk(buf, limits)
        } else {
            self.parse_inline(buf)
        }
    }

    fn parse_inline(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>, ProtocolError> {
        let start = self.inline_scanned.min(buf.len());
        let Some(nl) = memchr(b'\n', &buf[start..]).map(|i| i + start) else {
            self.inline_scanned = buf.len();
            if buf.len() > INLINE_MAX {
                return Err(perr("too big inline request"));
            }
            return Ok(None);
        };
        self.inline_scanned = 0;
        let line = buf.split_to(nl + 1).freeze();
        let mut end = nl;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
        let args =
            super::split_args(&line[..end]).ok_or_else(|| perr("unbalanced quotes in request"))?;
        Ok(Some((line, args.into_iter().map(Bytes::from).collect())))
    }

    fn parse_multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>, ProtocolError> {
        let mut mb = match self.multibulk.take() {
            Some(mb) => mb,
            None => {
                let Some((count, pos)) = read_line_int(buf, 0)? else {
                    if buf.len() > INLINE_MAX {
                        return Err(perr("too big mbulk count string"));
                    }
                    return Ok(None);
                };
                let count = count.ok_or_else(|| perr("invalid multibulk length"))?;
                if count > i32::MAX as i64 {
                    return Err(perr("invalid multibulk length"));
                }
                if count > 10 && limits.unauthenticated {
                    return Err(perr("unauthenticated multibulk length"));
                }
                if count <= 0 {
                    return Ok(Some((buf.split_to(pos).freeze(), Vec::new())));
                }
                // Never sized by the client's count: grows with the arguments received.
                self.spans.clear();
                self.spans.reserve((count as usize).min(1024));
                Multibulk {
                    count: count as usize,
                    pos,
                }
            }
        };
        while self.spans.len() < mb.count {
            let pos = mb.pos;
            if pos >= buf.len() {
                self.multibulk = Some(mb);
                return Ok(None);
            }
            if buf[pos] != b'$' {
                return Err(perr(format!("expected '$', got '{}'", buf[pos] as char)));
            }
            let Some((len, after)) = read_line_int(buf, pos)? else {
                if buf.len() - pos > INLINE_MAX {
                    return Err(perr("too big bulk count string"));
                }
                self.multibulk = Some(mb);
                return Ok(None);
            };
            let len = match len {
                Some(l) if l >= 0 && l <= limits.max_bulk_len => l,
                _ => return Err(perr("invalid bulk length")),
            };
            if len > 16384 && limits.unauthenticated {
                return Err(perr("unauthenticated bulk length"));
            }
            let len = len as usize;
            if buf.len() < after + len + 2 {
                // The argument arrives in pieces; the caller's buffer grows with them.
                self.multibulk = Some(mb);
                return Ok(None);
            }
            self.spans.push((after, after + len));
            mb.pos = after + len + 2;
        }
        let frame = buf.split_to(mb.pos).freeze();
        let args = self.spans.iter().map(|&(a, b)| frame.slice(a..b)).collect();
        self.spans.clear();
        if self.spans.capacity() > KEEP_SPANS {
            self.spans = Vec::new();
        }
        Ok(Some((frame, args)))
    }
}

/// Reads `<prefix><integer>\r\n` starting at `at`. Returns the integer (None if malformed)
/// and the offset after the line, or None if the line is not complete yet.
fn read_line_int(buf: &[u8], at: usize) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let Some(cr) = memchr(b'\r', &buf[at..]).map(|i| i + at) else {
        return Ok(None);
    };
    if cr + 1 >= buf.len() {
        return Ok(None);
    }
    let digits = &buf[at + 1..cr];
    // Redis reads these with string2ll: no '+', no leading zeros or spaces ("*+1", "*01").
    let value = crate::server::numbers::parse_i64(digits);
    Ok(Some((value, cr + 2)))
}

#[inline]
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = p.parse(&mut buf, ParseLimits::default()).unwrap() {
            out.push(cmd.into_iter().map(|b| b.to_vec()).collect());
        }
        assert!(buf.is_empty(), "left over: {:?}", buf);
        out
    }

    #[test]
    fn multibulk_and_inline_pipelined() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n");
        assert_eq!(
            cmds,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()],
            ]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_commands() {
        let input =
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\nECHO hi\r\n*1\r\n$4\r\nPING\r\n";
        let whole = parse_all(input);
        for cut in 0..input.len() {
            let mut p = RequestParser::new();
            let mut buf = BytesMut::from(&input[..cut]);
            let mut got = Vec::new();
            while let Some(c) = p.parse(&mut buf, ParseLimits::default()).unwrap() {
                got.push(c);
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(c) = p.parse(&mut buf, ParseLimits::default()).unwrap() {
                got.push(c);
            }
            let got: Vec<Vec<Vec<u8>>> = got
                .into_iter()
                .map(|c| c.into_iter().map(|b| b.to_vec()).collect())
                .collect();
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn protocol_errors_use_redis_wording() {
        let err = |input: &[u8]| {
            RequestParser::new()
                .parse(&mut BytesMut::from(input), ParseLimits::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(b"*1\r\n+PING\r\n"),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*+1\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*01\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(
            err(b"*1\r\n$+4\r\nPING\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            err(b"set \"a\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        let unauth = ParseLimits {
            unauthenticated: true,
            ..Default::default()
        };
        let e = RequestParser::new()
            .parse(&mut BytesMut::from(&b"*11\r\n"[..]), unauth)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
    }

    #[test]
    fn declared_lengths_allocate_nothing() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
        assert_eq!(p.parse(&mut buf, ParseLimits::default()).unwrap(), None);
        assert!(buf.capacity() < 1 << 20, "reserved {}", buf.capacity());
        let mut buf = BytesMut::from(&b"*2147483647\r\n$1\r\na\r\n"[..]);
        let mut p = RequestParser::new();
        assert_eq!(p.parse(&mut buf, ParseLimits::default()).unwrap(), None);
        assert!(p.pending_overhead() < 1 << 20);
    }

    #[test]
    fn a_multibulk_in_pieces_resumes_where_it_stopped() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk"[..]);
        assert_eq!(p.parse(&mut buf, ParseLimits::default()).unwrap(), None);
        assert!(p.multibulk.is_some());
        assert_eq!(p.spans.len(), 1);
        buf.extend_from_slice(b"\r\n$1\r\nv\r\n");
        let args = p.parse(&mut buf, ParseLimits::default()).unwrap().unwrap();
        assert_eq!(args, vec!["SET", "k", "v"]);
        assert!(buf.is_empty() && p.multibulk.is_none());
    }

    #[test]
    fn a_request_with_many_arguments_leaves_no_large_bookkeeping() {
        let mut p = RequestParser::new();
        let mut req = b"*1000\r\n".to_vec();
        for _ in 0..1000 {
            req.extend_from_slice(b"$1\r\na\r\n");
        }
        req.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        let mut buf = BytesMut::from(&req[..]);
        assert_eq!(
            p.parse(&mut buf, ParseLimits::default())
                .unwrap()
                .unwrap()
                .len(),
            1000
        );
        assert_eq!(p.spans.capacity(), 0);
        let args = p.parse(&mut buf, ParseLimits::default()).unwrap().unwrap();
        assert_eq!(args, vec!["GET", "k"]);
        assert!(p.spans.capacity() <= KEEP_SPANS);
    }

    #[test]
    fn empty_requests_are_skipped_by_caller() {
        assert_eq!(
            parse_all(b"\r\n*0\r\n"),
            vec![Vec::<Vec<u8>>::new(), vec![]]
        );
    }
}
