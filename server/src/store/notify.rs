//! Notifications in the database: the conditions notified and not yet cleared (so a restart
//! neither sends them again nor forgets to send `resolved`), and the outbox, one row per
//! message and channel, delivered under a lease so that two consoles on one database do not
//! both send it.

use backup_domain::notify::{DeliveryOutcome, LastDelivery, NotifyEvent};
use backup_domain::schedule::{FireOutcome, ScheduleFire, ScheduleKind};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, immediate};

/// One active condition of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionRow {
    pub cluster: String,
    pub condition: NotifyEvent,
    pub reference: String,
    pub since_ms: i64,
    pub notified: bool,
    pub summary: String,
}

/// A message to queue for one channel.
#[derive(Debug, Clone)]
pub struct OutboxInsert {
    /// The same for every console that sees the same occurrence: the row is inserted once.
    pub dedup_key: String,
    pub channel: String,
    pub event: NotifyEvent,
    pub cluster: Option<String>,
    /// The JSON of the `NotificationPayload`.
    pub payload: String,
}

/// A queued message claimed for delivery.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub event: NotifyEvent,
    pub cluster: Option<String>,
    pub payload: String,
    pub created_ms: i64,
    pub attempts: u32,
}

/// What a delivery attempt came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered,
    /// Failed; tried again at `due_ms`.
    Retry {
        due_ms: i64,
        error: String,
    },
    /// Failed, and given up.
    GiveUp {
        error: String,
    },
    /// Not sent: the channel does not take this message (a `resolved` it does not list).
    Skipped,
}

/// A row of `RETURNING id, channel, event, cluster, payload, created_ms, attempts`.
fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        event: NotifyEvent::from(r.get::<_, String>(2)?),
        cluster: r.get(3)?,
        payload: r.get(4)?,
        created_ms: r.get(5)?,
        attempts: r.get(6)?,
    })
}

fn insert_rows(
    c: &rusqlite::Connection,
    rows: &[OutboxInsert],
    now_ms: i64,
) -> rusqlite::Result<()> {
    for row in rows {
        c.execute(
            "INSERT OR IGNORE INTO notify_outbox (dedup_key, channel, event, cluster, payload, created_ms, due_ms, state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'pending')",
            params![
                row.dedup_key,
                row.channel,
                row.event.as_str(),
                row.cluster,
                row.payload,
                now_ms
            ],
        )?;
    }
    Ok(())
}

impl Store {
    pub async fn notify_conditions(&self) -> Result<Vec<ConditionRow>, StoreError> {
        self.call(|c| {
            let mut st = c.prepare(
                "SELECT cluster, condition, ref, since_ms, notified, summary FROM notify_conditions",
            )?;
            st.query_map([], |r| {
                Ok(ConditionRow {
                    cluster: r.get(0)?,
                    condition: NotifyEvent::from(r.get::<_, String>(1)?),
                    reference: r.get(2)?,
                    since_ms: r.get(3)?,
                    notified: r.get(4)?,
                    summary: r.get(5)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Records that `condition` holds on `cluster` because of `reference`: a new condition, or
    /// a new occurrence (another reference) which is not notified yet. The answer is the row as
    /// it is now.
    pub async fn note_condition(
        &self,
        cluster: String,
        condition: NotifyEvent,
        reference: String,
        summary: String,
        now_ms: i64,
    ) -> Result<ConditionRow, StoreError> {
        self.call(move |c| {
            immediate(c, |c| {
                let found: Option<(String, i64, bool, String)> = c
                    .query_row(
                        "SELECT ref, since_ms, notified, summary FROM notify_conditions WHERE cluster = ?1 AND condition = ?2",
                        params![cluster, condition.as_str()],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                match found {
                    Some((r, since_ms, notified, summary)) if r == reference => Ok(ConditionRow {
                        cluster,
                        condition,
                        reference,
                        since_ms,
                        notified,
                        summary,
                    }),
                    _ => {
                        c.execute(
                            "INSERT OR REPLACE INTO notify_conditions (cluster, condition, ref, since_ms, notified, summary) \
                             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                            params![cluster, condition.as_str(), reference, now_ms, summary],
                        )?;
                        Ok(ConditionRow {
                            cluster,
                            condition,
                            reference,
                            since_ms: now_ms,
                            notified: false,
                            summary,
                        })
                    }
                }
            })
        })
        .await
    }

    /// Marks the occurrence notified and queues `rows`, unless another console did first; the
    /// answer says whether this call did.
    pub async fn notify_condition(
        &self,
        cluster: String,
        condition: NotifyEvent,
        reference: String,
        rows: Vec<OutboxInsert>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            immediate(c, |c| {
                let n = c.execute(
                    "UPDATE notify_conditions SET notified = 1 WHERE cluster = ?1 AND condition = ?2 AND ref = ?3 AND notified = 0",
                    params![cluster, condition.as_str(), reference],
                )?;
                if n == 1 {
                    insert_rows(c, &rows, now_ms)?;
                }
                Ok(n == 1)
            })
        })
        .await
    }

    /// Removes the cleared condition and, when it had been notified, queues `resolved` (its
    /// channel is ignored) for every channel that was queued the raise `raised_key` and did not
    /// give it up, unless another console did first. Every channel told, whichever console has
    /// it: the console that sends a channel drops a `resolved` its channel does not take
    /// ([`Attempt::Skipped`]). A channel added later never gets a `resolved` alone.
    pub async fn clear_condition(
        &self,
        cluster: String,
        condition: NotifyEvent,
        reference: String,
        raised_key: String,
        resolved: OutboxInsert,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            immediate(c, |c| {
                let notified: Option<bool> = c
                    .query_row(
                        "DELETE FROM notify_conditions WHERE cluster = ?1 AND condition = ?2 AND ref = ?3 RETURNING notified",
                        params![cluster, condition.as_str(), reference],
                        |r| r.get(0),
                    )
                    .optional()?;
                if notified == Some(true) {
                    // A raise given up was never sent: its channel gets no `resolved` alone.
                    let mut st = c.prepare(
                        "SELECT channel FROM notify_outbox WHERE dedup_key = ?1 AND state != 'failed'",
                    )?;
                    let told = st
                        .query_map([&raised_key], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<std::collections::HashSet<_>>>()?;
                    let rows: Vec<_> = told
                        .into_iter()
                        .map(|channel| OutboxInsert {
                            channel,
                            ..resolved.clone()
                        })
                        .collect();
                    insert_rows(c, &rows, now_ms)?;
                }
                Ok(notified.is_some())
            })
        })
        .await
    }

    /// Queues messages that belong to no condition (a skipped due time); a row already queued
    /// by another console is left as it is.
    pub async fn enqueue_notifications(
        &self,
        rows: Vec<OutboxInsert>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.call(move |c| immediate(c, |c| insert_rows(c, &rows, now_ms)))
            .await
    }

    /// Due times of `cluster` that did not start (skipped, missed, failed to start) and were
    /// handled after `after_ms`, oldest first.
    pub async fn unstarted_fires_since(
        &self,
        cluster: String,
        after_ms: i64,
    ) -> Result<Vec<ScheduleFire>, StoreError> {
        self.call(move |c| {
            let mut st = c.prepare(
                "SELECT kind, due_ms, at_ms, outcome, reason, started_id FROM schedule_fires \
                 WHERE cluster = ?1 AND outcome IN (?2, ?3, ?4) AND at_ms > ?5 ORDER BY at_ms, due_ms LIMIT 100",
            )?;
            st.query_map(
                params![
                    cluster,
                    FireOutcome::Skipped.as_str(),
                    FireOutcome::Missed.as_str(),
                    FireOutcome::Failed.as_str(),
                    after_ms
                ],
                |r| {
                    Ok(ScheduleFire {
                        kind: ScheduleKind::from(r.get::<_, String>(0)?),
                        due_ms: r.get(1)?,
                        at_ms: r.get(2)?,
                        outcome: FireOutcome::from(r.get::<_, String>(3)?),
                        reason: r.get(4)?,
                        started_id: r.get(5)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }

    /// Takes due deliveries of `channels` (this console's) for `owner` until `lease_until`, at
    /// most `per_channel` of each, oldest first. A channel's messages go out in the order they
    /// were queued: none is taken while an older one of its channel waits for a retry or is
    /// being sent (a `resolve` never overtakes its `trigger`). A row another console holds
    /// under an unexpired lease is not taken, nor one of a channel this console does not have.
    pub async fn claim_deliveries(
        &self,
        owner: String,
        channels: Vec<String>,
        now_ms: i64,
        lease_until: i64,
        per_channel: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        // Channel names are `[a-z0-9-]` (the configuration checks it): a comma list is exact.
        let channels = format!(",{},", channels.join(","));
        self.call(move |c| {
            immediate(c, |c| {
                let mut st = c.prepare(
                    "UPDATE notify_outbox SET lease_owner = ?1, lease_until = ?3 WHERE id IN ( \
                       SELECT id FROM ( \
                         SELECT o.id, ROW_NUMBER() OVER (PARTITION BY o.channel ORDER BY o.id) AS n \
                         FROM notify_outbox o \
                         WHERE o.state = 'pending' AND o.due_ms <= ?2 \
                           AND (o.lease_until IS NULL OR o.lease_until < ?2) \
                           AND instr(?5, ',' || o.channel || ',') > 0 \
                           AND NOT EXISTS (SELECT 1 FROM notify_outbox p \
                             WHERE p.channel = o.channel AND p.state = 'pending' AND p.id < o.id \
                               AND (p.due_ms > ?2 OR (p.lease_until IS NOT NULL AND p.lease_until >= ?2)))) \
                       WHERE n <= ?4) \
                     RETURNING id, channel, event, cluster, payload, created_ms, attempts",
                )?;
                let mut rows = st
                    .query_map(
                        params![owner, now_ms, lease_until, per_channel as i64, channels],
                        outbox_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows.sort_by_key(|r| r.id);
                Ok(rows)
            })
        })
        .await
    }

    /// Deletes the messages that ended before `before_ms`, except the raises of conditions that
    /// still hold (they keep a channel from being told twice); the answer is how many went.
    pub async fn prune_outbox(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM notify_outbox WHERE state != 'pending' AND ended_ms < ?1 \
                 AND NOT EXISTS (SELECT 1 FROM notify_conditions k WHERE notify_outbox.dedup_key = \
                   k.cluster || ':' || k.condition || ':' || k.ref || ':' || k.since_ms || ':raised')",
                params![before_ms],
            )
        })
        .await
    }

    /// Hands a claimed row back untried (an older message of its channel failed first).
    pub async fn release_delivery(&self, id: i64, owner: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE notify_outbox SET lease_owner = NULL, lease_until = NULL \
                 WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                params![id, owner],
            )?;
            Ok(())
        })
        .await
    }

    /// Gives up the pending rows of channels that are not among `channels` (no console that
    /// runs on this database has them any more) once they are `give_up_ms` old and not being
    /// sent; the answer is the rows given up, to audit.
    pub async fn give_up_unknown_channels(
        &self,
        channels: Vec<String>,
        now_ms: i64,
        give_up_ms: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        // Channel names are `[a-z0-9-]` (the configuration checks it): a comma list is exact.
        let channels = format!(",{},", channels.join(","));
        self.call(move |c| {
            let mut st = c.prepare(
                "UPDATE notify_outbox SET state = 'failed', ended_ms = ?1, \
                   last_error = 'no console on this database has this channel any more' \
                 WHERE state = 'pending' AND created_ms <= ?1 - ?2 \
                   AND (lease_until IS NULL OR lease_until < ?1) \
                   AND instr(?3, ',' || channel || ',') = 0 \
                 RETURNING id, channel, event, cluster, payload, created_ms, attempts",
            )?;
            st.query_map(params![now_ms, give_up_ms, channels], outbox_row)?
                .collect()
        })
        .await
    }

    /// Records what an attempt came to, while `owner` still holds the row; the answer says
    /// whether it did (a lease that ran out and was taken by another console does not write).
    pub async fn finish_delivery(
        &self,
        id: i64,
        owner: String,
        attempt: Attempt,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            let n = match attempt {
                Attempt::Delivered => c.execute(
                    "UPDATE notify_outbox SET state = 'delivered', attempts = attempts + 1, last_attempt_ms = ?3, \
                     ended_ms = ?3, last_error = NULL, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                    params![id, owner, now_ms],
                )?,
                Attempt::Retry { due_ms, error } => c.execute(
                    "UPDATE notify_outbox SET attempts = attempts + 1, last_attempt_ms = ?3, due_ms = ?4, \
                     last_error = ?5, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                    params![id, owner, now_ms, due_ms, error],
                )?,
                Attempt::Skipped => c.execute(
                    "UPDATE notify_outbox SET state = 'skipped', ended_ms = ?3, lease_owner = NULL, \
                     lease_until = NULL WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                    params![id, owner, now_ms],
                )?,
                Attempt::GiveUp { error } => c.execute(
                    "UPDATE notify_outbox SET state = 'failed', attempts = attempts + 1, last_attempt_ms = ?3, \
                     ended_ms = ?3, last_error = ?4, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                    params![id, owner, now_ms, error],
                )?,
            };
            Ok(n == 1)
        })
        .await
    }

    /// When row `id` (given up) is a raise, gives up the `resolved` of the same occurrence
    /// still waiting on its channel: it would go out alone. The answer is the rows given up.
    pub async fn give_up_resolved_of(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.call(move |c| {
            let mut st = c.prepare(
                "UPDATE notify_outbox SET state = 'failed', ended_ms = ?2, \
                   last_error = 'its condition''s message was given up, so it is not sent alone' \
                 WHERE state = 'pending' AND (channel, dedup_key) IN ( \
                   SELECT channel, substr(dedup_key, 1, length(dedup_key) - 6) || 'resolved' \
                   FROM notify_outbox WHERE id = ?1 AND dedup_key LIKE '%:raised') \
                 RETURNING id, channel, event, cluster, payload, created_ms, attempts",
            )?;
            st.query_map(params![id, now_ms], outbox_row)?.collect()
        })
        .await
    }

    /// A channel's deliveries waiting, and its last attempted one.
    pub async fn channel_deliveries(
        &self,
        channel: String,
    ) -> Result<(u64, Option<LastDelivery>), StoreError> {
        self.call(move |c| {
            let pending: i64 = c.query_row(
                "SELECT COUNT(*) FROM notify_outbox WHERE channel = ?1 AND state = 'pending'",
                params![channel],
                |r| r.get(0),
            )?;
            let last = c
                .query_row(
                    "SELECT last_attempt_ms, event, state, last_error FROM notify_outbox \
                     WHERE channel = ?1 AND last_attempt_ms IS NOT NULL ORDER BY last_attempt_ms DESC, id DESC LIMIT 1",
                    params![channel],
                    |r| {
                        let state: String = r.get(2)?;
                        Ok(LastDelivery {
                            at_ms: r.get(0)?,
                            event: NotifyEvent::from(r.get::<_, String>(1)?),
                            outcome: match state.as_str() {
                                "delivered" => DeliveryOutcome::Delivered,
                                "pending" => DeliveryOutcome::Retrying,
                                _ => DeliveryOutcome::Failed,
                            },
                            error: r.get(3)?,
                        })
                    },
                )
                .optional()?;
            Ok((pending.max(0) as u64, last))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("bc-notify-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("console.db")).unwrap()
    }

    fn row(key: &str) -> OutboxInsert {
        OutboxInsert {
            dedup_key: key.into(),
            channel: "ops".into(),
            event: NotifyEvent::RunFailed,
            cluster: Some("prod".into()),
            payload: "{}".into(),
        }
    }

    /// A `run_failed` of `reference` on `prod`, noted and notified at 10 with its raise queued for
    /// `ops`: the raise's key.
    async fn notified_failure(s: &Store, reference: &str) -> String {
        let noted = s
            .note_condition(
                "prod".into(),
                NotifyEvent::RunFailed,
                reference.into(),
                "x".into(),
                10,
            )
            .await
            .unwrap();
        let key = format!("prod:run_failed:{reference}:{}:raised", noted.since_ms);
        assert!(
            s.notify_condition(
                "prod".into(),
                NotifyEvent::RunFailed,
                reference.into(),
                vec![row(&key)],
                10,
            )
            .await
            .unwrap()
        );
        key
    }

    /// Ended messages older than the cut go, except the raise of a condition that still holds;
    /// messages waiting to be sent always stay.
    #[tokio::test]
    async fn the_outbox_is_pruned_but_keeps_what_an_active_condition_needs() {
        let s = store("prune");
        // A condition that still holds: its delivered raise is kept.
        notified_failure(&s, "run-7").await;
        s.enqueue_notifications(vec![row("old-skip"), row("waiting")], 10)
            .await
            .unwrap();
        let claimed = s
            .claim_deliveries("a".into(), vec!["ops".into()], 10, 1_000, 10)
            .await
            .unwrap();
        for r in claimed.iter().filter(|r| r.payload == "{}") {
            if r.id != claimed.last().unwrap().id {
                assert!(
                    s.finish_delivery(r.id, "a".into(), Attempt::Delivered, 20)
                        .await
                        .unwrap()
                );
            }
        }
        assert_eq!(
            s.prune_outbox(15).await.unwrap(),
            0,
            "nothing ended before 15"
        );
        assert_eq!(
            s.prune_outbox(100).await.unwrap(),
            1,
            "only the old skip goes"
        );
        let (pending, _) = s.channel_deliveries("ops".into()).await.unwrap();
        assert_eq!(pending, 1, "the message still waiting stays");
    }

    /// README: "`resolved` goes only to channels that were sent the condition". A raise that was
    /// given up (the receiver down past give_up_after) was never sent, but `clear_condition`
    /// counts every outbox row of the raise, failed ones too: the channel gets a `resolved` alone.
    #[tokio::test]
    async fn a_raise_given_up_gets_no_resolved() {
        let s = store("given-up");
        let key = notified_failure(&s, "run-1").await;
        let claimed = s
            .claim_deliveries("a".into(), vec!["ops".into()], 10, 1_000, 10)
            .await
            .unwrap();
        assert!(
            s.finish_delivery(
                claimed[0].id,
                "a".into(),
                Attempt::GiveUp {
                    error: "down".into()
                },
                20
            )
            .await
            .unwrap()
        );
        s.clear_condition(
            "prod".into(),
            NotifyEvent::RunFailed,
            "run-1".into(),
            key,
            row("resolved-1"),
            30,
        )
        .await
        .unwrap();
        let (pending, _) = s.channel_deliveries("ops".into()).await.unwrap();
        assert_eq!(pending, 0, "a resolved was queued for a raise never sent");
    }

    /// The same when the raise is still being retried as the condition clears: its `resolved`
    /// is queued behind it (right), then the raise is given up and the `resolved` goes out
    /// alone, the receiver told that something it never heard of is over.
    #[tokio::test]
    async fn a_raise_given_up_after_its_resolved_was_queued_takes_the_resolved_with_it() {
        let s = store("given-up-later");
        let key = notified_failure(&s, "run-1").await;
        let raise = s
            .claim_deliveries("a".into(), vec!["ops".into()], 10, 1_000, 10)
            .await
            .unwrap()[0]
            .id;
        let retry = Attempt::Retry {
            due_ms: 100,
            error: "down".into(),
        };
        assert!(
            s.finish_delivery(raise, "a".into(), retry, 20)
                .await
                .unwrap()
        );
        s.clear_condition(
            "prod".into(),
            NotifyEvent::RunFailed,
            "run-1".into(),
            key.clone(),
            row(&key.replace(":raised", ":resolved")),
            30,
        )
        .await
        .unwrap();
        let claimed = s
            .claim_deliveries("a".into(), vec!["ops".into()], 100, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2, "the raise, then its resolved");
        let give_up = Attempt::GiveUp {
            error: "down".into(),
        };
        assert!(
            s.finish_delivery(raise, "a".into(), give_up, 110)
                .await
                .unwrap()
        );
        s.release_delivery(claimed[1].id, "a".into()).await.unwrap();
        let with_it = s.give_up_resolved_of(raise, 110).await.unwrap();
        assert_eq!(with_it.len(), 1, "{with_it:?}");
        assert_eq!(with_it[0].id, claimed[1].id);
        assert!(
            s.give_up_resolved_of(with_it[0].id, 120)
                .await
                .unwrap()
                .is_empty()
        );
        let (pending, _) = s.channel_deliveries("ops".into()).await.unwrap();
        assert_eq!(
            pending, 0,
            "the resolved of a raise given up would go out alone"
        );
    }

    #[tokio::test]
    async fn an_occurrence_is_queued_once_and_resolved_only_when_notified() {
        let s = store("once");
        let noted = s
            .note_condition(
                "prod".into(),
                NotifyEvent::RunFailed,
                "run-1".into(),
                "x".into(),
                10,
            )
            .await
            .unwrap();
        assert!(!noted.notified);
        let notify = || {
            s.notify_condition(
                "prod".into(),
                NotifyEvent::RunFailed,
                "run-1".into(),
                vec![row("k1")],
                10,
            )
        };
        assert!(notify().await.unwrap());
        // A second console (or a restart) finds it notified already.
        assert!(!notify().await.unwrap());
        let claimed = s
            .claim_deliveries("a".into(), vec!["ops".into()], 10, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        // Leased: another console takes nothing until the lease runs out.
        assert!(
            s.claim_deliveries("b".into(), vec!["ops".into()], 20, 1_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            !s.finish_delivery(claimed[0].id, "b".into(), Attempt::Delivered, 30)
                .await
                .unwrap()
        );
        assert!(
            s.finish_delivery(claimed[0].id, "a".into(), Attempt::Delivered, 30)
                .await
                .unwrap()
        );
        let (pending, last) = s.channel_deliveries("ops".into()).await.unwrap();
        assert_eq!(pending, 0);
        assert_eq!(last.unwrap().outcome, DeliveryOutcome::Delivered);

        // A condition never notified clears without a message.
        s.note_condition(
            "prod".into(),
            NotifyEvent::RpoBreached,
            "".into(),
            "x".into(),
            40,
        )
        .await
        .unwrap();
        assert!(
            s.clear_condition(
                "prod".into(),
                NotifyEvent::RpoBreached,
                "".into(),
                "k0".into(),
                row("k2"),
                50
            )
            .await
            .unwrap()
        );
        assert!(
            s.claim_deliveries("a".into(), vec!["ops".into()], 60, 1_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.clear_condition(
                "prod".into(),
                NotifyEvent::RunFailed,
                "run-1".into(),
                // `ops` was queued the raise `k1`: it gets the resolved.
                "k1".into(),
                row("k3"),
                50
            )
            .await
            .unwrap()
        );
        assert_eq!(
            s.claim_deliveries("a".into(), vec!["ops".into()], 60, 1_000, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
