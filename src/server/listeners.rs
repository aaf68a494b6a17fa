//! The listening sockets of `port` and `tls-port` on every `bind` address: opened at
//! start-up, and again by CONFIG SET port / tls-port / bind as Redis 7.0 does
//! (changeListenPort / changeBindAddr): the new sockets are all opened first; only then are
//! the old ones closed, so a port in use leaves the old listener serving. Connections
//! already accepted are not touched.

use crate::config::Config;
use crate::server::state::Shared;
use crate::{verbose, warning};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// Why the sockets for a port could not be opened (the causes were logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// A `bind` entry is not an address.
    #[error("Invalid bind address '{0}'")]
    InvalidAddress(String),
    /// A mandatory address could not be bound, or no address could.
    #[error("Failed listening on port {port} ({kind})")]
    Failed {
        /// The port.
        port: u16,
        /// `tcp` or `tls`.
        kind: &'static str,
    },
}

/// Parses one `bind` entry: `*` is every IPv4 address, `::*` every IPv6 one.
fn bind_addr(entry: &str, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = match entry {
        "*" => IpAddr::from([0u8, 0, 0, 0]),
        "::*" => IpAddr::from([0u16; 8]),
        other => other.parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

fn listen(addr: SocketAddr, backlog: i64) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog.clamp(1, i32::MAX as i64) as i32)?;
    TcpListener::from_std(sock.into())
}

/// Opens `port` (plain, or TLS when `is_tls`) on every `bind` entry (`-addr`: optional, a
/// failure is only logged at verbose level), logging Redis's warning for each address that
/// fails (Redis's listenToPort). Port 0 opens nothing.
pub fn open(
    bind: &[String],
    port: u16,
    is_tls: bool,
    backlog: i64,
) -> Result<Vec<TcpListener>, OpenError> {
    let mut out = Vec::new();
    if port == 0 {
        return Ok(out);
    }
    let kind = if is_tls { "tls" } else { "tcp" };
    for entry in bind {
        let (optional, addr) = match entry.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, entry.as_str()),
        };
        let Some(sa) = bind_addr(addr, port) else {
            return Err(OpenError::InvalidAddress(addr.to_string()));
        };
        match listen(sa, backlog) {
            Ok(l) => out.push(l),
            Err(e) if optional => {
                verbose!("Skipping optional bind address {addr}:{port}: {e}")
            }
            Err(e) => {
                warning!(
                    "Warning: Could not create server TCP listening socket {addr}:{port}: bind: {e}"
                );
                return Err(OpenError::Failed { port, kind });
            }
        }
    }
    match out.is_empty() {
        true => Err(OpenError::Failed { port, kind }),
        false => Ok(out),
    }
}

/// One listening socket and the task accepting from it.
struct Bound {
    is_tls: bool,
    fd: RawFd,
    task: AbortHandle,
}

/// The sockets being served (one server per process).
static BOUND: Mutex<Vec<Bound>> = Mutex::new(Vec::new());

fn bound() -> std::sync::MutexGuard<'static, Vec<Bound>> {
    BOUND.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts accepting from `listeners` (plain or TLS); a busy script's hook accepts from the
/// plain ones too (scripting::busy).
pub fn serve(shared: &Arc<Shared>, listeners: Vec<TcpListener>, is_tls: bool) {
    let mut all = bound();
    for l in listeners {
        let fd = l.as_raw_fd();
        if !is_tls {
            shared.watchdog.doors.listen(fd);
        }
        let task = tokio::spawn(super::accept_loop(shared.clone(), l, is_tls)).abort_handle();
        all.push(Bound { is_tls, fd, task });
    }
}

/// Stops accepting on the plain or TLS sockets: they refuse connections from now on (shut
/// down at once; closed when their task ends). Accepted connections stay.
fn close(shared: &Arc<Shared>, is_tls: bool) {
    let mut all = bound();
    all.retain(|b| {
        if b.is_tls != is_tls {
            return true;
        }
        if !is_tls {
            shared.watchdog.doors.unlisten(b.fd);
        }
        // SAFETY: the fd is the listening socket the task owns, open until the task is
        // dropped (after this call); shutdown only makes the kernel stop accepting on it.
        unsafe {
            libc::shutdown(b.fd, libc::SHUT_RDWR);
        }
        b.task.abort();
        false
    });
}

/// The addresses and ports one set of listeners serves (a [`Config`]'s `bind`, `port`
/// and TLS port).
#[derive(Debug, Clone)]
struct Addresses {
    bind: Vec<String>,
    port: u16,
    tls_port: u16,
    backlog: i64,
}

impl Addresses {
    fn of(c: &Config) -> Addresses {
        Addresses {
            bind: c.bind.clone(),
            port: c.port,
            tls_port: crate::server::tls::Settings::from_config(c).port,
            backlog: c.tcp_backlog,
        }
    }

    /// The plain then the TLS sockets (Redis's changeBindAddr order).
    fn open(&self) -> Result<(Vec<TcpListener>, Vec<TcpListener>), OpenError> {
        let tcp = open(&self.bind, self.port, false, self.backlog)?;
        let tls = open(&self.bind, self.tls_port, true, self.backlog)?;
        Ok((tcp, tls))
    }
}

/// Opens the old addresses again after a failed or abandoned rebind (Redis's
/// restoreBackupConfig re-applying the old `bind`).
fn restore(shared: &Arc<Shared>, old: &Addresses) {
    match old.open() {
        Ok((tcp, tls)) => {
            serve(shared, tcp, false);
            serve(shared, tls, true);
        }
        Err(_) => {
            warning!("Failed to bind");
            warning!(
                "Failed applying restored failed CONFIG SET command: Failed to bind to specified addresses."
            );
        }
    }
}

/// New sockets opened by CONFIG SET, put in service by [`Reopened::install`] once the
/// whole CONFIG SET succeeded. Dropped without it, the new sockets close; if the old ones
/// were already closed (a new `bind`), they are opened again.
#[derive(Default)]
pub struct Reopened {
    /// The new plain sockets, when `port` or `bind` changed.
    tcp: Option<Vec<TcpListener>>,
    /// The new TLS sockets, when `tls-port` or `bind` changed.
    tls: Option<Vec<TcpListener>>,
    /// After a rebind closed the old sockets: what to open again if the CONFIG SET fails
    /// later.
    undo: Option<(Arc<Shared>, Addresses)>,
}

impl std::fmt::Debug for Reopened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reopened")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls)
            .field("undo", &self.undo.as_ref().map(|u| &u.1))
            .finish()
    }
}

impl Reopened {
    /// Replaces the old sockets with the new ones.
    pub fn install(mut self, shared: &Arc<Shared>) {
        self.undo = None;
        for (new, is_tls) in [(self.tcp.take(), false), (self.tls.take(), true)] {
            if let Some(listeners) = new {
                close(shared, is_tls);
                serve(shared, listeners, is_tls);
            }
        }
    }
}

impl Drop for Reopened {
    fn drop(&mut self) {
        if let Some((shared, old)) = self.undo.take() {
            // The new sockets must be closed before the old addresses can be bound again.
            self.tcp = None;
            self.tls = None;
            restore(&shared, &old);
        }
    }
}

/// CONFIG SET of `port`, `tls-port` or `bind` (`names`): the sockets `next` asks for. A new
/// port is opened before anything changes, so a port in use leaves the old listener
/// serving (Redis's changeListenPort). A new `bind` closes the old sockets first, since
/// the new list may name an old address, then opens the new ones; on failure the old ones
/// are opened again (Redis's changeBindAddr and restoreBackupConfig). The error is Redis's
/// reply; the causes are logged with Redis's lines.
pub fn reopen(
    shared: &Arc<Shared>,
    old: &Config,
    next: &Config,
    names: &[&str],
) -> Result<Reopened, String> {
    let tls_port = |c: &Config| crate::server::tls::Settings::from_config(c).port;
    let bind = names.contains(&"bind") && next.bind != old.bind;
    let port = names.contains(&"port") && next.port != old.port;
    let tls = names.contains(&"tls-port") && tls_port(next) != tls_port(old);
    let fail = |name: &str, why: &str| {
        warning!(
            "Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."
        );
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    if bind {
        close(shared, false);
        close(shared, true);
        let old = Addresses::of(old);
        return match Addresses::of(next).open() {
            Ok((tcp, tls)) => Ok(Reopened {
                tcp: Some(tcp),
                tls: Some(tls),
                undo: Some((shared.clone(), old)),
            }),
            Err(e) => {
                if let OpenError::InvalidAddress(_) = e {
                    warning!("{e}");
                }
                warning!("Failed to bind");
                let text = fail("bind", "Failed to bind to specified addresses.");
                restore(shared, &old);
                Err(text)
            }
        };
    }
    let mut out = Reopened::default();
    let backlog = next.tcp_backlog;
    let busy = |name| fail(name, "Unable to listen on this port. Check server logs.");
    if port {
        out.tcp = Some(open(&next.bind, next.port, false, backlog).map_err(|_| busy("port"))?);
    }
    if tls {
        out.tls =
            Some(open(&next.bind, tls_port(next), true, backlog).map_err(|_| busy("tls-port"))?);
    }
    Ok(out)
}
