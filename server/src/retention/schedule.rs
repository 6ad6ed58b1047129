//! The retention schedule: due times claimed once across consoles, and the refusals that keep an
//! unattended cleanup from deleting on partial information.

use std::collections::BTreeSet;
use std::sync::Arc;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::retention::{self as planner, ScheduleRefusal};
use backup_domain::schedule::ScheduleKind;

use crate::audit::{self, AuditEvent};
use crate::cluster::Cluster;
use crate::scheduler::StartOutcome;

use super::{CleanupError, RetentionService, STALE_CHECK_EVERY, to_json};

pub use crate::scheduler::SCHEDULE_USER;

pub(super) fn refusal_key(cluster: &str) -> String {
    format!("retention_schedule_refused:{cluster}")
}

impl RetentionService {
    /// Handles every cleanup schedule's due times up to `now` by the scheduler's one rule
    /// ([`crate::scheduler::handle_due`]). Returns the cleanups started.
    pub async fn run_due_schedules(self: &Arc<Self>, now: i64) -> Vec<i64> {
        let mut started = Vec::new();
        for cluster in self.clusters.all() {
            let effective = match crate::scheduler::cleanup_schedule(
                self,
                &self.store,
                cluster,
                self.started_ms,
            )
            .await
            {
                Ok(e) => e,
                Err(error) => {
                    tracing::error!(cluster = %cluster.name, %error, "could not read the cleanup schedule");
                    continue;
                }
            };
            let cx = crate::scheduler::DueContext {
                store: &self.store,
                clock: &self.clock,
                runs: &self.runs,
                owner: &self.owner,
            };
            let fire = crate::scheduler::handle_due(
                &cx,
                &cluster.name,
                ScheduleKind::Cleanup,
                &effective,
                now,
                || async {
                    match self.scheduled_cleanup(cluster).await {
                        Ok(id) => StartOutcome::Started(id),
                        Err(CleanupError::Maintenance(reason)) => StartOutcome::Skipped(reason),
                        Err(error @ CleanupError::Unattended(_)) => {
                            StartOutcome::Refused(error.to_string())
                        }
                        Err(error) => StartOutcome::Failed(error.to_string()),
                    }
                },
            )
            .await;
            started.extend(fire.into_iter().filter_map(|f| f.started_id));
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

    /// Checks every second for cleanups whose process went silent, for as long as the process
    /// lives. (The schedules are the [`crate::scheduler::Scheduler`]'s.)
    pub fn spawn_watchers(self: &Arc<Self>) {
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
