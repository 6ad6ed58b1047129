//! `GET /api/fleet`: one row per cluster, for the home page; `GET /api/fleet/{name}`: one
//! cluster's row, for its Overview (the RPO, the next scheduled backup).

use axum::Json;
use axum::extract::State;
use backup_domain::fleet::{FleetResponse, FleetRow};
use futures_util::future::join_all;

use super::extract::ApiPath;
use super::{ApiError, AppState};
use crate::fleet::FleetSources;

fn sources(state: &AppState) -> FleetSources<'_> {
    FleetSources {
        catalog: &state.catalog,
        status: &state.status,
        store: &state.store,
        scheduler: &state.scheduler,
    }
}

pub async fn list(State(state): State<AppState>) -> Json<FleetResponse> {
    let sources = sources(&state);
    let now = state.runs.clock().now_ms();
    let clusters = join_all(state.clusters.all().iter().map(|c| sources.row(c, now))).await;
    Json(FleetResponse { clusters })
}

pub async fn one(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<FleetRow>, ApiError> {
    let cluster = state.cluster(&name)?;
    let now = state.runs.clock().now_ms();
    Ok(Json(sources(&state).row(cluster, now).await))
}
