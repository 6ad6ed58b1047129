//! One configured cluster: its clients, built once from the configuration, and its health.

use backup_domain::api::{
    ClusterSummary, ComponentHealth, Reachability, SecondaryStorage, VersionProfile,
};
use backup_domain::backup_set::Component;
use reqwest::Method;

use crate::config::{ClusterConfig, Config, Endpoint};
use crate::upstream::{
    self, Http, OptimizeClient, RecordsRepository, UpstreamError, WebappsClient, ZeebeClient,
};

/// The clients of one cluster, one per configured component.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub profile: VersionProfile,
    /// The exact minor of the file's `version` ("8.10").
    pub version: String,
    pub api: backup_domain::api::ManagementApi,
    pub secondary_storage: backup_domain::api::SecondaryStorage,
    pub zeebe: ZeebeClient,
    /// Operate and Tasklist (8.7) or the single `backupHistory` client (8.8).
    pub webapps: Vec<WebappsClient>,
    pub optimize: Option<OptimizeClient>,
    pub records: Option<RecordsRepository>,
    /// `[clusters.retention]` of the file; a policy saved from the console overrides it.
    pub retention: Option<backup_domain::retention::RetentionPolicy>,
    /// `[clusters.retention] pinned`.
    pub pinned: Vec<u64>,
    /// Components added later, with the first backup ID expected to hold them.
    pub expected_since: Vec<(Component, u64)>,
    /// `[clusters.backup] schedule`; a schedule saved from the console overrides it.
    pub backup_schedule: Option<String>,
    /// `[clusters.backup] zeebe_scheduler`: no console schedule of backups.
    pub zeebe_scheduler: bool,
    /// `rpo_hours`: how old the newest restorable set may be.
    pub rpo_hours: u32,
    /// `[[clusters.databases]]`: the dumps the console takes itself.
    pub databases: Vec<crate::dumps::DumpClient>,
    /// `[clusters.deployment]` and the configured Elasticsearch, for the restore runbook.
    pub deployment: backup_domain::runbook::DeploymentFacts,
    pub elasticsearch: Option<(String, String)>,
}

impl Cluster {
    /// Whether Zeebe generates this cluster's backup IDs (the run omits `backupId`): only with
    /// `zeebe_scheduler` on RDBMS. Camunda's broker refuses to start with Elasticsearch/OpenSearch
    /// secondary storage and a backup schedule or continuous backups, so on Elasticsearch
    /// `zeebe_scheduler` keeps its part-8 meaning (no console schedule) and the console names IDs.
    pub fn zeebe_generates_ids(&self) -> bool {
        self.zeebe_scheduler && self.secondary_storage == SecondaryStorage::Rdbms
    }

    /// The clients of `config`; endpoints with their own TLS settings get their own client, the
    /// others share `client`.
    pub fn new(
        config: &ClusterConfig,
        client: &reqwest::Client,
    ) -> Result<Cluster, reqwest::Error> {
        let http = |e: &Endpoint, label: &'static str| -> Result<Http, reqwest::Error> {
            if e.tls.is_default() {
                return Ok(Http::new(client.clone(), e.clone(), label));
            }
            let (builder, url) = e.tls.apply(upstream::client_builder(), &e.url);
            let endpoint = Endpoint { url, ..e.clone() };
            Ok(Http::new(builder.build()?, endpoint, label))
        };
        let (zeebe_label, webapps) = match config.profile {
            VersionProfile::V87 => {
                let mut apps = Vec::new();
                if let Some(e) = &config.operate {
                    apps.push(WebappsClient::new(http(e, "Operate")?, Component::Operate));
                }
                if let Some(e) = &config.tasklist {
                    apps.push(WebappsClient::new(
                        http(e, "Tasklist")?,
                        Component::Tasklist,
                    ));
                }
                ("Zeebe", apps)
            }
            // backupHistory is active only with ES/OS (§5.2): no web-apps client on RDBMS.
            VersionProfile::V88 if config.secondary_storage == SecondaryStorage::Rdbms => {
                ("Orchestration", Vec::new())
            }
            VersionProfile::V88 => (
                "Orchestration",
                vec![WebappsClient::new(
                    http(&config.zeebe, "Web apps")?,
                    Component::Webapps,
                )],
            ),
        };
        let brokers = config
            .brokers
            .iter()
            .map(|b| http(b, "Zeebe broker"))
            .collect::<Result<_, _>>()?;
        // `api = "rest"`: Zeebe's and the web apps' backups and exporting over /v2, with the
        // REST credentials on that endpoint only.
        let rest = config
            .rest
            .as_ref()
            .map(|e| http(e, "Orchestration REST"))
            .transpose()?;
        let webapps = match &rest {
            Some(r) => webapps
                .into_iter()
                .map(|w| w.with_rest(r.clone()))
                .collect(),
            None => webapps,
        };
        let zeebe = ZeebeClient::new(http(&config.zeebe, zeebe_label)?, brokers, config.profile);
        let zeebe = match rest {
            Some(r) => zeebe.with_rest(r, config.management_port),
            None => zeebe,
        };
        Ok(Cluster {
            name: config.name.clone(),
            profile: config.profile,
            version: config.version.clone(),
            api: config.api,
            secondary_storage: config.secondary_storage,
            retention: config.retention.clone(),
            pinned: config.pinned.clone(),
            expected_since: config.expected_since.clone(),
            backup_schedule: config.backup_schedule.clone(),
            zeebe_scheduler: config.zeebe_scheduler,
            rpo_hours: config.rpo_hours,
            databases: config
                .databases
                .iter()
                .map(|d| crate::dumps::DumpClient::new(d, &config.name))
                .collect(),
            zeebe,
            deployment: config.deployment.clone(),
            // The URL carries no credentials: the configuration refuses them.
            elasticsearch: config.elasticsearch.as_ref().map(|es| {
                (
                    es.endpoint.url.as_str().trim_end_matches('/').to_string(),
                    es.repository.clone(),
                )
            }),
            webapps,
            optimize: config
                .optimize
                .as_ref()
                .map(|e| http(e, "Optimize").map(OptimizeClient::new))
                .transpose()?,
            records: config
                .elasticsearch
                .as_ref()
                .map(|es| {
                    http(&es.endpoint, "Elasticsearch").map(|h| {
                        RecordsRepository::new(
                            h,
                            es.repository.clone(),
                            es.records_index_pattern.clone(),
                        )
                    })
                })
                .transpose()?,
        })
    }

    /// The components a complete backup needs here, in display (and procedure) order.
    pub fn components(&self) -> Vec<Component> {
        let mut out = vec![Component::Zeebe];
        out.extend(self.webapps.iter().map(WebappsClient::component));
        if self.optimize.is_some() {
            out.push(Component::Optimize);
        }
        if self.records.is_some() {
            out.push(Component::RecordsSnapshot);
        }
        out.extend(
            self.databases
                .iter()
                .map(crate::dumps::DumpClient::component),
        );
        out
    }

    /// Reachability of every component, checked in parallel: `/actuator/health` for the
    /// applications (§4.6), the snapshot repository for Elasticsearch.
    pub async fn health(&self) -> ClusterSummary {
        // Without a management port the REST API's `/status` (204 while healthy) stands in.
        let rest = self
            .zeebe
            .rest()
            .filter(|_| !self.zeebe.has_management_port())
            .cloned();
        let actuator = |http: Http, rest: Option<Http>, component: Component| async move {
            if let Some(rest) = rest {
                let endpoint = rest.base().to_string();
                let url = rest.url(&["status"], &[]);
                return match rest.expect_success(Method::GET, url, None).await {
                    Ok(()) => ComponentHealth {
                        component,
                        endpoint,
                        reachability: Reachability::Up,
                        detail: None,
                    },
                    Err(e) => unhealthy(component, endpoint, &e),
                };
            }
            let url = http.url(&["actuator", "health"], &[]);
            let endpoint = http.base().to_string();
            match http.json::<serde_json::Value>(Method::GET, url, None).await {
                Ok(body) => {
                    let status = body
                        .get("status")
                        .and_then(|s| s.as_str())
                        .unwrap_or("UNKNOWN")
                        .to_string();
                    let reachability = if status == "UP" {
                        Reachability::Up
                    } else {
                        Reachability::Degraded
                    };
                    let detail = (status != "UP").then(|| format!("health status {status}"));
                    ComponentHealth {
                        component,
                        endpoint,
                        reachability,
                        detail,
                    }
                }
                Err(e) => unhealthy(component, endpoint, &e),
            }
        };
        let mut checks = vec![actuator(
            self.zeebe.http().clone(),
            rest.clone(),
            Component::Zeebe,
        )];
        // In 8.8 the web apps live in the Orchestration Cluster: the same health endpoint as Zeebe.
        checks.extend(
            self.webapps
                .iter()
                .map(|app| actuator(app.http().clone(), rest.clone(), app.component())),
        );
        if let Some(o) = &self.optimize {
            checks.push(actuator(o.http().clone(), None, Component::Optimize));
        }
        let records = self.records.clone();
        let es_check = async move {
            let repo = records?;
            let endpoint = repo.http().base().to_string();
            Some(match repo.repository_exists().await {
                Ok(true) => ComponentHealth {
                    component: Component::RecordsSnapshot,
                    endpoint,
                    reachability: Reachability::Up,
                    detail: None,
                },
                Ok(false) => ComponentHealth {
                    component: Component::RecordsSnapshot,
                    endpoint,
                    reachability: Reachability::Degraded,
                    detail: Some("the snapshot repository does not exist".into()),
                },
                Err(e) => unhealthy(Component::RecordsSnapshot, endpoint, &e),
            })
        };
        let (mut components, es) = tokio::join!(futures_util::future::join_all(checks), es_check);
        components.extend(es);
        ClusterSummary {
            name: self.name.clone(),
            profile: self.profile,
            version: self.version.clone(),
            api: self.api,
            secondary_storage: self.secondary_storage,
            components,
            maintenance: None,
        }
    }
}

fn unhealthy(component: Component, endpoint: String, error: &UpstreamError) -> ComponentHealth {
    let reachability = match error {
        UpstreamError::Status { .. }
        | UpstreamError::Decode { .. }
        | UpstreamError::TooLarge { .. }
        | UpstreamError::NotFoundElsewhere { .. } => Reachability::Degraded,
        _ => Reachability::Unreachable,
    };
    ComponentHealth {
        component,
        endpoint,
        reachability,
        detail: Some(error.to_string()),
    }
}

/// Every configured cluster, with one shared connection pool.
#[derive(Debug, Clone)]
pub struct Clusters {
    clusters: Vec<Cluster>,
}

impl Clusters {
    pub fn from_config(config: &Config) -> Result<Clusters, reqwest::Error> {
        let client = upstream::client_builder().build()?;
        Ok(Clusters {
            clusters: config
                .clusters
                .iter()
                .map(|c| Cluster::new(c, &client))
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn all(&self) -> &[Cluster] {
        &self.clusters
    }
}
