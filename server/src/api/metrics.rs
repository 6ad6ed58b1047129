//! `/metrics`, served on a listener of its own: Prometheus scrapes it without a session, so it is
//! never served beside the API. A scrape reads the stored catalogs, the status pollers' latest
//! rounds and the database; it never calls a cluster.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::catalog::CatalogService;
use crate::cluster::Clusters;
use crate::metrics::{CONTENT_TYPE, ClusterFigures, Metrics};
use crate::status::StatusService;
use crate::store::Store;

/// What `/metrics` reads.
#[derive(Clone)]
pub struct MetricsState {
    pub metrics: Arc<Metrics>,
    pub clusters: Arc<Clusters>,
    pub catalog: Arc<CatalogService>,
    pub status: Arc<StatusService>,
    pub store: Store,
}

pub fn metrics_router(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>) -> impl IntoResponse {
    let mut clusters = Vec::new();
    for c in state.clusters.all() {
        let last_success_ms = match state.store.last_completed_run_end(c.name.clone()).await {
            Ok(ended) => ended,
            Err(error) => {
                tracing::error!(cluster = %c.name, %error, "could not read the last run");
                None
            }
        };
        clusters.push(ClusterFigures {
            name: c.name.clone(),
            rpo_hours: c.rpo_hours,
            catalog: state.catalog.stored_figures(&c.name).await,
            status: state.status.latest(&c.name),
            last_success_ms,
            maintenance: crate::maintenance::current(&state.store, &c.name)
                .await
                .is_some(),
            last_run_failed: state
                .store
                .last_ended_run_state(c.name.clone())
                .await
                .ok()
                .flatten()
                .map(|s| s != backup_domain::run::RunState::Completed),
            last_cleanup_failed: state
                .store
                .last_ended_cleanup_state(c.name.clone())
                .await
                .ok()
                .flatten()
                .map(|s| s != "completed"),
        });
    }
    let body = state.metrics.scrape(&clusters).await;
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], body)
}
