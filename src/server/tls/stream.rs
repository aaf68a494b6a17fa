//! The one connection type of the server: plain TCP or TLS over TCP.
//!
//! The connection loop works with readiness (wait until readable, read what is there, write
//! what the socket takes without waiting); [`Stream`] offers exactly that for both kinds.
//! For TLS the non-blocking calls poll the rustls stream with a no-op waker: tokio clears
//! the socket's readiness when a read or write would block, so the next `readable()` /
//! `writable()` wait of the loop sees new bytes or room. Everything else (replication,
//! streamed replies) uses the `AsyncRead`/`AsyncWrite` implementation.

use bytes::BytesMut;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

/// Bytes one [`Stream::read_some`] reads at most from a TLS stream before letting the
/// connection parse them (the rest stays in rustls and is read next time).
const TLS_READ_BATCH: usize = 256 * 1024;

/// A TLS connection and whether rustls may still hold plaintext we have not read.
pub struct TlsConn {
    inner: TlsStream<TcpStream>,
    more: bool,
}

/// A client or replication connection.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (a server or a client session).
    Tls(Box<TlsConn>),
}

impl From<TlsStream<TcpStream>> for Stream {
    fn from(inner: TlsStream<TcpStream>) -> Stream {
        // The handshake may have read the client's first request along with its Finished
        // message: rustls then holds it while the socket has nothing more to say.
        Stream::Tls(Box::new(TlsConn { inner, more: true }))
    }
}

fn noop_cx<R>(f: impl FnOnce(&mut Context<'_>) -> R) -> R {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    f(&mut cx)
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.inner.get_ref().0,
        }
    }

    /// Whether this is a TLS connection.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Waits until a read may give bytes (or end of stream).
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Tls(t) if t.more => Ok(()),
            _ => self.tcp().readable().await,
        }
    }

    /// [`readable`](Self::readable) as a poll: the task's waker goes into the socket's one
    /// reader slot instead of a waiter list entry made and unlinked on every wait, so the
    /// connection loop's wait for input costs no more than a look at the readiness.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tls(t) if t.more => Poll::Ready(Ok(())),
            _ => self.tcp().poll_read_ready(cx),
        }
    }

    /// Waits until the socket takes bytes.
    pub async fn writable(&self) -> io::Result<()> {
        self.tcp().writable().await
    }

    /// TLS records not yet written to the socket (they need a `writable()` wait).
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.inner.get_ref().1.wants_write(),
        }
    }

    /// Reads what is available into `rbuf`; `Ok(0)` is end of stream and `WouldBlock`
    /// means nothing was there.
    ///
    /// Plain TCP: one `read(2)`; a read that left free space in `rbuf` drained the socket,
    /// so the socket's readiness is cleared as well: the connection then waits in the event
    /// loop instead of paying a second `read(2)` only to learn EAGAIN. This is safe because
    /// epoll is edge-triggered and tokio only clears the readiness it observed before the
    /// read: bytes (or a FIN) arriving after it raise a new event.
    pub fn read_some(&mut self, rbuf: &mut BytesMut, chunk: usize) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => {
                if rbuf.capacity() - rbuf.len() < chunk / 2 {
                    rbuf.reserve(chunk);
                }
                let room = rbuf.capacity() - rbuf.len();
                let mut got = 0;
                let r = socket.try_io(Interest::READABLE, || {
                    got = socket.try_read_buf(rbuf)?;
                    if got > 0 && got < room {
                        Err(io::ErrorKind::WouldBlock.into())
                    } else {
                        Ok(got)
                    }
                });
                match r {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
                    r => r,
                }
            }
            Stream::Tls(t) => {
                let mut got = 0;
                t.more = false;
                loop {
                    if got >= TLS_READ_BATCH {
                        t.more = true;
                        return Ok(got);
                    }
                    if rbuf.capacity() - rbuf.len() < chunk / 2 {
                        rbuf.reserve(chunk);
                    }
                    let spare = rbuf.spare_capacity_mut();
                    let mut rb = ReadBuf::uninit(spare);
                    match noop_cx(|cx| Pin::new(&mut t.inner).poll_read(cx, &mut rb)) {
                        Poll::Ready(Ok(())) => {
                            let n = rb.filled().len();
                            if n == 0 {
                                // End of stream (after what was read now, if anything).
                                return Ok(got);
                            }
                            // SAFETY: `n` bytes of the spare capacity were initialized
                            // by poll_read.
                            unsafe { rbuf.set_len(rbuf.len() + n) };
                            got += n;
                        }
                        Poll::Ready(Err(e)) => return if got > 0 { Ok(got) } else { Err(e) },
                        Poll::Pending if got > 0 => return Ok(got),
                        Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
                    }
                }
            }
        }
    }

    /// Writes what the socket takes now (`WouldBlock` when nothing); for TLS, pending
    /// records are sent first.
    pub fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.try_write(buf),
            Stream::Tls(t) => match noop_cx(|cx| Pin::new(&mut t.inner).poll_write(cx, buf)) {
                Poll::Ready(r) => r,
                Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            },
        }
    }

    /// Sends the TLS records rustls holds, as far as the socket takes them now.
    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(t) => match noop_cx(|cx| Pin::new(&mut t.inner).poll_flush(cx)) {
                Poll::Ready(r) => r,
                Poll::Pending => Ok(()),
            },
        }
    }
}

/// Reads from / writes to a raw socket fd without waiting (EAGAIN is `WouldBlock`).
struct RawFdIo(std::os::fd::RawFd);

impl io::Read for RawFdIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: reading into a live buffer of the given length.
        let n = unsafe {
            libc::recv(
                self.0,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

impl io::Write for RawFdIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: writing from a live slice of the given length.
        let n = unsafe {
            libc::send(
                self.0,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `$body` with `$conn` bound to the rustls session of a TLS stream (server or client).
macro_rules! with_session {
    ($tls:expr, $conn:ident => $body:expr) => {
        match &mut $tls.inner {
            TlsStream::Server(s) => {
                let $conn = &mut *s.get_mut().1;
                $body
            }
            TlsStream::Client(s) => {
                let $conn = &mut *s.get_mut().1;
                $body
            }
        }
    };
}

impl Stream {
    /// For TLS: reads what the socket holds straight from its fd, without the event
    /// loop's readiness (a busy script's hook runs while the loop cannot), and appends the
    /// plaintext to `out` (at most about `max` bytes). Plain streams return false.
    pub fn read_raw_tls(&mut self, out: &mut Vec<u8>, max: usize) -> bool {
        use std::io::Read;
        let Stream::Tls(t) = self else {
            return false;
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(t.inner.get_ref().0);
        with_session!(t, conn => {
            let mut chunk = [0u8; 16 * 1024];
            while out.len() < max {
                match conn.reader().read(&mut chunk) {
                    Ok(n) if n > 0 => {
                        out.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => break,
                    _ => {}
                }
                match conn.read_tls(&mut RawFdIo(fd)) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
                if conn.process_new_packets().is_err() {
                    break;
                }
            }
            while conn.wants_write() && conn.write_tls(&mut RawFdIo(fd)).is_ok_and(|n| n > 0) {}
        });
        true
    }

    /// For TLS: encrypts what the session takes of `bytes` and writes the records the
    /// socket takes now straight to its fd (see [`Stream::read_raw_tls`]). Returns how
    /// many bytes the session took and whether records are left to send.
    pub fn write_raw_tls(&mut self, bytes: &[u8]) -> (usize, bool) {
        use std::io::Write;
        let Stream::Tls(t) = self else {
            return (0, false);
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(t.inner.get_ref().0);
        with_session!(t, conn => {
            let took = conn.writer().write(bytes).unwrap_or(0);
            while conn.wants_write() && conn.write_tls(&mut RawFdIo(fd)).is_ok_and(|n| n > 0) {}
            (took, conn.wants_write())
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(t) => {
                let r = Pin::new(&mut t.inner).poll_read(cx, buf);
                // rustls may hold more plaintext after a successful read.
                t.more = matches!(r, Poll::Ready(Ok(())));
                r
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(t) => Pin::new(&mut t.inner).poll_shutdown(cx),
        }
    }
}
