//! One backup ID seen across every component, and the verdict on whether it can be restored.
//!
//! A Camunda backup is only usable when *every* component holds a complete artifact for the same ID
//! (contract §8.3, §12). These functions join what each component reports and explain, in words an
//! administrator can act on, why a set is or is not restorable.

use serde::{Deserialize, Serialize};

/// The parts of a Camunda 8 deployment that hold a piece of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Zeebe partitions (`/actuator/backups` in 8.7, `/actuator/backupRuntime` in 8.8+).
    Zeebe,
    /// Operate snapshots (8.7 only; `camunda_operate_` prefix).
    Operate,
    /// Tasklist snapshots (8.7 only; `camunda_tasklist_` prefix).
    Tasklist,
    /// Operate and Tasklist together (8.8+ `/actuator/backupHistory`; `camunda_webapps_` prefix).
    Webapps,
    Optimize,
    /// The Elasticsearch/OpenSearch snapshot `camunda_zeebe_records_backup_{id}` of `zeebe-record*`.
    RecordsSnapshot,
    /// A `pg_dump` of the Web Modeler database (`[[clusters.databases]] name = "web-modeler"`),
    /// taken after exporting is resumed.
    WebModelerDump,
    /// A `pg_dump` of the RDBMS secondary storage (8.9+, `name = "rdbms"`), taken before the
    /// Zeebe backup as Camunda advises.
    RdbmsDump,
}

impl Component {
    pub fn label(self) -> &'static str {
        match self {
            Component::Zeebe => "Zeebe",
            Component::Operate => "Operate",
            Component::Tasklist => "Tasklist",
            Component::Webapps => "Web apps",
            Component::Optimize => "Optimize",
            Component::RecordsSnapshot => "Records snapshot",
            Component::WebModelerDump => "Web Modeler dump",
            Component::RdbmsDump => "RDBMS dump",
        }
    }

    /// A database dump the console takes itself, rather than a component's backup API.
    pub fn is_database_dump(self) -> bool {
        matches!(self, Component::WebModelerDump | Component::RdbmsDump)
    }

    /// Components that ship with the orchestration cluster and therefore share its version.
    fn is_orchestration(self) -> bool {
        matches!(
            self,
            Component::Zeebe | Component::Operate | Component::Tasklist | Component::Webapps
        )
    }
}

/// What one component says about one backup ID, normalised across the APIs' own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    Completed,
    InProgress,
    Failed,
    /// Some parts or partitions are missing (Zeebe/web-apps `INCOMPLETE`, an ES `PARTIAL`).
    Incomplete,
    Incompatible,
    /// The component answered and has nothing under this ID.
    Missing,
    /// The component did not answer: nothing is known, so nothing is assumed.
    Unknown,
    /// The component was added to the cluster after this backup (`since_backup_id`): the set is
    /// not expected to hold it, so its absence is neither a gap nor an artifact.
    NotExpected,
}

impl ComponentState {
    pub fn label(self) -> &'static str {
        match self {
            ComponentState::Completed => "completed",
            ComponentState::InProgress => "in progress",
            ComponentState::Failed => "failed",
            ComponentState::Incomplete => "incomplete",
            ComponentState::Incompatible => "incompatible",
            ComponentState::Missing => "missing",
            ComponentState::Unknown => "unknown",
            ComponentState::NotExpected => "not expected",
        }
    }
}

/// One Zeebe partition's piece of a backup (§3.3). The list API fills only some fields (§3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PartitionBackup {
    pub partition_id: u32,
    /// The upstream code verbatim, e.g. `COMPLETED` or `DOES_NOT_EXIST`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_position: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_version: Option<String>,
}

/// One Elasticsearch/OpenSearch snapshot that is part of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotPart {
    pub name: String,
    /// The snapshot state verbatim (`SUCCESS`, `PARTIAL`, ...).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// The application version embedded in the snapshot name, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What one component holds for one backup ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentBackup {
    pub component: Component,
    pub state: ComponentState,
    /// The component's own state code, verbatim, when it reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    /// Distinct application versions found in the parts or partitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Parts or partitions done, and expected in all (e.g. 3 of 6 snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionBackup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<SnapshotPart>,
    /// Why the state is unknown: the error the component returned, or that it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A database dump's file, as its manifest records it (dump components only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump: Option<DumpFile>,
}

/// One `pg_dump --format=custom` file of a set, checked with `pg_restore --list` when taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpFile {
    /// Where it is on the console's machine: `<directory>/<cluster>/<backup-id>/<name>.dump`.
    pub path: String,
    pub size_bytes: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_dump_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<i64>,
}

impl ComponentBackup {
    pub fn new(component: Component, state: ComponentState) -> Self {
        ComponentBackup {
            component,
            state,
            upstream_state: None,
            failure_reason: None,
            started_at_ms: None,
            versions: Vec::new(),
            progress: None,
            partitions: Vec::new(),
            parts: Vec::new(),
            error: None,
            dump: None,
        }
    }

    /// Whether the component holds an artifact under the set's ID (something to delete, an ID it
    /// would refuse to reuse).
    pub fn holds(&self) -> bool {
        !matches!(
            self.state,
            ComponentState::Missing | ComponentState::NotExpected
        )
    }

    /// Drops the per-part and per-partition lists, keeping the counts; the history list sends this
    /// thin form and the detail endpoint the full one.
    pub fn thin(mut self) -> Self {
        self.partitions.clear();
        self.parts.clear();
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u32,
    pub total: u32,
}

/// Whether a backup set can be used to restore the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Restorable,
    /// Zeebe's backup completed and every component holding the ID completed, but some
    /// configured component has nothing under it (say Optimize, deployed after the backup). A
    /// restore brings back everything except those components; never counted as the latest
    /// restorable backup, and never deleted as if it had failed.
    RestorablePartial,
    InProgress,
    NotRestorable,
    /// A component did not answer and nothing else rules the set out.
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Restorable,
        Verdict::RestorablePartial,
        Verdict::InProgress,
        Verdict::NotRestorable,
        Verdict::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Restorable => "restorable",
            Verdict::RestorablePartial => "partially restorable",
            Verdict::InProgress => "in progress",
            Verdict::NotRestorable => "not restorable",
            Verdict::Unknown => "unknown",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Verdict::Restorable => "restorable",
            Verdict::RestorablePartial => "restorable_partial",
            Verdict::InProgress => "in_progress",
            Verdict::NotRestorable => "not_restorable",
            Verdict::Unknown => "unknown",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.slug() == slug)
    }
}

/// Every artifact carrying one backup ID, with the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSet {
    pub backup_id: u64,
    /// The earliest start time any component reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    pub verdict: Verdict,
    /// Why the set is not restorable, still in progress, or unknown; empty when restorable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Facts worth knowing that do not block a restore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// One entry per configured component, in the configured order.
    pub components: Vec<ComponentBackup>,
    /// Who started it: a run of this console (manual, schedule, cli), Zeebe's own scheduler, or
    /// something else (external). Set where it can be told (8.9+ RDBMS or Zeebe-scheduled
    /// clusters, see [`trigger_of`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<crate::trigger::RunTrigger>,
}

/// Who triggered the set `backup_id`: the console's own run when it has one; else Zeebe's
/// scheduler when `backupRuntime/state` typed its checkpoint `SCHEDULED_BACKUP`, or, when the
/// state does not say (it names only the latest backup per partition, §9.1), when the
/// cluster has `zeebe_scheduler` and the ID looks generated (epoch milliseconds plus Zeebe's
/// offset: at least 13 digits, at most i64::MAX);
/// else someone outside the console.
pub fn trigger_of(
    backup_id: u64,
    console: Option<crate::trigger::RunTrigger>,
    scheduled_by_state: Option<bool>,
    zeebe_scheduler: bool,
) -> crate::trigger::RunTrigger {
    use crate::trigger::RunTrigger;
    if let Some(trigger) = console {
        return trigger;
    }
    // Epoch milliseconds (13 digits today) plus Zeebe's optional offset, which may carry the
    // ID to 14 digits or more; Zeebe's IDs are longs, so never above i64::MAX.
    let generated_looking = (1_000_000_000_000..=i64::MAX as u64).contains(&backup_id);
    match scheduled_by_state {
        Some(true) => RunTrigger::ZeebeScheduler,
        Some(false) => RunTrigger::External,
        None if zeebe_scheduler && generated_looking => RunTrigger::ZeebeScheduler,
        None => RunTrigger::External,
    }
}

impl BackupSet {
    pub fn component(&self, component: Component) -> Option<&ComponentBackup> {
        self.components.iter().find(|c| c.component == component)
    }

    /// The components holding an artifact under this ID (an ID they would refuse to reuse).
    pub fn holders(&self) -> Vec<Component> {
        self.components
            .iter()
            .filter(|c| c.holds())
            .map(|c| c.component)
            .collect()
    }

    /// The configured components that answered and have nothing under this ID.
    pub fn missing(&self) -> Vec<Component> {
        self.components
            .iter()
            .filter(|c| c.state == ComponentState::Missing)
            .map(|c| c.component)
            .collect()
    }

    /// Restorable in every component that holds it, fully or partially.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Restorable | Verdict::RestorablePartial
        )
    }

    /// True when some configured component has no artifact under this ID while another has one.
    pub fn is_orphan(&self) -> bool {
        self.components
            .iter()
            .any(|c| c.state == ComponentState::Missing)
    }

    pub fn thin(mut self) -> Self {
        self.components = self
            .components
            .into_iter()
            .map(ComponentBackup::thin)
            .collect();
        self
    }
}

/// The verdict and its reasons, from the state of every configured component.
///
/// Precedence: a set with any component failed, incomplete or incompatible cannot be restored,
/// whatever the others say; otherwise anything running makes it in progress; otherwise a component
/// that did not answer makes it unknown (never restorable). A component that answered and lacks
/// the ID (missing) makes the set partially restorable when Zeebe's backup completed, and not
/// restorable (an orphaned set) when Zeebe's did not. Only when every component completed, with
/// consistent versions, is it restorable.
pub fn assess(components: &[ComponentBackup]) -> (Verdict, Vec<String>, Vec<String>) {
    let mut blocking = Vec::new();
    let mut running = Vec::new();
    let mut unknown = Vec::new();
    let mut missing = Vec::new();

    for c in components {
        let name = c.component.label();
        match c.state {
            ComponentState::Completed => {}
            ComponentState::InProgress => running.push(match c.progress {
                Some(p) => format!("{name} is still running ({} of {} done)", p.done, p.total),
                None => format!("{name} is still running"),
            }),
            ComponentState::Failed => blocking.push(match &c.failure_reason {
                Some(reason) => format!("{name} failed: {reason}"),
                None => format!("{name} failed"),
            }),
            ComponentState::Incomplete => blocking.push(match (&c.failure_reason, c.progress) {
                (Some(reason), _) => format!("{name} is incomplete: {reason}"),
                (None, Some(p)) => {
                    format!(
                        "{name} is incomplete: {} of {} parts present",
                        p.done, p.total
                    )
                }
                (None, None) => format!("{name} is incomplete"),
            }),
            ComponentState::Incompatible => {
                blocking.push(format!("{name} is incompatible with the running version"))
            }
            ComponentState::Missing => {
                missing.push(format!("{name} has no backup with this ID (orphaned set)"))
            }
            ComponentState::NotExpected => {}
            ComponentState::Unknown => unknown.push(match &c.error {
                Some(error) => format!("{name} could not be checked: {error}"),
                None => format!("{name} could not be checked"),
            }),
        }
    }

    let mut notes = Vec::new();
    version_checks(components, &mut blocking, &mut notes);

    let zeebe_completed = components
        .iter()
        .any(|c| c.component == Component::Zeebe && c.state == ComponentState::Completed);
    // A component missing while another is still running is normal mid-backup, not an orphan.
    // Missing beside a completed Zeebe backup is a gap, not a failure: the set is partially
    // restorable if nothing else is wrong. Without Zeebe's backup there is nothing to restore.
    let mut partial = Vec::new();
    if !running.is_empty() {
        running.extend(
            missing
                .into_iter()
                .map(|m| m.replace(" (orphaned set)", " yet")),
        );
    } else if zeebe_completed {
        partial.extend(
            missing
                .into_iter()
                .map(|m| m.replace(" (orphaned set)", ": a restore leaves it out")),
        );
    } else {
        blocking.extend(missing);
    }

    if !blocking.is_empty() {
        blocking.extend(partial);
        blocking.extend(unknown);
        return (Verdict::NotRestorable, blocking, notes);
    }
    if !running.is_empty() {
        running.extend(unknown);
        return (Verdict::InProgress, running, notes);
    }
    if !unknown.is_empty() {
        unknown.extend(partial);
        return (Verdict::Unknown, unknown, notes);
    }
    if !partial.is_empty() {
        return (Verdict::RestorablePartial, partial, notes);
    }
    (Verdict::Restorable, Vec::new(), notes)
}

/// A restore needs the exact version that took each piece (§8.3). Pieces of one component in
/// different versions mean the backup straddled an upgrade: blocking. Orchestration components
/// (Zeebe, Operate, Tasklist) in different versions from each other is unusual but restorable, so it
/// is a note. Optimize is versioned on its own (the seed's real output shows 8.7.1 beside 8.7.2).
fn version_checks(
    components: &[ComponentBackup],
    blocking: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let mut orchestration: Vec<(&str, &str)> = Vec::new();
    for c in components {
        if c.versions.len() > 1 {
            blocking.push(format!(
                "{} pieces were taken by different versions ({})",
                c.component.label(),
                c.versions.join(", ")
            ));
        }
        if c.component.is_orchestration()
            && c.state == ComponentState::Completed
            && let [v] = c.versions.as_slice()
        {
            orchestration.push((c.component.label(), v.as_str()));
        }
    }
    if let Some((_, first)) = orchestration.first()
        && orchestration.iter().any(|(_, v)| v != first)
    {
        let listed: Vec<String> = orchestration
            .iter()
            .map(|(name, v)| format!("{name} {v}"))
            .collect();
        notes.push(format!(
            "Components report different versions ({}); restore each with the version that took it",
            listed.join(", ")
        ));
    }
}

/// How long a backup with missing pieces is given before it counts as incomplete: the web-apps
/// service's own `incompleteCheckTimeout` (contract §5.3). Optimize reads INCOMPLETE between its
/// two parts (§6) and Zeebe right after its 202 (§3.6); neither is a failure.
pub const INCOMPLETE_GRACE_MS: i64 = 5 * 60 * 1000;

/// Reads a recent INCOMPLETE with no failure as still running. Recent means some part or
/// partition started or changed within [`INCOMPLETE_GRACE_MS`] of `now_ms`.
pub fn settle_transient(mut c: ComponentBackup, now_ms: i64) -> ComponentBackup {
    if c.state != ComponentState::Incomplete || c.failure_reason.is_some() {
        return c;
    }
    let last_activity = c
        .parts
        .iter()
        .filter_map(|p| p.start_time_ms)
        .chain(
            c.partitions
                .iter()
                .filter_map(|p| p.last_updated_at_ms.or(p.created_at_ms)),
        )
        .chain(c.started_at_ms)
        .max();
    if last_activity.is_some_and(|t| now_ms.saturating_sub(t) < INCOMPLETE_GRACE_MS) {
        c.state = ComponentState::InProgress;
    }
    c
}

/// What one component's listing returned: its backups by ID, or why it could not be listed.
pub type ComponentListing = Result<Vec<(u64, ComponentBackup)>, String>;

/// A set from its components: the start time and the verdict are derived, never stored apart.
pub fn build_set(backup_id: u64, components: Vec<ComponentBackup>) -> BackupSet {
    let started_at_ms = components.iter().filter_map(|c| c.started_at_ms).min();
    let (verdict, reasons, notes) = assess(&components);
    BackupSet {
        backup_id,
        started_at_ms,
        verdict,
        reasons,
        notes,
        components,
        trigger: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentState::*;

    #[test]
    fn a_sets_trigger_prefers_the_console_then_the_state_then_the_id_shape() {
        use crate::trigger::RunTrigger;
        let generated = 1_772_001_869_309;
        assert_eq!(
            trigger_of(generated, Some(RunTrigger::Cli), Some(true), true),
            RunTrigger::Cli
        );
        assert_eq!(
            trigger_of(5, None, Some(true), false),
            RunTrigger::ZeebeScheduler
        );
        assert_eq!(
            trigger_of(generated, None, Some(false), true),
            RunTrigger::External,
            "the state says someone asked for it over the API"
        );
        assert_eq!(
            trigger_of(generated, None, None, true),
            RunTrigger::ZeebeScheduler
        );
        assert_eq!(
            trigger_of(generated, None, None, false),
            RunTrigger::External
        );
        assert_eq!(
            trigger_of(1_772_001_869, None, None, true),
            RunTrigger::External,
            "seconds, as the docs' `date +%s`, are not generated"
        );
    }

    fn comp(component: Component, state: ComponentState) -> ComponentBackup {
        let mut c = ComponentBackup::new(component, state);
        if state == Completed {
            c.versions = vec!["8.7.2".into()];
        }
        c
    }

    fn all_87(state: ComponentState) -> Vec<ComponentBackup> {
        [
            Component::Zeebe,
            Component::Operate,
            Component::Tasklist,
            Component::Optimize,
            Component::RecordsSnapshot,
        ]
        .into_iter()
        .map(|c| comp(c, state))
        .collect()
    }

    #[test]
    fn every_component_completed_is_restorable() {
        let (verdict, reasons, notes) = assess(&all_87(Completed));
        assert_eq!(verdict, Verdict::Restorable);
        assert!(reasons.is_empty());
        assert!(notes.is_empty());
    }

    #[test]
    fn each_non_completed_state_alone_decides_the_verdict() {
        // One component in each state, every other component completed.
        let expected = [
            (InProgress, Verdict::InProgress, "Operate is still running"),
            (Failed, Verdict::NotRestorable, "Operate failed"),
            (Incomplete, Verdict::NotRestorable, "Operate is incomplete"),
            (
                Incompatible,
                Verdict::NotRestorable,
                "Operate is incompatible",
            ),
            (
                Missing,
                Verdict::RestorablePartial,
                "Operate has no backup with this ID: a restore leaves it out",
            ),
            (Unknown, Verdict::Unknown, "Operate could not be checked"),
        ];
        for (state, verdict, reason) in expected {
            let mut set = all_87(Completed);
            set[1] = comp(Component::Operate, state);
            let (got, reasons, _) = assess(&set);
            assert_eq!(got, verdict, "state {state:?}");
            assert_eq!(reasons.len(), 1, "state {state:?}: {reasons:?}");
            assert!(reasons[0].starts_with(reason), "{state:?}: {}", reasons[0]);
        }
    }

    #[test]
    fn failure_outranks_running_and_unknown() {
        let mut set = all_87(Completed);
        set[0] = comp(Component::Zeebe, InProgress);
        set[1] = comp(Component::Operate, Unknown);
        set[2] = comp(Component::Tasklist, Failed);
        set[2].failure_reason = Some("There were failures with the following snapshots: x".into());
        let (verdict, reasons, _) = assess(&set);
        assert_eq!(verdict, Verdict::NotRestorable);
        assert_eq!(
            reasons,
            vec![
                "Tasklist failed: There were failures with the following snapshots: x".to_string(),
                "Operate could not be checked".to_string(),
            ]
        );
    }

    #[test]
    fn missing_while_running_is_not_an_orphan() {
        let mut set = all_87(Completed);
        set[0] = comp(Component::Zeebe, Missing);
        set[4] = comp(Component::RecordsSnapshot, InProgress);
        let (verdict, reasons, _) = assess(&set);
        assert_eq!(verdict, Verdict::InProgress);
        assert!(
            reasons
                .iter()
                .any(|r| r == "Zeebe has no backup with this ID yet")
        );
    }

    #[test]
    fn unknown_is_never_restorable_even_when_the_rest_completed() {
        let mut set = all_87(Completed);
        set[3] = comp(Component::Optimize, Unknown);
        set[3].error = Some("connection refused".into());
        let (verdict, reasons, _) = assess(&set);
        assert_eq!(verdict, Verdict::Unknown);
        assert_eq!(
            reasons,
            vec!["Optimize could not be checked: connection refused"]
        );
    }

    #[test]
    fn mixed_versions_inside_a_component_block_restore() {
        let mut set = all_87(Completed);
        set[0].versions = vec!["8.7.1".into(), "8.7.2".into()];
        let (verdict, reasons, _) = assess(&set);
        assert_eq!(verdict, Verdict::NotRestorable);
        assert_eq!(
            reasons,
            vec!["Zeebe pieces were taken by different versions (8.7.1, 8.7.2)"]
        );
    }

    #[test]
    fn different_versions_across_components_are_a_note_and_optimize_is_exempt() {
        let mut set = all_87(Completed);
        set[3].versions = vec!["8.7.1".into()]; // Optimize: its own versioning
        let (verdict, _, notes) = assess(&set);
        assert_eq!(verdict, Verdict::Restorable);
        assert!(notes.is_empty());

        set[1].versions = vec!["8.7.3".into()]; // Operate differs from Zeebe
        let (verdict, _, notes) = assess(&set);
        assert_eq!(verdict, Verdict::Restorable);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("Zeebe 8.7.2") && notes[0].contains("Operate 8.7.3"));
    }

    fn listed(component: Component, ids: &[u64]) -> (Component, ComponentListing) {
        (
            component,
            Ok(ids
                .iter()
                .map(|&id| (id, comp(component, Completed)))
                .collect()),
        )
    }

    #[test]
    fn merge_joins_by_id_newest_first_and_marks_orphans() {
        let sets = crate::merge::merge_listings(vec![
            listed(Component::Zeebe, &[10, 30, 20]),
            listed(Component::Webapps, &[10, 20, 30]),
            listed(Component::RecordsSnapshot, &[10, 30, 40]),
        ]);
        let ids: Vec<u64> = sets.iter().map(|s| s.backup_id).collect();
        assert_eq!(ids, vec![40, 30, 20, 10]);
        assert_eq!(sets[0].verdict, Verdict::NotRestorable);
        assert!(sets[0].is_orphan());
        assert_eq!(sets[0].component(Component::Zeebe).unwrap().state, Missing);
        assert_eq!(sets[1].verdict, Verdict::Restorable);
        assert_eq!(
            sets[2].component(Component::RecordsSnapshot).unwrap().state,
            Missing
        );
        assert_eq!(sets[2].verdict, Verdict::RestorablePartial);
        assert_eq!(sets[2].missing(), vec![Component::RecordsSnapshot]);
        // Components stay in the configured order.
        let order: Vec<Component> = sets[3].components.iter().map(|c| c.component).collect();
        assert_eq!(
            order,
            vec![
                Component::Zeebe,
                Component::Webapps,
                Component::RecordsSnapshot
            ]
        );
    }

    #[test]
    fn merge_marks_a_failed_listing_unknown_everywhere() {
        let sets = crate::merge::merge_listings(vec![
            listed(Component::Zeebe, &[1, 2]),
            (Component::Optimize, Err("HTTP 502: bad gateway".into())),
        ]);
        assert_eq!(sets.len(), 2);
        for set in &sets {
            let optimize = set.component(Component::Optimize).unwrap();
            assert_eq!(optimize.state, Unknown);
            assert_eq!(optimize.error.as_deref(), Some("HTTP 502: bad gateway"));
            assert_eq!(set.verdict, Verdict::Unknown);
        }
    }

    #[test]
    fn a_recent_incomplete_without_failure_is_still_running() {
        let now = 10_000_000;
        let mut optimize = comp(Component::Optimize, Incomplete);
        optimize.parts = vec![SnapshotPart {
            start_time_ms: Some(now - 2_000),
            ..Default::default()
        }];
        assert_eq!(settle_transient(optimize.clone(), now).state, InProgress);
        // Past the grace period it is incomplete for good.
        assert_eq!(
            settle_transient(optimize.clone(), now + INCOMPLETE_GRACE_MS).state,
            Incomplete
        );
        // A failure reason means a real failure, however recent.
        optimize.failure_reason = Some("the snapshot is PARTIAL".into());
        assert_eq!(settle_transient(optimize, now).state, Incomplete);
        // Zeebe: the partitions' own timestamps count.
        let mut zeebe = comp(Component::Zeebe, Incomplete);
        zeebe.partitions = vec![PartitionBackup {
            created_at_ms: Some(now - 1_000),
            ..Default::default()
        }];
        assert_eq!(settle_transient(zeebe, now).state, InProgress);
        // Without any timestamp nothing is assumed.
        assert_eq!(
            settle_transient(comp(Component::Zeebe, Incomplete), now).state,
            Incomplete
        );
        // Other states pass through.
        assert_eq!(
            settle_transient(comp(Component::Zeebe, Failed), now).state,
            Failed
        );
    }

    #[test]
    fn start_time_is_the_earliest_component_start() {
        let mut a = comp(Component::Zeebe, Completed);
        a.started_at_ms = Some(2_000);
        let mut b = comp(Component::Optimize, Completed);
        b.started_at_ms = Some(1_000);
        let set = build_set(7, vec![a, b]);
        assert_eq!(set.started_at_ms, Some(1_000));
    }

    #[test]
    fn verdict_slugs_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_slug(v.slug()), Some(v));
        }
        assert_eq!(Verdict::from_slug("bogus"), None);
    }
}
