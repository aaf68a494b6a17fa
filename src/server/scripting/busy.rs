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
//! STATS ... run. Only a connection the hook accepted itself (no client yet) still has its
//! allow-busy requests, and everything after them, *held* in its [`Door`] for its task,
//! which runs them once the script ended. The master link is never read here (Redis too
//! lets its stream accumulate while busy).
//!
//! Each connection registers a [`Door`] (its socket's fd and a small state machine) with
//! the [`Watchdog`](super::Watchdog); the task and the hook never read one socket at the
//! same time: `REST` → `PUMPING` (hook) and `REST` → `ACTIVE` (task) are compare-and-swaps.

use super::Watchdog;
use crate::resp::{ParseLimits, ReplyBuf, RequestParser};
use crate::server::client::Client;
use crate::server::commands::{self, Ctx, Flow};
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
    /// The connection's client while it is at rest (null for a connection the hook
    /// accepted): set by [`Door::rest`], used by the hook only between its REST → PUMPING
    /// and PUMPING → REST swaps, while the task waits and does not touch it.
    client: AtomicPtr<Client>,
}

impl Door {
    fn new(fd: RawFd) -> Door {
        Door {
            fd,
            state: AtomicU8::new(ACTIVE),
            held: Mutex::new(BytesMut::new()),
            unsent: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            wake: Wakeup::new(),
            client: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The task is about to wait for input; `quiet` says nothing is buffered or pending
    /// and the connection could be answered by the hook (see the module doc). The task
    /// must not use `client` again before [`Door::active`] returned: the hook may run its
    /// requests meanwhile.
    #[inline]
    pub fn rest(&self, quiet: bool, client: &mut Client) {
        if quiet {
            self.client.store(client, Ordering::Relaxed);
            self.state.store(REST, Ordering::Release);
        }
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
    /// Connections accepted while busy, admitted as clients once the script ends.
    orphans: Mutex<Vec<Orphan>>,
    /// requirepass is set: a connection accepted while busy is not authenticated, so
    /// every request of it waits for the script's end.
    pub auth_required: AtomicBool,
}

/// A connection the hook accepted.
#[derive(Debug)]
pub struct Orphan {
    /// Its door (what the hook read and left for its task).
    pub door: Arc<Door>,
    /// The socket.
    pub socket: std::net::TcpStream,
    /// The peer's address.
    pub peer: std::net::SocketAddr,
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

    /// Gives the door of an orphan to the connection `id` it became.
    pub fn adopt(&self, id: u64, door: Arc<Door>) {
        lock(&self.map).insert(id, door);
    }

    /// The connections accepted while busy.
    pub fn take_orphans(&self) -> Vec<Orphan> {
        std::mem::take(&mut *lock(&self.orphans))
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
        .or_insert_with(|| Arc::new(Door::new(fd)))
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
    /// Leave this request (and what follows) to the task.
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

fn answer(dog: &Watchdog, args: &[Bytes], authenticated: bool) -> Answer {
    if !authenticated {
        return Answer::Hold;
    }
    let cmd = match commands::lookup_request(args) {
        Ok(cmd) => cmd,
        Err(e) => return Answer::Reply(error_bytes(&e.0)),
    };
    match cmd.name {
        "script|kill" | "function|kill" => {
            let reply = match kill(dog, cmd.name == "script|kill") {
                Ok(()) => b"+OK\r\n".to_vec(),
                Err(e) => error_bytes(e),
            };
            return Answer::Reply(reply);
        }
        "shutdown" => return shutdown(dog, &args[1..]),
        _ if cmd.meta().is_some_and(|m| m.has_flag("allow_busy")) => return Answer::Hold,
        _ => {}
    }
    Answer::Reply(error_bytes(busy_text(dog)))
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
    let mut doors: Vec<(Arc<Door>, bool)> = lock(&dog.doors.map)
        .values()
        .map(|d| (d.clone(), true))
        .collect();
    let authenticated = !dog.doors.auth_required.load(Ordering::Relaxed);
    doors.extend(
        lock(&dog.doors.orphans)
            .iter()
            .map(|o| (o.door.clone(), authenticated)),
    );
    let mut shutdown = false;
    for (door, authenticated) in doors {
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
        // SAFETY: the task stored this pointer to its live client before it made the door
        // REST, and does not touch the client until its own REST → ACTIVE swap, which
        // waits for this PUMPING pass to end; so this is the only reference meanwhile.
        let client = unsafe { door.client.load(Ordering::Relaxed).as_mut() };
        shutdown |= serve_door(dog, &door, authenticated, client);
        door.state.store(REST, Ordering::Release);
    }
    shutdown
}

/// Accepts the connections waiting on the listening sockets (as Redis's event loop does
/// while busy); they become clients when the script ends.
fn accept(doors: &Doors) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let listeners = lock(&doors.listeners).clone();
    for fd in listeners {
        // SAFETY: the fd is a listening socket owned by the accept loop for the server's
        // whole life; ManuallyDrop keeps this copy from closing it.
        let listener =
            std::mem::ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(fd) });
        while let Ok((socket, peer)) = listener.accept() {
            if socket.set_nonblocking(true).is_err() {
                continue;
            }
            let door = Arc::new(Door::new(socket.as_raw_fd()));
            door.state.store(REST, Ordering::Release);
            lock(&doors.orphans).push(Orphan { door, socket, peer });
        }
    }
}

/// Reads what `door`'s socket holds and answers its complete requests.
fn serve_door(
    dog: &Watchdog,
    door: &Door,
    authenticated: bool,
    mut client: Option<&mut Client>,
) -> bool {
    let mut input = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // SAFETY: reading into a stack buffer of the given length.
        let n = unsafe {
            libc::recv(
                door.fd,
                chunk.as_mut_ptr().cast(),
                chunk.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            break;
        }
        input.extend_from_slice(&chunk[..n as usize]);
        if input.len() > 1 << 20 {
            break;
        }
    }
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
            Ok(Some(args)) => match match client.as_deref_mut() {
                Some(c) => answer_client(dog, &args, c),
                None => answer(dog, &args, authenticated),
            } {
                Answer::Reply(r) => replies.extend_from_slice(&r),
                Answer::Close(r) => {
                    replies.extend_from_slice(&r);
                    send(door, &replies);
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
    send(door, &replies);
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
fn send(door: &Door, replies: &[u8]) {
    let mut at = 0;
    while at < replies.len() {
        // SAFETY: writing from a live slice of the given length.
        let n = unsafe {
            libc::send(
                door.fd,
                replies[at..].as_ptr().cast(),
                replies.len() - at,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n <= 0 {
            break;
        }
        at += n as usize;
    }
    if at < replies.len() {
        let mut unsent = door.unsent.lock().unwrap_or_else(|e| e.into_inner());
        unsent.extend_from_slice(&replies[at..]);
        door.stopped.store(true, Ordering::Release);
        door.wake.notify_one();
    }
}
