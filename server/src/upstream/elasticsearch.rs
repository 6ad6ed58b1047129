//! The Elasticsearch/OpenSearch snapshot repository, for the records snapshot
//! `camunda_zeebe_records_backup_{id}` (contract §7, §8.1 step 3.2).

use backup_domain::backup_set::{
    Component, ComponentBackup, ComponentState, Progress, SnapshotPart,
};
use backup_domain::naming::{
    RECORDS_SNAPSHOT_PREFIX, parse_records_snapshot, records_snapshot_name,
};
use backup_domain::upstream_state::SnapshotState;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, UpstreamError, decode, upstream_message};

/// Whether an Elasticsearch error body says the snapshot itself is missing (§7.2, §7.4), rather
/// than the repository or anything else.
fn says_snapshot_missing(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/type")
                .and_then(Value::as_str)
                .map(|t| t == "snapshot_missing_exception")
        })
        .unwrap_or(false)
}

/// `SnapshotInfo` (§7.1, §7.2); OpenSearch omits some fields, hence the defaults.
#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotInfo {
    pub snapshot: String,
    pub state: SnapshotState,
    #[serde(default)]
    pub start_time_in_millis: Option<i64>,
    #[serde(default)]
    pub end_time_in_millis: Option<i64>,
    #[serde(default)]
    pub indices: Vec<String>,
    #[serde(default)]
    pub failures: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct SnapshotList {
    #[serde(default)]
    snapshots: Vec<SnapshotInfo>,
}

#[derive(Debug, Clone)]
pub struct RecordsRepository {
    http: Http,
    repository: String,
    index_pattern: String,
}

impl RecordsRepository {
    pub fn new(http: Http, repository: String, index_pattern: String) -> Self {
        RecordsRepository {
            http,
            repository,
            index_pattern,
        }
    }

    /// The snapshot repository the records snapshots are taken in.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// `GET _snapshot/{repo}`: whether the repository exists (a 404 means it does not).
    pub async fn repository_exists(&self) -> Result<bool, UpstreamError> {
        let url = self.http.url(&["_snapshot", &self.repository], &[]);
        let (status, bytes) = self.http.send(Method::GET, url.clone(), None).await?;
        match status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(self.http.status_error(&Method::GET, &url, s, &bytes)),
        }
    }

    /// Every records snapshot: a wildcard, so no match is an empty list rather than a 404 (§7.2).
    pub async fn list(&self) -> Result<Vec<SnapshotInfo>, UpstreamError> {
        self.list_each(Vec::new(), Vec::push).await
    }

    /// The listing, each snapshot handed to `each` as it is decoded (see
    /// [`Http::listing_each`]): the `snapshots` array of the answer.
    pub async fn list_each<A: Send + 'static>(
        &self,
        acc: A,
        each: impl FnMut(&mut A, SnapshotInfo) + Send + 'static,
    ) -> Result<A, UpstreamError> {
        let pattern = format!("{RECORDS_SNAPSHOT_PREFIX}*");
        let url = self
            .http
            .url(&["_snapshot", &self.repository, &pattern], &[]);
        self.http
            .listing_each(url, Some("snapshots"), acc, each)
            .await
    }

    /// One records snapshot; `None` for `snapshot_missing_exception` (§7.2). Any other 404 (the
    /// repository is missing, the path is wrong) is an error, not an absent snapshot.
    pub async fn get(&self, backup_id: u64) -> Result<Option<SnapshotInfo>, UpstreamError> {
        let name = records_snapshot_name(backup_id);
        let url = self.http.url(&["_snapshot", &self.repository, &name], &[]);
        let (status, bytes) = self.http.send(Method::GET, url.clone(), None).await?;
        match status {
            StatusCode::NOT_FOUND if says_snapshot_missing(&bytes) => Ok(None),
            StatusCode::NOT_FOUND => Err(UpstreamError::NotFoundElsewhere {
                call: format!("Elasticsearch GET {}", url.path()),
                message: upstream_message(&bytes),
            }),
            s if s.is_success() => {
                let list: SnapshotList =
                    decode(&format!("Elasticsearch GET {}", url.path()), &bytes)?;
                Ok(list.snapshots.into_iter().find(|s| s.snapshot == name))
            }
            s => Err(self.http.status_error(&Method::GET, &url, s, &bytes)),
        }
    }

    /// `PUT _snapshot/{repo}/camunda_zeebe_records_backup_{id}?wait_for_completion=false` with the
    /// records indices (§7.1, §8.1): Elasticsearch answers once the snapshot has started, so the
    /// call fits in one request timeout however large the indices are. The caller then polls
    /// [`RecordsRepository::get`] until the snapshot ends.
    pub async fn start(&self, backup_id: u64) -> Result<(), UpstreamError> {
        let name = records_snapshot_name(backup_id);
        let url = self.http.url(
            &["_snapshot", &self.repository, &name],
            &[("wait_for_completion", "false")],
        );
        let body = json!({ "indices": self.index_pattern, "feature_states": ["none"] });
        // `{"accepted": true}` from Elasticsearch, a `SnapshotInfo` from some OpenSearch builds:
        // only the 2xx matters, the state is read by polling.
        self.http
            .json::<Value>(Method::PUT, url, Some(&body))
            .await
            .map(|_| ())
    }

    /// `DELETE _snapshot/{repo}/{name}` (§7.4). A 404 is `Status { status: 404 }` only when it
    /// says the snapshot is missing (it is already gone); any other 404 is
    /// [`UpstreamError::NotFoundElsewhere`], a failure (review L2).
    pub async fn delete(&self, backup_id: u64) -> Result<(), UpstreamError> {
        let name = records_snapshot_name(backup_id);
        let url = self.http.url(&["_snapshot", &self.repository, &name], &[]);
        let (status, bytes) = self.http.send(Method::DELETE, url.clone(), None).await?;
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND if !says_snapshot_missing(&bytes) => {
                Err(UpstreamError::NotFoundElsewhere {
                    call: format!("Elasticsearch DELETE {}", url.path()),
                    message: upstream_message(&bytes),
                })
            }
            s => Err(self.http.status_error(&Method::DELETE, &url, s, &bytes)),
        }
    }
}

/// A records snapshot in the console's terms; `None` if the name is not a records snapshot.
pub fn to_component(info: SnapshotInfo) -> Option<(u64, ComponentBackup)> {
    let id = parse_records_snapshot(&info.snapshot)?;
    let state = match info.state {
        SnapshotState::Success => ComponentState::Completed,
        SnapshotState::InProgress => ComponentState::InProgress,
        SnapshotState::Failed => ComponentState::Failed,
        SnapshotState::Partial => ComponentState::Incomplete,
        SnapshotState::Incompatible => ComponentState::Incompatible,
        SnapshotState::Unrecognized => ComponentState::Unknown,
    };
    let upstream = serde_json::to_value(info.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut c = ComponentBackup::new(Component::RecordsSnapshot, state);
    if info.state == SnapshotState::Partial {
        c.failure_reason = Some("the snapshot is PARTIAL: some shards failed".into());
    }
    if info.state == SnapshotState::Unrecognized {
        c.error = Some("Elasticsearch reported a snapshot state this console does not know".into());
    }
    c.started_at_ms = info.start_time_in_millis;
    c.progress = Some(Progress {
        done: u32::from(state == ComponentState::Completed),
        total: 1,
    });
    c.parts = vec![SnapshotPart {
        name: info.snapshot,
        state: upstream.clone(),
        start_time_ms: info.start_time_in_millis,
        failures: info
            .failures
            .into_iter()
            .map(|f| {
                f.get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| f.to_string())
            })
            .collect(),
        version: None,
    }];
    c.upstream_state = Some(upstream);
    Some((id, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn repository_of(sim: &camunda_sim::SimCluster) -> RecordsRepository {
        let endpoint = crate::config::Endpoint {
            url: url::Url::parse(&sim.endpoints.elasticsearch).unwrap(),
            credentials: None,
            timeout: std::time::Duration::from_secs(5),
            limits: Default::default(),
            tls: Default::default(),
        };
        let client = crate::upstream::client_builder().build().unwrap();
        RecordsRepository::new(
            Http::new(client, endpoint, "Elasticsearch"),
            "camunda".into(),
            "zeebe-record*".into(),
        )
    }

    /// Review L2: only a missing *snapshot* is "already gone"; a missing repository is not.
    #[tokio::test]
    async fn only_a_missing_snapshot_reads_as_gone() {
        let mut config = camunda_sim::SimConfig::new(backup_domain::api::VersionProfile::V87);
        config.timings.records_snapshot_ms = 10;
        let sim = camunda_sim::SimCluster::start(config).await.unwrap();
        let repo = repository_of(&sim).await;
        let gone = repo.delete(404_404).await.unwrap_err();
        assert!(
            matches!(gone, UpstreamError::Status { status: 404, .. }),
            "{gone}"
        );
        assert!(repo.get(404_404).await.unwrap().is_none());

        sim.sim.write().repository = None;
        let error = repo.delete(404_404).await.unwrap_err();
        assert!(
            matches!(error, UpstreamError::NotFoundElsewhere { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("repository_missing_exception"),
            "{error}"
        );
        assert!(matches!(
            repo.get(404_404).await,
            Err(UpstreamError::NotFoundElsewhere { .. })
        ));
    }

    #[test]
    fn the_procedure_output_converts() {
        // The ES answer from seeds/create-a-backup-procedure.txt (trimmed).
        let body = r#"{"snapshot":"camunda_zeebe_records_backup_1748937221","uuid":"1p_HdzKeTZ-zY-SN1LJ9VQ","repository":"camunda","indices":["zeebe-record_process_8.7.2_2025-06-03"],"state":"SUCCESS","start_time_in_millis":1748937910633,"failures":[],"shards":{"total":9,"failed":0,"successful":9}}"#;
        let (id, c) = to_component(serde_json::from_str(body).unwrap()).unwrap();
        assert_eq!(id, 1748937221);
        assert_eq!(c.state, ComponentState::Completed);
        assert_eq!(c.started_at_ms, Some(1748937910633));
        let partial = body.replace("SUCCESS", "PARTIAL");
        let (_, c) = to_component(serde_json::from_str(&partial).unwrap()).unwrap();
        assert_eq!(c.state, ComponentState::Incomplete);
        let other = body.replace("camunda_zeebe_records_backup_", "nightly_");
        assert!(to_component(serde_json::from_str(&other).unwrap()).is_none());
    }
}
