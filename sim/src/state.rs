//! The simulated cluster's state. Asynchronous progress is not driven by timers: every artifact
//! records when it started and how long each piece takes, and its state is computed from the
//! current time when asked. That keeps the simulator deterministic, cheap with thousands of seeded
//! backups, and exact about the transient states the contract describes (§3.6, §5.3, §6).

use std::collections::BTreeMap;

use backup_domain::api::{SecondaryStorage, VersionProfile};
use backup_domain::naming;
use backup_domain::upstream_state::{ExporterPhase, SnapshotState, ZeebeState};

pub use super::component::SimComponent;
use super::faults::FaultBook;

/// Durations of the simulated work, all configurable (contract §10 "happy-path timings").
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Timings {
    /// After Zeebe's 202, how long a partition still reads DOES_NOT_EXIST (§3.6).
    pub zeebe_registration_ms: i64,
    /// How long the slowest partition uploads; partition p of P takes p/P of it.
    pub zeebe_backup_ms: i64,
    /// How long Zeebe's POST takes before answering 202 (every partition processes the checkpoint).
    pub zeebe_checkpoint_ms: i64,
    /// One web-apps snapshot part; parts run one at a time (§5.2).
    pub webapps_part_ms: i64,
    /// Pause between two web-apps parts, when the state can read INCOMPLETE (#33717).
    pub webapps_gap_ms: i64,
    /// One Optimize part; the two parts run back to back (§6).
    pub optimize_part_ms: i64,
    /// Gap between Optimize's parts, when it reads INCOMPLETE (§6: no grace period).
    pub optimize_gap_ms: i64,
    /// The records snapshot.
    pub records_snapshot_ms: i64,
    /// `incompleteCheckTimeout` of the web-apps service (§5.3), 5 minutes by default.
    pub incomplete_check_timeout_ms: i64,
    /// ES deletes of web-apps parts run after the 204 (§5.2).
    pub async_delete_ms: i64,
    /// How long a "hang" fault holds a request.
    pub hang_ms: i64,
    /// Time each list call takes, standing in for the component's own work (0 by default).
    pub zeebe_list_ms: i64,
    pub webapps_list_ms: i64,
    pub optimize_list_ms: i64,
    pub es_list_ms: i64,
    /// Time each DELETE takes, standing in for the component's own work (0 by default; a real
    /// Elasticsearch snapshot delete rewrites the repository's metadata).
    #[serde(default)]
    pub delete_ms: i64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            zeebe_registration_ms: 300,
            zeebe_backup_ms: 2_000,
            zeebe_checkpoint_ms: 30,
            webapps_part_ms: 400,
            webapps_gap_ms: 100,
            optimize_part_ms: 600,
            optimize_gap_ms: 150,
            records_snapshot_ms: 800,
            incomplete_check_timeout_ms: 300_000,
            async_delete_ms: 100,
            hang_ms: 600_000,
            zeebe_list_ms: 0,
            webapps_list_ms: 0,
            optimize_list_ms: 0,
            es_list_ms: 0,
            delete_ms: 0,
        }
    }
}

/// The `--timings` choice of `sim` and `demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimingsProfile {
    /// [`Timings::default`]: every backup in a few seconds, for trying the console out.
    Fast,
    /// [`Timings::realistic`]: tens of seconds to minutes, as on a production cluster.
    Realistic,
}

impl std::str::FromStr for TimingsProfile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "fast" => Ok(TimingsProfile::Fast),
            "realistic" => Ok(TimingsProfile::Realistic),
            other => Err(format!("`{other}`: use fast or realistic")),
        }
    }
}

impl Timings {
    /// The timings of `profile` with every duration multiplied by `scale` (hangs excepted).
    pub fn of(profile: TimingsProfile, scale: f64) -> Timings {
        match profile {
            TimingsProfile::Fast => Timings::default().scaled(scale),
            TimingsProfile::Realistic => Timings::realistic(scale),
        }
    }

    /// Every duration multiplied by `scale` (a non-positive or non-finite scale counts as 1),
    /// except `hang_ms`: a hang must outlast the caller's timeout whatever the scale.
    pub fn scaled(self, scale: f64) -> Timings {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let s = |ms: i64| {
            ((ms as f64) * scale)
                .round()
                .max(if ms > 0 { 1.0 } else { 0.0 }) as i64
        };
        Timings {
            zeebe_registration_ms: s(self.zeebe_registration_ms),
            zeebe_backup_ms: s(self.zeebe_backup_ms),
            zeebe_checkpoint_ms: s(self.zeebe_checkpoint_ms),
            webapps_part_ms: s(self.webapps_part_ms),
            webapps_gap_ms: s(self.webapps_gap_ms),
            optimize_part_ms: s(self.optimize_part_ms),
            optimize_gap_ms: s(self.optimize_gap_ms),
            records_snapshot_ms: s(self.records_snapshot_ms),
            incomplete_check_timeout_ms: s(self.incomplete_check_timeout_ms),
            async_delete_ms: s(self.async_delete_ms),
            hang_ms: self.hang_ms,
            zeebe_list_ms: s(self.zeebe_list_ms),
            webapps_list_ms: s(self.webapps_list_ms),
            optimize_list_ms: s(self.optimize_list_ms),
            es_list_ms: s(self.es_list_ms),
            delete_ms: s(self.delete_ms),
        }
    }

    /// Durations of the order a production cluster shows, multiplied by `scale` (1.0 is real
    /// time; CI uses 0.01 to 0.05): the records snapshot and each web-apps or Optimize part take
    /// tens of seconds, Zeebe's backup minutes, listings and deletes a second or two. Hangs stay
    /// long whatever the scale, so that a caller's timeout is what ends them.
    pub fn realistic(scale: f64) -> Timings {
        Timings {
            zeebe_registration_ms: 5_000,
            zeebe_backup_ms: 180_000,
            zeebe_checkpoint_ms: 1_000,
            webapps_part_ms: 20_000,
            webapps_gap_ms: 2_000,
            optimize_part_ms: 30_000,
            optimize_gap_ms: 3_000,
            records_snapshot_ms: 30_000,
            incomplete_check_timeout_ms: 300_000,
            async_delete_ms: 2_000,
            hang_ms: 600_000,
            zeebe_list_ms: 2_000,
            webapps_list_ms: 1_000,
            optimize_list_ms: 1_000,
            es_list_ms: 1_000,
            delete_ms: 1_000,
        }
        .scaled(scale)
    }
}

/// Simulated snapshot of the ES/OS repository, shared by web-apps, Optimize and the records backup.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    pub uuid: String,
    pub indices: Vec<String>,
    pub start_ms: i64,
    pub duration_ms: i64,
    /// The state it ends in.
    pub outcome: SnapshotState,
    pub failures: Vec<String>,
    pub meta: Option<PartMeta>,
    /// Set by a delete that has been accepted but not yet carried out (§5.2: after the 204).
    pub deleting_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
pub struct PartMeta {
    pub backup_id: u64,
    pub part_no: u32,
    pub part_count: u32,
}

impl Snapshot {
    pub fn visible(&self, now: i64) -> bool {
        now >= self.start_ms && self.deleting_at_ms.is_none_or(|t| now < t)
    }

    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.duration_ms
    }

    pub fn state(&self, now: i64) -> SnapshotState {
        if now < self.end_ms() {
            SnapshotState::InProgress
        } else {
            self.outcome
        }
    }
}

#[derive(Debug, Clone)]
pub struct PartitionBackup {
    pub partition_id: u32,
    pub broker_id: i32,
    pub registered_ms: i64,
    pub done_ms: i64,
    /// `None` completes; `Some(reason)` fails.
    pub failure: Option<String>,
    /// `true` for a partition that never registered the backup (an incomplete seeded backup).
    pub never_registered: bool,
    pub snapshot_id: String,
    pub checkpoint_position: i64,
}

impl PartitionBackup {
    pub fn state(&self, now: i64) -> ZeebeState {
        if self.never_registered || now < self.registered_ms {
            ZeebeState::DoesNotExist
        } else if now < self.done_ms {
            ZeebeState::InProgress
        } else if self.failure.is_some() {
            ZeebeState::Failed
        } else {
            ZeebeState::Completed
        }
    }
}

#[derive(Debug, Clone)]
pub struct ZeebeBackup {
    pub backup_id: u64,
    pub created_ms: i64,
    pub broker_version: String,
    pub partitions: Vec<PartitionBackup>,
    /// Who asked for it, as `backupRuntime/state` reports it (8.9, §3.7).
    pub checkpoint_type: CheckpointType,
}

/// `checkpointType` of `backupRuntime/state` (8.9, §3.7): a backup the scheduler took, or one
/// asked for over the API. (`MARKER` checkpoints take no backup and are not simulated.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckpointType {
    ManualBackup,
    ScheduledBackup,
}

/// Zeebe's own backup scheduler (8.9+, RDBMS only): generated IDs are epoch ms plus `offset`
/// (§3.2 "8.9 continuous backups"), and a take that names an ID is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeebeScheduler {
    pub interval_ms: i64,
    pub offset: u64,
}

/// The body of `GET /actuator/backupRuntime/state` (8.9, §3.7); the REST form serves it too.
/// `ranges[].start|end` are bare checkpoint IDs, as the spec and the code give them (§13.9).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointStateBody {
    pub checkpoint_states: Vec<PartitionCheckpoint>,
    pub backup_states: Vec<PartitionCheckpoint>,
    pub ranges: Vec<PartitionRange>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionCheckpoint {
    pub checkpoint_id: u64,
    pub checkpoint_type: CheckpointType,
    pub partition_id: u32,
    pub checkpoint_position: i64,
    pub checkpoint_timestamp: String,
    /// Only on `backupStates`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_log_position: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionRange {
    pub partition_id: u32,
    pub start: u64,
    pub end: u64,
    pub missing_checkpoints: Vec<u64>,
}

/// Which way the next backup of a component should end (fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Failed,
    /// A part ends PARTIAL (ES) or, for Zeebe, a partition never registers (INCOMPLETE).
    Partial,
}

/// How a web-apps component answers GET for an unknown backup (§5.1): fixed builds say 404,
/// Operate ≤8.7 before PR #43632 said 400, Tasklist 8.6 said 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotFoundStyle {
    Fixed404,
    Quirky,
}

pub struct SimState {
    pub profile: VersionProfile,
    pub camunda_version: String,
    pub optimize_version: String,
    pub partitions: u32,
    pub timings: Timings,
    pub not_found_style: NotFoundStyle,
    /// The repository that exists in ES; `None` simulates a missing repository.
    pub repository: Option<String>,
    /// Zeebe's backup store; `false` answers "No backup store is configured" (§3.8).
    pub zeebe_store_configured: bool,
    pub topology_complete: bool,
    /// Monotonic: never decreases, not even on delete (§2, §3.2).
    pub latest_checkpoint: u64,
    pub zeebe_backups: BTreeMap<u64, ZeebeBackup>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub exporter_phase: Vec<ExporterPhase>,
    /// Web-apps apps whose in-memory queue is stuck (#43104), per component.
    pub stuck_queue: Vec<SimComponent>,
    pub next_outcome: BTreeMap<SimComponent, Outcome>,
    pub faults: FaultBook,
    /// Listing calls served per component (Elasticsearch: every pattern read, by-ID ones too),
    /// so a test can count what the console asked for.
    pub list_calls: BTreeMap<SimComponent, u64>,
    /// `elasticsearch` or `rdbms` (8.9+): on RDBMS there is no history backup, no records
    /// snapshot and no Optimize (§9.1).
    pub secondary_storage: SecondaryStorage,
    /// Zeebe's own scheduler; `None` takes backups only when asked, with the caller's ID.
    pub zeebe_scheduler: Option<ZeebeScheduler>,
    uuid_counter: u64,
}

impl SimState {
    pub fn new(profile: VersionProfile, partitions: u32, timings: Timings) -> Self {
        let (camunda_version, optimize_version, not_found_style) = match profile {
            VersionProfile::V87 => ("8.7.2", "8.7.1", NotFoundStyle::Quirky),
            VersionProfile::V88 => ("8.8.3", "8.8.2", NotFoundStyle::Fixed404),
        };
        SimState {
            profile,
            camunda_version: camunda_version.into(),
            optimize_version: optimize_version.into(),
            partitions,
            timings,
            not_found_style,
            repository: Some("camunda".into()),
            zeebe_store_configured: true,
            topology_complete: true,
            latest_checkpoint: 0,
            zeebe_backups: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            exporter_phase: vec![ExporterPhase::Exporting; partitions as usize],
            stuck_queue: Vec::new(),
            next_outcome: BTreeMap::new(),
            faults: FaultBook::default(),
            list_calls: BTreeMap::new(),
            secondary_storage: SecondaryStorage::Elasticsearch,
            zeebe_scheduler: None,
            uuid_counter: 0,
        }
    }

    /// The minor of the simulated Camunda version (`8.9.1` → 9).
    pub fn minor(&self) -> u32 {
        backup_domain::api::minor_of(&self.camunda_version)
    }

    /// An RDBMS cluster of version 8.9 (the 8.8 API generation with 8.9's additions).
    pub fn use_rdbms(&mut self) {
        self.secondary_storage = SecondaryStorage::Rdbms;
        if self.minor() < 9 {
            self.camunda_version = "8.9.1".into();
            self.optimize_version = "8.9.0".into();
        }
    }

    /// The ID Zeebe generates at `now` (epoch ms plus the offset, §3.2), if its scheduler is on.
    pub fn generated_id(&self, now: i64) -> Option<u64> {
        self.zeebe_scheduler
            .map(|z| (now.max(0) as u64).saturating_add(z.offset))
    }

    /// What the scheduler does when it comes due: a backup with a generated ID, unless the clock
    /// has not passed the latest checkpoint (the ID would be refused). Returns the ID taken.
    pub fn take_scheduled_backup(&mut self, now: i64) -> Option<u64> {
        let id = self.generated_id(now)?;
        if id <= self.latest_checkpoint {
            return None;
        }
        let outcome = self.take_outcome(SimComponent::Zeebe);
        self.add_zeebe_backup_of(id, now, outcome, CheckpointType::ScheduledBackup);
        Some(id)
    }

    /// `backupRuntime/state` at `now`: per partition the latest checkpoint, the latest backup
    /// completed on it, and the range of completed backups with the failed ones inside it missing.
    pub fn checkpoint_state(&self, now: i64) -> CheckpointStateBody {
        let mut body = CheckpointStateBody {
            checkpoint_states: Vec::new(),
            backup_states: Vec::new(),
            ranges: Vec::new(),
        };
        for partition_id in 1..=self.partitions.max(1) {
            let on_partition = || {
                self.zeebe_backups.values().filter_map(move |b| {
                    b.partitions
                        .iter()
                        .find(|p| p.partition_id == partition_id)
                        .map(|p| (b, p))
                })
            };
            let entry =
                |b: &ZeebeBackup, p: &PartitionBackup, first: Option<i64>| PartitionCheckpoint {
                    checkpoint_id: b.backup_id,
                    checkpoint_type: b.checkpoint_type,
                    partition_id,
                    checkpoint_position: p.checkpoint_position,
                    checkpoint_timestamp: chrono::DateTime::from_timestamp_millis(p.registered_ms)
                        .unwrap_or_default()
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    first_log_position: first,
                };
            if let Some((b, p)) =
                on_partition().rfind(|(_, p)| p.state(now) != ZeebeState::DoesNotExist)
            {
                body.checkpoint_states.push(entry(b, p, None));
            }
            let completed: Vec<(&ZeebeBackup, &PartitionBackup)> = on_partition()
                .filter(|(_, p)| p.state(now) == ZeebeState::Completed)
                .collect();
            if let Some((b, p)) = completed.last() {
                body.backup_states
                    .push(entry(b, p, Some((p.checkpoint_position - 100).max(1))));
            }
            if let (Some((first, _)), Some((last, _))) = (completed.first(), completed.last()) {
                let missing = on_partition()
                    .filter(|(b, p)| {
                        b.backup_id > first.backup_id
                            && b.backup_id < last.backup_id
                            && p.state(now) == ZeebeState::Failed
                    })
                    .map(|(b, _)| b.backup_id)
                    .collect();
                body.ranges.push(PartitionRange {
                    partition_id,
                    start: first.backup_id,
                    end: last.backup_id,
                    missing_checkpoints: missing,
                });
            }
        }
        body
    }

    pub fn next_uuid(&mut self) -> String {
        self.uuid_counter += 1;
        format!(
            "sim-{:016x}",
            self.uuid_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
    }

    /// Web-apps parts per backup: 6 for 8.7 Operate/Tasklist (§5.1), 5 for 8.8 (§5.2).
    pub fn webapps_part_count(&self, component: SimComponent) -> u32 {
        if component == SimComponent::Webapps {
            5
        } else {
            6
        }
    }

    pub fn version_of(&self, component: SimComponent) -> &str {
        if component == SimComponent::Optimize {
            &self.optimize_version
        } else {
            &self.camunda_version
        }
    }

    pub fn take_outcome(&mut self, component: SimComponent) -> Outcome {
        self.next_outcome
            .remove(&component)
            .unwrap_or(Outcome::Completed)
    }

    /// Visible snapshots whose name starts with `prefix`, in name order.
    pub fn snapshots_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
        now: i64,
    ) -> impl Iterator<Item = &'a Snapshot> + 'a {
        self.snapshots
            .range(prefix.to_string()..)
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(_, s)| s)
            .filter(move |s| s.visible(now))
    }

    /// Drops snapshots whose accepted delete has come due.
    pub fn reap(&mut self, now: i64) {
        self.snapshots
            .retain(|_, s| s.deleting_at_ms.is_none_or(|t| now < t));
    }

    /// Creates Zeebe's per-partition records for a new backup. Partition p of P finishes after p/P
    /// of the backup time, so progress ("2 of 3") is visible.
    pub fn add_zeebe_backup(&mut self, backup_id: u64, start_ms: i64, outcome: Outcome) {
        self.add_zeebe_backup_of(backup_id, start_ms, outcome, CheckpointType::ManualBackup);
    }

    /// [`Self::add_zeebe_backup`] with the checkpoint type `backupRuntime/state` reports.
    pub fn add_zeebe_backup_of(
        &mut self,
        backup_id: u64,
        start_ms: i64,
        outcome: Outcome,
        checkpoint_type: CheckpointType,
    ) {
        let t = self.timings;
        let parts = self.partitions.max(1);
        let partitions = (1..=parts)
            .map(|p| {
                let registered_ms = start_ms + t.zeebe_registration_ms;
                let done_ms = registered_ms + t.zeebe_backup_ms * i64::from(p) / i64::from(parts);
                PartitionBackup {
                    partition_id: p,
                    broker_id: (p as i32 - 1) % 3,
                    registered_ms,
                    done_ms,
                    failure: (outcome == Outcome::Failed && p == 1)
                        .then(|| "Backup is cancelled due to leader change.".to_string()),
                    never_registered: outcome == Outcome::Partial && p == parts,
                    snapshot_id: format!("{}-1-{}-{}", 40 + p, backup_id % 100_000, p * 7),
                    checkpoint_position: (backup_id % 1_000_000) as i64 * 10 + i64::from(p),
                }
            })
            .collect();
        self.zeebe_backups.insert(
            backup_id,
            ZeebeBackup {
                backup_id,
                created_ms: start_ms,
                broker_version: self.camunda_version.clone(),
                partitions,
                checkpoint_type,
            },
        );
        self.latest_checkpoint = self.latest_checkpoint.max(backup_id);
    }

    /// Queues the parts of a web-apps or Optimize backup, one after the other, and returns their
    /// names. A `Failed`/`Partial` outcome applies to the second part.
    pub fn add_parts(
        &mut self,
        component: SimComponent,
        backup_id: u64,
        start_ms: i64,
        outcome: Outcome,
    ) -> Vec<String> {
        let t = self.timings;
        let (count, part_ms, gap_ms) = if component == SimComponent::Optimize {
            (2, t.optimize_part_ms, t.optimize_gap_ms)
        } else {
            (
                self.webapps_part_count(component),
                t.webapps_part_ms,
                t.webapps_gap_ms,
            )
        };
        let version = self.version_of(component).to_string();
        let mut names = Vec::new();
        for part in 1..=count {
            let name = naming::part_name(
                component.snapshot_prefix(),
                backup_id,
                &version,
                part,
                count,
            );
            let part_outcome = match (outcome, part) {
                (Outcome::Failed, 2) => SnapshotState::Failed,
                (Outcome::Partial, 2) => SnapshotState::Partial,
                _ => SnapshotState::Success,
            };
            let failures = match part_outcome {
                SnapshotState::Success => Vec::new(),
                _ => vec![format!(
                    "[{}-2024.01.01][0] IndexShardSnapshotFailedException[shard failed on node sim-es-0]",
                    component.snapshot_prefix().trim_end_matches('_')
                )],
            };
            let uuid = self.next_uuid();
            self.snapshots.insert(
                name.clone(),
                Snapshot {
                    name: name.clone(),
                    uuid,
                    indices: vec![format!("{}-part{part}", component.snapshot_prefix())],
                    start_ms: start_ms + i64::from(part - 1) * (part_ms + gap_ms),
                    duration_ms: part_ms,
                    outcome: part_outcome,
                    failures,
                    meta: Some(PartMeta {
                        backup_id,
                        part_no: part,
                        part_count: count,
                    }),
                    deleting_at_ms: None,
                },
            );
            names.push(name);
        }
        names
    }

    pub fn add_records_snapshot(
        &mut self,
        name: &str,
        start_ms: i64,
        indices: &str,
        outcome: Outcome,
    ) {
        let uuid = self.next_uuid();
        let outcome = match outcome {
            Outcome::Completed => SnapshotState::Success,
            Outcome::Failed => SnapshotState::Failed,
            Outcome::Partial => SnapshotState::Partial,
        };
        self.snapshots.insert(
            name.to_string(),
            Snapshot {
                name: name.to_string(),
                uuid,
                indices: vec![
                    format!(
                        "{}_process_{}",
                        indices.trim_end_matches('*'),
                        self.camunda_version
                    ),
                    format!(
                        "{}_job_{}",
                        indices.trim_end_matches('*'),
                        self.camunda_version
                    ),
                ],
                start_ms,
                duration_ms: self.timings.records_snapshot_ms,
                outcome,
                failures: if outcome == SnapshotState::Success {
                    Vec::new()
                } else {
                    vec!["[zeebe-record_job][1] shard snapshot failed".into()]
                },
                meta: None,
                deleting_at_ms: None,
            },
        );
    }

    /// True while a web-apps component's queue still holds unfinished parts (§5.3 step 3).
    pub fn webapps_busy(&self, component: SimComponent, now: i64) -> bool {
        self.stuck_queue.contains(&component)
            || self
                .snapshots
                .range(component.snapshot_prefix().to_string()..)
                .take_while(|(name, _)| name.starts_with(component.snapshot_prefix()))
                .any(|(_, s)| s.deleting_at_ms.is_none() && now < s.end_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeebe_partitions_move_through_their_states_in_time() {
        let mut s = SimState::new(VersionProfile::V87, 3, Timings::default());
        s.add_zeebe_backup(100, 1_000, Outcome::Completed);
        let b = &s.zeebe_backups[&100];
        let states = |now| {
            b.partitions
                .iter()
                .map(|p| p.state(now))
                .collect::<Vec<_>>()
        };
        assert_eq!(states(1_100), vec![ZeebeState::DoesNotExist; 3]);
        // 300 ms registration, then partition p of 3 finishes after p/3 of 2 s.
        assert_eq!(
            states(2_000),
            vec![
                ZeebeState::Completed,
                ZeebeState::InProgress,
                ZeebeState::InProgress
            ]
        );
        assert_eq!(states(3_300), vec![ZeebeState::Completed; 3]);
        assert_eq!(s.latest_checkpoint, 100);
    }

    #[test]
    fn checkpoint_state_reports_the_latest_backup_and_its_type_per_partition() {
        let mut s = SimState::new(VersionProfile::V88, 2, Timings::default());
        s.use_rdbms();
        assert_eq!(s.minor(), 9);
        assert_eq!(s.generated_id(5), None, "no scheduler, no generated IDs");
        s.zeebe_scheduler = Some(ZeebeScheduler {
            interval_ms: 60_000,
            offset: 7,
        });
        s.add_zeebe_backup(100, 0, Outcome::Completed);
        s.add_zeebe_backup(200, 0, Outcome::Failed);
        assert_eq!(s.take_scheduled_backup(1_000), Some(1_007));
        assert_eq!(s.take_scheduled_backup(500), None, "below the latest ID");
        let state = s.checkpoint_state(10_000);
        assert_eq!(state.backup_states.len(), 2);
        assert!(state.backup_states.iter().all(|b| b.checkpoint_id == 1_007
            && b.checkpoint_type == CheckpointType::ScheduledBackup
            && b.first_log_position.is_some()));
        // Partition 1 failed backup 200: it is missing inside 100..1007; partition 2 has it.
        assert_eq!(state.ranges[0].start, 100);
        assert_eq!(state.ranges[0].end, 1_007);
        assert_eq!(state.ranges[0].missing_checkpoints, vec![200]);
        assert!(state.ranges[1].missing_checkpoints.is_empty());
        // Before anything registered there is nothing to report.
        assert!(s.checkpoint_state(-10_000).backup_states.is_empty());
    }

    #[test]
    fn realistic_timings_scale() {
        let real = Timings::realistic(1.0);
        assert_eq!(real.records_snapshot_ms, 30_000);
        assert_eq!(real.zeebe_backup_ms, 180_000);
        let ci = Timings::realistic(0.01);
        assert_eq!(ci.records_snapshot_ms, 300);
        assert_eq!(ci.zeebe_backup_ms, 1_800);
        assert_eq!(ci.hang_ms, real.hang_ms, "hangs are not shortened");
        assert_eq!(Timings::realistic(-3.0).records_snapshot_ms, 30_000);
        assert_eq!(
            Timings::of("fast".parse().unwrap(), 2.0).records_snapshot_ms,
            1_600
        );
        assert_eq!(Timings::of(TimingsProfile::Fast, 1.0).zeebe_list_ms, 0);
        assert!("slow".parse::<TimingsProfile>().is_err());
    }

    #[test]
    fn parts_run_one_after_another() {
        let mut s = SimState::new(VersionProfile::V88, 3, Timings::default());
        let names = s.add_parts(SimComponent::Webapps, 7, 0, Outcome::Completed);
        assert_eq!(names.len(), 5);
        assert_eq!(names[0], "camunda_webapps_7_8.8.3_part_1_of_5");
        // At 450 ms part 1 is done, part 2 has not started (gap): only one visible.
        assert_eq!(
            s.snapshots_with_prefix("camunda_webapps_7_", 450).count(),
            1
        );
        assert_eq!(
            s.snapshots_with_prefix("camunda_webapps_7_", 550).count(),
            2
        );
        assert!(s.webapps_busy(SimComponent::Webapps, 550));
        assert!(!s.webapps_busy(SimComponent::Webapps, 10_000));
    }
}
