//! The one scheduler of backups and cleanups. Each tick asks, per cluster and kind, which due
//! times came ([`backup_domain::schedule::due_times`]), claims each in the database (one row per
//! due time, so it fires once across every process sharing the database), and records what it
//! came to: started, skipped while the cluster is busy or in maintenance, missed while no
//! console ran, or failed to start.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::cron::Schedule;
use backup_domain::retention::PolicySource;
use backup_domain::schedule::{
    FireOutcome, RunTrigger, SavedSchedule, ScheduleFire, ScheduleKind, ScheduleSource,
    ScheduleUpdate, ScheduleView, SchedulesResponse, due_times, missed_reason,
};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::cluster::{Cluster, Clusters};
use crate::procedure::service::{RunService, StartError};
use crate::retention::RetentionService;
use crate::store::{Store, StoreError};

/// Who the scheduler acts as, in the runs and cleanups tables and the audit log.
pub const SCHEDULE_USER: &str = "schedule";

/// How often the scheduler looks for due times. Lateness is at most this (and a start's time).
pub const TICK: Duration = Duration::from_secs(1);

/// How many recent due times the Schedules panel gets.
const RECENT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    BadRequest(String),
    /// The schedule cannot be used on this cluster; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What starting a claimed due time came to.
pub enum StartOutcome {
    Started(i64),
    Skipped(String),
    Failed(String),
    /// Failed, and the starter has audited why (an unattended cleanup's refusal).
    Refused(String),
}

/// A schedule as it applies now: its expression, whether it may fire, and the time before which
/// no due time counts (when it was saved or enabled, or this process's start for the file's).
#[derive(Debug, Clone)]
pub struct Effective {
    pub expression: Option<String>,
    pub source: ScheduleSource,
    pub enabled: bool,
    pub floor_ms: i64,
    /// `floor_ms` is only this process's start (a file schedule nobody saved): once the
    /// schedule has handled a due time, due times count from that one, so that a restart sees
    /// what it missed.
    pub floor_is_start: bool,
    pub updated_by: Option<String>,
    pub updated_ms: Option<i64>,
}

fn saved_key(kind: &ScheduleKind, cluster: &str) -> String {
    format!("schedule:{kind}:{cluster}")
}

async fn saved(
    store: &Store,
    kind: &ScheduleKind,
    cluster: &str,
) -> Result<Option<SavedSchedule>, StoreError> {
    Ok(store
        .get_setting(saved_key(kind, cluster))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// The backup schedule of `cluster`: the one an admin saved, else the file's.
pub async fn backup_schedule(
    store: &Store,
    cluster: &Cluster,
    started_ms: i64,
) -> Result<Effective, StoreError> {
    Ok(
        match saved(store, &ScheduleKind::Backup, &cluster.name).await? {
            Some(s) => Effective {
                source: if s.expression.is_some() {
                    ScheduleSource::Console
                } else {
                    ScheduleSource::None
                },
                expression: s.expression,
                enabled: s.enabled,
                floor_ms: s.updated_ms,
                floor_is_start: false,
                updated_by: Some(s.updated_by),
                updated_ms: Some(s.updated_ms),
            },
            None => Effective {
                source: if cluster.backup_schedule.is_some() {
                    ScheduleSource::File
                } else {
                    ScheduleSource::None
                },
                expression: cluster.backup_schedule.clone(),
                enabled: true,
                floor_ms: started_ms,
                floor_is_start: true,
                updated_by: None,
                updated_ms: None,
            },
        },
    )
}

/// The cleanup schedule of `cluster`: the retention policy's, paused or not by an admin.
pub async fn cleanup_schedule(
    retention: &RetentionService,
    store: &Store,
    cluster: &Cluster,
    started_ms: i64,
) -> Result<Effective, StoreError> {
    let (policy, source) = retention.policy(cluster).await?;
    let (source, saved_ms) = match source {
        PolicySource::Saved { at_ms, .. } => (ScheduleSource::Console, Some(at_ms)),
        PolicySource::ConfigFile => (ScheduleSource::File, None),
        PolicySource::Default => (ScheduleSource::None, None),
    };
    let flag = saved(store, &ScheduleKind::Cleanup, &cluster.name).await?;
    // Part 4 kept the last due time it fired under this key.
    let legacy = store
        .get_setting(format!("retention_schedule_fired:{}", cluster.name))
        .await?
        .and_then(|v| v.parse::<i64>().ok());
    let floor = [saved_ms, flag.as_ref().map(|f| f.updated_ms), legacy]
        .into_iter()
        .flatten()
        .max();
    Ok(Effective {
        source: if policy.schedule.is_some() {
            source
        } else {
            ScheduleSource::None
        },
        expression: policy.schedule,
        enabled: flag.as_ref().is_none_or(|f| f.enabled),
        floor_ms: floor.unwrap_or(started_ms),
        floor_is_start: floor.is_none(),
        updated_by: flag.as_ref().map(|f| f.updated_by.clone()),
        updated_ms: flag.as_ref().map(|f| f.updated_ms),
    })
}

/// Why nothing may start on `cluster` now, if something holds it or it is in maintenance.
async fn busy(store: &Store, runs: &RunService, cluster: &str) -> Option<String> {
    if let Some(mode) = crate::maintenance::current(store, cluster).await {
        return Some(crate::maintenance::refusal(&mode));
    }
    if let Some(holding) = runs.holding(cluster).await {
        return Some(match holding.run_id {
            Some(id) => format!("backup run {id} held the cluster"),
            None => "a backup run was starting on the cluster".into(),
        });
    }
    match store.running_cleanup(cluster.to_string()).await {
        Ok(Some(id)) => Some(format!("cleanup {id} held the cluster")),
        Ok(None) => None,
        // Not knowing is not "free".
        Err(error) => Some(format!(
            "the database could not say whether the cluster is busy: {error}"
        )),
    }
}

/// What handling a schedule's due times needs.
pub struct DueContext<'a> {
    pub store: &'a Store,
    pub clock: &'a Clock,
    pub runs: &'a RunService,
    /// This process, as the owner of the rows it claims.
    pub owner: &'a str,
}

/// Handles the due times of one schedule up to `now_ms`: records the missed ones, and claims
/// and starts the one to fire (skipped instead while the cluster is busy). Returns the due times
/// this call handled: the newest missed one, then the one fired.
pub async fn handle_due<F, Fut>(
    cx: &DueContext<'_>,
    cluster: &str,
    kind: ScheduleKind,
    effective: &Effective,
    now_ms: i64,
    start: F,
) -> Vec<ScheduleFire>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = StartOutcome>,
{
    let mut handled = Vec::new();
    if !effective.enabled {
        return handled;
    }
    let Some(schedule) = effective
        .expression
        .as_deref()
        .and_then(|e| Schedule::parse(e).ok())
    else {
        return handled;
    };
    let last = match cx.store.last_due(cluster.to_string(), kind.clone()).await {
        Ok(last) => last,
        Err(error) => {
            tracing::error!(%cluster, %kind, %error, "could not read the schedule's last due time");
            return handled;
        }
    };
    let after = match last {
        Some(last) if effective.floor_is_start => last,
        Some(last) => last.max(effective.floor_ms),
        None => effective.floor_ms,
    };
    let due = due_times(&schedule, after, now_ms);
    if let Some(missed) = due.missed_latest {
        let fire = ScheduleFire {
            kind: kind.clone(),
            due_ms: missed,
            at_ms: now_ms,
            outcome: FireOutcome::Missed,
            reason: Some(missed_reason(&due)),
            started_id: None,
        };
        if let Ok(true) = cx
            .store
            .claim_due(cluster.to_string(), fire.clone(), cx.owner.to_string())
            .await
        {
            tracing::warn!(%cluster, %kind, missed = due.missed, "scheduled due times were missed");
            audit_fire(cx, cluster, &fire).await;
            handled.push(fire);
        }
    }
    let Some(due_ms) = due.fire else {
        return handled;
    };
    let claim = ScheduleFire {
        kind: kind.clone(),
        due_ms,
        at_ms: now_ms,
        outcome: FireOutcome::Claimed,
        reason: None,
        started_id: None,
    };
    match cx
        .store
        .claim_due(cluster.to_string(), claim.clone(), cx.owner.to_string())
        .await
    {
        Ok(true) => {}
        // Another tick or process has it.
        Ok(false) => return handled,
        Err(error) => {
            tracing::error!(%cluster, %kind, %error, "could not claim a due time");
            return handled;
        }
    }
    let mut audited = false;
    let outcome = match busy(cx.store, cx.runs, cluster).await {
        Some(reason) => StartOutcome::Skipped(reason),
        None => start().await,
    };
    let (outcome, reason, started_id) = match outcome {
        StartOutcome::Started(id) => (FireOutcome::Started, None, Some(id)),
        StartOutcome::Skipped(reason) => (FireOutcome::Skipped, Some(reason), None),
        StartOutcome::Failed(reason) => (FireOutcome::Failed, Some(reason), None),
        StartOutcome::Refused(reason) => {
            audited = true;
            (FireOutcome::Failed, Some(reason), None)
        }
    };
    let fire = ScheduleFire {
        outcome,
        reason,
        started_id,
        at_ms: cx.clock.now_ms(),
        ..claim
    };
    if let Err(error) = cx
        .store
        .finish_due(cluster.to_string(), fire.clone(), cx.owner.to_string())
        .await
    {
        tracing::error!(%cluster, %kind, %error, "could not record what a due time came to");
    }
    match fire.outcome {
        FireOutcome::Started => {
            tracing::info!(%cluster, %kind, id = ?fire.started_id, "scheduled start")
        }
        _ => {
            tracing::warn!(%cluster, %kind, outcome = %fire.outcome, reason = ?fire.reason, "scheduled due time not started");
            if !audited {
                audit_fire(cx, cluster, &fire).await;
            }
        }
    }
    handled.push(fire);
    handled
}

/// A due time that did not start anything is audited once; a started one is audited by its run
/// or cleanup.
async fn audit_fire(cx: &DueContext<'_>, cluster: &str, fire: &ScheduleFire) {
    let (action, outcome) = match fire.outcome {
        FireOutcome::Skipped => (AuditAction::ScheduleSkipped, AuditOutcome::Refused),
        FireOutcome::Missed => (AuditAction::ScheduleMissed, AuditOutcome::Failure),
        _ => (AuditAction::ScheduleFailed, AuditOutcome::Failure),
    };
    audit::record(
        cx.store,
        cx.clock,
        AuditEvent::new(SCHEDULE_USER, "-", action, outcome)
            .cluster(cluster)
            .target(format!("{} at {}", fire.kind, fire.due_ms))
            .detail(fire.reason.clone()),
    )
    .await;
}

/// The scheduler of a console: backups here, cleanups through the retention service, one rule.
pub struct Scheduler {
    clusters: Arc<Clusters>,
    store: Store,
    runs: Arc<RunService>,
    retention: Arc<RetentionService>,
    clock: Clock,
    started_ms: i64,
    owner: String,
}

impl Scheduler {
    pub fn new(
        clusters: Arc<Clusters>,
        store: Store,
        runs: Arc<RunService>,
        retention: Arc<RetentionService>,
    ) -> Self {
        let clock = runs.clock().clone();
        Scheduler {
            started_ms: clock.now_ms(),
            owner: format!(
                "pid {} {}",
                std::process::id(),
                &crate::auth::random_token()[..8]
            ),
            clusters,
            store,
            runs,
            retention,
            clock,
        }
    }

    fn context(&self) -> DueContext<'_> {
        DueContext {
            store: &self.store,
            clock: &self.clock,
            runs: &self.runs,
            owner: &self.owner,
        }
    }

    /// Handles every backup schedule's due times up to `now_ms`.
    pub async fn run_due_backups(&self, now_ms: i64) -> Vec<ScheduleFire> {
        let mut handled = Vec::new();
        for cluster in self.clusters.all() {
            let effective = match backup_schedule(&self.store, cluster, self.started_ms).await {
                Ok(e) => e,
                Err(error) => {
                    tracing::error!(cluster = %cluster.name, %error, "could not read the backup schedule");
                    continue;
                }
            };
            let runs = self.runs.clone();
            let fire = handle_due(
                &self.context(),
                &cluster.name,
                ScheduleKind::Backup,
                &effective,
                now_ms,
                || async move {
                    match runs
                        .start_as(cluster, SCHEDULE_USER, "-", None, RunTrigger::Schedule)
                        .await
                    {
                        Ok(started) => StartOutcome::Started(started.run_id),
                        Err(e @ (StartError::InProgress { .. } | StartError::Maintenance(_))) => {
                            StartOutcome::Skipped(e.to_string())
                        }
                        Err(e) => StartOutcome::Failed(e.to_string()),
                    }
                },
            )
            .await;
            handled.extend(fire);
        }
        handled
    }

    /// One tick: backups first (a cleanup due at the same minute is then skipped while the run
    /// holds the cluster, never the other way round), then cleanups.
    pub async fn tick(&self, now_ms: i64) {
        self.run_due_backups(now_ms).await;
        self.retention.run_due_schedules(now_ms).await;
    }

    /// Ticks for as long as the process lives.
    pub fn spawn(self: &Arc<Self>) {
        let scheduler = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                if scheduler.runs.is_stopping() {
                    break;
                }
                scheduler.tick(scheduler.clock.now_ms()).await;
            }
        });
    }

    async fn view(
        &self,
        cluster: &Cluster,
        kind: ScheduleKind,
    ) -> Result<ScheduleView, StoreError> {
        let effective = match kind {
            ScheduleKind::Cleanup => {
                cleanup_schedule(&self.retention, &self.store, cluster, self.started_ms).await?
            }
            _ => backup_schedule(&self.store, cluster, self.started_ms).await?,
        };
        let last = self
            .store
            .last_fire(cluster.name.clone(), kind.clone(), None)
            .await?;
        let last_started = match &last {
            Some(l) if l.outcome == FireOutcome::Started => None,
            _ => {
                self.store
                    .last_fire(
                        cluster.name.clone(),
                        kind.clone(),
                        Some(FireOutcome::Started),
                    )
                    .await?
            }
        };
        let maintenance = crate::maintenance::current(&self.store, &cluster.name).await;
        let next_ms = effective
            .expression
            .as_deref()
            .and_then(|e| Schedule::parse(e).ok())
            .filter(|_| effective.enabled && maintenance.is_none())
            .and_then(|s| {
                let after = match &last {
                    Some(l) if effective.floor_is_start => l.due_ms,
                    Some(l) => l.due_ms.max(effective.floor_ms),
                    None => effective.floor_ms,
                }
                .max(self.clock.now_ms() - 60_000);
                s.next_after(after)
            });
        Ok(ScheduleView {
            kind,
            expression: effective.expression,
            source: effective.source,
            enabled: effective.enabled,
            next_ms,
            last,
            last_started,
            refused: None,
            updated_by: effective.updated_by,
            updated_ms: effective.updated_ms,
        })
    }

    /// Both schedules of `cluster` and its recent due times.
    pub async fn schedules(&self, cluster: &Cluster) -> Result<SchedulesResponse, StoreError> {
        Ok(SchedulesResponse {
            schedules: vec![
                self.view(cluster, ScheduleKind::Backup).await?,
                self.view(cluster, ScheduleKind::Cleanup).await?,
            ],
            recent: self
                .store
                .recent_fires(cluster.name.clone(), RECENT)
                .await?,
        })
    }

    /// Saves, pauses or enables a schedule (an admin's), audited. A cleanup schedule's
    /// expression is the retention policy's and is not changed here.
    pub async fn update(
        &self,
        cluster: &Cluster,
        kind: ScheduleKind,
        update: ScheduleUpdate,
        user: &str,
        client: &str,
    ) -> Result<ScheduleView, ScheduleError> {
        let current = match kind {
            ScheduleKind::Backup => backup_schedule(&self.store, cluster, self.started_ms).await?,
            ScheduleKind::Cleanup => {
                if update.expression.is_some() {
                    return Err(ScheduleError::BadRequest(
                        "a cleanup schedule is part of the retention policy: change it on the \
                         Retention page; only `enabled` applies here"
                            .into(),
                    ));
                }
                cleanup_schedule(&self.retention, &self.store, cluster, self.started_ms).await?
            }
            ScheduleKind::Unknown(other) => {
                return Err(ScheduleError::BadRequest(format!(
                    "`{other}` is not a schedule kind: use backup or cleanup"
                )));
            }
        };
        let expression = match update.expression.as_deref().map(str::trim) {
            None => current.expression.clone(),
            Some("") => None,
            Some(text) => {
                Schedule::parse(text).map_err(|e| ScheduleError::BadRequest(e.to_string()))?;
                Some(text.to_string())
            }
        };
        let saved = SavedSchedule {
            expression: if kind == ScheduleKind::Backup {
                expression.clone()
            } else {
                None
            },
            enabled: update.enabled,
            updated_by: user.to_string(),
            updated_ms: self.clock.now_ms(),
        };
        self.store
            .put_setting(
                saved_key(&kind, &cluster.name),
                serde_json::to_string(&saved).unwrap_or_default(),
            )
            .await?;
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::ScheduleChanged,
                AuditOutcome::Success,
            )
            .cluster(cluster.name.as_str())
            .target(kind.to_string())
            .detail(format!(
                "{} ({})",
                expression.as_deref().unwrap_or("no schedule"),
                if update.enabled { "enabled" } else { "paused" }
            )),
        )
        .await;
        Ok(self.view(cluster, kind).await?)
    }
}
