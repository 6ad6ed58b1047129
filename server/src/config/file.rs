//! The file as written: its serde schema, with unknown keys refused. Nothing here is checked
//! beyond its type; `resolve` does that and names the key.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    pub(super) server: FileServer,
    #[serde(default)]
    pub(super) store: FileStore,
    pub(super) auth: Option<FileAuthSection>,
    #[serde(default)]
    pub(super) procedure: FileProcedure,
    #[serde(default)]
    pub(super) retention: FileRetentionSettings,
    #[serde(default)]
    pub(super) upstream: FileUpstream,
    #[serde(default)]
    pub(super) status: FileStatus,
    #[serde(default)]
    pub(super) catalog: FileCatalog,
    #[serde(default)]
    pub(super) metrics: FileMetrics,
    #[serde(default)]
    pub(super) clusters: Vec<FileCluster>,
    #[serde(default)]
    pub(super) notifications: Vec<FileNotification>,
    #[serde(default)]
    pub(super) notify: FileNotify,
}

/// `[notify]`: how often conditions are looked at and deliveries retried.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileNotify {
    /// Milliseconds between two looks at the clusters' state and the outbox, 5000 by default.
    pub(super) interval_ms: Option<u64>,
    /// The first retry delay, doubled after each failed attempt, 5000 by default.
    pub(super) retry_base_ms: Option<u64>,
    /// The longest retry delay, 600000 (10 minutes) by default.
    pub(super) retry_max_ms: Option<u64>,
    /// A delivery still failing this long after it was queued is given up, 86400 by default.
    pub(super) give_up_after_secs: Option<u64>,
    /// Exporting paused this long with no run holding the cluster is notified, 900 by default.
    pub(super) paused_after_secs: Option<u64>,
    /// The name a message gives as its sender (`console`), `backup-console` by default.
    pub(super) console_name: Option<String>,
}

/// `[[notifications]]`: one channel. Which keys apply depends on `kind`; `resolve` refuses the
/// others by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileNotification {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) events: Option<Vec<String>>,
    pub(super) clusters: Option<Vec<String>>,
    pub(super) url: Option<String>,
    pub(super) url_env: Option<String>,
    pub(super) secret_env: Option<String>,
    /// PagerDuty only: the integration's routing key, from the environment.
    pub(super) routing_key_env: Option<String>,
    pub(super) ca_file: Option<String>,
    pub(super) tls_server_name: Option<String>,
    pub(super) smtp_host: Option<String>,
    pub(super) smtp_port: Option<u16>,
    pub(super) starttls: Option<String>,
    pub(super) username_env: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) from: Option<String>,
    pub(super) to: Option<Vec<String>>,
}

/// `[metrics]`: the Prometheus listener, off unless `listen` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMetrics {
    pub(super) listen: Option<String>,
}

/// `[store]`: the application's own state.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileStore {
    /// The embedded database (sessions, audit log, runs, retention); relative paths are from the
    /// working directory.
    pub(super) database: Option<String>,
}

/// `[status]`: the per-cluster status poller behind the Overview.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileStatus {
    /// Seconds between two status rounds (reachability, exporting phase), 10 by default.
    pub(super) poll_interval_secs: Option<u64>,
    /// Longest wait for one probe of a round, 5 by default; a cluster's shorter
    /// `request_timeout_secs` wins.
    pub(super) probe_timeout_secs: Option<u64>,
}

/// `[catalog]`: how often each cluster's stored backup catalog is listed again.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCatalog {
    /// Seconds between two refreshes while someone views the cluster, 60 by default.
    pub(super) refresh_secs: Option<u64>,
    /// Seconds between two refreshes while nobody does, 900 by default: a Zeebe listing scans
    /// its backup store, which a bucket bills per request.
    pub(super) idle_refresh_secs: Option<u64>,
    /// Seconds a viewer's refresh waits after the last one before it lists again, 5 by default
    /// (sooner, it answers the catalog as it is): a crowd of Refresh clicks costs one listing.
    pub(super) min_refresh_gap_secs: Option<u64>,
}

/// `[upstream]`: caps on what the console reads from components.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileUpstream {
    /// Largest listing answer (every backup of a component), 268435456 (256 MiB) by default.
    pub(super) max_listing_bytes: Option<u64>,
    /// Largest other answer (one backup's status, a mutation), 1048576 (1 MiB) by default.
    pub(super) max_answer_bytes: Option<u64>,
    /// Timeout of listings when longer than the cluster's request timeout; unset, they keep it.
    pub(super) listing_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRetentionSettings {
    /// How many DELETE calls a cleanup runs at once, 8 by default.
    pub(super) concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileProcedure {
    /// How long one step may take (a component's backup, the records snapshot), 3600 by default.
    pub(super) step_timeout_secs: Option<u64>,
    /// How long resuming exporting is retried before the run reports it still paused, 300 by default.
    pub(super) resume_deadline_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAuthSection {
    #[serde(default)]
    pub(super) users: Vec<FileUser>,
    /// Deprecated for `[store] database`, which it must not contradict.
    pub(super) database: Option<String>,
    pub(super) session_idle_timeout_secs: Option<u64>,
    pub(super) session_absolute_timeout_secs: Option<u64>,
    /// Argon2 checks at once, and logins allowed to wait for one.
    pub(super) login_verify_concurrency: Option<usize>,
    pub(super) login_verify_queue: Option<usize>,
    /// Read the client from `X-Forwarded-For`, sent by `forwarded_for_proxies` (default: `[auth.proxy]
    /// trusted_proxies`) only.
    #[serde(default)]
    pub(super) trusted_forwarded_for: bool,
    pub(super) forwarded_for_proxies: Option<Vec<String>>,
    pub(super) proxy: Option<FileProxy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileUser {
    pub(super) name: String,
    /// From `backup-console hash-password`.
    pub(super) password_hash: String,
    pub(super) role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileProxy {
    pub(super) user_header: String,
    pub(super) groups_header: Option<String>,
    pub(super) trusted_proxies: Vec<String>,
    #[serde(default)]
    pub(super) group_roles: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileServer {
    pub(super) listen: Option<String>,
    /// PEM certificate chain and key: the console then serves HTTPS and marks cookies Secure.
    pub(super) tls_cert: Option<String>,
    pub(super) tls_key: Option<String>,
    /// TLS is terminated in front of the console (an ingress): browsers reach it over HTTPS only.
    #[serde(default)]
    pub(super) https_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCluster {
    pub(super) name: String,
    pub(super) version: String,
    /// `actuator` (default) or `rest` (8.10 and later): which API backs up Zeebe and the web apps.
    pub(super) api: Option<String>,
    /// `elasticsearch` (default; OpenSearch too) or `rdbms` (8.9 and later).
    pub(super) secondary_storage: Option<String>,
    /// Per-request timeout towards this cluster's components, in seconds.
    pub(super) request_timeout_secs: Option<u64>,
    pub(super) zeebe: Option<FileEndpoint>,
    pub(super) orchestration: Option<FileEndpoint>,
    pub(super) operate: Option<FileEndpoint>,
    pub(super) tasklist: Option<FileEndpoint>,
    pub(super) optimize: Option<FileEndpoint>,
    pub(super) elasticsearch: Option<FileElasticsearch>,
    pub(super) retention: Option<FileRetention>,
    pub(super) backup: Option<FileBackup>,
    /// The recovery point objective: the newest restorable set may be this old (default 26).
    pub(super) rpo_hours: Option<u32>,
    /// `[[clusters.databases]]`: PostgreSQL databases the console dumps as steps of a backup.
    #[serde(default)]
    pub(super) databases: Vec<FileDatabase>,
    /// `[clusters.deployment]`: how the cluster is installed, for its restore runbook.
    pub(super) deployment: Option<FileDeployment>,
}

/// `[[clusters.databases]]`: one PostgreSQL database dumped with `pg_dump --format=custom`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDatabase {
    /// `web-modeler` or `rdbms` (the RDBMS secondary storage).
    pub(super) name: String,
    /// The environment variable holding the `postgres://` URL (a secret: it has the password).
    pub(super) url_env: String,
    /// Where the dumps go: `<directory>/<cluster>/<backup-id>/<name>.dump`.
    pub(super) directory: String,
    /// The first backup ID with this dump: older sets are not expected to hold it.
    pub(super) since_backup_id: Option<u64>,
    pub(super) pg_dump: Option<String>,
    pub(super) pg_restore: Option<String>,
    /// The dump's timeout; the procedure's step timeout when not set.
    pub(super) timeout_secs: Option<u64>,
}

/// `[clusters.backup]`: the backup schedule until an admin saves another from the console.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileBackup {
    pub(super) schedule: Option<String>,
    /// Zeebe's own backup scheduler takes this cluster's backups (Camunda 8.9 and later): the
    /// console then refuses a schedule of its own.
    #[serde(default)]
    pub(super) zeebe_scheduler: bool,
}

/// `[clusters.retention]`: the policy until an admin saves another from the console.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRetention {
    pub(super) keep_last: Option<u32>,
    pub(super) max_age_days: Option<u32>,
    pub(super) min_restorable: Option<u32>,
    pub(super) keep_failed: Option<u32>,
    pub(super) schedule: Option<String>,
    /// Sets never deleted, whatever the database says (its pins are lost with it).
    #[serde(default)]
    pub(super) pinned: Vec<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEndpoint {
    /// Optional only under `api = "rest"` (no management port: no exporter phase).
    #[serde(default)]
    pub(super) url: String,
    pub(super) auth: Option<FileAuth>,
    /// Broker management URLs for `/actuator/partitions` when the gateway does not serve it.
    #[serde(default)]
    pub(super) brokers: Vec<String>,
    /// The first backup ID this component was part of: older sets are not expected to hold it.
    pub(super) since_backup_id: Option<u64>,
    /// PEM file of CA certificates to trust for this endpoint's HTTPS, besides the web roots.
    pub(super) ca_file: Option<String>,
    /// The name the server's certificate is checked against, when not the URL's host.
    pub(super) tls_server_name: Option<String>,
    /// `[clusters.orchestration.rest]`: the 8.10 REST API, with `api = "rest"` only.
    pub(super) rest: Option<FileRest>,
}

/// `[clusters.orchestration.rest]`: the REST API (`:8080/v2`) and its own credentials, which never
/// go to the management port or the brokers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRest {
    pub(super) url: String,
    pub(super) auth: Option<FileRestAuth>,
    pub(super) ca_file: Option<String>,
    pub(super) tls_server_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum FileRestAuth {
    Basic {
        username_env: String,
        password_env: String,
    },
    /// The client-credentials grant of an OpenID provider.
    Oidc {
        token_url: String,
        client_id_env: String,
        client_secret_env: String,
        audience: Option<String>,
        scope: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileElasticsearch {
    pub(super) url: String,
    #[serde(default = "default_repository")]
    pub(super) repository: String,
    #[serde(default = "default_records_pattern")]
    pub(super) records_index_pattern: String,
    pub(super) auth: Option<FileAuth>,
    /// The first backup ID with a records snapshot: older sets are not expected to hold one.
    pub(super) since_backup_id: Option<u64>,
    pub(super) ca_file: Option<String>,
    pub(super) tls_server_name: Option<String>,
}

pub(super) fn default_repository() -> String {
    "camunda".into()
}

pub(super) fn default_records_pattern() -> String {
    "zeebe-record*".into()
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum FileAuth {
    Basic {
        username_env: String,
        password_env: String,
    },
    ApiKey {
        key_env: String,
    },
    Bearer {
        token_env: String,
    },
}

/// `[clusters.deployment]`: facts of the installation the restore runbook fills in; each may be
/// left out and becomes a marked placeholder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDeployment {
    pub(super) helm_release: Option<String>,
    pub(super) namespace: Option<String>,
    pub(super) chart_version: Option<String>,
    pub(super) values_file: Option<String>,
    /// `s3`, `gcs`, `azure` or `filesystem`.
    pub(super) backup_store: Option<String>,
    pub(super) backup_store_bucket: Option<String>,
    pub(super) backup_store_base_path: Option<String>,
    pub(super) backup_store_secret: Option<String>,
    pub(super) index_prefix: Option<String>,
    pub(super) context_path: Option<String>,
    pub(super) elasticsearch_url: Option<String>,
}
