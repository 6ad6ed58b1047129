//! Notifications (part 8): a service that every `[notify] interval_ms` looks at each cluster's
//! state (the last ended run and cleanup, the exporting phase, the RPO, due times that did not
//! start) and turns what changed into outbox rows, then delivers the rows that are due.
//!
//! Events come from state, not from hooks in the runner: a slow receiver never delays a run, and
//! a run of the CLI, of another console or from before a restart is seen all the same. Active
//! conditions are kept in the database, so a restart neither sends one again nor forgets to
//! send its `resolved`; a `resolved` goes only where the condition itself went. Each delivery's
//! outcome is audited once (delivered, or given up), never each retry.

pub mod deliver;
pub mod sign;
pub mod smtp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::fleet::RpoState;
use backup_domain::notify::{
    ChannelView, DeliveryOutcome, NotificationPayload, NotificationsResponse, NotifyEvent,
    TestDelivery, retry_delay_ms,
};
use backup_domain::run::RunState;
use backup_domain::status::ExportingPhase;
use tokio::sync::watch;

use crate::audit::{self, AuditEvent};
use crate::catalog::CatalogService;
use crate::clock::Clock;
use crate::cluster::{Cluster, Clusters};
use crate::config::NotifyConfig;
use crate::status::StatusService;
use crate::store::{Attempt, ConditionRow, OutboxInsert, OutboxRow, Store, StoreError};
use deliver::Channel;

/// Who the audit log names for the service's own deliveries.
const NOTIFY_USER: &str = "notifications";
/// A claimed delivery is this console's for this long: longer than an attempt can take.
const LEASE_MS: i64 = 60_000;
/// Deliveries of one channel claimed at once: every channel gets its share, whatever another's
/// backlog (review M5).
const CLAIM_PER_CHANNEL: usize = 5;

/// What one look at a cluster found for one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// It holds, because of `reference` (a run's ID, a phase); notified once it has held for
    /// `hold`.
    Raised {
        reference: String,
        summary: String,
        detail: String,
        hold: Duration,
    },
    /// The state says it is over.
    Cleared { detail: String },
    /// The state cannot tell (a run is in progress, nothing was listed yet): leave it as it is.
    Unknown,
}

pub struct NotificationService {
    channels: Vec<Channel>,
    config: NotifyConfig,
    store: Store,
    clock: Clock,
    clusters: Arc<Clusters>,
    status: Arc<StatusService>,
    catalog: Arc<CatalogService>,
    owner: String,
    started_ms: i64,
    stop: watch::Sender<bool>,
    /// The evaluation loop and the delivery loop.
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl NotificationService {
    /// Starts the service's loop (none when no channel is configured). Needs a tokio runtime.
    pub fn start(
        config: &NotifyConfig,
        store: Store,
        clock: Clock,
        clusters: Arc<Clusters>,
        status: Arc<StatusService>,
        catalog: Arc<CatalogService>,
    ) -> Arc<NotificationService> {
        let service = Arc::new(NotificationService {
            channels: config.channels.iter().cloned().map(Channel::new).collect(),
            config: config.clone(),
            store,
            started_ms: clock.now_ms(),
            clock,
            clusters,
            status,
            catalog,
            owner: format!("notify-{}", &crate::auth::random_token()[..12]),
            stop: watch::channel(false).0,
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        if !service.channels.is_empty() {
            // Apart, so that a receiver that hangs never holds the next look at the clusters.
            let tasks = vec![
                tokio::spawn(evaluate_every_interval(service.clone())),
                tokio::spawn(deliver_every_interval(service.clone())),
            ];
            *service.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        }
        service
    }

    /// Stops the loops; a delivery in flight is dropped (its lease runs out and it is sent
    /// again).
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for mut task in tasks {
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                // Waiting on a slow receiver: its leases run out and the rows are sent again.
                task.abort();
                tracing::warn!(
                    "the notification service did not stop within 2 s; its work in flight was dropped"
                );
            }
        }
    }

    /// `GET /api/notifications`: every channel with its redacted target and deliveries.
    pub async fn channels(&self) -> Result<NotificationsResponse, StoreError> {
        let mut channels = Vec::new();
        for channel in &self.channels {
            let c = &channel.config;
            let (pending, last_delivery) = self.store.channel_deliveries(c.name.clone()).await?;
            channels.push(ChannelView {
                name: c.name.clone(),
                kind: c.kind.clone(),
                events: c.events.clone(),
                clusters: c.clusters.clone(),
                target: c.target_description(),
                pending,
                last_delivery,
            });
        }
        Ok(NotificationsResponse { channels })
    }

    /// "Send test": a message to channel `name` now, not through the outbox, audited. `None`
    /// when no channel has that name.
    pub async fn send_test(&self, name: &str, user: &str, client: &str) -> Option<TestDelivery> {
        let channel = self.channels.iter().find(|c| c.config.name == name)?;
        let at_ms = self.clock.now_ms();
        let payload = NotificationPayload {
            id: format!("test-{}", &crate::auth::random_token()[..12]),
            event: NotifyEvent::Test,
            cluster: None,
            condition: NotifyEvent::Test,
            summary: format!("test message from {}", self.config.console_name),
            detail: format!("Sent by {user} with \"Send test\"; nothing is wrong."),
            at_ms,
            resolved: false,
            console: self.console(),
        };
        // On PagerDuty the test's incident is resolved at once (`deliver`'s one-off rule).
        let result = channel.deliver(&payload).await;
        let error = result.as_ref().err().map(|e| e.public_text());
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::NotificationTested,
                if error.is_none() {
                    AuditOutcome::Success
                } else {
                    AuditOutcome::Failure
                },
            )
            .target(name.to_string())
            .detail(error.clone()),
        )
        .await;
        Some(TestDelivery {
            channel: name.to_string(),
            outcome: if error.is_none() {
                DeliveryOutcome::Delivered
            } else {
                DeliveryOutcome::Failed
            },
            error,
            at_ms,
        })
    }

    fn console(&self) -> String {
        format!("{} {}", self.config.console_name, env!("CARGO_PKG_VERSION"))
    }

    /// One round: every cluster's conditions, then the deliveries that are due.
    async fn round(&self) {
        match self.store.notify_conditions().await {
            Ok(rows) => {
                let mut known: HashMap<(String, String), ConditionRow> = rows
                    .into_iter()
                    .map(|r| ((r.cluster.clone(), r.condition.as_str().to_string()), r))
                    .collect();
                for cluster in self.clusters.all() {
                    if let Err(error) = self.evaluate(cluster, &mut known).await {
                        tracing::error!(cluster = %cluster.name, %error, "could not evaluate the notification conditions");
                    }
                }
            }
            Err(error) => tracing::error!(%error, "could not read the notification conditions"),
        }
    }

    async fn evaluate(
        &self,
        cluster: &Cluster,
        known: &mut HashMap<(String, String), ConditionRow>,
    ) -> Result<(), StoreError> {
        let name = cluster.name.clone();
        let running = self.store.running_run(name.clone()).await?;
        let last_run = self.store.last_ended_run(name.clone()).await?;
        let run_failed = match &last_run {
            Some(run) if matches!(run.state, RunState::Failed | RunState::Interrupted) => {
                let outcome = &run.report["outcome"];
                let step = outcome["step"].as_str().unwrap_or("-");
                let reason = outcome["reason"]
                    .as_str()
                    .unwrap_or("no reason was recorded");
                Seen::Raised {
                    reference: format!("run-{}", run.id),
                    summary: format!(
                        "backup run {} (backup ID {}) {}",
                        run.id,
                        run.backup_id,
                        if run.state == RunState::Failed {
                            "failed"
                        } else {
                            "was interrupted"
                        }
                    ),
                    detail: format!("step: {step}\nreason: {reason}"),
                    hold: Duration::ZERO,
                }
            }
            Some(run) if run.state == RunState::Completed => Seen::Cleared {
                detail: format!(
                    "backup run {} (backup ID {}) completed",
                    run.id, run.backup_id
                ),
            },
            _ => Seen::Unknown,
        };
        let cleanup_failed = match self.store.latest_cleanup(name.clone(), None).await? {
            Some(c) if c.state == "partial" || c.state == "interrupted" => Seen::Raised {
                reference: format!("cleanup-{}", c.id),
                summary: format!(
                    "cleanup {} ended {}",
                    c.id,
                    if c.state == "partial" {
                        "with artifacts it could not delete"
                    } else {
                        "interrupted"
                    }
                ),
                detail: format!("retry it from the Retention page (cleanup {})", c.id),
                hold: Duration::ZERO,
            },
            Some(c) if c.state == "completed" => Seen::Cleared {
                detail: format!("cleanup {} completed", c.id),
            },
            _ => Seen::Unknown,
        };
        let status = self.status.latest(&name);
        let phase = status.as_ref().map(|s| s.phase);
        // A run that left exporting paused is blamed for the pause only until exporting is seen
        // running again after it; a later pause is someone's own (review H2). Seen by any look,
        // notified or not (the run may be the CLI's, resumed before anyone was told).
        let cleared_key = format!("notify_pause_cleared:{name}");
        let mut resumed_after = self.store.get_setting(cleared_key.clone()).await?;
        if let (None, Some(status), Some(run)) = (&running, &status, &last_run)
            && status.phase == ExportingPhase::Exporting
            && run.state == RunState::ExportingStillPaused
            && run.ended_ms.is_some_and(|ended| status.taken_at_ms > ended)
            && resumed_after.as_deref() != Some(run.id.to_string().as_str())
        {
            self.store
                .put_setting(cleared_key, run.id.to_string())
                .await?;
            resumed_after = Some(run.id.to_string());
        }
        let paused = match phase {
            _ if running.is_some() => Seen::Unknown,
            Some(ExportingPhase::Exporting) => Seen::Cleared {
                detail: "exporting runs again".into(),
            },
            Some(ExportingPhase::Paused | ExportingPhase::SoftPaused) => match &last_run {
                Some(run)
                    if run.state == RunState::ExportingStillPaused
                        && resumed_after.as_deref() != Some(run.id.to_string().as_str()) =>
                {
                    Seen::Raised {
                        reference: format!("run-{}", run.id),
                        summary: format!(
                            "exporting is still paused after backup run {}: Zeebe does not export records",
                            run.id
                        ),
                        detail: run.report["outcome"]["reason"]
                            .as_str()
                            .unwrap_or("resuming exporting could not be confirmed")
                            .to_string(),
                        hold: Duration::ZERO,
                    }
                }
                _ => Seen::Raised {
                    reference: "phase".into(),
                    summary: format!(
                        "exporting has been paused for more than {} with no backup run",
                        backup_domain::listing::format_age(
                            self.config.paused_after.as_secs() as i64
                        )
                    ),
                    detail: "resume exporting from the Overview once nothing needs it paused"
                        .into(),
                    hold: self.config.paused_after,
                },
            },
            _ => Seen::Unknown,
        };
        let now_ms = self.clock.now_ms();
        let figures = self.catalog.stored_figures(&name).await;
        let rpo = crate::fleet::rpo_of(cluster.rpo_hours, figures.as_ref(), now_ms);
        let rpo_seen = match rpo.state {
            RpoState::Breached => Seen::Raised {
                reference: "rpo".into(),
                summary: format!(
                    "the recovery point objective of {} h is breached",
                    rpo.rpo_hours
                ),
                detail: rpo.reason.clone(),
                hold: Duration::ZERO,
            },
            RpoState::Ok | RpoState::Warning => Seen::Cleared {
                detail: rpo.reason.clone(),
            },
            _ => Seen::Unknown,
        };
        for (condition, seen) in [
            (NotifyEvent::RunFailed, run_failed),
            (NotifyEvent::CleanupFailed, cleanup_failed),
            (NotifyEvent::ExportingStillPaused, paused),
            (NotifyEvent::RpoBreached, rpo_seen),
        ] {
            self.apply(&name, condition, seen, known).await?;
        }
        self.schedule_skips(&name).await
    }

    /// Turns one condition's look into database changes and queued messages.
    async fn apply(
        &self,
        cluster: &str,
        condition: NotifyEvent,
        seen: Seen,
        known: &mut HashMap<(String, String), ConditionRow>,
    ) -> Result<(), StoreError> {
        let key = (cluster.to_string(), condition.as_str().to_string());
        let now_ms = self.clock.now_ms();
        match seen {
            Seen::Unknown => {}
            Seen::Raised {
                reference,
                summary,
                detail,
                hold,
            } => {
                let row = match known.get(&key) {
                    Some(row) if row.reference == reference => row.clone(),
                    _ => {
                        self.store
                            .note_condition(
                                cluster.to_string(),
                                condition.clone(),
                                reference.clone(),
                                summary.clone(),
                                now_ms,
                            )
                            .await?
                    }
                };
                // One occurrence, one id: a condition that clears and comes back is a new one
                // (review H1); `since_ms` is the database's, the same for every console.
                let occurrence = format!("{reference}:{}", row.since_ms);
                if row.notified {
                    // A channel added while the condition holds is told now; one that was
                    // told is not told again (the outbox keeps one row per id and channel).
                    let rows = self.rows_for(
                        cluster,
                        &condition,
                        &occurrence,
                        false,
                        summary,
                        detail,
                        now_ms,
                    );
                    self.store.enqueue_notifications(rows, now_ms).await?;
                    known.insert(key, row);
                } else if now_ms - row.since_ms >= hold.as_millis() as i64 {
                    let rows = self.rows_for(
                        cluster,
                        &condition,
                        &occurrence,
                        false,
                        summary,
                        detail,
                        now_ms,
                    );
                    let mut stored = row.clone();
                    if !rows.is_empty()
                        && self
                            .store
                            .notify_condition(
                                cluster.to_string(),
                                condition.clone(),
                                reference,
                                rows,
                                now_ms,
                            )
                            .await?
                    {
                        stored.notified = true;
                    }
                    known.insert(key, stored);
                } else {
                    known.insert(key, row);
                }
            }
            Seen::Cleared { detail } => {
                if let Some(row) = known.remove(&key) {
                    let occurrence = format!("{}:{}", row.reference, row.since_ms);
                    if condition == NotifyEvent::ExportingStillPaused
                        && let Some(run_id) = row.reference.strip_prefix("run-")
                    {
                        self.store
                            .put_setting(
                                format!("notify_pause_cleared:{cluster}"),
                                run_id.to_string(),
                            )
                            .await?;
                    }
                    let resolved = self.message(
                        cluster,
                        &condition,
                        &occurrence,
                        true,
                        format!("resolved: {}", row.summary),
                        detail,
                        now_ms,
                    );
                    if let Some(resolved) = resolved {
                        self.store
                            .clear_condition(
                                cluster.to_string(),
                                condition.clone(),
                                row.reference,
                                occurrence_id(cluster, &condition, &occurrence, false),
                                resolved,
                                now_ms,
                            )
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Due times that did not start since the last look: one message each, no `resolved`.
    async fn schedule_skips(&self, cluster: &str) -> Result<(), StoreError> {
        let cursor_key = format!("notify_fires_seen:{cluster}");
        let cursor = match self.store.get_setting(cursor_key.clone()).await? {
            Some(text) => text.parse().unwrap_or(self.started_ms),
            // The first look of a new database: what happened just before it counts.
            None => self.started_ms - 60_000,
        };
        let fires = self
            .store
            .unstarted_fires_since(cluster.to_string(), cursor)
            .await?;
        let Some(newest) = fires.iter().map(|f| f.at_ms).max() else {
            return Ok(());
        };
        let now_ms = self.clock.now_ms();
        let mut rows = Vec::new();
        // Maintenance mode suspends the schedules on purpose: its skips are not news.
        for fire in fires.iter().filter(|f| {
            !(f.outcome.as_str() == "skipped"
                && f.reason
                    .as_deref()
                    .is_some_and(crate::maintenance::is_refusal))
        }) {
            let summary = format!(
                "the {} due at {} was {}",
                match fire.kind.as_str() {
                    "cleanup" => "scheduled cleanup",
                    _ => "scheduled backup",
                },
                chrono::DateTime::from_timestamp_millis(fire.due_ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| fire.due_ms.to_string()),
                match fire.outcome.as_str() {
                    "failed" => "not started: it failed to start",
                    "missed" => "missed",
                    _ => "skipped",
                }
            );
            rows.extend(
                self.rows_for(
                    cluster,
                    &NotifyEvent::ScheduleSkipped,
                    &format!("{}-{}", fire.kind, fire.due_ms),
                    false,
                    summary,
                    fire.reason
                        .clone()
                        .unwrap_or_else(|| "no reason was recorded".into()),
                    now_ms,
                ),
            );
        }
        if !rows.is_empty() {
            self.store.enqueue_notifications(rows, now_ms).await?;
        }
        self.store.put_setting(cursor_key, newest.to_string()).await
    }

    /// The message of one occurrence for every channel of this console that wants it: for a
    /// `resolved`, the channels that want both it and the condition.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one message; a struct would only rename them"
    )]
    fn rows_for(
        &self,
        cluster: &str,
        condition: &NotifyEvent,
        occurrence: &str,
        resolved: bool,
        summary: String,
        detail: String,
        now_ms: i64,
    ) -> Vec<OutboxInsert> {
        let Some(message) = self.message(
            cluster, condition, occurrence, resolved, summary, detail, now_ms,
        ) else {
            return Vec::new();
        };
        self.channels
            .iter()
            .map(|c| &c.config)
            .filter(|c| c.wants(&message.event, Some(cluster)) && c.wants(condition, Some(cluster)))
            .map(|c| OutboxInsert {
                channel: c.name.clone(),
                ..message.clone()
            })
            .collect()
    }

    /// The message of one occurrence, for no channel yet (`channel` is empty).
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one message; a struct would only rename them"
    )]
    fn message(
        &self,
        cluster: &str,
        condition: &NotifyEvent,
        occurrence: &str,
        resolved: bool,
        summary: String,
        detail: String,
        now_ms: i64,
    ) -> Option<OutboxInsert> {
        let event = if resolved {
            NotifyEvent::Resolved
        } else {
            condition.clone()
        };
        let id = occurrence_id(cluster, condition, occurrence, resolved);
        let payload = NotificationPayload {
            id: id.clone(),
            event: event.clone(),
            cluster: Some(cluster.to_string()),
            condition: condition.clone(),
            summary,
            detail,
            at_ms: now_ms,
            resolved,
            console: self.console(),
        };
        let json = serde_json::to_string(&payload).ok()?;
        Some(OutboxInsert {
            dedup_key: id,
            channel: String::new(),
            event,
            cluster: Some(cluster.to_string()),
            payload: json,
        })
    }

    fn channel_names(&self) -> Vec<String> {
        self.channels
            .iter()
            .map(|c| c.config.name.clone())
            .collect()
    }

    /// Claims the due deliveries of this console's channels and sends each channel's in order,
    /// the channels side by side, each in a task of its own; answers the tasks.
    async fn deliver_due(self: &Arc<Self>) -> Result<Vec<tokio::task::JoinHandle<()>>, StoreError> {
        let now_ms = self.clock.now_ms();
        let rows = self
            .store
            .claim_deliveries(
                self.owner.clone(),
                self.channel_names(),
                now_ms,
                now_ms + LEASE_MS,
                CLAIM_PER_CHANNEL,
            )
            .await?;
        let mut by_channel: HashMap<String, Vec<OutboxRow>> = HashMap::new();
        for row in rows {
            by_channel.entry(row.channel.clone()).or_default().push(row);
        }
        Ok(by_channel
            .into_values()
            .map(|rows| {
                let service = self.clone();
                tokio::spawn(async move {
                    let mut rows = rows.into_iter();
                    while let Some(row) = rows.next() {
                        if !service.deliver_one(row).await {
                            // It waits for a retry: the later ones wait behind it, in order.
                            for later in rows.by_ref() {
                                if let Err(error) =
                                    service.store.release_delivery(later.id, service.owner.clone()).await
                                {
                                    tracing::error!(id = later.id, %error, "could not hand a notification back");
                                }
                            }
                        }
                    }
                })
            })
            .collect())
    }

    /// The audit row of one delivery's outcome (the service's own, on the row's channel).
    async fn audit_delivery(
        &self,
        row: &OutboxRow,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: String,
    ) {
        let mut event = AuditEvent::new(NOTIFY_USER, "-", action, outcome)
            .target(row.channel.clone())
            .detail(detail);
        if let Some(cluster) = &row.cluster {
            event = event.cluster(cluster.clone());
        }
        audit::record(&self.store, &self.clock, event).await;
    }

    /// The raise `row` was given up: so is its `resolved` waiting behind it, audited once.
    async fn give_up_resolved_of(&self, row: &OutboxRow, now_ms: i64) {
        match self.store.give_up_resolved_of(row.id, now_ms).await {
            Ok(rows) => {
                for r in rows {
                    let detail = format!(
                        "{} given up with its condition's message, so it is not sent alone",
                        r.event
                    );
                    self.audit_delivery(
                        &r,
                        AuditAction::NotificationFailed,
                        AuditOutcome::Failure,
                        detail,
                    )
                    .await;
                }
            }
            Err(error) => {
                tracing::error!(id = row.id, %error, "could not give up the resolved of a message given up")
            }
        }
    }

    /// Gives up, audited once each, the deliveries of channels no console here has any more.
    async fn give_up_unknown_channels(&self) -> Result<(), StoreError> {
        let now_ms = self.clock.now_ms();
        let rows = self
            .store
            .give_up_unknown_channels(
                self.channel_names(),
                now_ms,
                self.config.give_up_after.as_millis() as i64,
            )
            .await?;
        for row in rows {
            let detail = format!(
                "{} given up after {} attempt(s): no console on this database has the channel any more",
                row.event, row.attempts
            );
            self.audit_delivery(
                &row,
                AuditAction::NotificationFailed,
                AuditOutcome::Failure,
                detail,
            )
            .await;
        }
        Ok(())
    }

    /// One attempt at `row`; false when it waits for a retry.
    async fn deliver_one(&self, row: OutboxRow) -> bool {
        let channel = self.channels.iter().find(|c| c.config.name == row.channel);
        let payload: Result<NotificationPayload, _> = serde_json::from_str(&row.payload);
        // A `resolved` queued by another console for every channel told: this one may not list it.
        if let (Some(channel), Ok(payload)) = (channel, &payload)
            && !(channel
                .config
                .wants(&payload.event, payload.cluster.as_deref())
                && channel
                    .config
                    .wants(&payload.condition, payload.cluster.as_deref()))
        {
            let _ = self
                .store
                .finish_delivery(
                    row.id,
                    self.owner.clone(),
                    Attempt::Skipped,
                    self.clock.now_ms(),
                )
                .await;
            return true;
        }
        let result = match (channel, payload) {
            (Some(channel), Ok(payload)) => {
                channel.deliver(&payload).await.map_err(|e| e.public_text())
            }
            // Not claimed by a console without the channel; should it happen, it is retried.
            (None, _) => Err("this console does not have the channel".to_string()),
            (_, Err(e)) => Err(format!("the stored message cannot be read: {e}")),
        };
        let now_ms = self.clock.now_ms();
        let attempts = row.attempts + 1;
        let attempt = match &result {
            Ok(()) => Attempt::Delivered,
            Err(error)
                if channel.is_some()
                    && now_ms - row.created_ms >= self.config.give_up_after.as_millis() as i64 =>
            {
                Attempt::GiveUp {
                    error: error.clone(),
                }
            }
            Err(error) => Attempt::Retry {
                due_ms: now_ms
                    + retry_delay_ms(
                        attempts,
                        self.config.retry_base.as_millis() as u64,
                        self.config.retry_max.as_millis() as u64,
                    ) as i64,
                error: error.clone(),
            },
        };
        let audited = match &attempt {
            Attempt::Skipped => None,
            Attempt::Delivered => Some((AuditAction::NotificationDelivered, AuditOutcome::Success)),
            Attempt::GiveUp { .. } => {
                Some((AuditAction::NotificationFailed, AuditOutcome::Failure))
            }
            Attempt::Retry { error, .. } => {
                tracing::warn!(channel = %row.channel, id = row.id, attempts, %error, "a notification failed; it is retried");
                None
            }
        };
        let waits = matches!(attempt, Attempt::Retry { .. });
        let recorded = self
            .store
            .finish_delivery(row.id, self.owner.clone(), attempt, now_ms)
            .await;
        let go_on = !waits && matches!(recorded, Ok(true));
        let given_up = matches!(audited, Some((AuditAction::NotificationFailed, _)));
        match recorded {
            Ok(true) => {
                if let Some((action, outcome)) = audited {
                    let detail = match &result {
                        Ok(()) => format!("{} after {attempts} attempt(s)", row.event),
                        Err(error) => format!(
                            "{} given up after {attempts} attempt(s): {error}",
                            row.event
                        ),
                    };
                    self.audit_delivery(&row, action, outcome, detail).await;
                }
                if given_up {
                    self.give_up_resolved_of(&row, now_ms).await;
                }
            }
            Ok(false) => {
                tracing::warn!(channel = %row.channel, id = row.id, "a notification's lease was taken over; its outcome is another console's to record");
            }
            Err(error) => {
                tracing::error!(channel = %row.channel, id = row.id, %error, "could not record a notification's outcome");
            }
        }
        // An outcome not recorded (a lease taken over, a database error) holds the later
        // messages back too: the row is sent again when its lease runs out.
        go_on
    }
}

/// The id of a message about one occurrence of a condition: stable across retries and consoles,
/// new for every occurrence.
fn occurrence_id(
    cluster: &str,
    condition: &NotifyEvent,
    occurrence: &str,
    resolved: bool,
) -> String {
    format!(
        "{cluster}:{condition}:{occurrence}:{}",
        if resolved { "resolved" } else { "raised" }
    )
}

/// How long ended messages stay in the outbox (the channels' "last delivery" reads them).
const KEEP_ENDED_MS: i64 = 30 * 24 * 3_600_000;

async fn evaluate_every_interval(service: Arc<NotificationService>) {
    let mut stop = service.stop.subscribe();
    let mut pruned_at = i64::MIN;
    loop {
        service.round().await;
        if let Err(error) = service.give_up_unknown_channels().await {
            tracing::error!(%error, "could not give up the deliveries of unknown channels");
        }
        let now_ms = service.clock.now_ms();
        if now_ms.saturating_sub(pruned_at) >= 3_600_000 {
            pruned_at = now_ms;
            match service.store.prune_outbox(now_ms - KEEP_ENDED_MS).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old notification deliveries removed"),
                Err(error) => {
                    tracing::error!(%error, "could not remove old notification deliveries")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(service.config.interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Claims and sends what is due every interval; the sends of one look run on while the next
/// looks, their rows leased (a row in flight is not claimed again).
async fn deliver_every_interval(service: Arc<NotificationService>) {
    let mut stop = service.stop.subscribe();
    let mut in_flight: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        in_flight.retain(|t| !t.is_finished());
        match service.deliver_due().await {
            Ok(tasks) => in_flight.extend(tasks),
            Err(error) => tracing::error!(%error, "could not claim the due notifications"),
        }
        let stopped = tokio::select! {
            _ = tokio::time::sleep(service.config.interval) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        if stopped {
            // A send about to be answered is finished and recorded, not sent again after its
            // lease; one still going when the time is up is dropped.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(1_500);
            for mut task in in_flight {
                if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                    task.abort();
                }
            }
            return;
        }
    }
}
