//! The one client of the console's JSON API. Every page goes through it, and every failure comes
//! out as an [`ApiError`] that `components::alert` knows how to show.

use backup_domain::Verdict;
use backup_domain::api::{
    ApiErrorBody, AuditResponse, BackupDetailResponse, CatalogRefreshResponse, ErrorCode,
    HistoryResponse, LoginRequest, SessionInfo,
};
use backup_domain::id::BackupId;
use backup_domain::retention::{
    CleanupRequest, CleanupStarted, CleanupView, PreviewRequest, RetentionPolicy, RetentionPreview,
    RetentionState,
};
use backup_domain::run::{Preflight, RunStarted, StartRunRequest};
use gloo_net::http::Request;
use serde::de::DeserializeOwned;

use crate::wire::{self, Clusters, RunView};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The console server did not answer (stopped, network down).
    #[error("the console server did not answer: {0}")]
    Network(String),
    /// The server answered with its error envelope.
    #[error("{message}")]
    Server {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// The server answered something this UI cannot read (a version mismatch, a proxy page).
    #[error("unexpected answer from the console server: {0}")]
    Decode(String),
}

impl ApiError {
    /// The session is missing or over: the remedy is to log in again.
    pub fn needs_login(&self) -> bool {
        matches!(self, ApiError::Server { status: 401, .. })
    }

    pub fn title(&self) -> &'static str {
        match self {
            ApiError::Server { status: 401, .. } => "Not logged in",
            ApiError::Server { status: 403, .. } => "Not allowed",
            ApiError::Server { status: 429, .. } => "Too many attempts",
            ApiError::Network(_) => "Console server unreachable",
            ApiError::Server { status: 404, .. } => "Not found",
            ApiError::Server { status: 400, .. } => "Invalid request",
            ApiError::Server { .. } => "The console server reported an error",
            ApiError::Decode(_) => "Unexpected answer",
        }
    }
}

// Only the final decode is generic: the request, the answer and the error envelope are handled
// once, not once per answer type (it keeps the wasm small).

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(&fetch(Request::get(path), None, None).await?)
}

/// A mutating call: the session's CSRF token goes in its header (the server refuses it otherwise).
async fn post_json<T: DeserializeOwned>(
    path: &str,
    csrf: &str,
    body: Option<&str>,
) -> Result<T, ApiError> {
    send_json(Request::post(path), csrf, body).await
}

async fn send_json<T: DeserializeOwned>(
    request: gloo_net::http::RequestBuilder,
    csrf: &str,
    body: Option<&str>,
) -> Result<T, ApiError> {
    decode(&fetch(request, Some(csrf), body).await?)
}

thread_local! {
    /// The requests in flight, by number: a Leptos cleanup must be `Send`, a JS object is not.
    static IN_FLIGHT: std::cell::RefCell<std::collections::BTreeMap<u64, web_sys::AbortController>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
    static NEXT_REQUEST: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// One request's `AbortController`: aborted by the current reactive owner's cleanup, or when the
/// future holding it is dropped before the answer was read (after that, aborting does nothing).
struct InFlight(u64);

impl InFlight {
    fn start() -> InFlight {
        let id = NEXT_REQUEST.with(|n| n.replace(n.get() + 1));
        if let Ok(controller) = web_sys::AbortController::new() {
            IN_FLIGHT.with_borrow_mut(|m| m.insert(id, controller));
            leptos::prelude::on_cleanup(move || {
                if let Some(c) = IN_FLIGHT.with_borrow_mut(|m| m.remove(&id)) {
                    c.abort();
                }
            });
        }
        InFlight(id)
    }

    fn signal(&self) -> Option<web_sys::AbortSignal> {
        IN_FLIGHT.with_borrow(|m| m.get(&self.0).map(web_sys::AbortController::signal))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(c) = IN_FLIGHT.with_borrow_mut(|m| m.remove(&self.0)) {
            c.abort();
        }
    }
}

/// Sends the request and returns the body of a 2xx answer, or the server's error.
///
/// The request belongs to the reactive owner it runs under (the component or resource whose task
/// polls it, see `state::spawn_owned`): when that owner is cleaned up, the request is aborted. A
/// request run outside any owner (logout) always completes.
async fn fetch(
    request: gloo_net::http::RequestBuilder,
    csrf: Option<&str>,
    body: Option<&str>,
) -> Result<String, ApiError> {
    let in_flight = InFlight::start();
    let signal = in_flight.signal();
    let mut request = request
        .header("Accept", "application/json")
        .abort_signal(signal.as_ref());
    if let Some(csrf) = csrf {
        request = request
            .header("X-CSRF-Token", csrf)
            .header("X-Requested-With", "backup-console");
    }
    let sent = match body {
        Some(b) => request
            .header("Content-Type", "application/json")
            .body(b.to_string()),
        None => request.build(),
    };
    let response = sent
        .map_err(|e| ApiError::Network(e.to_string()))?
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if (200..300).contains(&status) {
        return Ok(text);
    }
    Err(match serde_json::from_str::<ApiErrorBody>(&text) {
        Ok(body) => ApiError::Server {
            status,
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => ApiError::Server {
            status,
            code: ErrorCode::HttpError,
            message: format!(
                "HTTP {status} {}",
                text.chars().take(200).collect::<String>()
            ),
        },
    })
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    // 204 No Content reads as JSON null, which `()` accepts.
    let text = if text.is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| ApiError::Decode(e.to_string()))
}

/// Path segments are cluster names from the configuration (letters, digits, `-`, `_`) and
/// numeric IDs, so they need no escaping; anything else is refused rather than sent.
fn segment(value: &str) -> Result<&str, ApiError> {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(value)
    } else {
        Err(ApiError::Server {
            status: 404,
            code: ErrorCode::ClusterNotFound,
            message: format!("no cluster named `{value}`"),
        })
    }
}

pub async fn clusters() -> Result<Clusters, ApiError> {
    get_json("/api/clusters").await
}

/// The latest round of the server's status poller: reachability, exporting phase, the run
/// holding the cluster. Cheap: every viewer reads the same round.
pub async fn cluster_status(
    cluster: &str,
) -> Result<backup_domain::status::ClusterStatus, ApiError> {
    get_json(&format!("/api/clusters/{}/status", segment(cluster)?)).await
}

/// Which page of the history to ask the server for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub verdict: Option<Verdict>,
    /// Digits of the backup ID; anything else is not sent.
    pub search: String,
    /// 1-based; the server clamps it to the last page.
    pub page: usize,
    pub per_page: usize,
}

impl PageQuery {
    fn query_string(&self) -> String {
        // `page` and `per_page` always go: they are what makes the server answer one page.
        let mut parts = vec![
            format!("page={}", self.page.max(1)),
            format!("per_page={}", self.per_page),
        ];
        if let Some(v) = self.verdict {
            parts.push(format!("verdict={}", v.slug()));
        }
        let digits: String = self.search.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            parts.push(format!("q={digits}"));
        }
        parts.join("&")
    }
}

/// One page of the history: `sets` is that page, `total`/`page`/`pages` describe the pages, and
/// the counts, the latest restorable set and the highest ID are over every set.
pub async fn history_page(cluster: &str, query: &PageQuery) -> Result<HistoryResponse, ApiError> {
    get_json(&format!(
        "/api/clusters/{}/backups?{}",
        segment(cluster)?,
        query.query_string()
    ))
    .await
}

/// The history's figures (counts, latest restorable, highest ID, exporting) with a single set:
/// the cheapest answer that has them.
pub async fn history_summary(cluster: &str) -> Result<HistoryResponse, ApiError> {
    let query = PageQuery {
        verdict: None,
        search: String::new(),
        page: 1,
        per_page: 1,
    };
    history_page(cluster, &query).await
}

/// Lists every component again into the server's catalog; answers once the refresh is done.
pub async fn refresh_catalog(
    cluster: &str,
    csrf: &str,
) -> Result<CatalogRefreshResponse, ApiError> {
    post_json(
        &format!("/api/clusters/{}/catalog/refresh", segment(cluster)?),
        csrf,
        Some("{}"),
    )
    .await
}

pub async fn backup_detail(
    cluster: &str,
    backup_id: u64,
) -> Result<BackupDetailResponse, ApiError> {
    get_json(&format!(
        "/api/clusters/{}/backups/{backup_id}",
        segment(cluster)?
    ))
    .await
}

/// The restore runbook as the server writes it, `md` or `sh` (a download link's target).
pub fn runbook_url(cluster: &str, backup_id: u64, format: &str) -> String {
    format!("/api/clusters/{cluster}/backups/{backup_id}/runbook?format={format}")
}

/// The runbook's Markdown, as text.
pub async fn runbook(cluster: &str, backup_id: u64) -> Result<String, ApiError> {
    fetch(
        Request::get(&runbook_url(segment(cluster)?, backup_id, "md")),
        None,
        None,
    )
    .await
}

pub async fn session() -> Result<SessionInfo, ApiError> {
    get_json("/api/session").await
}

pub async fn login(username: String, password: String) -> Result<SessionInfo, ApiError> {
    let body = serde_json::to_string(&LoginRequest { username, password })
        .map_err(|e| ApiError::Decode(e.to_string()))?;
    post_json("/api/login", "", Some(&body)).await
}

pub async fn logout(csrf: &str) -> Result<(), ApiError> {
    post_json("/api/logout", csrf, None).await
}

/// The audit query string (without `format`); the same string builds the export links.
pub fn audit_query(
    user: &str,
    action: &str,
    cluster: &str,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (key, value) in [("user", user), ("action", action), ("cluster", cluster)] {
        let value = value.trim();
        if !value.is_empty() {
            parts.push(format!(
                "{key}={}",
                String::from(js_sys::encode_uri_component(value))
            ));
        }
    }
    if let Some(v) = from_ms {
        parts.push(format!("from={v}"));
    }
    if let Some(v) = to_ms {
        parts.push(format!("to={v}"));
    }
    parts.join("&")
}

pub async fn audit(query: &str) -> Result<AuditResponse, ApiError> {
    get_json(&format!("/api/audit?{query}")).await
}

/// A management call was accepted; its answer's body is not read.
pub struct Ack {}

/// Pause (`soft`: compaction stops, exporting goes on) or resume exporting, or rebalance.
pub async fn management(
    cluster: &str,
    action: ManagementAction,
    csrf: &str,
) -> Result<Ack, ApiError> {
    let cluster = segment(cluster)?;
    let (path, body) = match action {
        ManagementAction::SoftPause => ("exporting/pause", Some(r#"{"soft":true}"#)),
        ManagementAction::Pause => ("exporting/pause", Some(r#"{"soft":false}"#)),
        ManagementAction::Resume => ("exporting/resume", None),
        ManagementAction::Rebalance => ("rebalance", None),
    };
    post_json::<serde::de::IgnoredAny>(&format!("/api/clusters/{cluster}/{path}"), csrf, body)
        .await
        .map(|_| Ack {})
}

/// Its labels, ids and warnings are screen copy: `components::management`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementAction {
    SoftPause,
    Pause,
    Resume,
    Rebalance,
}

pub async fn preflight(cluster: &str) -> Result<Preflight, ApiError> {
    get_json(&format!("/api/clusters/{}/preflight", segment(cluster)?)).await
}

/// Starts a backup on the server; `None` lets it propose the ID.
pub async fn start_run(
    cluster: &str,
    backup_id: Option<BackupId>,
    csrf: &str,
) -> Result<RunStarted, ApiError> {
    let body = serde_json::to_string(&StartRunRequest { backup_id })
        .map_err(|e| ApiError::Decode(e.to_string()))?;
    post_json(
        &format!("/api/clusters/{}/runs", segment(cluster)?),
        csrf,
        Some(&body),
    )
    .await
}

pub async fn cancel_run(run_id: i64, csrf: &str) -> Result<(), ApiError> {
    post_json(&format!("/api/runs/{run_id}/cancel"), csrf, None).await
}

pub async fn run(run_id: i64) -> Result<RunView, ApiError> {
    get_json(&format!("/api/runs/{run_id}")).await
}

pub async fn latest_run(cluster: &str) -> Result<Option<RunView>, ApiError> {
    get_json(&format!("/api/clusters/{}/runs/latest", segment(cluster)?)).await
}

/// Where a run's live reports stream from (server-sent events, one `report` event per change).
pub fn run_events_url(run_id: i64) -> String {
    format!("/api/runs/{run_id}/events")
}

/// The run's transcript as an equivalent curl script, served as a download.
pub fn run_script_url(run_id: i64) -> String {
    format!("/api/runs/{run_id}/script")
}

pub async fn retention_state(cluster: &str) -> Result<RetentionState, ApiError> {
    get_json::<wire::Retention>(&format!("/api/clusters/{}/retention", segment(cluster)?))
        .await
        .map(|r| r.0)
}

pub async fn save_policy(
    cluster: &str,
    policy: &RetentionPolicy,
    csrf: &str,
) -> Result<RetentionState, ApiError> {
    let body = serde_json::to_string(policy).map_err(|e| ApiError::Decode(e.to_string()))?;
    let path = format!("/api/clusters/{}/retention", segment(cluster)?);
    send_json::<wire::Retention>(Request::put(&path), csrf, Some(&body))
        .await
        .map(|r| r.0)
}

/// What a policy (the draft of `request`, or the one in force) does over the server's catalog:
/// the whole plan's figures and delete list, and one page of its decisions. A read: viewers may
/// ask, with the CSRF header every POST carries.
pub async fn retention_preview(
    cluster: &str,
    request: &PreviewRequest,
    csrf: &str,
) -> Result<RetentionPreview, ApiError> {
    let body = serde_json::to_string(request).map_err(|e| ApiError::Decode(e.to_string()))?;
    post_json(
        &format!("/api/clusters/{}/retention/preview", segment(cluster)?),
        csrf,
        Some(&body),
    )
    .await
}

/// Confirms the policy in force (the file's, as reviewed) so that its schedule may run.
pub async fn confirm_policy(
    cluster: &str,
    policy: &RetentionPolicy,
    csrf: &str,
) -> Result<RetentionState, ApiError> {
    let body = serde_json::to_string(policy).map_err(|e| ApiError::Decode(e.to_string()))?;
    let path = format!("/api/clusters/{}/retention/confirm", segment(cluster)?);
    send_json::<wire::Retention>(Request::post(&path), csrf, Some(&body))
        .await
        .map(|r| r.0)
}

/// Pins (never deleted while pinned) or unpins a set.
pub async fn set_pin(
    cluster: &str,
    backup_id: u64,
    pinned: bool,
    csrf: &str,
) -> Result<(), ApiError> {
    let path = format!("/api/clusters/{}/pins/{backup_id}", segment(cluster)?);
    let request = if pinned {
        Request::put(&path)
    } else {
        Request::delete(&path)
    };
    send_json::<serde::de::IgnoredAny>(request, csrf, None)
        .await
        .map(|_| ())
}

pub async fn start_cleanup(
    cluster: &str,
    request: &CleanupRequest,
    csrf: &str,
) -> Result<CleanupStarted, ApiError> {
    let body = serde_json::to_string(request).map_err(|e| ApiError::Decode(e.to_string()))?;
    post_json(
        &format!("/api/clusters/{}/cleanups", segment(cluster)?),
        csrf,
        Some(&body),
    )
    .await
}

pub async fn cleanup(id: i64) -> Result<CleanupView, ApiError> {
    get_json(&format!("/api/cleanups/{id}")).await
}

pub async fn retry_cleanup(id: i64, csrf: &str) -> Result<CleanupStarted, ApiError> {
    post_json(&format!("/api/cleanups/{id}/retry"), csrf, None).await
}

/// One row per cluster: the home page's fleet view.
pub async fn fleet() -> Result<backup_domain::fleet::FleetResponse, ApiError> {
    get_json("/api/fleet").await
}

pub async fn schedules(
    cluster: &str,
) -> Result<backup_domain::schedule::SchedulesResponse, ApiError> {
    get_json(&format!("/api/clusters/{}/schedules", segment(cluster)?)).await
}

/// Saves, pauses or enables the schedule of `kind` (`backup`, `cleanup`).
pub async fn save_schedule(
    cluster: &str,
    kind: &str,
    update: &backup_domain::schedule::ScheduleUpdate,
    csrf: &str,
) -> Result<backup_domain::schedule::ScheduleView, ApiError> {
    let body = serde_json::to_string(update).map_err(|e| ApiError::Decode(e.to_string()))?;
    let path = format!(
        "/api/clusters/{}/schedules/{}",
        segment(cluster)?,
        segment(kind)?
    );
    send_json(Request::put(&path), csrf, Some(&body)).await
}

/// Turns maintenance mode on (with its reason) or off; answers the mode now.
pub async fn set_maintenance(
    cluster: &str,
    update: &backup_domain::schedule::MaintenanceUpdate,
    csrf: &str,
) -> Result<Option<backup_domain::schedule::Maintenance>, ApiError> {
    let body = serde_json::to_string(update).map_err(|e| ApiError::Decode(e.to_string()))?;
    let path = format!("/api/clusters/{}/maintenance", segment(cluster)?);
    send_json(Request::put(&path), csrf, Some(&body)).await
}

/// The notification channels with their last delivery.
pub async fn notifications() -> Result<wire::Notifications, ApiError> {
    get_json("/api/notifications").await
}

/// Sends a test message to channel `name` now; answers how it went.
pub async fn send_test(name: &str, csrf: &str) -> Result<wire::Delivery, ApiError> {
    post_json(
        &format!("/api/notifications/{}/test", segment(name)?),
        csrf,
        None,
    )
    .await
}
