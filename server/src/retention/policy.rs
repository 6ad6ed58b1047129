//! The policy in force per cluster (saved, from the file, or none), its confirmation, and pins.

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::cron::Schedule;
use backup_domain::retention::{
    Pin, PolicyConfirmation, PolicySource, RetentionPolicy, RetentionState, ScheduleRefusal,
};

use crate::audit::{self, AuditEvent};
use crate::cluster::Cluster;
use crate::store::StoreError;

use super::schedule::refusal_key;
use super::{CleanupError, RetentionService, to_json};

/// Who a pin of the configuration file is shown as pinned by.
pub const FILE_PINNED_BY: &str = "configuration file";

pub(super) fn confirmation_key(cluster: &str) -> String {
    format!("retention_policy_confirmed:{cluster}")
}

impl RetentionService {
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

    pub(super) async fn setting_json<T: serde::de::DeserializeOwned>(
        &self,
        key: String,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .store
            .get_setting(key)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    pub(super) async fn record_confirmation(
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
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::PolicyConfirmed,
                AuditOutcome::Success,
            )
            .cluster(cluster.name.as_str())
            .detail(Some(to_json(&policy))),
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
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::PolicyChanged,
                AuditOutcome::Success,
            )
            .cluster(cluster.name.as_str())
            .detail(Some(to_json(&policy))),
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
            AuditAction::BackupPinned
        } else {
            AuditAction::BackupUnpinned
        };
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(user, client, action, AuditOutcome::Success)
                .cluster(cluster.name.as_str())
                .target(Some(backup_id.to_string()))
                .detail((!changed).then(|| "no change".to_string())),
        )
        .await;
        Ok(changed)
    }
}
