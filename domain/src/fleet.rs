//! The recovery point objective of a cluster and the fleet view: one row per cluster with what an
//! administrator on call asks first. The same figures feed `backup-console status` and its exit
//! code, the way a monitoring plugin answers.

use serde::{Deserialize, Serialize};

use crate::api::{LatestRestorable, Reachability, VersionProfile};
use crate::schedule::Maintenance;

/// The state of the RPO: the newest fully restorable set's age against `rpo_hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RpoState {
    Ok,
    /// At least 80 % of the objective.
    Warning,
    /// Older than the objective, or no restorable set at all.
    Breached,
    /// Not known: a component's listing failed, or the catalog has not been listed.
    Unknown,
}

impl RpoState {
    /// The exit code of a monitoring plugin: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            RpoState::Ok => 0,
            RpoState::Warning => 1,
            RpoState::Breached => 2,
            RpoState::Unknown => 3,
        }
    }

    /// As on the wire: `ok`, `warning`, `breached`, `unknown`.
    pub fn slug(self) -> &'static str {
        match self {
            RpoState::Ok => "ok",
            RpoState::Warning => "warning",
            RpoState::Breached => "breached",
            RpoState::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RpoState::Ok => "OK",
            RpoState::Warning => "WARNING",
            RpoState::Breached => "CRITICAL",
            RpoState::Unknown => "UNKNOWN",
        }
    }
}

/// The share of the objective at which the state turns to warning.
pub const WARNING_SHARE: f64 = 0.8;

/// How far ahead of now a set's start may be (clock skew between hosts) before its age is
/// taken as unknown.
pub const FUTURE_TOLERANCE_MS: i64 = 5 * 60_000;

/// A cluster's RPO as the overview and the fleet view show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpoStatus {
    pub state: RpoState,
    pub rpo_hours: u32,
    /// The newest set every component can restore, with its age.
    #[serde(default)]
    pub newest_restorable: Option<LatestRestorable>,
    /// A partially restorable set newer than it: shown beside it, never counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_partial: Option<LatestRestorable>,
    /// Why the state is what it is, in a sentence.
    pub reason: String,
}

fn aged(set: &LatestRestorable, now_ms: i64) -> LatestRestorable {
    LatestRestorable {
        age_seconds: set.started_at_ms.map(|t| (now_ms - t).max(0) / 1000),
        ..*set
    }
}

fn hours(seconds: i64) -> String {
    format!("{:.1} h", seconds as f64 / 3600.0)
}

/// The RPO state from the catalog's figures. `listing_failed` names a component whose last
/// listing failed: the newest restorable set may then be unknown, so an absent or old one is not
/// taken as a breach.
pub fn rpo_status(
    rpo_hours: u32,
    newest_restorable: Option<&LatestRestorable>,
    newest_partial: Option<&LatestRestorable>,
    listing_failed: Option<&str>,
    now_ms: i64,
) -> RpoStatus {
    let newest = newest_restorable.map(|s| aged(s, now_ms));
    let newer_partial = newest_partial
        .filter(|p| newest.as_ref().is_none_or(|n| p.backup_id > n.backup_id))
        .map(|p| aged(p, now_ms));
    let objective = i64::from(rpo_hours) * 3600;
    let (state, reason) = match (&newest, listing_failed) {
        (_, Some(component)) => (
            RpoState::Unknown,
            format!("{component}'s last listing failed: the newest restorable set is not known"),
        ),
        (None, None) => (
            RpoState::Breached,
            "no fully restorable backup exists".to_string(),
        ),
        (Some(set), None) => match set.age_seconds {
            // A start ahead of now (a component's clock, a hand-made ID) must not keep the RPO
            // green: the age is not known.
            _ if set
                .started_at_ms
                .is_some_and(|t| t > now_ms + FUTURE_TOLERANCE_MS) =>
            {
                (
                    RpoState::Unknown,
                    format!(
                        "backup {} starts in the future (a clock off?): its age is not known",
                        set.backup_id
                    ),
                )
            }
            None => (
                RpoState::Unknown,
                format!("backup {} has no start time to age it by", set.backup_id),
            ),
            Some(age) if age >= objective => (
                RpoState::Breached,
                format!(
                    "the newest restorable backup ({}) is {} old, over the {rpo_hours} h objective",
                    set.backup_id,
                    hours(age)
                ),
            ),
            Some(age) if age as f64 >= objective as f64 * WARNING_SHARE => (
                RpoState::Warning,
                format!(
                    "the newest restorable backup ({}) is {} old, {:.0} % of the {rpo_hours} h objective",
                    set.backup_id,
                    hours(age),
                    age as f64 * 100.0 / objective as f64
                ),
            ),
            Some(age) => (
                RpoState::Ok,
                format!(
                    "the newest restorable backup ({}) is {} old",
                    set.backup_id,
                    hours(age)
                ),
            ),
        },
    };
    RpoStatus {
        state,
        rpo_hours,
        newest_restorable: newest,
        newer_partial,
        reason,
    }
}

/// The last run of a cluster, as the fleet view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub run_id: i64,
    pub backup_id: u64,
    pub started_ms: i64,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    /// `running`, `completed`, `failed`, `cancelled`, `interrupted`.
    pub state: String,
    pub trigger: crate::schedule::RunTrigger,
}

/// One component's reachability in the fleet view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetComponent {
    pub component: String,
    pub reachability: Reachability,
}

/// One row of the fleet view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRow {
    pub cluster: String,
    pub profile: VersionProfile,
    pub rpo: RpoStatus,
    /// The exporter phase across partitions (`EXPORTING`, `SOFT_PAUSED`, ...; `UNKNOWN` when the
    /// brokers did not answer).
    pub exporting: String,
    #[serde(default)]
    pub last_run: Option<LastRun>,
    /// The next due time of the backup schedule, if one is enabled.
    #[serde(default)]
    pub next_backup_ms: Option<i64>,
    pub components: Vec<FleetComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<Maintenance>,
    /// When the figures were listed (the catalog's refresh), if ever.
    #[serde(default)]
    pub listed_at_ms: Option<i64>,
}

/// `GET /api/fleet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetResponse {
    pub clusters: Vec<FleetRow>,
}

impl FleetRow {
    /// The row's monitoring state: the RPO's, made unknown by an unreachable component or an
    /// unknown exporter phase, and at
    /// least a warning while the last run failed, exporting is not running or a component is
    /// degraded.
    pub fn state(&self) -> RpoState {
        let mut state = self.rpo.state;
        // A breach known from a good listing stays a breach.
        if state != RpoState::Breached
            && (self.exporting == "UNKNOWN"
                || self
                    .components
                    .iter()
                    .any(|c| c.reachability == Reachability::Unreachable))
        {
            return RpoState::Unknown;
        }
        let degraded = self
            .components
            .iter()
            .any(|c| c.reachability == Reachability::Degraded);
        let run_failed = self
            .last_run
            .as_ref()
            .is_some_and(|r| r.state == "failed" || r.state == "interrupted");
        let exporting_off = self.exporting != "EXPORTING";
        if (run_failed || exporting_off || degraded) && state == RpoState::Ok {
            state = RpoState::Warning;
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn set(id: u64, at: i64) -> LatestRestorable {
        LatestRestorable {
            backup_id: id,
            started_at_ms: Some(at),
            age_seconds: None,
        }
    }

    #[test]
    fn the_slug_is_the_wire_name() {
        for state in [
            RpoState::Ok,
            RpoState::Warning,
            RpoState::Breached,
            RpoState::Unknown,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.slug())
            );
        }
    }

    #[test]
    fn the_state_follows_the_age_against_the_objective() {
        let now = 100 * H;
        let at = |age_h: f64| {
            rpo_status(
                10,
                Some(&set(1, now - (age_h * H as f64) as i64)),
                None,
                None,
                now,
            )
        };
        assert_eq!(at(1.0).state, RpoState::Ok);
        assert_eq!(at(7.9).state, RpoState::Ok);
        assert_eq!(at(8.0).state, RpoState::Warning);
        assert_eq!(at(9.99).state, RpoState::Warning);
        assert_eq!(at(10.0).state, RpoState::Breached);
        assert!(
            at(12.0).reason.contains("12.0 h old"),
            "{}",
            at(12.0).reason
        );
        assert_eq!(at(1.0).newest_restorable.unwrap().age_seconds, Some(3600));
    }

    #[test]
    fn no_restorable_set_is_a_breach_but_a_failed_listing_is_unknown() {
        assert_eq!(
            rpo_status(26, None, None, None, 0).state,
            RpoState::Breached
        );
        let unknown = rpo_status(26, None, None, Some("Optimize"), 0);
        assert_eq!(unknown.state, RpoState::Unknown);
        assert!(unknown.reason.contains("Optimize"));
        // Even an old restorable set is not called breached while a listing fails.
        let old = rpo_status(1, Some(&set(1, 0)), None, Some("Zeebe"), 100 * H);
        assert_eq!(old.state, RpoState::Unknown);
    }

    #[test]
    fn a_newer_partial_set_is_shown_but_never_counted() {
        let now = 100 * H;
        let status = rpo_status(
            10,
            Some(&set(1, now - 11 * H)),
            Some(&set(2, now - H)),
            None,
            now,
        );
        assert_eq!(status.state, RpoState::Breached);
        assert_eq!(status.newer_partial.as_ref().map(|p| p.backup_id), Some(2));
        // An older partial set is not shown.
        let status = rpo_status(
            10,
            Some(&set(3, now - H)),
            Some(&set(2, now - 2 * H)),
            None,
            now,
        );
        assert!(status.newer_partial.is_none());
    }

    #[test]
    fn exit_codes_are_those_of_a_monitoring_plugin() {
        let codes: Vec<i32> = [
            RpoState::Ok,
            RpoState::Warning,
            RpoState::Breached,
            RpoState::Unknown,
        ]
        .iter()
        .map(|s| s.exit_code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3]);
    }

    #[test]
    fn an_unreachable_component_or_a_failed_run_colours_the_row() {
        let now = 100 * H;
        let mut row = FleetRow {
            cluster: "prod".into(),
            profile: VersionProfile::V88,
            rpo: rpo_status(26, Some(&set(1, now - H)), None, None, now),
            exporting: "EXPORTING".into(),
            last_run: None,
            next_backup_ms: None,
            components: vec![FleetComponent {
                component: "Zeebe".into(),
                reachability: Reachability::Up,
            }],
            maintenance: None,
            listed_at_ms: Some(now),
        };
        assert_eq!(row.state(), RpoState::Ok);
        row.exporting = "SOFT_PAUSED".into();
        assert_eq!(row.state(), RpoState::Warning);
        row.exporting = "EXPORTING".into();
        row.last_run = Some(LastRun {
            run_id: 1,
            backup_id: 1,
            started_ms: now,
            ended_ms: Some(now),
            state: "failed".into(),
            trigger: crate::schedule::RunTrigger::Schedule,
        });
        assert_eq!(row.state(), RpoState::Warning);
        row.components[0].reachability = Reachability::Unreachable;
        assert_eq!(row.state(), RpoState::Unknown);
        row.components[0].reachability = Reachability::Up;
        row.exporting = "UNKNOWN".into();
        assert_eq!(
            row.state(),
            RpoState::Unknown,
            "brokers that did not answer"
        );
    }
}
