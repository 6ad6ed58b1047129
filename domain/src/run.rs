//! A backup run as the server reports it and the wizard shows it: each step's state and timing,
//! the pause window, the outcome, and the transcript of every upstream call, which also renders as
//! the equivalent curl script an administrator can keep or replay by hand.

use serde::{Deserialize, Serialize};

use crate::api::{ExportingStatus, VersionProfile};
use crate::backup_set::Component;
use crate::procedure::ProcedureStep;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
    /// Not run because an earlier step failed or the run was cancelled.
    NotRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub step: ProcedureStep,
    pub description: String,
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    /// The component's own progress or result: "2 of 3 partitions", "SUCCESS", the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RunOutcome {
    Running,
    Completed,
    Failed {
        step: String,
        reason: String,
    },
    /// Stopped by an operator after the request in flight; exporting was resumed if it was paused.
    Cancelled {
        step: String,
        by: String,
    },
    /// The run ended and resuming exporting could not be confirmed: an alarm for the administrator.
    ExportingStillPaused {
        reason: String,
    },
    /// The console stopped during the run; set when it is recovered at the next start.
    Interrupted {
        reason: String,
    },
}

impl RunOutcome {
    pub fn is_finished(&self) -> bool {
        !matches!(self, RunOutcome::Running)
    }

    /// The `state` column of the run store.
    pub fn state_name(&self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Completed => "completed",
            RunOutcome::Failed { .. } => "failed",
            RunOutcome::Cancelled { .. } => "cancelled",
            RunOutcome::ExportingStillPaused { .. } => "exporting_still_paused",
            RunOutcome::Interrupted { .. } => "interrupted",
        }
    }
}

/// One upstream request and its answer. Headers are never recorded, so credentials cannot be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub at_ms: i64,
    pub component: String,
    pub method: String,
    /// The full URL; configured URLs cannot carry credentials.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// `None` when no answer came (refused, dropped, timed out); `error` says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The answer's body, cut at [`MAX_RECORDED_BODY`] characters.
    #[serde(default)]
    pub response: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: i64,
    /// How many identical answers in a row this entry stands for (a poll loop), 1 if alone.
    #[serde(default = "one")]
    pub repeats: u32,
}

fn one() -> u32 {
    1
}

pub const MAX_RECORDED_BODY: usize = 2_000;

/// Appends `exchange`, folding it into the previous entry when it is the same poll with the same
/// answer, so that an hour of polling stays a handful of lines.
/// What a poll's answer means for the procedure: the top-level `state` of a JSON status body
/// (timestamps such as Zeebe's `lastUpdatedAt` change on every poll), or the whole body otherwise.
fn poll_answer(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

pub fn record_exchange(transcript: &mut Vec<Exchange>, mut exchange: Exchange) {
    if exchange.response.len() > MAX_RECORDED_BODY {
        let mut cut = MAX_RECORDED_BODY;
        while !exchange.response.is_char_boundary(cut) {
            cut -= 1;
        }
        exchange.response.truncate(cut);
        exchange.response.push('…');
    }
    if let Some(last) = transcript.last_mut()
        && exchange.method == "GET"
        && last.method == exchange.method
        && last.url == exchange.url
        && last.status == exchange.status
        && poll_answer(&last.response) == poll_answer(&exchange.response)
        && last.error == exchange.error
    {
        // The latest answer is kept: it carries the freshest per-partition detail.
        last.repeats += 1;
        last.response = exchange.response;
        last.at_ms = exchange.at_ms;
        return;
    }
    transcript.push(exchange);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub backup_id: u64,
    pub profile: VersionProfile,
    pub steps: Vec<StepProgress>,
    /// What the plan left out and why (an absent Optimize, say).
    #[serde(default)]
    pub skipped: Vec<String>,
    pub outcome: RunOutcome,
    /// When exporting was soft-paused and when its resume was confirmed: the pause window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_ms: Option<i64>,
    #[serde(default)]
    pub transcript: Vec<Exchange>,
}

impl RunReport {
    /// Exporting was (or may have been) paused by this run and its resume is not confirmed.
    pub fn exporting_paused(&self) -> bool {
        self.paused_ms.is_some() && self.resumed_ms.is_none()
    }

    /// How long exporting has been (or was) soft-paused, up to `now_ms` while it still is.
    pub fn pause_window_ms(&self, now_ms: i64) -> Option<i64> {
        let paused = self.paused_ms?;
        Some(self.resumed_ms.unwrap_or(now_ms) - paused)
    }
}

/// A run as `GET /api/runs/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub id: i64,
    pub cluster: String,
    pub backup_id: u64,
    pub started_by: String,
    pub started_ms: i64,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    pub report: RunReport,
}

/// `POST /api/clusters/{name}/runs` answers 202 with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: i64,
    pub backup_id: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRunRequest {
    /// Omitted: the console proposes max(now in Unix seconds, highest known ID + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
}

/// One preflight check, with how to fix it when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCheck {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// `GET /api/clusters/{name}/preflight`: what the wizard's first two steps show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preflight {
    pub checks: Vec<PreflightCheck>,
    pub proposed_backup_id: u64,
    /// The highest ID the console knows Zeebe has used (listed, run by the console, or revealed
    /// by a 409); deleted backups are not listed, so this can be below Zeebe's own.
    #[serde(default)]
    pub highest_known_id: Option<u64>,
    pub steps: Vec<String>,
    pub skipped: Vec<String>,
    #[serde(default)]
    pub running_run: Option<i64>,
}

impl Preflight {
    pub fn ready(&self) -> bool {
        self.running_run.is_none() && self.checks.iter().all(|c| c.status == CheckStatus::Pass)
    }
}

/// The check of one component's backup listing, with a fix for the failures the contract names:
/// Zeebe without a backup store (§3.8, 400), a missing or unnamed snapshot repository (§5, §6, §7),
/// or no answer at all.
pub fn component_check(component: Component, listing_error: Option<&str>) -> PreflightCheck {
    let name = format!("{} answers and has backup storage", component.label());
    let Some(error) = listing_error else {
        return PreflightCheck {
            name,
            status: CheckStatus::Pass,
            detail: "its backup listing answered".into(),
            fix: None,
        };
    };
    let lower = error.to_ascii_lowercase();
    let fix = if lower.contains("no backup store is configured") {
        "Configure a backup store on every broker (camunda.data.backup.store, or ZEEBE_BROKER_DATA_BACKUP_STORE before 8.8) and restart the brokers."
            .to_string()
    } else if lower.contains("repository_missing")
        || lower.contains("no repository with name")
        || lower.contains("no backup repository configured")
        || lower.contains("snapshot repository name")
    {
        "Register the snapshot repository in Elasticsearch/OpenSearch (PUT _snapshot/<name>) and configure the same repository name in Operate, Tasklist, Optimize and the console."
            .to_string()
    } else if lower.contains("cannot connect")
        || lower.contains("no answer within")
        || lower.contains("connection failed")
    {
        format!(
            "Check that {} is running and that the console can reach its management port.",
            component.label()
        )
    } else {
        format!(
            "Read {}'s answer above and its logs; the backup cannot start while it fails.",
            component.label()
        )
    };
    PreflightCheck {
        name,
        status: CheckStatus::Fail,
        detail: error.to_string(),
        fix: Some(fix),
    }
}

/// Every partition must be EXPORTING: a paused one means another backup or an operator is at work.
pub fn exporting_check(exporting: &ExportingStatus) -> PreflightCheck {
    let name = "Exporting runs on every partition".to_string();
    if let Some(error) = &exporting.error {
        return PreflightCheck {
            name,
            status: CheckStatus::Fail,
            detail: format!("the exporter phase cannot be read: {error}"),
            fix: Some("Check that the console can reach the brokers' /actuator/partitions.".into()),
        };
    }
    let stopped: Vec<String> = exporting
        .partitions
        .iter()
        .filter(|p| p.phase != "EXPORTING")
        .map(|p| format!("partition {} is {}", p.partition_id, p.phase))
        .collect();
    if exporting.partitions.is_empty() {
        return PreflightCheck {
            name,
            status: CheckStatus::Fail,
            detail: "no partition reported its exporter phase".into(),
            fix: Some("Check the brokers' /actuator/partitions.".into()),
        };
    }
    if stopped.is_empty() {
        PreflightCheck {
            name,
            status: CheckStatus::Pass,
            detail: format!("{} partitions EXPORTING", exporting.partitions.len()),
            fix: None,
        }
    } else {
        PreflightCheck {
            name,
            status: CheckStatus::Fail,
            detail: stopped.join(", "),
            fix: Some("Make sure no other backup is running, then resume exporting from the Overview page.".into()),
        }
    }
}

/// The latest ID from Zeebe's 409 `BackupAlreadyExistException` message, in any of its three
/// wordings ("The latest backup has id X" / "has ID X", contract §3.8).
pub fn latest_id_from_conflict(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("the latest backup has id")? + "the latest backup has id".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The run's transcript as a bash script of the same calls, for the record or a by-hand replay.
/// Credentials are left to the environment: `$CAMUNDA_CURL_AUTH` is passed to every curl.
pub fn curl_script(cluster: &str, report: &RunReport) -> String {
    let mut out = String::new();
    out.push_str("#!/usr/bin/env bash\n");
    out.push_str(&format!(
        "# Backup {} of cluster {} ({}), as run by Backup Console for Camunda 8.\n",
        report.backup_id,
        cluster,
        report.profile.label()
    ));
    out.push_str(
        "# Every request below is one the console sent, in order; answers are shown as comments.\n",
    );
    out.push_str(
        "# Credentials are not recorded: set CAMUNDA_CURL_AUTH, e.g. \"-u user:password\" or\n# \"-H 'Authorization: Bearer TOKEN'\", before running it.\n",
    );
    out.push_str("set -euo pipefail\nAUTH=(${CAMUNDA_CURL_AUTH:-})\n");
    let mut current_step: Option<String> = None;
    for exchange in &report.transcript {
        let step = report
            .steps
            .iter()
            .rfind(|s| s.started_ms.is_some_and(|start| start <= exchange.at_ms))
            .map(|s| s.description.clone());
        if step.is_some() && step != current_step {
            out.push_str(&format!(
                "\n# == {} ==\n",
                step.as_deref().unwrap_or_default()
            ));
            current_step = step;
        }
        if exchange.repeats > 1 {
            out.push_str(&format!(
                "# polled {} times with this answer; poll until it changes\n",
                exchange.repeats
            ));
        }
        let mut line = format!(
            "curl -sS \"${{AUTH[@]}}\" -X {} {}",
            exchange.method,
            shell_quote(&exchange.url)
        );
        if let Some(body) = &exchange.request_body {
            line.push_str(&format!(
                " -H 'Content-Type: application/json' -d {}",
                shell_quote(body)
            ));
        }
        out.push_str(&line);
        out.push('\n');
        let answer = match (exchange.status, &exchange.error) {
            (Some(status), _) => format!("HTTP {status} {}", exchange.response),
            (None, Some(error)) => format!("no answer: {error}"),
            (None, None) => "no answer".into(),
        };
        for (i, l) in answer.lines().enumerate() {
            out.push_str(if i == 0 { "#  -> " } else { "#     " });
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PartitionExporting;

    fn exchange(method: &str, url: &str, status: u16, response: &str) -> Exchange {
        Exchange {
            at_ms: 10,
            component: "zeebe".into(),
            method: method.into(),
            url: url.into(),
            request_body: None,
            status: Some(status),
            response: response.into(),
            error: None,
            duration_ms: 1,
            repeats: 1,
        }
    }

    #[test]
    fn repeated_polls_fold_into_one_entry_but_changes_and_posts_do_not() {
        let mut t = Vec::new();
        let poll = exchange("GET", "http://z/actuator/backups/5", 200, "IN_PROGRESS");
        record_exchange(&mut t, poll.clone());
        record_exchange(&mut t, poll.clone());
        record_exchange(&mut t, poll.clone());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].repeats, 3);
        record_exchange(
            &mut t,
            exchange("GET", "http://z/actuator/backups/5", 200, "COMPLETED"),
        );
        assert_eq!(t.len(), 2);
        let post = exchange("POST", "http://z/actuator/exporting/resume", 200, "{}");
        record_exchange(&mut t, post.clone());
        record_exchange(&mut t, post);
        assert_eq!(t.len(), 4, "a repeated POST is two requests, not a poll");
    }

    #[test]
    fn polls_differing_only_in_timestamps_fold_and_keep_the_latest_answer() {
        let mut t = Vec::new();
        let url = "http://z/actuator/backupRuntime/5";
        let body = |at: u32, state: &str| {
            format!(r#"{{"backupId":5,"state":"{state}","details":[{{"lastUpdatedAt":"{at}"}}]}}"#)
        };
        record_exchange(&mut t, exchange("GET", url, 200, &body(1, "IN_PROGRESS")));
        record_exchange(&mut t, exchange("GET", url, 200, &body(2, "IN_PROGRESS")));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].repeats, 2);
        assert!(t[0].response.contains(r#""lastUpdatedAt":"2""#));
        record_exchange(&mut t, exchange("GET", url, 200, &body(3, "COMPLETED")));
        assert_eq!(t.len(), 2, "a change of state is a new entry");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let mut t = Vec::new();
        let body = "é".repeat(MAX_RECORDED_BODY);
        record_exchange(&mut t, exchange("GET", "u", 200, &body));
        assert!(t[0].response.len() <= MAX_RECORDED_BODY + '…'.len_utf8());
        assert!(t[0].response.ends_with('…'));
    }

    #[test]
    fn the_latest_id_is_read_from_every_conflict_wording() {
        for message in [
            "Requested backup has id 5. The latest backup has id 1700000123. Id of new backups must be higher than the previous one. ",
            "Requested backup has id 5. The latest backup has id 1700000123. A backupId is an integer and must be greater than the ID of previous backups that are completed, failed, or deleted. Zeebe does not take two backups with the same ids.",
            "Requested backup has ID 5. The latest backup has ID 1700000123. The backup ID must be greater than the ID of previous backups that are completed, failed, or deleted.",
        ] {
            assert_eq!(latest_id_from_conflict(message), Some(1_700_000_123));
        }
        assert_eq!(
            latest_id_from_conflict(
                "Cannot take backup while scaling is in progress. Please retry after scaling is completed."
            ),
            None
        );
    }

    #[test]
    fn the_curl_script_replays_the_calls_in_order_without_credentials() {
        let report = RunReport {
            backup_id: 42,
            profile: VersionProfile::V88,
            steps: vec![StepProgress {
                step: ProcedureStep::SoftPauseExporting,
                description: "Soft-pause Zeebe exporting".into(),
                state: StepState::Done,
                started_ms: Some(5),
                ended_ms: Some(20),
                detail: None,
            }],
            skipped: vec![],
            outcome: RunOutcome::Completed,
            paused_ms: Some(5),
            resumed_ms: Some(30),
            transcript: vec![
                Exchange {
                    request_body: Some(r#"{"backupId":42}"#.into()),
                    ..exchange("POST", "http://h/it's", 200, "{\"status\":204}")
                },
                Exchange {
                    repeats: 4,
                    ..exchange("GET", "http://h/b/42", 200, "line1\nline2")
                },
            ],
        };
        let script = curl_script("prod", &report);
        assert!(script.contains("# == Soft-pause Zeebe exporting =="));
        let post = script
            .find("-X POST 'http://h/it'\\''s'")
            .expect("quoted URL");
        let get = script.find("-X GET 'http://h/b/42'").expect("the poll");
        assert!(post < get);
        assert!(script.contains(r#"-d '{"backupId":42}'"#));
        assert!(script.contains("# polled 4 times"));
        assert!(script.contains("#  -> HTTP 200 line1\n#     line2\n"));
        assert!(script.contains("CAMUNDA_CURL_AUTH"));
    }

    #[test]
    fn preflight_failures_come_with_the_fix_the_contract_suggests() {
        assert_eq!(
            component_check(Component::Zeebe, None).status,
            CheckStatus::Pass
        );
        let zeebe = component_check(
            Component::Zeebe,
            Some(
                "zeebe GET /actuator/backups: HTTP 400: Cannot process backup requests. No backup store is configured. To use this feature, configure backup in broker configuration.",
            ),
        );
        assert_eq!(zeebe.status, CheckStatus::Fail);
        assert!(zeebe.fix.unwrap().contains("backup store"));
        let es = component_check(
            Component::RecordsSnapshot,
            Some("HTTP 404: repository_missing_exception: [camunda] missing"),
        );
        assert!(es.fix.unwrap().contains("PUT _snapshot"));
        let down = component_check(
            Component::Optimize,
            Some("optimize GET /x: cannot connect (refused)"),
        );
        assert!(down.fix.unwrap().contains("Optimize is running"));
    }

    #[test]
    fn exporting_must_run_everywhere_and_unknown_is_a_failure() {
        let p = |id, phase: &str| PartitionExporting {
            partition_id: id,
            phase: phase.into(),
            role: None,
        };
        let ok = ExportingStatus {
            partitions: vec![p(1, "EXPORTING"), p(2, "EXPORTING")],
            error: None,
        };
        assert_eq!(exporting_check(&ok).status, CheckStatus::Pass);
        let paused = ExportingStatus {
            partitions: vec![p(1, "EXPORTING"), p(2, "SOFT_PAUSED")],
            error: None,
        };
        let check = exporting_check(&paused);
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(check.detail, "partition 2 is SOFT_PAUSED");
        let unknown = ExportingStatus {
            partitions: vec![],
            error: Some("refused".into()),
        };
        assert_eq!(exporting_check(&unknown).status, CheckStatus::Fail);
        assert_eq!(
            exporting_check(&ExportingStatus::default()).status,
            CheckStatus::Fail
        );
    }

    #[test]
    fn the_pause_window_runs_until_the_resume_is_confirmed() {
        let mut r = RunReport {
            backup_id: 1,
            profile: VersionProfile::V87,
            steps: vec![],
            skipped: vec![],
            outcome: RunOutcome::Running,
            paused_ms: Some(1_000),
            resumed_ms: None,
            transcript: vec![],
        };
        assert!(r.exporting_paused());
        assert_eq!(r.pause_window_ms(4_000), Some(3_000));
        r.resumed_ms = Some(2_500);
        assert!(!r.exporting_paused());
        assert_eq!(r.pause_window_ms(9_000), Some(1_500));
    }
}
