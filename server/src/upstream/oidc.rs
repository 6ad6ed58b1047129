//! OIDC client credentials for the 8.10 REST API: an access token from the provider's token
//! endpoint (`grant_type=client_credentials`), cached until shortly before `expires_in` ends.
//! Concurrent callers share one fetch; after a 401 the caller asks for a fresh token once.
//! Neither the token nor the client secret appears in an error, a log line or a transcript.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::{OidcSettings, Secret};

/// Why no token could be had. The texts name the token URL and the provider's answer, never the
/// client secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("OpenID token endpoint {url}: no answer within {timeout_secs} s")]
    Timeout { url: String, timeout_secs: u64 },
    #[error("OpenID token endpoint {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("OpenID token endpoint {url}: HTTP {status}: {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("OpenID token endpoint {url}: unexpected answer: {reason}")]
    Decode { url: String, reason: String },
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct Cached {
    token: Secret,
    /// When the token is no longer handed out: a little before the provider's expiry.
    use_until: Instant,
}

/// One client's tokens, shared by every clone of its [`super::Http`].
pub struct TokenSource {
    settings: Arc<OidcSettings>,
    client: reqwest::Client,
    timeout: Duration,
    cached: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.settings.token_url.as_str())
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A token lasting `expires_in` is used until this long before it ends: a tenth of its life, at
/// most 30 s, so that a request sent just before expiry does not arrive just after it.
fn margin(expires_in: Duration) -> Duration {
    (expires_in / 10).min(Duration::from_secs(30))
}

/// Without `expires_in` a token is kept this long (the provider may still end it: a 401 then
/// fetches another).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

impl TokenSource {
    pub fn new(settings: Arc<OidcSettings>, client: reqwest::Client, timeout: Duration) -> Self {
        TokenSource {
            settings,
            client,
            timeout,
            cached: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// Tokens fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a new one. Callers arriving during a fetch wait for it.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.use_until) {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// A token other than `rejected` (which the API answered 401): if another caller already
    /// replaced it, that one; otherwise a new fetch.
    pub async fn replace(&self, rejected: &Secret) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached
            .as_ref()
            .filter(|c| c.token.expose() != rejected.expose() && Instant::now() < c.use_until)
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let s = &self.settings;
        let url = s.token_url.to_string();
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &s.client_id)
                .append_pair("client_secret", s.client_secret.expose());
            if let Some(audience) = &s.audience {
                form.append_pair("audience", audience);
            }
            if let Some(scope) = &s.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let started = Instant::now();
        let response = self
            .client
            .post(s.token_url.clone())
            .timeout(self.timeout)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| transport(e, &url, self.timeout))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, &url, self.timeout))?;
        if !status.is_success() {
            return Err(TokenError::Refused {
                url,
                status: status.as_u16(),
                message: provider_message(&bytes),
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Decode {
                url: url.clone(),
                // serde's message names the field, never the value.
                reason: e.to_string(),
            })?;
        if answer.access_token.is_empty() {
            return Err(TokenError::Decode {
                url,
                reason: "`access_token` is empty".into(),
            });
        }
        if let Some(kind) = answer.token_type.as_deref()
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(TokenError::Decode {
                url,
                reason: format!("`token_type` is {kind}, not Bearer"),
            });
        }
        let lifetime = answer
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok(Cached {
            token: Secret::new(answer.access_token),
            use_until: started + lifetime.saturating_sub(margin(lifetime)),
        })
    }
}

fn transport(e: reqwest::Error, url: &str, timeout: Duration) -> TokenError {
    if e.is_timeout() {
        TokenError::Timeout {
            url: url.to_string(),
            timeout_secs: timeout.as_secs().max(1),
        }
    } else {
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        TokenError::Transport {
            url: url.to_string(),
            reason: format!("cannot connect ({cause})"),
        }
    }
}

/// The provider's `error` and `error_description` (RFC 6749 §5.2), else the start of the body.
fn provider_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        match (field("error"), field("error_description")) {
            (Some(e), Some(d)) => return format!("{e}: {d}"),
            (Some(e), None) => return e,
            _ => {}
        }
    }
    super::upstream_message(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_used_until_shortly_before_it_expires() {
        assert_eq!(margin(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(margin(Duration::from_secs(5)), Duration::from_millis(500));
    }

    #[test]
    fn the_provider_error_is_read_from_rfc_6749_fields() {
        assert_eq!(
            provider_message(br#"{"error":"invalid_client","error_description":"bad secret"}"#),
            "invalid_client: bad secret"
        );
    }
}
