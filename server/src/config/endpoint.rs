//! A component's endpoint as used: its URL, credentials read from the environment, timeout, caps
//! and outbound TLS options.

use std::path::Path;
use std::time::Duration;

use url::Url;

use super::file::{FileAuth, FileRest, FileRestAuth};
use super::{ConfigError, Secret, invalid};

#[derive(Debug, Clone)]
pub enum Credentials {
    Basic {
        username: String,
        password: Secret,
    },
    /// Elasticsearch `Authorization: ApiKey <key>`.
    ApiKey(Secret),
    Bearer(Secret),
    /// A bearer token from an OpenID provider's client-credentials grant (the REST API only).
    Oidc(std::sync::Arc<OidcSettings>),
}

/// `auth = { type = "oidc", ... }` of `[clusters.orchestration.rest]`.
#[derive(Debug)]
pub struct OidcSettings {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub audience: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: Url,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    /// `[upstream]`: size caps and the listing timeout.
    pub limits: Limits,
    /// `ca_file` and `tls_server_name`.
    pub tls: crate::tls::OutboundTls,
}

pub(super) fn parse_url(text: &str, key: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| invalid(key, format!("`{text}` is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            key,
            format!("`{text}` must start with http:// or https://"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            "must not contain credentials; use `auth` with environment variable names",
        ));
    }
    Ok(url)
}

pub(super) fn endpoint(
    url: &str,
    auth: Option<&FileAuth>,
    timeout: Duration,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, ConfigError> {
    let url = parse_url(url, &format!("{key}.url"))?;
    let secret = |var: &str, field: &str| -> Result<String, ConfigError> {
        env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
            invalid(
                format!("{key}.auth.{field}"),
                format!("environment variable `{var}` is not set"),
            )
        })
    };
    let credentials = match auth {
        None => None,
        Some(FileAuth::Basic {
            username_env,
            password_env,
        }) => Some(Credentials::Basic {
            username: secret(username_env, "username_env")?,
            password: Secret::new(secret(password_env, "password_env")?),
        }),
        Some(FileAuth::ApiKey { key_env }) => Some(Credentials::ApiKey(Secret::new(secret(
            key_env, "key_env",
        )?))),
        Some(FileAuth::Bearer { token_env }) => Some(Credentials::Bearer(Secret::new(secret(
            token_env,
            "token_env",
        )?))),
    };
    Ok(Endpoint {
        url,
        credentials,
        timeout,
        limits: Limits::default(),
        tls: crate::tls::OutboundTls::default(),
    })
}

/// `[clusters.orchestration.rest]` (keys under `key`): its URL, its own credentials and TLS.
pub(super) fn rest_endpoint(
    rest: &FileRest,
    timeout: Duration,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, ConfigError> {
    let basic = match &rest.auth {
        Some(FileRestAuth::Basic {
            username_env,
            password_env,
        }) => Some(FileAuth::Basic {
            username_env: username_env.clone(),
            password_env: password_env.clone(),
        }),
        _ => None,
    };
    let mut e = endpoint(&rest.url, basic.as_ref(), timeout, key, env)?;
    if !e.url.path().trim_end_matches('/').ends_with("/v2") {
        return Err(invalid(
            format!("{key}.url"),
            "must end in /v2 (the REST API's base, e.g. https://camunda:8080/v2)",
        ));
    }
    if basic.is_some() && !private_channel(&e.url) {
        return Err(invalid(
            format!("{key}.url"),
            "sends Basic credentials over plain http to a non-loopback host; use https",
        ));
    }
    if let Some(FileRestAuth::Oidc {
        token_url,
        client_id_env,
        client_secret_env,
        audience,
        scope,
    }) = &rest.auth
    {
        let secret = |var: &str, field: &str| -> Result<String, ConfigError> {
            env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                invalid(
                    format!("{key}.auth.{field}"),
                    format!("environment variable `{var}` is not set"),
                )
            })
        };
        let blank = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let token_url = parse_url(token_url, &format!("{key}.auth.token_url"))?;
        if !private_channel(&token_url) {
            return Err(invalid(
                format!("{key}.auth.token_url"),
                "sends the client secret over plain http to a non-loopback host; use https",
            ));
        }
        e.credentials = Some(Credentials::Oidc(std::sync::Arc::new(OidcSettings {
            token_url,
            client_id: secret(client_id_env, "client_id_env")?,
            client_secret: Secret::new(secret(client_secret_env, "client_secret_env")?),
            audience: blank(audience),
            scope: blank(scope),
        })));
    }
    e.tls = outbound_tls(
        &e.url,
        rest.ca_file.as_deref(),
        rest.tls_server_name.as_deref(),
        key,
    )?;
    Ok(e)
}

/// Whether a secret may go to `url`: over https, or over plain http to this machine only.
fn private_channel(url: &Url) -> bool {
    if url.scheme() != "http" {
        return true;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An endpoint's `ca_file` and `tls_server_name`, read and checked now so that a bad file stops
/// the start rather than the first backup.
pub(super) fn outbound_tls(
    url: &Url,
    ca_file: Option<&str>,
    server_name: Option<&str>,
    key: &str,
) -> Result<crate::tls::OutboundTls, ConfigError> {
    crate::tls::OutboundTls::load(url, ca_file.map(Path::new), server_name).map_err(|e| {
        let field = match e {
            crate::tls::OutboundTlsError::BadServerName(_) => "tls_server_name",
            crate::tls::OutboundTlsError::NotHttps if ca_file.is_none() => "tls_server_name",
            _ => "ca_file",
        };
        invalid(format!("{key}.{field}"), e.to_string())
    })
}

/// A broker endpoint shares its gateway's credentials and timeout.
pub(super) fn endpoint_with(
    base: &Endpoint,
    url: &str,
    key: &str,
) -> Result<Endpoint, ConfigError> {
    Ok(Endpoint {
        url: parse_url(url, key)?,
        credentials: base.credentials.clone(),
        timeout: base.timeout,
        limits: base.limits,
        tls: base.tls.clone(),
    })
}

/// Caps on upstream answers, `[upstream]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest listing read, 256 MiB by default: room for about 100,000 sets.
    pub listing_bytes: u64,
    /// Largest other answer, 1 MiB by default.
    pub answer_bytes: u64,
    /// A listing's timeout when it should be longer than the request timeout (a store with many
    /// backups); `None`, the default, keeps the request timeout, so a hung component cannot hold
    /// the history page longer than any other call.
    pub listing_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            listing_bytes: 256 * 1024 * 1024,
            answer_bytes: 1024 * 1024,
            listing_timeout: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::fixtures::{V87, no_env};

    #[test]
    fn a_missing_secret_names_the_key_and_the_variable() {
        let err = Config::parse(V87, "test.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration key `clusters.prod-eu.elasticsearch.auth.username_env`: environment variable `ES_USER` is not set"
        );
    }
}
