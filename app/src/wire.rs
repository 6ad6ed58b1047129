//! The UI's own decoded forms of the server's answers where the `domain` types would cost the wasm
//! more than the pages use: serde's decoding is the biggest part of the UI's code. The JSON is the
//! server's, unchanged (it still sends every field); these types read only what a page shows, and
//! serde skips the rest.
//!
//! Tagged enums (`RunOutcome`, `PolicySource`) are read here from a flat struct of their tag and
//! fields and then built, because serde's own tagged decoding buffers the object first, and that
//! buffering is a decoder of its own in the wasm. The built value is the domain's, whole.

use backup_domain::api::VersionProfile;
use backup_domain::retention::{
    CleanupView, Pin, PolicyConfirmation, PolicySource, RetentionPolicy, RetentionState,
    ScheduleRefusal,
};
use backup_domain::run::{RunOutcome, StepState};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

/// `GET /api/clusters`, as the cluster switcher reads it: each cluster's name, API generation and
/// maintenance mode.
/// The components' health is not read here (the Overview reads the cluster's live status).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Clusters {
    pub clusters: Vec<ClusterName>,
}

impl Clusters {
    /// The maintenance mode of cluster `name`, while it is on.
    pub fn maintenance_of(&self, name: &str) -> Option<backup_domain::schedule::Maintenance> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.maintenance.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClusterName {
    pub name: String,
    pub profile: VersionProfile,
    /// While it is on: the frame shows a banner on every page of the cluster.
    #[serde(default)]
    pub maintenance: Option<backup_domain::schedule::Maintenance>,
}

/// A run as `GET /api/runs/{id}` returns it (`backup_domain::run::RunView`), without its end time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunView {
    pub id: i64,
    pub cluster: String,
    pub backup_id: u64,
    pub started_by: String,
    pub started_ms: i64,
    /// What started it: `manual`, `schedule`, `cli` (`backup_domain::schedule::RunTrigger`).
    #[serde(default)]
    pub trigger: String,
    pub report: RunReport,
}

/// A run's report (`backup_domain::run::RunReport`), as the wizard and the Overview show it: the
/// transcript is not read (the page offers it as the server's script download), nor the profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunReport {
    pub backup_id: u64,
    pub steps: Vec<StepProgress>,
    #[serde(default)]
    pub skipped: Vec<String>,
    #[serde(deserialize_with = "run_outcome")]
    pub outcome: RunOutcome,
    #[serde(default)]
    pub paused_ms: Option<i64>,
    #[serde(default)]
    pub resumed_ms: Option<i64>,
}

impl RunReport {
    /// As `backup_domain::run::RunReport::exporting_paused`: paused by this run, resume not
    /// confirmed.
    pub fn exporting_paused(&self) -> bool {
        backup_domain::run::still_paused(self.paused_ms, self.resumed_ms)
    }

    /// As `backup_domain::run::RunReport::pause_window_ms`: how long exporting has been (or was)
    /// soft-paused, up to `now_ms` while it still is.
    pub fn pause_window_ms(&self, now_ms: i64) -> Option<i64> {
        backup_domain::run::pause_window_ms(self.paused_ms, self.resumed_ms, now_ms)
    }
}

/// One step's row (`backup_domain::run::StepProgress` without the step's identity).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepProgress {
    pub description: String,
    pub state: StepState,
    #[serde(default)]
    pub started_ms: Option<i64>,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeTag {
    Running,
    Completed,
    Failed,
    Cancelled,
    ExportingStillPaused,
    Interrupted,
}

/// `{"outcome": "failed", "step": .., "reason": ..}`: the tag and every variant's fields.
#[derive(Deserialize)]
struct OutcomeFields {
    outcome: OutcomeTag,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    by: Option<String>,
}

fn run_outcome<'de, D: Deserializer<'de>>(d: D) -> Result<RunOutcome, D::Error> {
    let f = OutcomeFields::deserialize(d)?;
    let need =
        |v: Option<String>, name: &'static str| v.ok_or_else(|| D::Error::missing_field(name));
    Ok(match f.outcome {
        OutcomeTag::Running => RunOutcome::Running,
        OutcomeTag::Completed => RunOutcome::Completed,
        OutcomeTag::Failed => RunOutcome::Failed {
            step: need(f.step, "step")?,
            reason: need(f.reason, "reason")?,
        },
        OutcomeTag::Cancelled => RunOutcome::Cancelled {
            step: need(f.step, "step")?,
            by: need(f.by, "by")?,
        },
        OutcomeTag::ExportingStillPaused => RunOutcome::ExportingStillPaused {
            reason: need(f.reason, "reason")?,
        },
        OutcomeTag::Interrupted => RunOutcome::Interrupted {
            reason: need(f.reason, "reason")?,
        },
    })
}

/// `GET /api/clusters/{name}/retention`, decoded into the domain's `RetentionState` whole: every
/// field, with the policy's source read through [`policy_source`].
#[derive(Deserialize)]
struct RetentionStateFields {
    policy: RetentionPolicy,
    #[serde(deserialize_with = "policy_source")]
    source: PolicySource,
    pins: Vec<Pin>,
    #[serde(default)]
    running_backup_id: Option<u64>,
    #[serde(default)]
    last_cleanup: Option<CleanupView>,
    #[serde(default)]
    next_scheduled_ms: Option<i64>,
    #[serde(default)]
    confirmed: Option<PolicyConfirmation>,
    #[serde(default)]
    schedule_refusal: Option<ScheduleRefusal>,
}

/// The retention state in the domain's type, which the pages and the planner take.
pub struct Retention(pub RetentionState);

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = RetentionStateFields::deserialize(d)?;
        Ok(Retention(RetentionState {
            policy: f.policy,
            source: f.source,
            pins: f.pins,
            running_backup_id: f.running_backup_id,
            last_cleanup: f.last_cleanup,
            next_scheduled_ms: f.next_scheduled_ms,
            confirmed: f.confirmed,
            schedule_refusal: f.schedule_refusal,
        }))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum SourceTag {
    Default,
    ConfigFile,
    Saved,
}

/// `{"kind": "saved", "by": .., "at_ms": ..}`.
#[derive(Deserialize)]
struct SourceFields {
    kind: SourceTag,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    at_ms: Option<i64>,
}

fn policy_source<'de, D: Deserializer<'de>>(d: D) -> Result<PolicySource, D::Error> {
    let f = SourceFields::deserialize(d)?;
    Ok(match f.kind {
        SourceTag::Default => PolicySource::Default,
        SourceTag::ConfigFile => PolicySource::ConfigFile,
        SourceTag::Saved => PolicySource::Saved {
            by: f.by.ok_or_else(|| D::Error::missing_field("by"))?,
            at_ms: f.at_ms.ok_or_else(|| D::Error::missing_field("at_ms"))?,
        },
    })
}

// A variant added to `RunOutcome` or `PolicySource` must get its tag here too: these exhaustive
// matches stop the build until it does, instead of the UI failing to decode the answer at run time.
const _: fn(&RunOutcome) -> OutcomeTag = |outcome| match outcome {
    RunOutcome::Running => OutcomeTag::Running,
    RunOutcome::Completed => OutcomeTag::Completed,
    RunOutcome::Failed { .. } => OutcomeTag::Failed,
    RunOutcome::Cancelled { .. } => OutcomeTag::Cancelled,
    RunOutcome::ExportingStillPaused { .. } => OutcomeTag::ExportingStillPaused,
    RunOutcome::Interrupted { .. } => OutcomeTag::Interrupted,
};
const _: fn(&PolicySource) -> SourceTag = |source| match source {
    PolicySource::Default => SourceTag::Default,
    PolicySource::ConfigFile => SourceTag::ConfigFile,
    PolicySource::Saved { .. } => SourceTag::Saved,
};

/// `GET /api/notifications` (`backup_domain::notify::NotificationsResponse`) as the fleet view
/// shows it: kinds, events and outcomes are read as the server's words, not as the domain's
/// enums, each of which would be a decoder of its own in the wasm.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Notifications {
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Channel {
    pub name: String,
    pub kind: String,
    pub events: Vec<String>,
    /// Where it goes, as the server describes it (never the URL or a secret).
    pub target: String,
    pub pending: u64,
    #[serde(default)]
    pub last_delivery: Option<Delivery>,
}

/// The last delivery of a channel, or a "Send test" outcome: `delivered`, `retrying`, `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Delivery {
    pub at_ms: i64,
    #[serde(default)]
    pub event: Option<String>,
    pub outcome: String,
    #[serde(default)]
    pub error: Option<String>,
}
