//! The console's configuration: a TOML file listing clusters and their management endpoints.
//! Credentials are never written in the file, only the names of environment variables that hold
//! them. Every error names the key at fault and why.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backup_domain::api::{Role, VersionProfile};
use serde::Deserialize;
use url::Url;

use crate::auth::{AuthConfig, ProxyConfig, User, password};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Env overrides look like `BACKUP_CONSOLE_<CLUSTER>_<COMPONENT>_URL` (see [`apply_env_overrides`]).
const ENV_PREFIX: &str = "BACKUP_CONSOLE_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

// ---- The file as written -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: FileServer,
    auth: Option<FileAuthSection>,
    #[serde(default)]
    procedure: FileProcedure,
    #[serde(default)]
    retention: FileRetentionSettings,
    #[serde(default)]
    upstream: FileUpstream,
    #[serde(default)]
    status: FileStatus,
    #[serde(default)]
    clusters: Vec<FileCluster>,
}

/// `[status]`: the per-cluster status poller behind the Overview.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStatus {
    /// Seconds between two status rounds (reachability, exporting phase), 10 by default.
    poll_interval_secs: Option<u64>,
    /// Longest wait for one probe of a round, 5 by default; a cluster's shorter
    /// `request_timeout_secs` wins.
    probe_timeout_secs: Option<u64>,
}

/// `[upstream]`: caps on what the console reads from components.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    /// Largest listing answer (every backup of a component), 268435456 (256 MiB) by default.
    max_listing_bytes: Option<u64>,
    /// Largest other answer (one backup's status, a mutation), 1048576 (1 MiB) by default.
    max_answer_bytes: Option<u64>,
    /// Timeout of listings when longer than the cluster's request timeout; unset, they keep it.
    listing_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetentionSettings {
    /// How many DELETE calls a cleanup runs at once, 8 by default.
    concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProcedure {
    /// How long one step may take (a component's backup, the records snapshot), 3600 by default.
    step_timeout_secs: Option<u64>,
    /// How long resuming exporting is retried before the run reports it still paused, 300 by default.
    resume_deadline_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuthSection {
    #[serde(default)]
    users: Vec<FileUser>,
    /// The embedded database (sessions, audit log); relative paths are from the working directory.
    database: Option<String>,
    session_idle_timeout_secs: Option<u64>,
    session_absolute_timeout_secs: Option<u64>,
    /// Argon2 checks at once, and logins allowed to wait for one.
    login_verify_concurrency: Option<usize>,
    login_verify_queue: Option<usize>,
    /// Read the client from `X-Forwarded-For`, sent by `forwarded_for_proxies` (default: `[auth.proxy]
    /// trusted_proxies`) only.
    #[serde(default)]
    trusted_forwarded_for: bool,
    forwarded_for_proxies: Option<Vec<String>>,
    proxy: Option<FileProxy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    name: String,
    /// From `backup-console hash-password`.
    password_hash: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProxy {
    user_header: String,
    groups_header: Option<String>,
    trusted_proxies: Vec<String>,
    #[serde(default)]
    group_roles: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    listen: Option<String>,
    /// PEM certificate chain and key: the console then serves HTTPS and marks cookies Secure.
    tls_cert: Option<String>,
    tls_key: Option<String>,
    /// TLS is terminated in front of the console (an ingress): browsers reach it over HTTPS only.
    #[serde(default)]
    https_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCluster {
    name: String,
    version: String,
    /// Per-request timeout towards this cluster's components, in seconds.
    request_timeout_secs: Option<u64>,
    zeebe: Option<FileEndpoint>,
    orchestration: Option<FileEndpoint>,
    operate: Option<FileEndpoint>,
    tasklist: Option<FileEndpoint>,
    optimize: Option<FileEndpoint>,
    elasticsearch: Option<FileElasticsearch>,
    retention: Option<FileRetention>,
}

/// `[clusters.retention]`: the policy until an admin saves another from the console.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetention {
    keep_last: Option<u32>,
    max_age_days: Option<u32>,
    min_restorable: Option<u32>,
    keep_failed: Option<u32>,
    schedule: Option<String>,
    /// Sets never deleted, whatever the database says (its pins are lost with it).
    #[serde(default)]
    pinned: Vec<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEndpoint {
    url: String,
    auth: Option<FileAuth>,
    /// Broker management URLs for `/actuator/partitions` when the gateway does not serve it.
    #[serde(default)]
    brokers: Vec<String>,
    /// The first backup ID this component was part of: older sets are not expected to hold it.
    since_backup_id: Option<u64>,
    /// PEM file of CA certificates to trust for this endpoint's HTTPS, besides the web roots.
    ca_file: Option<String>,
    /// The name the server's certificate is checked against, when not the URL's host.
    tls_server_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileElasticsearch {
    url: String,
    #[serde(default = "default_repository")]
    repository: String,
    #[serde(default = "default_records_pattern")]
    records_index_pattern: String,
    auth: Option<FileAuth>,
    /// The first backup ID with a records snapshot: older sets are not expected to hold one.
    since_backup_id: Option<u64>,
    ca_file: Option<String>,
    tls_server_name: Option<String>,
}

fn default_repository() -> String {
    "camunda".into()
}

fn default_records_pattern() -> String {
    "zeebe-record*".into()
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FileAuth {
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

// ---- The configuration as used ---------------------------------------------------------------

/// A secret read from the environment. It has no `Display`, and its `Debug` is redacted, so it
/// cannot reach a log line or an API response by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub enum Credentials {
    Basic {
        username: String,
        password: Secret,
    },
    /// Elasticsearch `Authorization: ApiKey <key>`.
    ApiKey(Secret),
    Bearer(Secret),
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: Url,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    /// `[upstream]`: size caps and the listing timeout.
    pub limits: crate::upstream::Limits,
    /// `ca_file` and `tls_server_name`.
    pub tls: crate::upstream::OutboundTls,
}

#[derive(Debug, Clone)]
pub struct ElasticsearchConfig {
    pub endpoint: Endpoint,
    pub repository: String,
    pub records_index_pattern: String,
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub profile: VersionProfile,
    /// The Zeebe gateway (8.7) or the Orchestration Cluster (8.8), which also serves web-apps backups.
    pub zeebe: Endpoint,
    pub brokers: Vec<Endpoint>,
    pub operate: Option<Endpoint>,
    pub tasklist: Option<Endpoint>,
    pub optimize: Option<Endpoint>,
    pub elasticsearch: Option<ElasticsearchConfig>,
    /// The policy of `[clusters.retention]`, if the file has one.
    pub retention: Option<backup_domain::retention::RetentionPolicy>,
    /// `[clusters.retention] pinned`: never deleted, beside the pins saved in the database.
    pub pinned: Vec<u64>,
    /// Components added after the cluster had backups (`since_backup_id`): sets below the ID
    /// are not expected to hold them.
    pub expected_since: Vec<(backup_domain::Component, u64)>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// The status poller (`[status]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusConfig {
    pub poll_interval: Duration,
    pub probe_timeout: Duration,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            poll_interval: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(5),
        }
    }
}

/// `[status]` with its defaults; both values must be at least one second.
fn status_config(file: &FileStatus) -> Result<StatusConfig, ConfigError> {
    let defaults = StatusConfig::default();
    let secs = |value: Option<u64>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(invalid(
            format!("status.{key}"),
            "must be at least 1 second",
        )),
        Some(n) if n > 3600 => Err(invalid(
            format!("status.{key}"),
            "must be at most 3600 seconds",
        )),
        Some(n) => Ok(Duration::from_secs(n)),
    };
    Ok(StatusConfig {
        poll_interval: secs(
            file.poll_interval_secs,
            "poll_interval_secs",
            defaults.poll_interval,
        )?,
        probe_timeout: secs(
            file.probe_timeout_secs,
            "probe_timeout_secs",
            defaults.probe_timeout,
        )?,
    })
}

/// Timeouts of the backup procedure (`[procedure]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcedureConfig {
    pub step_timeout: Duration,
    pub resume_deadline: Duration,
}

impl Default for ProcedureConfig {
    fn default() -> Self {
        ProcedureConfig {
            step_timeout: Duration::from_secs(3600),
            resume_deadline: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub procedure: ProcedureConfig,
    /// `[status]`: how often each cluster's status is taken.
    pub status: StatusConfig,
    /// `[retention] concurrency`: DELETE calls a cleanup runs at once.
    pub retention_concurrency: usize,
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// `[server] https_only`: browsers reach the console over HTTPS (its own TLS, or an ingress
    /// in front): cookies are `Secure` with the `__Host-` prefix, answers carry HSTS.
    pub https_only: bool,
    /// `None` when the file has no `[auth]` section; `serve` refuses to start without one.
    pub auth: Option<AuthConfig>,
    pub clusters: Vec<ClusterConfig>,
}

impl Config {
    /// The embedded database: `[auth] database`, or `backup-console.db` in the working directory
    /// (the `backup` CLI needs one even when the file has no `[auth]`).
    pub fn database_path(&self) -> PathBuf {
        self.auth.as_ref().map_or_else(
            || PathBuf::from("backup-console.db"),
            |a| a.database.clone(),
        )
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string(), &|key| {
            std::env::var(key).ok()
        })
    }

    /// Parses a configuration. `env` looks up environment variables (tests pass their own).
    pub fn parse(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        apply_env_overrides(&mut file, env);
        resolve(file, env)
    }
}

/// `BACKUP_CONSOLE_LISTEN`, and per cluster `BACKUP_CONSOLE_<CLUSTER>_<COMPONENT>_URL` and
/// `BACKUP_CONSOLE_<CLUSTER>_ELASTICSEARCH_REPOSITORY`, where `<CLUSTER>` is the name upper-cased
/// with `-` as `_` and `<COMPONENT>` one of ZEEBE, ORCHESTRATION, OPERATE, TASKLIST, OPTIMIZE,
/// ELASTICSEARCH. An override replaces the URL of a section the file has, or adds the section.
fn apply_env_overrides(file: &mut FileConfig, env: &dyn Fn(&str) -> Option<String>) {
    if let Some(listen) = env(&format!("{ENV_PREFIX}LISTEN")) {
        file.server.listen = Some(listen);
    }
    for cluster in &mut file.clusters {
        let key = |component: &str, field: &str| {
            format!(
                "{ENV_PREFIX}{}_{component}_{field}",
                cluster.name.to_uppercase().replace('-', "_")
            )
        };
        let endpoint = |slot: &mut Option<FileEndpoint>, name: &str| {
            if let Some(url) = env(&key(name, "URL")) {
                match slot {
                    Some(e) => e.url = url,
                    None => {
                        *slot = Some(FileEndpoint {
                            url,
                            auth: None,
                            brokers: Vec::new(),
                            since_backup_id: None,
                            ca_file: None,
                            tls_server_name: None,
                        })
                    }
                }
            }
        };
        let (es_key, es_repo_key) = (
            key("ELASTICSEARCH", "URL"),
            key("ELASTICSEARCH", "REPOSITORY"),
        );
        endpoint(&mut cluster.zeebe, "ZEEBE");
        endpoint(&mut cluster.orchestration, "ORCHESTRATION");
        endpoint(&mut cluster.operate, "OPERATE");
        endpoint(&mut cluster.tasklist, "TASKLIST");
        endpoint(&mut cluster.optimize, "OPTIMIZE");
        if let Some(url) = env(&es_key) {
            match &mut cluster.elasticsearch {
                Some(es) => es.url = url,
                None => {
                    cluster.elasticsearch = Some(FileElasticsearch {
                        url,
                        repository: default_repository(),
                        records_index_pattern: default_records_pattern(),
                        auth: None,
                        since_backup_id: None,
                        ca_file: None,
                        tls_server_name: None,
                    })
                }
            }
        }
        if let (Some(repo), Some(es)) = (env(&es_repo_key), cluster.elasticsearch.as_mut()) {
            es.repository = repo;
        }
    }
}

fn resolve(file: FileConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let listen_text = file.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse().map_err(|_| {
        invalid(
            "server.listen",
            format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
        )
    })?;
    if file.clusters.is_empty() {
        return Err(invalid(
            "clusters",
            "at least one [[clusters]] entry is required",
        ));
    }
    let tls = match (file.server.tls_cert, file.server.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        }),
        (Some(_), None) => {
            return Err(invalid(
                "server.tls_key",
                "is required with server.tls_cert",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "server.tls_cert",
                "is required with server.tls_key",
            ));
        }
    };
    let auth = file.auth.map(resolve_auth).transpose()?;
    let mut clusters: Vec<ClusterConfig> = Vec::new();
    for (i, c) in file.clusters.into_iter().enumerate() {
        let at = format!("clusters[{i}]");
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(invalid(
                format!("{at}.name"),
                "use letters, digits, `-` and `_` only (it appears in URLs)",
            ));
        }
        if clusters.iter().any(|other| other.name == c.name) {
            return Err(invalid(
                format!("{at}.name"),
                format!("`{}` is used by another cluster", c.name),
            ));
        }
        let at = format!("clusters.{}", c.name);
        let profile = match c.version.as_str() {
            "8.2" | "8.3" | "8.4" | "8.5" | "8.6" | "8.7" => VersionProfile::V87,
            "8.8" | "8.9" | "8.10" => VersionProfile::V88,
            other => {
                return Err(invalid(
                    format!("{at}.version"),
                    format!(
                        "`{other}` is not supported; use \"8.7\" (8.2 to 8.7) or \"8.8\" (8.8 and later)"
                    ),
                ));
            }
        };
        let timeout = Duration::from_secs(c.request_timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
        if timeout.is_zero() {
            return Err(invalid(
                format!("{at}.request_timeout_secs"),
                "must be at least 1",
            ));
        }
        let ep = |e: FileEndpoint, key: &str| -> Result<(Endpoint, Vec<Endpoint>), ConfigError> {
            let mut endpoint = endpoint(
                &e.url,
                e.auth.as_ref(),
                timeout,
                &format!("{at}.{key}"),
                env,
            )?;
            endpoint.tls = outbound_tls(
                &endpoint.url,
                e.ca_file.as_deref(),
                e.tls_server_name.as_deref(),
                &format!("{at}.{key}"),
            )?;
            let brokers = e
                .brokers
                .iter()
                .enumerate()
                .map(|(j, url)| endpoint_with(&endpoint, url, &format!("{at}.{key}.brokers[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((endpoint, brokers))
        };
        let (zeebe, brokers) = match profile {
            VersionProfile::V87 => {
                if c.orchestration.is_some() {
                    return Err(invalid(
                        format!("{at}.orchestration"),
                        "is for version 8.8 and later; a 8.7 cluster uses [zeebe], [operate] and [tasklist]",
                    ));
                }
                let z = c.zeebe.ok_or_else(|| {
                    invalid(
                        format!("{at}.zeebe"),
                        "is required for version 8.7 (the Zeebe gateway management API, port 9600)",
                    )
                })?;
                if z.since_backup_id.is_some() {
                    return Err(invalid(
                        format!("{at}.zeebe.since_backup_id"),
                        "does not apply: every backup has a Zeebe part",
                    ));
                }
                ep(z, "zeebe")?
            }
            VersionProfile::V88 => {
                for (present, key) in [
                    (c.zeebe.is_some(), "zeebe"),
                    (c.operate.is_some(), "operate"),
                    (c.tasklist.is_some(), "tasklist"),
                ] {
                    if present {
                        return Err(invalid(
                            format!("{at}.{key}"),
                            "is for version 8.7; from 8.8 Zeebe, Operate and Tasklist are one [orchestration] endpoint",
                        ));
                    }
                }
                let o = c.orchestration.ok_or_else(|| invalid(format!("{at}.orchestration"), "is required for version 8.8 (the Orchestration Cluster management API, port 9600)"))?;
                if o.since_backup_id.is_some() {
                    return Err(invalid(
                        format!("{at}.orchestration.since_backup_id"),
                        "does not apply: every backup has an orchestration part",
                    ));
                }
                ep(o, "orchestration")?
            }
        };
        let single =
            |e: Option<FileEndpoint>, key: &str| -> Result<Option<Endpoint>, ConfigError> {
                e.map(|e| ep(e, key).map(|(endpoint, _)| endpoint))
                    .transpose()
            };
        // `since_backup_id` is read before the endpoints are consumed.
        let mut expected_since = Vec::new();
        for (since, component) in [
            (
                c.operate.as_ref().and_then(|e| e.since_backup_id),
                backup_domain::Component::Operate,
            ),
            (
                c.tasklist.as_ref().and_then(|e| e.since_backup_id),
                backup_domain::Component::Tasklist,
            ),
            (
                c.optimize.as_ref().and_then(|e| e.since_backup_id),
                backup_domain::Component::Optimize,
            ),
            (
                c.elasticsearch.as_ref().and_then(|e| e.since_backup_id),
                backup_domain::Component::RecordsSnapshot,
            ),
        ] {
            if let Some(since) = since {
                expected_since.push((component, since));
            }
        }
        let operate = single(c.operate, "operate")?;
        let tasklist = single(c.tasklist, "tasklist")?;
        if profile == VersionProfile::V87 && (operate.is_none() != tasklist.is_none()) {
            let missing = if operate.is_none() {
                "operate"
            } else {
                "tasklist"
            };
            // A deployment may run without web apps, but a backup needs both when either runs.
            tracing::warn!(cluster = %c.name, "{missing} is not configured: its backups will not be checked");
        }
        let optimize = single(c.optimize, "optimize")?;
        let elasticsearch = match c.elasticsearch {
            None => None,
            Some(es) => {
                if es.repository.is_empty() {
                    return Err(invalid(
                        format!("{at}.elasticsearch.repository"),
                        "must name the snapshot repository",
                    ));
                }
                if es.records_index_pattern.is_empty() {
                    return Err(invalid(
                        format!("{at}.elasticsearch.records_index_pattern"),
                        "must not be empty",
                    ));
                }
                let mut es_endpoint = endpoint(
                    &es.url,
                    es.auth.as_ref(),
                    timeout,
                    &format!("{at}.elasticsearch"),
                    env,
                )?;
                es_endpoint.tls = outbound_tls(
                    &es_endpoint.url,
                    es.ca_file.as_deref(),
                    es.tls_server_name.as_deref(),
                    &format!("{at}.elasticsearch"),
                )?;
                Some(ElasticsearchConfig {
                    endpoint: es_endpoint,
                    repository: es.repository,
                    records_index_pattern: es.records_index_pattern,
                })
            }
        };
        let pinned = c
            .retention
            .as_ref()
            .map(|r| r.pinned.clone())
            .unwrap_or_default();
        let retention = match c.retention {
            None => None,
            // Only pins: no policy is configured.
            Some(r)
                if r.keep_last.is_none()
                    && r.max_age_days.is_none()
                    && r.min_restorable.is_none()
                    && r.keep_failed.is_none()
                    && r.schedule.is_none() =>
            {
                None
            }
            Some(r) => {
                let defaults = backup_domain::retention::RetentionPolicy::default();
                let policy = backup_domain::retention::RetentionPolicy {
                    keep_last: r.keep_last,
                    max_age_days: r.max_age_days,
                    min_restorable: r.min_restorable.unwrap_or(defaults.min_restorable),
                    keep_failed: r.keep_failed.unwrap_or(defaults.keep_failed),
                    schedule: r.schedule.filter(|s| !s.trim().is_empty()),
                };
                policy
                    .validate()
                    .map_err(|e| invalid(format!("{at}.retention.{}", e.field), e.message))?;
                Some(policy)
            }
        };
        clusters.push(ClusterConfig {
            retention,
            pinned,
            expected_since,
            name: c.name,
            profile,
            zeebe,
            brokers,
            operate,
            tasklist,
            optimize,
            elasticsearch,
        });
    }
    let defaults = ProcedureConfig::default();
    let positive = |value: Option<u64>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(invalid(key, "must be at least 1 second")),
        Some(secs) => Ok(Duration::from_secs(secs)),
    };
    let procedure = ProcedureConfig {
        step_timeout: positive(
            file.procedure.step_timeout_secs,
            "procedure.step_timeout_secs",
            defaults.step_timeout,
        )?,
        resume_deadline: positive(
            file.procedure.resume_deadline_secs,
            "procedure.resume_deadline_secs",
            defaults.resume_deadline,
        )?,
    };
    let retention_concurrency = match file.retention.concurrency {
        None => 8,
        Some(n @ 1..=64) => n,
        Some(_) => return Err(invalid("retention.concurrency", "must be between 1 and 64")),
    };
    let limits = upstream_limits(&file.upstream)?;
    let status = status_config(&file.status)?;
    for c in &mut clusters {
        let endpoints = std::iter::once(&mut c.zeebe)
            .chain(c.brokers.iter_mut())
            .chain(c.operate.iter_mut())
            .chain(c.tasklist.iter_mut())
            .chain(c.optimize.iter_mut())
            .chain(c.elasticsearch.iter_mut().map(|es| &mut es.endpoint));
        endpoints.for_each(|e| e.limits = limits);
    }
    Ok(Config {
        retention_concurrency,
        procedure,
        status,
        listen,
        https_only: file.server.https_only || tls.is_some(),
        tls,
        auth,
        clusters,
    })
}

fn resolve_auth(a: FileAuthSection) -> Result<AuthConfig, ConfigError> {
    let mut users: Vec<User> = Vec::new();
    for (i, u) in a.users.into_iter().enumerate() {
        let at = format!("auth.users[{i}]");
        if u.name.trim().is_empty() || u.name.len() > 100 {
            return Err(invalid(format!("{at}.name"), "must be 1 to 100 characters"));
        }
        if users.iter().any(|other| other.name == u.name) {
            return Err(invalid(
                format!("{at}.name"),
                format!("`{}` is listed twice", u.name),
            ));
        }
        password::validate_hash(&u.password_hash).map_err(|e| {
            invalid(
                format!("{at}.password_hash"),
                format!("{e}; create one with `backup-console hash-password`"),
            )
        })?;
        let role = Role::parse(&u.role).ok_or_else(|| {
            invalid(
                format!("{at}.role"),
                format!("`{}` is not one of viewer, operator, admin", u.role),
            )
        })?;
        users.push(User {
            name: u.name,
            password_hash: u.password_hash,
            role,
        });
    }
    let proxy = match a.proxy {
        None => None,
        Some(p) => {
            let header = |name: &str, key: &str| -> Result<String, ConfigError> {
                axum::http::HeaderName::from_bytes(name.as_bytes())
                    .map(|h| h.as_str().to_string())
                    .map_err(|_| {
                        invalid(
                            format!("auth.proxy.{key}"),
                            format!("`{name}` is not a header name"),
                        )
                    })
            };
            if p.trusted_proxies.is_empty() {
                return Err(invalid(
                    "auth.proxy.trusted_proxies",
                    "list the proxy's addresses: the header is accepted from them only",
                ));
            }
            let trusted_proxies = p
                .trusted_proxies
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    ip.parse().map_err(|_| {
                        invalid(
                            format!("auth.proxy.trusted_proxies[{i}]"),
                            format!("`{ip}` is not an IP address"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let group_roles = p
                .group_roles
                .into_iter()
                .map(|(group, role)| {
                    Role::parse(&role)
                        .map(|r| (group.clone(), r))
                        .ok_or_else(|| {
                            invalid(
                                format!("auth.proxy.group_roles.{group}"),
                                format!("`{role}` is not one of viewer, operator, admin"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(ProxyConfig {
                user_header: header(&p.user_header, "user_header")?,
                groups_header: p
                    .groups_header
                    .as_deref()
                    .map(|h| header(h, "groups_header"))
                    .transpose()?,
                trusted_proxies,
                group_roles,
            })
        }
    };
    if users.is_empty() && proxy.is_none() {
        return Err(invalid(
            "auth",
            "add at least one [[auth.users]] entry (see `backup-console hash-password`) or an [auth.proxy] section",
        ));
    }
    let secs = |v: Option<u64>, default: u64, key: &str| -> Result<Duration, ConfigError> {
        match v.unwrap_or(default) {
            0 => Err(invalid(format!("auth.{key}"), "must be at least 1")),
            n => Ok(Duration::from_secs(n)),
        }
    };
    let forwarded_for_proxies: Vec<std::net::IpAddr> =
        match (a.trusted_forwarded_for, a.forwarded_for_proxies) {
            (false, _) => Vec::new(),
            (true, Some(list)) => list
                .iter()
                .enumerate()
                .map(|(i, ip)| {
                    ip.parse().map_err(|_| {
                        invalid(
                            format!("auth.forwarded_for_proxies[{i}]"),
                            format!("`{ip}` is not an IP address"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            (true, None) => proxy
                .as_ref()
                .map(|p| p.trusted_proxies.clone())
                .unwrap_or_default(),
        };
    if a.trusted_forwarded_for && forwarded_for_proxies.is_empty() {
        return Err(invalid(
            "auth.trusted_forwarded_for",
            "list the proxies it is believed from: auth.forwarded_for_proxies or [auth.proxy] trusted_proxies",
        ));
    }
    Ok(AuthConfig {
        users,
        database: a
            .database
            .unwrap_or_else(|| "backup-console.db".into())
            .into(),
        idle_timeout: secs(
            a.session_idle_timeout_secs,
            30 * 60,
            "session_idle_timeout_secs",
        )?,
        absolute_timeout: secs(
            a.session_absolute_timeout_secs,
            12 * 3600,
            "session_absolute_timeout_secs",
        )?,
        login: crate::auth::LoginSettings {
            verify_concurrency: match a.login_verify_concurrency {
                Some(0) => {
                    return Err(invalid(
                        "auth.login_verify_concurrency",
                        "must be at least 1",
                    ));
                }
                v => v.unwrap_or(crate::auth::LoginSettings::default().verify_concurrency),
            },
            verify_queue: a
                .login_verify_queue
                .unwrap_or(crate::auth::LoginSettings::default().verify_queue),
            forwarded_for_proxies,
            ..crate::auth::LoginSettings::default()
        },
        proxy,
    })
}

fn parse_url(text: &str, key: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(text).map_err(|e| invalid(key, format!("`{text}` is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            key,
            format!("`{text}` must start with http:// or https://"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            "must not contain credentials; use `auth` with environment variable names",
        ));
    }
    Ok(url)
}

fn endpoint(
    url: &str,
    auth: Option<&FileAuth>,
    timeout: Duration,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, ConfigError> {
    let url = parse_url(url, &format!("{key}.url"))?;
    let secret = |var: &str, field: &str| -> Result<String, ConfigError> {
        env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
            invalid(
                format!("{key}.auth.{field}"),
                format!("environment variable `{var}` is not set"),
            )
        })
    };
    let credentials = match auth {
        None => None,
        Some(FileAuth::Basic {
            username_env,
            password_env,
        }) => Some(Credentials::Basic {
            username: secret(username_env, "username_env")?,
            password: Secret::new(secret(password_env, "password_env")?),
        }),
        Some(FileAuth::ApiKey { key_env }) => Some(Credentials::ApiKey(Secret::new(secret(
            key_env, "key_env",
        )?))),
        Some(FileAuth::Bearer { token_env }) => Some(Credentials::Bearer(Secret::new(secret(
            token_env,
            "token_env",
        )?))),
    };
    Ok(Endpoint {
        url,
        credentials,
        timeout,
        limits: crate::upstream::Limits::default(),
        tls: crate::upstream::OutboundTls::default(),
    })
}

/// `[upstream]` with its defaults; every value must be positive.
fn upstream_limits(file: &FileUpstream) -> Result<crate::upstream::Limits, ConfigError> {
    let defaults = crate::upstream::Limits::default();
    let positive = |value: Option<u64>, key: &str, default: u64| match value {
        None => Ok(default),
        Some(0) => Err(invalid(format!("upstream.{key}"), "must be at least 1")),
        Some(n) => Ok(n),
    };
    Ok(crate::upstream::Limits {
        listing_bytes: positive(
            file.max_listing_bytes,
            "max_listing_bytes",
            defaults.listing_bytes,
        )?,
        answer_bytes: positive(
            file.max_answer_bytes,
            "max_answer_bytes",
            defaults.answer_bytes,
        )?,
        listing_timeout: match file.listing_timeout_secs {
            None => defaults.listing_timeout,
            Some(secs) => Some(Duration::from_secs(positive(
                Some(secs),
                "listing_timeout_secs",
                0,
            )?)),
        },
    })
}

/// An endpoint's `ca_file` and `tls_server_name`, read and checked now so that a bad file stops
/// the start rather than the first backup.
fn outbound_tls(
    url: &Url,
    ca_file: Option<&str>,
    server_name: Option<&str>,
    key: &str,
) -> Result<crate::upstream::OutboundTls, ConfigError> {
    crate::upstream::OutboundTls::load(url, ca_file.map(Path::new), server_name).map_err(|e| {
        let field = match e {
            crate::upstream::OutboundTlsError::BadServerName(_) => "tls_server_name",
            crate::upstream::OutboundTlsError::NotHttps if ca_file.is_none() => "tls_server_name",
            _ => "ca_file",
        };
        invalid(format!("{key}.{field}"), e.to_string())
    })
}

/// A broker endpoint shares its gateway's credentials and timeout.
fn endpoint_with(base: &Endpoint, url: &str, key: &str) -> Result<Endpoint, ConfigError> {
    Ok(Endpoint {
        url: parse_url(url, key)?,
        credentials: base.credentials.clone(),
        timeout: base.timeout,
        limits: base.limits,
        tls: base.tls.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const V87: &str = r#"
        [server]
        listen = "0.0.0.0:9090"

        [[clusters]]
        name = "prod-eu"
        version = "8.7"
        request_timeout_secs = 5
        [clusters.zeebe]
        url = "http://localhost:9660"
        [clusters.operate]
        url = "http://localhost:9600"
        [clusters.tasklist]
        url = "http://localhost:9640"
        [clusters.optimize]
        url = "http://localhost:9620"
        [clusters.elasticsearch]
        url = "https://localhost:9200"
        repository = "backups"
        auth = { type = "basic", username_env = "ES_USER", password_env = "ES_PASSWORD" }
    "#;

    fn env_with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_full_87_file_resolves() {
        let env = env_with(&[("ES_USER", "elastic"), ("ES_PASSWORD", "s3cret")]);
        let config = Config::parse(V87, "test.toml", &env).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9090");
        let c = &config.clusters[0];
        assert_eq!(c.profile, VersionProfile::V87);
        assert_eq!(c.zeebe.url.as_str(), "http://localhost:9660/");
        assert_eq!(c.zeebe.timeout, Duration::from_secs(5));
        let es = c.elasticsearch.as_ref().unwrap();
        assert_eq!(es.repository, "backups");
        assert_eq!(es.records_index_pattern, "zeebe-record*");
        match &es.endpoint.credentials {
            Some(Credentials::Basic { username, password }) => {
                assert_eq!(username, "elastic");
                assert_eq!(password.expose(), "s3cret");
            }
            other => panic!("unexpected credentials {other:?}"),
        }
        // The secret never shows in debug output.
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("Secret(***)"));
    }

    #[test]
    fn a_missing_secret_names_the_key_and_the_variable() {
        let err = Config::parse(V87, "test.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration key `clusters.prod-eu.elasticsearch.auth.username_env`: environment variable `ES_USER` is not set"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = Config::parse(
            "[[clusters]]\nname = \"a\"\nversion = \"8.7\"\nzebee = 1\n",
            "c.toml",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `zebee`"), "{err}");
        assert!(err.contains("c.toml"), "{err}");

        let err = Config::parse(
            "[[clusters]]\nname = \"a\"\nversion = \"7.0\"\n",
            "c.toml",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("configuration key `clusters.a.version`: `7.0` is not supported"),
            "{err}"
        );

        let text = "[[clusters]]\nname = \"a\"\nversion = \"8.7\"\n[clusters.zeebe]\nurl = \"localhost:9600\"\n";
        let err = Config::parse(text, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `clusters.a.zeebe.url`"),
            "{err}"
        );

        let text = "[[clusters]]\nname = \"a\"\nversion = \"8.7\"\n[clusters.zeebe]\nurl = \"http://u:p@host:9600\"\n";
        let err = Config::parse(text, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not contain credentials"), "{err}");

        let err = Config::parse("", "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`clusters`"), "{err}");
    }

    #[test]
    fn profiles_require_their_own_endpoints() {
        let text = "[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.zeebe]\nurl = \"http://h:9600\"\n";
        let err = Config::parse(text, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `clusters.a.zeebe`: is for version 8.7"),
            "{err}"
        );

        let text = "[[clusters]]\nname = \"a\"\nversion = \"8.7\"\n";
        let err = Config::parse(text, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `clusters.a.zeebe`: is required"),
            "{err}"
        );

        let text = "[[clusters]]\nname = \"a\"\nversion = \"8.9\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
        let config = Config::parse(text, "c.toml", &no_env).unwrap();
        assert_eq!(config.clusters[0].profile, VersionProfile::V88);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn environment_overrides_urls_and_listen() {
        let env = env_with(&[
            ("ES_USER", "elastic"),
            ("ES_PASSWORD", "x"),
            ("BACKUP_CONSOLE_LISTEN", "127.0.0.1:7000"),
            (
                "BACKUP_CONSOLE_PROD_EU_OPERATE_URL",
                "http://operate.internal:9600",
            ),
            ("BACKUP_CONSOLE_PROD_EU_ELASTICSEARCH_REPOSITORY", "other"),
        ]);
        let config = Config::parse(V87, "test.toml", &env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
        let c = &config.clusters[0];
        assert_eq!(
            c.operate.as_ref().unwrap().url.as_str(),
            "http://operate.internal:9600/"
        );
        assert_eq!(c.elasticsearch.as_ref().unwrap().repository, "other");
    }

    #[test]
    fn auth_users_and_proxy_are_validated() {
        let cluster = "[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
        let hash = crate::auth::password::hash_password("pw").unwrap();
        let text = format!(
            "[auth]\nsession_idle_timeout_secs = 60\n[[auth.users]]\nname = \"alice\"\npassword_hash = \"{hash}\"\nrole = \"admin\"\n{cluster}"
        );
        let auth = Config::parse(&text, "c.toml", &no_env)
            .unwrap()
            .auth
            .unwrap();
        assert_eq!(auth.users[0].role, Role::Admin);
        assert_eq!(auth.idle_timeout, Duration::from_secs(60));
        assert_eq!(auth.absolute_timeout, Duration::from_secs(12 * 3600));

        let bad = text.replace("role = \"admin\"", "role = \"root\"");
        let err = Config::parse(&bad, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `auth.users[0].role`"),
            "{err}"
        );
        let bad = text.replace(&hash, "plaintext");
        let err = Config::parse(&bad, "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `auth.users[0].password_hash`")
                && err.contains("hash-password"),
            "{err}"
        );

        let proxy = format!(
            "[auth.proxy]\nuser_header = \"X-Forwarded-User\"\ngroups_header = \"X-Forwarded-Groups\"\ntrusted_proxies = [\"10.0.0.5\"]\ngroup_roles = {{ ops = \"operator\" }}\n{cluster}"
        );
        let auth = Config::parse(&proxy, "c.toml", &no_env)
            .unwrap()
            .auth
            .unwrap();
        let p = auth.proxy.unwrap();
        assert_eq!(p.user_header, "x-forwarded-user");
        assert_eq!(p.role_for("ops"), Some(Role::Operator));
        let err = Config::parse(&proxy.replace("10.0.0.5", "proxy.local"), "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration key `auth.proxy.trusted_proxies[0]`"),
            "{err}"
        );
        let err = Config::parse(&format!("[auth]\n{cluster}"), "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("configuration key `auth`"), "{err}");
    }

    #[test]
    fn duplicate_cluster_names_are_refused() {
        let one = "[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
        let err = Config::parse(&format!("{one}{one}"), "c.toml", &no_env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration key `clusters[1].name`: `a` is used by another cluster"
        );
    }

    #[test]
    fn the_status_section_has_defaults_and_refuses_zero() {
        let cluster = "[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
        let c = Config::parse(cluster, "c.toml", &no_env).unwrap();
        assert_eq!(c.status, StatusConfig::default());
        assert_eq!(c.status.poll_interval, Duration::from_secs(10));
        let c = Config::parse(
            &format!("[status]\npoll_interval_secs = 2\nprobe_timeout_secs = 1\n{cluster}"),
            "c.toml",
            &no_env,
        )
        .unwrap();
        assert_eq!(c.status.poll_interval, Duration::from_secs(2));
        assert_eq!(c.status.probe_timeout, Duration::from_secs(1));
        let err = Config::parse(
            &format!("[status]\npoll_interval_secs = 0\n{cluster}"),
            "c.toml",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "configuration key `status.poll_interval_secs`: must be at least 1 second"
        );
        let err = Config::parse(
            &format!("[status]\ninterval = 3\n{cluster}"),
            "c.toml",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("interval"), "{err}");
    }
}
