//! The file, with its environment overrides applied, turned into the configuration used: one
//! function per section, each naming the keys it refuses.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::auth::resolve_auth;
use super::cluster::resolve_clusters;
use super::file::{
    FileAuthSection, FileCatalog, FileConfig, FileProcedure, FileRetentionSettings, FileServer,
    FileStatus, FileStore, FileUpstream,
};
use super::{
    CatalogConfig, Config, ConfigError, ConfigWarning, DEFAULT_DATABASE, DEFAULT_LISTEN,
    ProcedureConfig, StatusConfig, StoreConfig, TlsFiles, invalid,
};

pub(super) fn resolve(
    mut file: FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut warnings = Vec::new();
    let listen = listen(&file.server)?;
    if file.clusters.is_empty() {
        return Err(invalid(
            "clusters",
            "at least one [[clusters]] entry is required",
        ));
    }
    let tls = server_tls(&mut file.server)?;
    let store = store(&file.store, file.auth.as_ref(), &mut warnings)?;
    let auth = file.auth.map(resolve_auth).transpose()?;
    let mut clusters = resolve_clusters(file.clusters, env)?;
    let cluster_names: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let notify =
        super::notify::resolve_notify(&file.notify, file.notifications, &cluster_names, env)?;
    let procedure = procedure(&file.procedure)?;
    let retention_concurrency = retention_concurrency(&file.retention)?;
    let limits = upstream_limits(&file.upstream)?;
    let status = status_config(&file.status)?;
    let catalog = catalog_config(&file.catalog)?;
    let metrics_listen = file
        .metrics
        .listen
        .as_deref()
        .map(|text| {
            text.parse::<SocketAddr>().map_err(|e| {
                invalid(
                    "metrics.listen",
                    format!("`{text}` is not an address and port ({e}), e.g. 127.0.0.1:9464"),
                )
            })
        })
        .transpose()?;
    for c in &mut clusters {
        c.endpoints_mut().for_each(|e| e.limits = limits);
    }
    Ok(Config {
        retention_concurrency,
        procedure,
        status,
        catalog,
        metrics_listen,
        listen,
        https_only: file.server.https_only || tls.is_some(),
        tls,
        store,
        auth,
        clusters,
        notify,
        warnings,
    })
}

/// `[server] listen`.
fn listen(server: &FileServer) -> Result<SocketAddr, ConfigError> {
    let listen_text = server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    listen_text.parse().map_err(|_| {
        invalid(
            "server.listen",
            format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
        )
    })
}

/// `[server] tls_cert` and `tls_key`: both or neither.
fn server_tls(server: &mut FileServer) -> Result<Option<TlsFiles>, ConfigError> {
    match (server.tls_cert.take(), server.tls_key.take()) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        })),
        (Some(_), None) => Err(invalid(
            "server.tls_key",
            "is required with server.tls_cert",
        )),
        (None, Some(_)) => Err(invalid(
            "server.tls_cert",
            "is required with server.tls_key",
        )),
    }
}

/// A path with its `.` parts dropped and each `..` taking back the part before it, so that
/// `./console.db`, `data/../console.db` and `console.db` compare equal without touching the disk.
fn lexical(path: &str) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `[store] database`, or the deprecated `[auth] database` (with a warning); both may be given
/// only when they agree.
fn store(
    store: &FileStore,
    auth: Option<&FileAuthSection>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<StoreConfig, ConfigError> {
    let deprecated = auth.and_then(|a| a.database.as_deref());
    if deprecated.is_some() {
        warnings.push(ConfigWarning::Deprecated {
            key: "auth.database",
            replacement: "store.database",
        });
    }
    let database = match (store.database.as_deref(), deprecated) {
        (Some(current), Some(old)) if lexical(current) != lexical(old) => {
            return Err(invalid(
                "store.database",
                format!(
                    "`{current}` differs from the deprecated `auth.database` (`{old}`); keep store.database only"
                ),
            ));
        }
        (Some(path), _) | (None, Some(path)) => path,
        (None, None) => DEFAULT_DATABASE,
    };
    Ok(StoreConfig {
        database: database.into(),
    })
}

/// `[procedure]`: both timeouts at least a second.
fn procedure(file: &FileProcedure) -> Result<ProcedureConfig, ConfigError> {
    let defaults = ProcedureConfig::default();
    let positive = |value: Option<u64>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(invalid(key, "must be at least 1 second")),
        Some(secs) => Ok(Duration::from_secs(secs)),
    };
    Ok(ProcedureConfig {
        step_timeout: positive(
            file.step_timeout_secs,
            "procedure.step_timeout_secs",
            defaults.step_timeout,
        )?,
        resume_deadline: positive(
            file.resume_deadline_secs,
            "procedure.resume_deadline_secs",
            defaults.resume_deadline,
        )?,
    })
}

/// `[retention] concurrency`, 8 by default.
fn retention_concurrency(file: &FileRetentionSettings) -> Result<usize, ConfigError> {
    match file.concurrency {
        None => Ok(8),
        Some(n @ 1..=64) => Ok(n),
        Some(_) => Err(invalid("retention.concurrency", "must be between 1 and 64")),
    }
}

/// `[upstream]` with its defaults; every value must be positive.
fn upstream_limits(file: &FileUpstream) -> Result<super::endpoint::Limits, ConfigError> {
    let defaults = super::endpoint::Limits::default();
    let positive = |value: Option<u64>, key: &str, default: u64| match value {
        None => Ok(default),
        Some(0) => Err(invalid(format!("upstream.{key}"), "must be at least 1")),
        Some(n) => Ok(n),
    };
    Ok(super::endpoint::Limits {
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

/// `[catalog]` with its defaults: a second to a day, and idle no more often than viewed.
fn catalog_config(file: &FileCatalog) -> Result<CatalogConfig, ConfigError> {
    let defaults = CatalogConfig::default();
    let secs = |value: Option<u64>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(n) if !(1..=86_400).contains(&n) => Err(invalid(
            format!("catalog.{key}"),
            "must be 1 to 86400 seconds",
        )),
        Some(n) => Ok(Duration::from_secs(n)),
    };
    let refresh = secs(file.refresh_secs, "refresh_secs", defaults.refresh)?;
    let idle_refresh = secs(
        file.idle_refresh_secs,
        "idle_refresh_secs",
        defaults.idle_refresh.max(refresh),
    )?;
    if idle_refresh < refresh {
        return Err(invalid(
            "catalog.idle_refresh_secs",
            "must be at least catalog.refresh_secs",
        ));
    }
    let min_refresh_gap = match file.min_refresh_gap_secs {
        None => defaults.min_refresh_gap,
        Some(n) if n > 3600 => {
            return Err(invalid(
                "catalog.min_refresh_gap_secs",
                "must be at most 3600 seconds",
            ));
        }
        Some(n) => Duration::from_secs(n),
    };
    Ok(CatalogConfig {
        refresh,
        idle_refresh,
        min_refresh_gap,
    })
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{CLUSTER, no_env};
    use super::*;
    use std::path::PathBuf;

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

    /// An `[auth]` section with one proxy user, so that no password hash is needed.
    const AUTH: &str =
        "[auth]\n[auth.proxy]\nuser_header = \"X-User\"\ntrusted_proxies = [\"10.0.0.5\"]\n";

    #[test]
    fn the_database_is_store_database_or_the_default() {
        let config = Config::parse(
            &format!("[store]\ndatabase = \"/var/lib/bc/console.db\"\n{AUTH}{CLUSTER}"),
            "c.toml",
            &no_env,
        )
        .unwrap();
        assert_eq!(
            config.database_path(),
            PathBuf::from("/var/lib/bc/console.db")
        );
        assert_eq!(config.warnings, Vec::new());

        let config = Config::parse(CLUSTER, "c.toml", &no_env).unwrap();
        assert_eq!(config.database_path(), PathBuf::from("backup-console.db"));
        assert_eq!(config.warnings, Vec::new());
    }

    #[test]
    fn the_database_of_auth_still_works_with_a_warning() {
        let text = AUTH.replace("[auth]\n", "[auth]\ndatabase = \"old.db\"\n");
        let config = Config::parse(&format!("{text}{CLUSTER}"), "c.toml", &no_env).unwrap();
        assert_eq!(config.database_path(), PathBuf::from("old.db"));
        let deprecated = ConfigWarning::Deprecated {
            key: "auth.database",
            replacement: "store.database",
        };
        assert_eq!(config.warnings, vec![deprecated.clone()]);
        assert_eq!(
            deprecated.to_string(),
            "configuration key `auth.database` is deprecated; use `store.database`"
        );

        // The same path under both keys is fine, still with the warning.
        let both = format!("[store]\ndatabase = \"old.db\"\n{text}{CLUSTER}");
        let config = Config::parse(&both, "c.toml", &no_env).unwrap();
        assert_eq!(config.database_path(), PathBuf::from("old.db"));
        assert_eq!(config.warnings, vec![deprecated]);
    }

    #[test]
    fn two_different_databases_are_refused_naming_both_keys() {
        let text = AUTH.replace("[auth]\n", "[auth]\ndatabase = \"old.db\"\n");
        let err = Config::parse(
            &format!("[store]\ndatabase = \"new.db\"\n{text}{CLUSTER}"),
            "c.toml",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("configuration key `store.database`"),
            "{err}"
        );
        assert!(err.contains("auth.database"), "{err}");
    }
}
