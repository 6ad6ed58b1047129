//! Retention: the policy and pins of a cluster, the server's plan, and cleanups (admin to change
//! or delete, viewer to read).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use backup_domain::retention::{
    CleanupRequest, CleanupStarted, CleanupView, MAX_PREVIEW_PAGE, PreviewRequest, RetentionPlan,
    RetentionPolicy, RetentionPreview, RetentionState,
};

use backup_domain::id::BackupId;

use super::extract::{ApiPath, Body, NoBody, OptionalBody};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::retention::CleanupError;

impl From<CleanupError> for ApiError {
    fn from(e: CleanupError) -> Self {
        match e {
            CleanupError::BadRequest(m) => ApiError::BadRequest(m),
            CleanupError::PlanChanged(d) => ApiError::PlanChanged(d),
            CleanupError::Refused(r) => ApiError::SelectionRefused(r),
            CleanupError::NotFound(id) => ApiError::CleanupNotFound(id),
            CleanupError::Unattended(m) => ApiError::CleanupRefused(m),
            CleanupError::Conflict(m) => ApiError::Conflict(m),
            CleanupError::Maintenance(m) => ApiError::Maintenance(m),
            e @ CleanupError::Unacknowledged(_) => ApiError::CleanupWarning(e.to_string()),
            CleanupError::Store(s) => ApiError::Store(s),
        }
    }
}

/// `GET /api/clusters/{name}/retention`: policy, its source, pins, the running backup, the last
/// cleanup and the next scheduled one.
pub async fn state(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<RetentionState>, ApiError> {
    let cluster = state.cluster(&name)?;
    Ok(Json(state.retention.state(cluster).await?))
}

/// `PUT /api/clusters/{name}/retention`: saves the policy (it overrides the file's).
pub async fn save_policy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    Body(policy): Body<RetentionPolicy>,
) -> Result<Json<RetentionState>, ApiError> {
    let cluster = state.cluster(&name)?;
    state
        .retention
        .save_policy(cluster, policy, &p.user, &p.client)
        .await?;
    Ok(Json(state.retention.state(cluster).await?))
}

/// `POST /api/clusters/{name}/retention/confirm`: the admin reviewed the policy in force (sent
/// back as the body) and lets its schedule run from this database.
pub async fn confirm_policy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    Body(policy): Body<RetentionPolicy>,
) -> Result<Json<RetentionState>, ApiError> {
    let cluster = state.cluster(&name)?;
    state
        .retention
        .confirm_policy(cluster, policy, &p.user, &p.client)
        .await?;
    Ok(Json(state.retention.state(cluster).await?))
}

/// `GET /api/clusters/{name}/cleanup-plan`: the plan of the policy in force, on fresh data.
pub async fn plan(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<RetentionPlan>, ApiError> {
    let cluster = state.cluster(&name)?;
    Ok(Json(state.retention.fresh_plan(cluster).await?.0))
}

static PREVIEWS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `POST /api/clusters/{name}/retention/preview`: what a draft policy (or the one in force) would
/// do, planned on the catalog with the same planner the cleanup uses: the whole plan's figures and
/// one page of its decisions. The cleanup plans again on fresh listings before it deletes.
pub async fn preview(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    OptionalBody(request): OptionalBody<PreviewRequest>,
) -> Result<Json<RetentionPreview>, ApiError> {
    let cluster = state.cluster(&name)?;
    let request = request.unwrap_or_default();
    let per_page = request.per_page.unwrap_or(50);
    if !(1..=MAX_PREVIEW_PAGE).contains(&per_page) {
        return Err(ApiError::BadRequest(format!(
            "per_page is 1 to {MAX_PREVIEW_PAGE}, not {per_page}"
        )));
    }
    if request.page == Some(0) {
        return Err(ApiError::BadRequest("page counts from 1".into()));
    }
    if let Some(draft) = &request.policy {
        draft
            .validate()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    // One preview plans at a time: each holds every set of the catalog (some 275 MB at 100,000
    // sets), and any viewer may ask.
    let _one = PREVIEWS
        .acquire()
        .await
        .map_err(|e| ApiError::Store(crate::store::StoreError::Task(e.to_string())))?;
    let (sets, freshness, unknown) = state.catalog.all_sets(cluster).await?;
    // Read after the sets, which may wait for a refresh: the pins and the running backup now.
    let retention = state.retention.state(cluster).await?;
    let now = state.runs.clock().now_ms();
    // Planning 100,000 sets is CPU work: off the async threads, and what it held goes back to
    // the system once the answer is made.
    let preview = tokio::task::spawn_blocking(move || {
        let (policy, plan) = match request.policy {
            Some(draft) => {
                let plan =
                    backup_domain::retention::plan(&sets, &draft, &retention.protections(), now);
                (draft, plan)
            }
            None => (retention.policy.clone(), retention.plan(&sets, now)),
        };
        let preview = RetentionPreview::of(
            name,
            policy,
            &sets,
            &plan,
            request.show.unwrap_or_default(),
            request.page.unwrap_or(1),
            per_page,
            unknown,
            freshness,
        );
        drop((sets, plan));
        crate::memory::release_freed();
        preview
    })
    .await
    .map_err(|e| ApiError::Store(crate::store::StoreError::Task(e.to_string())))?;
    Ok(Json(preview))
}

async fn set_pin(
    state: AppState,
    p: Principal,
    name: String,
    id: String,
    pinned: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let cluster = state.cluster(&name)?;
    // 0 or above i64::MAX was once stored as a pin no backup can have (review P4): no new one is
    // made, but one an older version stored can still be removed (digits only, as for a pin).
    let backup_id = match id.parse::<BackupId>() {
        Ok(id) => id.get(),
        // 0 or above i64::MAX was once stored as a pin no backup can have (review P4): no new one
        // is made, but one an older version stored can still be removed (digits only).
        Err(_) if !pinned && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => id
            .parse::<u64>()
            .map_err(|e| ApiError::BadRequest(format!("`{id}` is not a backup ID: {e}")))?,
        Err(e) => return Err(ApiError::BadRequest(e.to_string())),
    };
    let changed = state
        .retention
        .set_pin(cluster, backup_id, pinned, &p.user, &p.client)
        .await?;
    Ok(Json(
        serde_json::json!({ "backup_id": backup_id, "pinned": pinned, "changed": changed }),
    ))
}

/// `PUT /api/clusters/{name}/pins/{id}`: the set is never deleted while pinned.
pub async fn pin(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((name, id)): ApiPath<(String, String)>,
    _: NoBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_pin(state, p, name, id, true).await
}

/// `DELETE /api/clusters/{name}/pins/{id}`.
pub async fn unpin(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((name, id)): ApiPath<(String, String)>,
    _: NoBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    set_pin(state, p, name, id, false).await
}

/// `POST /api/clusters/{name}/cleanups`: 202, or 409 `plan_changed` with the difference, or 409
/// `selection_refused` with why.
pub async fn start(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    Body(request): Body<CleanupRequest>,
) -> Result<(StatusCode, Json<CleanupStarted>), ApiError> {
    let cluster = state.cluster(&name)?;
    let started = state
        .retention
        .start(cluster, request, &p.user, &p.client)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// `GET /api/cleanups/{id}`: per-artifact results, live while it runs.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CleanupView>, ApiError> {
    Ok(Json(state.retention.get(id).await?))
}

/// `POST /api/cleanups/{id}/retry`: a new cleanup of what that one could not delete.
pub async fn retry(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    _: NoBody,
) -> Result<(StatusCode, Json<CleanupStarted>), ApiError> {
    let (started, _) = state.retention.retry(id, &p.user, &p.client).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}
