//! A reply tree read from the generated RESP3 data, written back in RESP2 or RESP3.

use crate::resp::ReplyBuf;

/// One RESP3 value of COMMAND's metadata (the types redis-server uses there).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `:n`.
    Int(i64),
    /// `$len` bulk string.
    Bulk(&'static str),
    /// `+text` simple string.
    Simple(&'static str),
    /// `*n` array.
    Array(Vec<Node>),
    /// `~n` set (an array in RESP2).
    Set(Vec<Node>),
    /// `%n` map (a flat array in RESP2).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Parses exactly one value filling `data`; None if it is not well formed.
    pub fn parse_all(data: &'static [u8]) -> Option<Node> {
        let mut rest = data;
        let node = Node::parse(&mut rest)?;
        rest.is_empty().then_some(node)
    }

    fn parse(data: &mut &'static [u8]) -> Option<Node> {
        let line = take_line(data)?;
        let (kind, rest) = line.split_first()?;
        let text = std::str::from_utf8(rest).ok()?;
        Some(match kind {
            b'+' => Node::Simple(text),
            b':' => Node::Int(text.parse().ok()?),
            b'$' => {
                let n: usize = text.parse().ok()?;
                let body = data.get(..n)?;
                if data.get(n..n + 2)? != b"\r\n" {
                    return None;
                }
                *data = &data[n + 2..];
                Node::Bulk(std::str::from_utf8(body).ok()?)
            }
            b'*' | b'~' => {
                let n: usize = text.parse().ok()?;
                let items = (0..n)
                    .map(|_| Node::parse(data))
                    .collect::<Option<Vec<_>>>()?;
                if *kind == b'*' {
                    Node::Array(items)
                } else {
                    Node::Set(items)
                }
            }
            b'%' => {
                let n: usize = text.parse().ok()?;
                let pairs = (0..n)
                    .map(|_| Some((Node::parse(data)?, Node::parse(data)?)))
                    .collect::<Option<Vec<_>>>()?;
                Node::Map(pairs)
            }
            _ => return None,
        })
    }

    /// Writes the value in the connection's protocol.
    pub fn write(&self, out: &mut ReplyBuf) {
        match self {
            Node::Int(n) => out.int(*n),
            Node::Bulk(s) => out.bulk(s.as_bytes()),
            Node::Simple(s) => out.simple(s),
            Node::Array(items) => {
                out.array(items.len());
                items.iter().for_each(|n| n.write(out));
            }
            Node::Set(items) => {
                out.set(items.len());
                items.iter().for_each(|n| n.write(out));
            }
            Node::Map(pairs) => {
                out.map(pairs.len());
                for (k, v) in pairs {
                    k.write(out);
                    v.write(out);
                }
            }
        }
    }

    /// The elements of an array or set (empty for other values).
    pub fn items(&self) -> &[Node] {
        match self {
            Node::Array(items) | Node::Set(items) => items,
            _ => &[],
        }
    }

    /// The pairs of a map (empty for other values).
    pub fn pairs(&self) -> &[(Node, Node)] {
        match self {
            Node::Map(pairs) => pairs,
            _ => &[],
        }
    }

    /// The value of a map's field `name`.
    pub fn field(&self, name: &str) -> Option<&Node> {
        self.pairs()
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    }

    /// The text of a bulk or simple string.
    pub fn as_str(&self) -> Option<&'static str> {
        match self {
            Node::Bulk(s) | Node::Simple(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Node::Int(n) => Some(*n),
            _ => None,
        }
    }
}

/// Splits the first CRLF-terminated line off `data`.
fn take_line(data: &mut &'static [u8]) -> Option<&'static [u8]> {
    let end = data.windows(2).position(|w| w == b"\r\n")?;
    let line = &data[..end];
    *data = &data[end + 2..];
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Proto;

    #[test]
    fn round_trips_resp3_and_downgrades_to_resp2() {
        let data: &'static [u8] = b"*3\r\n$3\r\nget\r\n~1\r\n+fast\r\n%1\r\n$1\r\na\r\n:1\r\n";
        let node = Node::parse_all(data).unwrap();
        let mut out = ReplyBuf::new(Proto::Resp3);
        node.write(&mut out);
        assert_eq!(out.buf, data);
        let mut out = ReplyBuf::new(Proto::Resp2);
        node.write(&mut out);
        assert_eq!(
            out.buf,
            b"*3\r\n$3\r\nget\r\n*1\r\n+fast\r\n*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert!(Node::parse_all(b"*2\r\n:1\r\n").is_none());
        assert!(Node::parse_all(b"$5\r\nab\r\n").is_none());
    }
}
