//! What the audit log records: the action and its outcome, stored and sent as their snake_case
//! text. Both are open: a row written by a later version reads back with its text kept.

use crate::string_enum::open_string_enum;

open_string_enum! {
    /// What was done (or tried). The `?action=` filter of `GET /api/audit` takes these texts.
    pub enum AuditAction("audit action") {
        Login = "login",
        /// A wrong password, or a login refused by the rate limit (outcome `denied`).
        LoginFailed = "login_failed",
        Logout = "logout",
        ExportingPaused = "exporting_paused",
        ExportingSoftPaused = "exporting_soft_paused",
        ExportingResumed = "exporting_resumed",
        Rebalance = "rebalance",
        BackupStarted = "backup_started",
        BackupCancelled = "backup_cancelled",
        BackupFinished = "backup_finished",
        /// A run found unfinished at start-up (its process stopped) and recovered.
        BackupInterrupted = "backup_interrupted",
        PolicyChanged = "policy_changed",
        PolicyConfirmed = "policy_confirmed",
        BackupPinned = "backup_pinned",
        BackupUnpinned = "backup_unpinned",
        CleanupStarted = "cleanup_started",
        CleanupFinished = "cleanup_finished",
        /// An unattended cleanup (the schedule, the CLI) refused as unsafe.
        CleanupRefused = "cleanup_refused",
        /// An admin saved, paused or enabled a schedule.
        ScheduleChanged = "schedule_changed",
        /// A due time was skipped (the cluster busy, maintenance), missed (no console was
        /// running) or failed to start; a started one is audited by its run or cleanup.
        ScheduleSkipped = "schedule_skipped",
        ScheduleMissed = "schedule_missed",
        ScheduleFailed = "schedule_failed",
        MaintenanceStarted = "maintenance_started",
        MaintenanceEnded = "maintenance_ended",
        /// A notification reached its channel (audited once, whatever the retries).
        NotificationDelivered = "notification_delivered",
        /// A notification was given up after retrying for the whole give-up time.
        NotificationFailed = "notification_failed",
        /// An admin's "Send test" of a channel.
        NotificationTested = "notification_tested",
        _ => Unknown,
    }
}

open_string_enum! {
    pub enum AuditOutcome("audit outcome") {
        Success = "success",
        Failure = "failure",
        /// Refused before anything was checked (a rate limit).
        Denied = "denied",
        /// Refused as unsafe by the console's own rules.
        Refused = "refused",
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::string_enum::assert_open_string_enum;

    #[test]
    fn audit_actions_round_trip_and_unknown_ones_are_kept() {
        assert_open_string_enum!(AuditAction::Unknown);
        assert_eq!(AuditAction::LoginFailed.as_str(), "login_failed");
        assert_eq!(
            AuditAction::from("exporting_soft_paused"),
            AuditAction::ExportingSoftPaused
        );
    }

    #[test]
    fn audit_outcomes_round_trip_and_unknown_ones_are_kept() {
        assert_open_string_enum!(AuditOutcome::Unknown);
        assert_eq!(AuditOutcome::Denied.as_str(), "denied");
    }
}
