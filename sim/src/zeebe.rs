//! The Zeebe gateway's management endpoints (contract §3, §4): `/actuator/backups` (8.7) or
//! `/actuator/backupRuntime` (8.8+), exporting, partitions, rebalance and health.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use backup_domain::api::VersionProfile;
use backup_domain::upstream_state::{
    ExporterPhase, ZeebeState, zeebe_aggregate, zeebe_failure_reason,
};
use serde_json::{Value, json};

use super::faults::Operation;
use super::respond::{
    Sim, Style, backup_id_from_body, error_response, exporting_envelope, injected_fault,
    json_response, list_latency, now_ms, spring_bad_request, zeebe_time,
};
use super::state::{SimComponent, SimState, ZeebeBackup};

const Z: SimComponent = SimComponent::Zeebe;

/// The backup base path for a profile (§3.1).
pub fn backup_path(profile: VersionProfile) -> &'static str {
    match profile {
        VersionProfile::V87 => "/actuator/backups",
        VersionProfile::V88 => "/actuator/backupRuntime",
    }
}

pub fn router(sim: Sim, profile: VersionProfile) -> Router {
    let base = backup_path(profile);
    Router::new()
        .route(base, post(take).get(list))
        .route(&format!("{base}/{{arg}}"), get(get_one).delete(delete))
        .route(&format!("{base}/state/sync"), post(state_sync))
        .route("/actuator/exporting/{operation}", post(exporting))
        .route("/actuator/partitions", get(partitions))
        .route("/actuator/partitions/{id}", get(partition))
        .route("/actuator/rebalance", post(rebalance))
        .route("/actuator/health", get(health))
        .with_state(sim)
}

fn err(state: &SimState, status: StatusCode, message: &str) -> Response {
    error_response(Z, state.profile == VersionProfile::V87, status, message)
}

/// `POST {base}` (§3.2, errors §3.8).
async fn take(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Take).await {
        return fault;
    }
    let (path, checkpoint_ms) = {
        let s = sim.read();
        (backup_path(s.profile), s.timings.zeebe_checkpoint_ms)
    };
    let id = match backup_id_from_body(&body) {
        Ok(id) => id,
        Err(()) => return spring_bad_request(path),
    };
    {
        let s = sim.read();
        if !s.zeebe_store_configured {
            return err(
                &s,
                StatusCode::BAD_REQUEST,
                "Cannot process backup requests. No backup store is configured. To use this feature, configure backup in broker configuration.",
            );
        }
        if s.zeebe_scheduler.is_some() {
            // With Zeebe's own scheduler the ID is generated; naming one is refused (§3.2).
            if id.is_some() {
                return err(
                    &s,
                    StatusCode::BAD_REQUEST,
                    "Cannot take backup with predetermined backupId when continuous backups are enabled. Use POST actuator/backupRuntime without specifying a backupId.",
                );
            }
        } else if id.is_none_or(|id| id <= 0) {
            return err(
                &s,
                StatusCode::BAD_REQUEST,
                "A backupId must be provided and it must be > 0",
            );
        }
        if !s.topology_complete {
            let message = format!(
                "Expected to send request to all {} partitions, but found only {} partitions in topology.",
                s.partitions,
                s.partitions.saturating_sub(1)
            );
            return err(&s, StatusCode::BAD_GATEWAY, &message);
        }
        if let Some(id) = id
            && id as u64 <= s.latest_checkpoint
        {
            let message = format!(
                "Requested backup has ID {id}. The latest backup has ID {}. The backup ID must be greater than the ID of previous backups that are completed, failed, or deleted.",
                s.latest_checkpoint
            );
            return err(&s, StatusCode::CONFLICT, &message);
        }
    }
    // Every partition processes the checkpoint before the gateway answers.
    tokio::time::sleep(Duration::from_millis(checkpoint_ms.max(0) as u64)).await;
    let mut s = sim.write();
    let id = match id {
        Some(id) => id as u64,
        None => s.generated_id(now_ms()).unwrap_or_default(),
    };
    if id <= s.latest_checkpoint {
        let message = format!(
            "Requested backup has ID {id}. The latest backup has ID {}. The backup ID must be greater than the ID of previous backups that are completed, failed, or deleted.",
            s.latest_checkpoint
        );
        return err(&s, StatusCode::CONFLICT, &message);
    }
    let outcome = s.take_outcome(Z);
    s.add_zeebe_backup(id, now_ms(), outcome);
    let mut body = json!({
        // The text says actuator/backups even on /backupRuntime (§3.2, §13.4).
        "message": format!("A backup with id {id} has been scheduled. Use GET actuator/backups/{id} to monitor the status.")
    });
    if s.minor() >= 9 {
        // The 8.9 docs show the ID beside the message (§3.2).
        body["backupId"] = json!(id);
    }
    json_response(Style::WebEndpoint, &headers, StatusCode::ACCEPTED, &body)
}

/// One backup as `BackupInfo`; `full` adds the fields GET-by-id has and the list lacks (§3.3, §3.4).
fn backup_info(b: &ZeebeBackup, now: i64, full: bool) -> Value {
    let states: Vec<ZeebeState> = b.partitions.iter().map(|p| p.state(now)).collect();
    let aggregate = zeebe_aggregate(&states);
    let details: Vec<Value> = b
        .partitions
        .iter()
        .zip(&states)
        .map(|(p, state)| {
            let mut d = json!({
                "partitionId": p.partition_id,
                "state": state,
            });
            if *state == ZeebeState::Failed {
                d["failureReason"] = json!(p.failure);
            }
            if *state != ZeebeState::DoesNotExist {
                d["createdAt"] = json!(zeebe_time(p.registered_ms));
                d["brokerVersion"] = json!(b.broker_version);
                if full {
                    d["lastUpdatedAt"] = json!(zeebe_time(now.min(p.done_ms)));
                    d["snapshotId"] = json!(p.snapshot_id);
                    d["checkpointPosition"] = json!(p.checkpoint_position);
                    d["brokerId"] = json!(p.broker_id);
                }
            }
            d
        })
        .collect();
    let mut info = json!({ "backupId": b.backup_id, "state": aggregate, "details": details });
    if aggregate == ZeebeState::Failed {
        let reason = zeebe_failure_reason(
            b.partitions
                .iter()
                .zip(&states)
                .filter(|(_, s)| **s == ZeebeState::Failed)
                .map(|(p, _)| (p.partition_id, p.failure.as_deref())),
        );
        info["failureReason"] = json!(reason);
    }
    info
}

/// `GET {base}`: every backup, descending by ID (§3.4).
async fn list(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::List).await {
        return fault;
    }
    let latency = sim.read().timings.zeebe_list_ms;
    list_latency(latency).await;
    let now = now_ms();
    let s = sim.read();
    let body: Vec<Value> = s
        .zeebe_backups
        .values()
        .rev()
        .filter(|b| {
            b.partitions
                .iter()
                .any(|p| p.state(now) != ZeebeState::DoesNotExist)
        })
        .map(|b| backup_info(b, now, false))
        .collect();
    json_response(
        Style::WebEndpoint,
        &headers,
        StatusCode::OK,
        &Value::Array(body),
    )
}

/// `GET {base}/{arg}` (§3.3); in 8.8 also the prefix form `{digits}*` (§3.4).
async fn get_one(State(sim): State<Sim>, headers: HeaderMap, Path(arg): Path<String>) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Get).await {
        return fault;
    }
    let now = now_ms();
    let s = sim.read();
    if arg == "state" && s.minor() >= 9 {
        return json_response(
            Style::WebEndpoint,
            &headers,
            StatusCode::OK,
            &serde_json::to_value(s.checkpoint_state(now)).unwrap_or_default(),
        );
    }
    if s.profile == VersionProfile::V88
        && let Some(prefix) = arg
            .strip_suffix('*')
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        let body: Vec<Value> = s
            .zeebe_backups
            .values()
            .rev()
            .filter(|b| b.backup_id.to_string().starts_with(prefix))
            .map(|b| backup_info(b, now, false))
            .collect();
        return json_response(
            Style::WebEndpoint,
            &headers,
            StatusCode::OK,
            &Value::Array(body),
        );
    }
    let Ok(id) = arg.parse::<i64>() else {
        return match s.profile {
            VersionProfile::V88 => err(
                &s,
                StatusCode::BAD_REQUEST,
                &format!("Expected a backup ID or prefix ending with '*', but got '{arg}'."),
            ),
            VersionProfile::V87 => spring_bad_request(&format!("{}/{arg}", backup_path(s.profile))),
        };
    };
    if id <= 0 {
        return err(
            &s,
            StatusCode::BAD_REQUEST,
            "A backupId must be provided and it must be > 0",
        );
    }
    match s.zeebe_backups.get(&(id as u64)) {
        Some(b)
            if b.partitions
                .iter()
                .any(|p| p.state(now) != ZeebeState::DoesNotExist) =>
        {
            json_response(
                Style::WebEndpoint,
                &headers,
                StatusCode::OK,
                &backup_info(b, now, true),
            )
        }
        _ => err(
            &s,
            StatusCode::NOT_FOUND,
            &format!("Backup with id {id} does not exist"),
        ),
    }
}

/// `POST {base}/state/sync` (8.9, §3.7): the simulator's metadata is always in sync, so it
/// answers what GET does.
async fn state_sync(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Get).await {
        return fault;
    }
    let s = sim.read();
    if s.minor() < 9 {
        return spring_bad_request(&format!("{}/state/sync", backup_path(s.profile)));
    }
    json_response(
        Style::WebEndpoint,
        &headers,
        StatusCode::OK,
        &serde_json::to_value(s.checkpoint_state(now_ms())).unwrap_or_default(),
    )
}

/// `DELETE {base}/{id}`: 204, also for an unknown ID; the ID stays spent (§3.5).
async fn delete(State(sim): State<Sim>, Path(arg): Path<String>) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Delete).await {
        return fault;
    }
    let latency = sim.read().timings.delete_ms;
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency as u64)).await;
    }
    let mut s = sim.write();
    let Ok(id) = arg.parse::<i64>() else {
        return spring_bad_request(&format!("{}/{arg}", backup_path(s.profile)));
    };
    if id <= 0 {
        return err(
            &s,
            StatusCode::BAD_REQUEST,
            "A backupId must be provided and it must be > 0",
        );
    }
    s.zeebe_backups.remove(&(id as u64));
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /actuator/exporting/{pause|resume}[?soft=true]`: always HTTP 200, the real status in
/// the body (§4.1). A failed topology check pauses nothing.
async fn exporting(
    State(sim): State<Sim>,
    Path(operation): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let soft = query.get("soft").is_some_and(|v| v == "true");
    let op = match operation.as_str() {
        "pause" => Operation::Pause,
        "resume" => Operation::Resume,
        _ => {
            return exporting_envelope(
                500,
                Some(&format!("No enum constant for operation '{operation}'")),
            );
        }
    };
    if let Some(fault) = injected_fault(&sim, SimComponent::Exporting, op).await {
        return fault;
    }
    let mut s = sim.write();
    if !s.topology_complete {
        let message = format!(
            "Expected {} members of partition 1 but found {}, current topology: sim",
            s.partitions,
            s.partitions.saturating_sub(1)
        );
        return exporting_envelope(500, Some(&message));
    }
    let phase = match (op, soft) {
        (Operation::Pause, true) => ExporterPhase::SoftPaused,
        (Operation::Pause, false) => ExporterPhase::Paused,
        _ => ExporterPhase::Exporting,
    };
    s.exporter_phase.iter_mut().for_each(|p| *p = phase);
    exporting_envelope(204, None)
}

fn partition_status(s: &SimState, id: u32) -> Value {
    let phase = s
        .exporter_phase
        .get(id as usize - 1)
        .copied()
        .unwrap_or(ExporterPhase::Exporting);
    let position = 1_000 * i64::from(id) + (s.latest_checkpoint % 1_000) as i64;
    json!({
        "role": "LEADER",
        "processedPosition": position,
        "snapshotId": format!("{}-1-{position}-{}", 40 + id, position - 5),
        "processedPositionInSnapshot": position - 5,
        "streamProcessorPhase": "PROCESSING",
        "exporterPhase": phase,
        "exportedPosition": position - 1,
    })
}

/// `GET /actuator/partitions`: a map keyed by the partition ID as a string (§4.2).
async fn partitions(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Partitions).await {
        return fault;
    }
    let s = sim.read();
    let map: serde_json::Map<String, Value> = (1..=s.partitions)
        .map(|id| (id.to_string(), partition_status(&s, id)))
        .collect();
    json_response(
        Style::WebEndpoint,
        &headers,
        StatusCode::OK,
        &Value::Object(map),
    )
}

async fn partition(State(sim): State<Sim>, headers: HeaderMap, Path(id): Path<u32>) -> Response {
    let s = sim.read();
    if id == 0 || id > s.partitions {
        return StatusCode::NOT_FOUND.into_response();
    }
    json_response(
        Style::WebEndpoint,
        &headers,
        StatusCode::OK,
        &partition_status(&s, id),
    )
}

/// `POST /actuator/rebalance`: 200 with no body (§4.4).
async fn rebalance(State(sim): State<Sim>) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Rebalance).await {
        return fault;
    }
    StatusCode::OK.into_response()
}

pub async fn health(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Some(fault) = injected_fault(&sim, Z, Operation::Health).await {
        return fault;
    }
    json_response(
        Style::WebEndpoint,
        &headers,
        StatusCode::OK,
        &json!({"status": "UP"}),
    )
}
