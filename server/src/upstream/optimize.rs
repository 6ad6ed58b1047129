//! Optimize backups on its own management port (contract §6): the web-apps shape with a 202 on
//! POST, a `{errorCode, errorMessage, detailedMessage}` error body and always two parts.

use backup_domain::backup_set::{Component, ComponentBackup};
use reqwest::Method;
use serde_json::json;

use super::http::{Http, UpstreamError};
use super::webapps::{ArtifactInfo, to_component as artifact_component};

pub const SNAPSHOT_PREFIX: &str = "camunda_optimize_";

#[derive(Debug, Clone)]
pub struct OptimizeClient {
    http: Http,
}

impl OptimizeClient {
    pub fn new(http: Http) -> Self {
        OptimizeClient { http }
    }

    pub fn http(&self) -> &Http {
        &self.http
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
        let url = self.http.url(&["actuator", "backups"], &[]);
        self.http.listing_each(url, None, acc, each).await
    }

    /// A single object, or `None` for its 404 `notFoundError` (§6).
    pub async fn get(&self, backup_id: u64) -> Result<Option<ArtifactInfo>, UpstreamError> {
        let id = backup_id.to_string();
        let url = self.http.url(&["actuator", "backups", &id], &[]);
        self.http.get_optional(url).await
    }

    /// 202 with a message only (§6).
    pub async fn take(&self, backup_id: u64) -> Result<(), UpstreamError> {
        let url = self.http.url(&["actuator", "backups"], &[]);
        // §6: 202 with a message. An answer that is not a JSON object is not the component speaking: the
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

    pub async fn delete(&self, backup_id: u64) -> Result<(), UpstreamError> {
        let id = backup_id.to_string();
        let url = self.http.url(&["actuator", "backups", &id], &[]);
        self.http.expect_success(Method::DELETE, url, None).await
    }
}

pub fn to_component(info: ArtifactInfo) -> ComponentBackup {
    artifact_component(Component::Optimize, SNAPSHOT_PREFIX, info)
}
