//! `GET /api/fleet`: one row per cluster, for the home page.

use axum::Json;
use axum::extract::State;
use backup_domain::fleet::FleetResponse;
use futures_util::future::join_all;

use super::AppState;
use crate::fleet::FleetSources;

pub async fn list(State(state): State<AppState>) -> Json<FleetResponse> {
    let sources = FleetSources {
        catalog: &state.catalog,
        status: &state.status,
        store: &state.store,
        scheduler: &state.scheduler,
    };
    let now = state.runs.clock().now_ms();
    let clusters = join_all(state.clusters.all().iter().map(|c| sources.row(c, now))).await;
    Json(FleetResponse { clusters })
}
