//! What `status` shows and `verify` checks about TLS and ACL users on each node: TLS on or
//! off, the served certificate's days left, the users defined, whether the port also takes
//! plain TCP, and why a replica's link is down when its master refused the replication user
//! (read from the master's ACL LOG).

use crate::cli::cluster::Cluster;
use crate::cli::node::NodeConn;
use crate::cli::redis_link::{Link, Reply};
use crate::cli::users::UserRole;

/// A certificate that expires within this many days fails verify.
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// One node's security facts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Facts {
    /// The link to the server is TLS.
    pub tls: bool,
    /// Days until the served certificate expires (TLS only).
    pub cert_days: Option<i64>,
    /// `ACL USERS` (None when it could not be read).
    pub users: Option<Vec<String>>,
    /// The port answered a plain-TCP PING although the inventory says TLS only.
    pub plain_open: bool,
}

/// Reads the facts over an open, authenticated `link` to `c`'s server.
pub async fn facts(cluster: &Cluster, c: &NodeConn, link: &mut Link) -> Facts {
    let users = match link.cmd(&["ACL", "USERS"]).await {
        Ok(Reply::Array(Some(items))) => Some(items.iter().filter_map(Reply::text).collect()),
        _ => None,
    };
    let plain_open = cluster.security.tls && c.accepts_plain().await.unwrap_or(false);
    Facts {
        tls: cluster.security.tls,
        cert_days: link.peer_not_after.map(crate::cli::certs::days_left),
        users,
        plain_open,
    }
}

/// What verify reports about `facts` (empty when all is well).
pub fn problems(facts: &Facts, inventory: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(days) = facts.cert_days
        && days < EXPIRY_WARNING_DAYS
    {
        out.push(format!(
            "its TLS certificate expires in {days} day(s) (under {EXPIRY_WARNING_DAYS}): run \
             `redrepl certs renew {inventory}` then `redrepl deploy {inventory}` (no restart)"
        ));
    }
    if facts.plain_open {
        out.push(format!(
            "accepts plain TCP although the inventory says tls: true; run `redrepl deploy \
             {inventory}`"
        ));
    }
    out
}

/// Why the master refuses its replicas, from its ACL LOG: entries of the replication user (or
/// of `default` when there is none), newest first. None when nothing was refused.
pub async fn replication_refused(cluster: &Cluster, master: &mut Link) -> Option<String> {
    let user = cluster
        .security
        .user(UserRole::Replication)
        .map_or("default", |u| u.name.as_str())
        .to_string();
    let Ok(Reply::Array(Some(entries))) = master.cmd(&["ACL", "LOG", "20"]).await else {
        return None;
    };
    for e in entries {
        let Reply::Array(Some(kv)) = e else { continue };
        let field = |name: &str| {
            kv.chunks(2)
                .find(|p| p[0].text().as_deref() == Some(name))
                .and_then(|p| p.get(1))
                .and_then(Reply::text)
        };
        if field("username").as_deref() != Some(user.as_str()) {
            continue;
        }
        let reason = field("reason").unwrap_or_default();
        let object = field("object").unwrap_or_default();
        return Some(match reason.as_str() {
            "auth" => format!(
                "the master refused the password of user '{user}' (ACL LOG): check its password \
                 in the inventory and deploy"
            ),
            _ => format!(
                "the master refused '{object}' to user '{user}' (ACL LOG reason: {reason}): a \
                 replication user needs {}",
                UserRole::Replication.rules().unwrap_or_default()
            ),
        });
    }
    None
}
