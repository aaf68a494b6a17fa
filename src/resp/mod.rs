//! RESP, the Redis serialization protocol: the request parser (multibulk and inline, as
//! redis-server accepts them) and the reply writer (RESP2, and RESP3 after `HELLO 3`).
//!
//! Shared by the server (client connections, the replica side of replication) and anything
//! else that speaks the wire format.

pub mod parser;
pub mod split_args;
pub mod writer;

pub use parser::{ParseLimits, ProtocolError, RequestParser};
pub use split_args::split_args;
pub use writer::{Proto, ReplyBuf, ReplyStream, encode_command};
