//! The documented backup procedure as data: which steps, in which order, for a cluster's API
//! generation and components (contract §8.1, §8.2). The order is mandatory; getting it wrong makes
//! the backup useless, so it is decided here, once, and tested.

use serde::{Deserialize, Serialize};

use crate::api::{SecondaryStorage, VersionProfile};
use crate::backup_set::Component;

/// One step of a backup run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "component")]
pub enum ProcedureStep {
    /// POST the backup to a web-apps component or Optimize.
    Start(Component),
    /// Poll it until COMPLETED.
    WaitFor(Component),
    /// `POST /actuator/exporting/pause?soft=true`: compaction stops, exporting goes on.
    SoftPauseExporting,
    /// `PUT _snapshot/{repo}/camunda_zeebe_records_backup_{id}?wait_for_completion=true`, then `_status`.
    SnapshotRecords,
    /// POST the Zeebe backup.
    StartZeebe,
    /// Poll it until COMPLETED.
    WaitForZeebe,
    /// `POST /actuator/exporting/resume`. Also run after any failure once the pause was reached.
    ResumeExporting,
    /// `pg_dump --format=custom` of a configured database, verified with `pg_restore --list`
    /// (`Component::WebModelerDump` or `Component::RdbmsDump`). Never inside the pause window.
    DumpDatabase(Component),
}

impl ProcedureStep {
    pub fn describe(self) -> String {
        match self {
            ProcedureStep::Start(c) => format!("Start the {} backup", c.label()),
            ProcedureStep::WaitFor(c) => format!("Wait until the {} backup completes", c.label()),
            ProcedureStep::SoftPauseExporting => "Soft-pause Zeebe exporting".into(),
            ProcedureStep::SnapshotRecords => "Snapshot the zeebe-record indices".into(),
            ProcedureStep::StartZeebe => "Start the Zeebe backup".into(),
            ProcedureStep::WaitForZeebe => "Wait until the Zeebe backup completes".into(),
            ProcedureStep::ResumeExporting => "Resume Zeebe exporting".into(),
            ProcedureStep::DumpDatabase(c) => format!("Take and verify the {}", c.label()),
        }
    }

    /// Steps between the pause and the resume run while Zeebe cannot compact its log.
    pub fn needs_resume_after(self) -> bool {
        matches!(self, ProcedureStep::SoftPauseExporting)
    }
}

/// The ordered steps, and what the plan left out and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedurePlan {
    pub profile: VersionProfile,
    pub steps: Vec<ProcedureStep>,
    pub skipped: Vec<String>,
}

/// The procedure for a cluster with `components` configured on Elasticsearch/OpenSearch.
pub fn plan(profile: VersionProfile, components: &[Component]) -> ProcedurePlan {
    plan_for(profile, SecondaryStorage::Elasticsearch, components)
}

/// The procedure for a cluster with `components` configured (Zeebe is always there).
///
/// RDBMS (8.9+, research §1.5): the database dump first (Camunda: "have primary storage backup
/// taken after the secondary storage one"), then the Zeebe runtime backup; no web-apps backup,
/// no soft pause, no records snapshot. A Web Modeler dump comes after the Zeebe backup, and on
/// Elasticsearch after exporting is resumed: a dump of minutes never holds the pause open.
///
/// 8.7 (§8.1): web apps and Optimize started together and waited for, then soft pause, the records
/// snapshot, Zeebe, resume. 8.8+ (§8.2): soft pause first, then web apps and Optimize, the records
/// snapshot, Zeebe, resume.
pub fn plan_for(
    profile: VersionProfile,
    storage: SecondaryStorage,
    components: &[Component],
) -> ProcedurePlan {
    let has = |c: Component| components.contains(&c);
    if storage == SecondaryStorage::Rdbms {
        return rdbms_plan(profile, components);
    }
    let mut skipped = Vec::new();
    let apps: Vec<Component> = match profile {
        VersionProfile::V87 => [Component::Operate, Component::Tasklist, Component::Optimize]
            .into_iter()
            .filter(|c| {
                let present = has(*c);
                if !present {
                    skipped.push(format!(
                        "{} is not configured: no {} backup is taken",
                        c.label(),
                        c.label()
                    ));
                }
                present
            })
            .collect(),
        VersionProfile::V88 => {
            let mut apps = vec![Component::Webapps];
            if has(Component::Optimize) {
                apps.push(Component::Optimize);
            } else {
                skipped.push("Optimize is not configured: no Optimize backup is taken".into());
            }
            apps
        }
    };
    if !has(Component::RecordsSnapshot) {
        skipped.push(
            "Elasticsearch/OpenSearch is not configured: no zeebe-record snapshot is taken".into(),
        );
    }
    let starts = apps.iter().map(|c| ProcedureStep::Start(*c));
    let waits = apps.iter().map(|c| ProcedureStep::WaitFor(*c));
    let mut steps: Vec<ProcedureStep> = Vec::new();
    match profile {
        VersionProfile::V87 => {
            steps.extend(starts);
            steps.extend(waits);
            steps.push(ProcedureStep::SoftPauseExporting);
        }
        VersionProfile::V88 => {
            steps.push(ProcedureStep::SoftPauseExporting);
            steps.extend(starts);
            steps.extend(waits);
        }
    }
    if has(Component::RecordsSnapshot) {
        steps.push(ProcedureStep::SnapshotRecords);
    }
    steps.extend([
        ProcedureStep::StartZeebe,
        ProcedureStep::WaitForZeebe,
        ProcedureStep::ResumeExporting,
    ]);
    if has(Component::WebModelerDump) {
        steps.push(ProcedureStep::DumpDatabase(Component::WebModelerDump));
    }
    ProcedurePlan {
        profile,
        steps,
        skipped,
    }
}

fn rdbms_plan(profile: VersionProfile, components: &[Component]) -> ProcedurePlan {
    let has = |c: Component| components.contains(&c);
    let mut skipped = vec![
        "RDBMS secondary storage: Camunda takes no web-apps backup, no records snapshot and needs no soft pause"
            .to_string(),
    ];
    let mut steps = Vec::new();
    if has(Component::RdbmsDump) {
        steps.push(ProcedureStep::DumpDatabase(Component::RdbmsDump));
    } else {
        skipped.push(
            "no [[clusters.databases]] name = \"rdbms\": the secondary storage is not dumped by this console; a restore needs a dump taken before this backup"
                .into(),
        );
    }
    if has(Component::Optimize) {
        skipped.push(
            "Optimize does not run on RDBMS secondary storage: no Optimize backup is taken".into(),
        );
    }
    steps.extend([ProcedureStep::StartZeebe, ProcedureStep::WaitForZeebe]);
    if has(Component::WebModelerDump) {
        steps.push(ProcedureStep::DumpDatabase(Component::WebModelerDump));
    }
    ProcedurePlan {
        profile,
        steps,
        skipped,
    }
}

/// Why a backup ID cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum BackupIdProblem {
    /// Zeebe rejects 0 and below (contract §2).
    NotPositive,
    /// Zeebe only accepts IDs above every ID it ever used, deleted ones included (§2, §3.2).
    NotAboveHighest { highest: u64 },
    /// Web apps and Optimize reject an ID they already hold (§2).
    AlreadyUsed { components: Vec<Component> },
}

impl BackupIdProblem {
    pub fn explain(&self) -> String {
        match self {
            BackupIdProblem::NotPositive => "a backup ID must be a positive integer".into(),
            BackupIdProblem::NotAboveHighest { highest } => format!(
                "Zeebe only accepts an ID greater than {highest}, the highest it has used; IDs are never reused, even after a backup is deleted"
            ),
            BackupIdProblem::AlreadyUsed { components } => {
                let names: Vec<&str> = components.iter().map(|c| c.label()).collect();
                format!("this ID is already used by {}", names.join(", "))
            }
        }
    }
}

/// The ID to offer: the current Unix time in seconds as the docs recommend, or one above the
/// highest known ID if that is later (a clock behind, or IDs from another scheme).
pub fn propose_backup_id(now_unix_secs: u64, highest_known: Option<u64>) -> u64 {
    now_unix_secs.max(highest_known.map_or(0, |h| h + 1)).max(1)
}

/// Checks an ID before any call is made. `used_by` lists the components holding it already.
pub fn validate_backup_id(
    id: i64,
    highest_known: Option<u64>,
    used_by: &[Component],
) -> Result<u64, BackupIdProblem> {
    if id <= 0 {
        return Err(BackupIdProblem::NotPositive);
    }
    let id = id as u64;
    if let Some(highest) = highest_known.filter(|h| id <= *h) {
        return Err(BackupIdProblem::NotAboveHighest { highest });
    }
    if !used_by.is_empty() {
        return Err(BackupIdProblem::AlreadyUsed {
            components: used_by.to_vec(),
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Component::*;
    use ProcedureStep::*;

    #[test]
    fn the_87_procedure_backs_up_the_web_apps_before_pausing() {
        let p = plan(
            VersionProfile::V87,
            &[Zeebe, Operate, Tasklist, Optimize, RecordsSnapshot],
        );
        assert_eq!(
            p.steps,
            vec![
                Start(Operate),
                Start(Tasklist),
                Start(Optimize),
                WaitFor(Operate),
                WaitFor(Tasklist),
                WaitFor(Optimize),
                SoftPauseExporting,
                SnapshotRecords,
                StartZeebe,
                WaitForZeebe,
                ResumeExporting,
            ]
        );
        assert!(p.skipped.is_empty());
    }

    #[test]
    fn the_88_procedure_pauses_first() {
        let p = plan(
            VersionProfile::V88,
            &[Zeebe, Webapps, Optimize, RecordsSnapshot],
        );
        assert_eq!(
            p.steps,
            vec![
                SoftPauseExporting,
                Start(Webapps),
                Start(Optimize),
                WaitFor(Webapps),
                WaitFor(Optimize),
                SnapshotRecords,
                StartZeebe,
                WaitForZeebe,
                ResumeExporting,
            ]
        );
    }

    #[test]
    fn absent_components_are_skipped_and_the_plan_says_so() {
        let p = plan(VersionProfile::V88, &[Zeebe, Webapps]);
        assert_eq!(
            p.steps,
            vec![
                SoftPauseExporting,
                Start(Webapps),
                WaitFor(Webapps),
                StartZeebe,
                WaitForZeebe,
                ResumeExporting
            ]
        );
        assert_eq!(p.skipped.len(), 2);
        assert!(p.skipped[0].starts_with("Optimize is not configured"));
        let p = plan(
            VersionProfile::V87,
            &[Zeebe, Operate, Tasklist, RecordsSnapshot],
        );
        assert!(!p.steps.contains(&Start(Optimize)));
        assert_eq!(
            p.skipped,
            vec!["Optimize is not configured: no Optimize backup is taken".to_string()]
        );
    }

    #[test]
    fn every_plan_resumes_after_zeebe_and_pauses_once() {
        for profile in [VersionProfile::V87, VersionProfile::V88] {
            for components in [
                vec![Zeebe],
                vec![Zeebe, Operate, Tasklist, Webapps, Optimize, RecordsSnapshot],
                vec![Zeebe, Webapps, WebModelerDump],
            ] {
                let p = plan(profile, &components);
                let resume = p.steps.iter().position(|s| *s == ResumeExporting);
                let wait = p.steps.iter().position(|s| *s == WaitForZeebe);
                assert_eq!(resume, wait.map(|w| w + 1), "resume right after Zeebe");
                // Nothing but a dump (outside the window) follows the resume.
                assert!(
                    p.steps[resume.unwrap() + 1..]
                        .iter()
                        .all(|s| matches!(s, DumpDatabase(_)))
                );
                assert_eq!(
                    p.steps.iter().filter(|s| **s == SoftPauseExporting).count(),
                    1
                );
                let pause = p
                    .steps
                    .iter()
                    .position(|s| *s == SoftPauseExporting)
                    .unwrap();
                let zeebe = p.steps.iter().position(|s| *s == StartZeebe).unwrap();
                assert!(
                    pause < zeebe,
                    "Zeebe is backed up while exporting is soft-paused"
                );
            }
        }
    }

    #[test]
    fn a_web_modeler_dump_runs_after_exporting_is_resumed() {
        let p = plan(VersionProfile::V88, &[Zeebe, Webapps, WebModelerDump]);
        assert_eq!(
            &p.steps[p.steps.len() - 2..],
            &[ResumeExporting, DumpDatabase(WebModelerDump)]
        );
    }

    #[test]
    fn an_rdbms_backup_dumps_the_database_first_and_never_pauses() {
        let p = plan_for(
            VersionProfile::V88,
            SecondaryStorage::Rdbms,
            &[Zeebe, RdbmsDump, WebModelerDump, Optimize],
        );
        assert_eq!(
            p.steps,
            vec![
                DumpDatabase(RdbmsDump),
                StartZeebe,
                WaitForZeebe,
                DumpDatabase(WebModelerDump)
            ]
        );
        assert!(!p.steps.contains(&SoftPauseExporting));
        assert!(
            p.skipped
                .iter()
                .any(|s| s.starts_with("Optimize does not run"))
        );
        let p = plan_for(VersionProfile::V88, SecondaryStorage::Rdbms, &[Zeebe]);
        assert_eq!(p.steps, vec![StartZeebe, WaitForZeebe]);
        assert!(
            p.skipped
                .iter()
                .any(|s| s.contains("not dumped by this console"))
        );
    }

    #[test]
    fn proposed_ids_follow_the_clock_and_stay_above_the_highest() {
        assert_eq!(
            propose_backup_id(1_800_000_000, Some(1_700_000_000)),
            1_800_000_000
        );
        assert_eq!(
            propose_backup_id(1_800_000_000, Some(1_900_000_000)),
            1_900_000_001
        );
        assert_eq!(propose_backup_id(1_800_000_000, None), 1_800_000_000);
        assert_eq!(propose_backup_id(0, None), 1);
    }

    #[test]
    fn ids_are_validated_with_the_reason_an_administrator_needs() {
        assert_eq!(
            validate_backup_id(0, None, &[]),
            Err(BackupIdProblem::NotPositive)
        );
        assert_eq!(
            validate_backup_id(-5, None, &[]),
            Err(BackupIdProblem::NotPositive)
        );
        let err = validate_backup_id(100, Some(100), &[]).unwrap_err();
        assert_eq!(err, BackupIdProblem::NotAboveHighest { highest: 100 });
        assert!(err.explain().contains("never reused"));
        let err = validate_backup_id(101, Some(100), &[Optimize]).unwrap_err();
        assert_eq!(err.explain(), "this ID is already used by Optimize");
        assert_eq!(validate_backup_id(101, Some(100), &[]), Ok(101));
    }
}
