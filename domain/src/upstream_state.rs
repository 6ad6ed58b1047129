//! The state codes each management API reports, and the rules by which each component folds the
//! states of its parts into one. The simulator uses these rules to answer like the real components;
//! the console uses the codes to read their answers. Section numbers refer to
//! `docs/camunda-apis.md`.

use serde::{Deserialize, Serialize};

/// Zeebe partition-level and aggregate state (§3.3, §3.6, enum `StateCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ZeebeState {
    DoesNotExist,
    InProgress,
    Completed,
    Failed,
    Incomplete,
    /// In the enum but never produced by Zeebe's mapping (§3.6).
    Incompatible,
    /// 8.9 brokers only (§3.6).
    Deleted,
    /// Anything a newer Zeebe reports that this console does not know yet.
    #[serde(other)]
    Unrecognized,
}

/// Folds partition states into the aggregate, in the order of `BackupRequestHandler.getAggregatedStatus`
/// (§3.6): FAILED, then INCOMPLETE, then IN_PROGRESS, then DOES_NOT_EXIST, then COMPLETED.
pub fn zeebe_aggregate(partitions: &[ZeebeState]) -> ZeebeState {
    use ZeebeState::*;
    let any = |s: ZeebeState| partitions.contains(&s);
    if partitions.is_empty() {
        return DoesNotExist;
    }
    if any(Failed) {
        return Failed;
    }
    if (any(InProgress) || any(Completed)) && any(DoesNotExist) {
        return Incomplete;
    }
    if any(InProgress) {
        return InProgress;
    }
    if any(DoesNotExist) {
        return DoesNotExist;
    }
    if partitions.iter().all(|s| *s == Completed) {
        return Completed;
    }
    if any(Deleted) {
        return Deleted;
    }
    Unrecognized
}

/// The aggregate `failureReason` Zeebe builds from its failed partitions (§3.6).
pub fn zeebe_failure_reason<'a>(
    failed: impl IntoIterator<Item = (u32, Option<&'a str>)>,
) -> Option<String> {
    let text: String = failed
        .into_iter()
        .map(|(partition, reason)| {
            format!(
                "Backup on partition {partition} failed due to {}. ",
                reason.unwrap_or("Unknown reason")
            )
        })
        .collect();
    (!text.is_empty()).then_some(text)
}

/// Elasticsearch/OpenSearch `SnapshotInfo.state` (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SnapshotState {
    InProgress,
    Success,
    Failed,
    Partial,
    Incompatible,
    #[serde(other)]
    Unrecognized,
}

/// Aggregate state of a web-apps (Operate, Tasklist, 8.8 `backupHistory`) or Optimize backup
/// (§5.2 `HistoryStateCode`, §6 `BackupState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArtifactState {
    InProgress,
    Completed,
    Failed,
    Incompatible,
    Incomplete,
    #[serde(other)]
    Unrecognized,
}

/// The web-apps backup service's aggregation (§5.3). `incomplete_timeout_elapsed` says whether
/// `incompleteCheckTimeout` (5 min by default) has passed since the last part ended: before that a
/// missing part reads as still in progress.
pub fn webapps_aggregate(
    parts: &[SnapshotState],
    expected: usize,
    incomplete_timeout_elapsed: bool,
) -> ArtifactState {
    use SnapshotState as S;
    let any = |s: S| parts.contains(&s);
    if parts.len() == expected && parts.iter().all(|s| *s == S::Success) {
        return ArtifactState::Completed;
    }
    if any(S::Failed) || any(S::Partial) {
        return ArtifactState::Failed;
    }
    if any(S::Incompatible) {
        return ArtifactState::Incompatible;
    }
    if any(S::InProgress) {
        return ArtifactState::InProgress;
    }
    if parts.len() < expected {
        return if incomplete_timeout_elapsed {
            ArtifactState::Incomplete
        } else {
            ArtifactState::InProgress
        };
    }
    ArtifactState::Failed
}

/// The web-apps `failureReason` texts (§5.3), for the state `webapps_aggregate` returned.
pub fn webapps_failure_reason(
    parts: &[(&str, SnapshotState)],
    expected: usize,
    state: ArtifactState,
) -> Option<String> {
    if state != ArtifactState::Failed {
        return None;
    }
    let names = |wanted: SnapshotState| {
        parts
            .iter()
            .filter(|(_, s)| *s == wanted)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let failed = names(SnapshotState::Failed);
    if !failed.is_empty() {
        return Some(format!(
            "There were failures with the following snapshots: {failed}"
        ));
    }
    let partial = names(SnapshotState::Partial);
    if !partial.is_empty() {
        return Some(format!("Some of the snapshots are partial: {partial}"));
    }
    (parts.len() > expected).then(|| "More snapshots found than expected.".to_string())
}

/// Optimize's aggregation over its two parts (§6). There is no grace period: between part 1 and
/// part 2 the state reads INCOMPLETE.
pub fn optimize_aggregate(parts: &[SnapshotState]) -> ArtifactState {
    use SnapshotState as S;
    let any = |s: S| parts.contains(&s);
    let successes = parts.iter().filter(|s| **s == S::Success).count();
    if successes == 2 && parts.len() == 2 {
        return ArtifactState::Completed;
    }
    if any(S::Failed) || any(S::Partial) {
        return ArtifactState::Failed;
    }
    if any(S::Incompatible) {
        return ArtifactState::Incompatible;
    }
    if any(S::InProgress) {
        return ArtifactState::InProgress;
    }
    if successes < 2 {
        return ArtifactState::Incomplete;
    }
    ArtifactState::Failed
}

/// Optimize's `failureReason` (§6).
pub fn optimize_failure_reason(parts: &[(&str, SnapshotState)]) -> Option<String> {
    let failed: Vec<&str> = parts
        .iter()
        .filter(|(_, s)| matches!(s, SnapshotState::Failed | SnapshotState::Partial))
        .map(|(n, _)| *n)
        .collect();
    (!failed.is_empty()).then(|| format!("The following snapshots failed: [{}]", failed.join(", ")))
}

/// Exporter phase of one partition, as `/actuator/partitions` reports it (§4.1, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExporterPhase {
    Exporting,
    Paused,
    SoftPaused,
    Closed,
    #[serde(other)]
    Unrecognized,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ZeebeState::*;

    #[test]
    fn zeebe_aggregate_follows_the_gateway_order() {
        // Every combination the contract names in §3.6, in its order of precedence.
        assert_eq!(
            zeebe_aggregate(&[Completed, Completed, Completed]),
            Completed
        );
        assert_eq!(zeebe_aggregate(&[Completed, Failed, InProgress]), Failed);
        assert_eq!(zeebe_aggregate(&[Failed, DoesNotExist]), Failed);
        assert_eq!(zeebe_aggregate(&[Completed, DoesNotExist]), Incomplete);
        assert_eq!(zeebe_aggregate(&[InProgress, DoesNotExist]), Incomplete);
        assert_eq!(zeebe_aggregate(&[InProgress, Completed]), InProgress);
        assert_eq!(zeebe_aggregate(&[DoesNotExist, DoesNotExist]), DoesNotExist);
        assert_eq!(zeebe_aggregate(&[]), DoesNotExist);
        assert_eq!(zeebe_aggregate(&[Deleted, Deleted]), Deleted);
    }

    #[test]
    fn zeebe_failure_reason_lists_each_failed_partition() {
        let reason = zeebe_failure_reason([
            (1, Some("Backup is cancelled due to leader change.")),
            (3, None),
        ]);
        assert_eq!(
            reason.as_deref(),
            Some(
                "Backup on partition 1 failed due to Backup is cancelled due to leader change.. \
                 Backup on partition 3 failed due to Unknown reason. "
            )
        );
        assert_eq!(zeebe_failure_reason([]), None);
    }

    #[test]
    fn webapps_aggregate_follows_section_5_3() {
        use SnapshotState::*;
        assert_eq!(
            webapps_aggregate(&[Success; 6], 6, false),
            ArtifactState::Completed
        );
        assert_eq!(
            webapps_aggregate(&[Success, Partial, InProgress], 6, false),
            ArtifactState::Failed
        );
        assert_eq!(
            webapps_aggregate(&[Success, Failed], 6, true),
            ArtifactState::Failed
        );
        assert_eq!(
            webapps_aggregate(&[Success, Incompatible, InProgress], 6, false),
            ArtifactState::Incompatible
        );
        assert_eq!(
            webapps_aggregate(&[Success, InProgress], 6, true),
            ArtifactState::InProgress
        );
        // Between parts: in progress until the incomplete-check timeout, incomplete after it.
        assert_eq!(
            webapps_aggregate(&[Success, Success], 6, false),
            ArtifactState::InProgress
        );
        assert_eq!(
            webapps_aggregate(&[Success, Success], 6, true),
            ArtifactState::Incomplete
        );
        // More snapshots than expected.
        assert_eq!(
            webapps_aggregate(&[Success; 7], 6, false),
            ArtifactState::Failed
        );
    }

    #[test]
    fn webapps_failure_reasons_use_the_contract_texts() {
        use SnapshotState::*;
        let parts = [("a_part_1_of_2", Success), ("a_part_2_of_2", Failed)];
        assert_eq!(
            webapps_failure_reason(&parts, 2, ArtifactState::Failed).as_deref(),
            Some("There were failures with the following snapshots: a_part_2_of_2")
        );
        let parts = [("a_part_1_of_2", Partial), ("a_part_2_of_2", Success)];
        assert_eq!(
            webapps_failure_reason(&parts, 2, ArtifactState::Failed).as_deref(),
            Some("Some of the snapshots are partial: a_part_1_of_2")
        );
        let parts = [("a", Success), ("b", Success), ("c", Success)];
        assert_eq!(
            webapps_failure_reason(&parts, 2, ArtifactState::Failed).as_deref(),
            Some("More snapshots found than expected.")
        );
        assert_eq!(
            webapps_failure_reason(&parts, 3, ArtifactState::Completed),
            None
        );
    }

    #[test]
    fn optimize_aggregate_flashes_incomplete_between_parts() {
        use SnapshotState::*;
        assert_eq!(
            optimize_aggregate(&[Success, Success]),
            ArtifactState::Completed
        );
        assert_eq!(optimize_aggregate(&[Success]), ArtifactState::Incomplete);
        assert_eq!(
            optimize_aggregate(&[Success, InProgress]),
            ArtifactState::InProgress
        );
        assert_eq!(
            optimize_aggregate(&[Success, Partial]),
            ArtifactState::Failed
        );
        assert_eq!(
            optimize_aggregate(&[Incompatible, Success]),
            ArtifactState::Incompatible
        );
        assert_eq!(optimize_aggregate(&[]), ArtifactState::Incomplete);
        assert_eq!(
            optimize_failure_reason(&[("o_1", Success), ("o_2", Failed)]).as_deref(),
            Some("The following snapshots failed: [o_2]")
        );
    }

    #[test]
    fn unknown_codes_are_tolerated() {
        let s: ZeebeState = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(s, Unrecognized);
        let s: SnapshotState = serde_json::from_str("\"PARTIAL\"").unwrap();
        assert_eq!(s, SnapshotState::Partial);
        let p: ExporterPhase = serde_json::from_str("\"SOFT_PAUSED\"").unwrap();
        assert_eq!(p, ExporterPhase::SoftPaused);
    }
}
