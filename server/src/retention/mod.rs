//! Retention cleanup: the policy in force per cluster, pins, and deleting backup sets across every
//! component. The plan itself is `backup_domain::retention::plan`, the same function the browser
//! previews with; before deleting anything the server recomputes it on fresh data and refuses when
//! it differs from what the administrator confirmed.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backup_domain::cron::Schedule;
use backup_domain::retention::{
    self as planner, Artifact, ArtifactState, CleanupOutcome, CleanupReport, CleanupRequest,
    CleanupStarted, CleanupView, Pin, PolicyConfirmation, PolicySource, RetentionPlan,
    RetentionPolicy, RetentionState, ScheduleRefusal,
};
use backup_domain::{BackupSet, Component, Verdict};
use tokio::sync::{Semaphore, watch};

use crate::clock::Clock;
use crate::cluster::{Cluster, Clusters};
use crate::procedure::service::{RunService, STALE_AFTER_MS};
use crate::store::{AuditRecord, CleanupRow, Store, StoreError};
use crate::upstream::UpstreamError;

/// Who the scheduler acts as, in the cleanups table and the audit log.
pub const SCHEDULE_USER: &str = "schedule";

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the plan changed since the preview")]
    PlanChanged(planner::PlanDifference),
    #[error("some selected sets may not be deleted")]
    Refused(Vec<(u64, String)>),
    #[error("no cleanup {0}")]
    NotFound(i64),
    /// A cleanup nobody confirmed was refused; the reason is recorded and audited.
    #[error("cleanup refused: {0}")]
    Unattended(String),
    #[error("{0}")]
    Conflict(String),
    /// The plan carries a warning the request did not acknowledge.
    #[error("{0}; confirm again acknowledging it")]
    Unacknowledged(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct RetentionService {
    store: Store,
    clusters: Arc<Clusters>,
    runs: Arc<RunService>,
    /// How many DELETE calls run at once.
    concurrency: usize,
    live: Mutex<HashMap<i64, watch::Receiver<CleanupReport>>>,
    /// Schedules only fire for times after this process started.
    started_ms: i64,
    /// This process among those sharing the database (the server, a `cleanup` CLI): the owner
    /// of the cleanups it runs (review L4).
    owner: String,
    /// The run service's clock: plans, schedules, leases and audit rows share one "now".
    clock: Clock,
}

/// How often the process running a cleanup says so in the database.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// How often a console looks for cleanups whose process went silent.
const STALE_CHECK_EVERY: Duration = Duration::from_secs(1);

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

impl RetentionService {
    pub fn new(
        store: Store,
        clusters: Arc<Clusters>,
        runs: Arc<RunService>,
        concurrency: usize,
    ) -> Self {
        let clock = runs.clock().clone();
        RetentionService {
            store,
            clusters,
            runs,
            concurrency: concurrency.max(1),
            live: Mutex::new(HashMap::new()),
            started_ms: clock.now_ms(),
            clock,
            owner: format!(
                "pid {} {}",
                std::process::id(),
                &crate::auth::random_token()[..8]
            ),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<i64, watch::Receiver<CleanupReport>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks interrupted the running cleanups whose process has not said it is alive for
    /// [`STALE_AFTER_MS`] (a console or CLI that was killed or hung); a live one, whichever
    /// process runs it, is left alone. Returns how many were interrupted.
    pub async fn interrupt_stale_cleanups(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let ids = self
            .store
            .interrupt_stale_cleanups(self.owner.clone(), now, now - STALE_AFTER_MS, None)
            .await?;
        for id in &ids {
            tracing::warn!(
                id,
                "a cleanup whose process stopped was marked interrupted; retry it from the Retention page"
            );
        }
        Ok(ids.len())
    }

    /// Marks this process's own running cleanups interrupted, as it stops.
    pub async fn interrupt_own_cleanups(&self) -> Result<usize, StoreError> {
        self.store
            .interrupt_own_cleanups(self.owner.clone(), self.clock.now_ms())
            .await
    }

    /// The policy in force: saved from the console, else the file's, else the default.
    pub async fn policy(
        &self,
        cluster: &Cluster,
    ) -> Result<(RetentionPolicy, PolicySource), StoreError> {
        if let Some(saved) = self.store.policy(cluster.name.clone()).await? {
            return Ok((
                saved.policy,
                PolicySource::Saved {
                    by: saved.updated_by,
                    at_ms: saved.updated_ms,
                },
            ));
        }
        Ok(match &cluster.retention {
            Some(p) => (p.clone(), PolicySource::ConfigFile),
            None => (RetentionPolicy::default(), PolicySource::Default),
        })
    }

    pub async fn state(&self, cluster: &Cluster) -> Result<RetentionState, StoreError> {
        let (policy, source) = self.policy(cluster).await?;
        let mut pins = self.store.pins(cluster.name.clone()).await?;
        // Pins of the file hold even on a new database.
        for &backup_id in &cluster.pinned {
            if !pins.iter().any(|p| p.backup_id == backup_id) {
                pins.push(Pin {
                    backup_id,
                    pinned_by: FILE_PINNED_BY.into(),
                    pinned_ms: 0,
                });
            }
        }
        pins.sort_by_key(|p| std::cmp::Reverse(p.backup_id));
        let confirmed = self
            .setting_json::<PolicyConfirmation>(confirmation_key(&cluster.name))
            .await?;
        let schedule_refusal = self
            .setting_json::<ScheduleRefusal>(refusal_key(&cluster.name))
            .await?;
        let running_backup_id = self.runs.running_backup(&cluster.name).await;
        let last_cleanup = self
            .store
            .latest_cleanup(cluster.name.clone(), None)
            .await?
            .map(|row| self.view(row));
        let next_scheduled_ms = match policy.schedule.as_deref().map(Schedule::parse) {
            Some(Ok(schedule)) => schedule.next_after(self.clock.now_ms()),
            _ => None,
        };
        Ok(RetentionState {
            policy,
            source,
            pins,
            running_backup_id,
            last_cleanup,
            next_scheduled_ms,
            confirmed,
            schedule_refusal,
        })
    }

    async fn setting_json<T: serde::de::DeserializeOwned>(
        &self,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .store
            .get_setting(key)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    async fn record_confirmation(
        &self,
        cluster: &Cluster,
        policy: &RetentionPolicy,
        user: &str,
    ) -> Result<(), StoreError> {
        let confirmation = PolicyConfirmation {
            policy: policy.clone(),
            by: user.to_string(),
            at_ms: self.clock.now_ms(),
        };
        self.store
            .put_setting(confirmation_key(&cluster.name), to_json(&confirmation))
            .await
    }

    /// An admin confirms the policy in force (the file's) in this database, so that its schedule
    /// may fire. `seen` is the policy the admin reviewed: a file changed since is not confirmed.
    pub async fn confirm_policy(
        &self,
        cluster: &Cluster,
        seen: RetentionPolicy,
        user: &str,
        client: &str,
    ) -> Result<(), CleanupError> {
        let (policy, source) = self.policy(cluster).await?;
        if source == PolicySource::Default {
            return Err(CleanupError::Conflict(
                "no policy is configured: save one instead".into(),
            ));
        }
        if policy != seen {
            return Err(CleanupError::Conflict(
                "the policy in force changed since you reviewed it: reload and review it again"
                    .into(),
            ));
        }
        self.record_confirmation(cluster, &policy, user).await?;
        self.audit(
            user,
            client,
            "policy_confirmed",
            &cluster.name,
            None,
            "success",
            Some(to_json(&policy)),
        )
        .await;
        Ok(())
    }

    pub async fn save_policy(
        &self,
        cluster: &Cluster,
        policy: RetentionPolicy,
        user: &str,
        client: &str,
    ) -> Result<(), CleanupError> {
        policy
            .validate()
            .map_err(|e| CleanupError::BadRequest(e.to_string()))?;
        self.store
            .save_policy(
                cluster.name.clone(),
                &policy,
                user.to_string(),
                self.clock.now_ms(),
            )
            .await?;
        self.record_confirmation(cluster, &policy, user).await?;
        self.audit(
            user,
            client,
            "policy_changed",
            &cluster.name,
            None,
            "success",
            Some(to_json(&policy)),
        )
        .await;
        Ok(())
    }

    pub async fn set_pin(
        &self,
        cluster: &Cluster,
        backup_id: u64,
        pinned: bool,
        user: &str,
        client: &str,
    ) -> Result<bool, CleanupError> {
        if !pinned && cluster.pinned.contains(&backup_id) {
            return Err(CleanupError::Conflict(format!(
                "backup {backup_id} is pinned in the configuration file: remove it there"
            )));
        }
        let changed = self
            .store
            .set_pin(
                cluster.name.clone(),
                backup_id,
                pinned,
                user.to_string(),
                self.clock.now_ms(),
            )
            .await?;
        let action = if pinned {
            "backup_pinned"
        } else {
            "backup_unpinned"
        };
        self.audit(
            user,
            client,
            action,
            &cluster.name,
            Some(backup_id.to_string()),
            "success",
            (!changed).then(|| "no change".to_string()),
        )
        .await;
        Ok(changed)
    }

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
        let (plan, policy, sets) = self.fresh_plan(cluster).await?;
        let difference = planner::difference(&request.delete, &plan);
        if !difference.is_empty() {
            return Err(CleanupError::PlanChanged(difference));
        }
        let refused = planner::refuse_selection(&plan, &request.selected, policy.floor());
        if !refused.is_empty() {
            return Err(CleanupError::Refused(refused));
        }
        // What a schedule would refuse, an admin may still do, having been told.
        if !request.delete.is_empty()
            && !request.acknowledge_warning
            && let Some(warning) = planner::unattended_refusal(&sets, &plan)
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
    async fn not_running(&self, row: CleanupRow) -> Result<CleanupRow, CleanupError> {
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

    async fn launch(
        self: &Arc<Self>,
        cluster: &Cluster,
        sets: Vec<u64>,
        artifacts: Vec<Artifact>,
        user: &str,
        client: &str,
    ) -> Result<CleanupStarted, CleanupError> {
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
        self.audit(
            user,
            client,
            "cleanup_started",
            &cluster.name,
            Some(id_list(&sets)),
            "success",
            Some(format!(
                "cleanup {id}: {} sets, {} artifacts",
                started.sets, started.artifacts
            )),
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
                service
                    .audit(
                        &user,
                        &client,
                        "cleanup_finished",
                        &cluster.name,
                        Some(id_list(&report.sets)),
                        "failure",
                        Some(format!(
                            "cleanup {id}: taken over by another process after {deleted} deleted, {gone} already gone; retry it for the rest"
                        )),
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
            let failed = report.count(ArtifactState::Failed);
            service
                .audit(
                    &user,
                    &client,
                    "cleanup_finished",
                    &cluster.name,
                    Some(id_list(&report.sets)),
                    if failed == 0 { "success" } else { "failure" },
                    Some(format!(
                        "cleanup {id}: {deleted} deleted, {gone} already gone, {failed} failed"
                    )),
                )
                .await;
            service.live().remove(&id);
        });
        Ok(CleanupStarted {
            cleanup_id: id,
            ..started
        })
    }

    /// A cleanup as stored, or live while this process runs it.
    pub fn view(&self, row: CleanupRow) -> CleanupView {
        let live = self.live().get(&row.id).map(|rx| rx.borrow().clone());
        let report = live.unwrap_or_else(|| {
            let mut report: CleanupReport =
                serde_json::from_value(row.report.clone()).unwrap_or(CleanupReport {
                    sets: Vec::new(),
                    items: Vec::new(),
                    outcome: CleanupOutcome::Interrupted,
                });
            if row.state == "interrupted" {
                report.outcome = CleanupOutcome::Interrupted;
            }
            report
        });
        CleanupView {
            id: row.id,
            cluster: row.cluster,
            started_by: row.started_by,
            started_ms: row.started_ms,
            ended_ms: row.ended_ms,
            report,
        }
    }

    pub async fn get(&self, id: i64) -> Result<CleanupView, CleanupError> {
        let row = self
            .store
            .cleanup(id)
            .await?
            .ok_or(CleanupError::NotFound(id))?;
        Ok(self.view(row))
    }

    /// Runs the cleanup of every cluster whose schedule has come due since its last scheduled run
    /// (or since this process started). Returns the cleanups started.
    pub async fn run_due_schedules(self: &Arc<Self>, now: i64) -> Vec<i64> {
        let mut started = Vec::new();
        for cluster in self.clusters.all() {
            let Ok((policy, _)) = self.policy(cluster).await else {
                continue;
            };
            let Some(Ok(schedule)) = policy.schedule.as_deref().map(Schedule::parse) else {
                continue;
            };
            // The due time last fired (kept in the database, so a restart does not fire it again).
            let key = format!("retention_schedule_fired:{}", cluster.name);
            let last_fired = self.store.get_setting(key.clone()).await.ok().flatten();
            let fired = last_fired.as_deref().and_then(|v| v.parse::<i64>().ok());
            let since = fired.map_or(self.started_ms, |f| f.max(self.started_ms));
            let Some(due) = schedule.next_after(since).filter(|due| *due <= now) else {
                continue;
            };
            // Every due time that passed while the console was down counts as this one.
            let due = std::iter::successors(Some(due), |d| schedule.next_after(*d))
                .take_while(|d| *d <= now)
                .last()
                .unwrap_or(due);
            // Claimed in one statement: of several consoles on one database (or overlapping
            // ticks), exactly one fires this due time.
            match self
                .store
                .claim_setting(key, last_fired, due.to_string())
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    tracing::error!(cluster = %cluster.name, %error, "could not record the scheduled run");
                    continue;
                }
            }
            match self.scheduled_cleanup(cluster).await {
                Ok(id) => started.push(id),
                Err(error) => {
                    tracing::error!(cluster = %cluster.name, %error, "scheduled cleanup failed")
                }
            }
        }
        started
    }

    async fn scheduled_cleanup(self: &Arc<Self>, cluster: &Cluster) -> Result<i64, CleanupError> {
        let state = self.state(cluster).await?;
        if !state.is_confirmed() {
            return Err(self
                .refuse_unattended(
                    cluster,
                    SCHEDULE_USER,
                    "-",
                    "the policy in force has not been confirmed in this console's database (a new \
                     or restored database, or a policy changed in the file): an admin must review \
                     it on the Retention page first"
                        .into(),
                )
                .await);
        }
        let (plan, _, sets) = self.fresh_plan(cluster).await?;
        if let Some(reason) = planner::unattended_refusal(&sets, &plan) {
            return Err(self
                .refuse_unattended(cluster, SCHEDULE_USER, "-", reason)
                .await);
        }
        let ids: BTreeSet<u64> = plan.to_delete().into_iter().collect();
        let artifacts = sets
            .iter()
            .filter(|s| ids.contains(&s.backup_id))
            .flat_map(planner::artifacts)
            .collect();
        // The cause of an earlier refusal is gone: the page no longer shows it.
        if let Err(error) = self.store.delete_setting(refusal_key(&cluster.name)).await {
            tracing::warn!(cluster = %cluster.name, %error, "could not clear an old refusal");
        }
        // Recorded even when there is nothing to delete: the page shows when it last ran.
        let started = self
            .launch(
                cluster,
                ids.into_iter().rev().collect(),
                artifacts,
                SCHEDULE_USER,
                "-",
            )
            .await?;
        Ok(started.cleanup_id)
    }

    /// Records and audits why a cleanup nobody confirmed did not run, and gives the error to return.
    pub async fn refuse_unattended(
        &self,
        cluster: &Cluster,
        user: &str,
        client: &str,
        reason: String,
    ) -> CleanupError {
        // The page shows the schedule's refusal; a CLI's is told to its caller and audited.
        if user == SCHEDULE_USER {
            let refusal = ScheduleRefusal {
                at_ms: self.clock.now_ms(),
                reason: reason.clone(),
            };
            if let Err(error) = self
                .store
                .put_setting(refusal_key(&cluster.name), to_json(&refusal))
                .await
            {
                tracing::error!(cluster = %cluster.name, %error, "could not record a refused cleanup");
            }
        }
        tracing::warn!(cluster = %cluster.name, %reason, "unattended cleanup refused");
        self.audit(
            user,
            client,
            "cleanup_refused",
            &cluster.name,
            None,
            "refused",
            Some(reason.clone()),
        )
        .await;
        CleanupError::Unattended(reason)
    }

    /// Checks the schedules every 20 seconds, and every second for cleanups whose process went
    /// silent, for as long as the process lives.
    pub fn spawn_scheduler(self: &Arc<Self>) {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                service.run_due_schedules(service.clock.now_ms()).await;
            }
        });
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(STALE_CHECK_EVERY).await;
                if let Err(error) = service.interrupt_stale_cleanups().await {
                    tracing::error!(%error, "could not look for abandoned cleanups");
                }
            }
        });
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one audit row's fields, named at every call"
    )]
    async fn audit(
        &self,
        user: &str,
        client: &str,
        action: &str,
        cluster: &str,
        target: Option<String>,
        outcome: &str,
        detail: Option<String>,
    ) {
        let record = AuditRecord {
            at_ms: self.clock.now_ms(),
            user: user.to_string(),
            client: client.to_string(),
            action: action.to_string(),
            cluster: Some(cluster.to_string()),
            target,
            outcome: outcome.to_string(),
            detail,
        };
        if let Err(error) = self.store.append_audit(record).await {
            tracing::error!(%error, action, "could not write the audit log");
        }
    }
}

/// Who a pin of the configuration file is shown as pinned by.
pub const FILE_PINNED_BY: &str = "configuration file";

fn confirmation_key(cluster: &str) -> String {
    format!("retention_policy_confirmed:{cluster}")
}

fn refusal_key(cluster: &str) -> String {
    format!("retention_schedule_refused:{cluster}")
}

/// "12, 11, 10" (cut after 20 IDs, with how many more).
fn id_list(ids: &[u64]) -> String {
    let shown: Vec<String> = ids.iter().take(20).map(u64::to_string).collect();
    match ids.len().saturating_sub(20) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Deletes one artifact. A 404 means it is already gone: deleting is idempotent (Zeebe itself
/// answers 204 for an unknown ID, contract §3.5; Elasticsearch 404s, §7.4; web apps 404, §5.1).
async fn delete_one(cluster: &Cluster, artifact: &Artifact) -> (ArtifactState, Option<String>) {
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
    };
    match result {
        Ok(()) => (ArtifactState::Deleted, None),
        Err(UpstreamError::Status { status: 404, .. }) => (ArtifactState::AlreadyGone, None),
        Err(e) => (ArtifactState::Failed, Some(e.to_string())),
    }
}

fn not_configured(component: Component) -> (ArtifactState, Option<String>) {
    (
        ArtifactState::Failed,
        Some(format!("{} is not configured", component.label())),
    )
}

/// Deletes every pending artifact of the report, `concurrency` at a time, publishing each result.
async fn execute(
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
async fn heartbeat(
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
