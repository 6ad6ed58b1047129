//! Retention: which backup sets a policy deletes, which it keeps, and why. [`plan`] is the one
//! function both sides use: the browser computes the preview with it, the server recomputes it on
//! fresh data before deleting anything and refuses when the two differ.
//!
//! Deleting a set means deleting its ID in every component that holds it (contract §8.1 step 5):
//! the Zeebe backup, the Operate and Tasklist (or 8.8 web apps) snapshots, the Optimize snapshots
//! and the records snapshot.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::backup_set::{BackupSet, Component, ComponentState, Verdict};

const DAY_MS: i64 = 86_400_000;

/// A cluster's retention policy. Rules that keep win: a restorable set is deleted only when every
/// configured rule lets it go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Keep the N newest restorable sets; `None`: no count limit.
    #[serde(default)]
    pub keep_last: Option<u32>,
    /// Sets older than this many days may go; `None`: no age limit.
    #[serde(default)]
    pub max_age_days: Option<u32>,
    /// Always keep at least this many restorable sets; 1 at the least, whatever is configured.
    pub min_restorable: u32,
    /// Keep this many of the newest failed or incomplete sets, for diagnosis.
    pub keep_failed: u32,
    /// When to run the cleanup by itself: a five-field cron expression in UTC; `None`: never.
    #[serde(default)]
    pub schedule: Option<String>,
}

impl Default for RetentionPolicy {
    /// Conservative: two weeks of daily backups, a floor of 3, the last 3 failures kept, no schedule.
    fn default() -> Self {
        RetentionPolicy {
            keep_last: Some(14),
            max_age_days: None,
            min_restorable: 3,
            keep_failed: 3,
            schedule: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

impl RetentionPolicy {
    /// The floor actually applied: the newest restorable set is never deleted.
    pub fn floor(&self) -> u32 {
        self.min_restorable.max(1)
    }

    /// Refuses a policy that cannot mean what the administrator wants.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let err = |field: &str, message: &str| {
            Err(PolicyError {
                field: field.into(),
                message: message.into(),
            })
        };
        if self.min_restorable < 1 {
            return err(
                "min_restorable",
                "at least 1: the newest restorable set is always kept",
            );
        }
        if self.keep_last == Some(0) {
            return err(
                "keep_last",
                "0 would keep no restorable set by count; leave it empty for no count limit",
            );
        }
        if self.max_age_days == Some(0) {
            return err(
                "max_age_days",
                "0 days would let every set go at once; leave it empty for no age limit",
            );
        }
        if let Some(expr) = &self.schedule
            && let Err(e) = crate::cron::Schedule::parse(expr)
        {
            return err("schedule", &e.to_string());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Keep,
    Delete,
}

/// What the plan does with one set, and why, in words an administrator reads in the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDecision {
    pub backup_id: u64,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    pub decision: Decision,
    pub reason: String,
    /// A rule forbids deleting it at all (pinned, running, the newest restorable set...), so it
    /// cannot be selected by hand either.
    pub protected: bool,
    /// Some component lacks this ID while another holds it.
    pub orphan: bool,
}

/// Every set of the history, newest first, each kept or deleted with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPlan {
    pub decisions: Vec<SetDecision>,
}

impl RetentionPlan {
    pub fn to_delete(&self) -> Vec<u64> {
        self.decisions
            .iter()
            .filter(|d| d.decision == Decision::Delete)
            .map(|d| d.backup_id)
            .collect()
    }

    /// Orphans the plan keeps and no rule protects: the preview offers them for deletion.
    pub fn selectable_orphans(&self) -> Vec<u64> {
        self.decisions
            .iter()
            .filter(|d| d.orphan && d.decision == Decision::Keep && !d.protected)
            .map(|d| d.backup_id)
            .collect()
    }

    pub fn decision(&self, backup_id: u64) -> Option<&SetDecision> {
        self.decisions.iter().find(|d| d.backup_id == backup_id)
    }
}

/// What else the planner must know besides the sets: pins and the backup running now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    pub pinned: BTreeSet<u64>,
    /// The ID of the backup a run is taking right now, if any.
    #[serde(default)]
    pub running: Option<u64>,
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The plan for `sets` under `policy` at `now_ms`. Pure: the same input gives the same plan.
///
/// Never deleted: a pinned set, a set in progress or of the running backup, a set whose state is
/// unknown (a component did not answer), the newest restorable set, the newest partially
/// restorable set when it is newer, enough restorable sets to hold the floor, and enough
/// restorable and partially restorable sets together to hold it again. Partially restorable sets
/// follow the count and age rules of restorable ones, never the rule for failed sets. An orphaned
/// set (Zeebe has nothing under its ID) is kept unless an administrator ticks it.
pub fn plan(
    sets: &[BackupSet],
    policy: &RetentionPolicy,
    protections: &Protections,
    now_ms: i64,
) -> RetentionPlan {
    let mut sorted: Vec<&BackupSet> = sets.iter().collect();
    // Newest first; of two copies of one ID the more cautious reading is kept, whatever the
    // input order (merged listings never hold copies, but the planner does not rely on it).
    sorted.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.backup_id),
            caution(s.verdict),
            s.started_at_ms,
        )
    });
    sorted.dedup_by_key(|s| s.backup_id);
    let newest_restorable = sorted
        .iter()
        .find(|s| s.verdict == Verdict::Restorable)
        .map(|s| s.backup_id);
    let newest_partial = sorted
        .iter()
        .find(|s| s.is_recoverable())
        .filter(|s| s.verdict == Verdict::RestorablePartial)
        .map(|s| s.backup_id);
    let (mut restorable_rank, mut failed_rank) = (0u32, 0u32);
    let mut decisions: Vec<SetDecision> = sorted
        .iter()
        .map(|set| {
            let id = set.backup_id;
            let orphan = set.verdict == Verdict::NotRestorable && set.is_orphan();
            let keep = |reason: String, protected: bool| (Decision::Keep, reason, protected);
            let (decision, reason, protected) = if protections.running == Some(id) {
                keep("the backup being taken right now".into(), true)
            } else if set.verdict == Verdict::InProgress {
                keep("still in progress".into(), true)
            } else if protections.pinned.contains(&id) {
                keep("pinned".into(), true)
            } else if set.verdict == Verdict::Unknown {
                keep(
                    "a component did not answer: its state is unknown, so it is never deleted"
                        .into(),
                    true,
                )
            } else if newest_restorable == Some(id) {
                restorable_rank += 1;
                keep("the newest restorable set".into(), true)
            } else if newest_partial == Some(id) {
                restorable_rank += 1;
                keep("the newest partially restorable set".into(), true)
            } else if set.is_recoverable() {
                let rank = restorable_rank;
                restorable_rank += 1;
                restorable_decision(set, rank, policy, now_ms)
            } else if orphan {
                let missing: Vec<&str> = set.missing().into_iter().map(Component::label).collect();
                keep(
                    format!(
                        "orphaned: {} {} nothing under this ID; deleted only when you tick it",
                        missing.join(", "),
                        if missing.len() == 1 { "has" } else { "have" }
                    ),
                    false,
                )
            } else {
                let rank = failed_rank;
                failed_rank += 1;
                if rank < policy.keep_failed {
                    let reason = if policy.keep_failed == 1 {
                        "the newest failed or incomplete set, kept for diagnosis".to_string()
                    } else {
                        format!(
                            "among the {} newest failed or incomplete sets, kept for diagnosis",
                            policy.keep_failed
                        )
                    };
                    keep(reason, false)
                } else {
                    (
                        Decision::Delete,
                        match policy.keep_failed {
                            0 => "not restorable, and the policy keeps no failed set".to_string(),
                            k => format!(
                                "not restorable, and older than the {} kept for diagnosis",
                                plural(k, "newest failed set", "newest failed sets")
                            ),
                        },
                        false,
                    )
                }
            };
            SetDecision {
                backup_id: id,
                verdict: set.verdict,
                started_at_ms: set.started_at_ms,
                decision,
                reason,
                protected,
                orphan,
            }
        })
        .collect();

    // The floors: sets the rules would delete are kept again, newest first. First of fully
    // restorable sets (today's guarantee), then of restorable and partial ones together.
    let floor = policy.floor();
    hold_floor(
        &mut decisions,
        floor,
        |v| v == Verdict::Restorable,
        || {
            format!(
                "kept to hold the floor of {}",
                plural(floor, "restorable set", "restorable sets")
            )
        },
    );
    hold_floor(&mut decisions, floor, is_recoverable, || {
        format!(
            "kept to hold the floor of {}, partially restorable ones included",
            plural(floor, "restorable set", "restorable sets")
        )
    });
    RetentionPlan { decisions }
}

/// The plan when no policy is configured: nothing is deleted by a rule. Protections are worked out
/// as under a policy without limits, so that a set picked by hand is refused for the same reasons.
pub fn plan_unconfigured(
    sets: &[BackupSet],
    protections: &Protections,
    now_ms: i64,
) -> RetentionPlan {
    let keep_everything = RetentionPolicy {
        keep_last: None,
        max_age_days: None,
        keep_failed: u32::MAX,
        ..RetentionPolicy::default()
    };
    let mut plan = plan(sets, &keep_everything, protections, now_ms);
    for d in plan
        .decisions
        .iter_mut()
        .filter(|d| !d.protected && !d.orphan)
    {
        d.reason = "no retention policy is configured: nothing is deleted".into();
    }
    plan
}

/// How much a verdict keeps a set from being deleted, most first.
fn caution(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::InProgress => 0,
        Verdict::Unknown => 1,
        Verdict::Restorable => 2,
        Verdict::RestorablePartial => 3,
        Verdict::NotRestorable => 4,
    }
}

/// Fully or partially restorable.
fn is_recoverable(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Restorable | Verdict::RestorablePartial)
}

/// Turns deletions of sets `counts` back into protected keeps, newest first, until `floor` of
/// them are kept (or none is left to keep).
fn hold_floor(
    decisions: &mut [SetDecision],
    floor: u32,
    counts: impl Fn(Verdict) -> bool,
    reason: impl Fn() -> String,
) {
    let mut kept = decisions
        .iter()
        .filter(|d| counts(d.verdict) && d.decision == Decision::Keep)
        .count();
    for d in decisions.iter_mut() {
        if kept >= floor as usize {
            break;
        }
        if counts(d.verdict) && d.decision == Decision::Delete {
            d.decision = Decision::Keep;
            d.protected = true;
            d.reason = reason();
            kept += 1;
        }
    }
}

/// Why a cleanup nobody confirmed (the scheduler, or the CLI without `--allow-large`) must not
/// run on this plan; `None` when it may. An administrator confirming the preview sees the same
/// words as a warning.
///
/// Two signs that the history, not the backups, is wrong: a configured component holds none of
/// the IDs the others hold (just added, pointed at the wrong instance, or its repository lost),
/// or the plan deletes more than half of the deletable sets: those a rule may delete at all
/// (settled, neither pinned nor orphaned; sets in progress or unknown are never deleted anyway).
pub fn unattended_refusal(sets: &[BackupSet], plan: &RetentionPlan) -> Option<String> {
    component_holding_none(sets).or_else(|| most_deletable(plan))
}

/// A component that holds none of the IDs the others hold (a wrong store, a wrong bucket):
/// every set then looks orphaned or partial, so nothing may go, by a policy or by hand,
/// without an administrator having read why.
pub fn component_holding_none(sets: &[BackupSet]) -> Option<String> {
    let mut components: Vec<Component> = sets
        .iter()
        .flat_map(|s| s.components.iter().map(|c| c.component))
        .collect();
    components.sort();
    components.dedup();
    for component in components {
        // The sets some other component holds and this one is expected in.
        let others_hold: Vec<&BackupSet> = sets
            .iter()
            .filter(|s| {
                s.component(component)
                    .is_some_and(|c| c.state != ComponentState::NotExpected)
                    && s.components
                        .iter()
                        .any(|c| c.component != component && c.holds())
            })
            .collect();
        let missing_from_all = !others_hold.is_empty()
            && others_hold.iter().all(|s| {
                s.component(component)
                    .is_some_and(|c| c.state == ComponentState::Missing)
            });
        if missing_from_all {
            return Some(format!(
                "{} holds none of the {} backups the other components hold: check its \
                 configuration, or set since_backup_id on it if it was added later",
                component.label(),
                others_hold.len()
            ));
        }
    }
    None
}

/// A plan deleting more than half of the sets it could delete.
fn most_deletable(plan: &RetentionPlan) -> Option<String> {
    let deleting = plan.to_delete().len();
    let deletable = plan
        .decisions
        .iter()
        .filter(|d| !matches!(d.verdict, Verdict::InProgress | Verdict::Unknown))
        .filter(|d| !d.orphan && d.reason != "pinned")
        .count();
    if deleting > 0 && deleting * 2 > deletable {
        return Some(format!(
            "it would delete {deleting} of {deletable} deletable backup sets, more than half of them"
        ));
    }
    None
}

fn restorable_decision(
    set: &BackupSet,
    rank: u32,
    policy: &RetentionPolicy,
    now_ms: i64,
) -> (Decision, String, bool) {
    if policy.keep_last.is_none() && policy.max_age_days.is_none() {
        return (
            Decision::Keep,
            "the policy sets no count or age limit".into(),
            false,
        );
    }
    if let Some(n) = policy.keep_last
        && rank < n
    {
        return (
            Decision::Keep,
            format!("among the {n} newest restorable sets"),
            false,
        );
    }
    let age_ms = set.started_at_ms.map(|t| now_ms.saturating_sub(t));
    if let Some(days) = policy.max_age_days {
        match age_ms {
            Some(age) if age > i64::from(days) * DAY_MS => {}
            Some(_) => {
                return (
                    Decision::Keep,
                    format!("younger than {}", plural(days, "day", "days")),
                    false,
                );
            }
            // Without a start time its age cannot be shown to be over the limit.
            None => {
                return (
                    Decision::Keep,
                    "its age is unknown (no component reported a start time)".into(),
                    false,
                );
            }
        }
    }
    let mut why = Vec::new();
    if let Some(n) = policy.keep_last {
        why.push(if n == 1 {
            "not the newest restorable set".to_string()
        } else {
            format!("older than the {n} newest restorable sets")
        });
    }
    if let Some(days) = policy.max_age_days {
        why.push(format!("older than {}", plural(days, "day", "days")));
    }
    (Decision::Delete, why.join(", and "), false)
}

/// Why the sets picked by hand (orphans from the preview, one set from the history) may not be
/// deleted, one line per refused set; empty when all may go. The plan's own deletions are counted
/// too, so that the floor holds over both together.
pub fn refuse_selection(plan: &RetentionPlan, selected: &[u64], floor: u32) -> Vec<(u64, String)> {
    let mut refused = Vec::new();
    let chosen: BTreeSet<u64> = selected.iter().copied().collect();
    for &id in &chosen {
        match plan.decision(id) {
            None => refused.push((id, "no such backup set".to_string())),
            Some(d) if d.protected => refused.push((id, format!("protected: {}", d.reason))),
            Some(_) => {}
        }
    }
    let floor_of =
        |counts: &dyn Fn(Verdict) -> bool, label: &str, refused: &mut Vec<(u64, String)>| {
            let remaining = plan
                .decisions
                .iter()
                .filter(|d| counts(d.verdict))
                .filter(|d| d.decision == Decision::Keep && !chosen.contains(&d.backup_id))
                .count();
            if remaining >= floor as usize {
                return;
            }
            for &id in &chosen {
                if plan
                    .decision(id)
                    .is_some_and(|d| counts(d.verdict) && !d.protected)
                    && !refused.iter().any(|(r, _)| *r == id)
                {
                    refused.push((
                        id,
                        format!(
                            "deleting it would leave fewer than {}",
                            plural(floor, label, label)
                        ),
                    ));
                }
            }
        };
    floor_of(
        &|v| v == Verdict::Restorable,
        "restorable sets",
        &mut refused,
    );
    floor_of(
        &is_recoverable,
        "restorable sets, partial ones included",
        &mut refused,
    );
    refused
}

/// How the administrator's confirmed list and a fresh plan differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDifference {
    /// The fresh plan deletes these, the confirmed one did not.
    pub added: Vec<u64>,
    /// The confirmed plan deleted these, the fresh one keeps them (or they are gone).
    pub removed: Vec<u64>,
}

impl PlanDifference {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

pub fn difference(confirmed: &[u64], fresh: &RetentionPlan) -> PlanDifference {
    let confirmed: BTreeSet<u64> = confirmed.iter().copied().collect();
    let fresh: BTreeSet<u64> = fresh.to_delete().into_iter().collect();
    PlanDifference {
        added: fresh.difference(&confirmed).copied().collect(),
        removed: confirmed.difference(&fresh).copied().collect(),
    }
}

/// One thing to delete: an ID in one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub backup_id: u64,
    pub component: Component,
    /// What it is, as the preview shows it: "3 partitions", "6 snapshots", the snapshot's name.
    pub description: String,
}

/// Every artifact of `set`: one per component that holds its ID.
pub fn artifacts(set: &BackupSet) -> Vec<Artifact> {
    set.components
        .iter()
        .filter(|c| c.holds())
        .map(|c| {
            let count = c.progress.map(|p| p.total);
            let description = match (c.component, count) {
                (Component::RecordsSnapshot, _) => {
                    crate::naming::records_snapshot_name(set.backup_id)
                }
                (Component::Zeebe, Some(n)) => format!("backup {}, {n} partitions", set.backup_id),
                (Component::Zeebe, None) => format!("backup {}", set.backup_id),
                (_, Some(n)) => format!("{n} snapshots of backup {}", set.backup_id),
                (_, None) => format!("the snapshots of backup {}", set.backup_id),
            };
            Artifact {
                backup_id: set.backup_id,
                component: c.component,
                description,
            }
        })
        .collect()
}

/// Where the policy in force comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PolicySource {
    /// Nothing configured: nothing is deleted by a rule; [`RetentionPolicy::default`] is only
    /// offered as a starting point to review and save.
    Default,
    /// `[clusters.retention]` of the configuration file.
    ConfigFile,
    /// Saved from the console by an admin; it overrides the file.
    Saved { by: String, at_ms: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub backup_id: u64,
    pub pinned_by: String,
    pub pinned_ms: i64,
}

/// `GET /api/clusters/{name}/retention`: everything the preview needs besides the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionState {
    pub policy: RetentionPolicy,
    pub source: PolicySource,
    pub pins: Vec<Pin>,
    /// The backup a run is taking right now: never deleted.
    #[serde(default)]
    pub running_backup_id: Option<u64>,
    #[serde(default)]
    pub last_cleanup: Option<CleanupView>,
    /// When the schedule fires next, if there is one.
    #[serde(default)]
    pub next_scheduled_ms: Option<i64>,
    /// Who confirmed the policy in force in this console's database; a schedule fires only once
    /// someone has (a policy saved from the console counts as confirmed).
    #[serde(default)]
    pub confirmed: Option<PolicyConfirmation>,
    /// Why the last scheduled cleanup refused to run, if it did.
    #[serde(default)]
    pub schedule_refusal: Option<ScheduleRefusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyConfirmation {
    pub policy: RetentionPolicy,
    pub by: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRefusal {
    pub at_ms: i64,
    pub reason: String,
}

impl RetentionState {
    /// A policy is in force: saved, or in the configuration file.
    pub fn is_configured(&self) -> bool {
        self.source != PolicySource::Default
    }

    /// Whether the schedule may fire: the policy in force is the one confirmed here.
    pub fn is_confirmed(&self) -> bool {
        matches!(self.source, PolicySource::Saved { .. })
            || self
                .confirmed
                .as_ref()
                .is_some_and(|c| c.policy == self.policy)
    }

    /// The plan of the policy in force: none configured, nothing planned.
    pub fn plan(&self, sets: &[BackupSet], now_ms: i64) -> RetentionPlan {
        if self.is_configured() {
            plan(sets, &self.policy, &self.protections(), now_ms)
        } else {
            plan_unconfigured(sets, &self.protections(), now_ms)
        }
    }
}

impl RetentionState {
    pub fn protections(&self) -> Protections {
        Protections {
            pinned: self.pins.iter().map(|p| p.backup_id).collect(),
            running: self.running_backup_id,
        }
    }
}

/// `POST /api/clusters/{name}/cleanups`: what the administrator confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRequest {
    /// The sets the previewed plan deletes; the server's fresh plan must delete exactly these.
    #[serde(default)]
    pub delete: Vec<u64>,
    /// Sets picked by hand: orphans from the preview, or one set from the history.
    #[serde(default)]
    pub selected: Vec<u64>,
    /// The number of sets typed to confirm: must equal the number of sets deleted.
    pub confirm: usize,
    /// The administrator saw the plan's warning ([`unattended_refusal`]) and deletes anyway.
    #[serde(default)]
    pub acknowledge_warning: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactState {
    Pending,
    Deleted,
    /// The component no longer had it (404): as good as deleted.
    AlreadyGone,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactResult {
    pub artifact: Artifact,
    pub state: ArtifactState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupOutcome {
    Running,
    /// Every artifact is gone.
    Completed,
    /// Some artifacts could not be deleted; "retry failed" tries those again.
    Partial,
    /// The console stopped before the cleanup ended; what is left can be retried.
    Interrupted,
}

impl CleanupOutcome {
    pub fn state_name(self) -> &'static str {
        match self {
            CleanupOutcome::Running => "running",
            CleanupOutcome::Completed => "completed",
            CleanupOutcome::Partial => "partial",
            CleanupOutcome::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    pub sets: Vec<u64>,
    pub items: Vec<ArtifactResult>,
    pub outcome: CleanupOutcome,
}

impl CleanupReport {
    pub fn new(sets: Vec<u64>, artifacts: Vec<Artifact>) -> Self {
        CleanupReport {
            sets,
            items: artifacts
                .into_iter()
                .map(|artifact| ArtifactResult {
                    artifact,
                    state: ArtifactState::Pending,
                    error: None,
                })
                .collect(),
            outcome: CleanupOutcome::Running,
        }
    }

    pub fn count(&self, state: ArtifactState) -> usize {
        self.items.iter().filter(|i| i.state == state).count()
    }

    pub fn failed(&self) -> Vec<&ArtifactResult> {
        self.items
            .iter()
            .filter(|i| i.state == ArtifactState::Failed)
            .collect()
    }

    /// The outcome once no artifact is pending.
    pub fn settle(&mut self) {
        self.outcome = if self.items.iter().any(|i| i.state == ArtifactState::Failed) {
            CleanupOutcome::Partial
        } else {
            CleanupOutcome::Completed
        };
    }
}

/// A cleanup as `GET /api/cleanups/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupView {
    pub id: i64,
    pub cluster: String,
    pub started_by: String,
    pub started_ms: i64,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    pub report: CleanupReport,
}

/// `POST /api/clusters/{name}/cleanups` answers 202 with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupStarted {
    pub cleanup_id: i64,
    pub sets: usize,
    pub artifacts: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup_set::ComponentBackup;

    const NOW: i64 = 1_800_000_000_000;

    fn set(id: u64, verdict: Verdict, age_days: i64) -> BackupSet {
        BackupSet {
            backup_id: id,
            started_at_ms: Some(NOW - age_days * DAY_MS),
            verdict,
            reasons: Vec::new(),
            notes: Vec::new(),
            components: vec![ComponentBackup::new(
                Component::Zeebe,
                ComponentState::Completed,
            )],
            trigger: None,
        }
    }

    fn policy(
        keep_last: Option<u32>,
        max_age_days: Option<u32>,
        min: u32,
        failed: u32,
    ) -> RetentionPolicy {
        RetentionPolicy {
            keep_last,
            max_age_days,
            min_restorable: min,
            keep_failed: failed,
            schedule: None,
        }
    }

    fn deleted(p: &RetentionPlan) -> Vec<u64> {
        p.to_delete()
    }

    /// A set assessed from its components, as the merge of the listings builds it.
    fn built(id: u64, age_days: i64, missing: &[Component]) -> BackupSet {
        let components = [
            Component::Zeebe,
            Component::Operate,
            Component::Tasklist,
            Component::Optimize,
            Component::RecordsSnapshot,
        ]
        .into_iter()
        .map(|c| {
            let state = if missing.contains(&c) {
                ComponentState::Missing
            } else {
                ComponentState::Completed
            };
            let mut backup = ComponentBackup::new(c, state);
            backup.started_at_ms = Some(NOW - age_days * DAY_MS);
            backup
        })
        .collect();
        crate::backup_set::build_set(id, components)
    }

    #[test]
    fn a_component_lacking_every_backup_does_not_wipe_the_history() {
        // Optimize was just added to the configuration: it holds none of the 10 IDs.
        let sets: Vec<_> = (1..=10)
            .map(|i| built(i, 20 - i as i64, &[Component::Optimize]))
            .collect();
        assert!(sets.iter().all(|s| s.verdict == Verdict::RestorablePartial));
        let p = plan(
            &sets,
            &policy(Some(3), None, 3, 0),
            &Protections::default(),
            NOW,
        );
        let gone = deleted(&p);
        assert!(!gone.contains(&10), "the newest partial set was deleted");
        let kept = p.decisions.len() - gone.len();
        assert!(kept >= 3, "only {kept} kept: {gone:?}");
        assert_eq!(gone, vec![7, 6, 5, 4, 3, 2, 1]);
        // The guard that keeps such a plan from running unattended.
        let refusal = unattended_refusal(&sets, &p).expect("refused");
        assert!(refusal.contains("Optimize"), "{refusal}");
    }

    #[test]
    fn partial_sets_sit_on_top_of_the_guarantees_of_full_ones() {
        // Newest: two partial sets (records missing), then full restorable sets.
        let mut sets: Vec<_> = (1..=5).map(|i| built(i, 30 - i as i64, &[])).collect();
        sets.push(built(6, 2, &[Component::RecordsSnapshot]));
        sets.push(built(7, 1, &[Component::RecordsSnapshot]));
        let p = plan(
            &sets,
            &policy(Some(1), None, 2, 0),
            &Protections::default(),
            NOW,
        );
        let gone = deleted(&p);
        // The newest full set and the floor of full sets stay, and so does the newest partial one.
        assert!(!gone.contains(&5) && !gone.contains(&4), "{gone:?}");
        assert!(!gone.contains(&7), "{gone:?}");
        assert_eq!(
            p.decision(7).unwrap().reason,
            "the newest partially restorable set"
        );
        assert!(p.decision(7).unwrap().protected);
    }

    #[test]
    fn orphans_and_partial_sets_never_go_by_the_failed_rule() {
        let mut sets = vec![built(9, 1, &[])];
        // Zeebe has nothing for 3 and 4: orphaned web-app snapshots.
        sets.push(built(4, 5, &[Component::Zeebe]));
        sets.push(built(3, 6, &[Component::Zeebe]));
        sets.push(built(2, 7, &[Component::Optimize]));
        let p = plan(
            &sets,
            &policy(None, None, 1, 0),
            &Protections::default(),
            NOW,
        );
        assert!(deleted(&p).is_empty(), "{:?}", deleted(&p));
        assert_eq!(p.selectable_orphans(), vec![4, 3]);
        assert!(p.decision(4).unwrap().reason.contains("tick"));
    }

    #[test]
    fn a_component_added_later_is_not_expected_in_older_sets() {
        let listings = vec![
            (
                Component::Zeebe,
                Ok((1..=4)
                    .map(|id| {
                        (
                            id,
                            ComponentBackup::new(Component::Zeebe, ComponentState::Completed),
                        )
                    })
                    .collect()),
            ),
            (
                Component::Optimize,
                Ok(vec![(
                    4,
                    ComponentBackup::new(Component::Optimize, ComponentState::Completed),
                )]),
            ),
        ];
        let since = [(Component::Optimize, 3u64)];
        let sets = crate::merge::merge_listings_expecting(listings, &since);
        let verdict = |id: u64| sets.iter().find(|s| s.backup_id == id).unwrap().verdict;
        assert_eq!(verdict(4), Verdict::Restorable);
        assert_eq!(
            verdict(3),
            Verdict::RestorablePartial,
            "3 is after the component was added"
        );
        assert_eq!(verdict(2), Verdict::Restorable, "2 predates Optimize");
        assert_eq!(verdict(1), Verdict::Restorable);
        let older = sets.iter().find(|s| s.backup_id == 1).unwrap();
        assert!(older.holders() == vec![Component::Zeebe]);
        assert_eq!(artifacts(older).len(), 1);
    }

    #[test]
    fn an_unattended_cleanup_refuses_to_delete_most_of_the_history() {
        let sets: Vec<_> = (1..=10).map(|i| built(i, 20 - i as i64, &[])).collect();
        let p = plan(
            &sets,
            &policy(Some(3), None, 1, 0),
            &Protections::default(),
            NOW,
        );
        assert_eq!(deleted(&p).len(), 7);
        let why = unattended_refusal(&sets, &p).expect("more than half goes");
        assert!(why.contains("7 of"), "{why}");
        let p = plan(
            &sets,
            &policy(Some(8), None, 1, 0),
            &Protections::default(),
            NOW,
        );
        assert_eq!(unattended_refusal(&sets, &p), None);
    }

    #[test]
    fn no_policy_configured_plans_nothing() {
        let mut sets: Vec<_> = (1..=6).map(|i| set(i, Verdict::Restorable, 400)).collect();
        sets.push(set(7, Verdict::NotRestorable, 1));
        let p = plan_unconfigured(&sets, &Protections::default(), NOW);
        assert!(deleted(&p).is_empty());
        assert_eq!(p.decisions.len(), 7);
        assert!(
            p.decision(6).unwrap().protected,
            "the newest restorable set stays protected"
        );
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no retention policy is configured: nothing is deleted"
        );
    }

    #[test]
    fn keep_last_deletes_older_restorable_sets_and_says_why() {
        let sets: Vec<_> = (1..=5)
            .map(|i| set(i, Verdict::Restorable, 10 - i as i64))
            .collect();
        let p = plan(
            &sets,
            &policy(Some(2), None, 1, 0),
            &Protections::default(),
            NOW,
        );
        assert_eq!(deleted(&p), vec![3, 2, 1]);
        assert_eq!(p.decision(5).unwrap().reason, "the newest restorable set");
        assert_eq!(
            p.decision(4).unwrap().reason,
            "among the 2 newest restorable sets"
        );
        assert_eq!(
            p.decision(1).unwrap().reason,
            "older than the 2 newest restorable sets"
        );
    }

    #[test]
    fn a_set_goes_only_when_every_configured_rule_lets_it_go() {
        // Ages 0..5 days; keep the last 2 and everything younger than 3 days.
        let sets: Vec<_> = (1..=6)
            .map(|i| set(i, Verdict::Restorable, 6 - i as i64))
            .collect();
        let p = plan(
            &sets,
            &policy(Some(2), Some(3), 1, 0),
            &Protections::default(),
            NOW,
        );
        assert_eq!(deleted(&p), vec![2, 1], "ages 4 and 5 days");
        assert_eq!(p.decision(3).unwrap().reason, "younger than 3 days");
        assert_eq!(
            p.decision(1).unwrap().reason,
            "older than the 2 newest restorable sets, and older than 3 days"
        );
    }

    #[test]
    fn the_floor_keeps_restorable_sets_the_age_rule_would_delete() {
        let sets: Vec<_> = (1..=4).map(|i| set(i, Verdict::Restorable, 100)).collect();
        let p = plan(
            &sets,
            &policy(None, Some(30), 3, 0),
            &Protections::default(),
            NOW,
        );
        assert_eq!(deleted(&p), vec![1]);
        assert!(
            p.decision(2)
                .unwrap()
                .reason
                .contains("floor of 3 restorable sets")
        );
        assert!(p.decision(2).unwrap().protected);
    }

    #[test]
    fn a_floor_of_zero_still_keeps_the_newest_restorable_set() {
        let policy = policy(None, Some(1), 0, 0);
        assert!(policy.validate().is_err());
        let sets: Vec<_> = (1..=3).map(|i| set(i, Verdict::Restorable, 50)).collect();
        let p = plan(&sets, &policy, &Protections::default(), NOW);
        assert_eq!(deleted(&p), vec![2, 1]);
    }

    #[test]
    fn protected_sets_stay_whatever_the_rules_say() {
        let sets = vec![
            set(9, Verdict::InProgress, 0),
            set(8, Verdict::NotRestorable, 1),
            set(7, Verdict::Restorable, 2),
            set(6, Verdict::Unknown, 300),
            set(5, Verdict::Restorable, 300),
            set(4, Verdict::Restorable, 300),
            set(3, Verdict::NotRestorable, 300),
        ];
        let protections = Protections {
            pinned: [4].into_iter().collect(),
            running: Some(8),
        };
        let p = plan(&sets, &policy(Some(1), Some(1), 1, 0), &protections, NOW);
        assert_eq!(deleted(&p), vec![5, 3]);
        assert_eq!(p.decision(9).unwrap().reason, "still in progress");
        assert_eq!(
            p.decision(8).unwrap().reason,
            "the backup being taken right now"
        );
        assert_eq!(p.decision(4).unwrap().reason, "pinned");
        assert!(p.decision(6).unwrap().reason.contains("unknown"));
    }

    #[test]
    fn failed_sets_keep_the_newest_k_for_diagnosis() {
        let sets: Vec<_> = (1..=4).map(|i| set(i, Verdict::NotRestorable, 0)).collect();
        let p = plan(
            &sets,
            &policy(Some(5), None, 1, 2),
            &Protections::default(),
            NOW,
        );
        assert_eq!(deleted(&p), vec![2, 1]);
        assert_eq!(
            p.decision(3).unwrap().reason,
            "among the 2 newest failed or incomplete sets, kept for diagnosis"
        );
    }

    #[test]
    fn no_limits_keep_every_restorable_set() {
        let sets: Vec<_> = (1..=3).map(|i| set(i, Verdict::Restorable, 1000)).collect();
        let p = plan(
            &sets,
            &policy(None, None, 1, 0),
            &Protections::default(),
            NOW,
        );
        assert!(deleted(&p).is_empty());
    }

    #[test]
    fn a_hand_selection_cannot_touch_protected_sets_or_break_the_floor() {
        let sets: Vec<_> = (1..=3).map(|i| set(i, Verdict::Restorable, 0)).collect();
        let p = plan(
            &sets,
            &policy(None, None, 2, 0),
            &Protections::default(),
            NOW,
        );
        assert_eq!(refuse_selection(&p, &[2], 2), vec![]);
        let refused = refuse_selection(&p, &[3, 2, 1], 2);
        assert!(
            refused
                .iter()
                .any(|(id, why)| *id == 3 && why.contains("newest restorable"))
        );
        assert!(
            refused
                .iter()
                .any(|(id, why)| *id == 2 && why.contains("fewer than 2"))
        );
        assert_eq!(refuse_selection(&p, &[42], 2)[0].1, "no such backup set");
    }

    #[test]
    fn the_difference_names_what_changed_since_the_preview() {
        let sets: Vec<_> = (1..=4).map(|i| set(i, Verdict::Restorable, 0)).collect();
        let fresh = plan(
            &sets,
            &policy(Some(2), None, 1, 0),
            &Protections::default(),
            NOW,
        );
        assert!(difference(&[2, 1], &fresh).is_empty());
        let d = difference(&[1, 7], &fresh);
        assert_eq!(d.added, vec![2]);
        assert_eq!(d.removed, vec![7]);
    }

    #[test]
    fn artifacts_cover_every_component_holding_the_id() {
        let mut s = set(12, Verdict::NotRestorable, 0);
        s.components.push(ComponentBackup::new(
            Component::Operate,
            ComponentState::Failed,
        ));
        s.components.push(ComponentBackup::new(
            Component::Optimize,
            ComponentState::Missing,
        ));
        s.components.push(ComponentBackup::new(
            Component::RecordsSnapshot,
            ComponentState::Completed,
        ));
        let a = artifacts(&s);
        let components: Vec<_> = a.iter().map(|a| a.component).collect();
        assert_eq!(
            components,
            vec![
                Component::Zeebe,
                Component::Operate,
                Component::RecordsSnapshot
            ]
        );
        assert_eq!(a[2].description, "camunda_zeebe_records_backup_12");
    }
    /// A preview's pages, put together, are the plan; its figures are the whole plan's.
    #[test]
    fn a_preview_pages_the_plan_and_counts_all_of_it() {
        let sets: Vec<BackupSet> = (1..=23)
            .rev()
            .map(|i| {
                let verdict = if i % 5 == 0 {
                    Verdict::NotRestorable
                } else {
                    Verdict::Restorable
                };
                set(i, verdict, 30 - i as i64)
            })
            .collect();
        let p = policy(Some(4), None, 2, 1);
        let plan = plan(&sets, &p, &Protections::default(), NOW);
        let freshness = crate::api::CatalogFreshness {
            refreshed_at_ms: NOW,
            age_seconds: 0,
            refreshing: false,
            components: Vec::new(),
        };
        let preview = |show, page| {
            RetentionPreview::of(
                "c".into(),
                p.clone(),
                &sets,
                &plan,
                show,
                page,
                5,
                Vec::new(),
                freshness.clone(),
            )
        };
        let first = preview(PreviewFilter::All, 1);
        assert_eq!((first.total, first.pages, first.sets), (23, 5, 23));
        assert_eq!(first.delete, plan.to_delete());
        let mut all = Vec::new();
        for page in 1..=first.pages {
            all.extend(preview(PreviewFilter::All, page).decisions);
        }
        let decided: Vec<SetDecision> = all.iter().map(|d| d.decision.clone()).collect();
        assert_eq!(decided, plan.decisions);
        // Every set here holds Zeebe only: one artifact each.
        assert!(all.iter().all(|d| d.artifacts.len() == 1));
        let deletes = preview(PreviewFilter::Delete, 1);
        assert_eq!(deletes.total, plan.to_delete().len());
        assert!(
            deletes
                .decisions
                .iter()
                .all(|d| d.decision.decision == Decision::Delete)
        );
        // Past the end: the last page.
        assert_eq!(preview(PreviewFilter::All, 99).page, 5);
    }
}

/// `POST /api/clusters/{name}/retention/preview`: what a policy would do, planned on the server
/// over the catalog, so the browser never needs every set. No side effects (a POST only because
/// a draft policy is a body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A draft to try; absent: the policy in force.
    #[serde(default)]
    pub policy: Option<RetentionPolicy>,
    /// 1-based page of `decisions`; 1 when absent.
    #[serde(default)]
    pub page: Option<usize>,
    /// Decisions per page, 1 to 500; 50 when absent.
    #[serde(default)]
    pub per_page: Option<usize>,
    /// Only these decisions: `delete`, `keep`, or orphans offered for deletion.
    #[serde(default)]
    pub show: Option<PreviewFilter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewFilter {
    #[default]
    All,
    Delete,
    Keep,
    Orphans,
}

/// A page of the plan of one policy, with what the whole plan does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPreview {
    pub cluster: String,
    /// The policy planned (the draft, or the one in force).
    pub policy: RetentionPolicy,
    /// Sets in the history planned over.
    pub sets: usize,
    /// Every ID the plan deletes, newest first: what a cleanup of this plan confirms.
    pub delete: Vec<u64>,
    /// Orphans the plan keeps that may be ticked for deletion.
    pub selectable_orphans: Vec<u64>,
    /// Sets no rule lets anyone delete (pinned, running, the newest restorable...).
    pub protected: usize,
    /// Why an unattended cleanup would refuse this plan; a manual one must acknowledge it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Components whose last listing failed: what the plan says about them is not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_components: Vec<Component>,
    /// This page of the plan's decisions (newest first), each with the artifacts it would delete.
    pub decisions: Vec<PreviewDecision>,
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub pages: usize,
    /// How fresh the catalog planned over is. The cleanup itself plans again on fresh listings
    /// and refuses (409 `plan_changed`) what differs.
    pub catalog: crate::api::CatalogFreshness,
}

/// One set's decision in a preview, with what deleting it would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewDecision {
    pub decision: SetDecision,
    /// One per component holding the ID.
    pub artifacts: Vec<Artifact>,
}

/// The most decisions one preview page carries.
pub const MAX_PREVIEW_PAGE: usize = 500;

impl RetentionPreview {
    /// The preview of `plan` (made over `sets` for `policy`): the whole plan's figures and one
    /// page of its decisions, filtered by `show`. The page is clamped to the last one.
    #[expect(
        clippy::too_many_arguments,
        reason = "one value per field of the answer"
    )]
    pub fn of(
        cluster: String,
        policy: RetentionPolicy,
        sets: &[BackupSet],
        plan: &RetentionPlan,
        show: PreviewFilter,
        page: usize,
        per_page: usize,
        unknown_components: Vec<Component>,
        catalog: crate::api::CatalogFreshness,
    ) -> RetentionPreview {
        let per_page = per_page.clamp(1, MAX_PREVIEW_PAGE);
        let delete = plan.to_delete();
        let selectable_orphans = plan.selectable_orphans();
        // The rule of `selectable_orphans`, per decision: a lookup in that list would be
        // quadratic with tens of thousands of orphans.
        let shown = |d: &&SetDecision| match show {
            PreviewFilter::All => true,
            PreviewFilter::Delete => d.decision == Decision::Delete,
            PreviewFilter::Keep => d.decision == Decision::Keep,
            PreviewFilter::Orphans => d.orphan && d.decision == Decision::Keep && !d.protected,
        };
        let total = plan.decisions.iter().filter(shown).count();
        let pages = total.div_ceil(per_page).max(1);
        let page = page.clamp(1, pages);
        let chosen: Vec<&SetDecision> = plan
            .decisions
            .iter()
            .filter(shown)
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let ids: std::collections::HashSet<u64> = chosen.iter().map(|d| d.backup_id).collect();
        let by_id: std::collections::HashMap<u64, &BackupSet> = sets
            .iter()
            .filter(|s| ids.contains(&s.backup_id))
            .map(|s| (s.backup_id, s))
            .collect();
        let decisions = chosen
            .into_iter()
            .map(|d| PreviewDecision {
                decision: d.clone(),
                artifacts: by_id
                    .get(&d.backup_id)
                    .map(|s| artifacts(s))
                    .unwrap_or_default(),
            })
            .collect();
        RetentionPreview {
            cluster,
            policy,
            sets: sets.len(),
            protected: plan.decisions.iter().filter(|d| d.protected).count(),
            warning: unattended_refusal(sets, plan),
            delete,
            selectable_orphans,
            unknown_components,
            decisions,
            total,
            page,
            per_page,
            pages,
            catalog,
        }
    }
}
