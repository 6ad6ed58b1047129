//! Who is calling, and what they may do: console logins with server-side sessions, or a trusted
//! authenticating proxy's headers. Passwords are Argon2id hashes; session tokens are random and
//! stored only as hashes; every login attempt is rate-limited per (user, client address) and per
//! client address, and password checks run a few at a time.

pub mod password;
pub mod rate_limit;

use std::net::IpAddr;
use std::time::Duration;

use backup_domain::api::Role;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "bc_session";
/// The session cookie over HTTPS: browsers accept a `__Host-` cookie only from this host, with
/// `Secure` and `Path=/`, so a sibling subdomain cannot plant one (cookie tossing, review L6).
pub const SECURE_SESSION_COOKIE: &str = "__Host-bc_session";

/// The session cookie's name: the `__Host-` one whenever browsers reach the console over HTTPS.
pub fn session_cookie_name(https_only: bool) -> &'static str {
    if https_only {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}
/// The header every mutating request carries, holding the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The header the login request carries: a cross-site form cannot set it (no CORS is allowed).
pub const LOGIN_HEADER: &str = "x-requested-with";
pub const LOGIN_HEADER_VALUE: &str = "backup-console";

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    /// PHC string, `$argon2id$...`.
    pub password_hash: String,
    pub role: Role,
}

/// Deployments behind oauth2-proxy or Keycloak gatekeeper: the proxy authenticates and names the
/// user in a header, accepted only from the proxy's own addresses.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub user_header: String,
    pub groups_header: Option<String>,
    pub trusted_proxies: Vec<IpAddr>,
    /// Group name to role; a user gets the strongest role of their groups.
    pub group_roles: Vec<(String, Role)>,
}

impl ProxyConfig {
    /// The strongest role any of `groups` (comma-separated) maps to.
    pub fn role_for(&self, groups: &str) -> Option<Role> {
        groups
            .split(',')
            .map(str::trim)
            .filter_map(|g| {
                self.group_roles
                    .iter()
                    .find(|(name, _)| name == g)
                    .map(|(_, r)| *r)
            })
            .max()
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub users: Vec<User>,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    pub proxy: Option<ProxyConfig>,
    pub login: LoginSettings,
}

/// How hard logins are bounded: failures per window, and how many Argon2 checks run or wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSettings {
    /// Failures allowed per (user name, client address) in `window`.
    pub failures_per_user_address: usize,
    /// Failures allowed per client address (an IPv6 /64) in `window`, whatever the user names.
    pub failures_per_address: usize,
    pub window: Duration,
    /// Argon2 verifications running at once (each holds about 19 MiB and a core).
    pub verify_concurrency: usize,
    /// Logins allowed to wait for a verification slot; beyond that the answer is 429 at once.
    pub verify_queue: usize,
    /// Peers whose `X-Forwarded-For` is believed (empty: the header is ignored). The client is
    /// the right-most address in it that is not one of these.
    pub forwarded_for_proxies: Vec<IpAddr>,
}

impl Default for LoginSettings {
    fn default() -> Self {
        LoginSettings {
            failures_per_user_address: 5,
            failures_per_address: 20,
            window: Duration::from_secs(5 * 60),
            verify_concurrency: 2,
            verify_queue: 4,
            forwarded_for_proxies: Vec::new(),
        }
    }
}

/// The caller of one request, once authenticated.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    pub via_proxy: bool,
    /// The session's token hash, for logout; `None` for proxy users.
    pub session: Option<String>,
    pub client: String,
}

/// 32 random bytes, URL-safe base64: session tokens and CSRF tokens.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    // The OS generator failing is not something a server can recover from meaningfully.
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random generator failed: {e}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Only this is stored: a stolen database holds no usable session.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A proxy user's CSRF token: derived from a server secret kept in the database, so it is stable
/// across restarts and unguessable without the secret.
pub fn proxy_csrf_token(secret: &str, user: &str) -> String {
    token_hash(&format!("{secret}\n{user}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed_one_way() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn proxy_groups_map_to_the_strongest_role() {
        let proxy = ProxyConfig {
            user_header: "x-forwarded-user".into(),
            groups_header: Some("x-forwarded-groups".into()),
            trusted_proxies: vec![],
            group_roles: vec![
                ("ops".into(), Role::Operator),
                ("camunda-admins".into(), Role::Admin),
                ("all".into(), Role::Viewer),
            ],
        };
        assert_eq!(proxy.role_for("all, ops"), Some(Role::Operator));
        assert_eq!(proxy.role_for("camunda-admins,all"), Some(Role::Admin));
        assert_eq!(proxy.role_for("marketing"), None);
        assert_ne!(
            proxy_csrf_token("s1", "alice"),
            proxy_csrf_token("s2", "alice")
        );
    }
}
