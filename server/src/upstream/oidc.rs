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
#[derive(Debug, Clone, thiserror::Error)]
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
    /// A number of seconds; some providers (Azure AD v1, older ADFS) send it as a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// A provider's lifetime is believed up to this long: beyond it a token is fetched anew anyway
/// (a hostile or broken `expires_in` of u64::MAX cannot overflow the clock or pin a token).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// `expires_in` read as seconds (a JSON number or a numeric string), capped at [`MAX_LIFETIME`];
/// a negative, fractional-garbage or non-numeric value is refused with the reason.
fn lifetime(expires_in: Option<&serde_json::Value>) -> Result<Duration, String> {
    use serde_json::Value;
    let seconds = match expires_in {
        None | Some(Value::Null) => return Ok(DEFAULT_LIFETIME),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(s), _) => Some(s),
            (None, Some(f)) if f.is_finite() && f >= 0.0 => {
                Some(if f >= MAX_LIFETIME.as_secs_f64() {
                    MAX_LIFETIME.as_secs()
                } else {
                    f as u64
                })
            }
            _ => None,
        },
        Some(Value::String(text)) => {
            let text = text.trim();
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                // All digits: a number too long for u64 is simply very long.
                Some(text.parse::<u64>().unwrap_or(u64::MAX))
            } else {
                None
            }
        }
        Some(_) => None,
    };
    match seconds {
        Some(s) => Ok(Duration::from_secs(s).min(MAX_LIFETIME)),
        None => Err("`expires_in` is not a non-negative number of seconds".into()),
    }
}

struct Cached {
    token: Secret,
    /// When the token is no longer handed out: a little before the provider's expiry.
    use_until: Instant,
}

/// The cache behind the lock: the token in use and the outcome of the last fetch.
#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// Bumped by each finished fetch; a caller that waited for the lock while it changed shares
    /// that fetch's `last` outcome (its token or its error) instead of starting another fetch.
    generation: u64,
    last: Option<Result<Secret, TokenError>>,
}

/// One client's tokens, shared by every clone of its [`super::Http`].
pub struct TokenSource {
    settings: Arc<OidcSettings>,
    client: reqwest::Client,
    timeout: Duration,
    state: tokio::sync::Mutex<State>,
    /// The generation of `state`, readable without the lock (taken before waiting for it).
    generation: AtomicU64,
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
            state: tokio::sync::Mutex::new(State::default()),
            generation: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    /// Tokens fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a new one. Callers arriving during a fetch wait for it
    /// and share its outcome, its error included (a hung provider costs them one timeout, not one
    /// each).
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let seen = self.generation.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        if state.generation != seen
            && let Some(last) = state.last.clone()
        {
            return last;
        }
        if let Some(c) = state
            .cached
            .as_ref()
            .filter(|c| Instant::now() < c.use_until)
        {
            return Ok(c.token.clone());
        }
        self.fetch_into(&mut state).await
    }

    /// A token other than `rejected` (which the API answered 401): if another caller already
    /// replaced it (or a fetch finished while this one waited), that outcome; otherwise a new
    /// fetch.
    pub async fn replace(&self, rejected: &Secret) -> Result<Secret, TokenError> {
        let seen = self.generation.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        if state.generation != seen
            && let Some(last) = state.last.clone()
            && !matches!(&last, Ok(t) if t.expose() == rejected.expose())
        {
            return last;
        }
        if let Some(c) = state
            .cached
            .as_ref()
            .filter(|c| c.token.expose() != rejected.expose() && Instant::now() < c.use_until)
        {
            return Ok(c.token.clone());
        }
        self.fetch_into(&mut state).await
    }

    /// One fetch under the lock; its outcome is kept for the callers waiting behind it.
    async fn fetch_into(&self, state: &mut State) -> Result<Secret, TokenError> {
        let outcome = match self.fetch().await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                state.cached = Some(fresh);
                Ok(token)
            }
            Err(e) => Err(e),
        };
        state.last = Some(outcome.clone());
        state.generation = state.generation.wrapping_add(1);
        self.generation.store(state.generation, Ordering::Release);
        outcome
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
        let lifetime = lifetime(answer.expires_in.as_ref())
            .map_err(|reason| TokenError::Decode { url, reason })?;
        let keep = lifetime.saturating_sub(margin(lifetime));
        Ok(Cached {
            token: Secret::new(answer.access_token),
            // Capped above, so this cannot overflow; if it ever did, the token is used once.
            use_until: started.checked_add(keep).unwrap_or(started),
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
    fn expires_in_is_read_as_a_number_or_a_numeric_string_and_capped() {
        use serde_json::json;
        let read = |v: serde_json::Value| lifetime(Some(&v));
        assert_eq!(read(json!(300)), Ok(Duration::from_secs(300)));
        assert_eq!(read(json!("3600")), Ok(Duration::from_secs(3600)));
        assert_eq!(read(json!(u64::MAX)), Ok(MAX_LIFETIME));
        assert_eq!(read(json!("99999999999999999999999999")), Ok(MAX_LIFETIME));
        assert_eq!(read(json!(1e300)), Ok(MAX_LIFETIME));
        assert_eq!(lifetime(None), Ok(DEFAULT_LIFETIME));
        for bad in [
            json!(-5),
            json!("-5"),
            json!("soon"),
            json!(""),
            json!([1]),
            json!(-1.5),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_provider_error_is_read_from_rfc_6749_fields() {
        assert_eq!(
            provider_message(br#"{"error":"invalid_client","error_description":"bad secret"}"#),
            "invalid_client: bad secret"
        );
    }
}
