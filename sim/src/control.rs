//! The simulator's control endpoint: inject faults, choose outcomes, change settings, seed
//! history, and read the state back. Not part of any Camunda API.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backup_domain::upstream_state::ExporterPhase;
use serde::Deserialize;
use serde_json::json;

use super::faults::FaultRule;
use super::respond::{Sim, now_ms};
use super::seed::seed_history;
use super::state::{NotFoundStyle, Outcome, SimComponent, Timings};

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/sim/state", get(state))
        .route("/sim/faults", post(add_fault).delete(clear_faults))
        .route("/sim/outcome", post(set_outcome))
        .route("/sim/settings", post(settings))
        .route("/sim/exporting", post(force_exporting))
        .route("/sim/seed", post(seed))
        .with_state(sim)
}

async fn state(State(sim): State<Sim>) -> Response {
    let s = sim.read();
    Json(json!({
        "profile": s.profile,
        "latest_checkpoint": s.latest_checkpoint,
        "zeebe_backups": s.zeebe_backups.len(),
        "snapshots": s.snapshots.len(),
        "exporting": s.exporter_phase,
        "topology_complete": s.topology_complete,
        "faults": s.faults.rules(),
        "faults_fired": s.faults.fired,
        "list_calls": s.list_calls,
    }))
    .into_response()
}

async fn add_fault(State(sim): State<Sim>, Json(rule): Json<FaultRule>) -> StatusCode {
    sim.write().faults.add(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(sim): State<Sim>) -> StatusCode {
    sim.write().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct OutcomeRequest {
    component: SimComponent,
    outcome: Outcome,
}

/// The next backup of `component` ends this way (a FAILED or PARTIAL backup).
async fn set_outcome(State(sim): State<Sim>, Json(req): Json<OutcomeRequest>) -> StatusCode {
    sim.write().next_outcome.insert(req.component, req.outcome);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    topology_complete: Option<bool>,
    zeebe_store_configured: Option<bool>,
    /// `""` removes the repository (a missing repository).
    repository: Option<String>,
    not_found_style: Option<NotFoundStyle>,
    stuck_queue: Option<Vec<SimComponent>>,
    timings: Option<Timings>,
    /// Replaces the timings with [`Timings::realistic`] at this scale.
    realistic_scale: Option<f64>,
}

async fn settings(State(sim): State<Sim>, Json(req): Json<Settings>) -> StatusCode {
    let mut s = sim.write();
    if let Some(v) = req.topology_complete {
        s.topology_complete = v;
    }
    if let Some(v) = req.zeebe_store_configured {
        s.zeebe_store_configured = v;
    }
    if let Some(v) = req.repository {
        s.repository = (!v.is_empty()).then_some(v);
    }
    if let Some(v) = req.not_found_style {
        s.not_found_style = v;
    }
    if let Some(v) = req.stuck_queue {
        s.stuck_queue = v;
    }
    if let Some(v) = req.timings {
        s.timings = v;
    }
    if let Some(scale) = req.realistic_scale {
        s.timings = Timings::realistic(scale);
    }
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ExportingRequest {
    phase: ExporterPhase,
}

/// Sets every partition's exporter phase directly, e.g. to leave exporting soft-paused.
async fn force_exporting(State(sim): State<Sim>, Json(req): Json<ExportingRequest>) -> StatusCode {
    let mut s = sim.write();
    s.exporter_phase.iter_mut().for_each(|p| *p = req.phase);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SeedRequest {
    count: usize,
    #[serde(default = "default_seed")]
    seed: u64,
}

fn default_seed() -> u64 {
    7
}

async fn seed(State(sim): State<Sim>, Json(req): Json<SeedRequest>) -> Response {
    let mut s = sim.write();
    let kinds = seed_history(&mut s, req.count, now_ms(), req.seed);
    Json(json!({ "seeded": req.count, "kinds": kinds })).into_response()
}
