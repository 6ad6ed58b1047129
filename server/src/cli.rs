//! `backup-console backup`: one backup from a cron job or a script, on the same engine as the
//! console (the same runner, the same database, so the run shows in the console and one run per
//! cluster holds across both). The exit code tells the outcome; SIGINT or SIGTERM cancel the run,
//! which still resumes exporting before the process exits.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use backup_domain::id::BackupId;
use backup_domain::listing::format_elapsed;
use backup_domain::run::{RunOutcome, RunReport, StepState};
use backup_domain::schedule::RunTrigger;

use crate::config::{Config, ConfigError};
use crate::procedure::service::StartError;
use crate::services::{OpenError, Services};
use crate::store::StoreError;

/// What the exit code means, for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The backup completed (with `--wait`), or the run started (without).
    Completed = 0,
    /// The configuration, the database or the process itself failed; nothing was started.
    Error = 1,
    /// Bad arguments, an unknown cluster or a refused backup ID; nothing was started.
    Usage = 2,
    /// Another run is in progress on the cluster.
    InProgress = 3,
    /// A preflight check failed (a component down, no backup storage, exporting not running).
    Preflight = 4,
    /// A step failed; exporting was resumed.
    Failed = 5,
    /// Cancelled (a signal, or from the console); exporting was resumed.
    Cancelled = 6,
    /// The run ended and resuming exporting could not be confirmed: resume it by hand now.
    ExportingStillPaused = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("no cluster named `{0}` in the configuration")]
    UnknownCluster(String),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot start the detached run: {0}")]
    Detach(std::io::Error),
    #[error("the detached run ended before it started: {0}")]
    DetachedEnded(String),
    #[error("cleanup refused: {0}")]
    Cleanup(String),
    #[error("{0}")]
    BadId(#[from] backup_domain::id::BackupIdError),
    #[error("no component of cluster `{cluster}` holds backup {backup_id}")]
    BackupNotFound { cluster: String, backup_id: u64 },
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::UnknownCluster(_)
            | CliError::Start(StartError::BadId(_))
            | CliError::BadId(_)
            | CliError::BackupNotFound { .. } => Exit::Usage,
            CliError::Start(StartError::InProgress { .. }) => Exit::InProgress,
            CliError::Start(StartError::Preflight(_)) => Exit::Preflight,
            _ => Exit::Error,
        }
    }
}

pub struct BackupArgs {
    pub config: PathBuf,
    pub cluster: String,
    pub id: Option<i64>,
    pub wait: bool,
    /// Internal: the child a run without `--wait` leaves behind; prints only its start line.
    pub detached: bool,
}

/// The exit code an outcome maps to.
pub fn exit_for(outcome: &RunOutcome) -> Exit {
    match outcome {
        RunOutcome::Completed => Exit::Completed,
        RunOutcome::Failed { .. } => Exit::Failed,
        RunOutcome::Cancelled { .. } => Exit::Cancelled,
        RunOutcome::ExportingStillPaused { .. } => Exit::ExportingStillPaused,
        RunOutcome::Interrupted { .. } | RunOutcome::Running => Exit::Error,
    }
}

/// One line for the end of a run: what happened, and how long exporting was paused.
pub fn summary(cluster: &str, report: &RunReport) -> String {
    let id = report.backup_id;
    let what = match &report.outcome {
        RunOutcome::Completed => format!("backup {id} of {cluster} completed"),
        RunOutcome::Failed { step, reason } => {
            format!("backup {id} of {cluster} failed at \"{step}\": {reason}")
        }
        RunOutcome::Cancelled { step, by } => {
            format!("backup {id} of {cluster} cancelled by {by} during \"{step}\"")
        }
        RunOutcome::ExportingStillPaused { reason } => format!(
            "backup {id} of {cluster} ended, and EXPORTING MAY STILL BE PAUSED: {reason}; resume it now"
        ),
        RunOutcome::Interrupted { reason } => format!("backup {id} of {cluster}: {reason}"),
        RunOutcome::Running => format!("backup {id} of {cluster} is still running"),
    };
    match (report.paused_ms, report.resumed_ms) {
        (Some(p), Some(r)) => format!(
            "{what}; exporting was soft-paused for {}",
            format_elapsed(r - p)
        ),
        _ => what,
    }
}

/// What every command opens: the one cluster named, and the services.
struct Opened {
    cluster: crate::cluster::Cluster,
    services: Services,
}

fn open(path: &Path, name: &str) -> Result<Opened, CliError> {
    let config = Config::load(path)?;
    let services = Services::open(&config)?;
    let cluster = services
        .clusters
        .get(name)
        .cloned()
        .ok_or_else(|| CliError::UnknownCluster(name.to_string()))?;
    Ok(Opened { cluster, services })
}

pub async fn backup(args: BackupArgs) -> Result<Exit, CliError> {
    if !args.wait && !args.detached {
        return detach(&args);
    }
    let Opened { cluster, services } = open(&args.config, &args.cluster)?;
    let (clusters, service) = (services.clusters, services.runs);
    // A run a killed CLI or console left behind on any cluster is recovered first.
    for handle in service.recover(&clusters).await? {
        let _ = handle.await;
    }
    let user = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let requested = args
        .id
        .map(BackupId::try_from)
        .transpose()
        .map_err(|e| CliError::Start(StartError::BadId(e.to_string())))?;
    let started = service
        .start_as(&cluster, &user, "cli", requested, RunTrigger::Cli)
        .await?;
    say_stdout(&format!(
        "started run {}: backup {} of {}",
        started.run_id, started.backup_id, cluster.name
    ));
    let Some(mut progress) = service.subscribe(started.run_id) else {
        return Err(CliError::DetachedEnded("the run vanished".into()));
    };
    let mut signals = Signals::new();
    let mut last_states: Vec<StepState> = Vec::new();
    let mut cancelled = false;
    loop {
        let report = progress.borrow_and_update().clone();
        if !args.detached {
            print_changes(&report, &mut last_states);
        }
        if report.outcome.is_finished() {
            if !args.detached {
                say_stdout(&summary(&cluster.name, &report));
            }
            return Ok(exit_for(&report.outcome));
        }
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() {
                    // The sender is gone: its last value is the final report.
                    let report = progress.borrow().clone();
                    if !args.detached {
                        print_changes(&report, &mut last_states);
                        say_stdout(&summary(&cluster.name, &report));
                    }
                    return Ok(exit_for(&report.outcome));
                }
            }
            name = signals.next() => {
                if !cancelled {
                    cancelled = true;
                    if !args.detached {
                        eprintln!("{name}: cancelling after the request in flight; exporting is resumed before exit");
                    }
                    let _ = service.cancel(started.run_id, &format!("signal {name}"), "cli").await;
                } else if !args.detached {
                    eprintln!("{name}: still resuming exporting, please wait");
                }
            }
        }
    }
}

pub struct CleanupArgs {
    pub config: PathBuf,
    pub cluster: String,
    pub dry_run: bool,
    /// Run even when an unattended cleanup would refuse (most of the history, a component empty).
    pub allow_large: bool,
}

/// `backup-console cleanup`: the plan of the cluster's policy in force (saved from the console,
/// else the file's), printed; then, unless `--dry-run`, deleted like the console does. Exit 0 when
/// everything planned is gone, 5 when some artifacts could not be deleted.
pub async fn cleanup(args: CleanupArgs) -> Result<Exit, CliError> {
    use backup_domain::retention::{ArtifactState, CleanupRequest, Decision};

    let Opened { cluster, services } = open(&args.config, &args.cluster)?;
    let service = services.retention;
    let (plan, policy, sets) = service.fresh_plan(&cluster).await?;
    let delete = plan.to_delete();
    for d in plan
        .decisions
        .iter()
        .filter(|d| d.decision == Decision::Delete)
    {
        let artifacts: Vec<String> = sets
            .iter()
            .find(|s| s.backup_id == d.backup_id)
            .map(|s| {
                backup_domain::retention::artifacts(s)
                    .into_iter()
                    .map(|a| a.component.label().to_string())
                    .collect()
            })
            .unwrap_or_default();
        say_stdout(&format!(
            "delete {} ({}): {}",
            d.backup_id,
            artifacts.join(", "),
            d.reason
        ));
    }
    let kept = plan.decisions.len() - delete.len();
    if let Some(reason) = backup_domain::retention::unattended_refusal(&sets, &plan) {
        if args.dry_run || args.allow_large {
            eprintln!("warning: {reason}");
        } else {
            let user = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            );
            service
                .refuse_unattended(&cluster, &user, "cli", reason.clone())
                .await;
            return Err(CliError::Cleanup(format!(
                "{reason}; check the plan with --dry-run, then pass --allow-large if it is right"
            )));
        }
    }
    let policy_text = serde_json::to_string(&policy).unwrap_or_default();
    if args.dry_run || delete.is_empty() {
        say_stdout(&format!(
            "{} {} sets, keeps {kept} (policy {policy_text})",
            if args.dry_run {
                "would delete"
            } else {
                "deletes"
            },
            delete.len()
        ));
        return Ok(Exit::Completed);
    }
    let user = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let request = CleanupRequest {
        confirm: delete.len(),
        delete,
        selected: Vec::new(),
        // Reached with a warning only under --allow-large.
        acknowledge_warning: args.allow_large,
    };
    let started = service
        .start(&cluster, request, &user, "cli")
        .await
        .map_err(|e| CliError::Cleanup(e.to_string()))?;
    let view = loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let view = service
            .get(started.cleanup_id)
            .await
            .map_err(|e| CliError::Cleanup(e.to_string()))?;
        if view.report.outcome.state_name() != "running" {
            break view;
        }
    };
    for item in view.report.failed() {
        eprintln!(
            "  failed: {} {}: {}",
            item.artifact.backup_id,
            item.artifact.component.label(),
            item.error.as_deref().unwrap_or_default()
        );
    }
    let failed = view.report.count(ArtifactState::Failed);
    say_stdout(&format!(
        "cleanup {}: {} sets, {} artifacts deleted, {} already gone, {failed} failed",
        view.id,
        view.report.sets.len(),
        view.report.count(ArtifactState::Deleted),
        view.report.count(ArtifactState::AlreadyGone)
    ));
    // Taken over by a console while this process was silent too long (review L4): what is left
    // is retried from there, and this is not a completed cleanup.
    if view.report.outcome == backup_domain::retention::CleanupOutcome::Interrupted {
        eprintln!(
            "cleanup {} was interrupted: another process took it over; retry it from the Retention page",
            view.id
        );
        return Ok(Exit::Failed);
    }
    Ok(if failed == 0 {
        Exit::Completed
    } else {
        Exit::Failed
    })
}

fn say_stdout(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the parent of a detached run has gone) must not stop the run.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn print_changes(report: &RunReport, last: &mut Vec<StepState>) {
    if last.len() != report.steps.len() {
        *last = vec![StepState::Pending; report.steps.len()];
    }
    for (step, seen) in report.steps.iter().zip(last.iter_mut()) {
        if step.state != *seen {
            *seen = step.state;
            let state = match step.state {
                StepState::Pending => continue,
                StepState::Running => "started",
                StepState::Done => "done",
                StepState::Failed => "FAILED",
                StepState::NotRun => "not run",
            };
            let detail = step
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            eprintln!("  {}: {state}{detail}", step.description);
        }
    }
}

/// SIGINT, SIGTERM (cancel the run) and SIGHUP (ignored: a closed terminal must not stop a
/// backup half-way).
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            let term = async {
                match &mut self.term {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let hup = async {
                if let Some(s) = &mut self.hup {
                    loop {
                        s.recv().await;
                    }
                }
                std::future::pending::<()>().await
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                () = term => "SIGTERM",
                () = hup => unreachable!("the hangup loop never ends"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Without `--wait`: the run goes on in a detached child of this program (its own process group,
/// so the terminal's Ctrl-C or hangup cannot stop it half-way); this process prints the child's
/// start line and exits 0, or the child's error and its exit code.
fn detach(args: &BackupArgs) -> Result<Exit, CliError> {
    let exe = std::env::current_exe().map_err(CliError::Detach)?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("backup")
        .arg("--config")
        .arg(absolute(&args.config))
        .arg("--cluster")
        .arg(&args.cluster)
        .arg("--detached");
    if let Some(id) = args.id {
        command.arg("--id").arg(id.to_string());
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(CliError::Detach)?;
    let Some(stdout) = child.stdout.take() else {
        return Err(CliError::DetachedEnded("no output".into()));
    };
    let mut first = String::new();
    let _ = std::io::BufReader::new(stdout).read_line(&mut first);
    let first = first.trim_end();
    if first.starts_with("started run ") {
        println!("{first} (continuing in process {})", child.id());
        return Ok(Exit::Completed);
    }
    let code = child.wait().map_err(CliError::Detach)?.code();
    eprintln!("error: {first}");
    Ok(match code {
        Some(2) => Exit::Usage,
        Some(3) => Exit::InProgress,
        Some(4) => Exit::Preflight,
        _ => Exit::Error,
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

pub struct StatusArgs {
    pub config: PathBuf,
    /// Only this cluster; every cluster when `None`.
    pub cluster: Option<String>,
    pub json: bool,
}

/// How old the database's catalog may be for `status` to use it rather than list the cluster:
/// a console refreshes at least every `idle_refresh_secs`; this allows one minute more.
const STATUS_CATALOG_SLACK_MS: i64 = 60_000;

/// `backup-console status`: the fleet view of the configuration's clusters, printed as text or
/// JSON. The answer is a monitoring plugin's exit code, unlike the other commands: 0 ok,
/// 1 warning, 2 critical, 3 unknown (a configuration, database or connection error included).
/// Across clusters the worst wins, critical before unknown before warning.
pub async fn status(args: StatusArgs) -> i32 {
    match status_rows(&args).await {
        Ok((rows, now)) => {
            let worst = worst_state(rows.iter().map(|r| r.state()));
            if args.json {
                let body = serde_json::json!({
                    "state": worst,
                    "clusters": rows.iter().map(|r| {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["state"] = serde_json::to_value(r.state()).unwrap_or_default();
                        v
                    }).collect::<Vec<_>>(),
                });
                say_stdout(&serde_json::to_string_pretty(&body).unwrap_or_default());
            } else {
                for row in &rows {
                    say_stdout(&status_line(row, now));
                }
            }
            worst.exit_code()
        }
        Err(e) => {
            let state = backup_domain::fleet::RpoState::Unknown;
            if args.json {
                say_stdout(
                    &serde_json::json!({"state": state, "error": e.to_string()}).to_string(),
                );
            } else {
                say_stdout(&format!("{} - {e}", state.label()));
            }
            state.exit_code()
        }
    }
}

fn worst_state(
    states: impl Iterator<Item = backup_domain::fleet::RpoState>,
) -> backup_domain::fleet::RpoState {
    use backup_domain::fleet::RpoState;
    let rank = |s: RpoState| match s {
        RpoState::Ok => 0,
        RpoState::Warning => 1,
        RpoState::Unknown => 2,
        RpoState::Breached => 3,
    };
    states.max_by_key(|s| rank(*s)).unwrap_or(RpoState::Unknown)
}

/// One line per cluster, as a monitoring plugin prints it.
fn status_line(row: &backup_domain::fleet::FleetRow, now_ms: i64) -> String {
    let age = row
        .listed_at_ms
        .map(|t| format!("listed {} ago", format_elapsed((now_ms - t).max(0))))
        .unwrap_or_else(|| "never listed".into());
    let run = row
        .last_run
        .as_ref()
        .map(|r| format!("last run {} ({}, {})", r.run_id, r.state, r.trigger))
        .unwrap_or_else(|| "no run yet".into());
    let down: Vec<&str> = row
        .components
        .iter()
        .filter(|c| c.reachability != backup_domain::api::Reachability::Up)
        .map(|c| c.component.as_str())
        .collect();
    let mut line = format!(
        "{} {} - {}; exporting {}; {run}; {age}",
        row.state().label(),
        row.cluster,
        row.rpo.reason,
        row.exporting,
    );
    if !down.is_empty() {
        line.push_str(&format!("; not reachable: {}", down.join(", ")));
    }
    if let Some(m) = &row.maintenance {
        line.push_str(&format!(
            "; in maintenance since {} ms by {}",
            m.since_ms, m.by
        ));
    }
    line
}

/// The fleet rows, and the services' "now" they were made at.
async fn status_rows(
    args: &StatusArgs,
) -> Result<(Vec<backup_domain::fleet::FleetRow>, i64), CliError> {
    use crate::fleet::{figures_of_history, last_run, phase_text, rpo_of};
    use backup_domain::fleet::{FleetComponent, FleetRow};

    let config = Config::load(&args.config)?;
    let services = Services::open(&config)?;
    let clusters: Vec<_> = match &args.cluster {
        Some(name) => vec![
            services
                .clusters
                .get(name)
                .cloned()
                .ok_or_else(|| CliError::UnknownCluster(name.clone()))?,
        ],
        None => services.clusters.all().to_vec(),
    };
    let fresh_within = config.catalog.idle_refresh.as_millis() as i64 + STATUS_CATALOG_SLACK_MS;
    let now = services.runs.clock().now_ms();
    let mut rows = Vec::new();
    for cluster in clusters {
        let stored = services
            .store
            .catalog_head(cluster.name.clone())
            .await?
            // A catalog from the future (a console whose clock runs ahead) is not fresh either.
            .filter(|h| (-STATUS_CATALOG_SLACK_MS..=fresh_within).contains(&(now - h.refreshed_ms)))
            .and_then(|h| crate::catalog::figures_of(&h));
        let (figures, exporting) = match stored {
            Some(figures) => (figures, crate::history::exporting_status(&cluster).await),
            None => {
                let history = crate::history::history(&cluster).await;
                (figures_of_history(&history), history.exporting)
            }
        };
        let health = cluster.health().await;
        let maintenance = crate::maintenance::current(&services.store, &cluster.name).await;
        // As the console's Schedules panel computes it.
        let schedule = crate::scheduler::backup_schedule(&services.store, &cluster, now).await;
        let last_due = services
            .store
            .last_due(
                cluster.name.clone(),
                backup_domain::schedule::ScheduleKind::Backup,
            )
            .await?;
        rows.push(FleetRow {
            cluster: cluster.name.clone(),
            profile: cluster.profile,
            rpo: rpo_of(cluster.rpo_hours, Some(&figures), now),
            exporting: phase_text(backup_domain::status::ExportingPhase::of(&exporting))
                .to_string(),
            last_run: last_run(&services.store, &cluster.name).await,
            next_backup_ms: match (&maintenance, schedule) {
                (None, Ok(effective)) => effective.next_due(last_due, now),
                _ => None,
            },
            components: health
                .components
                .iter()
                .map(|c| FleetComponent {
                    component: c.component.label().to_string(),
                    reachability: c.reachability,
                })
                .collect(),
            maintenance,
            listed_at_ms: Some(figures.refreshed_ms),
        });
    }
    Ok((rows, now))
}

pub struct RunbookArgs {
    pub config: PathBuf,
    pub cluster: String,
    pub id: String,
    pub format: backup_domain::runbook::RunbookFormat,
}

/// `backup-console runbook`: prints the restore runbook of one set, read fresh from every
/// component, to standard output. It restores nothing. Exit 0 printed, 1 error, 2 an unknown
/// cluster, a bad ID or one no component holds.
pub async fn runbook(args: RunbookArgs) -> Result<Exit, CliError> {
    let backup_id = args.id.parse::<BackupId>()?.get();
    let Opened { cluster, .. } = open(&args.config, &args.cluster)?;
    let text = crate::runbook::render(&cluster, backup_id, args.format)
        .await
        .ok_or(CliError::BackupNotFound {
            cluster: args.cluster,
            backup_id,
        })?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    Ok(Exit::Completed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_domain::api::VersionProfile;

    fn report(outcome: RunOutcome, paused: Option<(i64, i64)>) -> RunReport {
        RunReport {
            backup_id: 42,
            profile: VersionProfile::V88,
            steps: Vec::new(),
            skipped: Vec::new(),
            outcome,
            paused_ms: paused.map(|p| p.0),
            resumed_ms: paused.map(|p| p.1),
            transcript: Vec::new(),
        }
    }

    #[test]
    fn every_outcome_has_its_own_exit_code() {
        let outcomes = [
            RunOutcome::Completed,
            RunOutcome::Failed {
                step: "s".into(),
                reason: "r".into(),
            },
            RunOutcome::Cancelled {
                step: "s".into(),
                by: "b".into(),
            },
            RunOutcome::ExportingStillPaused { reason: "r".into() },
        ];
        let codes: Vec<u8> = outcomes.iter().map(|o| exit_for(o) as u8).collect();
        assert_eq!(codes, vec![0, 5, 6, 7]);
    }

    #[test]
    fn the_summary_names_the_outcome_and_the_pause_window() {
        let done = summary("prod", &report(RunOutcome::Completed, Some((1_000, 3_500))));
        assert_eq!(
            done,
            "backup 42 of prod completed; exporting was soft-paused for 2.5 s"
        );
        let paused = summary(
            "prod",
            &report(
                RunOutcome::ExportingStillPaused {
                    reason: "no answer".into(),
                },
                None,
            ),
        );
        assert!(paused.contains("EXPORTING MAY STILL BE PAUSED"), "{paused}");
    }
}
