//! The live status of one cluster, as the server's poller last took it (`GET
//! /api/clusters/{name}/status`): each component's reachability, the exporting phase, and the
//! backup run holding the cluster, if any. One round serves every viewer; the Overview, metrics
//! and alerts read the same value.

use serde::{Deserialize, Serialize};

use crate::api::{ExportingStatus, VersionProfile};
use crate::backup_set::Component;

/// A status older than this is stale whatever the interval: the UI says so instead of showing it
/// as current.
pub const STALE_AFTER_MS: i64 = 30_000;

/// What one reachability probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// It answered as a healthy component does.
    Reachable,
    /// It answered, but not as a healthy one (health DOWN, an error status, a missing repository).
    Degraded,
    /// No connection (refused, reset, DNS, TLS).
    Unreachable,
    /// No answer within the probe's timeout: its state cannot be told.
    Unknown,
}

impl Probe {
    pub fn label(self) -> &'static str {
        match self {
            Probe::Reachable => "reachable",
            Probe::Degraded => "degraded",
            Probe::Unreachable => "unreachable",
            Probe::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStatus {
    pub component: Component,
    /// The management endpoint, without any credentials.
    pub endpoint: String,
    pub probe: Probe,
    /// Why it is not reachable, as the probe saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The cluster's exporting phase: the least healthy partition's, so a pause on any partition is
/// never hidden. An upstream failure is `Unknown`, never `Exporting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportingPhase {
    Exporting,
    SoftPaused,
    Paused,
    Closed,
    Unknown,
}

impl ExportingPhase {
    /// The phase of a partition as Zeebe spells it (`EXPORTING`, `SOFT_PAUSED`, ...).
    pub fn parse(text: &str) -> ExportingPhase {
        match text {
            "EXPORTING" => ExportingPhase::Exporting,
            "SOFT_PAUSED" => ExportingPhase::SoftPaused,
            "PAUSED" => ExportingPhase::Paused,
            "CLOSED" => ExportingPhase::Closed,
            _ => ExportingPhase::Unknown,
        }
    }

    fn severity(self) -> u8 {
        match self {
            ExportingPhase::Exporting => 0,
            ExportingPhase::SoftPaused => 1,
            ExportingPhase::Paused => 2,
            ExportingPhase::Closed => 3,
            ExportingPhase::Unknown => 4,
        }
    }

    /// The least healthy phase of `exporting`; unknown when it could not be read or lists nothing.
    pub fn of(exporting: &ExportingStatus) -> ExportingPhase {
        if exporting.error.is_some() {
            return ExportingPhase::Unknown;
        }
        exporting
            .partitions
            .iter()
            .map(|p| ExportingPhase::parse(&p.phase))
            .max_by_key(|p| p.severity())
            .unwrap_or(ExportingPhase::Unknown)
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportingPhase::Exporting => "EXPORTING",
            ExportingPhase::SoftPaused => "SOFT_PAUSED",
            ExportingPhase::Paused => "PAUSED",
            ExportingPhase::Closed => "CLOSED",
            ExportingPhase::Unknown => "UNKNOWN",
        }
    }
}

/// The backup run holding the cluster: while it does, only it pauses or resumes exporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHold {
    /// `None` while the run is still being started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<u64>,
    /// The step it is at ("Soft-pause Zeebe exporting", ...), or "starting".
    pub phase: String,
    /// It has reached its own resume (or is ending early and resuming).
    #[serde(default)]
    pub resuming: bool,
}

/// One round of the cluster's status poller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub cluster: String,
    pub profile: VersionProfile,
    /// When the round started, epoch milliseconds (server clock).
    pub taken_at_ms: i64,
    /// How long the round took.
    pub took_ms: i64,
    /// The poller's interval, so a reader can tell a late round from a normal one.
    pub interval_ms: i64,
    /// The server's clock when this answer was sent: ages are computed against it, not against a
    /// browser clock that may be off.
    #[serde(default)]
    pub served_at_ms: i64,
    pub components: Vec<ComponentStatus>,
    pub exporting: ExportingStatus,
    pub phase: ExportingPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<RunHold>,
}

impl ClusterStatus {
    /// How old the round is at `now_ms`, never negative.
    pub fn age_ms(&self, now_ms: i64) -> i64 {
        (now_ms - self.taken_at_ms).max(0)
    }

    /// Older than [`STALE_AFTER_MS`], or three intervals if the poller is slower than that.
    pub fn stale_after_ms(&self) -> i64 {
        STALE_AFTER_MS.max(self.interval_ms.saturating_mul(3))
    }

    pub fn is_stale(&self, now_ms: i64) -> bool {
        self.age_ms(now_ms) > self.stale_after_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PartitionExporting;

    fn exporting(phases: &[&str]) -> ExportingStatus {
        ExportingStatus {
            partitions: phases
                .iter()
                .enumerate()
                .map(|(i, p)| PartitionExporting {
                    partition_id: i as u32 + 1,
                    phase: p.to_string(),
                    role: None,
                })
                .collect(),
            error: None,
        }
    }

    #[test]
    fn the_least_healthy_partition_sets_the_phase() {
        assert_eq!(
            ExportingPhase::of(&exporting(&["EXPORTING", "EXPORTING"])),
            ExportingPhase::Exporting
        );
        assert_eq!(
            ExportingPhase::of(&exporting(&["EXPORTING", "SOFT_PAUSED"])),
            ExportingPhase::SoftPaused
        );
        assert_eq!(
            ExportingPhase::of(&exporting(&["PAUSED", "SOFT_PAUSED"])),
            ExportingPhase::Paused
        );
        assert_eq!(
            ExportingPhase::of(&exporting(&["EXPORTING", "NEW_PHASE"])),
            ExportingPhase::Unknown
        );
    }

    #[test]
    fn a_failed_or_empty_read_is_unknown_never_exporting() {
        let mut failed = exporting(&["EXPORTING"]);
        failed.error = Some("Zeebe GET /actuator/partitions: cannot connect".into());
        assert_eq!(ExportingPhase::of(&failed), ExportingPhase::Unknown);
        assert_eq!(ExportingPhase::of(&exporting(&[])), ExportingPhase::Unknown);
    }

    #[test]
    fn staleness_follows_the_interval_beyond_thirty_seconds() {
        let status = ClusterStatus {
            cluster: "c".into(),
            profile: VersionProfile::V88,
            taken_at_ms: 1_000_000,
            took_ms: 5,
            interval_ms: 10_000,
            served_at_ms: 0,
            components: Vec::new(),
            exporting: exporting(&["EXPORTING"]),
            phase: ExportingPhase::Exporting,
            held_by: None,
        };
        assert!(!status.is_stale(1_000_000 + 30_000));
        assert!(status.is_stale(1_000_000 + 30_001));
        assert_eq!(status.age_ms(0), 0);
        let slow = ClusterStatus {
            interval_ms: 60_000,
            ..status
        };
        assert!(!slow.is_stale(1_000_000 + 120_000));
        assert!(slow.is_stale(1_000_000 + 180_001));
    }
}
