//! A backup run as the server reports it and the wizard shows it: each step's state and timing,
//! the pause window, the outcome, and the transcript of every upstream call, which also renders as
//! the equivalent curl script an administrator can keep or replay by hand.

use serde::{Deserialize, Serialize};

use crate::api::{ExportingStatus, VersionProfile};
use crate::backup_set::Component;
use crate::id::BackupId;
use crate::procedure::ProcedureStep;
use crate::string_enum::open_string_enum;

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
    pub fn state(&self) -> RunState {
        match self {
            RunOutcome::Running => RunState::Running,
            RunOutcome::Completed => RunState::Completed,
            RunOutcome::Failed { .. } => RunState::Failed,
            RunOutcome::Cancelled { .. } => RunState::Cancelled,
            RunOutcome::ExportingStillPaused { .. } => RunState::ExportingStillPaused,
            RunOutcome::Interrupted { .. } => RunState::Interrupted,
        }
    }
}

open_string_enum! {
    /// A stored run's `state` column: which kind of [`RunOutcome`] it ended with, or `running`.
    /// The same texts as the `outcome` tag of the report.
    pub enum RunState("run state") {
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
        ExportingStillPaused = "exporting_still_paused",
        Interrupted = "interrupted",
        _ => Unknown,
    }
}

impl RunState {
    /// The outcome of a stored run whose report lacks one (written by an older version, or cut
    /// short by a crash): its kind from the state, its details marked as missing. A state this
    /// build does not know reads as failed, never as completed.
    pub fn outcome_without_report(&self) -> RunOutcome {
        let reason = || "the stored report of this run is incomplete".to_string();
        match self {
            RunState::Running => RunOutcome::Running,
            RunState::Completed => RunOutcome::Completed,
            RunState::ExportingStillPaused => RunOutcome::ExportingStillPaused { reason: reason() },
            RunState::Interrupted => RunOutcome::Interrupted { reason: reason() },
            RunState::Cancelled => RunOutcome::Cancelled {
                step: "-".into(),
                by: "unknown (the stored report of this run is incomplete)".into(),
            },
            RunState::Failed | RunState::Unknown(_) => RunOutcome::Failed {
                step: "-".into(),
                reason: reason(),
            },
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

/// One entry of a run's transcript: an upstream exchange and the procedure step the runner was
/// executing when it was made. On the wire the step is one more field of the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// `None` only in transcripts stored before entries carried their step: those are grouped by
    /// the steps' start times, which cannot tell apart steps started in the same millisecond.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<ProcedureStep>,
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// An entry reads as its exchange (`entry.url`, `entry.status`): the step is one more field.
impl std::ops::Deref for TranscriptEntry {
    type Target = Exchange;

    fn deref(&self) -> &Exchange {
        &self.exchange
    }
}

/// What a poll's answer means for the procedure: the top-level `state` of a JSON status body
/// (timestamps such as Zeebe's `lastUpdatedAt` change on every poll), or the whole body otherwise.
fn poll_answer(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

/// Appends `exchange`, made by `step`, folding it into the previous entry when it is the same poll
/// of the same step with the same answer, so that an hour of polling stays a handful of lines.
pub fn record_exchange(
    transcript: &mut Vec<TranscriptEntry>,
    step: Option<ProcedureStep>,
    mut exchange: Exchange,
) {
    if exchange.response.len() > MAX_RECORDED_BODY {
        let mut cut = MAX_RECORDED_BODY;
        while !exchange.response.is_char_boundary(cut) {
            cut -= 1;
        }
        exchange.response.truncate(cut);
        exchange.response.push('…');
    }
    if let Some(TranscriptEntry {
        step: last_step,
        exchange: last,
    }) = transcript.last_mut()
        && *last_step == step
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
    transcript.push(TranscriptEntry { step, exchange });
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
    pub transcript: Vec<TranscriptEntry>,
}

impl RunReport {
    /// Exporting was (or may have been) paused by this run and its resume is not confirmed.
    pub fn exporting_paused(&self) -> bool {
        still_paused(self.paused_ms, self.resumed_ms)
    }

    /// How long exporting has been (or was) soft-paused, up to `now_ms` while it still is.
    pub fn pause_window_ms(&self, now_ms: i64) -> Option<i64> {
        pause_window_ms(self.paused_ms, self.resumed_ms, now_ms)
    }
}

/// A run that paused exporting and has not resumed it: the resume is still owed. The UI's thinner
/// report asks the same of its two times.
pub fn still_paused(paused_ms: Option<i64>, resumed_ms: Option<i64>) -> bool {
    paused_ms.is_some() && resumed_ms.is_none()
}

/// How long exporting has been (or was) soft-paused, up to `now_ms` while it still is.
pub fn pause_window_ms(
    paused_ms: Option<i64>,
    resumed_ms: Option<i64>,
    now_ms: i64,
) -> Option<i64> {
    Some(resumed_ms.unwrap_or(now_ms) - paused_ms?)
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
    /// What started it (a schedule, the CLI, someone in the console).
    #[serde(default = "manual")]
    pub trigger: crate::schedule::RunTrigger,
    pub report: RunReport,
}

fn manual() -> crate::schedule::RunTrigger {
    crate::schedule::RunTrigger::Manual
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
    pub backup_id: Option<BackupId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
}

open_string_enum! {
    /// Which preflight check this is. Code selects checks by it, never by their display `name`;
    /// a check a later server adds reads as `Unknown` in an older tab.
    pub enum PreflightCheckId("preflight check") {
        /// One component answers its listing and has backup storage (see `component`).
        ComponentStorage = "component_storage",
        /// Every partition is exporting.
        Exporting = "exporting",
        /// No other backup run holds the cluster.
        NoOtherRun = "no_other_run",
        _ => Unknown,
    }
}

/// One preflight check, with how to fix it when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCheck {
    pub id: PreflightCheckId,
    /// The component a `component_storage` check is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    /// For people; it may be reworded at any time.
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
    /// Zeebe generates the ID (its own scheduler, `zeebe_scheduler = true`): the start takes
    /// none, and `proposed_backup_id` is 0.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub zeebe_generates_id: bool,
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
            id: PreflightCheckId::ComponentStorage,
            component: Some(component),
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
        id: PreflightCheckId::ComponentStorage,
        component: Some(component),
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
            id: PreflightCheckId::Exporting,
            component: None,
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
            id: PreflightCheckId::Exporting,
            component: None,
            name,
            status: CheckStatus::Fail,
            detail: "no partition reported its exporter phase".into(),
            fix: Some("Check the brokers' /actuator/partitions.".into()),
        };
    }
    if stopped.is_empty() {
        PreflightCheck {
            id: PreflightCheckId::Exporting,
            component: None,
            name,
            status: CheckStatus::Pass,
            detail: format!("{} partitions EXPORTING", exporting.partitions.len()),
            fix: None,
        }
    } else {
        PreflightCheck {
            id: PreflightCheckId::Exporting,
            component: None,
            name,
            status: CheckStatus::Fail,
            detail: stopped.join(", "),
            fix: Some("Make sure no other backup is running, then resume exporting from the Overview page.".into()),
        }
    }
}

/// No other run may hold the cluster: `running` is the run in progress (`Some(None)` while one
/// is starting and has no ID yet), `None` when the cluster is free.
pub fn no_other_run_check(running: Option<Option<i64>>) -> PreflightCheck {
    let name = "No other backup run on this cluster".to_string();
    let (status, detail, fix) = match running {
        None => (CheckStatus::Pass, "none in progress".to_string(), None),
        Some(id) => (
            CheckStatus::Fail,
            match id {
                Some(id) => format!("run {id} is in progress"),
                None => "a run is starting".into(),
            },
            Some("Wait for it to finish, or cancel it from its progress page.".to_string()),
        ),
    };
    PreflightCheck {
        id: PreflightCheckId::NoOtherRun,
        component: None,
        name,
        status,
        detail,
        fix,
    }
}

/// The latest ID from Zeebe's 409 `BackupAlreadyExistException` message, in any of its three
/// wordings ("The latest backup has id X" / "has ID X", contract §3.8), and from a REST problem
/// detail that words it shorter ("..., the latest is X").
pub fn latest_id_from_conflict(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let rest = ["the latest backup has id", "the latest is"]
        .iter()
        .find_map(|w| lower.find(w).map(|at| &lower[at + w.len()..]))?;
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

/// A piece of a URL or body in the script: literal text, or the backup ID, which the script
/// takes from `$BACKUP_ID` so that it can be run again with another ID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    BackupId,
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Piece::Text(last)) = pieces.last_mut() {
        last.push_str(text);
    } else {
        pieces.push(Piece::Text(text.to_string()));
    }
}

/// A URL with the backup ID in its path (`…/backups/42`, `…_records_backup_42`) made a variable.
/// Credentials in the URL's authority (`user:password@`) are dropped; the second value says so.
fn url_pieces(url: &str, id: u64) -> (Vec<Piece>, bool) {
    let id = id.to_string();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    let (authority, had_credentials) = match authority.rsplit_once('@') {
        Some((_, host)) => (host, true),
        None => (authority, false),
    };
    let mut pieces = Vec::new();
    if !scheme.is_empty() {
        push_text(&mut pieces, &format!("{scheme}://"));
    }
    push_text(&mut pieces, authority);
    let query_start = path_and_query
        .find(['?', '#'])
        .unwrap_or(path_and_query.len());
    let (path, query) = path_and_query.split_at(query_start);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            push_text(&mut pieces, "/");
        }
        if segment == id {
            pieces.push(Piece::BackupId);
        } else if let Some(prefix) = segment
            .strip_suffix(id.as_str())
            .filter(|p| p.ends_with('_'))
        {
            push_text(&mut pieces, prefix);
            pieces.push(Piece::BackupId);
        } else {
            push_text(&mut pieces, segment);
        }
    }
    push_text(&mut pieces, query);
    (pieces, had_credentials)
}

/// A request body with its `"backupId":42` made a variable.
fn body_pieces(body: &str, id: u64) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = body;
    let plain = format!("\"backupId\":{id}");
    while let Some(at) = rest.find(&plain) {
        let end = at + plain.len();
        if rest[end..].starts_with(|c: char| c.is_ascii_digit()) {
            push_text(&mut pieces, &rest[..end]);
        } else {
            push_text(
                &mut pieces,
                &rest[..at + plain.len() - id.to_string().len()],
            );
            pieces.push(Piece::BackupId);
        }
        rest = &rest[end..];
    }
    push_text(&mut pieces, rest);
    pieces
}

/// One shell word: single-quoted text, the ID as `"$BACKUP_ID"` between the quotes.
fn shell_word(pieces: &[Piece]) -> String {
    if pieces.is_empty() {
        return "''".into();
    }
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => shell_quote(t),
            Piece::BackupId => "\"$BACKUP_ID\"".into(),
        })
        .collect()
}

/// One shell word in double quotes, for an assignment: `"http://h/…${BACKUP_ID}"`.
fn double_quoted(pieces: &[Piece]) -> String {
    let mut out = String::from('"');
    for p in pieces {
        match p {
            Piece::Text(t) => {
                for c in t.chars() {
                    if matches!(c, '"' | '\\' | '$' | '`') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Piece::BackupId => out.push_str("${BACKUP_ID}"),
        }
    }
    out.push('"');
    out
}

/// Text safe on one comment line: control characters (a newline would end the comment) become
/// spaces, and long text is cut.
fn comment_text(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat.to_string()
    }
}

/// How the run's answer to `exchange` read, for a comment under the request.
fn answer_comment(exchange: &Exchange) -> String {
    match (exchange.status, &exchange.error) {
        (Some(status), _) if exchange.response.trim().is_empty() => format!("HTTP {status}"),
        (Some(status), _) => format!("HTTP {status} {}", comment_text(&exchange.response, 300)),
        (None, Some(error)) => format!("no answer: {}", comment_text(error, 300)),
        (None, None) => "no answer".into(),
    }
}

/// A poll's answer in a word: the state `filter` (`.state`, `.snapshots[0].state`) reads, or the
/// HTTP status when there is none.
fn poll_summary(exchange: &Exchange, filter: &str) -> String {
    let state = serde_json::from_str::<serde_json::Value>(&exchange.response)
        .ok()
        .and_then(|v| {
            let v = match filter {
                ".snapshots[0].state" => v.get("snapshots")?.get(0)?.get("state")?.clone(),
                _ => v.get("state")?.clone(),
            };
            v.as_str().map(|s| comment_text(s, 40))
        });
    match (exchange.status, state) {
        (Some(status), Some(state)) if (200..300).contains(&status) => state,
        (Some(status), _) => format!("HTTP {status}"),
        (None, _) => "no answer".into(),
    }
}

/// Which step each entry belongs to: its own, or for entries stored before entries carried one,
/// the last step that had started by then (steps started in the same millisecond are lost).
fn entry_steps(report: &RunReport) -> Vec<Option<ProcedureStep>> {
    report
        .transcript
        .iter()
        .map(|e| {
            e.step.or_else(|| {
                report
                    .steps
                    .iter()
                    .rfind(|s| s.started_ms.is_some_and(|start| start <= e.exchange.at_ms))
                    .map(|s| s.step)
            })
        })
        .collect()
}

const SCRIPT_HELPERS: &str = r#"
BACKUP_ID=${BACKUP_ID:-__BACKUP_ID__}
POLL_ATTEMPTS=${POLL_ATTEMPTS:-720}
POLL_SLEEP=${POLL_SLEEP:-5}
RESUME_ATTEMPTS=${RESUME_ATTEMPTS:-30}
if ! [[ $BACKUP_ID =~ ^[1-9][0-9]*$ ]]; then
  echo "BACKUP_ID must be a positive integer, not '$BACKUP_ID'" >&2
  exit 2
fi
command -v curl >/dev/null || { echo "this script needs curl" >&2; exit 2; }
command -v jq >/dev/null || { echo "this script needs jq" >&2; exit 2; }

# Requests stop the script on an HTTP error (--fail); polls read the status themselves.
CURL=(curl --fail -sS)
POLL=(curl -sS -w '\n%{http_code}')

# auth URL: HEADER becomes the Authorization header for URL, one array element whatever the
# variable holds: the 8.10 REST API's (/v2) own CAMUNDA_REST_AUTH_HEADER, so its credentials
# never go to Optimize, Elasticsearch or the management port; CAMUNDA_AUTH_HEADER elsewhere.
auth() {
  HEADER=()
  if [[ $1 == */v2/* ]]; then
    if [[ -n ${CAMUNDA_REST_AUTH_HEADER:-} ]]; then
      HEADER=(-H "Authorization: ${CAMUNDA_REST_AUTH_HEADER}")
    fi
  elif [[ -n ${CAMUNDA_AUTH_HEADER:-} ]]; then
    HEADER=(-H "Authorization: ${CAMUNDA_AUTH_HEADER}")
  fi
}

# request -X METHOD URL CURL-ARGS...: one request; prints its answer.
request() {
  auth "$3"
  "${CURL[@]}" ${HEADER[@]+"${HEADER[@]}"} "$@" || return 1
  echo
}

# exporting_request URL: POST /actuator/exporting/...; it answers HTTP 200 even when it failed,
# so success is the body's "status" 204, or an empty body (Camunda's management API page says so).
exporting_request() {
  local answer
  auth "$1"
  answer=$("${CURL[@]}" ${HEADER[@]+"${HEADER[@]}"} -X POST "$1") || return 1
  echo "$answer"
  if [[ -n $answer ]] && ! jq -e '.status == 204 or .status == 200' >/dev/null <<<"$answer"; then
    echo "exporting request $1 failed: $answer" >&2
    return 1
  fi
}

# wait_for NAME URL FILTER DONE: polls URL until the jq FILTER reads DONE. Stops at FAILED, PARTIAL
# or INCOMPATIBLE, at an HTTP error other than 404 (a backup not registered yet), or after
# POLL_ATTEMPTS polls POLL_SLEEP seconds apart.
wait_for() {
  local name=$1 url=$2 filter=$3 done_state=$4 answer code body state attempt
  for ((attempt = 1; attempt <= POLL_ATTEMPTS; attempt++)); do
    state=
    auth "$url"
    answer=$("${POLL[@]}" ${HEADER[@]+"${HEADER[@]}"} "$url") || { echo "$name: no answer from $url" >&2; return 1; }
    code=${answer##*$'\n'}
    body=${answer%$'\n'*}
    if [[ $code == 2?? ]]; then
      state=$(jq -r "$filter // empty" <<<"$body") || { echo "$name: unreadable answer: $body" >&2; return 1; }
      case $state in
        "$done_state") echo "$name: $state"; return 0 ;;
        FAILED | PARTIAL | INCOMPATIBLE) echo "$name: $state: $body" >&2; return 1 ;;
      esac
    elif [[ $code != 404 ]]; then
      echo "$name: HTTP $code from $url: $body" >&2
      return 1
    fi
    echo "$name: ${state:-not registered yet} (poll $attempt of $POLL_ATTEMPTS)"
    sleep "$POLL_SLEEP"
  done
  echo "$name: not $done_state after $POLL_ATTEMPTS polls" >&2
  return 1
}

# still_paused URL: every partition's exporter reads SOFT_PAUSED or PAUSED; someone may have
# resumed exporting meanwhile, and a Zeebe backup then would not match the snapshots before it.
still_paused() {
  local answer
  auth "$1"
  answer=$("${CURL[@]}" ${HEADER[@]+"${HEADER[@]}"} "$1") || return 1
  if ! jq -e '[.[].exporterPhase] | length > 0 and all(. == "SOFT_PAUSED" or . == "PAUSED")' >/dev/null <<<"$answer"; then
    echo "exporting is no longer paused ($1): $answer" >&2
    return 1
  fi
}

# resume_exporting URL: resumes until Zeebe confirms it, up to RESUME_ATTEMPTS times.
PAUSED=no
resume_exporting() {
  local attempt
  for ((attempt = 1; attempt <= RESUME_ATTEMPTS; attempt++)); do
    if exporting_request "$1"; then
      PAUSED=no
      echo "exporting resumed"
      return 0
    fi
    sleep "$POLL_SLEEP"
  done
  echo "ALERT: exporting is still paused; resume it now: curl -X POST $1" >&2
  return 1
}

# Armed at the pause: any exit while exporting may be paused (an error, a failed wait, Ctrl-C)
# resumes it, since a pause left behind stops log compaction and fills the brokers' disks.
on_exit() {
  local status=$?
  if [[ $PAUSED == yes ]]; then
    echo "stopping (exit $status) with exporting paused: resuming it" >&2
    resume_exporting "$RESUME_URL" || status=1
  fi
  exit "$status"
}
"#;

/// The status URL a wait polls: the GET of this step whose path carries the backup ID.
fn status_url(entries: &[&Exchange], id: u64) -> Option<Vec<Piece>> {
    entries
        .iter()
        .filter(|e| e.method == "GET")
        .map(|e| url_pieces(&e.url, id).0)
        .find(|p| p.contains(&Piece::BackupId))
}

/// The run's transcript as a runnable bash script of the same procedure: the requests the console
/// sent, under the step that sent them, in the order of the run's steps, with real waits and a
/// resume of exporting on any exit after the pause. Credentials are never in it: the
/// Authorization header comes from `$CAMUNDA_AUTH_HEADER`.
pub fn curl_script(cluster: &str, report: &RunReport) -> String {
    let steps = entry_steps(report);
    let legacy = report.transcript.iter().any(|e| e.step.is_none());
    let mut out = String::new();
    out.push_str("#!/usr/bin/env bash\n");
    out.push_str(&format!(
        "# Backup {} of cluster {} (Camunda {}), as run by Backup Console for Camunda 8; the run {}.\n",
        report.backup_id,
        comment_text(cluster, 100),
        report.profile.label(),
        outcome_text(&report.outcome),
    ));
    for skipped in &report.skipped {
        out.push_str(&format!(
            "# Left out of the plan: {}.\n",
            comment_text(skipped, 300)
        ));
    }
    if legacy {
        legacy_listing(&mut out, report, &steps);
        return out;
    }
    out.push_str(
        "#\n# The requests the console sent, under the step that sent them and in the order of the\n\
         # run's steps, with real waits; the run's answers are shown as comments.\n\
         #\n\
         # Usage: BACKUP_ID=$(date +%s) bash this-script.sh\n\
         #   BACKUP_ID            the backup ID; the default is this run's, and Zeebe accepts only an\n\
         #                        ID above every ID it has used, so a new backup needs a new one.\n\
         #   CAMUNDA_AUTH_HEADER  the value of the Authorization header, if the endpoints need one,\n\
         #                        e.g. 'Bearer TOKEN' or 'Basic BASE64'; sent as one header on every\n\
         #                        request but the REST API's (not split into words).\n\
         #   CAMUNDA_REST_AUTH_HEADER  the same for the 8.10 REST API (URLs with /v2/) only.\n\
         #                        Credentials are never in this file.\n\
         #   POLL_ATTEMPTS, POLL_SLEEP   polls per wait (720) and seconds between them (5).\n\
         #   RESUME_ATTEMPTS      tries to resume exporting (30, POLL_SLEEP apart).\n\
         # Needs bash, curl and jq. Once the pause is sent, any exit resumes exporting.\n\
         set -euo pipefail\n",
    );
    out.push_str(&SCRIPT_HELPERS.replace("__BACKUP_ID__", &report.backup_id.to_string()));
    let id = report.backup_id;
    let of_step = |step: ProcedureStep| -> Vec<&Exchange> {
        report
            .transcript
            .iter()
            .zip(&steps)
            .filter(|(_, s)| **s == Some(step))
            .map(|(e, _)| &e.exchange)
            .collect()
    };
    let mut credentials_dropped = false;
    let mut word = |url: &str| {
        let (pieces, dropped) = url_pieces(url, id);
        credentials_dropped |= dropped;
        shell_word(&pieces)
    };
    // The resume URL, known before the resume step runs: the recorded resume, or the pause URL's
    // sibling (contract §4.1: `/actuator/exporting/{pause|resume}` on the same base).
    let resume_url: Option<Vec<Piece>> = of_step(ProcedureStep::ResumeExporting)
        .iter()
        .find(|e| e.method == "POST")
        .map(|e| url_pieces(&e.url, id).0)
        .or_else(|| {
            of_step(ProcedureStep::SoftPauseExporting)
                .iter()
                .find(|e| e.method == "POST")
                .and_then(|e| {
                    let base = e.url.split_once("/exporting/pause")?.0;
                    Some(url_pieces(&format!("{base}/exporting/resume"), id).0)
                })
        });
    let mut stopped = false;
    for progress in &report.steps {
        let step = progress.step;
        out.push_str(&format!(
            "\n# == {} ==\n",
            comment_text(&progress.description, 200)
        ));
        if stopped {
            out.push_str("# Not reached: the script stops above.\n");
            continue;
        }
        let exchanges = of_step(step);
        let mut replayed: Vec<(String, String, Option<String>)> = Vec::new();
        let mut replay = |out: &mut String, e: &Exchange, word: &mut dyn FnMut(&str) -> String| {
            let key = (e.method.clone(), e.url.clone(), e.request_body.clone());
            if replayed.contains(&key) {
                out.push_str(&format!(
                    "# The run sent this {} again (a retry); the script sends it once.\n",
                    e.method
                ));
                return;
            }
            replayed.push(key);
            let mut line = format!("request -X {} {}", e.method, word(&e.url));
            if let Some(body) = &e.request_body {
                line.push_str(&format!(
                    " -H 'Content-Type: application/json' -d {}",
                    shell_word(&body_pieces(body, id))
                ));
            }
            out.push_str(&line);
            out.push('\n');
            out.push_str(&format!("#  -> in the run: {}\n", answer_comment(e)));
        };
        let not_run = |out: &mut String, why: &str| {
            out.push_str(&format!(
                "# {why}: there is no faithful command to write here, so the script stops.\n\
                 echo {} >&2\nexit 1\n",
                shell_quote(&format!(
                    "'{}' has no recorded request to replay; finish the procedure by hand",
                    progress.description
                ))
            ));
        };
        if let ProcedureStep::DumpDatabase(c) = step {
            // A dump is a local command, not a request: the script names it and goes on, since
            // the backup itself does not depend on it.
            out.push_str(&format!(
                "# The console ran pg_dump for the {} ({}); this script does not repeat it. By hand:\n\
                 #   pg_dump --format=custom --file=<directory>/<cluster>/$BACKUP_ID/<name>.dump \"$DATABASE_URL\"\n\
                 #   pg_restore --list <that file> > /dev/null\n",
                c.label(),
                state_text(progress.state)
            ));
            continue;
        }
        if exchanges.is_empty() && step != ProcedureStep::ResumeExporting {
            not_run(
                &mut out,
                &format!(
                    "The console sent no request for this step (it ended {})",
                    state_text(progress.state)
                ),
            );
            stopped = true;
            continue;
        }
        match step {
            ProcedureStep::Start(_) | ProcedureStep::StartZeebe => {
                for e in &exchanges {
                    if e.method == "GET" && e.url.contains("/actuator/partitions") {
                        out.push_str(&format!(
                            "# The console first checked that exporting was still paused.\nstill_paused {}\n",
                            word(&e.url)
                        ));
                    } else if e.method == "GET" {
                        out.push_str(&format!(
                            "# The console also read {} (not replayed).\n",
                            comment_text(&e.url, 300)
                        ));
                    } else {
                        replay(&mut out, e, &mut word);
                    }
                }
            }
            ProcedureStep::WaitFor(_)
            | ProcedureStep::WaitForZeebe
            | ProcedureStep::SnapshotRecords => {
                let (name, filter, done) = match step {
                    ProcedureStep::WaitFor(c) => {
                        (format!("{} backup", c.label()), ".state", "COMPLETED")
                    }
                    ProcedureStep::WaitForZeebe => ("Zeebe backup".into(), ".state", "COMPLETED"),
                    _ => ("records snapshot".into(), ".snapshots[0].state", "SUCCESS"),
                };
                for e in exchanges.iter().filter(|e| e.method != "GET") {
                    replay(&mut out, e, &mut word);
                }
                let Some(url) = status_url(&exchanges, id) else {
                    not_run(
                        &mut out,
                        "The run made no status request with the backup ID",
                    );
                    stopped = true;
                    continue;
                };
                let url_text = shell_word(&url);
                let mut polls: Vec<(String, u32)> = Vec::new();
                for e in exchanges.iter().filter(|e| e.method == "GET") {
                    if url_pieces(&e.url, id).0 == url {
                        let answer = poll_summary(e, filter);
                        match polls.last_mut() {
                            Some((last, n)) if *last == answer => *n += e.repeats,
                            _ => polls.push((answer, e.repeats)),
                        }
                    } else {
                        out.push_str(&format!(
                            "# The console also read {} ({}); the loop below reads only the status.\n",
                            comment_text(&e.url, 300),
                            answer_comment(e)
                        ));
                    }
                }
                let total: u32 = polls.iter().map(|(_, n)| n).sum();
                let answers: Vec<String> = polls
                    .iter()
                    .map(|(a, n)| {
                        if *n == 1 {
                            a.clone()
                        } else {
                            format!("{a} ×{n}")
                        }
                    })
                    .collect();
                out.push_str(&format!(
                    "# polled {total} time{} in the run: {}\n",
                    if total == 1 { "" } else { "s" },
                    answers.join(", ")
                ));
                out.push_str(&format!(
                    "wait_for {} {url_text} {} {done}\n",
                    shell_quote(&name),
                    shell_quote(filter)
                ));
            }
            ProcedureStep::SoftPauseExporting => {
                let Some(resume) = &resume_url else {
                    not_run(
                        &mut out,
                        "The pause request does not name /exporting/pause, so the resume URL is unknown",
                    );
                    stopped = true;
                    continue;
                };
                out.push_str(&format!(
                    "# From here on exporting is owed a resume; the trap is armed before the request, since a\n\
                     # failed pause can leave some partitions paused.\n\
                     RESUME_URL={}\nPAUSED=yes\ntrap on_exit EXIT\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\ntrap 'exit 129' HUP\n",
                    double_quoted(resume)
                ));
                for e in exchanges.iter().filter(|e| e.method == "POST") {
                    out.push_str(&format!("exporting_request {}\n", word(&e.url)));
                    out.push_str(&format!("#  -> in the run: {}\n", answer_comment(e)));
                }
            }
            ProcedureStep::DumpDatabase(_) => {}
            ProcedureStep::ResumeExporting => {
                let Some(resume) = &resume_url else {
                    out.push_str("# No pause was sent, so there is nothing to resume.\n");
                    continue;
                };
                let posts: Vec<&&Exchange> =
                    exchanges.iter().filter(|e| e.method == "POST").collect();
                if progress.state != StepState::Done {
                    out.push_str(&format!(
                        "# The run did not reach this step (it ended {}){}.\n",
                        state_text(progress.state),
                        if posts.is_empty() {
                            ""
                        } else {
                            "; the console resumed exporting after the failure"
                        }
                    ));
                }
                if let Some(last) = posts.last() {
                    out.push_str(&format!(
                        "# In the run: {} attempt{}; last answer: {}\n",
                        posts.iter().map(|e| e.repeats).sum::<u32>(),
                        if posts.len() == 1 { "" } else { "s" },
                        answer_comment(last)
                    ));
                }
                out.push_str(&format!("resume_exporting {}\n", shell_word(resume)));
            }
        }
    }
    if !stopped {
        out.push_str("\necho \"backup $BACKUP_ID: every step done\"\n");
    }
    if credentials_dropped {
        out.push_str(
            "# Credentials in the recorded URLs were left out: set CAMUNDA_AUTH_HEADER instead.\n",
        );
    }
    out
}

fn state_text(state: StepState) -> &'static str {
    match state {
        StepState::Pending => "pending",
        StepState::Running => "running",
        StepState::Done => "done",
        StepState::Failed => "failed",
        StepState::NotRun => "not run",
    }
}

fn outcome_text(outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Running => "was still running".into(),
        RunOutcome::Completed => "completed".into(),
        RunOutcome::Failed { step, reason } => format!(
            "failed at '{}': {}",
            comment_text(step, 100),
            comment_text(reason, 300)
        ),
        RunOutcome::Cancelled { step, by } => format!(
            "was cancelled by {} at '{}'",
            comment_text(by, 100),
            comment_text(step, 100)
        ),
        RunOutcome::ExportingStillPaused { reason } => format!(
            "ended with exporting still paused: {}",
            comment_text(reason, 300)
        ),
        RunOutcome::Interrupted { reason } => {
            format!("was interrupted: {}", comment_text(reason, 300))
        }
    }
}

/// A transcript stored before entries carried their step: its steps can only be guessed from
/// the start times, so it is listed, not made runnable.
fn legacy_listing(out: &mut String, report: &RunReport, steps: &[Option<ProcedureStep>]) {
    out.push_str(
        "#\n# NOT RUNNABLE: this run was recorded before each request carried its step, so requests are\n\
         # grouped by the steps' start times, and steps that started in the same millisecond lose their\n\
         # heading. The calls are listed as comments, with the run's answers; download the script of a\n\
         # newer run for a runnable one.\n\
         set -euo pipefail\n\
         echo 'This is a transcript of an older run, not a runnable script.' >&2\n\
         exit 1\n",
    );
    let mut current: Option<ProcedureStep> = None;
    for (entry, step) in report.transcript.iter().zip(steps) {
        let e = &entry.exchange;
        if step.is_some() && *step != current {
            let heading = report
                .steps
                .iter()
                .find(|s| Some(s.step) == *step)
                .map_or_else(String::new, |s| s.description.clone());
            out.push_str(&format!("\n# == {} ==\n", comment_text(&heading, 200)));
            current = *step;
        }
        if e.repeats > 1 {
            out.push_str(&format!("# polled {} times with this answer\n", e.repeats));
        }
        let (pieces, _) = url_pieces(&e.url, report.backup_id);
        let url: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::BackupId => report.backup_id.to_string(),
            })
            .collect();
        let mut line = format!("# curl -X {} {}", e.method, shell_quote(&url));
        if let Some(body) = &e.request_body {
            line.push_str(&format!(
                " -H 'Content-Type: application/json' -d {}",
                shell_quote(&comment_text(body, 2_000))
            ));
        }
        out.push_str(&line);
        out.push('\n');
        out.push_str(&format!("#  -> {}\n", answer_comment(e)));
    }
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
        record_exchange(&mut t, None, poll.clone());
        record_exchange(&mut t, None, poll.clone());
        record_exchange(&mut t, None, poll.clone());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].repeats, 3);
        record_exchange(
            &mut t,
            None,
            exchange("GET", "http://z/actuator/backups/5", 200, "COMPLETED"),
        );
        assert_eq!(t.len(), 2);
        let post = exchange("POST", "http://z/actuator/exporting/resume", 200, "{}");
        record_exchange(&mut t, None, post.clone());
        record_exchange(&mut t, None, post);
        assert_eq!(t.len(), 4, "a repeated POST is two requests, not a poll");
    }

    #[test]
    fn polls_differing_only_in_timestamps_fold_and_keep_the_latest_answer() {
        let mut t = Vec::new();
        let url = "http://z/actuator/backupRuntime/5";
        let body = |at: u32, state: &str| {
            format!(r#"{{"backupId":5,"state":"{state}","details":[{{"lastUpdatedAt":"{at}"}}]}}"#)
        };
        record_exchange(
            &mut t,
            None,
            exchange("GET", url, 200, &body(1, "IN_PROGRESS")),
        );
        record_exchange(
            &mut t,
            None,
            exchange("GET", url, 200, &body(2, "IN_PROGRESS")),
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].repeats, 2);
        assert!(t[0].response.contains(r#""lastUpdatedAt":"2""#));
        record_exchange(
            &mut t,
            None,
            exchange("GET", url, 200, &body(3, "COMPLETED")),
        );
        assert_eq!(t.len(), 2, "a change of state is a new entry");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let mut t = Vec::new();
        let body = "é".repeat(MAX_RECORDED_BODY);
        record_exchange(&mut t, None, exchange("GET", "u", 200, &body));
        assert!(t[0].response.len() <= MAX_RECORDED_BODY + '…'.len_utf8());
        assert!(t[0].response.ends_with('…'));
    }

    #[test]
    fn the_latest_id_is_read_from_every_conflict_wording() {
        for message in [
            "Requested backup has id 5. The latest backup has id 1700000123. Id of new backups must be higher than the previous one. ",
            "Requested backup has id 5. The latest backup has id 1700000123. A backupId is an integer and must be greater than the ID of previous backups that are completed, failed, or deleted. Zeebe does not take two backups with the same ids.",
            "Requested backup has ID 5. The latest backup has ID 1700000123. The backup ID must be greater than the ID of previous backups that are completed, failed, or deleted.",
            "A backup with the same or a higher ID exists: the requested ID is 5, the latest is 1700000123",
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

    fn progress(step: ProcedureStep, started_ms: i64, state: StepState) -> StepProgress {
        StepProgress {
            step,
            description: step.describe(),
            state,
            started_ms: Some(started_ms),
            ended_ms: Some(started_ms),
            detail: None,
        }
    }

    fn post(url: &str, body: &str, status: u16, response: &str) -> Exchange {
        Exchange {
            request_body: Some(body.into()),
            ..exchange("POST", url, status, response)
        }
    }

    /// A completed 8.7 run in which every step started in the same millisecond, as the simulator
    /// and a fast cluster make them.
    fn run_87(id: u64) -> RunReport {
        use Component::*;
        use ProcedureStep::*;
        let o = "http://operate:9600";
        let t = "http://tasklist:9600";
        let op = "http://optimize:8092";
        let z = "http://zeebe:9600";
        let es = "http://es:9200";
        let body = format!(r#"{{"backupId":{id}}}"#);
        let done = |state: &str| format!(r#"{{"backupId":{id},"state":"{state}","details":[]}}"#);
        let plan = [
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
        ];
        let calls: Vec<(ProcedureStep, Exchange)> = vec![
            (
                Start(Operate),
                post(
                    &format!("{o}/actuator/backups"),
                    &body,
                    200,
                    r#"{"scheduledSnapshots":["a"]}"#,
                ),
            ),
            (
                Start(Tasklist),
                post(
                    &format!("{t}/actuator/backups"),
                    &body,
                    200,
                    r#"{"scheduledSnapshots":["b"]}"#,
                ),
            ),
            (
                Start(Optimize),
                post(
                    &format!("{op}/actuator/backups"),
                    &body,
                    202,
                    r#"{"message" : "scheduled"}"#,
                ),
            ),
            (
                WaitFor(Operate),
                Exchange {
                    repeats: 7,
                    ..exchange(
                        "GET",
                        &format!("{o}/actuator/backups/{id}"),
                        200,
                        &done("IN_PROGRESS"),
                    )
                },
            ),
            (
                WaitFor(Operate),
                exchange(
                    "GET",
                    &format!("{o}/actuator/backups/{id}"),
                    200,
                    &done("COMPLETED"),
                ),
            ),
            (
                WaitFor(Tasklist),
                exchange(
                    "GET",
                    &format!("{t}/actuator/backups/{id}"),
                    200,
                    &done("COMPLETED"),
                ),
            ),
            (
                WaitFor(Optimize),
                exchange(
                    "GET",
                    &format!("{op}/actuator/backups/{id}"),
                    200,
                    &done("COMPLETED"),
                ),
            ),
            (
                SoftPauseExporting,
                exchange(
                    "POST",
                    &format!("{z}/actuator/exporting/pause?soft=true"),
                    200,
                    r#"{"body":null,"status":204,"contentType":null}"#,
                ),
            ),
            (
                SnapshotRecords,
                Exchange {
                    method: "PUT".into(),
                    ..post(
                        &format!(
                            "{es}/_snapshot/camunda/camunda_zeebe_records_backup_{id}?wait_for_completion=false"
                        ),
                        r#"{"feature_states":["none"],"indices":"zeebe-record*"}"#,
                        200,
                        r#"{"accepted":true}"#,
                    )
                },
            ),
            (
                SnapshotRecords,
                exchange(
                    "GET",
                    &format!("{es}/_snapshot/camunda/camunda_zeebe_records_backup_{id}"),
                    200,
                    r#"{"snapshots":[{"state":"SUCCESS"}]}"#,
                ),
            ),
            (
                StartZeebe,
                exchange(
                    "GET",
                    &format!("{z}/actuator/partitions"),
                    200,
                    r#"{"1":{"exporterPhase":"SOFT_PAUSED"}}"#,
                ),
            ),
            (
                StartZeebe,
                post(
                    &format!("{z}/actuator/backups"),
                    &body,
                    202,
                    r#"{"message":"A backup with id 42 has been scheduled."}"#,
                ),
            ),
            (
                WaitForZeebe,
                exchange(
                    "GET",
                    &format!("{z}/actuator/backups/{id}"),
                    200,
                    &done("COMPLETED"),
                ),
            ),
            (
                ResumeExporting,
                exchange(
                    "POST",
                    &format!("{z}/actuator/exporting/resume"),
                    200,
                    r#"{"body":null,"status":204,"contentType":null}"#,
                ),
            ),
        ];
        let mut transcript = Vec::new();
        for (step, e) in calls {
            record_exchange(&mut transcript, Some(step), e);
        }
        RunReport {
            backup_id: id,
            profile: VersionProfile::V87,
            steps: plan
                .iter()
                .map(|s| progress(*s, 100, StepState::Done))
                .collect(),
            skipped: vec![],
            outcome: RunOutcome::Completed,
            paused_ms: Some(100),
            resumed_ms: Some(100),
            transcript,
        }
    }

    fn position(script: &str, needle: &str) -> usize {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from\n{script}"))
    }

    /// The lines bash runs, without comments.
    fn commands(script: &str) -> Vec<&str> {
        script
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect()
    }

    #[test]
    fn steps_started_in_the_same_millisecond_keep_their_own_headings() {
        let report = run_87(42);
        let script = curl_script("prod", &report);
        // Each heading is directly followed by its own request, whatever the start times say.
        let under = |heading: &str, request: &str| {
            let h = position(&script, &format!("# == {heading} =="));
            let r = position(&script[h..], request);
            let next = script[h + 1..].find("# == ").map_or(usize::MAX, |n| n + 1);
            assert!(r < next, "{request} is not under {heading}:\n{script}");
        };
        under(
            "Start the Operate backup",
            "-X POST 'http://operate:9600/actuator/backups'",
        );
        under(
            "Start the Tasklist backup",
            "-X POST 'http://tasklist:9600/actuator/backups'",
        );
        under(
            "Start the Optimize backup",
            "-X POST 'http://optimize:8092/actuator/backups'",
        );
        under(
            "Wait until the Operate backup completes",
            "wait_for 'Operate backup' 'http://operate:9600/actuator/backups/'\"$BACKUP_ID\"",
        );
        under(
            "Wait until the Optimize backup completes",
            "wait_for 'Optimize backup' 'http://optimize:8092/actuator/backups/'\"$BACKUP_ID\"",
        );
        under(
            "Soft-pause Zeebe exporting",
            "exporting_request 'http://zeebe:9600/actuator/exporting/pause?soft=true'",
        );
        under(
            "Snapshot the zeebe-record indices",
            "-X PUT 'http://es:9200/_snapshot/camunda/camunda_zeebe_records_backup_'\"$BACKUP_ID\"'?wait_for_completion=false'",
        );
        under(
            "Snapshot the zeebe-record indices",
            "wait_for 'records snapshot' 'http://es:9200/_snapshot/camunda/camunda_zeebe_records_backup_'\"$BACKUP_ID\" '.snapshots[0].state' SUCCESS",
        );
        under(
            "Start the Zeebe backup",
            "still_paused 'http://zeebe:9600/actuator/partitions'",
        );
        under(
            "Start the Zeebe backup",
            "-X POST 'http://zeebe:9600/actuator/backups'",
        );
        under(
            "Resume Zeebe exporting",
            "resume_exporting 'http://zeebe:9600/actuator/exporting/resume'",
        );
        assert_eq!(script.matches("# == ").count(), report.steps.len());
        assert!(script.contains("# polled 8 times in the run: IN_PROGRESS ×7, COMPLETED\n"));
    }

    #[test]
    fn the_script_waits_for_the_web_apps_before_the_pause_and_resumes_on_any_exit() {
        let script = curl_script("prod", &run_87(42));
        assert!(script.starts_with("#!/usr/bin/env bash\n"));
        assert!(script.contains("\nset -euo pipefail\n"));
        assert!(script.contains("CURL=(curl --fail -sS)"));
        assert!(script.contains("BACKUP_ID=${BACKUP_ID:-42}\n"));
        // Real waits, bounded, failing on a failed state.
        assert!(script.contains("for ((attempt = 1; attempt <= POLL_ATTEMPTS; attempt++)); do"));
        assert!(script.contains("FAILED | PARTIAL | INCOMPATIBLE)"));
        let pause = position(
            &script,
            "exporting_request 'http://zeebe:9600/actuator/exporting/pause?soft=true'",
        );
        for app in ["Operate", "Tasklist", "Optimize"] {
            assert!(
                position(&script, &format!("wait_for '{app} backup' ")) < pause,
                "the pause waits for {app}:\n{script}"
            );
        }
        // The trap is armed at the pause, before the Zeebe backup, and resumes on any exit.
        let trap = position(&script, "trap on_exit EXIT");
        assert!(
            pause - trap < 200 && trap < pause,
            "armed right at the pause"
        );
        assert!(trap < position(&script, "# == Start the Zeebe backup =="));
        assert!(position(&script, "# == Soft-pause Zeebe exporting ==") < trap);
        assert!(script.contains("RESUME_URL=\"http://zeebe:9600/actuator/exporting/resume\""));
        assert!(script.contains("resume_exporting \"$RESUME_URL\""));
        assert!(script.contains("trap 'exit 130' INT"));
        // The ID is a variable everywhere a command uses it.
        for line in commands(&script) {
            if !line.starts_with("BACKUP_ID=") {
                assert!(!line.contains("42"), "the ID is written out in {line}");
            }
        }
        assert!(script.contains(r#"-d '{"backupId":'"$BACKUP_ID"'}'"#));
    }

    #[test]
    fn the_script_takes_authentication_from_the_environment_and_holds_no_secret() {
        let mut report = run_87(42);
        for e in &mut report.transcript {
            e.exchange.url = e
                .exchange
                .url
                .replace("http://zeebe:9600", "http://admin:hunter2@zeebe:9600");
        }
        let script = curl_script("prod", &report);
        assert!(!script.contains("hunter2"), "{script}");
        assert!(!script.contains("admin:"), "{script}");
        assert!(script.contains("-X POST 'http://zeebe:9600/actuator/backups'"));
        assert!(script.contains("Credentials in the recorded URLs were left out"));
        // One header, never split into words (L10), and only when set.
        assert!(script.contains("elif [[ -n ${CAMUNDA_AUTH_HEADER:-} ]]; then\n    HEADER=(-H \"Authorization: ${CAMUNDA_AUTH_HEADER}\")"));
        assert!(!script.contains("CURL+=(-H"));
        assert!(script.contains("#   CAMUNDA_AUTH_HEADER  the value of the Authorization header"));
        assert!(!script.contains("CAMUNDA_CURL_AUTH"));
        assert!(!script.contains("AUTH=("));
    }

    #[test]
    fn the_88_script_pauses_first_as_the_run_did() {
        use Component::*;
        use ProcedureStep::*;
        let z = "http://oc:9600";
        let plan = [
            SoftPauseExporting,
            Start(Webapps),
            WaitFor(Webapps),
            StartZeebe,
            WaitForZeebe,
            ResumeExporting,
        ];
        let calls = [
            (
                SoftPauseExporting,
                exchange(
                    "POST",
                    &format!("{z}/actuator/exporting/pause?soft=true"),
                    200,
                    r#"{"status":204}"#,
                ),
            ),
            (
                Start(Webapps),
                post(
                    &format!("{z}/actuator/backupHistory"),
                    r#"{"backupId":7}"#,
                    200,
                    "{}",
                ),
            ),
            (
                WaitFor(Webapps),
                exchange(
                    "GET",
                    &format!("{z}/actuator/backupHistory/7"),
                    200,
                    r#"{"state":"COMPLETED"}"#,
                ),
            ),
            (
                StartZeebe,
                post(
                    &format!("{z}/actuator/backupRuntime"),
                    r#"{"backupId":7}"#,
                    202,
                    "{}",
                ),
            ),
            (
                WaitForZeebe,
                exchange(
                    "GET",
                    &format!("{z}/actuator/backupRuntime/7"),
                    200,
                    r#"{"state":"COMPLETED"}"#,
                ),
            ),
            (
                ResumeExporting,
                exchange(
                    "POST",
                    &format!("{z}/actuator/exporting/resume"),
                    200,
                    r#"{"status":204}"#,
                ),
            ),
        ];
        let mut transcript = Vec::new();
        for (step, e) in calls {
            record_exchange(&mut transcript, Some(step), e);
        }
        let report = RunReport {
            backup_id: 7,
            profile: VersionProfile::V88,
            steps: plan
                .iter()
                .map(|s| progress(*s, 5, StepState::Done))
                .collect(),
            skipped: vec!["Optimize is not configured: no Optimize backup is taken".into()],
            outcome: RunOutcome::Completed,
            paused_ms: Some(5),
            resumed_ms: Some(6),
            transcript,
        };
        let script = curl_script("oc", &report);
        let trap = position(&script, "trap on_exit EXIT");
        assert!(trap < position(&script, "pause?soft=true'"));
        assert!(
            position(&script, "pause?soft=true'") < position(&script, "/actuator/backupHistory'")
        );
        assert!(script.contains("wait_for 'Web apps backup' 'http://oc:9600/actuator/backupHistory/'\"$BACKUP_ID\" '.state' COMPLETED"));
        assert!(script.contains("# Left out of the plan: Optimize is not configured"));
        assert_syntax(&script);
    }

    /// A run that failed at the Zeebe wait: the console's own resume is filed under the resume
    /// step; a cancelled run stops the script where the run stopped.
    #[test]
    fn a_failed_or_cancelled_run_gives_a_script_that_stops_where_the_run_did() {
        let mut failed = run_87(42);
        let n = failed.steps.len();
        failed.steps[n - 2].state = StepState::Failed;
        failed.steps[n - 1].state = StepState::NotRun;
        failed.outcome = RunOutcome::Failed {
            step: "Wait until the Zeebe backup completes".into(),
            reason: "FAILED".into(),
        };
        let script = curl_script("prod", &failed);
        assert!(script.contains("the run failed at 'Wait until the Zeebe backup completes'"));
        assert!(script.contains("the console resumed exporting after the failure"));
        assert!(script.contains("resume_exporting 'http://zeebe:9600/actuator/exporting/resume'"));
        assert_syntax(&script);

        let mut cancelled = run_87(42);
        cancelled.transcript.retain(|e| {
            !matches!(
                e.step,
                Some(ProcedureStep::WaitFor(Component::Optimize))
                    | Some(ProcedureStep::SoftPauseExporting)
                    | Some(ProcedureStep::SnapshotRecords)
                    | Some(ProcedureStep::StartZeebe)
                    | Some(ProcedureStep::WaitForZeebe)
                    | Some(ProcedureStep::ResumeExporting)
            )
        });
        for s in &mut cancelled.steps[5..] {
            s.state = StepState::NotRun;
        }
        let script = curl_script("prod", &cancelled);
        let stop = position(&script, "exit 1\n");
        assert!(position(&script, "# == Wait until the Optimize backup completes ==") < stop);
        assert!(stop < position(&script, "# == Soft-pause Zeebe exporting =="));
        assert!(
            !script.contains("trap on_exit"),
            "no pause was sent, none is replayed"
        );
        assert!(script.contains("# Not reached: the script stops above."));
        assert_syntax(&script);
    }

    #[test]
    fn entries_carry_their_step_and_older_transcripts_without_one_still_load() {
        let mut t = Vec::new();
        let poll = exchange("GET", "http://z/actuator/partitions", 200, "{}");
        record_exchange(&mut t, Some(ProcedureStep::StartZeebe), poll.clone());
        record_exchange(&mut t, Some(ProcedureStep::ResumeExporting), poll);
        assert_eq!(t.len(), 2, "the same poll in another step is another entry");
        let json = serde_json::to_value(&t[0]).unwrap();
        assert_eq!(json["step"]["kind"], "start_zeebe");
        assert_eq!(json["url"], "http://z/actuator/partitions");
        assert_eq!(
            serde_json::from_value::<TranscriptEntry>(json).unwrap(),
            t[0]
        );

        // A row stored before entries carried their step.
        let old = serde_json::json!({
            "backup_id": 42, "profile": "8.7",
            "steps": [
                {"step": {"kind": "start", "component": "operate"}, "description": "Start the Operate backup", "state": "done", "started_ms": 5},
                {"step": {"kind": "start", "component": "tasklist"}, "description": "Start the Tasklist backup", "state": "done", "started_ms": 5}
            ],
            "outcome": {"outcome": "completed"},
            "transcript": [
                {"at_ms": 5, "component": "operate", "method": "POST", "url": "http://o/actuator/backups", "request_body": "{\"backupId\":42}", "status": 200, "response": "{}", "duration_ms": 1},
                {"at_ms": 5, "component": "tasklist", "method": "POST", "url": "http://t/actuator/backups", "status": 200, "duration_ms": 1, "repeats": 2}
            ]
        });
        let report: RunReport = serde_json::from_value(old).expect("an old row loads");
        assert_eq!(report.transcript[0].step, None);
        assert_eq!(report.transcript[0].repeats, 1);
        assert_eq!(report.transcript[1].repeats, 2);
        let script = curl_script("prod", &report);
        assert!(script.contains("# NOT RUNNABLE"), "{script}");
        assert!(script.contains("\nexit 1\n"));
        // The old grouping by time: both under the last step started by then.
        assert!(script.contains(
            "# == Start the Tasklist backup ==\n# curl -X POST 'http://o/actuator/backups'"
        ));
        assert!(!script.contains("# == Start the Operate backup =="));
        assert!(commands(&script).iter().all(|l| !l.contains("curl -X")));
        assert_syntax(&script);
    }

    #[test]
    fn backup_ids_become_the_variable_only_where_they_are_the_id() {
        let (pieces, dropped) = url_pieces("http://h:42/actuator/backups/42?x=42", 42);
        assert!(!dropped);
        assert_eq!(
            shell_word(&pieces),
            "'http://h:42/actuator/backups/'\"$BACKUP_ID\"'?x=42'"
        );
        let (pieces, _) = url_pieces("http://h/actuator/backups/420", 42);
        assert_eq!(
            pieces,
            vec![Piece::Text("http://h/actuator/backups/420".into())]
        );
        assert_eq!(
            shell_word(&body_pieces(r#"{"backupId":420}"#, 42)),
            r#"'{"backupId":420}'"#
        );
        assert_eq!(
            shell_word(&body_pieces(r#"{"backupId":42,"x":"it's"}"#, 42)),
            r#"'{"backupId":'"$BACKUP_ID"',"x":"it'\''s"}'"#
        );
        assert_eq!(
            double_quoted(&url_pieces("http://h/$x\"/7", 7).0),
            r#""http://h/\$x\"/${BACKUP_ID}""#
        );
    }

    /// `bash -n`: the script parses. Skipped where bash is missing.
    fn assert_syntax(script: &str) {
        use std::io::Write;
        let Ok(mut child) = std::process::Command::new("bash")
            .arg("-n")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("bash not found: syntax check skipped");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "bash -n: {}\n{script}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs `code` with bash and `env`; `None` where bash is missing.
    fn bash(code: &str, env: &[(&str, &str)]) -> Option<String> {
        let output = std::process::Command::new("bash")
            .args(["-c", code])
            .env_remove("CAMUNDA_AUTH_HEADER")
            .env_remove("CAMUNDA_REST_AUTH_HEADER")
            .envs(env.iter().copied())
            .output()
            .ok()?;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    #[test]
    fn the_authorization_header_is_one_word_whatever_it_holds() {
        let script = curl_script("prod", &run_87(42));
        let setup = &script[..position(&script, "# request -X METHOD URL")];
        let code = |url: &str| {
            format!(
                "{setup}\nauth {url}\nprintf '<%s>\\n' \"${{CURL[@]}}\" ${{HEADER[@]+\"${{HEADER[@]}}\"}}"
            )
        };
        let env = [
            ("CAMUNDA_AUTH_HEADER", "Bearer a  b *"),
            ("CAMUNDA_REST_AUTH_HEADER", "Basic rest  c"),
        ];
        let Some(with) = bash(&code("http://zeebe:9600/actuator/backups"), &env) else {
            return;
        };
        assert_eq!(
            with,
            "<curl>\n<--fail>\n<-sS>\n<-H>\n<Authorization: Bearer a  b *>\n"
        );
        // The REST API's credentials go to /v2 only, and only they do.
        let rest = bash(&code("http://gw:8080/v2/backups/runtime"), &env).unwrap();
        assert_eq!(
            rest,
            "<curl>\n<--fail>\n<-sS>\n<-H>\n<Authorization: Basic rest  c>\n"
        );
        let without = bash(&code("http://zeebe:9600/actuator/backups"), &[]).unwrap();
        assert_eq!(without, "<curl>\n<--fail>\n<-sS>\n");
    }

    #[test]
    fn the_generated_script_passes_bash_syntax_check() {
        assert_syntax(&curl_script("prod", &run_87(1_700_000_000)));
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

    #[test]
    fn run_states_round_trip_and_unknown_ones_are_kept() {
        crate::string_enum::assert_open_string_enum!(RunState::Unknown);
    }

    /// The state column and the report's `outcome` tag are one vocabulary: a stored state read
    /// back without its report gives an outcome of the same state (review P4: `cancelled` did not).
    #[test]
    fn every_state_reads_back_as_an_outcome_of_that_state() {
        for state in RunState::KNOWN {
            let outcome = state.outcome_without_report();
            assert_eq!(&outcome.state(), state);
            assert_eq!(
                serde_json::to_value(&outcome).unwrap()["outcome"],
                state.as_str()
            );
        }
        assert_eq!(
            RunState::from("paused_forever")
                .outcome_without_report()
                .state(),
            RunState::Failed
        );
    }

    #[test]
    fn every_check_has_its_id_and_start_ids_are_validated_on_the_wire() {
        let zeebe = component_check(Component::Zeebe, None);
        assert_eq!(
            (zeebe.id.clone(), zeebe.component),
            (PreflightCheckId::ComponentStorage, Some(Component::Zeebe))
        );
        let exporting = exporting_check(&ExportingStatus::default());
        assert_eq!(
            (exporting.id.clone(), exporting.component),
            (PreflightCheckId::Exporting, None)
        );
        assert_eq!(no_other_run_check(None).id, PreflightCheckId::NoOtherRun);
        assert_eq!(no_other_run_check(None).status, CheckStatus::Pass);
        let busy = no_other_run_check(Some(Some(4)));
        assert_eq!(
            (busy.status, busy.detail.as_str()),
            (CheckStatus::Fail, "run 4 is in progress")
        );
        assert_eq!(no_other_run_check(Some(None)).detail, "a run is starting");
        let json = serde_json::to_value(&zeebe).unwrap();
        assert_eq!(json["id"], "component_storage");
        assert_eq!(json["component"], "zeebe");
        crate::string_enum::assert_open_string_enum!(PreflightCheckId::Unknown);

        let request: StartRunRequest = serde_json::from_str(r#"{"backup_id": 12}"#).unwrap();
        assert_eq!(request.backup_id.map(BackupId::get), Some(12));
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"backup_id":12}"#
        );
        for bad in ["0", "-1", "9223372036854775808"] {
            let body = format!(r#"{{"backup_id": {bad}}}"#);
            assert!(
                serde_json::from_str::<StartRunRequest>(&body).is_err(),
                "{body}"
            );
        }
    }
}
