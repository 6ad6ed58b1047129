//! Operate and Tasklist backups (8.7 `/actuator/backups`, contract §5.1) and the 8.8
//! Orchestration Cluster's `/actuator/backupHistory` (§5.2): the same web-apps backup service.

use backup_domain::backup_set::{
    Component, ComponentBackup, ComponentState, Progress, SnapshotPart,
};
use backup_domain::naming::parse_part_name;
use backup_domain::upstream_state::ArtifactState;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::http::{Http, Permission, UpstreamError, decode, name_permission};
use super::{distinct, parse_time_ms};

/// A web-apps or Optimize backup (§5.1, §5.2, §6): same shape in both.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactInfo {
    /// A number; the 8.8 spec types it `number`, so a float form is accepted too.
    #[serde(deserialize_with = "id_from_number")]
    pub backup_id: u64,
    pub state: ArtifactState,
    /// Absent or `null` when there is none (§1).
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub details: Vec<ArtifactDetail>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactDetail {
    pub snapshot_name: String,
    pub state: String,
    #[serde(default)]
    pub start_time: Option<String>,
    /// Shard-failure reasons; may be null or absent (§5.2).
    #[serde(default)]
    pub failures: Option<Vec<Value>>,
}

fn id_from_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        })
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| {
            serde::de::Error::custom(format!("backupId {v} is not a non-negative integer"))
        })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TakeResponse {
    #[serde(default)]
    scheduled_snapshots: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct WebappsClient {
    http: Http,
    component: Component,
    path: &'static str,
    /// The 8.10 REST API's `/backups/history` (`api = "rest"`), with its credentials.
    rest: Option<Http>,
}

impl WebappsClient {
    /// `component` is Operate or Tasklist (8.7, `/actuator/backups`) or Webapps (8.8, `/actuator/backupHistory`).
    pub fn new(http: Http, component: Component) -> Self {
        let path = if component == Component::Webapps {
            "backupHistory"
        } else {
            "backups"
        };
        WebappsClient {
            http,
            component,
            path,
            rest: None,
        }
    }

    /// History backups over the REST API (the 8.8 `backupHistory` service behind `/v2`).
    pub fn with_rest(mut self, rest: Http) -> Self {
        self.rest = Some(rest);
        self
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn component(&self) -> Component {
        self.component
    }

    pub fn snapshot_prefix(&self) -> &'static str {
        match self.component {
            Component::Operate => "camunda_operate_",
            Component::Tasklist => "camunda_tasklist_",
            _ => "camunda_webapps_",
        }
    }

    pub async fn list(&self) -> Result<Vec<ArtifactInfo>, UpstreamError> {
        self.list_each(Vec::new(), Vec::push).await
    }

    /// The listing, each backup handed to `each` as it is decoded (see [`Http::listing_each`]).
    pub async fn list_each<A: Send + 'static>(
        &self,
        acc: A,
        each: impl FnMut(&mut A, ArtifactInfo) + Send + 'static,
    ) -> Result<A, UpstreamError> {
        if let Some(rest) = &self.rest {
            // Without `verbose=true` the states are incomplete (the v2 `backups.yaml`).
            let url = rest.url(&["backups", "history"], &[("verbose", "true")]);
            return rest
                .listing_each(url, None, acc, each)
                .await
                .map_err(|e| name_permission(e, Permission::BackupRead));
        }
        let url = self.http.url(&["actuator", self.path], &[]);
        self.http.listing_each(url, None, acc, each).await
    }

    /// One backup, `None` when the component has nothing under this ID. Before the fixes of
    /// §5.1, Operate answered 400 and Tasklist 500 for an unknown ID: on those statuses the list
    /// decides whether the ID exists, so a quirk is not mistaken for a failure, nor a failure for
    /// absence.
    pub async fn get(&self, backup_id: u64) -> Result<Option<ArtifactInfo>, UpstreamError> {
        let id = backup_id.to_string();
        if let Some(rest) = &self.rest {
            let url = rest.url(&["backups", "history", &id], &[]);
            return rest
                .get_optional(url)
                .await
                .map_err(|e| name_permission(e, Permission::BackupRead));
        }
        let url = self.http.url(&["actuator", self.path, &id], &[]);
        let (status, bytes) = self.http.send(Method::GET, url.clone(), None).await?;
        match status {
            s if s.is_success() => decode(
                &format!("{} GET {}", self.http.component(), url.path()),
                &bytes,
            )
            .map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::BAD_REQUEST | StatusCode::INTERNAL_SERVER_ERROR => {
                let original = self.http.status_error(&Method::GET, &url, status, &bytes);
                match self.list().await {
                    Ok(all) => match all.into_iter().find(|b| b.backup_id == backup_id) {
                        Some(found) => Ok(Some(found)),
                        None => Ok(None),
                    },
                    Err(_) => Err(original),
                }
            }
            s => Err(self.http.status_error(&Method::GET, &url, s, &bytes)),
        }
    }

    /// `POST` with `{"backupId": id}`: 200 with the scheduled snapshot names (§5.1, §13.1).
    pub async fn take(&self, backup_id: u64) -> Result<Vec<String>, UpstreamError> {
        if let Some(rest) = &self.rest {
            // 202 with `{backupId, scheduledSnapshots}`.
            let url = rest.url(&["backups", "history"], &[]);
            let response: TakeResponse = rest
                .json(Method::POST, url, Some(&json!({ "backupId": backup_id })))
                .await
                .map_err(|e| name_permission(e, Permission::BackupCreate))?;
            return Ok(response.scheduled_snapshots);
        }
        let url = self.http.url(&["actuator", self.path], &[]);
        let response: TakeResponse = self
            .http
            .json(Method::POST, url, Some(&json!({ "backupId": backup_id })))
            .await?;
        Ok(response.scheduled_snapshots)
    }

    pub async fn delete(&self, backup_id: u64) -> Result<(), UpstreamError> {
        let id = backup_id.to_string();
        if let Some(rest) = &self.rest {
            let url = rest.url(&["backups", "history", &id], &[]);
            return rest
                .expect_success(Method::DELETE, url, None)
                .await
                .map_err(|e| name_permission(e, Permission::BackupDelete));
        }
        let url = self.http.url(&["actuator", self.path, &id], &[]);
        self.http.expect_success(Method::DELETE, url, None).await
    }
}

/// A web-apps or Optimize backup in the console's terms. `prefix` parses versions and part counts
/// from the snapshot names (§5.1).
pub fn to_component(component: Component, prefix: &str, info: ArtifactInfo) -> ComponentBackup {
    let state = match info.state {
        ArtifactState::Completed => ComponentState::Completed,
        ArtifactState::InProgress => ComponentState::InProgress,
        ArtifactState::Failed => ComponentState::Failed,
        ArtifactState::Incomplete => ComponentState::Incomplete,
        ArtifactState::Incompatible => ComponentState::Incompatible,
        ArtifactState::Unrecognized => ComponentState::Unknown,
    };
    let mut c = ComponentBackup::new(component, state);
    c.upstream_state = serde_json::to_value(info.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    if info.state == ArtifactState::Unrecognized {
        c.error = Some(format!(
            "{} reported a state this console does not know",
            component.label()
        ));
    }
    c.failure_reason = info.failure_reason.filter(|r| !r.is_empty());
    let expected = info
        .details
        .iter()
        .filter_map(|d| parse_part_name(prefix, &d.snapshot_name).map(|p| p.of))
        .max()
        .unwrap_or(info.details.len() as u32);
    c.parts = info
        .details
        .into_iter()
        .map(|d| SnapshotPart {
            version: parse_part_name(prefix, &d.snapshot_name).map(|p| p.version.to_string()),
            start_time_ms: d.start_time.as_deref().and_then(parse_time_ms),
            failures: d
                .failures
                .unwrap_or_default()
                .into_iter()
                .map(|f| {
                    f.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| f.to_string())
                })
                .collect(),
            name: d.snapshot_name,
            state: d.state,
        })
        .collect();
    c.parts.sort_by(|a, b| a.name.cmp(&b.name));
    let done = c.parts.iter().filter(|p| p.state == "SUCCESS").count() as u32;
    c.progress = Some(Progress {
        done,
        total: expected.max(c.parts.len() as u32),
    });
    c.versions = distinct(c.parts.iter().filter_map(|p| p.version.clone()));
    c.started_at_ms = c.parts.iter().filter_map(|p| p.start_time_ms).min();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_procedure_output_converts_with_null_failure_reason() {
        // Optimize's real answer from seeds/create-a-backup-procedure.txt.
        let body = r#"{"backupId":1748937221,"failureReason":null,"state":"COMPLETED","details":[
          {"snapshotName":"camunda_optimize_1748937221_8.7.1_part_1_of_2","state":"SUCCESS","startTime":"2025-06-03T07:53:54.389+0000","failures":[]},
          {"snapshotName":"camunda_optimize_1748937221_8.7.1_part_2_of_2","state":"SUCCESS","startTime":"2025-06-03T07:53:54.389+0000","failures":[]}]}"#;
        let info: ArtifactInfo = serde_json::from_str(body).unwrap();
        let c = to_component(Component::Optimize, "camunda_optimize_", info);
        assert_eq!(c.state, ComponentState::Completed);
        assert_eq!(c.failure_reason, None);
        assert_eq!(c.versions, vec!["8.7.1"]);
        assert_eq!(c.progress, Some(Progress { done: 2, total: 2 }));
        assert_eq!(c.started_at_ms, Some(1_748_937_234_389));
    }

    #[test]
    fn absent_fields_float_ids_and_missing_parts_are_tolerated() {
        let body = r#"{"backupId":7.0,"state":"INCOMPLETE","details":[{"snapshotName":"camunda_webapps_7_8.8.0_part_1_of_5","state":"SUCCESS"}]}"#;
        let c = to_component(
            Component::Webapps,
            "camunda_webapps_",
            serde_json::from_str(body).unwrap(),
        );
        assert_eq!(c.state, ComponentState::Incomplete);
        // One part of five is present: the count comes from the name, not the list length.
        assert_eq!(c.progress, Some(Progress { done: 1, total: 5 }));
        assert!(
            serde_json::from_str::<ArtifactInfo>(r#"{"backupId":-1,"state":"COMPLETED"}"#).is_err()
        );
    }
}
