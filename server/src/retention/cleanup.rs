//! A cleanup from the confirmed plan to every deleted artifact: start, retry, the owned task with its
//! heartbeat, and the deletions themselves.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::retention::{
    self as planner, Artifact, ArtifactState, CleanupOutcome, CleanupReport, CleanupRequest,
    CleanupStarted, RetentionPlan, RetentionPolicy,
};
use backup_domain::{BackupSet, Component, Verdict};
use tokio::sync::{Semaphore, watch};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::procedure::service::STALE_AFTER_MS;
use crate::store::{CleanupRow, Store, StoreError};
use crate::upstream::UpstreamError;

use super::{CleanupError, HEARTBEAT_EVERY, RetentionService, to_json};

/// "12, 11, 10" (cut after 20 IDs, with how many more).
pub(super) fn id_list(ids: &[u64]) -> String {
    let shown: Vec<String> = ids.iter().take(20).map(u64::to_string).collect();
    match ids.len().saturating_sub(20) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Deletes one artifact. A 404 means it is already gone: deleting is idempotent (Zeebe itself
/// answers 204 for an unknown ID, contract §3.5; Elasticsearch 404s, §7.4; web apps 404, §5.1).
pub(super) async fn delete_one(
    cluster: &Cluster,
    artifact: &Artifact,
) -> (ArtifactState, Option<String>) {
    let id = artifact.backup_id;
    let result = match artifact.component {
        Component::Zeebe => cluster.zeebe.delete(id).await,
        Component::Operate | Component::Tasklist | Component::Webapps => {
            match cluster
                .webapps
                .iter()
                .find(|w| w.component() == artifact.component)
            {
                Some(app) => app.delete(id).await,
                None => return not_configured(artifact.component),
            }
        }
        Component::Optimize => match &cluster.optimize {
            Some(optimize) => optimize.delete(id).await,
            None => return not_configured(Component::Optimize),
        },
        Component::RecordsSnapshot => match &cluster.records {
            Some(records) => records.delete(id).await,
            None => return not_configured(Component::RecordsSnapshot),
        },
        Component::WebModelerDump | Component::RdbmsDump => {
            let Some(db) = cluster
                .databases
                .iter()
                .find(|d| d.component() == artifact.component)
            else {
                return not_configured(artifact.component);
            };
            return match db.delete(id).await {
                Ok(true) => (ArtifactState::Deleted, None),
                Ok(false) => (ArtifactState::AlreadyGone, None),
                Err(e) => (ArtifactState::Failed, Some(e.to_string())),
            };
        }
    };
    match result {
        Ok(()) => (ArtifactState::Deleted, None),
        Err(UpstreamError::Status { status: 404, .. }) => (ArtifactState::AlreadyGone, None),
        Err(e) => (ArtifactState::Failed, Some(e.to_string())),
    }
}

pub(super) fn not_configured(component: Component) -> (ArtifactState, Option<String>) {
    (
        ArtifactState::Failed,
        Some(format!("{} is not configured", component.label())),
    )
}

/// Deletes every pending artifact of the report, `concurrency` at a time, publishing each result.
pub(super) async fn execute(
    cluster: &Cluster,
    progress: watch::Sender<CleanupReport>,
    concurrency: usize,
    mut lost: watch::Receiver<bool>,
) -> CleanupReport {
    let items: Vec<(usize, Artifact)> = progress
        .borrow()
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.state == ArtifactState::Pending)
        .map(|(n, i)| (n, i.artifact.clone()))
        .collect();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, artifact) in items {
        let (cluster, permits) = (cluster.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, delete_one(&cluster, &artifact).await)
        });
    }
    loop {
        let joined = tokio::select! {
            joined = tasks.join_next() => joined,
            // Taken over: the deletes not yet started never start (dropping the set aborts them).
            _ = lost.wait_for(|lost| *lost) => break,
        };
        let Some(joined) = joined else { break };
        // A panicked delete leaves its artifact pending: counted as failed below.
        if let Ok((index, (state, error))) = joined {
            progress.send_modify(|r| {
                r.items[index].state = state;
                r.items[index].error = error;
            });
        }
    }
    drop(tasks);
    let mut report = progress.borrow().clone();
    for item in &mut report.items {
        if item.state == ArtifactState::Pending {
            item.state = ArtifactState::Failed;
            item.error = Some("the delete did not finish".into());
        }
    }
    report.settle();
    report
}

/// Says the cleanup's process is alive, until `stop`; raises `lost` once another process took the
/// cleanup over.
pub(super) async fn heartbeat(
    store: Store,
    clock: Clock,
    id: i64,
    owner: String,
    lost: Arc<watch::Sender<bool>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        match store
            .heartbeat_cleanup(id, owner.clone(), clock.now_ms())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(id, "this process no longer holds the cleanup's lease");
                lost.send_replace(true);
                return;
            }
            Err(error) => tracing::error!(%error, id, "could not record the cleanup's heartbeat"),
        }
        tokio::select! {
            () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            _ = &mut stop => return,
        }
    }
}

impl RetentionService {
    /// The plan of the policy in force on fresh data, with the history it was computed from.
    pub async fn fresh_plan(
        &self,
        cluster: &Cluster,
    ) -> Result<(RetentionPlan, RetentionPolicy, Vec<BackupSet>), StoreError> {
        let history = crate::history::history(cluster).await;
        let state = self.state(cluster).await?;
        let plan = state.plan(&history.sets, self.clock.now_ms());
        Ok((plan, state.policy, history.sets))
    }

    /// Checks what the administrator confirmed against a fresh plan, then deletes it.
    pub async fn start(
        self: &Arc<Self>,
        cluster: &Cluster,
        request: CleanupRequest,
        user: &str,
        client: &str,
    ) -> Result<CleanupStarted, CleanupError> {
        self.refuse_in_maintenance(cluster).await?;
        let (plan, policy, sets) = self.fresh_plan(cluster).await?;
        let difference = planner::difference(&request.delete, &plan);
        if !difference.is_empty() {
            return Err(CleanupError::PlanChanged(difference));
        }
        let refused = planner::refuse_selection(&plan, &request.selected, policy.floor());
        if !refused.is_empty() {
            return Err(CleanupError::Refused(refused));
        }
        // What a schedule would refuse, an admin may still do, having been told. Sets ticked by
        // hand need it too while a component holds none of the IDs (an empty Zeebe store makes
        // every set an orphan): the review of part 7 deleted a whole history that way.
        let warning = if !request.delete.is_empty() {
            planner::unattended_refusal(&sets, &plan)
        } else if !request.selected.is_empty() {
            planner::component_holding_none(&sets)
        } else {
            None
        };
        if let Some(warning) = warning
            && !request.acknowledge_warning
        {
            return Err(CleanupError::Unacknowledged(warning));
        }
        let ids: BTreeSet<u64> = request
            .delete
            .iter()
            .chain(&request.selected)
            .copied()
            .collect();
        if ids.is_empty() {
            return Err(CleanupError::BadRequest("nothing to delete".into()));
        }
        if request.confirm != ids.len() {
            return Err(CleanupError::BadRequest(format!(
                "type the number of sets to delete, {}, to confirm",
                ids.len()
            )));
        }
        let artifacts = sets
            .iter()
            .filter(|s| ids.contains(&s.backup_id))
            .flat_map(planner::artifacts)
            .collect();
        self.launch(
            cluster,
            ids.into_iter().rev().collect(),
            artifacts,
            user,
            client,
        )
        .await
    }

    /// A cluster in maintenance mode starts no cleanup.
    async fn refuse_in_maintenance(&self, cluster: &Cluster) -> Result<(), CleanupError> {
        match crate::maintenance::gate(&self.store, &cluster.name).await? {
            Some(mode) => Err(CleanupError::Maintenance(crate::maintenance::refusal(
                &mode,
            ))),
            None => Ok(()),
        }
    }

    /// Tries again what a cleanup could not delete (failed, or left pending by an interruption).
    pub async fn retry(
        self: &Arc<Self>,
        cleanup_id: i64,
        user: &str,
        client: &str,
    ) -> Result<(CleanupStarted, String), CleanupError> {
        let row = self
            .store
            .cleanup(cleanup_id)
            .await?
            .ok_or(CleanupError::NotFound(cleanup_id))?;
        let row = self.not_running(row).await?;
        let previous = self.view(row);
        let cluster = self
            .clusters
            .get(&previous.cluster)
            .cloned()
            .ok_or_else(|| {
                CleanupError::BadRequest("that cluster is no longer configured".into())
            })?;
        let left: Vec<Artifact> = previous
            .report
            .items
            .iter()
            .filter(|i| matches!(i.state, ArtifactState::Failed | ArtifactState::Pending))
            .map(|i| i.artifact.clone())
            .collect();
        if left.is_empty() {
            return Err(CleanupError::BadRequest(
                "nothing failed in that cleanup".into(),
            ));
        }
        // Protections may have changed since (a pin, a run): a protected set is not retried.
        let (plan, _, _) = self.fresh_plan(&cluster).await?;
        let sets: BTreeSet<u64> = left.iter().map(|a| a.backup_id).collect();
        let refused: Vec<(u64, String)> = sets
            .iter()
            .filter_map(|id| match plan.decision(*id) {
                Some(d) if d.protected => Some((*id, format!("protected: {}", d.reason))),
                // A set still usable that the policy in force now keeps (a limit raised since)
                // is not deleted on the strength of an older plan.
                Some(d)
                    if d.decision == planner::Decision::Keep
                        && matches!(
                            d.verdict,
                            Verdict::Restorable | Verdict::RestorablePartial
                        ) =>
                {
                    Some((
                        *id,
                        format!("the policy in force now keeps it: {}", d.reason),
                    ))
                }
                _ => None,
            })
            .collect();
        if !refused.is_empty() {
            return Err(CleanupError::Refused(refused));
        }
        let started = self
            .launch(
                &cluster,
                sets.into_iter().rev().collect(),
                left,
                user,
                client,
            )
            .await?;
        Ok((started, cluster.name))
    }

    /// A cleanup that is still running is not retried: its process is alive (this one, or another
    /// whose heartbeat is fresh) and a retry would delete in parallel with it. One whose process
    /// went silent is taken over and marked interrupted first. Returns the row as it now stands.
    pub(super) async fn not_running(&self, row: CleanupRow) -> Result<CleanupRow, CleanupError> {
        if row.state != "running" {
            return Ok(row);
        }
        let now = self.clock.now_ms();
        let taken = self
            .store
            .interrupt_stale_cleanups(self.owner.clone(), now, now - STALE_AFTER_MS, Some(row.id))
            .await?;
        if taken.is_empty() {
            let seen = row
                .heartbeat_ms
                .map(|at| format!(", alive {:.1} s ago", (now - at).max(0) as f64 / 1000.0))
                .unwrap_or_default();
            let process = match &row.owner {
                Some(owner) if *owner == self.owner => "in this console".to_string(),
                Some(owner) => format!("in another process ({owner}{seen})"),
                None => "in another process".to_string(),
            };
            return Err(CleanupError::Conflict(format!(
                "cleanup {} is still running {process}: wait for it to end, then retry what it could not delete",
                row.id
            )));
        }
        self.store
            .cleanup(row.id)
            .await?
            .ok_or(CleanupError::NotFound(row.id))
    }

    pub(super) async fn launch(
        self: &Arc<Self>,
        cluster: &Cluster,
        sets: Vec<u64>,
        artifacts: Vec<Artifact>,
        user: &str,
        client: &str,
    ) -> Result<CleanupStarted, CleanupError> {
        self.refuse_in_maintenance(cluster).await?;
        let report = CleanupReport::new(sets.clone(), artifacts);
        let started = CleanupStarted {
            cleanup_id: 0,
            sets: sets.len(),
            artifacts: report.items.len(),
        };
        let id = self
            .store
            .create_cleanup(
                cluster.name.clone(),
                user.to_string(),
                self.clock.now_ms(),
                to_json(&report),
                self.owner.clone(),
            )
            .await?;
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::CleanupStarted,
                AuditOutcome::Success,
            )
            .cluster(cluster.name.as_str())
            .target(Some(id_list(&sets)))
            .detail(Some(format!(
                "cleanup {id}: {} sets, {} artifacts",
                started.sets, started.artifacts
            ))),
        )
        .await;
        let (tx, rx) = watch::channel(report);
        self.live().insert(id, rx.clone());
        let service = self.clone();
        let (cluster, user, client) = (cluster.clone(), user.to_string(), client.to_string());
        tokio::spawn(async move {
            // Raised when another process took the cleanup over (this one was silent too long):
            // no further delete starts and nothing more is written to the row.
            let lost = Arc::new(watch::channel(false).0);
            let (stop_tx, stop) = tokio::sync::oneshot::channel();
            // Progress stored at most every 200 ms, so that a reload shows it.
            let (store, owner, persist_lost) =
                (service.store.clone(), service.owner.clone(), lost.clone());
            let persister = tokio::spawn(crate::progress::persist_changes(
                rx,
                stop,
                Duration::from_millis(200),
                move |report: CleanupReport| {
                    let (store, owner, lost) = (store.clone(), owner.clone(), persist_lost.clone());
                    async move {
                        match store
                            .update_cleanup(id, owner, "running", None, to_json(&report))
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => {
                                lost.send_replace(true);
                            }
                            Err(error) => {
                                tracing::error!(%error, id, "could not store cleanup progress");
                            }
                        }
                    }
                },
            ));
            let (alive_tx, alive) = tokio::sync::oneshot::channel();
            let heartbeat = tokio::spawn(heartbeat(
                service.store.clone(),
                service.clock.clone(),
                id,
                service.owner.clone(),
                lost.clone(),
                alive,
            ));
            let report = execute(&cluster, tx.clone(), service.concurrency, lost.subscribe()).await;
            let _ = stop_tx.send(());
            let _ = persister.await;
            let _ = alive_tx.send(());
            let _ = heartbeat.await;
            let written = if *lost.borrow() {
                Ok(false)
            } else {
                service
                    .store
                    .update_cleanup(
                        id,
                        service.owner.clone(),
                        report.outcome.state_name(),
                        Some(service.clock.now_ms()),
                        to_json(&report),
                    )
                    .await
            };
            let deleted = report.count(ArtifactState::Deleted);
            let gone = report.count(ArtifactState::AlreadyGone);
            if let Ok(false) = written {
                // The process that took it over wrote its outcome; this one's would overwrite it.
                tracing::error!(
                    id,
                    cluster = %cluster.name,
                    "another process took this cleanup over (this one was silent too long); it stopped without writing an outcome"
                );
                let mut stopped = tx.borrow().clone();
                stopped.outcome = CleanupOutcome::Interrupted;
                tx.send_replace(stopped);
                audit::record(
&service.store,
&service.clock,
AuditEvent::new(&user, &client, AuditAction::CleanupFinished, AuditOutcome::Failure)
.cluster(cluster.name.as_str())
.target(Some(id_list(&report.sets)))
.detail(Some(format!(
                            "cleanup {id}: taken over by another process after {deleted} deleted, {gone} already gone; retry it for the rest"
                        ))),
)
                    .await;
                service.live().remove(&id);
                return;
            }
            // The live view shows the outcome before the row says the cleanup ended, so no
            // answer can pair an end time with a running outcome.
            tx.send_replace(report.clone());
            if let Err(error) = written {
                tracing::error!(%error, id, "could not store the end of a cleanup");
            }
            service.runs.metrics().cleanup_ended(&cluster.name, &report);
            let failed = report.count(ArtifactState::Failed);
            audit::record(
                &service.store,
                &service.clock,
                AuditEvent::new(
                    &user,
                    &client,
                    AuditAction::CleanupFinished,
                    if failed == 0 {
                        AuditOutcome::Success
                    } else {
                        AuditOutcome::Failure
                    },
                )
                .cluster(cluster.name.as_str())
                .target(Some(id_list(&report.sets)))
                .detail(Some(format!(
                    "cleanup {id}: {deleted} deleted, {gone} already gone, {failed} failed"
                ))),
            )
            .await;
            service.live().remove(&id);
        });
        Ok(CleanupStarted {
            cleanup_id: id,
            ..started
        })
    }
}
