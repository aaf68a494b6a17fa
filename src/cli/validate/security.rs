//! Validation of `tls:` and `users:` (issue 14): every user's password and rules checked
//! before any host is touched, each problem at its YAML path.

use super::Validator;
use crate::cli::certs::Layout;
use crate::cli::cluster::{Access, Node, Security, TlsClient};
use crate::cli::inventory::Inventory;
use crate::cli::secret::Secret;
use crate::cli::users::{self, User, UserRole};

impl Validator<'_> {
    /// Resolves `tls:` and `users:`; `default_password` is `auth:`'s.
    pub(super) fn security(
        &mut self,
        inv: &Inventory,
        default_password: Option<Secret>,
    ) -> Security {
        let mut list = Vec::new();
        for (name, u) in &inv.users {
            let path = format!("users.{name}");
            if let Err(e) = users::check_name(name) {
                self.problem(&path, e);
            }
            let (password, declared) = self.secret(&u.password, &u.password_env, &path);
            if !declared {
                self.problem(&path, "no password: set password or password_env");
            }
            let rules = match (u.role, &u.rules) {
                (UserRole::App, Some(r)) => {
                    if let Err(e) = users::check_rules(r) {
                        self.problem(format!("{path}.rules"), e);
                    }
                    r.split_whitespace().collect::<Vec<_>>().join(" ")
                }
                (UserRole::App, None) => {
                    self.problem(
                        format!("{path}.rules"),
                        "an app user needs rules (example: rules: \"~app:* +@read +@write\")",
                    );
                    String::new()
                }
                (role, Some(_)) => {
                    self.problem(
                        format!("{path}.rules"),
                        format!(
                            "the {} role has fixed rules ({}): remove rules: or use role: app",
                            role.as_str(),
                            role.rules().unwrap_or_default()
                        ),
                    );
                    String::new()
                }
                (role, None) => role.rules().unwrap_or_default().to_string(),
            };
            if let Some(password) = password {
                list.push(User {
                    name: name.clone(),
                    role: u.role,
                    password,
                    rules,
                });
            }
        }
        for role in [UserRole::Admin, UserRole::Replication, UserRole::Sentinel] {
            let named: Vec<&str> = inv
                .users
                .iter()
                .filter(|(_, u)| u.role == role)
                .map(|(n, _)| n.as_str())
                .collect();
            if named.len() > 1 {
                self.problem(
                    "users",
                    format!(
                        "{} users have role {}: one at most",
                        named.join(", "),
                        role.as_str()
                    ),
                );
            }
        }
        Security {
            tls: inv.tls.unwrap_or(false),
            tls_dir: Layout::new(self.base_dir).dir,
            users: list,
            default_password,
        }
    }

    /// Checks that the users cover what the cluster needs (a login for the orchestrator, one
    /// for the replicas, one for the sentinels).
    pub(super) fn security_fits(&mut self, inv: &Inventory, nodes: &[Node]) {
        let declared = |r: UserRole| inv.users.values().any(|u| u.role == r);
        let shared = inv.auth.password.is_some() || inv.auth.password_env.is_some();
        if !inv.users.is_empty() && !shared {
            if !declared(UserRole::Admin) {
                self.problem(
                    "users",
                    "no admin user and no auth.password: add a user with role: admin (the \
                     orchestrator logs in with it)",
                );
            }
            if nodes.iter().any(|n| n.replicaof.is_some()) && !declared(UserRole::Replication) {
                self.problem(
                    "users",
                    "no replication user and no auth.password: add a user with role: \
                     replication (the replicas log in to their master with it)",
                );
            }
        }
        let sentinels_on = inv
            .sentinel
            .as_ref()
            .is_some_and(|x| x.enabled != Some(false));
        // Sentinels with users: they log in to the servers and to each other as the
        // sentinel user, and the orchestrator logs in to them as admin.
        if sentinels_on && !inv.users.is_empty() {
            for (role, why) in [
                (
                    UserRole::Sentinel,
                    "the sentinels log in to the servers and to each other with it",
                ),
                (
                    UserRole::Admin,
                    "the orchestrator logs in to the sentinels with it",
                ),
            ] {
                if !declared(role) {
                    self.problem(
                        "users",
                        format!(
                            "sentinels are enabled but no user has role: {} ({why}): add one, \
                             or set sentinel.enabled: false",
                            role.as_str()
                        ),
                    );
                }
            }
        }
    }
}

/// How the orchestrator logs in: the [`Access`] every node gets and the password it uses
/// (the admin user's, else `auth:`'s).
pub(super) fn access(s: &Security) -> (Access, Option<Secret>) {
    let layout = Layout {
        dir: s.tls_dir.clone(),
    };
    let tls = s.tls.then(|| {
        let client = layout.client();
        TlsClient {
            ca: layout.ca().cert,
            cert: client.cert,
            key: client.key,
        }
    });
    let fallback_password = s.default_password.clone();
    match s.user(UserRole::Admin) {
        Some(admin) => (
            Access {
                tls,
                user: Some(admin.name.clone()),
                fallback_password,
            },
            Some(admin.password.clone()),
        ),
        None => (
            Access {
                tls,
                user: None,
                fallback_password,
            },
            s.default_password.clone(),
        ),
    }
}
