//! Schedules and maintenance mode of a cluster (viewer to read, admin to change).

use axum::extract::State;
use axum::{Extension, Json};
use backup_domain::schedule::{
    Maintenance, MaintenanceUpdate, ScheduleKind, ScheduleUpdate, ScheduleView, SchedulesResponse,
};

use super::extract::{ApiPath, Body};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::scheduler::ScheduleError;

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::BadRequest(m) => ApiError::BadRequest(m),
            ScheduleError::Store(s) => ApiError::Store(s),
        }
    }
}

/// `GET /api/clusters/{name}/schedules`: the backup and cleanup schedules with their last and
/// next due times, and the recent due times with what they came to.
pub async fn list(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<SchedulesResponse>, ApiError> {
    let cluster = state.cluster(&name)?;
    Ok(Json(state.scheduler.schedules(cluster).await?))
}

/// `PUT /api/clusters/{name}/schedules/{kind}`: save, pause or enable a schedule.
pub async fn update(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((name, kind)): ApiPath<(String, String)>,
    Body(update): Body<ScheduleUpdate>,
) -> Result<Json<ScheduleView>, ApiError> {
    let cluster = state.cluster(&name)?;
    let kind: ScheduleKind =
        kind.parse()
            .map_err(|e: backup_domain::string_enum::UnknownName| {
                ApiError::BadRequest(e.to_string())
            })?;
    Ok(Json(
        state
            .scheduler
            .update(cluster, kind, update, &p.user, &p.client)
            .await?,
    ))
}

/// `PUT /api/clusters/{name}/maintenance`: turn maintenance mode on (with a reason) or off. The
/// answer is the mode now (`null` when off).
pub async fn maintenance(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    Body(update): Body<MaintenanceUpdate>,
) -> Result<Json<Option<Maintenance>>, ApiError> {
    let cluster = state.cluster(&name)?;
    let mode = crate::maintenance::set(
        &state.store,
        state.runs.clock(),
        &cluster.name,
        update,
        &p.user,
        &p.client,
    )
    .await?;
    Ok(Json(mode))
}
