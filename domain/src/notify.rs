//! Notifications (part 8): what a channel is sent and what `GET /api/notifications` and
//! `POST /api/notifications/{name}/test` answer, for the server and the UI alike, and the pure
//! rules of delivery (the retry delay, the text of a message).

use serde::{Deserialize, Serialize};

use crate::string_enum::open_string_enum;

open_string_enum! {
    /// What a message is about. A channel's `events` lists those it wants (all by default);
    /// `test` is only ever sent by "Send test".
    pub enum NotifyEvent("notification event") {
        RunFailed = "run_failed",
        ExportingStillPaused = "exporting_still_paused",
        RpoBreached = "rpo_breached",
        CleanupFailed = "cleanup_failed",
        ScheduleSkipped = "schedule_skipped",
        /// A condition that was notified cleared (a later success, exporting again, the RPO met).
        Resolved = "resolved",
        Test = "test",
        _ => Unknown,
    }
}

impl NotifyEvent {
    /// How the UI names it.
    pub fn label(&self) -> &str {
        match self {
            NotifyEvent::RunFailed => "Backup run failed",
            NotifyEvent::ExportingStillPaused => "Exporting still paused",
            NotifyEvent::RpoBreached => "RPO breached",
            NotifyEvent::CleanupFailed => "Cleanup failed",
            NotifyEvent::ScheduleSkipped => "Scheduled time skipped",
            NotifyEvent::Resolved => "Resolved",
            NotifyEvent::Test => "Test message",
            NotifyEvent::Unknown(text) => text,
        }
    }

    /// The events a channel may list in its configuration, and gets when it lists none.
    pub const CONFIGURABLE: &'static [NotifyEvent] = &[
        NotifyEvent::RunFailed,
        NotifyEvent::ExportingStillPaused,
        NotifyEvent::RpoBreached,
        NotifyEvent::CleanupFailed,
        NotifyEvent::ScheduleSkipped,
        NotifyEvent::Resolved,
    ];
}

open_string_enum! {
    /// How a channel is reached.
    pub enum ChannelKind("notification channel kind") {
        /// A JSON [`NotificationPayload`], signed when the channel has a secret.
        Webhook = "webhook",
        /// A Slack incoming webhook: `{"text": ...}`.
        Slack = "slack",
        /// Plain-text mail over SMTP (STARTTLS required by default).
        Email = "email",
        /// A Microsoft Teams workflow webhook: the text in an Adaptive Card.
        Teams = "teams",
        /// PagerDuty Events API v2: `trigger`, and `resolve` on the same `dedup_key`.
        Pagerduty = "pagerduty",
        _ => Unknown,
    }
}

open_string_enum! {
    /// Where one delivery stands.
    pub enum DeliveryOutcome("delivery outcome") {
        Delivered = "delivered",
        /// The last attempt failed; another one is due.
        Retrying = "retrying",
        /// Given up (retried for the whole give-up time), or a test that failed.
        Failed = "failed",
        _ => Unknown,
    }
}

/// The body of a webhook message (and what Slack and email texts are made from). `id` is stable
/// across retries of one delivery: a receiver drops a second copy by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPayload {
    pub id: String,
    pub event: NotifyEvent,
    /// `None` for a test message.
    pub cluster: Option<String>,
    /// The condition this is about (for `resolved`, the one that cleared): `run_failed`, ...
    pub condition: NotifyEvent,
    /// One line for a title or a subject.
    pub summary: String,
    pub detail: String,
    pub at_ms: i64,
    pub resolved: bool,
    /// Which console sent it: its name and version.
    pub console: String,
}

impl NotificationPayload {
    /// The one-message text of Slack and email: the summary, then the detail.
    pub fn text(&self) -> String {
        let mark = if self.resolved { "RESOLVED" } else { "ALERT" };
        let cluster = self
            .cluster
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        format!(
            "{mark}{cluster} {}: {}\n\n{}\n\n(event {}, id {}, from {})",
            self.condition, self.summary, self.detail, self.event, self.id, self.console
        )
    }
}

/// The last delivery to a channel, whatever it came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDelivery {
    pub at_ms: i64,
    pub event: NotifyEvent,
    pub outcome: DeliveryOutcome,
    /// Why the last attempt failed, with any URL removed.
    pub error: Option<String>,
}

/// One configured channel as `GET /api/notifications` shows it: never its URL or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelView {
    pub name: String,
    pub kind: ChannelKind,
    pub events: Vec<NotifyEvent>,
    /// The clusters it is about; empty means all.
    pub clusters: Vec<String>,
    /// Where it goes, redacted: `url from $OPS_WEBHOOK_URL`, `smtp.example.com:587`.
    pub target: String,
    /// Deliveries waiting for their first or next attempt.
    pub pending: u64,
    pub last_delivery: Option<LastDelivery>,
}

/// `GET /api/notifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationsResponse {
    pub channels: Vec<ChannelView>,
}

/// `POST /api/notifications/{name}/test`: sent at once, not through the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestDelivery {
    pub channel: String,
    /// `delivered` or `failed`.
    pub outcome: DeliveryOutcome,
    pub error: Option<String>,
    pub at_ms: i64,
}

/// How long after its `attempts`-th failed attempt a delivery is tried again: `base_ms`
/// doubled for each attempt after the first, at most `max_ms`.
pub fn retry_delay_ms(attempts: u32, base_ms: u64, max_ms: u64) -> u64 {
    let doublings = attempts.saturating_sub(1).min(40);
    base_ms.saturating_mul(1u64 << doublings).min(max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::string_enum::assert_open_string_enum;

    #[test]
    fn the_wire_texts_round_trip_and_unknown_ones_are_kept() {
        assert_open_string_enum!(NotifyEvent::Unknown);
        assert_open_string_enum!(ChannelKind::Unknown);
        assert_open_string_enum!(DeliveryOutcome::Unknown);
        assert!(!NotifyEvent::CONFIGURABLE.contains(&NotifyEvent::Test));
    }

    #[test]
    fn the_retry_delay_doubles_from_the_base_up_to_the_cap() {
        let delays: Vec<u64> = (1..=6).map(|n| retry_delay_ms(n, 100, 1_000)).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(retry_delay_ms(0, 100, 1_000), 100);
        assert_eq!(retry_delay_ms(u32::MAX, 5_000, 600_000), 600_000);
    }

    #[test]
    fn the_text_names_the_cluster_the_condition_and_whether_it_cleared() {
        let payload = NotificationPayload {
            id: "d-1".into(),
            event: NotifyEvent::Resolved,
            cluster: Some("prod".into()),
            condition: NotifyEvent::RunFailed,
            summary: "backups succeed again".into(),
            detail: "run 4 completed".into(),
            at_ms: 1,
            resolved: true,
            console: "backup-console 0.1.0".into(),
        };
        let text = payload.text();
        assert!(
            text.starts_with("RESOLVED [prod] run_failed: backups succeed again"),
            "{text}"
        );
        assert!(text.contains("run 4 completed"), "{text}");
    }
}
