//! `[[clusters]]`: each cluster's version profile, its component endpoints and its retention
//! policy from the file.

use std::time::Duration;

use backup_domain::api::{ManagementApi, SecondaryStorage, VersionProfile, minor_of};
use backup_domain::retention::RetentionPolicy;

use super::endpoint::{Endpoint, endpoint, endpoint_with, outbound_tls, rest_endpoint};
use super::file::{FileCluster, FileDeployment, FileElasticsearch, FileEndpoint, FileRetention};
use super::{ConfigError, invalid};

const DEFAULT_TIMEOUT_SECS: u64 = 10;

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
    /// The exact minor of `version` ("8.10"): the restore runbook and the REST API depend on it.
    pub version: String,
    /// `api`: the 8.10 REST API or the management port's actuators.
    pub api: ManagementApi,
    /// `secondary_storage`: what a backup is made of (RDBMS from 8.9).
    pub secondary_storage: SecondaryStorage,
    /// The Zeebe gateway (8.7) or the Orchestration Cluster (8.8), which also serves web-apps backups.
    pub zeebe: Endpoint,
    pub brokers: Vec<Endpoint>,
    pub operate: Option<Endpoint>,
    pub tasklist: Option<Endpoint>,
    pub optimize: Option<Endpoint>,
    pub elasticsearch: Option<ElasticsearchConfig>,
    /// The policy of `[clusters.retention]`, if the file has one.
    pub retention: Option<RetentionPolicy>,
    /// `[clusters.retention] pinned`: never deleted, beside the pins saved in the database.
    pub pinned: Vec<u64>,
    /// Components added after the cluster had backups (`since_backup_id`): sets below the ID
    /// are not expected to hold them.
    pub expected_since: Vec<(backup_domain::Component, u64)>,
    /// `[clusters.backup] schedule`: a five-field cron in UTC, checked when read.
    pub backup_schedule: Option<String>,
    /// `[clusters.backup] zeebe_scheduler`: Zeebe schedules this cluster's backups itself.
    pub zeebe_scheduler: bool,
    /// `rpo_hours`: how old the newest restorable set may be.
    pub rpo_hours: u32,
    /// `[[clusters.databases]]`: the PostgreSQL dumps taken as steps of a backup.
    pub databases: Vec<super::database::DatabaseConfig>,
    /// `[clusters.orchestration.rest]` (`api = "rest"`): the REST API with its own credentials.
    pub rest: Option<Endpoint>,
    /// Whether `[clusters.orchestration] url` (or its brokers) names a management port; without
    /// one, the exporter phase cannot be read.
    pub management_port: bool,
    /// `[clusters.deployment]`, for the restore runbook.
    pub deployment: backup_domain::runbook::DeploymentFacts,
}

/// Why the exporter phase is unknown on a REST cluster without a management port.
pub const NO_MANAGEMENT_PORT: &str = "no management port configured ([clusters.orchestration] url)";

/// The recovery point objective when the file names none: a daily backup with two hours to spare.
pub const DEFAULT_RPO_HOURS: u32 = 26;

/// Why a console schedule is refused on a cluster whose Zeebe schedules its own backups: two
/// schedulers would take two backups at their own times, each pausing exporting.
pub const ZEEBE_SCHEDULES_ITSELF: &str = "Zeebe schedules this cluster's backups itself \
     ([clusters.backup] zeebe_scheduler = true); a console schedule would take a second series \
     of backups beside it";

impl ClusterConfig {
    /// Every endpoint of the cluster, brokers included.
    pub(super) fn endpoints_mut(&mut self) -> impl Iterator<Item = &mut Endpoint> {
        std::iter::once(&mut self.zeebe)
            .chain(self.brokers.iter_mut())
            .chain(self.operate.iter_mut())
            .chain(self.tasklist.iter_mut())
            .chain(self.optimize.iter_mut())
            .chain(self.elasticsearch.iter_mut().map(|es| &mut es.endpoint))
            .chain(self.rest.iter_mut())
    }
}

/// Every `[[clusters]]` entry, with names unique and fit for URLs.
pub(super) fn resolve_clusters(
    files: Vec<FileCluster>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ClusterConfig>, ConfigError> {
    let mut clusters: Vec<ClusterConfig> = Vec::new();
    for (i, c) in files.into_iter().enumerate() {
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
        clusters.push(resolve_cluster(c, env)?);
    }
    Ok(clusters)
}

/// One cluster; its keys are named `clusters.<name>.…`.
fn resolve_cluster(
    c: FileCluster,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClusterConfig, ConfigError> {
    let at = format!("clusters.{}", c.name);
    let profile = profile(&c.version, &at)?;
    let minor = minor_of(&c.version);
    let api = match c.api.as_deref() {
        None | Some("actuator") => ManagementApi::Actuator,
        Some("rest") if minor >= 10 => ManagementApi::Rest,
        Some("rest") => {
            return Err(invalid(
                format!("{at}.api"),
                format!(
                    "the REST backup API (/v2/backups) exists from 8.10; version {} has the actuators only (api = \"actuator\")",
                    c.version
                ),
            ));
        }
        Some(other) => {
            return Err(invalid(
                format!("{at}.api"),
                format!("`{other}` is not an API; use \"actuator\" or \"rest\""),
            ));
        }
    };
    let secondary_storage = match c.secondary_storage.as_deref() {
        None | Some("elasticsearch") | Some("opensearch") => SecondaryStorage::Elasticsearch,
        Some("rdbms") if minor >= 9 => SecondaryStorage::Rdbms,
        Some("rdbms") => {
            return Err(invalid(
                format!("{at}.secondary_storage"),
                format!(
                    "RDBMS secondary storage exists from 8.9; version {} keeps its data in Elasticsearch or OpenSearch",
                    c.version
                ),
            ));
        }
        Some(other) => {
            return Err(invalid(
                format!("{at}.secondary_storage"),
                format!("`{other}` is not a secondary storage; use \"elasticsearch\" or \"rdbms\""),
            ));
        }
    };
    if secondary_storage == SecondaryStorage::Rdbms {
        // Camunda has no records snapshot and no Optimize backup on RDBMS (§9.1).
        if c.elasticsearch.is_some() {
            return Err(invalid(
                format!("{at}.elasticsearch"),
                "an RDBMS cluster has no Elasticsearch to snapshot: Camunda takes no records snapshot with secondary_storage = \"rdbms\"; remove [clusters.elasticsearch]",
            ));
        }
        if c.optimize.is_some() {
            return Err(invalid(
                format!("{at}.optimize"),
                "Optimize is not covered by backups with secondary_storage = \"rdbms\"; remove [clusters.optimize]",
            ));
        }
    }
    let timeout = Duration::from_secs(c.request_timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
    if timeout.is_zero() {
        return Err(invalid(
            format!("{at}.request_timeout_secs"),
            "must be at least 1",
        ));
    }
    let components = Components {
        at: &at,
        timeout,
        env,
    };
    let mut rest = None;
    let mut management_port = true;
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
            components.with_brokers(z, "zeebe")?
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
            let mut o = c.orchestration.ok_or_else(|| invalid(format!("{at}.orchestration"), "is required for version 8.8 (the Orchestration Cluster management API, port 9600)"))?;
            if o.since_backup_id.is_some() {
                return Err(invalid(
                    format!("{at}.orchestration.since_backup_id"),
                    "does not apply: every backup has an orchestration part",
                ));
            }
            match (api, o.rest.take()) {
                (ManagementApi::Rest, None) => {
                    return Err(invalid(
                        format!("{at}.orchestration.rest"),
                        "is required with api = \"rest\": the REST API's url (…/v2) and auth",
                    ));
                }
                (ManagementApi::Actuator, Some(_)) => {
                    return Err(invalid(
                        format!("{at}.orchestration.rest"),
                        "applies only with api = \"rest\" (8.10 and later)",
                    ));
                }
                (ManagementApi::Rest, Some(r)) => {
                    rest = Some(rest_endpoint(
                        &r,
                        timeout,
                        &format!("{at}.orchestration.rest"),
                        env,
                    )?);
                }
                (ManagementApi::Actuator, None) => {}
            }
            match (&rest, o.url.trim().is_empty()) {
                (_, false) => components.with_brokers(o, "orchestration")?,
                (None, true) => {
                    return Err(invalid(
                        format!("{at}.orchestration.url"),
                        "is required (the management API, port 9600); only api = \"rest\" may leave it out",
                    ));
                }
                // No management port: the REST endpoint stands in for display and health, without
                // its credentials; brokers, if listed, still give the exporter phase.
                (Some(r), true) => {
                    let set = [
                        ("auth", o.auth.is_some()),
                        ("ca_file", o.ca_file.is_some()),
                        ("tls_server_name", o.tls_server_name.is_some()),
                    ];
                    if let Some((field, _)) = set.iter().find(|(_, s)| *s) {
                        return Err(invalid(
                            format!("{at}.orchestration.{field}"),
                            "applies to the management port, and [clusters.orchestration] has no url; set the url or remove it (the REST API's own are under [clusters.orchestration.rest])",
                        ));
                    }
                    let base = Endpoint {
                        credentials: None,
                        ..r.clone()
                    };
                    management_port = !o.brokers.is_empty();
                    let brokers = o
                        .brokers
                        .iter()
                        .enumerate()
                        .map(|(j, url)| {
                            endpoint_with(&base, url, &format!("{at}.orchestration.brokers[{j}]"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    (base, brokers)
                }
            }
        }
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
    let operate = components.single(c.operate, "operate")?;
    let tasklist = components.single(c.tasklist, "tasklist")?;
    if profile == VersionProfile::V87 && (operate.is_none() != tasklist.is_none()) {
        let missing = if operate.is_none() {
            "operate"
        } else {
            "tasklist"
        };
        // A deployment may run without web apps, but a backup needs both when either runs.
        tracing::warn!(cluster = %c.name, "{missing} is not configured: its backups will not be checked");
    }
    let optimize = components.single(c.optimize, "optimize")?;
    let elasticsearch = c
        .elasticsearch
        .map(|es| components.elasticsearch(es))
        .transpose()?;
    let pinned = c
        .retention
        .as_ref()
        .map(|r| r.pinned.clone())
        .unwrap_or_default();
    let retention = c
        .retention
        .map(|r| retention_policy(r, &at))
        .transpose()?
        .flatten();
    let zeebe_scheduler = c.backup.as_ref().is_some_and(|b| b.zeebe_scheduler);
    let backup_schedule = c
        .backup
        .and_then(|b| b.schedule)
        .filter(|s| !s.trim().is_empty());
    if zeebe_scheduler && backup_schedule.is_some() {
        return Err(invalid(
            format!("{at}.backup.schedule"),
            ZEEBE_SCHEDULES_ITSELF.to_string() + ": remove `schedule` or `zeebe_scheduler`",
        ));
    }
    if let Some(expression) = &backup_schedule {
        // Any expression that ever matches does so within five years of any time: 0 will do.
        backup_domain::schedule::checked_expression(expression, 0)
            .map_err(|e| invalid(format!("{at}.backup.schedule"), e))?;
    }
    let rpo_hours = match c.rpo_hours {
        None => DEFAULT_RPO_HOURS,
        Some(0) => return Err(invalid(format!("{at}.rpo_hours"), "must be at least 1")),
        Some(hours) => hours,
    };
    let deployment = deployment(c.deployment.unwrap_or_default(), &at)?;
    let databases = super::database::resolve_databases(c.databases, &at, secondary_storage, env)?;
    expected_since.extend(
        databases
            .iter()
            .filter_map(|d| d.since_backup_id.map(|since| (d.component, since))),
    );
    Ok(ClusterConfig {
        databases,
        deployment,
        backup_schedule,
        zeebe_scheduler,
        rpo_hours,
        retention,
        pinned,
        expected_since,
        name: c.name,
        version: c.version,
        api,
        secondary_storage,
        profile,
        zeebe,
        brokers,
        operate,
        tasklist,
        optimize,
        elasticsearch,
        rest,
        management_port,
    })
}

fn profile(version: &str, at: &str) -> Result<VersionProfile, ConfigError> {
    match version {
        "8.2" | "8.3" | "8.4" | "8.5" | "8.6" | "8.7" => Ok(VersionProfile::V87),
        "8.8" | "8.9" | "8.10" => Ok(VersionProfile::V88),
        other => Err(invalid(
            format!("{at}.version"),
            format!(
                "`{other}` is not supported; use \"8.7\" (8.2 to 8.7) or \"8.8\" (8.8 and later)"
            ),
        )),
    }
}

/// What every component endpoint of one cluster shares: where its keys are, its timeout, the
/// environment holding its credentials.
struct Components<'a> {
    at: &'a str,
    timeout: Duration,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Components<'_> {
    /// An endpoint and the brokers listed under it.
    fn with_brokers(
        &self,
        e: FileEndpoint,
        key: &str,
    ) -> Result<(Endpoint, Vec<Endpoint>), ConfigError> {
        let at = self.at;
        let mut endpoint = endpoint(
            &e.url,
            e.auth.as_ref(),
            self.timeout,
            &format!("{at}.{key}"),
            self.env,
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
    }

    fn single(&self, e: Option<FileEndpoint>, key: &str) -> Result<Option<Endpoint>, ConfigError> {
        e.map(|e| self.with_brokers(e, key).map(|(endpoint, _)| endpoint))
            .transpose()
    }

    fn elasticsearch(&self, es: FileElasticsearch) -> Result<ElasticsearchConfig, ConfigError> {
        let at = self.at;
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
            self.timeout,
            &format!("{at}.elasticsearch"),
            self.env,
        )?;
        es_endpoint.tls = outbound_tls(
            &es_endpoint.url,
            es.ca_file.as_deref(),
            es.tls_server_name.as_deref(),
            &format!("{at}.elasticsearch"),
        )?;
        Ok(ElasticsearchConfig {
            endpoint: es_endpoint,
            repository: es.repository,
            records_index_pattern: es.records_index_pattern,
        })
    }
}

/// `[clusters.retention]` as a policy; `None` when it holds only pins.
fn retention_policy(r: FileRetention, at: &str) -> Result<Option<RetentionPolicy>, ConfigError> {
    if r.keep_last.is_none()
        && r.max_age_days.is_none()
        && r.min_restorable.is_none()
        && r.keep_failed.is_none()
        && r.schedule.is_none()
    {
        return Ok(None);
    }
    let defaults = RetentionPolicy::default();
    let policy = RetentionPolicy {
        keep_last: r.keep_last,
        max_age_days: r.max_age_days,
        min_restorable: r.min_restorable.unwrap_or(defaults.min_restorable),
        keep_failed: r.keep_failed.unwrap_or(defaults.keep_failed),
        schedule: r.schedule.filter(|s| !s.trim().is_empty()),
    };
    policy
        .validate()
        .map_err(|e| invalid(format!("{at}.retention.{}", e.field), e.message))?;
    Ok(Some(policy))
}

/// `[clusters.deployment]`: blank values count as left out; the store type, the URL and the context
/// path are checked, since the runbook builds commands from them.
fn deployment(
    d: FileDeployment,
    at: &str,
) -> Result<backup_domain::runbook::DeploymentFacts, ConfigError> {
    use backup_domain::runbook::BackupStore;
    let at = format!("{at}.deployment");
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let backup_store = given(d.backup_store)
        .map(|s| {
            BackupStore::parse(&s).ok_or_else(|| {
                invalid(
                    format!("{at}.backup_store"),
                    format!("`{s}` is not a backup store; use {}", BackupStore::NAMES),
                )
            })
        })
        .transpose()?;
    let elasticsearch_url = given(d.elasticsearch_url)
        .map(|u| {
            super::endpoint::parse_url(&u, &format!("{at}.elasticsearch_url"))
                .map(|url| url.as_str().trim_end_matches('/').to_string())
        })
        .transpose()?;
    let context_path = given(d.context_path)
        .map(|p| {
            if p.starts_with('/') && !p.contains(char::is_whitespace) {
                Ok(p.trim_end_matches('/').to_string())
            } else {
                Err(invalid(
                    format!("{at}.context_path"),
                    format!("`{p}` must start with `/` and hold no spaces, e.g. \"/camunda\""),
                ))
            }
        })
        .transpose()?;
    Ok(backup_domain::runbook::DeploymentFacts {
        helm_release: given(d.helm_release),
        namespace: given(d.namespace),
        chart_version: given(d.chart_version),
        values_file: given(d.values_file),
        backup_store,
        backup_store_bucket: given(d.backup_store_bucket),
        backup_store_base_path: given(d.backup_store_base_path),
        backup_store_secret: given(d.backup_store_secret),
        index_prefix: given(d.index_prefix),
        context_path,
        elasticsearch_url,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{V87, env_with, no_env};
    use super::super::{Config, Credentials, DEFAULT_LISTEN};
    use super::*;

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
    fn zeebe_scheduling_its_own_backups_refuses_a_console_schedule_in_the_file() {
        let base = "[[clusters]]\nname = \"a\"\nversion = \"8.9\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n[clusters.backup]\nzeebe_scheduler = true\n";
        let config = Config::parse(base, "c.toml", &no_env).unwrap();
        assert!(config.clusters[0].zeebe_scheduler);
        assert_eq!(config.clusters[0].backup_schedule, None);
        let err = Config::parse(
            &format!("{base}schedule = \"0 */6 * * *\"\n"),
            "c.toml",
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("configuration key `clusters.a.backup.schedule`: Zeebe schedules"),
            "{err}"
        );
    }

    #[test]
    fn the_rest_api_and_rdbms_are_refused_below_their_versions() {
        let one = |version: &str, extra: &str| {
            format!(
                "[[clusters]]\nname = \"a\"\nversion = \"{version}\"\n{extra}[clusters.orchestration]\nurl = \"http://h:9600\"\n"
            )
        };
        let err = |text: String| {
            Config::parse(&text, "c.toml", &no_env)
                .unwrap_err()
                .to_string()
        };
        assert!(err(one("8.9", "api = \"rest\"\n")).contains("exists from 8.10"));
        assert!(err(one("8.8", "secondary_storage = \"rdbms\"\n")).contains("exists from 8.9"));
        assert!(err(one("8.10", "api = \"grpc\"\n")).contains("`grpc` is not an API"));
        let config = Config::parse(
            &one("8.9", "secondary_storage = \"rdbms\"\n"),
            "c.toml",
            &no_env,
        )
        .unwrap();
        let c = &config.clusters[0];
        assert_eq!(c.secondary_storage, SecondaryStorage::Rdbms);
        assert_eq!(c.api, ManagementApi::Actuator);
        assert_eq!(c.version, "8.9");
    }

    #[test]
    fn an_rdbms_cluster_refuses_elasticsearch_and_optimize_with_the_reason() {
        let base = "[[clusters]]\nname = \"a\"\nversion = \"8.9\"\nsecondary_storage = \"rdbms\"\n[clusters.orchestration]\nurl = \"http://h:9600\"\n";
        let err = |extra: &str| {
            Config::parse(&format!("{base}{extra}"), "c.toml", &no_env)
                .unwrap_err()
                .to_string()
        };
        let es = err("[clusters.elasticsearch]\nurl = \"http://es:9200\"\nrepository = \"r\"\n");
        assert!(
            es.starts_with("configuration key `clusters.a.elasticsearch`: an RDBMS cluster")
                && es.contains("no records snapshot"),
            "{es}"
        );
        let optimize = err("[clusters.optimize]\nurl = \"http://o:8092\"\n");
        assert!(
            optimize
                .starts_with("configuration key `clusters.a.optimize`: Optimize is not covered"),
            "{optimize}"
        );
        assert!(Config::parse(base, "c.toml", &no_env).is_ok());
    }

    #[test]
    fn the_rest_table_goes_with_api_rest_only_and_keeps_its_own_credentials() {
        let one = |api: &str, orchestration: &str, rest: &str| {
            format!(
                "[[clusters]]\nname = \"a\"\nversion = \"8.10\"\n{api}[clusters.orchestration]\n{orchestration}{rest}"
            )
        };
        let rest = "[clusters.orchestration.rest]\nurl = \"http://127.0.0.1:8080/v2\"\nauth = { type = \"basic\", username_env = \"RU\", password_env = \"RP\" }\n";
        let env = env_with(&[("RU", "console"), ("RP", "pw-9c1")]);
        let err = |text: String| {
            Config::parse(&text, "c.toml", &env)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(one("", "url = \"http://h:9600\"\n", rest)),
            "configuration key `clusters.a.orchestration.rest`: applies only with api = \"rest\" (8.10 and later)"
        );
        assert!(
            err(one("api = \"rest\"\n", "url = \"http://h:9600\"\n", "")).starts_with(
                "configuration key `clusters.a.orchestration.rest`: is required with api = \"rest\""
            )
        );
        assert!(
            err(one("", "", ""))
                .starts_with("configuration key `clusters.a.orchestration.url`: is required")
        );
        let config = Config::parse(
            &one("api = \"rest\"\n", "url = \"http://h:9600\"\n", rest),
            "c.toml",
            &env,
        )
        .unwrap();
        let c = &config.clusters[0];
        assert!(c.management_port);
        assert!(
            c.zeebe.credentials.is_none(),
            "the management port gets no credentials"
        );
        let rest_endpoint = c.rest.as_ref().unwrap();
        assert_eq!(rest_endpoint.url.as_str(), "http://127.0.0.1:8080/v2");
        assert!(matches!(
            &rest_endpoint.credentials,
            Some(Credentials::Basic { username, .. }) if username == "console"
        ));
        // Without the management url: no management port, no exporter phase.
        let config = Config::parse(&one("api = \"rest\"\n", "", rest), "c.toml", &env).unwrap();
        assert!(!config.clusters[0].management_port);
        assert!(config.clusters[0].zeebe.credentials.is_none());

        let oidc = "[clusters.orchestration.rest]\nurl = \"https://h/v2\"\nauth = { type = \"oidc\", token_url = \"https://idp/token\", client_id_env = \"CID\", client_secret_env = \"CS\", audience = \"orchestration-api\" }\n";
        let missing = Config::parse(&one("api = \"rest\"\n", "", oidc), "c.toml", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            missing,
            "configuration key `clusters.a.orchestration.rest.auth.client_id_env`: environment variable `CID` is not set"
        );
        let env = env_with(&[("CID", "console"), ("CS", "oidc-secret-4d2")]);
        let config = Config::parse(&one("api = \"rest\"\n", "", oidc), "c.toml", &env).unwrap();
        match &config.clusters[0].rest.as_ref().unwrap().credentials {
            Some(Credentials::Oidc(o)) => {
                assert_eq!(o.audience.as_deref(), Some("orchestration-api"));
                assert_eq!(o.scope, None);
            }
            other => panic!("unexpected credentials {other:?}"),
        }
        assert!(!format!("{config:?}").contains("oidc-secret-4d2"));
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
}
