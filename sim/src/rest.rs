//! The 8.10 Orchestration Cluster REST API (`:8080/v2`; the spec is `backups.yaml` and
//! `exporting.yaml` under
//! https://github.com/camunda/camunda/tree/main/zeebe/gateway-protocol/src/main/proto/v2): runtime and
//! history backups and exporting over the same state as the management port's actuators, with
//! the REST shapes (202 `{backupId}`, a real 204 for exporting, `application/problem+json`
//! errors), HTTP Basic or bearer credentials and a permission set per user.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backup_domain::upstream_state::{
    ArtifactState, ExporterPhase, SnapshotState, ZeebeState, webapps_aggregate,
    webapps_failure_reason, zeebe_aggregate, zeebe_failure_reason,
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::{FaultAction, Operation};
use super::respond::{Sim, backup_id_from_body, now_ms, raw_response, webapps_time, zeebe_time};
use super::state::{SimComponent, SimState, ZeebeBackup};

/// Every permission the console needs; a user starts with all of them.
pub const PERMISSIONS: [&str; 4] = [
    "BACKUP:CREATE",
    "BACKUP:READ",
    "BACKUP:DELETE",
    "EXPORTER:PAUSE",
];

/// The REST listener's users, its token checks and what it saw, shared with its control routes.
#[derive(Clone, Default)]
pub struct RestSim {
    inner: Arc<Mutex<RestState>>,
}

#[derive(Default)]
struct RestState {
    /// name -> (password, permissions)
    users: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Bearer tokens: the verifier, when a JWKS URL is configured.
    jwt: Option<super::jwt::Verifier>,
    /// Permissions of a bearer token's client (its `sub` or `client_id`), all when absent.
    client_permissions: BTreeMap<String, BTreeSet<String>>,
    /// Valid tokens still to be refused with 401, for the console's refresh-and-retry.
    reject_next_tokens: u32,
    /// Requests answered 401, and bearer requests seen.
    unauthorized: u64,
    bearer_requests: u64,
    /// Authorization headers received on the management port (it is unauthenticated).
    management_authorization: u64,
}

impl RestSim {
    fn lock(&self) -> std::sync::MutexGuard<'_, RestState> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn new(username: &str, password: &str, jwks_url: Option<String>) -> RestSim {
        let rest = RestSim::default();
        {
            let mut s = rest.lock();
            s.users.insert(
                username.to_string(),
                (
                    password.to_string(),
                    PERMISSIONS.iter().map(|p| p.to_string()).collect(),
                ),
            );
            s.jwt = jwks_url.map(super::jwt::Verifier::new);
        }
        rest
    }

    /// Counts an Authorization header that reached the management port.
    pub fn saw_management_authorization(&self) {
        self.lock().management_authorization += 1;
    }
}

#[derive(Clone)]
struct Rest {
    sim: Sim,
    auth: RestSim,
}

/// The routes under `/v2`, each behind the credential check.
pub fn router(sim: Sim, auth: RestSim) -> Router {
    let rest = Rest { sim, auth };
    Router::new()
        .route("/v2/backups/runtime", post(take_runtime).get(list_runtime))
        .route(
            "/v2/backups/runtime/{id}",
            get(get_runtime).delete(delete_runtime),
        )
        .route("/v2/backups/history", post(take_history).get(list_history))
        .route(
            "/v2/backups/history/{id}",
            get(get_history).delete(delete_history),
        )
        .route("/v2/exporting/{operation}", post(exporting))
        .route("/v2/status", get(status))
        .with_state(rest)
}

/// A layer for the management port's routers: counts every Authorization header it receives.
pub async fn watch_management(
    State(auth): State<RestSim>,
    request: Request,
    next: Next,
) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        auth.saw_management_authorization();
    }
    next.run(request).await
}

/// `/sim/rest/...`: permissions, token rejection and what the REST and management ports saw.
pub fn control_router(auth: RestSim) -> Router {
    Router::new()
        .route("/sim/rest/state", get(control_state))
        .route("/sim/rest/permissions", post(set_permissions))
        .route("/sim/rest/reject_tokens", post(reject_tokens))
        .with_state(auth)
}

async fn control_state(State(auth): State<RestSim>) -> Response {
    let s = auth.lock();
    let users: BTreeMap<&String, &BTreeSet<String>> = s
        .users
        .iter()
        .map(|(name, (_, perms))| (name, perms))
        .collect();
    axum::Json(json!({
        "users": users,
        "clients": s.client_permissions,
        "reject_next_tokens": s.reject_next_tokens,
        "unauthorized": s.unauthorized,
        "bearer_requests": s.bearer_requests,
        "management_authorization": s.management_authorization,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionChange {
    /// A Basic user's name, or a bearer token's client (`sub`).
    user: String,
    #[serde(default)]
    grant: Vec<String>,
    #[serde(default)]
    revoke: Vec<String>,
}

async fn set_permissions(
    State(auth): State<RestSim>,
    axum::Json(change): axum::Json<PermissionChange>,
) -> StatusCode {
    let mut s = auth.lock();
    let perms = match s.users.get_mut(&change.user) {
        Some((_, perms)) => perms,
        None => s
            .client_permissions
            .entry(change.user.clone())
            .or_insert_with(|| PERMISSIONS.iter().map(|p| p.to_string()).collect()),
    };
    perms.extend(change.grant);
    for p in change.revoke {
        perms.remove(&p);
    }
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectTokens {
    count: u32,
}

async fn reject_tokens(
    State(auth): State<RestSim>,
    axum::Json(req): axum::Json<RejectTokens>,
) -> StatusCode {
    auth.lock().reject_next_tokens = req.count;
    StatusCode::NO_CONTENT
}

/// `application/problem+json`, as every /v2 error is.
fn problem(status: StatusCode, title: &str, detail: &str, instance: &str) -> Response {
    raw_response(
        status,
        "application/problem+json",
        json!({
            "type": "about:blank",
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
            "instance": instance,
        })
        .to_string(),
    )
}

/// An injected fault (`/sim/faults`, the same rules as the actuators') in the REST API's shapes:
/// a status as problem+json (503 titled `RESOURCE_EXHAUSTED`, as the gateway does), a hang, a
/// dropped connection or a malformed body.
async fn rest_fault(
    rest: &Rest,
    component: SimComponent,
    operation: Operation,
    instance: &str,
) -> Option<Response> {
    let (action, hang_ms) = {
        let mut s = rest.sim.write();
        (s.faults.take(component, operation)?, s.timings.hang_ms)
    };
    Some(match action {
        FaultAction::Status { status, message } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let title = match status {
                503 => "RESOURCE_EXHAUSTED",
                504 => "DEADLINE_EXCEEDED",
                409 => "CONFLICT",
                _ => code.canonical_reason().unwrap_or("Error"),
            };
            let detail = message.unwrap_or_else(|| format!("Simulated failure (HTTP {status})"));
            problem(code, title, &detail, instance)
        }
        FaultAction::Hang => {
            tokio::time::sleep(std::time::Duration::from_millis(hang_ms.max(0) as u64)).await;
            problem(
                StatusCode::GATEWAY_TIMEOUT,
                "DEADLINE_EXCEEDED",
                "hung",
                instance,
            )
        }
        FaultAction::Drop => {
            let stream = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated connection drop",
                ))
            });
            raw_response(
                StatusCode::OK,
                "application/json",
                axum::body::Body::from_stream(stream),
            )
        }
        FaultAction::Malformed => raw_response(
            StatusCode::OK,
            "application/json",
            "{\"backupId\": 1, \"state\": ",
        ),
    })
}

fn ok_json(status: StatusCode, body: &Value) -> Response {
    raw_response(status, "application/json", body.to_string())
}

/// Who is calling: checks the credentials, then that they hold `permission`.
async fn authorize(
    rest: &Rest,
    headers: &HeaderMap,
    permission: &str,
    instance: &str,
) -> Result<(), Response> {
    let unauthorized =
        |detail: &str| problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail, instance);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let permissions: BTreeSet<String> = if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let mut s = rest.auth.lock();
        match s.users.get(user) {
            Some((expected, perms)) if expected == password => perms.clone(),
            _ => {
                s.unauthorized += 1;
                return Err(unauthorized("Invalid username or password"));
            }
        }
    } else if let Some(token) = value.strip_prefix("Bearer ") {
        let verifier = {
            let mut s = rest.auth.lock();
            s.bearer_requests += 1;
            s.jwt.clone()
        };
        let Some(verifier) = verifier else {
            rest.auth.lock().unauthorized += 1;
            return Err(unauthorized("Bearer tokens are not accepted here"));
        };
        let subject = match verifier.verify(token.trim(), now_ms() / 1000).await {
            Ok(subject) => subject,
            Err(reason) => {
                rest.auth.lock().unauthorized += 1;
                return Err(unauthorized(&reason));
            }
        };
        let mut s = rest.auth.lock();
        if s.reject_next_tokens > 0 {
            s.reject_next_tokens -= 1;
            s.unauthorized += 1;
            return Err(unauthorized("The token is no longer valid"));
        }
        s.client_permissions
            .get(&subject)
            .cloned()
            .unwrap_or_else(|| PERMISSIONS.iter().map(|p| p.to_string()).collect())
    } else {
        rest.auth.lock().unauthorized += 1;
        return Err(unauthorized("Authentication is required"));
    };
    if permissions.contains(permission) {
        Ok(())
    } else {
        let (resource, action) = permission.split_once(':').unwrap_or((permission, ""));
        Err(problem(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &format!(
                "Insufficient permissions to perform operation '{action}' on resource '{resource}'"
            ),
            instance,
        ))
    }
}

/// `BackupInfo` of the REST API: every field present, nulls where nothing is known (`backups.yaml`).
fn backup_info(b: &ZeebeBackup, now: i64) -> Value {
    let states: Vec<ZeebeState> = b.partitions.iter().map(|p| p.state(now)).collect();
    let aggregate = zeebe_aggregate(&states);
    let details: Vec<Value> = b
        .partitions
        .iter()
        .zip(&states)
        .map(|(p, state)| {
            let known = *state != ZeebeState::DoesNotExist;
            json!({
                "partitionId": p.partition_id,
                "state": state,
                "failureReason": if *state == ZeebeState::Failed { json!(p.failure) } else { Value::Null },
                "createdAt": if known { json!(zeebe_time(p.registered_ms)) } else { Value::Null },
                "lastUpdatedAt": if known { json!(zeebe_time(now.min(p.done_ms))) } else { Value::Null },
                "snapshotId": if known { json!(p.snapshot_id) } else { Value::Null },
                "firstLogPosition": if known { json!(1) } else { Value::Null },
                "checkpointPosition": if known { json!(p.checkpoint_position) } else { Value::Null },
                "brokerId": if known { json!(p.broker_id) } else { Value::Null },
                "brokerVersion": if known { json!(b.broker_version) } else { Value::Null },
            })
        })
        .collect();
    let failure = (aggregate == ZeebeState::Failed).then(|| {
        zeebe_failure_reason(
            b.partitions
                .iter()
                .zip(&states)
                .filter(|(_, s)| **s == ZeebeState::Failed)
                .map(|(p, _)| (p.partition_id, p.failure.as_deref())),
        )
    });
    json!({
        "backupId": b.backup_id,
        "state": aggregate,
        "failureReason": failure,
        "details": details,
    })
}

fn visible(b: &ZeebeBackup, now: i64) -> bool {
    b.partitions
        .iter()
        .any(|p| p.state(now) != ZeebeState::DoesNotExist)
}

fn parse_id(text: &str, instance: &str) -> Result<u64, Box<Response>> {
    match text.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            &format!("The backupId must be a positive integer, but was '{text}'"),
            instance,
        ))),
    }
}

/// `POST /v2/backups/runtime`: 202 `{backupId}`; the ID is generated when the body has none.
async fn take_runtime(State(rest): State<Rest>, headers: HeaderMap, body: Bytes) -> Response {
    let at = "/v2/backups/runtime";
    if let Err(denied) = authorize(&rest, &headers, "BACKUP:CREATE", at).await {
        return denied;
    }
    if let Some(fault) = rest_fault(&rest, SimComponent::Zeebe, Operation::Take, at).await {
        return fault;
    }
    let Ok(requested) = backup_id_from_body(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "The request body could not be read",
            at,
        );
    };
    let checkpoint_ms = rest.sim.read().timings.zeebe_checkpoint_ms;
    tokio::time::sleep(std::time::Duration::from_millis(checkpoint_ms.max(0) as u64)).await;
    let mut s = rest.sim.write();
    if !s.zeebe_store_configured {
        return problem(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "No backup store is configured",
            at,
        );
    }
    let id = match requested {
        Some(id) if id <= 0 => {
            return problem(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "The backupId must be at least 1",
                at,
            );
        }
        Some(id) => id as u64,
        // Generated IDs are epoch milliseconds (`CheckpointIdGenerator`, camunda/camunda#40437).
        None => (now_ms() as u64).max(s.latest_checkpoint + 1),
    };
    if id <= s.latest_checkpoint {
        let detail = format!(
            // The broker's own wording (BackupAlreadyExistException), as the gateway passes it on.
            "Requested backup has ID {id}. The latest backup has ID {}. The backup ID must be greater than the ID of previous backups that are completed, failed, or deleted.",
            s.latest_checkpoint
        );
        return problem(StatusCode::CONFLICT, "CONFLICT", &detail, at);
    }
    let outcome = s.take_outcome(SimComponent::Zeebe);
    s.add_zeebe_backup(id, now_ms(), outcome);
    ok_json(StatusCode::ACCEPTED, &json!({ "backupId": id }))
}

#[derive(Deserialize)]
struct ListQuery {
    prefix: Option<String>,
    verbose: Option<bool>,
}

fn prefix_of(q: &ListQuery, at: &str) -> Result<Option<String>, Box<Response>> {
    match &q.prefix {
        None => Ok(None),
        Some(p) => match p.strip_suffix('*') {
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Some(digits.to_string()))
            }
            _ => Err(Box::new(problem(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &format!("The prefix must be digits followed by '*', but was '{p}'"),
                at,
            ))),
        },
    }
}

/// What every listing does before it lists: permission, faults, the prefix, the call counted and
/// the component's listing latency. `Err` is the answer to give instead.
async fn listing(
    rest: &Rest,
    headers: &HeaderMap,
    q: &ListQuery,
    component: SimComponent,
    at: &str,
) -> Result<Option<String>, Box<Response>> {
    authorize(rest, headers, "BACKUP:READ", at)
        .await
        .map_err(Box::new)?;
    if let Some(fault) = rest_fault(rest, component, Operation::List, at).await {
        return Err(Box::new(fault));
    }
    let prefix = prefix_of(q, at)?;
    let latency = {
        let mut s = rest.sim.write();
        *s.list_calls.entry(component).or_default() += 1;
        match component {
            SimComponent::Webapps => s.timings.webapps_list_ms,
            _ => s.timings.zeebe_list_ms,
        }
    };
    super::respond::list_latency(latency).await;
    Ok(prefix)
}

/// `GET /v2/backups/runtime[?prefix=]`: descending by ID.
async fn list_runtime(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let prefix = match listing(
        &rest,
        &headers,
        &q,
        SimComponent::Zeebe,
        "/v2/backups/runtime",
    )
    .await
    {
        Ok(prefix) => prefix,
        Err(answer) => return *answer,
    };
    let now = now_ms();
    let s = rest.sim.read();
    let body: Vec<Value> = s
        .zeebe_backups
        .values()
        .rev()
        .filter(|b| visible(b, now))
        .filter(|b| {
            prefix
                .as_deref()
                .is_none_or(|p| b.backup_id.to_string().starts_with(p))
        })
        .map(|b| backup_info(b, now))
        .collect();
    ok_json(StatusCode::OK, &Value::Array(body))
}

async fn get_runtime(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let at = format!("/v2/backups/runtime/{id}");
    if let Err(denied) = authorize(&rest, &headers, "BACKUP:READ", &at).await {
        return denied;
    }
    if let Some(fault) = rest_fault(&rest, SimComponent::Zeebe, Operation::Get, &at).await {
        return fault;
    }
    let id = match parse_id(&id, &at) {
        Ok(id) => id,
        Err(e) => return *e,
    };
    let now = now_ms();
    let s = rest.sim.read();
    match s.zeebe_backups.get(&id).filter(|b| visible(b, now)) {
        Some(b) => ok_json(StatusCode::OK, &backup_info(b, now)),
        None => problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No backup with ID {id} exists"),
            &at,
        ),
    }
}

/// `DELETE /v2/backups/runtime/{id}`: 204; the ID stays spent.
async fn delete_runtime(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let at = format!("/v2/backups/runtime/{id}");
    if let Err(denied) = authorize(&rest, &headers, "BACKUP:DELETE", &at).await {
        return denied;
    }
    if let Some(fault) = rest_fault(&rest, SimComponent::Zeebe, Operation::Delete, &at).await {
        return fault;
    }
    let id = match parse_id(&id, &at) {
        Ok(id) => id,
        Err(e) => return *e,
    };
    rest.sim.write().zeebe_backups.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}

/// `HistoryBackupInfo`: the web-apps backup of one ID, verbose or not.
fn history_info(s: &SimState, id: u64, now: i64, verbose: bool) -> Option<(i64, Value)> {
    let prefix = format!("{}{id}_", SimComponent::Webapps.snapshot_prefix());
    let parts: Vec<_> = s.snapshots_with_prefix(&prefix, now).collect();
    if parts.is_empty() {
        return None;
    }
    let states: Vec<SnapshotState> = parts.iter().map(|p| p.state(now)).collect();
    let named: Vec<(&str, SnapshotState)> = parts
        .iter()
        .zip(&states)
        .map(|(p, st)| (p.name.as_str(), *st))
        .collect();
    let expected = parts
        .first()
        .and_then(|p| p.meta)
        .map_or(0, |m| m.part_count as usize);
    let last_end = parts.iter().map(|p| p.end_ms()).max().unwrap_or(now);
    let elapsed = now - last_end >= s.timings.incomplete_check_timeout_ms;
    let state = if verbose {
        webapps_aggregate(&states, expected, elapsed)
    } else {
        // "state … incomplete" without verbose: the parts are not looked at.
        ArtifactState::InProgress
    };
    let reason = webapps_failure_reason(&named, expected, state);
    let details: Vec<Value> = parts
        .iter()
        .zip(&states)
        .map(|(p, st)| {
            json!({
                "snapshotName": p.name,
                "state": st,
                "startTime": webapps_time(p.start_ms),
                "failures": p.failures,
            })
        })
        .collect();
    let start = parts.iter().map(|p| p.start_ms).max().unwrap_or(0);
    Some((
        start,
        json!({ "backupId": id, "state": state, "failureReason": reason, "details": details }),
    ))
}

/// `POST /v2/backups/history` with `{backupId}` (always required): 202.
async fn take_history(State(rest): State<Rest>, headers: HeaderMap, body: Bytes) -> Response {
    let at = "/v2/backups/history";
    if let Err(denied) = authorize(&rest, &headers, "BACKUP:CREATE", at).await {
        return denied;
    }
    if let Some(fault) = rest_fault(&rest, SimComponent::Webapps, Operation::Take, at).await {
        return fault;
    }
    let id = match backup_id_from_body(&body) {
        Ok(Some(id)) if id > 0 => id as u64,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "A backupId of at least 1 is required: history backups have no generated-id mode",
                at,
            );
        }
    };
    let now = now_ms();
    let mut s = rest.sim.write();
    let prefix = format!("{}{id}_", SimComponent::Webapps.snapshot_prefix());
    if s.snapshots_with_prefix(&prefix, now).next().is_some()
        || s.webapps_busy(SimComponent::Webapps, now)
    {
        return problem(
            StatusCode::CONFLICT,
            "CONFLICT",
            &format!(
                "A history backup with ID {id} already exists or another backup is already running"
            ),
            at,
        );
    }
    let outcome = s.take_outcome(SimComponent::Webapps);
    let names = s.add_parts(SimComponent::Webapps, id, now, outcome);
    ok_json(
        StatusCode::ACCEPTED,
        &json!({ "backupId": id, "scheduledSnapshots": names }),
    )
}

/// `GET /v2/backups/history[?prefix=&verbose=]`: most recent first by start time.
async fn list_history(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let prefix = match listing(
        &rest,
        &headers,
        &q,
        SimComponent::Webapps,
        "/v2/backups/history",
    )
    .await
    {
        Ok(prefix) => prefix,
        Err(answer) => return *answer,
    };
    let now = now_ms();
    let s = rest.sim.read();
    let ids: BTreeSet<u64> = s
        .snapshots_with_prefix(SimComponent::Webapps.snapshot_prefix(), now)
        .filter_map(|snap| snap.meta.map(|m| m.backup_id))
        .filter(|id| {
            prefix
                .as_deref()
                .is_none_or(|p| id.to_string().starts_with(p))
        })
        .collect();
    let verbose = q.verbose.unwrap_or(false);
    let mut entries: Vec<(i64, Value)> = ids
        .into_iter()
        .filter_map(|id| history_info(&s, id, now, verbose))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    ok_json(
        StatusCode::OK,
        &Value::Array(entries.into_iter().map(|(_, v)| v).collect()),
    )
}

async fn get_history(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let at = format!("/v2/backups/history/{id}");
    if let Err(denied) = authorize(&rest, &headers, "BACKUP:READ", &at).await {
        return denied;
    }
    if let Some(fault) = rest_fault(&rest, SimComponent::Webapps, Operation::Get, &at).await {
        return fault;
    }
    let id = match parse_id(&id, &at) {
        Ok(id) => id,
        Err(e) => return *e,
    };
    let s = rest.sim.read();
    match history_info(&s, id, now_ms(), true) {
        Some((_, body)) => ok_json(StatusCode::OK, &body),
        None => problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No history backup with ID {id} exists"),
            &at,
        ),
    }
}

/// `DELETE /v2/backups/history/{id}`: 204, or 404 for an unknown ID; the parts go after it.
async fn delete_history(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let at = format!("/v2/backups/history/{id}");
    if let Err(denied) = authorize(&rest, &headers, "BACKUP:DELETE", &at).await {
        return denied;
    }
    if let Some(fault) = rest_fault(&rest, SimComponent::Webapps, Operation::Delete, &at).await {
        return fault;
    }
    let id = match parse_id(&id, &at) {
        Ok(id) => id,
        Err(e) => return *e,
    };
    let now = now_ms();
    let mut s = rest.sim.write();
    let prefix = format!("{}{id}_", SimComponent::Webapps.snapshot_prefix());
    let names: Vec<String> = s
        .snapshots_with_prefix(&prefix, now)
        .map(|p| p.name.clone())
        .collect();
    if names.is_empty() {
        return problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No history backup with ID {id} exists"),
            &at,
        );
    }
    let due = now + s.timings.async_delete_ms;
    for name in names {
        if let Some(snap) = s.snapshots.get_mut(&name) {
            snap.deleting_at_ms = Some(due);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /v2/exporting/{pause|resume}[?soft=true]`: a real 204.
async fn exporting(
    State(rest): State<Rest>,
    headers: HeaderMap,
    Path(operation): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let at = format!("/v2/exporting/{operation}");
    if let Err(denied) = authorize(&rest, &headers, "EXPORTER:PAUSE", &at).await {
        return denied;
    }
    let soft = query.get("soft").is_some_and(|v| v == "true");
    let op = if operation == "resume" {
        Operation::Resume
    } else {
        Operation::Pause
    };
    if let Some(fault) = rest_fault(&rest, SimComponent::Exporting, op, &at).await {
        return fault;
    }
    let phase = match (operation.as_str(), soft) {
        ("pause", true) => ExporterPhase::SoftPaused,
        ("pause", false) => ExporterPhase::Paused,
        ("resume", _) => ExporterPhase::Exporting,
        _ => {
            return problem(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                &format!("No operation '{operation}'"),
                &at,
            );
        }
    };
    let mut s = rest.sim.write();
    if !s.topology_complete {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "Not every partition has a leader",
            &at,
        );
    }
    s.exporter_phase.iter_mut().for_each(|p| *p = phase);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /v2/status`: 204 while the cluster is healthy (unauthenticated, as the real one).
async fn status(State(rest): State<Rest>) -> Response {
    if rest.sim.read().topology_complete {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}
