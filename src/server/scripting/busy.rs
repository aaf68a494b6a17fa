//! Serving other clients while a script runs past `busy-reply-threshold`, as Redis's
//! processEventsWhileBlocked does from the Lua count hook.
//!
//! A script runs to completion under the state lock on the thread of its connection, which
//! with `io-threads 1` is the one event loop: no other connection task can run until it
//! ends. So, once the script is older than the threshold, the hook itself serves the
//! connections that are *at rest* (their task waits for input with nothing buffered, no
//! reply pending, authenticated, not in MULTI): it reads what their sockets hold, answers
//! `SCRIPT KILL`, `FUNCTION KILL` and `SHUTDOWN NOSAVE`, refuses everything else with
//! `-BUSY ...` (unknown commands and wrong arities get their usual errors first, as in
//! Redis), and writes the replies straight to the socket.
//!
//! A connection at rest also lends the hook its [`Client`]: every request is then run by
//! the ordinary [`commands::dispatch`] against the running script's state, as Redis's
//! processCommand does from processEventsWhileBlocked. Its checks answer NOAUTH, NOPERM ...
//! first and `-BUSY` for every command not flagged `allow_busy` (inside MULTI that dooms the
//! transaction, and EXEC answers EXECABORT); AUTH, HELLO, MULTI, WATCH, RESET, FUNCTION
//! STATS ... run. A connection resting also lends its socket (plain or TLS) for that. A
//! connection the hook accepts while busy is admitted at once (its task starts when the
//! script ends) and its door holds its new client meanwhile, so it is served the same
//! way. The master link is never read here (Redis too lets its stream accumulate while
//! busy).
//!
//! Each connection registers a [`Door`] (its socket's fd and a small state machine) with
//! the [`Watchdog`](super::Watchdog); the task and the hook never read one socket at the
//! same time: `REST` → `PUMPING` (hook) and `REST` → `ACTIVE` (task) are compare-and-swaps.

use super::Watchdog;
use crate::resp::{ParseLimits, ReplyBuf, RequestParser};
use crate::server::client::Client;
use crate::server::commands::{self, Ctx, Flow};
use crate::server::tls::stream::Stream;
use crate::server::wakeup::Wakeup;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// The task is running (or may read its socket at any time).
const ACTIVE: u8 = 0;
/// The task waits for input with nothing buffered: the hook may serve it.
const REST: u8 = 1;
/// The hook is reading from / writing to the socket.
const PUMPING: u8 = 2;

/// The BUSY reply while an EVAL script runs.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The BUSY reply while a function runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL / FUNCTION KILL of a script that has written.
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
/// SCRIPT KILL / FUNCTION KILL with no script running.
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";

/// One connection as the busy hook sees it.
#[derive(Debug)]
pub struct Door {
    /// The connection's socket.
    fd: RawFd,
    /// ACTIVE, REST or PUMPING.
    state: AtomicU8,
    /// Bytes read by the hook that the task must process (requests left for it).
    held: Mutex<BytesMut>,
    /// Reply bytes the hook could not write at once: the task sends them first.
    unsent: Mutex<Vec<u8>>,
    /// Set when bytes are held: the hook stops serving this connection (order of
    /// requests) until the task has taken them.
    stopped: AtomicBool,
    /// Wakes the task when the hook left held bytes or unsent replies.
    pub wake: Wakeup,
    /// The connection's client while it is at rest: set by [`Door::rest`] (or by the
    /// hook for a connection it accepted), used by the hook only between its REST →
    /// PUMPING and PUMPING → REST swaps, while the task waits and does not touch it.
    client: AtomicPtr<Client>,
    /// The connection's socket while it is at rest, under the same rule (null for a
    /// connection the hook accepted whose task has not started: its raw `fd` is used).
    stream: AtomicPtr<Stream>,
    /// The client the hook made for a connection it accepted, until its task takes it.
    owned: Mutex<Option<Box<Client>>>,
}

impl Door {
    fn new(fd: RawFd, state: u8) -> Door {
        Door {
            fd,
            state: AtomicU8::new(state),
            held: Mutex::new(BytesMut::new()),
            unsent: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            wake: Wakeup::new(),
            client: AtomicPtr::new(std::ptr::null_mut()),
            stream: AtomicPtr::new(std::ptr::null_mut()),
            owned: Mutex::new(None),
        }
    }

    /// The task is about to wait for input; `quiet` says nothing is buffered or pending
    /// and the connection could be answered by the hook (see the module doc). The task
    /// must not use `client` or `stream` again before [`Door::active`] returned: the hook
    /// may run its requests and use its socket meanwhile.
    #[inline]
    pub fn rest(&self, quiet: bool, client: &mut Client, stream: &mut Stream) {
        if quiet {
            self.client.store(client, Ordering::Relaxed);
            self.stream.store(stream, Ordering::Relaxed);
            self.state.store(REST, Ordering::Release);
        }
    }

    /// The client the busy hook made when it accepted this connection (and served it
    /// with): the task's own from now on. Call after [`Door::active`].
    pub fn take_client(&self) -> Option<Client> {
        lock(&self.owned).take().map(|c| *c)
    }

    /// The task resumes: waits for a running hook pass on this socket to end, then
    /// appends the held request bytes to `rbuf` and the unsent replies to `out`; true when
    /// it did (the task has work even if its socket has nothing).
    #[inline]
    pub fn active(&self, rbuf: &mut BytesMut, out: &mut Vec<u8>) -> bool {
        loop {
            match self
                .state
                .compare_exchange(REST, ACTIVE, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) | Err(ACTIVE) => break,
                Err(_) => std::thread::yield_now(),
            }
        }
        if self.stopped.load(Ordering::Acquire) {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            rbuf.extend_from_slice(&held);
            *held = BytesMut::new();
            let mut unsent = self.unsent.lock().unwrap_or_else(|e| e.into_inner());
            out.extend_from_slice(&unsent);
            *unsent = Vec::new();
            self.stopped.store(false, Ordering::Release);
            return true;
        }
        false
    }
}

/// The doors of every connection, by client id, and the listening sockets.
#[derive(Debug, Default)]
pub struct Doors {
    map: Mutex<HashMap<u64, Arc<Door>>>,
    /// The server's listening sockets: new connections are accepted while busy.
    listeners: Mutex<Vec<RawFd>>,
}

impl Doors {
    /// Records a listening socket.
    pub fn listen(&self, fd: RawFd) {
        lock(&self.listeners).push(fd);
    }

    /// Forgets a listening socket (CONFIG SET port: closed once its accept loop ends).
    pub fn unlisten(&self, fd: RawFd) {
        lock(&self.listeners).retain(|&l| l != fd);
    }

    /// Gives the door the hook made when it accepted a connection to that connection `id`.
    pub fn adopt(&self, id: u64, door: Arc<Door>) {
        lock(&self.map).insert(id, door);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registered door; dropping it unregisters the connection.
pub struct DoorGuard {
    doors: Arc<Watchdog>,
    id: u64,
    /// The door itself.
    pub door: Arc<Door>,
}

impl Drop for DoorGuard {
    fn drop(&mut self) {
        // Never close a socket the hook is using.
        self.door.active(&mut BytesMut::new(), &mut Vec::new());
        let mut map = self
            .doors
            .doors
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.remove(&self.id);
    }
}

/// Registers the connection `id` whose socket is `fd` (or takes the door the hook made
/// for it when it accepted it).
pub fn register(dog: &Arc<Watchdog>, id: u64, fd: RawFd) -> DoorGuard {
    let mut map = lock(&dog.doors.map);
    let door = map
        .entry(id)
        .or_insert_with(|| Arc::new(Door::new(fd, ACTIVE)))
        .clone();
    DoorGuard {
        doors: dog.clone(),
        id,
        door,
    }
}

/// What the hook does with one request.
enum Answer {
    /// Reply these bytes.
    Reply(Vec<u8>),
    /// Leave this request (and what follows) to the task (CLIENT PAUSE postponed it).
    Hold,
    /// SHUTDOWN NOSAVE: end the script and the server.
    Shutdown,
    /// QUIT: reply these bytes, then close the connection.
    Close(Vec<u8>),
}

fn error_bytes(text: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.len() + 3);
    v.push(b'-');
    v.extend_from_slice(text.as_bytes());
    v.extend_from_slice(b"\r\n");
    v
}

/// SCRIPT KILL (`eval` true) or FUNCTION KILL, as Redis's scriptKill.
pub fn kill(dog: &Watchdog, eval: bool) -> Result<(), &'static str> {
    if !dog.running.load(Ordering::Acquire) {
        return Err(NOTBUSY);
    }
    if dog.wrote.load(Ordering::Acquire) {
        return Err(UNKILLABLE);
    }
    let is_function = dog.is_function.load(Ordering::Relaxed);
    if eval && is_function {
        return Err(BUSY_FUNCTION);
    }
    if !eval && !is_function {
        return Err(BUSY_EVAL);
    }
    dog.kill.store(true, Ordering::Release);
    Ok(())
}

/// The BUSY reply for what runs now.
pub fn busy_text(dog: &Watchdog) -> &'static str {
    if dog.is_function.load(Ordering::Relaxed) {
        BUSY_FUNCTION
    } else {
        BUSY_EVAL
    }
}

/// Runs one request of a connection whose client the hook holds: SHUTDOWN as
/// [`shutdown`], anything else through the ordinary checks and handlers (see the module doc).
fn answer_client(dog: &Watchdog, args: &[Bytes], client: &mut Client) -> Answer {
    if client.authenticated
        && let Ok(cmd) = commands::lookup_request(args)
        && cmd.name == "shutdown"
    {
        return shutdown(dog, &args[1..]);
    }
    let run = super::call::with_current(|script| {
        let mut out = ReplyBuf::default();
        let mut ctx = Ctx::new(script.state, client, &mut out, script.shared);
        commands::dispatch(&mut ctx, args);
        let flow = ctx.flow;
        (flow, out.buf)
    });
    match run {
        // CLIENT PAUSE postponed it (nothing ran): the task runs it after the script.
        Some((Flow::Paused, _)) | None => Answer::Hold,
        Some((Flow::Close, reply)) => Answer::Close(reply),
        Some((_, reply)) => Answer::Reply(reply),
    }
}

/// SHUTDOWN while busy, as Redis's shutdownCommand: flags checked, ABORT has nothing to
/// abort, only NOSAVE may stop the server.
fn shutdown(dog: &Watchdog, flags: &[Bytes]) -> Answer {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for f in flags {
        match &f.to_ascii_lowercase()[..] {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"abort" => abort = true,
            b"now" | b"force" => other = true,
            _ => return Answer::Reply(error_bytes("ERR syntax error")),
        }
    }
    if (nosave && save) || (abort && (nosave || save || other)) {
        return Answer::Reply(error_bytes("ERR syntax error"));
    }
    if abort {
        return Answer::Reply(error_bytes("ERR No shutdown in progress."));
    }
    if nosave {
        return Answer::Shutdown;
    }
    Answer::Reply(error_bytes(busy_text(dog)))
}

/// Serves every door at rest (called from the count hook once the script is past the
/// threshold). Returns true when SHUTDOWN NOSAVE was asked.
pub fn pump(dog: &Watchdog) -> bool {
    accept(&dog.doors);
    let doors: Vec<Arc<Door>> = lock(&dog.doors.map).values().cloned().collect();
    let mut shutdown = false;
    for door in doors {
        if door.stopped.load(Ordering::Acquire) {
            continue;
        }
        if door
            .state
            .compare_exchange(REST, PUMPING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        // SAFETY: the task (or `accept`) stored these pointers to its live client and
        // socket before it made the door REST, and does not touch them until its own
        // REST → ACTIVE swap, which waits for this PUMPING pass to end; so these are the
        // only references used meanwhile (the task's pending readiness wait only holds
        // the socket's registration, which tokio shares between threads).
        let client = unsafe { door.client.load(Ordering::Relaxed).as_mut() };
        let stream = unsafe { door.stream.load(Ordering::Relaxed).as_mut() };
        if let Some(client) = client {
            let io = match stream {
                Some(s) if s.is_tls() => Io::Tls(s),
                _ => Io::Fd(door.fd),
            };
            shutdown |= serve_door(dog, &door, client, io);
        }
        door.state.store(REST, Ordering::Release);
    }
    shutdown
}

/// Accepts the connections waiting on the listening sockets (as Redis's event loop does
/// while busy) and admits them at once: the hook serves them with a client of their own,
/// kept in their door until their task starts after the script.
fn accept(doors: &Doors) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let listeners = lock(&doors.listeners).clone();
    super::call::with_current(|ctx| {
        for &fd in &listeners {
            // SAFETY: the fd is a listening socket owned by the accept loop for the
            // server's whole life; ManuallyDrop keeps this copy from closing it.
            let listener =
                std::mem::ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(fd) });
            while let Ok((socket, peer)) = listener.accept() {
                if socket.set_nonblocking(true).is_err() {
                    continue;
                }
                let Ok(socket) = tokio::net::TcpStream::from_std(socket) else {
                    continue;
                };
                // PUMPING until its client is in: its task may start on another thread.
                let door = Arc::new(Door::new(socket.as_raw_fd(), PUMPING));
                let admitted =
                    crate::server::admit(ctx.shared, ctx.state, socket, peer, Some(door.clone()));
                if let Some((info, local)) = admitted {
                    let open = ctx.state.acl.default_is_open();
                    let mut client = Box::new(Client::new(info, open, local));
                    door.client.store(&mut *client, Ordering::Relaxed);
                    *lock(&door.owned) = Some(client);
                }
                door.state.store(REST, Ordering::Release);
            }
        }
    });
}

/// The socket the hook serves: a resting task's TLS stream (its session), or the raw
/// socket (plain connections, and those whose task has not started). The event loop
/// cannot run meanwhile, so its readiness is stale: both read and write the fd directly.
enum Io<'a> {
    Tls(&'a mut Stream),
    Fd(RawFd),
}

impl Io<'_> {
    /// Reads what the socket holds now (up to about 1 MB).
    fn read(&mut self) -> Vec<u8> {
        let mut input = Vec::new();
        match self {
            Io::Tls(s) => {
                s.read_raw_tls(&mut input, 1 << 20);
            }
            Io::Fd(fd) => {
                let mut chunk = [0u8; 16 * 1024];
                while input.len() <= 1 << 20 {
                    // SAFETY: reading into a stack buffer of the given length.
                    let n = unsafe {
                        libc::recv(
                            *fd,
                            chunk.as_mut_ptr().cast(),
                            chunk.len(),
                            libc::MSG_DONTWAIT,
                        )
                    };
                    if n <= 0 {
                        break;
                    }
                    input.extend_from_slice(&chunk[..n as usize]);
                }
            }
        }
        input
    }

    /// Writes what the socket takes now of `bytes`; returns how many it took, and
    /// whether TLS records are left for the task to send.
    fn write(&mut self, bytes: &[u8]) -> (usize, bool) {
        match self {
            Io::Tls(s) => s.write_raw_tls(bytes),
            Io::Fd(fd) => {
                let mut at = 0;
                while at < bytes.len() {
                    // SAFETY: writing from a live slice of the given length.
                    let n = unsafe {
                        libc::send(
                            *fd,
                            bytes[at..].as_ptr().cast(),
                            bytes.len() - at,
                            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                        )
                    };
                    if n <= 0 {
                        break;
                    }
                    at += n as usize;
                }
                (at, false)
            }
        }
    }
}

/// Reads what `door`'s socket holds and answers its complete requests with `client`.
fn serve_door(dog: &Watchdog, door: &Door, client: &mut Client, mut io: Io<'_>) -> bool {
    let input = io.read();
    if input.is_empty() {
        return false;
    }
    let mut buf = BytesMut::from(&input[..]);
    let mut replies = Vec::new();
    let mut shutdown = false;
    let mut parser = RequestParser::new();
    let limits = ParseLimits::default();
    loop {
        let rest = &input[input.len() - buf.len()..];
        match parser.parse(&mut buf, limits) {
            Ok(Some(args)) if args.is_empty() => continue,
            Ok(Some(args)) => match answer_client(dog, &args, client) {
                Answer::Reply(r) => replies.extend_from_slice(&r),
                Answer::Close(r) => {
                    replies.extend_from_slice(&r);
                    send(door, &mut io, &replies);
                    // The task sees the end of its socket and closes the connection.
                    // SAFETY: a plain shutdown(2) of the door's live socket.
                    unsafe { libc::shutdown(door.fd, libc::SHUT_RDWR) };
                    return shutdown;
                }
                Answer::Hold => {
                    hold(door, rest);
                    break;
                }
                Answer::Shutdown => {
                    shutdown = true;
                    break;
                }
            },
            // A partial request, or a protocol error the task must answer.
            Ok(None) | Err(_) => {
                if !rest.is_empty() {
                    hold(door, rest);
                }
                break;
            }
        }
    }
    send(door, &mut io, &replies);
    shutdown
}

/// Keeps `bytes` for the task and stops serving the door.
fn hold(door: &Door, bytes: &[u8]) {
    let mut held = door.held.lock().unwrap_or_else(|e| e.into_inner());
    held.extend_from_slice(bytes);
    door.stopped.store(true, Ordering::Release);
    door.wake.notify_one();
}

/// Writes `replies` without waiting; what the socket does not take goes to the task.
fn send(door: &Door, io: &mut Io<'_>, replies: &[u8]) {
    let (at, records_left) = io.write(replies);
    if at < replies.len() {
        let mut unsent = door.unsent.lock().unwrap_or_else(|e| e.into_inner());
        unsent.extend_from_slice(&replies[at..]);
        door.stopped.store(true, Ordering::Release);
        door.wake.notify_one();
    } else if records_left {
        // TLS records rustls holds: the task sends them once it runs.
        door.wake.notify_one();
    }
}
