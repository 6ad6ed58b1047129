//! `[auth]`: the users, the proxy, the sessions and the limits on logins.

use std::time::Duration;

use backup_domain::api::Role;

use super::file::FileAuthSection;
use super::{ConfigError, invalid};
use crate::auth::{AuthConfig, ProxyConfig, User, password};

pub(super) fn resolve_auth(a: FileAuthSection) -> Result<AuthConfig, ConfigError> {
    let mut users: Vec<User> = Vec::new();
    for (i, u) in a.users.into_iter().enumerate() {
        let at = format!("auth.users[{i}]");
        if u.name.trim().is_empty() || u.name.len() > 100 {
            return Err(invalid(format!("{at}.name"), "must be 1 to 100 characters"));
        }
        if users.iter().any(|other| other.name == u.name) {
            return Err(invalid(
                format!("{at}.name"),
                format!("`{}` is listed twice", u.name),
            ));
        }
        password::validate_hash(&u.password_hash).map_err(|e| {
            invalid(
                format!("{at}.password_hash"),
                format!("{e}; create one with `backup-console hash-password`"),
            )
        })?;
        let role = Role::parse(&u.role).ok_or_else(|| {
            invalid(
                format!("{at}.role"),
                format!("`{}` is not one of viewer, operator, admin", u.role),
            )
        })?;
        users.push(User {
            name: u.name,
            password_hash: u.password_hash,
            role,
        });
    }
    let proxy = match a.proxy {
        None => None,
        Some(p) => {
            let header = |name: &str, key: &str| -> Result<String, ConfigError> {
                axum::http::HeaderName::from_bytes(name.as_bytes())
                    .map(|h| h.as_str().to_string())
                    .map_err(|_| {
                        invalid(
                            format!("auth.proxy.{key}"),
                            format!("`{name}` is not a header name"),
                        )
                    })
            };
            if p.trusted_proxies.is_empty() {
                return Err(invalid(
                    "auth.proxy.trusted_proxies",
                    "list the proxy's addresses: the header is accepted from them only",
                ));
            }
            let trusted_proxies = p
                .trusted_proxies
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    ip.parse().map_err(|_| {
                        invalid(
                            format!("auth.proxy.trusted_proxies[{i}]"),
                            format!("`{ip}` is not an IP address"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let group_roles = p
                .group_roles
                .into_iter()
                .map(|(group, role)| {
                    Role::parse(&role)
                        .map(|r| (group.clone(), r))
                        .ok_or_else(|| {
                            invalid(
                                format!("auth.proxy.group_roles.{group}"),
                                format!("`{role}` is not one of viewer, operator, admin"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(ProxyConfig {
                user_header: header(&p.user_header, "user_header")?,
                groups_header: p
                    .groups_header
                    .as_deref()
                    .map(|h| header(h, "groups_header"))
                    .transpose()?,
                trusted_proxies,
                group_roles,
            })
        }
    };
    if users.is_empty() && proxy.is_none() {
        return Err(invalid(
            "auth",
            "add at least one [[auth.users]] entry (see `backup-console hash-password`) or an [auth.proxy] section",
        ));
    }
    let secs = |v: Option<u64>, default: u64, key: &str| -> Result<Duration, ConfigError> {
        match v.unwrap_or(default) {
            0 => Err(invalid(format!("auth.{key}"), "must be at least 1")),
            n => Ok(Duration::from_secs(n)),
        }
    };
    let forwarded_for_proxies: Vec<std::net::IpAddr> =
        match (a.trusted_forwarded_for, a.forwarded_for_proxies) {
            (false, _) => Vec::new(),
            (true, Some(list)) => list
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    ip.parse().map_err(|_| {
                        invalid(
                            format!("auth.forwarded_for_proxies[{i}]"),
                            format!("`{ip}` is not an IP address"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            (true, None) => proxy
                .as_ref()
                .map(|p| p.trusted_proxies.clone())
                .unwrap_or_default(),
        };
    if a.trusted_forwarded_for && forwarded_for_proxies.is_empty() {
        return Err(invalid(
            "auth.trusted_forwarded_for",
            "list the proxies it is believed from: auth.forwarded_for_proxies or [auth.proxy] trusted_proxies",
        ));
    }
    Ok(AuthConfig {
        users,
        idle_timeout: secs(
            a.session_idle_timeout_secs,
            30 * 60,
            "session_idle_timeout_secs",
        )?,
        absolute_timeout: secs(
            a.session_absolute_timeout_secs,
            12 * 3600,
            "session_absolute_timeout_secs",
        )?,
        login: crate::auth::LoginSettings {
            verify_concurrency: match a.login_verify_concurrency {
                Some(0) => {
                    return Err(invalid(
                        "auth.login_verify_concurrency",
                        "must be at least 1",
                    ));
                }
                v => v.unwrap_or(crate::auth::LoginSettings::default().verify_concurrency),
            },
            verify_queue: a
                .login_verify_queue
                .unwrap_or(crate::auth::LoginSettings::default().verify_queue),
            forwarded_for_proxies,
            ..crate::auth::LoginSettings::default()
        },
        proxy,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::fixtures::no_env;
    use super::*;

    #[test]
    fn auth_users_and_proxy_are_validated() {
        let cluster = "[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
        let hash = crate::auth::password::hash_password("pw").unwrap();
        let text = format!(
            "[auth]\nsession_idle_timeout_secs = 60\n[[auth.users]]\nname = \"alice\"\npassword_hash = \"{hash}\"\nrole = \"admin\"\n{cluster}"
        );
        let auth = Config::parse(&text, "c.toml", &no_env)
            .unwrap()
            .auth
            .unwrap();
        assert_eq!(auth.users[0].role, Role::Admin);
        assert_eq!(auth.idle_timeout, Duration::from_secs(60));
        assert_eq!(auth.absolute_timeout, Duration::from_secs(12 * 3600));

        let bad = text.replace("role = \"admin\"", "role = \"root\"");
        let err = Config::parse(&bad, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `auth.users[0].role`"),
            "{err}"
        );
        let bad = text.replace(&hash, "plaintext");
        let err = Config::parse(&bad, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `auth.users[0].password_hash`")
                && err.contains("hash-password"),
            "{err}"
        );

        let proxy = format!(
            "[auth.proxy]\nuser_header = \"X-Forwarded-User\"\ngroups_header = \"X-Forwarded-Groups\"\ntrusted_proxies = [\"10.0.0.5\"]\ngroup_roles = {{ ops = \"operator\" }}\n{cluster}"
        );
        let auth = Config::parse(&proxy, "c.toml", &no_env)
            .unwrap()
            .auth
            .unwrap();
        let p = auth.proxy.unwrap();
        assert_eq!(p.user_header, "x-forwarded-user");
        assert_eq!(p.role_for("ops"), Some(Role::Operator));
        let err = Config::parse(&proxy.replace("10.0.0.5", "proxy.local"), "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `auth.proxy.trusted_proxies[0]`"),
            "{err}"
        );
        let err = Config::parse(&format!("[auth]\n{cluster}"), "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("configuration key `auth`"), "{err}");
    }
}
