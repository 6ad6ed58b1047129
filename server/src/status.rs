//! One status poller per configured cluster: a tokio task that, every `[status]
//! poll_interval_secs`, reads Zeebe's exporting phase, probes every component's reachability (all
//! in parallel, each bounded by `[status] probe_timeout_secs`) and asks the run service whether a
//! backup run holds the cluster. The latest round is shared through a `watch` channel: any number
//! of readers (the Overview, later metrics and alerts) cost no upstream call. A reader that comes
//! before the first round waits for it; a refresh (after a pause or resume through the console)
//! asks the poller for a round now and can wait for it, so rounds never run side by side.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backup_domain::api::ExportingStatus;
use backup_domain::backup_set::Component;
use backup_domain::run::{RunReport, StepState};
use backup_domain::status::{ClusterStatus, ComponentStatus, ExportingPhase, Probe, RunHold};
use reqwest::Method;
use tokio::sync::{Notify, watch};

use crate::cluster::{Cluster, Clusters};
use crate::config::StatusConfig;
use crate::procedure::recovery::report_from_row;
use crate::procedure::service::RunService;
use crate::store::Store;
use crate::upstream::{Http, UpstreamError};

/// One finished round, numbered so that a refresh can wait for a round started after it asked.
#[derive(Debug)]
struct Round {
    seq: u64,
    status: ClusterStatus,
}

struct Poller {
    cluster: Cluster,
    latest: watch::Sender<Option<Arc<Round>>>,
    /// Asks for a round now; a request during a round gets one more right after it.
    refresh: Notify,
    /// Number of the last round started.
    started: AtomicU64,
}

/// The pollers of every cluster and the latest status of each.
pub struct StatusService {
    pollers: HashMap<String, Arc<Poller>>,
    config: StatusConfig,
    runs: Arc<RunService>,
    store: Store,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl StatusService {
    /// Starts one poller per cluster; each takes its first round at once. Needs a tokio runtime.
    pub fn start(
        clusters: &Clusters,
        runs: Arc<RunService>,
        store: Store,
        config: StatusConfig,
    ) -> Arc<StatusService> {
        let pollers = clusters
            .all()
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Arc::new(Poller {
                        cluster: c.clone(),
                        latest: watch::channel(None).0,
                        refresh: Notify::new(),
                        started: AtomicU64::new(0),
                    }),
                )
            })
            .collect();
        let service = Arc::new(StatusService {
            pollers,
            config,
            runs,
            store,
            stop: watch::channel(false).0,
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        let tasks = service
            .pollers
            .values()
            .map(|poller| tokio::spawn(poll(service.clone(), poller.clone())))
            .collect();
        *service.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        service
    }

    pub fn config(&self) -> StatusConfig {
        self.config
    }

    /// How long a reader waits for a round it needs: every probe is bounded by the probe
    /// timeout, the run check by the database's own timeout; a margin covers both.
    fn round_limit(&self) -> Duration {
        self.config.probe_timeout + Duration::from_secs(5)
    }

    /// The latest status of `cluster` (`None` for an unknown cluster). Before the first round has
    /// finished this waits for it (the poller's own round: readers never start one).
    pub async fn current(&self, cluster: &str) -> Option<Result<ClusterStatus, String>> {
        let poller = self.pollers.get(cluster)?;
        let mut rx = poller.latest.subscribe();
        let round = tokio::time::timeout(self.round_limit(), rx.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|r| r.clone()));
        Some(match round {
            Some(round) => Ok(round.status.clone()),
            None => Err(format!(
                "the first status round of `{cluster}` has not finished yet; try again"
            )),
        })
    }

    /// The latest round of `cluster`, without waiting for one (the metrics read it).
    pub fn latest(&self, cluster: &str) -> Option<ClusterStatus> {
        let poller = self.pollers.get(cluster)?;
        let round = poller.latest.borrow();
        round.as_ref().map(|r| r.status.clone())
    }

    /// Asks for a round now, without waiting for it.
    pub fn refresh(&self, cluster: &str) {
        if let Some(poller) = self.pollers.get(cluster) {
            poller.refresh.notify_one();
        }
    }

    /// Asks for a round now and waits (at most the round limit) until one started after this
    /// call has finished: what an operator's pause or resume needs before the Overview reloads.
    pub async fn refresh_and_wait(&self, cluster: &str) {
        let Some(poller) = self.pollers.get(cluster) else {
            return;
        };
        let target = poller.started.load(Ordering::SeqCst) + 1;
        let mut rx = poller.latest.subscribe();
        poller.refresh.notify_one();
        let _ = tokio::time::timeout(
            self.round_limit(),
            rx.wait_for(|r| r.as_ref().is_some_and(|r| r.seq >= target)),
        )
        .await;
    }

    /// Stops every poller (a round in flight is dropped) and waits for them, briefly.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                tracing::warn!("a status poller did not stop within 1 s");
            }
        }
    }
}

async fn poll(service: Arc<StatusService>, poller: Arc<Poller>) {
    let mut stop = service.stop.subscribe();
    let mut ticks = tokio::time::interval(service.config.poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = poller.refresh.notified() => ticks.reset(),
            _ = stop.wait_for(|s| *s) => return,
        }
        let seq = poller.started.fetch_add(1, Ordering::SeqCst) + 1;
        let status = tokio::select! {
            status = take(&poller.cluster, &service) => status,
            _ = stop.wait_for(|s| *s) => return,
        };
        poller
            .latest
            .send_replace(Some(Arc::new(Round { seq, status })));
    }
}

/// One round for `cluster`: every probe at once.
pub async fn take(cluster: &Cluster, service: &StatusService) -> ClusterStatus {
    let taken_at_ms = service.runs.clock().now_ms();
    let started = std::time::Instant::now();
    let limit = service.config.probe_timeout;
    // Without a management port the REST API's `/status` stands in for the actuator's health.
    let rest = cluster
        .zeebe
        .rest()
        .filter(|_| !cluster.zeebe.has_management_port())
        .cloned();
    let mut probes = vec![probe(
        cluster.zeebe.http().clone(),
        rest.clone(),
        Component::Zeebe,
        limit,
    )];
    // In 8.8 the web apps live in the Orchestration Cluster: the same health endpoint as Zeebe.
    probes.extend(
        cluster
            .webapps
            .iter()
            .map(|app| probe(app.http().clone(), rest.clone(), app.component(), limit)),
    );
    if let Some(o) = &cluster.optimize {
        probes.push(probe(o.http().clone(), None, Component::Optimize, limit));
    }
    let records = async {
        let repo = cluster.records.as_ref()?;
        let endpoint = repo.http().base().to_string();
        let component = Component::RecordsSnapshot;
        Some(
            match tokio::time::timeout(limit, repo.repository_exists()).await {
                Err(_) => no_answer(component, endpoint, "Elasticsearch", limit),
                Ok(Ok(true)) => reachable(component, endpoint),
                Ok(Ok(false)) => ComponentStatus {
                    component,
                    endpoint,
                    probe: Probe::Degraded,
                    error: Some("the snapshot repository does not exist".into()),
                },
                Ok(Err(e)) => failed(component, endpoint, &e),
            },
        )
    };
    let exporting = async {
        match tokio::time::timeout(limit, crate::history::exporting_status(cluster)).await {
            Ok(status) => status,
            Err(_) => ExportingStatus {
                partitions: Vec::new(),
                error: Some(format!(
                    "Zeebe GET /actuator/partitions: no answer within {} s",
                    limit.as_secs()
                )),
            },
        }
    };
    let held = held_by(cluster, service);
    let (mut components, records, exporting, held_by) = tokio::join!(
        futures_util::future::join_all(probes),
        records,
        exporting,
        held
    );
    components.extend(records);
    ClusterStatus {
        cluster: cluster.name.clone(),
        profile: cluster.profile,
        taken_at_ms,
        took_ms: started.elapsed().as_millis() as i64,
        interval_ms: service.config.poll_interval.as_millis() as i64,
        served_at_ms: 0,
        components,
        phase: ExportingPhase::of(&exporting),
        exporting,
        held_by,
    }
}

/// The actuator's health, or with `rest` the REST API's `GET /v2/status` (204 while healthy).
async fn probe(
    http: Http,
    rest: Option<Http>,
    component: Component,
    limit: Duration,
) -> ComponentStatus {
    let Some(rest) = rest else {
        return actuator(http, component, limit).await;
    };
    let url = rest.url(&["status"], &[]);
    let endpoint = rest.base().to_string();
    match tokio::time::timeout(limit, rest.expect_success(Method::GET, url, None)).await {
        Err(_) => no_answer(component, endpoint, rest.component(), limit),
        Ok(Err(e)) => failed(component, endpoint, &e),
        Ok(Ok(())) => reachable(component, endpoint),
    }
}

/// `/actuator/health` of one application (contract §4.6).
async fn actuator(http: Http, component: Component, limit: Duration) -> ComponentStatus {
    let url = http.url(&["actuator", "health"], &[]);
    let endpoint = http.base().to_string();
    let label = http.component();
    match tokio::time::timeout(
        limit,
        http.json::<serde_json::Value>(Method::GET, url, None),
    )
    .await
    {
        Err(_) => no_answer(component, endpoint, label, limit),
        Ok(Err(e)) => failed(component, endpoint, &e),
        Ok(Ok(body)) => {
            let status = body
                .get("status")
                .and_then(|s| s.as_str())
                .unwrap_or("UNKNOWN");
            if status == "UP" {
                reachable(component, endpoint)
            } else {
                ComponentStatus {
                    component,
                    endpoint,
                    probe: Probe::Degraded,
                    error: Some(format!("health status {status}")),
                }
            }
        }
    }
}

fn reachable(component: Component, endpoint: String) -> ComponentStatus {
    ComponentStatus {
        component,
        endpoint,
        probe: Probe::Reachable,
        error: None,
    }
}

fn no_answer(
    component: Component,
    endpoint: String,
    label: &str,
    limit: Duration,
) -> ComponentStatus {
    ComponentStatus {
        component,
        endpoint,
        probe: Probe::Unknown,
        error: Some(format!(
            "{label}: no answer within {} s",
            limit.as_secs().max(1)
        )),
    }
}

/// An answer that is not a healthy one is degraded; no connection is unreachable; a timeout
/// leaves the state unknown.
fn failed(component: Component, endpoint: String, error: &UpstreamError) -> ComponentStatus {
    let probe = match error {
        UpstreamError::Status { .. }
        | UpstreamError::Decode { .. }
        | UpstreamError::TooLarge { .. }
        | UpstreamError::NotFoundElsewhere { .. } => Probe::Degraded,
        UpstreamError::Connect { .. } | UpstreamError::Transport { .. } => Probe::Unreachable,
        UpstreamError::Timeout { .. }
        | UpstreamError::Token { .. }
        | UpstreamError::NoManagementPort { .. } => Probe::Unknown,
    };
    ComponentStatus {
        component,
        endpoint,
        probe,
        error: Some(error.to_string()),
    }
}

/// The run holding the cluster, with the step it is at.
async fn held_by(cluster: &Cluster, service: &StatusService) -> Option<RunHold> {
    let holding = service.runs.holding(&cluster.name).await?;
    let Some(run_id) = holding.run_id else {
        return Some(RunHold {
            run_id: None,
            backup_id: None,
            phase: "starting".into(),
            resuming: holding.resuming,
        });
    };
    let report: Option<RunReport> = match service.runs.live(run_id) {
        Some(report) => Some(report),
        None => service
            .store
            .run(run_id)
            .await
            .ok()
            .flatten()
            .map(|row| report_from_row(&row, cluster.profile)),
    };
    let phase = report
        .as_ref()
        .and_then(|r| {
            r.steps
                .iter()
                .find(|s| s.state == StepState::Running)
                .map(|s| s.description.clone())
        })
        .unwrap_or_else(|| "running".into());
    Some(RunHold {
        run_id: Some(run_id),
        backup_id: report.map(|r| r.backup_id),
        phase,
        resuming: holding.resuming,
    })
}
