//! The one rule of every schedule, backups and cleanups alike. A tick asks which due times
//! came ([`backup_domain::schedule::due_times`]), claims each in the database (one row per due
//! time, so it fires once across every process sharing the database), and records what it came
//! to: started, skipped while the cluster is busy or in maintenance, missed while no console
//! ran, or failed to start.

use std::future::Future;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::cron::Schedule;
use backup_domain::schedule::{
    FireOutcome, SavedSchedule, ScheduleFire, ScheduleKind, ScheduleSource, due_times,
    missed_reason,
};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::procedure::service::RunService;
use crate::store::{Store, StoreError};

/// Who the scheduler acts as, in the runs and cleanups tables and the audit log.
pub const SCHEDULE_USER: &str = "schedule";

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

impl Effective {
    /// The time after which due times count, given the newest due time already handled.
    pub fn counts_after(&self, last_due: Option<i64>) -> i64 {
        match last_due {
            Some(last) if self.floor_is_start => last,
            Some(last) => last.max(self.floor_ms),
            None => self.floor_ms,
        }
    }

    /// The next due time that would fire at `now_ms` (one of the last minute not yet handled
    /// included), while the schedule is enabled; maintenance is the caller's to check.
    pub fn next_due(&self, last_due: Option<i64>, now_ms: i64) -> Option<i64> {
        if !self.enabled {
            return None;
        }
        let schedule = Schedule::parse(self.expression.as_deref()?).ok()?;
        schedule.next_after(self.counts_after(last_due).max(now_ms - 60_000))
    }
}

pub fn saved_key(kind: &ScheduleKind, cluster: &str) -> String {
    format!("schedule:{kind}:{cluster}")
}

pub async fn saved(
    store: &Store,
    kind: &ScheduleKind,
    cluster: &str,
) -> Result<Option<SavedSchedule>, StoreError> {
    Ok(store
        .get_setting(saved_key(kind, cluster))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Why nothing may start on `cluster` now, if something holds it or it is in maintenance.
async fn busy(store: &Store, runs: &RunService, cluster: &str) -> Option<String> {
    match crate::maintenance::gate(store, cluster).await {
        Ok(Some(mode)) => return Some(crate::maintenance::refusal(&mode)),
        Ok(None) => {}
        // Not known to be off: nothing starts on it (the due time is skipped with the reason).
        Err(error) => {
            return Some(format!(
                "maintenance mode could not be read ({error}); nothing starts until it can"
            ));
        }
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
    settle_stale_claims(cx, cluster, &kind, now_ms).await;
    let due = due_times(&schedule, effective.counts_after(last), now_ms);
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

/// A claim older than this whose row still says `claimed` was left by a process that stopped
/// while starting it (a start takes the preflight's listings, at most a few minutes).
pub const STALE_CLAIM_MS: i64 = 2 * 60_000;

/// Records what the due times claimed by a stopped process came to: started, when a run or
/// cleanup of the schedule began after the due time (it got that far), else failed, audited.
/// They are not fired again: the stopped process may have started something this one cannot see.
async fn settle_stale_claims(cx: &DueContext<'_>, cluster: &str, kind: &ScheduleKind, now_ms: i64) {
    let stale = match cx
        .store
        .stale_claims(cluster.to_string(), kind.clone(), now_ms - STALE_CLAIM_MS)
        .await
    {
        Ok(stale) => stale,
        Err(error) => {
            tracing::error!(%cluster, %kind, %error, "could not look for abandoned due times");
            return;
        }
    };
    for claim in stale {
        let started = cx
            .store
            .scheduled_start_since(cluster.to_string(), kind.clone(), claim.due_ms)
            .await
            .ok()
            .flatten();
        let fire = ScheduleFire {
            outcome: if started.is_some() {
                FireOutcome::Started
            } else {
                FireOutcome::Failed
            },
            reason: started.is_none().then(|| {
                "the console that claimed this due time stopped before it started anything; \
                 the next due time runs as usual"
                    .to_string()
            }),
            started_id: started,
            at_ms: now_ms,
            ..claim
        };
        if let Ok(true) = cx
            .store
            .settle_claim(cluster.to_string(), fire.clone())
            .await
            && fire.outcome == FireOutcome::Failed
        {
            tracing::warn!(%cluster, %kind, due_ms = fire.due_ms, "a due time was abandoned by a stopped console");
            audit_fire(cx, cluster, &fire).await;
        }
    }
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
