//! The scheduler of a console: it ticks every second and hands each schedule to the one rule
//! in [`crate::due`]; backups here, cleanups through the retention service. It also reads and
//! saves the schedules for the API.

use std::sync::Arc;
use std::time::Duration;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::schedule::{
    FireOutcome, RunTrigger, SavedSchedule, ScheduleFire, ScheduleKind, ScheduleSource,
    ScheduleUpdate, ScheduleView, SchedulesResponse,
};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::cluster::{Cluster, Clusters};
use crate::due::{
    DueContext, Effective, SCHEDULE_USER, StartOutcome, handle_due, saved, saved_key,
};
use crate::procedure::service::{RunService, StartError};
use crate::retention::RetentionService;
use crate::store::{Store, StoreError};

/// How often the scheduler looks for due times. Lateness is at most this (and a start's time).
pub const TICK: Duration = Duration::from_secs(1);

/// How many recent due times the Schedules panel gets.
const RECENT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The backup schedule of `cluster`: the one an admin saved, else the file's.
pub async fn backup_schedule(
    store: &Store,
    cluster: &Cluster,
    started_ms: i64,
) -> Result<Effective, StoreError> {
    // Zeebe's own scheduler takes the backups: no due time of the console's, whatever was saved.
    if cluster.zeebe_scheduler {
        return Ok(Effective {
            source: ScheduleSource::None,
            expression: None,
            enabled: false,
            floor_ms: started_ms,
            floor_is_start: true,
            updated_by: None,
            updated_ms: None,
        });
    }
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

    /// Ticks every [`TICK`] for as long as the process lives.
    pub fn spawn(self: &Arc<Self>) {
        self.spawn_every(TICK);
    }

    /// Ticks every `every` (the benchmark's accelerated clock needs shorter ticks).
    pub fn spawn_every(self: &Arc<Self>, every: Duration) {
        let scheduler = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
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
            ScheduleKind::Cleanup => self.retention.cleanup_schedule(cluster).await?,
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
        let next_ms = if maintenance.is_none() {
            effective.next_due(last.as_ref().map(|l| l.due_ms), self.clock.now_ms())
        } else {
            None
        };
        let refused = (kind == ScheduleKind::Backup && cluster.zeebe_scheduler)
            .then(|| crate::config::ZEEBE_SCHEDULES_ITSELF.to_string());
        Ok(ScheduleView {
            refused,
            kind,
            expression: effective.expression,
            source: effective.source,
            enabled: effective.enabled,
            next_ms,
            last,
            last_started,
            updated_by: effective.updated_by,
            updated_ms: effective.updated_ms,
        })
    }

    /// The next due time of `cluster`'s backup schedule, if it is enabled.
    pub async fn next_backup(&self, cluster: &Cluster) -> Option<i64> {
        match self.view(cluster, ScheduleKind::Backup).await {
            Ok(view) => view.next_ms,
            Err(error) => {
                tracing::error!(cluster = %cluster.name, %error, "could not read the backup schedule");
                None
            }
        }
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
            // Not even a pause: there is no console schedule of backups to pause here.
            ScheduleKind::Backup if cluster.zeebe_scheduler => {
                return Err(ScheduleError::BadRequest(
                    crate::config::ZEEBE_SCHEDULES_ITSELF.to_string(),
                ));
            }
            ScheduleKind::Backup => backup_schedule(&self.store, cluster, self.started_ms).await?,
            ScheduleKind::Cleanup => {
                if update.expression.is_some() {
                    return Err(ScheduleError::BadRequest(
                        "a cleanup schedule is part of the retention policy: change it on the \
                         Retention page; only `enabled` applies here"
                            .into(),
                    ));
                }
                self.retention.cleanup_schedule(cluster).await?
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
                backup_domain::schedule::checked_expression(text, self.clock.now_ms())
                    .map_err(ScheduleError::BadRequest)?;
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
