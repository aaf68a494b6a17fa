//! MONITOR: every command run is shown to the monitoring clients as one status line, in
//! Redis's replicationFeedMonitors format:
//! `+1669000000.123456 [0 127.0.0.1:50000] "set" "k" "v"`, `[0 lua]` for a script's
//! commands; arguments quoted as sdscatrepr; AUTH's and HELLO AUTH's secrets shown as
//! `(redacted)`; admin commands and those flagged skip_monitor are not shown.

use super::{Frames, Publisher, deliver};
use crate::server::client::ClientClass;
use crate::server::commands::{Ctx, Spec};
use bytes::Bytes;
use std::fmt::Write;

/// When monitors see a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Before it runs: the script commands (flagged skip_monitor, which Redis feeds itself
    /// before the script, so the script's own commands follow).
    Before,
    /// After it ran (its database is the one it left selected), as Redis's call().
    After,
    /// Never: admin commands.
    Never,
}

/// When monitors see `cmd`.
pub fn shown(cmd: &Spec) -> Shown {
    match cmd.meta() {
        Some(m) if m.has_flag("admin") => Shown::Never,
        Some(m) if m.has_flag("skip_monitor") => Shown::Before,
        _ => Shown::After,
    }
}

/// Shows the command `args` of the context's client to every monitor.
pub fn feed(ctx: &mut Ctx, cmd: &Spec, args: &[Bytes]) {
    let now = crate::server::clock::now_us();
    let line = Bytes::from(line(now, ctx.client.db, &ctx.client.info, cmd.name, args));
    let mut frames = Frames::new(|_| line.clone());
    let mut from = Publisher {
        id: ctx.client.info.id,
        out: Some(ctx.out),
        hard_limit: ClientClass::Normal.limits(&ctx.state.config).0,
    };
    for m in &ctx.state.pubsub.monitors {
        deliver(m, &mut frames, &mut from);
    }
}

/// One monitor line, `+` to `\r\n`.
fn line(
    now_us: i64,
    db: usize,
    client: &crate::server::client::ClientInfo,
    name: &str,
    args: &[Bytes],
) -> String {
    let who = if client.id == 0 {
        "lua"
    } else {
        client.addr.as_str()
    };
    let mut s = String::with_capacity(64);
    let _ = write!(
        s,
        "+{}.{:06} [{db} {who}]",
        now_us / 1_000_000,
        now_us % 1_000_000
    );
    let hidden = redacted(name, args);
    for (i, a) in args.iter().enumerate() {
        s.push(' ');
        if hidden(i) {
            s.push_str("\"(redacted)\"");
        } else {
            s.push_str(&crate::config::repr_bytes(a));
        }
    }
    s.push_str("\r\n");
    s
}

/// Which arguments Redis redacts: every argument of AUTH, the two after HELLO's AUTH.
fn redacted(name: &str, args: &[Bytes]) -> impl Fn(usize) -> bool {
    let auth_at = match name {
        "auth" => Some(1),
        "hello" => args
            .iter()
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
            .map(|p| p + 1),
        _ => None,
    };
    let all = name == "auth";
    move |i| match auth_at {
        Some(at) if all => i >= at,
        Some(at) => i == at || i == at + 1,
        None => false,
    }
}
