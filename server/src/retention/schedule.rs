//! The retention schedule: due times claimed once across consoles, and the refusals that keep an
//! unattended cleanup from deleting on partial information.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::cron::Schedule;
use backup_domain::retention::{self as planner, ScheduleRefusal};

use crate::audit::{self, AuditEvent};
use crate::cluster::Cluster;

use super::{CleanupError, RetentionService, STALE_CHECK_EVERY, to_json};

/// Who the scheduler acts as, in the cleanups table and the audit log.
pub const SCHEDULE_USER: &str = "schedule";

pub(super) fn refusal_key(cluster: &str) -> String {
    format!("retention_schedule_refused:{cluster}")
}

impl RetentionService {
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

    pub(super) async fn scheduled_cleanup(
        self: &Arc<Self>,
        cluster: &Cluster,
    ) -> Result<i64, CleanupError> {
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
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::CleanupRefused,
                AuditOutcome::Refused,
            )
            .cluster(cluster.name.as_str())
            .detail(Some(reason.clone())),
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
}
