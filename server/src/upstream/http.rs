//! The HTTP plumbing every client shares: URL building under the configured base (context paths
//! included), credentials, the timeout and size cap of each kind of call, and the classification
//! of failures.

use std::time::Duration;

use axum::body::Bytes;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::clock::Clock;
use crate::config::{Credentials, Endpoint};
use backup_domain::run::Exchange;

/// A failed call to a component. `call` names the component, method and path, never the host's
/// credentials.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{call}: no answer within {timeout_secs} s")]
    Timeout { call: String, timeout_secs: u64 },
    #[error("{call}: cannot connect ({reason})")]
    Connect { call: String, reason: String },
    #[error("{call}: connection failed ({reason})")]
    Transport { call: String, reason: String },
    #[error("{call}: HTTP {status}: {message}")]
    Status {
        call: String,
        status: u16,
        message: String,
    },
    #[error("{call}: unexpected answer: {reason}")]
    Decode { call: String, reason: String },
    /// The answer was cut off at the configured cap rather than read into memory whole.
    #[error(
        "{call}: the answer is larger than {limit_bytes} bytes; raise [upstream] {key} if it is expected"
    )]
    TooLarge {
        call: String,
        limit_bytes: u64,
        key: &'static str,
    },
    /// A 404 that does not say the artifact is missing: the snapshot repository does not exist
    /// (`repository_missing_exception`, §7.1), or the path reached something else (a wrong
    /// context path, a proxy's page). Nothing was found or deleted, so it is never "already gone".
    #[error("{call}: HTTP 404, and not for a missing snapshot: {message}")]
    NotFoundElsewhere { call: String, message: String },
    /// No access token for the REST API (OIDC): the call was not sent.
    #[error("{call}: not sent: {source}")]
    Token {
        call: String,
        source: super::oidc::TokenError,
    },
    /// A read that needs the management port, on a cluster configured without one.
    #[error("{call}: {}", crate::config::NO_MANAGEMENT_PORT)]
    NoManagementPort { call: String },
}

impl UpstreamError {
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Status { status, .. } => Some(*status),
            UpstreamError::NotFoundElsewhere { .. } => Some(404),
            _ => None,
        }
    }
}

/// What kind of answer a call expects: it sets the size cap and the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// One backup's status, a mutation's answer, health: small and quick.
    Answer,
    /// Every backup of a component: grows with the history, and the component may scan its
    /// whole store to answer (Zeebe reads every partition's backups, §3.4).
    Listing,
}

/// Receives every upstream exchange made inside [`recording`]: the transcript of a backup run.
/// Its clock stamps each exchange, so a transcript shares its run's time line.
#[derive(Clone)]
pub struct Recorder {
    sink: std::sync::Arc<dyn Fn(Exchange) + Send + Sync>,
    clock: Clock,
}

impl Recorder {
    pub fn new(clock: Clock, f: impl Fn(Exchange) + Send + Sync + 'static) -> Self {
        Recorder {
            sink: std::sync::Arc::new(f),
            clock,
        }
    }
}

tokio::task_local! {
    static TRANSCRIPT: Recorder;
}

/// Runs `future` with every upstream call it makes reported to `recorder`.
pub async fn recording<F: std::future::Future>(recorder: Recorder, future: F) -> F::Output {
    TRANSCRIPT.scope(recorder, future).await
}

fn record(exchange: impl FnOnce() -> Exchange) {
    let _ = TRANSCRIPT.try_with(|r| (r.sink)(exchange()));
}

/// Now on the recording run's clock; outside a recording nothing is stamped, so any clock does.
fn recording_now_ms() -> i64 {
    TRANSCRIPT
        .try_with(|r| r.clock.now_ms())
        .unwrap_or_else(|_| Clock::System.now_ms())
}

/// One component's endpoint with a shared connection pool.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    endpoint: Endpoint,
    component: &'static str,
    /// The token cache of OIDC credentials, shared by every clone.
    tokens: Option<std::sync::Arc<super::oidc::TokenSource>>,
}

impl Http {
    pub fn new(client: reqwest::Client, mut endpoint: Endpoint, component: &'static str) -> Self {
        // A base with a context path (`http://h:9600/tasklist`) keeps it when paths are appended.
        if !endpoint.url.path().ends_with('/') {
            let path = format!("{}/", endpoint.url.path());
            endpoint.url.set_path(&path);
        }
        let tokens = match &endpoint.credentials {
            Some(Credentials::Oidc(settings)) => Some(std::sync::Arc::new(
                super::oidc::TokenSource::new(settings.clone(), client.clone(), endpoint.timeout),
            )),
            _ => None,
        };
        Http {
            client,
            endpoint,
            component,
            tokens,
        }
    }

    /// The OIDC token source, for tests and diagnostics.
    pub fn tokens(&self) -> Option<&super::oidc::TokenSource> {
        self.tokens.as_deref()
    }

    /// The bearer token of an OIDC endpoint (cached or fetched), `None` for other credentials.
    async fn bearer(&self, call: &str) -> Result<Option<crate::config::Secret>, UpstreamError> {
        match &self.tokens {
            None => Ok(None),
            Some(tokens) => tokens
                .token()
                .await
                .map(Some)
                .map_err(|source| UpstreamError::Token {
                    call: call.to_string(),
                    source,
                }),
        }
    }

    /// After a 401 with `rejected`: another token, fetched at most once per rejection.
    async fn replace_bearer(
        &self,
        call: &str,
        rejected: &crate::config::Secret,
    ) -> Result<crate::config::Secret, UpstreamError> {
        let Some(tokens) = &self.tokens else {
            return Ok(rejected.clone());
        };
        tokens
            .replace(rejected)
            .await
            .map_err(|source| UpstreamError::Token {
                call: call.to_string(),
                source,
            })
    }

    /// The base URL for display: it never holds credentials (config refuses them).
    pub fn base(&self) -> &Url {
        &self.endpoint.url
    }

    pub fn component(&self) -> &'static str {
        self.component
    }

    /// The URL of `segments` under the base, each segment percent-encoded as needed.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.endpoint.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn call_name(&self, method: &Method, url: &Url) -> String {
        format!("{} {method} {}", self.component, url.path())
    }

    /// The timeout of a call of this kind: the request timeout, or for a listing the longer
    /// listing timeout.
    pub fn timeout(&self, kind: CallKind) -> Duration {
        match kind {
            CallKind::Answer => self.endpoint.timeout,
            CallKind::Listing => self
                .endpoint
                .limits
                .listing_timeout
                .map_or(self.endpoint.timeout, |t| t.max(self.endpoint.timeout)),
        }
    }

    /// Sends a request and returns the status and body, whatever the status.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), UpstreamError> {
        self.send_as(CallKind::Answer, method, url, body).await
    }

    /// The request of a call of `kind`, with its credentials and timeout, and the cap of its
    /// answer with the setting that raises it.
    fn prepare(
        &self,
        kind: CallKind,
        method: Method,
        url: Url,
        body: Option<&Value>,
        bearer: Option<&crate::config::Secret>,
    ) -> (reqwest::RequestBuilder, Duration, u64, &'static str) {
        let timeout = self.timeout(kind);
        let (limit, key) = match kind {
            CallKind::Answer => (self.endpoint.limits.answer_bytes, "max_answer_bytes"),
            CallKind::Listing => (self.endpoint.limits.listing_bytes, "max_listing_bytes"),
        };
        let mut request = self.client.request(method, url).timeout(timeout).header(
            reqwest::header::ACCEPT,
            "application/json, application/vnd.spring-boot.actuator.v3+json, */*",
        );
        request = match &self.endpoint.credentials {
            None => request,
            Some(Credentials::Basic { username, password }) => {
                request.basic_auth(username, Some(password.expose()))
            }
            Some(Credentials::ApiKey(key)) => request.header(
                reqwest::header::AUTHORIZATION,
                format!("ApiKey {}", key.expose()),
            ),
            Some(Credentials::Bearer(token)) => request.bearer_auth(token.expose()),
            Some(Credentials::Oidc(_)) => match bearer {
                Some(token) => request.bearer_auth(token.expose()),
                None => request,
            },
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        (request, timeout, limit, key)
    }

    /// [`Http::send`] with the timeout and size cap of `kind`.
    pub async fn send_as(
        &self,
        kind: CallKind,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), UpstreamError> {
        let call = self.call_name(&method, &url);
        let _timer =
            super::timing::UpstreamTimer::start(self.component, method.as_str(), url.path());
        let (method_name, url_text) = (method.to_string(), url.to_string());
        let bearer = self.bearer(&call).await?;
        let (request, timeout, limit, key) =
            self.prepare(kind, method.clone(), url.clone(), body, bearer.as_ref());
        let classify = |e: reqwest::Error, call: String| classify(e, call, timeout);
        let started = std::time::Instant::now();
        let at_ms = recording_now_ms();
        let recorded = |status: Option<StatusCode>, bytes: &[u8], error: Option<String>| Exchange {
            at_ms,
            component: self.component.to_string(),
            method: method_name.clone(),
            url: url_text.clone(),
            request_body: body.map(Value::to_string),
            status: status.map(|s| s.as_u16()),
            response: String::from_utf8_lossy(bytes).into_owned(),
            error,
            duration_ms: started.elapsed().as_millis() as i64,
            repeats: 1,
        };
        let read = |request: reqwest::RequestBuilder| async move {
            let mut response = request.send().await.map_err(Read::Http)?;
            let status = response.status();
            // Streamed against the cap, so a huge (or endless) answer never sits in memory.
            if response.content_length().is_some_and(|n| n > limit) {
                return Err(Read::TooLarge);
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(Read::Http)? {
                if bytes.len() as u64 + chunk.len() as u64 > limit {
                    return Err(Read::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((status, Bytes::from(bytes)))
        };
        let mut answer = read(request).await;
        // An OIDC token the API refuses: one new token, one retry.
        if let (Some(rejected), Ok((StatusCode::UNAUTHORIZED, first))) = (&bearer, &answer) {
            record(|| recorded(Some(StatusCode::UNAUTHORIZED), first, None));
            let fresh = self.replace_bearer(&call, rejected).await?;
            let (request, ..) = self.prepare(kind, method, url, body, Some(&fresh));
            answer = read(request).await;
        }
        match answer {
            Ok((status, bytes)) => {
                record(|| recorded(Some(status), &bytes, None));
                Ok((status, bytes))
            }
            Err(e) => {
                let error = match e {
                    Read::Http(e) => classify(e, call),
                    Read::TooLarge => UpstreamError::TooLarge {
                        call,
                        limit_bytes: limit,
                        key,
                    },
                };
                record(|| recorded(None, &[], Some(error.to_string())));
                Err(error)
            }
        }
    }

    /// A listing: the array at `field` of the answer (the answer itself when `None`) decoded
    /// element by element as it arrives, each handed to `each` with `acc` (see
    /// [`super::stream`]); under the listing cap and timeout. An error answer is read as any
    /// other. A transcript records the call, not the answer (it may be 100 MB).
    pub async fn listing_each<T, A>(
        &self,
        url: Url,
        field: Option<&'static str>,
        acc: A,
        mut each: impl FnMut(&mut A, T) + Send + 'static,
    ) -> Result<A, UpstreamError>
    where
        T: DeserializeOwned + 'static,
        A: Send + 'static,
    {
        let call = self.call_name(&Method::GET, &url);
        let _timer = super::timing::UpstreamTimer::start(self.component, "GET", url.path());
        let url_text = url.to_string();
        let bearer = self.bearer(&call).await?;
        let (request, timeout, limit, key) = self.prepare(
            CallKind::Listing,
            Method::GET,
            url.clone(),
            None,
            bearer.as_ref(),
        );
        let started = std::time::Instant::now();
        let at_ms = recording_now_ms();
        let recorded =
            |status: Option<StatusCode>, response: String, error: Option<String>| Exchange {
                at_ms,
                component: self.component.to_string(),
                method: Method::GET.to_string(),
                url: url_text.clone(),
                request_body: None,
                status: status.map(|s| s.as_u16()),
                response,
                error,
                duration_ms: started.elapsed().as_millis() as i64,
                repeats: 1,
            };
        let fail = |error: UpstreamError, status: Option<StatusCode>| {
            record(|| recorded(status, String::new(), Some(error.to_string())));
            Err(error)
        };
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return fail(classify(e, call, timeout), None),
        };
        // An OIDC token the API refuses: one new token, one retry.
        if let Some(rejected) = bearer
            .as_ref()
            .filter(|_| response.status() == StatusCode::UNAUTHORIZED)
        {
            record(|| recorded(Some(StatusCode::UNAUTHORIZED), String::new(), None));
            let fresh = self.replace_bearer(&call, rejected).await?;
            let (request, ..) =
                self.prepare(CallKind::Listing, Method::GET, url, None, Some(&fresh));
            response = match request.send().await {
                Ok(r) => r,
                Err(e) => return fail(classify(e, call, timeout), None),
            };
        }
        let status = response.status();
        if !status.is_success() {
            // An error answer is small; it is read whole (to the cap) for its message.
            let mut bytes = Vec::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    break;
                }
                bytes.extend_from_slice(&chunk);
            }
            record(|| {
                recorded(
                    Some(status),
                    String::from_utf8_lossy(&bytes).into_owned(),
                    None,
                )
            });
            return Err(UpstreamError::Status {
                call,
                status: status.as_u16(),
                message: upstream_message(&bytes),
            });
        }
        if response.content_length().is_some_and(|n| n > limit) {
            let error = UpstreamError::TooLarge {
                call,
                limit_bytes: limit,
                key,
            };
            return fail(error, Some(status));
        }
        // A short queue: the answer is read only as fast as it is decoded.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let decoder = tokio::task::spawn_blocking(move || {
            let mut acc = acc;
            super::stream::decode_each(
                super::stream::ChunkReader::new(rx),
                field,
                &mut acc,
                &mut each,
            )
            .map(|()| acc)
        });
        let mut read: u64 = 0;
        let fed = async {
            while let Some(chunk) = response.chunk().await.map_err(Read::Http)? {
                read += chunk.len() as u64;
                if read > limit {
                    return Err(Read::TooLarge);
                }
                if tx.send(chunk).await.is_err() {
                    // The decoder stopped: its error says why.
                    break;
                }
            }
            Ok(())
        }
        .await;
        drop(tx);
        let decoded = decoder.await;
        match fed {
            Err(Read::Http(e)) => return fail(classify(e, call, timeout), Some(status)),
            Err(Read::TooLarge) => {
                let error = UpstreamError::TooLarge {
                    call,
                    limit_bytes: limit,
                    key,
                };
                return fail(error, Some(status));
            }
            Ok(()) => {}
        }
        let reason = match decoded {
            Ok(Ok(acc)) => {
                record(|| {
                    recorded(
                        Some(status),
                        format!("(a listing of {read} bytes, decoded as it arrived)"),
                        None,
                    )
                });
                return Ok(acc);
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        fail(UpstreamError::Decode { call, reason }, Some(status))
    }

    /// [`Http::json`] with the timeout and size cap of `kind`.
    pub async fn json_as<T: DeserializeOwned>(
        &self,
        kind: CallKind,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<T, UpstreamError> {
        let call = self.call_name(&method, &url);
        let (status, bytes) = self.send_as(kind, method, url, body).await?;
        if !status.is_success() {
            return Err(UpstreamError::Status {
                call,
                status: status.as_u16(),
                message: upstream_message(&bytes),
            });
        }
        decode(&call, &bytes)
    }

    /// A 2xx answer decoded as `T`; any other status is an error with the component's message.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<T, UpstreamError> {
        self.json_as(CallKind::Answer, method, url, body).await
    }

    /// `GET url` of one object: `None` for a 404, a 2xx decoded as `T`, any other status an error
    /// with the component's message.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<Option<T>, UpstreamError> {
        let (status, bytes) = self.send(Method::GET, url.clone(), None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                decode(&format!("{} GET {}", self.component, url.path()), &bytes).map(Some)
            }
            s => Err(self.status_error(&Method::GET, &url, s, &bytes)),
        }
    }

    /// A call whose success has no body worth reading (DELETE 204, rebalance 200).
    pub async fn expect_success(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(), UpstreamError> {
        let call = self.call_name(&method, &url);
        let (status, bytes) = self.send(method, url, body).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(UpstreamError::Status {
                call,
                status: status.as_u16(),
                message: upstream_message(&bytes),
            })
        }
    }

    pub fn status_error(
        &self,
        method: &Method,
        url: &Url,
        status: StatusCode,
        bytes: &[u8],
    ) -> UpstreamError {
        UpstreamError::Status {
            call: self.call_name(method, url),
            status: status.as_u16(),
            message: upstream_message(bytes),
        }
    }

    pub fn decode_error(&self, method: &Method, url: &Url, reason: String) -> UpstreamError {
        UpstreamError::Decode {
            call: self.call_name(method, url),
            reason,
        }
    }
}

/// A REST API permission: what a 403 of each call lacks (the v2 `backups.yaml` and
/// `exporting.yaml`, https://github.com/camunda/camunda/tree/main/zeebe/gateway-protocol/src/main/proto/v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    BackupCreate,
    BackupRead,
    BackupDelete,
    ExporterPause,
}

impl Permission {
    pub fn text(self) -> &'static str {
        match self {
            Permission::BackupCreate => "BACKUP:CREATE",
            Permission::BackupRead => "BACKUP:READ",
            Permission::BackupDelete => "BACKUP:DELETE",
            // The docs say EXPORTER:PAUSE; one revision of the spec says SYSTEM:UPDATE.
            Permission::ExporterPause => {
                "EXPORTER:PAUSE (SYSTEM:UPDATE in one revision of the API spec)"
            }
        }
    }
}

/// A 403 of the REST API as an error that names the permission the console's credentials lack.
pub fn name_permission(error: UpstreamError, permission: Permission) -> UpstreamError {
    match error {
        UpstreamError::Status {
            call,
            status: 403,
            message,
        } => UpstreamError::Status {
            call,
            status: 403,
            message: format!(
                "forbidden: the console's REST API credentials lack the permission {} ({message})",
                permission.text()
            ),
        },
        other => other,
    }
}

/// A transport failure as the error a caller reports: a timeout, no connection, or another.
fn classify(e: reqwest::Error, call: String, timeout: Duration) -> UpstreamError {
    if e.is_timeout() {
        UpstreamError::Timeout {
            call,
            timeout_secs: timeout.as_secs().max(1),
        }
    } else if e.is_connect() {
        UpstreamError::Connect {
            call,
            reason: root_cause(&e),
        }
    } else {
        UpstreamError::Transport {
            call,
            reason: root_cause(&e),
        }
    }
}

/// Why reading an answer stopped.
enum Read {
    Http(reqwest::Error),
    TooLarge,
}

pub fn decode<T: DeserializeOwned>(call: &str, bytes: &[u8]) -> Result<T, UpstreamError> {
    serde_json::from_slice(bytes).map_err(|e| UpstreamError::Decode {
        call: call.to_string(),
        reason: e.to_string(),
    })
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The human message inside any component's error body (contract §1, §7): Optimize's
/// `detailedMessage`, Zeebe's and web apps' `message`, Elasticsearch's `error.reason`, Spring's
/// default `error`; otherwise the start of the text itself.
pub fn upstream_message(body: &[u8]) -> String {
    // Every branch is cut alike: an upstream's text (a problem `detail`, a `message`, an
    // Elasticsearch `reason`) reaches error texts, run reasons, the audit log and the browser.
    cut(message_of(body), MESSAGE_CHARS)
}

/// The most characters of an upstream's own message kept in an error text.
const MESSAGE_CHARS: usize = 300;

fn cut(text: String, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

fn message_of(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let text = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        // RFC 9457 problem details (the 8.10 REST API): `detail`, with the `title` before it.
        if value.get("status").is_some()
            && let Some(detail) = text(&value, "detail")
        {
            return match text(&value, "title") {
                Some(title) => format!("{title}: {detail}"),
                None => detail,
            };
        }
        if let Some(m) = text(&value, "detailedMessage").or_else(|| text(&value, "message")) {
            return m;
        }
        if let Some(error) = value.get("error") {
            if let Some(reason) = text(error, "reason") {
                let kind = text(error, "type").unwrap_or_default();
                return if kind.is_empty() {
                    reason
                } else {
                    format!("{kind}: {reason}")
                };
            }
            if let Some(e) = error.as_str() {
                return match text(&value, "path") {
                    Some(path) => format!("{e} ({path})"),
                    None => e.to_string(),
                };
            }
        }
        if let Some(m) = text(&value, "errorMessage") {
            return m;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Limits, Secret};
    use std::time::Duration;

    #[test]
    fn every_upstream_message_is_cut() {
        let huge = "x".repeat(100_000);
        for body in [
            format!(r#"{{"status":403,"title":"FORBIDDEN","detail":"{huge}"}}"#),
            format!(r#"{{"message":"{huge}"}}"#),
            format!(r#"{{"error":{{"type":"t","reason":"{huge}"}}}}"#),
            huge.clone(),
        ] {
            let m = upstream_message(body.as_bytes());
            assert!(m.chars().count() <= MESSAGE_CHARS + 1, "{}", m.len());
            assert!(m.ends_with('…'));
        }
        assert_eq!(upstream_message(br#"{"message":"short"}"#), "short");
    }

    #[test]
    fn a_403_names_the_permission_and_problem_details_are_read() {
        let body = br#"{"type":"about:blank","title":"FORBIDDEN","status":403,"detail":"Insufficient permissions","instance":"/v2/backups/runtime/5"}"#;
        assert_eq!(
            upstream_message(body),
            "FORBIDDEN: Insufficient permissions"
        );
        let error = name_permission(
            UpstreamError::Status {
                call: "Orchestration REST DELETE /v2/backups/runtime/5".into(),
                status: 403,
                message: upstream_message(body),
            },
            Permission::BackupDelete,
        );
        assert_eq!(
            error.to_string(),
            "Orchestration REST DELETE /v2/backups/runtime/5: HTTP 403: forbidden: the console's REST API credentials lack the permission BACKUP:DELETE (FORBIDDEN: Insufficient permissions)"
        );
        let pause = name_permission(
            UpstreamError::Status {
                call: "x".into(),
                status: 403,
                message: "no".into(),
            },
            Permission::ExporterPause,
        )
        .to_string();
        assert!(
            pause.contains("EXPORTER:PAUSE") && pause.contains("SYSTEM:UPDATE"),
            "{pause}"
        );
        // Other statuses are left as they are.
        let other = name_permission(
            UpstreamError::Status {
                call: "x".into(),
                status: 409,
                message: "conflict".into(),
            },
            Permission::BackupCreate,
        );
        assert_eq!(other.to_string(), "x: HTTP 409: conflict");
    }

    /// A listener that answers 401 with the Authorization header it received in the body.
    async fn echo_authorization() -> Url {
        use axum::http::HeaderMap;
        let app = axum::Router::new().route(
            "/actuator/backups",
            axum::routing::get(|headers: HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_string();
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    format!("{{\"message\":\"{auth}\"}}"),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn each_credential_type_is_sent_as_its_header() {
        let url = echo_authorization().await;
        let cases = [
            (
                Some(Credentials::Basic {
                    username: "elastic".into(),
                    password: Secret::new("pw".into()),
                }),
                "Basic ZWxhc3RpYzpwdw==",
            ),
            (
                Some(Credentials::ApiKey(Secret::new("k3y".into()))),
                "ApiKey k3y",
            ),
            (
                Some(Credentials::Bearer(Secret::new("t0ken".into()))),
                "Bearer t0ken",
            ),
            (None, "none"),
        ];
        for (credentials, expected) in cases {
            let endpoint = Endpoint {
                url: url.clone(),
                credentials,
                timeout: Duration::from_secs(2),
                limits: Limits::default(),
                tls: Default::default(),
            };
            let http = Http::new(reqwest::Client::new(), endpoint, "Test");
            let target = http.url(&["actuator", "backups"], &[]);
            let (status, body) = http.send(Method::GET, target, None).await.unwrap();
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(upstream_message(&body), expected);
        }
    }

    #[tokio::test]
    async fn errors_name_the_call_but_never_the_credentials() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = Endpoint {
            url: Url::parse(&format!("http://127.0.0.1:{closed}/ctx")).unwrap(),
            credentials: Some(Credentials::Bearer(Secret::new("supersecret".into()))),
            timeout: Duration::from_secs(2),
            limits: Limits::default(),
            tls: Default::default(),
        };
        let http = Http::new(reqwest::Client::new(), endpoint, "Optimize");
        let url = http.url(&["actuator", "backups"], &[]);
        assert_eq!(
            url.path(),
            "/ctx/actuator/backups",
            "a context path is kept"
        );
        let error = http
            .json::<Value>(Method::GET, url, None)
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("Optimize GET /ctx/actuator/backups: cannot connect"),
            "{text}"
        );
        assert!(!text.contains("supersecret") && !format!("{error:?}").contains("supersecret"));
    }

    /// A listener with a 2 MiB answer (with and without a length) and a DELETE that redirects
    /// to a GET answering 200.
    async fn stub() -> Url {
        use axum::routing::get;
        let big = || "x".repeat(2 * 1024 * 1024);
        let app = axum::Router::new()
            .route("/sized", get(move || async move { big() }))
            .route(
                "/streamed",
                get(|| async {
                    let chunks = (0..32).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 64 * 1024]));
                    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
                }),
            )
            .route(
                "/moved",
                get(|| async { "{}" }).delete(|| async {
                    (
                        axum::http::StatusCode::MOVED_PERMANENTLY,
                        [(axum::http::header::LOCATION, "/moved")],
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn stub_http(url: &Url) -> Http {
        let endpoint = Endpoint {
            url: url.clone(),
            credentials: None,
            timeout: Duration::from_secs(5),
            limits: Limits::default(),
            tls: Default::default(),
        };
        let client = crate::upstream::client_builder().build().unwrap();
        Http::new(client, endpoint, "Stub")
    }

    #[tokio::test]
    async fn answers_are_cut_at_the_cap_of_their_kind() {
        let url = stub().await;
        let http = stub_http(&url);
        for path in ["sized", "streamed"] {
            let target = http.url(&[path], &[]);
            let error = http
                .send_as(CallKind::Answer, Method::GET, target.clone(), None)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    UpstreamError::TooLarge {
                        limit_bytes: 1_048_576,
                        key: "max_answer_bytes",
                        ..
                    }
                ),
                "{path}: {error}"
            );
            assert!(
                error.to_string().contains("[upstream] max_answer_bytes"),
                "{error}"
            );
            // A listing may be that large.
            let (status, body) = http
                .send_as(CallKind::Listing, Method::GET, target, None)
                .await
                .unwrap();
            assert_eq!(
                (status.as_u16(), body.len()),
                (200, 2 * 1024 * 1024),
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn a_redirect_is_an_error_not_followed() {
        let url = stub().await;
        let http = stub_http(&url);
        let error = http
            .expect_success(Method::DELETE, http.url(&["moved"], &[]), None)
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(301), "{error}");
    }

    #[test]
    fn upstream_limits_come_from_the_configuration() {
        let cluster = "[[clusters]]\nname = \"t\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://127.0.0.1:9600\"\n[clusters.elasticsearch]\nurl = \"http://127.0.0.1:9200\"\n";
        let text = format!(
            "[upstream]\nmax_listing_bytes = 5000\nmax_answer_bytes = 100\nlisting_timeout_secs = 30\n{cluster}"
        );
        let config = crate::config::Config::parse(&text, "t", &|_| None).unwrap();
        let expected = Limits {
            listing_bytes: 5000,
            answer_bytes: 100,
            listing_timeout: Some(Duration::from_secs(30)),
        };
        let c = &config.clusters[0];
        assert_eq!(c.zeebe.limits, expected);
        assert_eq!(c.elasticsearch.as_ref().unwrap().endpoint.limits, expected);
        let defaults = crate::config::Config::parse(cluster, "t", &|_| None).unwrap();
        assert_eq!(defaults.clusters[0].zeebe.limits, Limits::default());
        let zero = format!("[upstream]\nmax_answer_bytes = 0\n{cluster}");
        let error = crate::config::Config::parse(&zero, "t", &|_| None).unwrap_err();
        assert!(
            error.to_string().contains("upstream.max_answer_bytes"),
            "{error}"
        );
    }

    #[test]
    fn a_listing_gets_the_listing_timeout_only_when_configured_and_longer() {
        let http = |listing: Option<u64>| {
            let endpoint = Endpoint {
                url: Url::parse("http://127.0.0.1:1/").unwrap(),
                credentials: None,
                timeout: Duration::from_secs(10),
                limits: Limits {
                    listing_timeout: listing.map(Duration::from_secs),
                    ..Limits::default()
                },
                tls: Default::default(),
            };
            Http::new(reqwest::Client::new(), endpoint, "Stub")
        };
        let secs = Duration::from_secs;
        assert_eq!(http(None).timeout(CallKind::Listing), secs(10));
        assert_eq!(http(Some(120)).timeout(CallKind::Listing), secs(120));
        assert_eq!(http(Some(120)).timeout(CallKind::Answer), secs(10));
        assert_eq!(http(Some(3)).timeout(CallKind::Listing), secs(10));
    }

    #[test]
    fn messages_are_found_in_every_error_shape() {
        assert_eq!(
            upstream_message(br#"{"message":"Backup with id 7 does not exist"}"#),
            "Backup with id 7 does not exist"
        );
        assert_eq!(
            upstream_message(br#"{"errorCode":"notFoundError","errorMessage":"generic","detailedMessage":"No Optimize backup with ID [7] could be found."}"#),
            "No Optimize backup with ID [7] could be found."
        );
        assert_eq!(
            upstream_message(br#"{"error":{"root_cause":[],"type":"snapshot_missing_exception","reason":"[camunda:x] is missing"},"status":404}"#),
            "snapshot_missing_exception: [camunda:x] is missing"
        );
        assert_eq!(
            upstream_message(br#"{"timestamp":"t","status":500,"error":"Internal Server Error","path":"/actuator/backups/1"}"#),
            "Internal Server Error (/actuator/backups/1)"
        );
        assert_eq!(
            upstream_message(
                br#"{"status":400,"message":"Index 0","instance":"x","type":"Bad Request"}"#
            ),
            "Index 0"
        );
        assert_eq!(
            upstream_message(b"<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(upstream_message(b""), "(empty body)");
    }
}
