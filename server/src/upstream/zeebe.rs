//! Zeebe gateway / Orchestration Cluster: runtime backups (contract §3), exporting (§4.1),
//! partitions (§4.2), rebalance (§4.4) and health (§4.6).

use std::collections::BTreeMap;

use backup_domain::api::VersionProfile;
use backup_domain::backup_set::{
    Component, ComponentBackup, ComponentState, PartitionBackup, Progress,
};
use backup_domain::upstream_state::{ExporterPhase, ZeebeState};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, Permission, UpstreamError, decode, name_permission};
use super::{distinct, parse_time_ms};

/// `BackupInfo` (§3.3); the list form lacks some partition fields (§3.4), hence the options.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZeebeBackupInfo {
    pub backup_id: u64,
    pub state: ZeebeState,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub details: Vec<PartitionInfo>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionInfo {
    pub partition_id: u32,
    /// Nullable in the REST API's `PartitionBackupInfo`.
    #[serde(deserialize_with = "state_or_unknown")]
    pub state: String,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default)]
    pub snapshot_id: Option<String>,
    #[serde(default)]
    pub checkpoint_position: Option<i64>,
    #[serde(default)]
    pub broker_id: Option<i32>,
    #[serde(default)]
    pub broker_version: Option<String>,
}

fn state_or_unknown<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(|| "UNKNOWN".into()))
}

/// One partition's exporter phase as one broker reports it (§4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportingPartition {
    pub partition_id: u32,
    pub phase: String,
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionStatus {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    exporter_phase: Option<String>,
}

/// The exporting endpoint's envelope: HTTP 200 whatever happened, the outcome in `status` (§4.1).
#[derive(Debug, Deserialize)]
struct ExportingEnvelope {
    status: u16,
    #[serde(default)]
    body: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct ZeebeClient {
    http: Http,
    /// Broker endpoints for `/actuator/partitions`; empty means the gateway itself.
    brokers: Vec<Http>,
    backups_path: &'static str,
    /// The 8.10 REST API (`api = "rest"`): backups and exporting go there, with its credentials.
    rest: Option<Http>,
    /// Whether `http` (or the brokers) is a management port: the exporter phase is read there.
    management: bool,
}

/// `TakeRuntimeBackupResponse` of the REST API.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestTakeResponse {
    backup_id: u64,
}

impl ZeebeClient {
    pub fn new(http: Http, brokers: Vec<Http>, profile: VersionProfile) -> Self {
        let backups_path = match profile {
            VersionProfile::V87 => "backups",
            VersionProfile::V88 => "backupRuntime",
        };
        ZeebeClient {
            http,
            brokers,
            backups_path,
            rest: None,
            management: true,
        }
    }

    /// Backups and exporting over the REST API; `management` says whether `http` or the brokers
    /// still name a management port for the exporter phase.
    pub fn with_rest(mut self, rest: Http, management: bool) -> Self {
        self.rest = Some(rest);
        self.management = management || !self.brokers.is_empty();
        self
    }

    /// The REST API client, when the cluster uses it.
    pub fn rest(&self) -> Option<&Http> {
        self.rest.as_ref()
    }

    /// Whether the exporter phase can be read (a management port is configured).
    pub fn has_management_port(&self) -> bool {
        self.management
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// `GET /actuator/{backups|backupRuntime}`: not sorted by contract, so not relied on (§3.4).
    pub async fn list(&self) -> Result<Vec<ZeebeBackupInfo>, UpstreamError> {
        self.list_each(Vec::new(), Vec::push).await
    }

    /// The listing, each backup handed to `each` as it is decoded (see [`Http::listing_each`]).
    pub async fn list_each<A: Send + 'static>(
        &self,
        acc: A,
        each: impl FnMut(&mut A, ZeebeBackupInfo) + Send + 'static,
    ) -> Result<A, UpstreamError> {
        if let Some(rest) = &self.rest {
            let url = rest.url(&["backups", "runtime"], &[]);
            return rest
                .listing_each(url, None, acc, each)
                .await
                .map_err(|e| name_permission(e, Permission::BackupRead));
        }
        let url = self.http.url(&["actuator", self.backups_path], &[]);
        self.http.listing_each(url, None, acc, each).await
    }

    /// `GET .../{id}`; `None` for the 404 of an ID no partition knows (§3.3).
    pub async fn get(&self, backup_id: u64) -> Result<Option<ZeebeBackupInfo>, UpstreamError> {
        let id = backup_id.to_string();
        if let Some(rest) = &self.rest {
            let url = rest.url(&["backups", "runtime", &id], &[]);
            return rest
                .get_optional(url)
                .await
                .map_err(|e| name_permission(e, Permission::BackupRead));
        }
        let url = self.http.url(&["actuator", self.backups_path, &id], &[]);
        let (status, bytes) = self.http.send(Method::GET, url.clone(), None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => decode(&format!("Zeebe GET {}", url.path()), &bytes).map(Some),
            s => Err(self.http.status_error(&Method::GET, &url, s, &bytes)),
        }
    }

    /// `POST .../` with `{"backupId": id}`: 202 when scheduled (§3.2).
    pub async fn take(&self, backup_id: u64) -> Result<(), UpstreamError> {
        if let Some(rest) = &self.rest {
            // 202 with `{backupId}`: the ID taken must be the one asked for.
            let url = rest.url(&["backups", "runtime"], &[]);
            let answer: RestTakeResponse = rest
                .json(
                    Method::POST,
                    url.clone(),
                    Some(&json!({ "backupId": backup_id })),
                )
                .await
                .map_err(|e| name_permission(e, Permission::BackupCreate))?;
            if answer.backup_id != backup_id {
                return Err(rest.decode_error(
                    &Method::POST,
                    &url,
                    format!(
                        "backup {} was taken instead of {backup_id}",
                        answer.backup_id
                    ),
                ));
            }
            return Ok(());
        }
        let url = self.http.url(&["actuator", self.backups_path], &[]);
        // §3.2: 202 with a message. An answer that is not a JSON object is not the component speaking: the
        // backup may or may not be scheduled, so the step fails rather than guess.
        self.http
            .json::<serde_json::Map<String, serde_json::Value>>(
                Method::POST,
                url,
                Some(&json!({ "backupId": backup_id })),
            )
            .await
            .map(|_| ())
    }

    /// `DELETE .../{id}`: 204, also for an unknown ID (§3.5).
    pub async fn delete(&self, backup_id: u64) -> Result<(), UpstreamError> {
        let id = backup_id.to_string();
        if let Some(rest) = &self.rest {
            let url = rest.url(&["backups", "runtime", &id], &[]);
            return rest
                .expect_success(Method::DELETE, url, None)
                .await
                .map_err(|e| name_permission(e, Permission::BackupDelete));
        }
        let url = self.http.url(&["actuator", self.backups_path, &id], &[]);
        self.http.expect_success(Method::DELETE, url, None).await
    }

    /// Pause (`soft`: keep exporting but stop compaction) or resume. Succeeds only when the body
    /// says 204: the HTTP status is 200 even on failure (§4.1).
    /// The call `exporting(operation)` makes, as error texts name it ("Zeebe POST /v2/exporting/resume"
    /// on the REST API, the actuator path otherwise): for a caller that cuts it short.
    pub fn exporting_call(&self, operation: ExportingOperation) -> String {
        let op = match operation {
            ExportingOperation::Pause | ExportingOperation::SoftPause => "pause",
            ExportingOperation::Resume => "resume",
        };
        let (http, path): (&Http, &[&str]) = match &self.rest {
            Some(rest) => (rest, &["exporting", op]),
            None => (&self.http, &["actuator", "exporting", op]),
        };
        format!("{} POST {}", http.component(), http.url(path, &[]).path())
    }

    pub async fn exporting(&self, operation: ExportingOperation) -> Result<(), UpstreamError> {
        let (op, query): (&str, &[(&str, &str)]) = match operation {
            ExportingOperation::Pause => ("pause", &[]),
            ExportingOperation::SoftPause => ("pause", &[("soft", "true")]),
            ExportingOperation::Resume => ("resume", &[]),
        };
        if let Some(rest) = &self.rest {
            // A real 204 (the v2 `exporting.yaml`), not the actuator's envelope.
            let url = rest.url(&["exporting", op], query);
            return rest
                .expect_success(Method::POST, url, None)
                .await
                .map_err(|e| name_permission(e, Permission::ExporterPause));
        }
        let url = self.http.url(&["actuator", "exporting", op], query);
        let (status, bytes) = self.http.send(Method::POST, url.clone(), None).await?;
        if !status.is_success() {
            return Err(self.http.status_error(&Method::POST, &url, status, &bytes));
        }
        // An older variant answered a true 204 with no body (§4.1 "older code variant").
        if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            return Ok(());
        }
        let envelope: ExportingEnvelope = decode(&format!("Zeebe POST {}", url.path()), &bytes)?;
        if envelope.status == 204 || envelope.status == 200 {
            return Ok(());
        }
        let inner = envelope.body.map(|b| b.to_string()).unwrap_or_default();
        let reason = super::upstream_message(inner.as_bytes());
        Err(UpstreamError::Status {
            call: format!("Zeebe POST {}", url.path()),
            status: envelope.status,
            message: reason,
        })
    }

    /// Exporter phase per partition across the brokers (or the gateway): where brokers disagree,
    /// the least healthy phase wins, so a pause on any replica is never hidden.
    pub async fn exporting_phases(&self) -> Result<Vec<ExportingPartition>, UpstreamError> {
        if !self.management {
            return Err(UpstreamError::NoManagementPort {
                call: format!("{} GET /actuator/partitions", self.http.component()),
            });
        }
        let sources: Vec<&Http> = if self.brokers.is_empty() {
            vec![&self.http]
        } else {
            self.brokers.iter().collect()
        };
        let mut merged: BTreeMap<u32, ExportingPartition> = BTreeMap::new();
        let answers = futures_util::future::join_all(sources.iter().map(|h| {
            let url = h.url(&["actuator", "partitions"], &[]);
            h.json::<BTreeMap<String, PartitionStatus>>(Method::GET, url, None)
        }))
        .await;
        for answer in answers {
            for (id, status) in answer? {
                let Ok(partition_id) = id.parse::<u32>() else {
                    continue;
                };
                let phase = status.exporter_phase.unwrap_or_else(|| "UNKNOWN".into());
                let entry = merged
                    .entry(partition_id)
                    .or_insert_with(|| ExportingPartition {
                        partition_id,
                        phase: phase.clone(),
                        role: status.role.clone(),
                    });
                if severity(&phase) > severity(&entry.phase) {
                    entry.phase = phase;
                }
                if status.role.as_deref() == Some("LEADER") {
                    entry.role = status.role;
                }
            }
        }
        Ok(merged.into_values().collect())
    }

    /// `POST .../` with no body, when Zeebe generates the ID (its scheduler or continuous
    /// backups, 8.9+, §3.2). The 8.9 answer carries `backupId` beside the message; `None` when
    /// it does not, and the caller finds the new ID by listing.
    pub async fn take_generated(&self) -> Result<Option<u64>, UpstreamError> {
        let url = self.http.url(&["actuator", self.backups_path], &[]);
        let answer = self
            .http
            .json::<serde_json::Map<String, Value>>(Method::POST, url, None)
            .await?;
        let named = answer.get("backupId").and_then(|id| match id {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        Ok(named.or_else(|| {
            answer
                .get("message")
                .and_then(Value::as_str)
                .and_then(id_in_take_message)
        }))
    }

    /// `GET .../state` (8.9, §3.7): the checkpoints `backupStates` and `ranges` name, with
    /// whether each was `SCHEDULED_BACKUP` (true) or `MANUAL_BACKUP` (false). `ranges` ends
    /// are bare IDs in the spec and objects in the docs (§13.9): both are read, and a bare ID,
    /// which carries no type, is left out.
    pub async fn checkpoint_types(&self) -> Result<BTreeMap<u64, bool>, UpstreamError> {
        let url = self
            .http
            .url(&["actuator", self.backups_path, "state"], &[]);
        let body = self
            .http
            .json::<serde_json::Map<String, Value>>(Method::GET, url, None)
            .await?;
        Ok(checkpoint_types_of(&body))
    }

    /// `POST /actuator/rebalance`: 200 with no body (§4.4).
    pub async fn rebalance(&self) -> Result<(), UpstreamError> {
        if !self.management {
            return Err(UpstreamError::NoManagementPort {
                call: format!("{} POST /actuator/rebalance", self.http.component()),
            });
        }
        let url = self.http.url(&["actuator", "rebalance"], &[]);
        self.http.expect_success(Method::POST, url, None).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportingOperation {
    Pause,
    SoftPause,
    Resume,
}

fn severity(phase: &str) -> u8 {
    match serde_json::from_value::<ExporterPhase>(Value::String(phase.to_string())) {
        Ok(ExporterPhase::Exporting) => 0,
        Ok(ExporterPhase::SoftPaused) => 1,
        Ok(ExporterPhase::Paused) => 2,
        Ok(ExporterPhase::Closed) => 3,
        _ => 4,
    }
}

/// The typed checkpoints of a `backupRuntime/state` body (§3.7): `backupStates[]` and the
/// `ranges[]` ends given as objects (the docs' form; the spec's bare IDs carry no type, §13.9).
fn checkpoint_types_of(body: &serde_json::Map<String, Value>) -> BTreeMap<u64, bool> {
    let mut types = BTreeMap::new();
    let mut note = |entry: &Value| {
        let id = entry.get("checkpointId").and_then(Value::as_u64);
        let kind = entry.get("checkpointType").and_then(Value::as_str);
        match (id, kind) {
            (Some(id), Some("SCHEDULED_BACKUP")) => {
                types.insert(id, true);
            }
            (Some(id), Some("MANUAL_BACKUP")) => {
                types.insert(id, false);
            }
            _ => {}
        }
    };
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for entry in list("backupStates") {
        note(&entry);
    }
    for range in list("ranges") {
        for end in ["start", "end"] {
            if let Some(end) = range.get(end).filter(|e| e.is_object()) {
                note(end);
            }
        }
    }
    types
}

/// What Zeebe says about one backup, in the console's terms.
pub fn to_component(info: ZeebeBackupInfo) -> ComponentBackup {
    let state = match info.state {
        ZeebeState::Completed => ComponentState::Completed,
        ZeebeState::InProgress => ComponentState::InProgress,
        ZeebeState::Failed => ComponentState::Failed,
        ZeebeState::Incomplete => ComponentState::Incomplete,
        ZeebeState::Incompatible => ComponentState::Incompatible,
        ZeebeState::DoesNotExist | ZeebeState::Deleted => ComponentState::Missing,
        ZeebeState::Unrecognized => ComponentState::Unknown,
    };
    let mut c = ComponentBackup::new(Component::Zeebe, state);
    c.upstream_state = serde_json::to_value(info.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    if info.state == ZeebeState::Unrecognized {
        c.error = Some("Zeebe reported a state this console does not know".into());
    }
    // Zeebe ends each partition's sentence with ". " (§3.6); trailing space is noise in a table.
    c.failure_reason = info
        .failure_reason
        .map(|r| r.trim_end().to_string())
        .filter(|r| !r.is_empty());
    let total = info.details.len() as u32;
    let done = info
        .details
        .iter()
        .filter(|p| p.state == "COMPLETED")
        .count() as u32;
    c.progress = (total > 0).then_some(Progress { done, total });
    c.versions = distinct(info.details.iter().filter_map(|p| p.broker_version.clone()));
    c.partitions = info
        .details
        .into_iter()
        .map(|p| PartitionBackup {
            partition_id: p.partition_id,
            state: p.state,
            failure_reason: p.failure_reason,
            created_at_ms: p.created_at.as_deref().and_then(parse_time_ms),
            last_updated_at_ms: p.last_updated_at.as_deref().and_then(parse_time_ms),
            snapshot_id: p.snapshot_id,
            checkpoint_position: p.checkpoint_position,
            broker_id: p.broker_id,
            broker_version: p.broker_version,
        })
        .collect();
    c.partitions.sort_by_key(|p| p.partition_id);
    c.started_at_ms = c.partitions.iter().filter_map(|p| p.created_at_ms).min();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_types_come_from_backup_states_and_object_range_ends() {
        // backupStates as the spec has it; ranges once with bare IDs (spec) and once with
        // objects (the 8.9 docs' example), §13.9.
        let body = r#"{"checkpointStates":[{"checkpointId":9,"checkpointType":"MARKER","partitionId":1}],
          "backupStates":[{"checkpointId":1772001869309,"checkpointType":"SCHEDULED_BACKUP","partitionId":1,"firstLogPosition":3}],
          "ranges":[{"partitionId":1,"start":5,"end":1772001869309,"missingCheckpoints":[]},
                    {"partitionId":2,"start":{"checkpointId":7,"checkpointType":"MANUAL_BACKUP"},"end":{"checkpointId":8,"checkpointType":"SCHEDULED_BACKUP"}}]}"#;
        let body: serde_json::Map<String, Value> = serde_json::from_str(body).unwrap();
        let types = checkpoint_types_of(&body);
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            vec![(7, false), (8, true), (1_772_001_869_309, true)],
            "a marker is no backup, a bare ID carries no type"
        );
    }

    #[test]
    fn the_documented_example_converts() {
        // The example body from the Zeebe backup docs (seeds/zeebe-backup-and-restore.md).
        let body = r#"{"backupId":100,"details":[
          {"brokerVersion":"8.2.0-SNAPSHOT","checkpointPosition":5,"createdAt":"2022-12-08T13:00:55.344276672Z","lastUpdatedAt":"2022-12-08T13:00:55.805351556Z","partitionId":1,"snapshotId":"2-1-3-2","state":"COMPLETED"},
          {"brokerVersion":"8.2.0-SNAPSHOT","checkpointPosition":7,"createdAt":"2022-12-08T13:00:55.370965069Z","lastUpdatedAt":"2022-12-08T13:00:55.84756566Z","partitionId":2,"snapshotId":"3-1-5-3","state":"COMPLETED"}],"state":"COMPLETED"}"#;
        let info: ZeebeBackupInfo = serde_json::from_str(body).unwrap();
        let c = to_component(info);
        assert_eq!(c.state, ComponentState::Completed);
        assert_eq!(c.progress, Some(Progress { done: 2, total: 2 }));
        assert_eq!(c.versions, vec!["8.2.0-SNAPSHOT"]);
        assert_eq!(c.partitions[1].checkpoint_position, Some(7));
        assert_eq!(c.started_at_ms, Some(1_670_504_455_344));
    }

    #[test]
    fn a_thin_list_entry_with_a_missing_partition_is_incomplete() {
        let body = r#"{"backupId":5,"state":"INCOMPLETE","details":[{"partitionId":1,"state":"COMPLETED","createdAt":"2022-12-08T13:00:55Z","brokerVersion":"8.7.2"},{"partitionId":2,"state":"DOES_NOT_EXIST"}]}"#;
        let c = to_component(serde_json::from_str(body).unwrap());
        assert_eq!(c.state, ComponentState::Incomplete);
        assert_eq!(c.progress, Some(Progress { done: 1, total: 2 }));
        assert_eq!(c.upstream_state.as_deref(), Some("INCOMPLETE"));
    }

    #[test]
    fn phases_rank_so_that_a_pause_is_never_hidden() {
        assert!(severity("SOFT_PAUSED") > severity("EXPORTING"));
        assert!(severity("PAUSED") > severity("SOFT_PAUSED"));
        assert!(severity("SOMETHING_ELSE") > severity("CLOSED"));
    }
}

/// The ID in a take answer's message, "A backup with id N has been scheduled. ..." (builds whose
/// answer has no `backupId` field).
fn id_in_take_message(message: &str) -> Option<u64> {
    let rest = message.split_once("backup with id ")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod take_message_tests {
    use super::id_in_take_message;

    #[test]
    fn the_take_message_names_the_id() {
        assert_eq!(
            id_in_take_message(
                "A backup with id 1772001869309 has been scheduled. Use GET actuator/backups/1772001869309 to monitor the status."
            ),
            Some(1_772_001_869_309)
        );
        assert_eq!(id_in_take_message("Backup accepted"), None);
        assert_eq!(
            id_in_take_message("A backup with id  has been scheduled"),
            None
        );
    }
}
