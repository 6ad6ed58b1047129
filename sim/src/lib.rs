//! A simulated Camunda 8 cluster that follows `docs/camunda-apis.md`: every
//! component on its own port over real HTTP, with the status codes, error bodies, asynchronous
//! states and quirks of the 8.7 and 8.8 API generations, plus a control endpoint for faults.
//!
//! The console never knows it is talking to the simulator: it gets URLs, exactly as from a config
//! file for a real cluster.

pub mod component;
mod control;
mod elasticsearch;
pub mod faults;
mod jwt;
mod respond;
pub mod rest;
pub mod seed;
pub mod state;
mod webapps;
mod zeebe;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use backup_domain::api::{SecondaryStorage, VersionProfile};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use respond::Sim;
use state::{SimComponent, SimState, Timings, ZeebeScheduler};

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub profile: VersionProfile,
    pub partitions: u32,
    pub timings: Timings,
    /// Seeded historical backups.
    pub seed_count: usize,
    pub seed: u64,
    /// Deploy Optimize (a cluster may lack it).
    pub with_optimize: bool,
    /// First port to use, one per component in a fixed order; `None` takes free ports.
    pub base_port: Option<u16>,
    /// Serve Elasticsearch over HTTPS through this server, as ES 8 does by default.
    pub elasticsearch_tls: Option<Arc<dyn TlsServer>>,
    /// `rdbms` (8.8 profile, reported as 8.9): no history backups, no Elasticsearch, no Optimize.
    pub secondary_storage: SecondaryStorage,
    /// Zeebe's own scheduler (RDBMS): a backup every `interval_ms` with a generated ID.
    pub zeebe_scheduler: Option<ZeebeScheduler>,
    /// Serve the 8.10 REST API (`/v2`) on a port of its own (8.8 profile only).
    pub rest: Option<SimRest>,
}

/// The 8.10 REST listener's credentials: one Basic user with every backup permission, and
/// bearer tokens when a JWKS URL is given.
#[derive(Debug, Clone)]
pub struct SimRest {
    pub username: String,
    pub password: String,
    /// An OpenID provider's `jwks_uri`: bearer tokens it signed (RS256) are accepted.
    pub jwks_url: Option<String>,
}

/// Serves a component over TLS: the simulator brings no TLS stack of its own, so whoever wants
/// an HTTPS Elasticsearch hands one in (the console's tests use the console's own TLS listener).
pub trait TlsServer: std::fmt::Debug + Send + Sync {
    /// Takes the bound listener and the component's router, and returns the server, which the
    /// simulator spawns; it should run until the listener fails.
    fn serve(
        &self,
        listener: TcpListener,
        router: Router,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;
}

impl SimConfig {
    pub fn new(profile: VersionProfile) -> Self {
        SimConfig {
            profile,
            partitions: 3,
            timings: Timings::default(),
            seed_count: 0,
            seed: 7,
            with_optimize: true,
            base_port: None,
            elasticsearch_tls: None,
            secondary_storage: SecondaryStorage::Elasticsearch,
            zeebe_scheduler: None,
            rest: None,
        }
    }

    /// An 8.9 cluster on RDBMS secondary storage, with Zeebe's scheduler if `scheduler` is given.
    pub fn rdbms(scheduler: Option<ZeebeScheduler>) -> Self {
        SimConfig {
            secondary_storage: SecondaryStorage::Rdbms,
            zeebe_scheduler: scheduler,
            with_optimize: false,
            ..SimConfig::new(VersionProfile::V88)
        }
    }
}

/// Where each simulated component listens.
#[derive(Debug, Clone, Serialize)]
pub struct SimEndpoints {
    pub profile: VersionProfile,
    /// The Zeebe gateway (8.7) or Orchestration Cluster (8.8) management API.
    pub zeebe: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasklist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimize: Option<String>,
    /// Empty on RDBMS, which has no Elasticsearch.
    pub elasticsearch: String,
    pub repository: String,
    pub control: String,
    pub secondary_storage: SecondaryStorage,
    /// The exact minor the cluster reports ("8.9").
    pub version: String,
    /// Zeebe's own scheduler takes the backups and generates their IDs.
    pub zeebe_scheduler: bool,
    /// The 8.10 REST API's base (`http://host:port/v2`), when it is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest: Option<String>,
    /// The REST user and password, handed to the console as environment variables.
    #[serde(skip)]
    pub rest_credentials: Option<(String, String)>,
}

/// The environment variables `console_config` names for the REST API's Basic credentials.
pub const REST_USER_ENV: &str = "SIM_REST_USER";
pub const REST_PASSWORD_ENV: &str = "SIM_REST_PASSWORD";

impl SimEndpoints {
    /// A console configuration for this cluster: what an administrator would write for a real one.
    pub fn console_config(&self, cluster_name: &str) -> String {
        let mut out = format!(
            "[[clusters]]\nname = \"{cluster_name}\"\nversion = \"{}\"\n",
            self.version
        );
        if self.rest.is_some() {
            out.push_str("api = \"rest\"\n");
        }
        let rdbms = self.secondary_storage == SecondaryStorage::Rdbms;
        if rdbms {
            out.push_str("secondary_storage = \"rdbms\"\n");
        }
        // The REST API's table sits under `[clusters.orchestration]`, with its own credentials.
        let rest_table = self.rest.as_ref().map(|rest| format!(
            "\n[clusters.orchestration.rest]\nurl = \"{rest}\"\nauth = {{ type = \"basic\", username_env = \"{REST_USER_ENV}\", password_env = \"{REST_PASSWORD_ENV}\" }}\n"
        ));
        let mut section = |key: &str, url: &str| {
            out.push_str(&format!("\n[clusters.{key}]\nurl = \"{url}\"\n"));
            if let Some(table) = rest_table.as_ref().filter(|_| key == "orchestration") {
                out.push_str(table);
            }
        };
        match self.profile {
            VersionProfile::V87 => section("zeebe", &self.zeebe),
            VersionProfile::V88 => section("orchestration", &self.zeebe),
        }
        if let Some(url) = &self.operate {
            section("operate", url);
        }
        if let Some(url) = &self.tasklist {
            section("tasklist", url);
        }
        if let Some(url) = &self.optimize {
            section("optimize", url);
        }
        if !rdbms {
            section("elasticsearch", &self.elasticsearch);
            out.push_str(&format!("repository = \"{}\"\n", self.repository));
        }
        if self.zeebe_scheduler {
            out.push_str("\n[clusters.backup]\nzeebe_scheduler = true\n");
        }
        out
    }

    /// The environment `console_config` reads its credentials from.
    pub fn env(&self, key: &str) -> Option<String> {
        let (user, password) = self.rest_credentials.as_ref()?;
        match key {
            REST_USER_ENV => Some(user.clone()),
            REST_PASSWORD_ENV => Some(password.clone()),
            _ => None,
        }
    }
}

/// A running simulated cluster. Dropping it stops every listener.
pub struct SimCluster {
    pub endpoints: SimEndpoints,
    pub sim: Sim,
    /// The REST listener's users and what it and the management port saw.
    pub rest: rest::RestSim,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl SimCluster {
    pub async fn start(config: SimConfig) -> std::io::Result<SimCluster> {
        let mut state = SimState::new(config.profile, config.partitions, config.timings);
        // The REST API exists from 8.10: its brokers and snapshots say so.
        if config.rest.is_some() {
            state.camunda_version = "8.10.0".into();
            state.optimize_version = "8.10.0".into();
        }
        let rdbms = config.secondary_storage == SecondaryStorage::Rdbms;
        if rdbms {
            state.use_rdbms();
        }
        state.zeebe_scheduler = config.zeebe_scheduler;
        if config.seed_count > 0 {
            seed::seed_history(
                &mut state,
                config.seed_count,
                respond::now_ms(),
                config.seed,
            );
        }
        let version = {
            let mut minor = state.camunda_version.split('.').take(2);
            format!(
                "{}.{}",
                minor.next().unwrap_or("8"),
                minor.next().unwrap_or("8")
            )
        };
        let sim = Sim::new(state);

        let mut routers: Vec<(&str, Router)> = Vec::new();
        match config.profile {
            VersionProfile::V87 => {
                routers.push(("zeebe", zeebe::router(sim.clone(), config.profile)));
                for app in [SimComponent::Operate, SimComponent::Tasklist] {
                    let name = if app == SimComponent::Operate {
                        "operate"
                    } else {
                        "tasklist"
                    };
                    routers.push((
                        name,
                        webapps::router(sim.clone(), app)
                            .merge(webapps::health_router(sim.clone(), app)),
                    ));
                }
            }
            VersionProfile::V88 if rdbms => {
                // backupHistory is active only with ES/OS (§5.2): Spring answers 404.
                routers.push((
                    "zeebe",
                    zeebe::router(sim.clone(), config.profile).merge(webapps::absent_router()),
                ));
            }
            VersionProfile::V88 => {
                // One application serves runtime and history backups (§5.2).
                routers.push((
                    "zeebe",
                    zeebe::router(sim.clone(), config.profile)
                        .merge(webapps::router(sim.clone(), SimComponent::Webapps)),
                ));
            }
        }
        if config.with_optimize && !rdbms {
            routers.push((
                "optimize",
                webapps::router(sim.clone(), SimComponent::Optimize)
                    .merge(webapps::health_router(sim.clone(), SimComponent::Optimize)),
            ));
        }
        let rest_sim = match &config.rest {
            Some(r) => rest::RestSim::new(&r.username, &r.password, r.jwks_url.clone()),
            None => rest::RestSim::default(),
        };
        // The management ports are unauthenticated: every Authorization header they get is counted.
        for (_, router) in routers.iter_mut() {
            *router = std::mem::take(router).layer(axum::middleware::from_fn_with_state(
                rest_sim.clone(),
                rest::watch_management,
            ));
        }
        if config.rest.is_some() && config.profile == VersionProfile::V88 {
            routers.push(("rest", rest::router(sim.clone(), rest_sim.clone())));
        }
        if !rdbms {
            routers.push(("elasticsearch", elasticsearch::router(sim.clone())));
        }
        routers.push((
            "control",
            control::router(sim.clone()).merge(rest::control_router(rest_sim.clone())),
        ));

        let mut urls = std::collections::HashMap::new();
        let mut tasks = Vec::new();
        for (i, (name, router)) in routers.into_iter().enumerate() {
            let port = config.base_port.map_or(0, |p| p + i as u16);
            let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
            let addr = listener.local_addr()?;
            match config
                .elasticsearch_tls
                .as_ref()
                .filter(|_| name == "elasticsearch")
            {
                Some(tls) => {
                    urls.insert(name, format!("https://{addr}"));
                    let server = tls.serve(listener, router);
                    tasks.push(tokio::spawn(async move {
                        if let Err(error) = server.await {
                            tracing::error!(%error, "simulated component stopped");
                        }
                    }));
                }
                None => {
                    urls.insert(name, format!("http://{addr}"));
                    tasks.push(tokio::spawn(async move {
                        if let Err(error) = axum::serve(listener, router).await {
                            tracing::error!(%error, "simulated component stopped");
                        }
                    }));
                }
            }
        }
        if let Some(scheduler) = config.zeebe_scheduler {
            let sim = sim.clone();
            let every = std::time::Duration::from_millis(scheduler.interval_ms.max(1) as u64);
            tasks.push(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.tick().await; // the first tick is immediate; the first backup comes later
                loop {
                    ticks.tick().await;
                    sim.write().take_scheduled_backup(respond::now_ms());
                }
            }));
        }
        let url = |name: &str| urls.get(name).cloned();
        let endpoints = SimEndpoints {
            profile: config.profile,
            zeebe: url("zeebe").unwrap_or_default(),
            operate: url("operate"),
            tasklist: url("tasklist"),
            optimize: url("optimize"),
            elasticsearch: url("elasticsearch").unwrap_or_default(),
            repository: "camunda".into(),
            control: url("control").unwrap_or_default(),
            secondary_storage: config.secondary_storage,
            version,
            zeebe_scheduler: config.zeebe_scheduler.is_some(),
            rest: url("rest").map(|u| format!("{u}/v2")),
            rest_credentials: config
                .rest
                .as_ref()
                .map(|r| (r.username.clone(), r.password.clone())),
        };
        Ok(SimCluster {
            endpoints,
            sim,
            rest: rest_sim,
            tasks,
        })
    }
}
