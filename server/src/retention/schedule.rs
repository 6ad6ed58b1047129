//! The retention schedule: due times claimed once across consoles, and the refusals that keep an
//! unattended cleanup from deleting on partial information.

use std::collections::BTreeSet;
use std::sync::Arc;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::retention::PolicySource;
use backup_domain::retention::{self as planner, ScheduleRefusal};
use backup_domain::schedule::{ScheduleKind, ScheduleSource};

use crate::audit::{self, AuditEvent};
use crate::cluster::Cluster;
use crate::due::{Effective, StartOutcome, saved};
use crate::store::StoreError;

use super::{CleanupError, RetentionService, STALE_CHECK_EVERY, to_json};

pub use crate::due::SCHEDULE_USER;

pub(super) fn refusal_key(cluster: &str) -> String {
    format!("retention_schedule_refused:{cluster}")
}

impl RetentionService {
    /// The cleanup schedule of `cluster`: the retention policy's, paused or not by an admin.
    pub async fn cleanup_schedule(&self, cluster: &Cluster) -> Result<Effective, StoreError> {
        let (store, started_ms) = (&self.store, self.started_ms);
        let (policy, source) = self.policy(cluster).await?;
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

    /// Handles every cleanup schedule's due times up to `now` by the scheduler's one rule
    /// ([`crate::due::handle_due`]). Returns the cleanups started.
    pub async fn run_due_schedules(self: &Arc<Self>, now: i64) -> Vec<i64> {
        let mut started = Vec::new();
        for cluster in self.clusters.all() {
            let effective = match self.cleanup_schedule(cluster).await {
                Ok(e) => e,
                Err(error) => {
                    tracing::error!(cluster = %cluster.name, %error, "could not read the cleanup schedule");
                    continue;
                }
            };
            let cx = crate::due::DueContext {
                store: &self.store,
                clock: &self.clock,
                runs: &self.runs,
                owner: &self.owner,
            };
            let fire = crate::due::handle_due(
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
    /// lives. (The schedules are the [`crate::due::Scheduler`]'s.)
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
