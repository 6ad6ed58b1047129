//! The console's configuration: a TOML file listing clusters and their management endpoints.
//! Credentials are never written in the file, only the names of environment variables that hold
//! them. Every error names the key at fault and why.
//!
//! `file` is the schema of the file as written, `env` the environment overrides applied to it,
//! `resolve` (with `cluster`, `endpoint` and `auth`) turns both into the configuration used.

mod auth;
mod cluster;
mod database;
mod endpoint;
mod env;
mod file;
mod notify;
mod resolve;
mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::AuthConfig;

pub use cluster::{ClusterConfig, ElasticsearchConfig, NO_MANAGEMENT_PORT, ZEEBE_SCHEDULES_ITSELF};
pub use database::DatabaseConfig;
pub use endpoint::{Credentials, Endpoint, Limits, OidcSettings};
pub use notify::{ChannelConfig, ChannelTarget, EmailTarget, HttpTarget, NotifyConfig};
pub use secret::Secret;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded database when the file names none, in the working directory.
const DEFAULT_DATABASE: &str = "backup-console.db";

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

/// Something in the file that still works but should change; [`Config::load`] logs each one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarning {
    #[error("configuration key `{key}` is deprecated; use `{replacement}`")]
    Deprecated {
        key: &'static str,
        replacement: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The application's own state (`[store]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The embedded database (sessions, audit log, runs, retention); relative paths are from the
    /// working directory.
    pub database: PathBuf,
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

/// `[catalog]`: when each cluster's backup catalog is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogConfig {
    /// While someone views the cluster.
    pub refresh: Duration,
    /// While nobody does.
    pub idle_refresh: Duration,
    /// A viewer's refresh sooner than this after the last one lists nothing.
    pub min_refresh_gap: Duration,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            refresh: Duration::from_secs(60),
            idle_refresh: Duration::from_secs(900),
            min_refresh_gap: Duration::from_secs(5),
        }
    }
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
    pub catalog: CatalogConfig,
    /// `[metrics] listen`: where `/metrics` is served, on a listener of its own; off when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// `[retention] concurrency`: DELETE calls a cleanup runs at once.
    pub retention_concurrency: usize,
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// `[server] https_only`: browsers reach the console over HTTPS (its own TLS, or an ingress
    /// in front): cookies are `Secure` with the `__Host-` prefix, answers carry HSTS.
    pub https_only: bool,
    /// `[store]`: where the console keeps its state.
    pub store: StoreConfig,
    /// `None` when the file has no `[auth]` section; `serve` refuses to start without one.
    pub auth: Option<AuthConfig>,
    pub clusters: Vec<ClusterConfig>,
    /// `[[notifications]]` and `[notify]`.
    pub notify: NotifyConfig,
    /// What the file should change although it works; logged by [`Config::load`].
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// The embedded database: `[store] database`, else the deprecated `[auth] database`, else
    /// `backup-console.db` in the working directory (the `backup` CLI needs one even when the
    /// file has no `[auth]`).
    pub fn database_path(&self) -> PathBuf {
        self.store.database.clone()
    }

    /// Reads and parses the file, with the process's environment, and logs its warnings.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config = Config::parse(&text, &path.display().to_string(), &|key| {
            std::env::var(key).ok()
        })?;
        for warning in &config.warnings {
            tracing::warn!(file = %path.display(), "{warning}");
        }
        Ok(config)
    }

    /// Parses a configuration. `env` looks up environment variables (tests pass their own).
    pub fn parse(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut file: file::FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        env::apply_env_overrides(&mut file, env);
        resolve::resolve(file, env)
    }
}

/// Environments and a file shared by the tests of the submodules.
#[cfg(test)]
mod fixtures {
    pub fn no_env(_: &str) -> Option<String> {
        None
    }

    pub fn env_with(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    pub const V87: &str = r#"
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

    /// One valid 8.8 cluster, to put after the sections a test is about.
    pub const CLUSTER: &str = "[[clusters]]\nname = \"a\"\nversion = \"8.8\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
}

#[cfg(test)]
mod tests {
    use super::fixtures::no_env;
    use super::*;

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
}
