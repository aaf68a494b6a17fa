//! Reply writer: appends RESP replies to a connection's output buffer.
//!
//! Replies are written straight into bytes (no intermediate frame tree). The same calls
//! produce RESP2 or RESP3 depending on [`Proto`]: maps, sets, doubles and nulls differ.

/// The protocol version a client chose with HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// The rest of a reply whose size the client chose (SRANDMEMBER with a huge negative count):
/// produced piece by piece while it is written, so it never sits whole in memory.
pub trait ReplyStream: Send {
    /// Appends the next piece (about `budget` bytes) to `out`; false once the reply is whole.
    fn fill(&mut self, out: &mut ReplyBuf, budget: usize) -> bool;
}

/// Streams inserted in a [`ReplyBuf`], each at the byte offset of `buf` where it belongs.
#[derive(Default)]
pub struct Streams(pub Vec<(usize, Box<dyn ReplyStream>)>);

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Streams({})", self.0.len())
    }
}

/// A position in a [`ReplyBuf`] (bytes and streams), to drop what was written after it.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    bytes: usize,
    streams: usize,
}

/// An output buffer with RESP encoding helpers.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    /// Encoded bytes waiting to be written to the socket.
    pub buf: Vec<u8>,
    /// Encoding to use for maps, sets, doubles and nulls.
    pub proto: Proto,
    /// Replies produced while they are written, each at its place in `buf`.
    pub streams: Streams,
}

impl ReplyBuf {
    /// An empty buffer speaking `proto`.
    pub fn new(proto: Proto) -> Self {
        ReplyBuf {
            buf: Vec::new(),
            proto,
            streams: Streams::default(),
        }
    }

    /// Continues the reply with `s`, produced as the client reads (what is written after
    /// this call goes after the whole stream).
    pub fn stream(&mut self, s: Box<dyn ReplyStream>) {
        self.streams.0.push((self.buf.len(), s));
    }

    /// The current end of the buffer.
    pub fn mark(&self) -> Mark {
        Mark {
            bytes: self.buf.len(),
            streams: self.streams.0.len(),
        }
    }

    /// Drops everything written after `m` (CLIENT REPLY OFF/SKIP).
    pub fn truncate(&mut self, m: Mark) {
        self.buf.truncate(m.bytes);
        self.streams.0.truncate(m.streams);
    }

    /// Drops the first `n` bytes (already sent), keeping every stream at its place.
    pub fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.buf.drain(..n);
        for (at, _) in &mut self.streams.0 {
            *at = at.saturating_sub(n);
        }
    }

    /// True when a streamed reply waits to be written.
    pub fn has_streams(&self) -> bool {
        !self.streams.0.is_empty()
    }

    /// True when nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.streams.0.is_empty()
    }

    /// Writes everything to `w`: the bytes, and each stream at its place, piece by piece
    /// (`piece` bytes at a time); the buffer is empty afterwards.
    pub async fn flush_to<W: tokio::io::AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        piece: usize,
    ) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let streams = std::mem::take(&mut self.streams.0);
        let mut from = 0;
        let mut scratch = ReplyBuf::new(self.proto);
        for (at, mut s) in streams {
            w.write_all(&self.buf[from..at]).await?;
            from = at;
            loop {
                scratch.buf.clear();
                let more = s.fill(&mut scratch, piece);
                w.write_all(&scratch.buf).await?;
                if !more {
                    break;
                }
            }
        }
        w.write_all(&self.buf[from..]).await?;
        self.buf.clear();
        Ok(())
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string `+s` (must not contain CR or LF).
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the full text, e.g. `ERR syntax error` or `WRONGTYPE ...`;
    /// newlines are replaced by spaces as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for b in msg.bytes() {
            self.buf
                .push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer `:n`.
    pub fn int(&mut self, n: i64) {
        self.buf.push(b':');
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.push(b'$');
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        self.bulk(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A null: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Proto::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Proto::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// A null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Proto::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Proto::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The header of an array of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// The header of a map of `n` pairs (`%n` in RESP3, a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n * 2),
            Proto::Resp3 => self.header(b'%', n),
        }
    }

    /// The header of a push message of `n` elements (`>n` in RESP3, an array in RESP2):
    /// Pub/Sub messages and (un)subscribe confirmations.
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n),
            Proto::Resp3 => self.header(b'>', n),
        }
    }

    /// The header of a set of `n` elements (`~n` in RESP3, an array in RESP2).
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', n),
            Proto::Resp3 => self.header(b'~', n),
        }
    }

    /// A double: a bulk string in RESP2 (formatted like Redis's `%.17g`), `,` in RESP3.
    pub fn double(&mut self, d: f64) {
        let text = crate::server::numbers::format_double(d);
        match self.proto {
            Proto::Resp2 => self.bulk(text.as_bytes()),
            Proto::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A verbatim string (`=` in RESP3 with the `txt` format, a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.proto {
            Proto::Resp2 => self.bulk(text),
            Proto::Resp3 => {
                self.header(b'=', text.len() + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends already-encoded RESP bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, kind: u8, n: usize) {
        self.buf.push(kind);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Appends a command (or any array of bulk strings) in RESP: `*N` then `$len` and each
/// argument. Replication streams writes this way; the orchestrator sends its commands so.
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, args: &[A]) {
    use std::io::Write;
    let _ = write!(buf, "*{}\r\n", args.len());
    for a in args {
        let a = a.as_ref();
        let _ = write!(buf, "${}\r\n", a.len());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resp2_and_resp3() {
        let mut r = ReplyBuf::new(Proto::Resp2);
        r.map(1);
        r.bulk(b"a");
        r.null();
        r.int(-3);
        assert_eq!(r.buf, b"*2\r\n$1\r\na\r\n$-1\r\n:-3\r\n");
        let mut r = ReplyBuf::new(Proto::Resp3);
        r.map(1);
        r.null();
        assert_eq!(r.buf, b"%1\r\n_\r\n");
    }
}
