//! The console's own JSON API (`/api/...`): what the server sends and the UI reads.

use serde::{Deserialize, Serialize};

use crate::audit::{AuditAction, AuditOutcome};
use crate::backup_set::{BackupSet, Component, Verdict};
use crate::string_enum::open_string_enum;

/// The API generation a cluster speaks (contract §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VersionProfile {
    /// 8.2 to 8.7: separate Operate, Tasklist and Zeebe gateway applications.
    #[serde(rename = "8.7")]
    V87,
    /// 8.8 and later: the Orchestration Cluster (`backupRuntime`, `backupHistory`).
    #[serde(rename = "8.8")]
    V88,
}

impl VersionProfile {
    pub fn label(self) -> &'static str {
        match self {
            VersionProfile::V87 => "8.7",
            VersionProfile::V88 => "8.8+",
        }
    }
}

/// The minor of a Camunda version ("8.10" and "8.10.2" are 10); 0 when it has none.
pub fn minor_of(version: &str) -> u32 {
    version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Where the web apps keep their data (8.9 added a relational database beside Elasticsearch and
/// OpenSearch). It decides what a backup is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondaryStorage {
    /// Elasticsearch or OpenSearch: web-apps and Optimize backups, the records snapshot, a soft
    /// pause around the Zeebe backup.
    #[default]
    Elasticsearch,
    /// A relational database (8.9+): a Zeebe runtime backup and the database's own dump, no
    /// web-apps backup, no soft pause, no records snapshot.
    Rdbms,
}

/// Which API the console calls for Zeebe's and the web apps' backups and for exporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagementApi {
    /// The management port's actuators (`:9600/actuator/...`), unauthenticated.
    #[default]
    Actuator,
    /// The 8.10 REST API (`:8080/v2/backups/...`), with HTTP Basic or OIDC credentials.
    Rest,
}

/// Whether a component answered its health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    Up,
    /// It answered, but not as a healthy component would (e.g. repository missing, health DOWN).
    Degraded,
    /// No answer, or a transport error: its state is unknown.
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHealth {
    pub component: Component,
    /// The management endpoint, without any credentials.
    pub endpoint: String,
    pub reachability: Reachability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSummary {
    pub name: String,
    pub profile: VersionProfile,
    /// The exact minor the file names ("8.10"); the profile is its API generation.
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub secondary_storage: SecondaryStorage,
    #[serde(default)]
    pub api: ManagementApi,
    pub components: Vec<ComponentHealth>,
    /// Maintenance mode, while it is on: every page shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<crate::schedule::Maintenance>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClustersResponse {
    pub clusters: Vec<ClusterSummary>,
}

/// The exporter phase of one partition, as each broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionExporting {
    pub partition_id: u32,
    /// `EXPORTING`, `SOFT_PAUSED`, `PAUSED`, ... verbatim; the least healthy one if brokers disagree.
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExportingStatus {
    pub partitions: Vec<PartitionExporting>,
    /// Set when the phase could not be read; then `partitions` is empty and the phase is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VerdictCounts {
    pub restorable: usize,
    /// Restorable except in components that have nothing under the ID.
    #[serde(default)]
    pub restorable_partial: usize,
    pub in_progress: usize,
    pub not_restorable: usize,
    pub unknown: usize,
}

impl VerdictCounts {
    pub fn of<'a>(sets: impl IntoIterator<Item = &'a BackupSet>) -> Self {
        let mut counts = VerdictCounts::default();
        for set in sets {
            *counts.get_mut(set.verdict) += 1;
        }
        counts
    }

    pub fn get(&self, verdict: Verdict) -> usize {
        match verdict {
            Verdict::Restorable => self.restorable,
            Verdict::RestorablePartial => self.restorable_partial,
            Verdict::InProgress => self.in_progress,
            Verdict::NotRestorable => self.not_restorable,
            Verdict::Unknown => self.unknown,
        }
    }

    /// Counts one more set of `verdict`.
    pub fn add(&mut self, verdict: Verdict) {
        *self.get_mut(verdict) += 1;
    }

    fn get_mut(&mut self, verdict: Verdict) -> &mut usize {
        match verdict {
            Verdict::Restorable => &mut self.restorable,
            Verdict::RestorablePartial => &mut self.restorable_partial,
            Verdict::InProgress => &mut self.in_progress,
            Verdict::NotRestorable => &mut self.not_restorable,
            Verdict::Unknown => &mut self.unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentError {
    pub component: Component,
    pub message: String,
}

/// `GET /api/clusters/{name}/backups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub cluster: String,
    pub profile: VersionProfile,
    pub generated_at_ms: i64,
    /// The components a complete backup needs on this cluster, in display order.
    pub components: Vec<Component>,
    /// Newest ID first, in the thin form (counts, no per-part lists).
    pub sets: Vec<BackupSet>,
    /// Components whose listing failed: their column is unknown in every set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub component_errors: Vec<ComponentError>,
    pub counts: VerdictCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable: Option<LatestRestorable>,
    /// The highest backup ID any component lists. Zeebe's real floor can be higher: deleted IDs are
    /// not listed but can never be reused (contract §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest_backup_id: Option<u64>,
    pub exporting: ExportingStatus,
    /// Only when the request asked for a page (`page`, `per_page`, `verdict`, `q` or `sort`):
    /// `sets` holds that page, `total` counts the sets matching the filter over every page. The
    /// counts, the latest restorable set and the highest ID are always over the whole history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<usize>,
    /// How fresh the catalog this answer was read from is; absent from a fresh merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogFreshness>,
}

/// The age of the stored catalog a history answer comes from, and of each component's listing in
/// it. A component whose last listing failed reads unknown in every set until one succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogFreshness {
    /// When the catalog answered from was made (its refresh finished).
    pub refreshed_at_ms: i64,
    pub age_seconds: i64,
    /// A refresh is under way: a newer catalog is coming.
    #[serde(default)]
    pub refreshing: bool,
    pub components: Vec<ComponentFreshness>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentFreshness {
    pub component: Component,
    /// The last listing of this component that succeeded, in this catalog or an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_at_ms: Option<i64>,
    /// Why the latest listing failed; the component is unknown in every set until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at_ms: Option<i64>,
}

/// `POST /api/clusters/{name}/catalog/refresh`: the catalog after the refresh it waited for, or
/// the one a refresh made moments ago (`refreshed: false`: no new listing was made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRefreshResponse {
    pub cluster: String,
    pub refreshed: bool,
    pub catalog: CatalogFreshness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestRestorable {
    pub backup_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<i64>,
}

impl HistoryResponse {
    /// Summary figures derived from the sets; the server and tests use the same code.
    pub fn summarize(
        sets: &[BackupSet],
        now_ms: i64,
    ) -> (VerdictCounts, Option<LatestRestorable>, Option<u64>) {
        let counts = VerdictCounts::of(sets);
        let latest = sets
            .iter()
            .filter(|s| s.verdict == Verdict::Restorable)
            .max_by_key(|s| s.backup_id)
            .map(|s| LatestRestorable {
                backup_id: s.backup_id,
                started_at_ms: s.started_at_ms,
                age_seconds: s.started_at_ms.map(|t| (now_ms - t).max(0) / 1000),
            });
        let highest = sets.iter().map(|s| s.backup_id).max();
        (counts, latest, highest)
    }
}

/// `GET /api/clusters/{name}/backups/{id}`: one set with every partition and part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupDetailResponse {
    pub cluster: String,
    pub set: BackupSet,
}

open_string_enum! {
    /// The `code` of the error envelope: what went wrong, for programs (the `message` is for
    /// people). The wire text is stable; a code added by a later server decodes as `Unknown`.
    pub enum ErrorCode("error code") {
        ClusterNotFound = "cluster_not_found",
        BackupNotFound = "backup_not_found",
        BadRequest = "bad_request",
        RouteNotFound = "route_not_found",
        /// The path exists, not with this method (405, with `Allow`).
        MethodNotAllowed = "method_not_allowed",
        PayloadTooLarge = "payload_too_large",
        UnsupportedMediaType = "unsupported_media_type",
        Unauthenticated = "unauthenticated",
        InvalidCredentials = "invalid_credentials",
        Forbidden = "forbidden",
        CsrfFailed = "csrf_failed",
        RateLimited = "rate_limited",
        TooManyStreams = "too_many_streams",
        UpstreamFailed = "upstream_failed",
        /// The cluster's catalog has never been listed and another console is listing it.
        CatalogNotReady = "catalog_not_ready",
        RunInProgress = "run_in_progress",
        PreflightFailed = "preflight_failed",
        RunNotFound = "run_not_found",
        RunNotRunning = "run_not_running",
        PlanChanged = "plan_changed",
        SelectionRefused = "selection_refused",
        CleanupNotFound = "cleanup_not_found",
        CleanupRefused = "cleanup_refused",
        Conflict = "conflict",
        CleanupWarning = "cleanup_warning",
        /// The cluster is in maintenance mode: no new runs or cleanups.
        Maintenance = "maintenance",
        /// No `[[notifications]]` channel has that name.
        ChannelNotFound = "channel_not_found",
        Internal = "internal",
        /// Never sent by the server: the UI's name for an error answer that was not the envelope
        /// (a proxy's error page, say).
        HttpError = "http_error",
        _ => Unknown,
    }
}

/// The one error envelope every `/api` route answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// Stable, machine-readable: `cluster_not_found`, `backup_not_found`, `bad_request`, ...
    pub code: ErrorCode,
    pub message: String,
    /// Structured detail for some codes (`plan_changed`: what the fresh plan does differently).
    /// Written by the server for automation; the UI reads `message`, so it is never decoded (a
    /// JSON value decoder would weigh on the wasm).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// What a user may do. Ordered: each role can do everything the one before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// History and overview.
    Viewer,
    /// Also: take backups, pause and resume exporting, rebalance.
    Operator,
    /// Also: retention policies, deletion, pins, schedules, the audit log.
    Admin,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Operator, Role::Admin]
            .into_iter()
            .find(|r| r.label() == text)
    }

    /// True when this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// `GET /api/session`: who is logged in, and the token every mutating request must echo in the
/// `X-CSRF-Token` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    /// Authenticated by a trusted proxy header rather than a console login.
    pub via_proxy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub user: String,
    /// The client address as the console saw it.
    pub client: String,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResponse {
    pub entries: Vec<AuditEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_from_their_labels() {
        assert!(Role::Admin.allows(Role::Operator) && Role::Admin.allows(Role::Viewer));
        assert!(Role::Operator.allows(Role::Viewer) && !Role::Operator.allows(Role::Admin));
        assert!(!Role::Viewer.allows(Role::Operator));
        for role in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::parse(role.label()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn error_codes_round_trip_and_unknown_ones_are_kept() {
        crate::string_enum::assert_open_string_enum!(ErrorCode::Unknown);
        assert_eq!(ErrorCode::RunInProgress.as_str(), "run_in_progress");
    }

    /// A newer server's code must not make the whole error unreadable to an older UI.
    #[test]
    fn an_envelope_with_an_unknown_code_still_decodes() {
        let body: ApiErrorBody = serde_json::from_str(
            r#"{"error": {"code": "quota_exceeded", "message": "too many", "details": {"n": 1}}}"#,
        )
        .unwrap();
        assert_eq!(body.error.code, ErrorCode::Unknown("quota_exceeded".into()));
        assert_eq!(body.error.message, "too many");
        let known: ApiErrorBody =
            serde_json::from_str(r#"{"error": {"code": "plan_changed", "message": "m"}}"#).unwrap();
        assert_eq!(known.error.code, ErrorCode::PlanChanged);
    }
}
