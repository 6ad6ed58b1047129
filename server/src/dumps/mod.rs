//! Database dumps the console takes itself (`[[clusters.databases]]`): one client per database,
//! which dumps with `pg_dump --format=custom`, verifies with `pg_restore --list`, records size
//! and SHA-256 in a manifest, lists what the directory holds as a component of each set and
//! deletes a set's dump with it.
//!
//! Layout: `<directory>/<cluster>/<backup-id>/<name>.dump` with `<name>.dump.json` beside it,
//! written last: a dump without its manifest was never verified. While `pg_dump` writes, the
//! file is `<name>.dump.partial`. A run whose backup ID Zeebe generates writes under
//! `run-<run_id>` until [`DumpClient::adopt`] moves it to the ID.

mod process;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backup_domain::Component;
use backup_domain::backup_set::{ComponentBackup, ComponentState, DumpFile};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::clock::Clock;
use crate::config::DatabaseConfig;

/// The fix a missing `pg_dump` or `pg_restore` needs, in the preflight and in a failed step.
pub const INSTALL_FIX: &str = "install postgresql-client (Debian: apt-get install postgresql-client) or set [[clusters.databases]] pg_dump";

/// How long the `--version` probes of the preflight may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the preflight's connection check may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A leftover `.partial` file younger than this (or than the dump's own timeout) may still be
/// written by a run; older, the run that wrote it is gone.
const DEFAULT_PARTIAL_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("could not run `{program}`: {reason}; {INSTALL_FIX}")]
    Spawn { program: String, reason: String },
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("`{program}` did not finish within {secs} s (it was stopped)")]
    Timeout { program: String, secs: u64 },
    #[error("the dump did not verify: {0}")]
    Verify(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DumpError + '_ {
    move |e| DumpError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Where a dump is written: under the backup ID, or under the run until Zeebe names the ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpTarget {
    Backup(u64),
    Run(i64),
}

impl DumpTarget {
    fn dir_name(self) -> String {
        match self {
            DumpTarget::Backup(id) => id.to_string(),
            DumpTarget::Run(run_id) => format!("run-{run_id}"),
        }
    }
}

/// What `<name>.dump.json` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub file: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_dump_version: Option<String>,
    /// Entries `pg_restore --list` found in the archive.
    pub entries: usize,
    /// The dump file's modification time when it was verified: the listing compares it (a
    /// changed file is no longer the verified one) without reading the whole file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_ms: Option<i64>,
}

/// One configured database of one cluster.
#[derive(Debug, Clone)]
pub struct DumpClient {
    config: DatabaseConfig,
    cluster: String,
}

impl DumpClient {
    pub fn new(config: &DatabaseConfig, cluster: &str) -> Self {
        DumpClient {
            config: config.clone(),
            cluster: cluster.to_string(),
        }
    }

    pub fn component(&self) -> Component {
        self.config.component
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// `timeout_secs`, or `step_timeout` when the file sets none.
    pub fn timeout_or(&self, step_timeout: Duration) -> Duration {
        self.config.timeout.unwrap_or(step_timeout)
    }

    /// `<directory>/<cluster>`: every set's dumps of this cluster are below it.
    pub fn cluster_dir(&self) -> PathBuf {
        self.config.directory.join(&self.cluster)
    }

    fn file_name(&self) -> String {
        format!("{}.dump", self.config.name)
    }

    fn paths(&self, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let file = self.file_name();
        (
            dir.join(&file),
            dir.join(format!("{file}.json")),
            dir.join(format!("{file}.partial")),
        )
    }

    /// What the command line may show: the URL without its password. The password goes in the
    /// child's environment.
    fn connection(&self) -> Result<(String, Option<String>), DumpError> {
        let url = self.config.connection().map_err(|reason| {
            DumpError::Refused(format!("the value of `{}` {reason}", self.config.url_env))
        })?;
        Ok((url.without_password, url.password))
    }

    fn secrets(&self, password: Option<&str>) -> Vec<String> {
        let mut s = vec![self.config.url.expose().to_string()];
        if let Some(p) = password {
            s.push(p.to_string());
            s.push(url_encoded(p));
        }
        s
    }

    /// The preflight: `pg_dump` and `pg_restore` answer `--version`, and the directory takes a
    /// file. A failure is what is wrong and its fix.
    pub async fn check(&self) -> Result<(), (String, String)> {
        for (program, key) in [
            (&self.config.pg_dump, "pg_dump"),
            (&self.config.pg_restore, "pg_restore"),
        ] {
            process::run(program, &["--version".as_ref()], None, PROBE_TIMEOUT, &[])
                .await
                .map_err(|e| match e {
                    DumpError::Spawn { program, reason } => (
                        format!("`{program}` ({key}) was not found or cannot run: {reason}"),
                        INSTALL_FIX.replace("pg_dump", key),
                    ),
                    other => (
                        format!("`{key} --version`: {other}"),
                        INSTALL_FIX.replace("pg_dump", key),
                    ),
                })?;
        }
        let dir = self.cluster_dir();
        let probe = dir.join(format!(".{}.write-check", self.config.name));
        let written = private_dir(&dir)
            .await
            .and(tokio::fs::write(&probe, b"ok").await);
        let _ = tokio::fs::remove_file(&probe).await;
        written.map_err(|e| {
            (
                format!("the dump directory {} is not writable: {e}", dir.display()),
                "create it, writable by the console's user, or set [[clusters.databases]] directory"
                    .to_string(),
            )
        })?;
        self.check_connection().await
    }

    /// `pg_dump` connects and reads the catalog: a schema-only dump of a table that does not
    /// exist, into /dev/null (pg_dump then says "no matching tables were found": a pass). A refused password, an unreachable host or a `pg_dump` older
    /// than the server fails here, before anything starts. The reason carries no secret.
    async fn check_connection(&self) -> Result<(), (String, String)> {
        let env = &self.config.url_env;
        let fix_url = format!(
            "check the host, port, user and password in `{env}`, and that the database's pg_hba.conf admits the console's host"
        );
        let (dbname, password) = self
            .connection()
            .map_err(|e| (e.to_string(), fix_url.clone()))?;
        let secrets = self.secrets(password.as_deref());
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let mut db_arg = std::ffi::OsString::from("--dbname=");
        db_arg.push(&dbname);
        process::run(
            &self.config.pg_dump,
            &[
                OsStr::new("--schema-only"),
                OsStr::new("--no-password"),
                OsStr::new("--table=backup_console_preflight_no_such_table"),
                OsStr::new("--file=/dev/null"),
                &db_arg,
            ],
            password.as_deref(),
            CONNECT_TIMEOUT,
            &secrets,
        )
        .await
        .map(|_| ())
        .or_else(|e| match e {
            // It connected and searched the catalog: what the check asks.
            DumpError::Failed { stderr, .. } if stderr.contains("no matching tables") => Ok(()),
            other => Err(other),
        })
        .map_err(|e| match e {
            DumpError::Failed { stderr, .. } => (
                format!("`pg_dump` could not read the database of `{env}`: {stderr}"),
                if stderr.contains("server version") {
                    format!(
                        "install a pg_dump at least as new as the server, or set [[clusters.databases]] pg_dump; {fix_url}"
                    )
                } else {
                    fix_url
                },
            ),
            DumpError::Timeout { secs, .. } => (
                format!(
                    "`pg_dump` did not connect to the database of `{env}` within {secs} s"
                ),
                format!("check that the database host is reachable from the console; {fix_url}"),
            ),
            other => (format!("`pg_dump` connection check: {other}"), INSTALL_FIX.to_string()),
        })
    }

    /// Dumps the database into `target`'s directory, verifies the archive and writes its
    /// manifest. Dropping the future (a cancel) kills `pg_dump` and removes the partial file.
    /// Two dumps of one set never share a file: the partial file is created exclusively (and
    /// locked while it is written), and the final name is linked, never renamed over a dump.
    pub async fn take(&self, target: DumpTarget, timeout: Duration) -> Result<Manifest, DumpError> {
        let dir = self.cluster_dir().join(target.dir_name());
        let (file, manifest_path, partial) = self.paths(&dir);
        refuse_symlink(&dir)?;
        if exists(&manifest_path) || exists(&file) {
            return Err(DumpError::Refused(format!(
                "{} already holds a dump; it is never overwritten",
                dir.display()
            )));
        }
        let (dbname, password) = self.connection()?;
        private_dir(&dir).await.map_err(io(&dir))?;
        let started_ms = Clock::System.now_ms();
        let secrets = self.secrets(password.as_deref());
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        // Held (and locked) until the take ends: the listing reads the lock as "being written".
        let _claim = self.claim(&partial)?;
        let guard = RemoveOnDrop(Some(partial.clone()));
        let mut file_arg = std::ffi::OsString::from("--file=");
        file_arg.push(&partial);
        let mut db_arg = std::ffi::OsString::from("--dbname=");
        db_arg.push(&dbname);
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        process::run(
            &self.config.pg_dump,
            &[
                OsStr::new("--format=custom"),
                OsStr::new("--no-password"),
                &file_arg,
                &db_arg,
            ],
            password.as_deref(),
            timeout,
            &secrets,
        )
        .await?;
        let left = deadline
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
            .unwrap_or(timeout)
            .max(Duration::from_secs(5));
        let (entries, pg_dump_version) = self.verify(&partial, left).await?;
        let (size_bytes, sha256) = digest(partial.clone()).await?;
        // The dump holds the database's data: readable by the console's user only.
        set_private(&partial).await?;
        // A link fails when the name exists: another take's dump is never replaced.
        match std::fs::hard_link(&partial, &file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(DumpError::Refused(format!(
                    "{} already holds a dump (another dump of this set finished first); it is never overwritten",
                    dir.display()
                )));
            }
            Err(e) => return Err(io(&file)(e)),
        }
        // From here a failure (or a cancel) removes the dump: a dump without its manifest was
        // never verified.
        let published = RemoveOnDrop(Some(file.clone()));
        drop(guard);
        let mtime_ms = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(system_ms);
        let manifest = Manifest {
            name: self.config.name.clone(),
            file: self.file_name(),
            size_bytes,
            sha256,
            started_ms,
            finished_ms: Clock::System.now_ms(),
            pg_dump_version,
            entries,
            mtime_ms,
        };
        write_manifest(&manifest_path, &manifest).await?;
        published.disarm();
        tracing::info!(
            cluster = %self.cluster,
            database = %self.config.name,
            target = %target.dir_name(),
            size_bytes,
            "database dump verified"
        );
        Ok(manifest)
    }

    /// Creates the partial file exclusively and locks it. One left by a console that stopped
    /// (unlocked and older than the dump's timeout) is removed first; one being written is a
    /// refusal.
    fn claim(&self, partial: &Path) -> Result<std::fs::File, DumpError> {
        for _ in 0..2 {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(partial) {
                Ok(f) => {
                    // Only this take holds it; the lock tells listings it is being written.
                    let _ = f.try_lock();
                    return Ok(f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if self.partial_state(partial) != PartialState::Stale {
                        return Err(DumpError::Refused(format!(
                            "another dump of this set is being written ({}); two dumps of one set never share a file",
                            partial.display()
                        )));
                    }
                    let _ = std::fs::remove_file(partial);
                }
                Err(e) => return Err(io(partial)(e)),
            }
        }
        Err(DumpError::Refused(format!(
            "{} keeps appearing; another dump of this set is being written",
            partial.display()
        )))
    }

    /// How old a partial file may get before a console that stopped is assumed to have left it.
    fn partial_age_limit(&self) -> Duration {
        self.config.timeout.unwrap_or(DEFAULT_PARTIAL_AGE)
    }

    /// Whether a take holds `partial`'s lock, and if not, whether it is old enough to go.
    fn partial_state(&self, partial: &Path) -> PartialState {
        let Ok(meta) = std::fs::symlink_metadata(partial) else {
            return PartialState::Abandoned;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        let locked = match std::fs::File::open(partial) {
            Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            // Cannot tell: by age, as without a lock.
            Err(_) => age <= self.partial_age_limit(),
        };
        if locked {
            PartialState::BeingWritten
        } else if age > self.partial_age_limit() {
            PartialState::Stale
        } else {
            PartialState::Abandoned
        }
    }

    /// `pg_restore --list`: the archive reads and has entries. Returns their count and the
    /// `pg_dump` version it names.
    async fn verify(
        &self,
        file: &Path,
        timeout: Duration,
    ) -> Result<(usize, Option<String>), DumpError> {
        let out = process::run(
            &self.config.pg_restore,
            &[OsStr::new("--list"), file.as_os_str()],
            None,
            timeout,
            &[],
        )
        .await
        .map_err(|e| match e {
            DumpError::Failed { stderr, .. } => DumpError::Verify(stderr),
            other => other,
        })?;
        // The header's lines are comments: ";     Format: CUSTOM".
        let header = |key: &str| {
            out.stdout.lines().find_map(|l| {
                l.strip_prefix(';')
                    .map(str::trim)
                    .and_then(|l| l.strip_prefix(key))
                    .map(|v| v.trim_start_matches(':').trim().to_string())
            })
        };
        if header("Format").as_deref() != Some("CUSTOM") {
            return Err(DumpError::Verify(
                "pg_restore --list does not read it as a custom-format archive".into(),
            ));
        }
        let entries = out
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
            .count();
        if entries == 0 {
            return Err(DumpError::Verify("the archive lists no entries".into()));
        }
        Ok((entries, header("Dumped by pg_dump version")))
    }

    /// Moves a run's dump to the backup ID Zeebe answered with: the dump file first, the
    /// manifest last, so that the set's directory holds a manifest only beside its file.
    pub async fn adopt(&self, run_id: i64, backup_id: u64) -> Result<(), DumpError> {
        let from_dir = self.cluster_dir().join(DumpTarget::Run(run_id).dir_name());
        let to_dir = self
            .cluster_dir()
            .join(DumpTarget::Backup(backup_id).dir_name());
        let (from_file, from_manifest, _) = self.paths(&from_dir);
        let (to_file, to_manifest, _) = self.paths(&to_dir);
        refuse_symlink(&from_dir)?;
        refuse_symlink(&to_dir)?;
        if exists(&to_manifest) || exists(&to_file) {
            return Err(DumpError::Refused(format!(
                "{} already holds a dump; the run's dump stays in {}",
                to_dir.display(),
                from_dir.display()
            )));
        }
        private_dir(&to_dir).await.map_err(io(&to_dir))?;
        // Links, not renames: a dump that appeared at the ID meanwhile is never replaced.
        link_no_replace(&from_file, &to_file)?;
        if let Err(e) = link_no_replace(&from_manifest, &to_manifest) {
            let _ = std::fs::remove_file(&to_file);
            return Err(e);
        }
        let _ = std::fs::remove_file(&from_file);
        let _ = std::fs::remove_file(&from_manifest);
        // Another database's dump may still be in the run's directory.
        let _ = tokio::fs::remove_dir(&from_dir).await;
        Ok(())
    }

    /// Every set's dump below the cluster's directory. A missing directory is an empty listing
    /// (nothing was dumped yet); one that cannot be read is an error, so the sets show unknown.
    pub async fn list(&self) -> Result<Vec<(u64, ComponentBackup)>, DumpError> {
        let client = self.clone();
        tokio::task::spawn_blocking(move || client.list_blocking())
            .await
            .map_err(|e| DumpError::Refused(format!("the dump listing stopped: {e}")))?
    }

    fn list_blocking(&self) -> Result<Vec<(u64, ComponentBackup)>, DumpError> {
        let root = self.cluster_dir();
        let entries = match std::fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&root)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&root))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // The entry itself, never what a symbolic link points at.
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if kind.is_symlink() {
                tracing::warn!(cluster = %self.cluster, entry = %name, directory = %root.display(), "a symbolic link: never followed by the dump listing");
                continue;
            }
            if name.starts_with('.') {
                // The write check.
                continue;
            }
            if name.starts_with("run-") {
                // A run still waiting for its ID, or one a stopped console left.
                if kind.is_dir() {
                    self.remove_if_stale_run_dir(&entry.path());
                }
                continue;
            }
            // Only the ID's own spelling: `+7` or `007` is not set 7's directory.
            let Some(id) = name.parse::<u64>().ok().filter(|id| id.to_string() == name) else {
                tracing::info!(cluster = %self.cluster, entry = %name, directory = %root.display(), "not a backup ID: ignored by the dump listing");
                continue;
            };
            if !kind.is_dir() {
                continue;
            }
            if let Some(c) = self.read_dir_of(&entry.path(), false)? {
                out.push((id, c));
            }
        }
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }

    /// The dump of one set, for its detail.
    pub async fn get(&self, backup_id: u64) -> Result<Option<ComponentBackup>, DumpError> {
        let client = self.clone();
        let dir = self.cluster_dir().join(backup_id.to_string());
        tokio::task::spawn_blocking(move || client.read_dir_of(&dir, true))
            .await
            .map_err(|e| DumpError::Refused(format!("the dump read stopped: {e}")))?
    }

    /// A `run-*` directory older than the dump's timeout whose partial files nobody writes: a
    /// stopped console's dump that never got its ID. Removed.
    fn remove_if_stale_run_dir(&self, dir: &Path) {
        let old = std::fs::symlink_metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > self.partial_age_limit());
        if !old {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let written = entries.flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(".partial")
                && self.partial_state(&e.path()) == PartialState::BeingWritten
        });
        if written {
            return;
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {
                tracing::info!(cluster = %self.cluster, directory = %dir.display(), "removed a run's dump directory left by a console that stopped");
            }
            Err(e) => {
                tracing::warn!(cluster = %self.cluster, directory = %dir.display(), error = %e, "could not remove a stale run dump directory");
            }
        }
    }

    /// What one set's directory says about this database's dump; `None` when it has none.
    /// `recheck` reads the whole file again and compares its SHA-256 with the manifest's (the
    /// set's detail); without it (the history list) size and modification time are compared.
    fn read_dir_of(&self, dir: &Path, recheck: bool) -> Result<Option<ComponentBackup>, DumpError> {
        let (file, manifest_path, partial) = self.paths(dir);
        let component = self.config.component;
        let failed = |reason: String| {
            let mut c = ComponentBackup::new(component, ComponentState::Failed);
            c.failure_reason = Some(reason);
            Ok(Some(c))
        };
        // Never followed: a link could point out of the dump directory.
        for path in [dir, &file, &manifest_path, &partial] {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    let mut c = ComponentBackup::new(component, ComponentState::Unknown);
                    c.error = Some(format!(
                        "{} is a symbolic link; the console never follows one",
                        path.display()
                    ));
                    return Ok(Some(c));
                }
                Err(e) if path == dir && e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(None);
                }
                _ => {}
            }
        }
        match std::fs::read(&manifest_path) {
            Ok(bytes) => {
                let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
                    return failed(format!("{} cannot be read", manifest_path.display()));
                };
                let meta = match std::fs::symlink_metadata(&file) {
                    Ok(m) => m,
                    Err(_) => return failed(format!("{} is missing", file.display())),
                };
                let size = meta.len();
                if size != manifest.size_bytes {
                    return failed(format!(
                        "{} has {size} bytes, its manifest says {}",
                        file.display(),
                        manifest.size_bytes
                    ));
                }
                if let Some(recorded) = manifest.mtime_ms
                    && let Some(now) = meta.modified().ok().and_then(system_ms)
                    && now != recorded
                {
                    return failed(format!(
                        "{} was changed after it was verified (modified at {now} ms, verified at {recorded} ms)",
                        file.display()
                    ));
                }
                if recheck {
                    let (_, sha256) = digest_blocking(&file)?;
                    if sha256 != manifest.sha256 {
                        return failed(format!(
                            "{} changed after it was verified: its SHA-256 is {}, its manifest says {}",
                            file.display(),
                            sha256.get(..12).unwrap_or(&sha256),
                            manifest.sha256.get(..12).unwrap_or(&manifest.sha256)
                        ));
                    }
                }
                let mut c = ComponentBackup::new(component, ComponentState::Completed);
                c.upstream_state = Some("VERIFIED".into());
                c.started_at_ms = Some(manifest.started_ms);
                c.versions = manifest.pg_dump_version.iter().cloned().collect();
                c.dump = Some(DumpFile {
                    path: file.display().to_string(),
                    size_bytes: manifest.size_bytes,
                    sha256: manifest.sha256,
                    pg_dump_version: manifest.pg_dump_version,
                    finished_at_ms: Some(manifest.finished_ms),
                });
                Ok(Some(c))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if exists(&partial) {
                    let state = self.partial_state(&partial);
                    if state == PartialState::BeingWritten {
                        return Ok(Some(ComponentBackup::new(
                            component,
                            ComponentState::InProgress,
                        )));
                    }
                    // A console that stopped mid-dump (kill -9, power loss): the dump is
                    // missing, like one that failed cleanly, never a failed set that retention
                    // would delete with its good Zeebe backup.
                    let mut c = ComponentBackup::new(component, ComponentState::Missing);
                    let mut note = format!(
                        "{} was left unfinished by a dump that stopped",
                        partial.display()
                    );
                    if state == PartialState::Stale {
                        match std::fs::remove_file(&partial) {
                            Ok(()) => note.push_str("; it was removed"),
                            Err(e) => note.push_str(&format!("; it could not be removed: {e}")),
                        }
                    }
                    c.failure_reason = Some(note);
                    return Ok(Some(c));
                }
                if exists(&file) {
                    return failed(format!(
                        "{} has no manifest: it was not verified",
                        file.display()
                    ));
                }
                Ok(None)
            }
            Err(e) => Err(io(&manifest_path)(e)),
        }
    }

    /// Removes one set's dump (file, manifest, leftover partial) and its directory once empty.
    /// Returns whether there was anything to remove: already gone is fine.
    pub async fn delete(&self, backup_id: u64) -> Result<bool, DumpError> {
        let dir = self.cluster_dir().join(backup_id.to_string());
        refuse_symlink(&dir)?;
        let (file, manifest, partial) = self.paths(&dir);
        let mut removed = false;
        // The manifest first: a file without one lists as failed, never as a complete dump.
        for path in [&manifest, &file, &partial] {
            match tokio::fs::remove_file(path).await {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(path)(e)),
            }
        }
        // Another database's dump of the same set may still be there.
        let _ = tokio::fs::remove_dir(&dir).await;
        Ok(removed)
    }
}

/// The step's detail: "48213 bytes, sha256 1a2b3c4d5e6f".
pub fn step_detail(manifest: &Manifest) -> String {
    format!(
        "{} bytes, sha256 {}, {} entries verified",
        manifest.size_bytes,
        manifest.sha256.get(..12).unwrap_or(&manifest.sha256),
        manifest.entries
    )
}

/// What a leftover `.partial` file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartialState {
    /// A take holds its lock.
    BeingWritten,
    /// Nobody writes it, but it is younger than the dump's timeout.
    Abandoned,
    /// Nobody writes it and it is older than the dump's timeout: removed when seen.
    Stale,
}

/// Whether the path names anything, a symbolic link included (never followed).
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// A set directory that is a symbolic link is refused: it could lead out of the dump directory.
fn refuse_symlink(dir: &Path) -> Result<(), DumpError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(DumpError::Refused(format!(
            "{} is a symbolic link; the console never follows one (remove it or replace it with a directory)",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Gives `from` the name `to` unless `to` exists (a link: a rename would replace it).
fn link_no_replace(from: &Path, to: &Path) -> Result<(), DumpError> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(DumpError::Refused(
            format!("{} already exists; it is never overwritten", to.display()),
        )),
        Err(e) => Err(io(to)(e)),
    }
}

fn system_ms(t: std::time::SystemTime) -> Option<i64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

/// Removes the partial file unless disarmed: a failed or cancelled dump leaves nothing behind.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Creates `dir` and its parents, the new ones readable by the console's user only.
async fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

async fn set_private(path: &Path) -> Result<(), DumpError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .await
            .map_err(io(path))?;
    }
    Ok(())
}

/// Size and SHA-256 of a file, read in chunks off the async threads.
async fn digest(path: PathBuf) -> Result<(u64, String), DumpError> {
    tokio::task::spawn_blocking(move || digest_blocking(&path))
        .await
        .map_err(|e| DumpError::Refused(format!("the checksum stopped: {e}")))?
}

fn digest_blocking(path: &Path) -> Result<(u64, String), DumpError> {
    {
        let path = path.to_path_buf();
        let mut f = std::fs::File::open(&path).map_err(io(&path))?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(io(&path))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((size, hex))
    }
}

/// Writes the manifest beside the dump, through a temporary file and a rename.
async fn write_manifest(path: &Path, manifest: &Manifest) -> Result<(), DumpError> {
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| DumpError::Refused(format!("the manifest: {e}")))?;
    let tmp = path.with_extension("json.tmp");
    let written = async {
        tokio::fs::write(&tmp, text).await.map_err(io(&tmp))?;
        set_private(&tmp).await?;
        tokio::fs::rename(&tmp, path).await.map_err(io(path))
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

/// How a password looks inside a URL, to redact that form too.
fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn client(dir: &Path, url: &str) -> DumpClient {
        DumpClient::new(
            &DatabaseConfig {
                name: "web-modeler".into(),
                component: Component::WebModelerDump,
                url_env: "MODELER_DB".into(),
                url: Secret::new(url.into()),
                directory: dir.to_path_buf(),
                since_backup_id: None,
                pg_dump: "pg_dump".into(),
                pg_restore: "pg_restore".into(),
                timeout: None,
            },
            "prod",
        )
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bc-dumps-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A `pg_dump` stand-in: a shell script that writes its `--file` and then does `rest`.
    fn fake_pg_dump(dir: &Path, rest: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-pg_dump");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do case $a in --file=*) f=${{a#--file=}};; esac; done\necho partial > \"$f\"\necho \"$$\" > {:?}\n{rest}\n",
                dir.join("pid").display().to_string()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn a_dump_past_its_timeout_is_killed_and_leaves_no_partial_file() {
        let dir = temp_dir("timeout");
        let mut c = client(&dir, "postgres://u:p@127.0.0.1:1/m");
        c.config.pg_dump = fake_pg_dump(&dir, "exec sleep 30");
        let err = c
            .take(DumpTarget::Backup(5), Duration::from_millis(300))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish within"), "{err}");
        let set_dir = c.cluster_dir().join("5");
        assert!(!set_dir.join("web-modeler.dump.partial").exists());
        assert!(!set_dir.join("web-modeler.dump").exists());
        // The child is gone: kill -0 on its pid fails once it has been reaped.
        let pid = std::fs::read_to_string(dir.join("pid")).unwrap();
        let mut alive = true;
        for _ in 0..50 {
            alive = std::process::Command::new("kill")
                .args(["-0", pid.trim()])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !alive {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive, "pg_dump {pid} still runs");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_failed_dump_reports_stderr_without_the_password_and_verify_refuses_garbage() {
        let dir = temp_dir("fail");
        let mut c = client(&dir, "postgres://u:Pa55-word@127.0.0.1:1/m");
        c.config.pg_dump = fake_pg_dump(&dir, "echo \"auth failed for $PGPASSWORD\" >&2; exit 1");
        let err = c
            .take(DumpTarget::Backup(6), Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth failed for ***"), "{err}");
        assert!(!err.contains("Pa55-word"), "{err}");
        // pg_dump "succeeds" with a file pg_restore cannot read: the step fails, nothing is kept.
        c.config.pg_dump = fake_pg_dump(&dir, "exit 0");
        c.config.pg_restore = PathBuf::from("/bin/true");
        let err = c
            .take(DumpTarget::Backup(7), Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not verify"), "{err}");
        assert!(!c.cluster_dir().join("7/web-modeler.dump").exists());
        assert!(!c.cluster_dir().join("7/web-modeler.dump.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_preflight_names_a_missing_program_and_an_unwritable_directory() {
        let dir = temp_dir("check");
        let mut c = client(&dir, "postgres://u:p@db/m");
        c.config.pg_restore = PathBuf::from("/nonexistent/pg_restore");
        c.config.pg_dump = PathBuf::from("/bin/true");
        let (detail, fix) = c.check().await.unwrap_err();
        assert!(detail.contains("/nonexistent/pg_restore"), "{detail}");
        assert!(fix.contains("apt-get install postgresql-client"), "{fix}");
        assert!(fix.contains("[[clusters.databases]] pg_restore"), "{fix}");
        // A directory below a regular file can never be created, even by root.
        std::fs::write(dir.join("a-file"), "x").unwrap();
        let mut c = client(&dir.join("a-file"), "postgres://u:p@db/m");
        c.config.pg_dump = PathBuf::from("/bin/true");
        c.config.pg_restore = PathBuf::from("/bin/true");
        let (detail, fix) = c.check().await.unwrap_err();
        assert!(detail.contains("is not writable"), "{detail}");
        assert!(fix.contains("[[clusters.databases]] directory"), "{fix}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_password_leaves_the_url_decoded() {
        let c = client(
            Path::new("/x"),
            "postgres://u:p%40ss%3Aw@db:5433/m?sslmode=require",
        );
        let (dbname, password) = c.connection().unwrap();
        assert_eq!(dbname, "postgres://u@db:5433/m?sslmode=require");
        assert_eq!(password.as_deref(), Some("p@ss:w"));
        assert!(
            c.secrets(Some("p@ss:w"))
                .contains(&"p%40ss%3Aw".to_string())
        );
    }

    #[tokio::test]
    async fn the_listing_reads_manifests_partials_and_ignores_other_names() {
        let dir = temp_dir("list");
        let c = client(&dir, "postgres://u:p@db/m");
        let root = c.cluster_dir();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let manifest = |size: u64| {
            serde_json::to_string(&Manifest {
                name: "web-modeler".into(),
                file: "web-modeler.dump".into(),
                size_bytes: size,
                sha256: "ab".repeat(32),
                started_ms: 1,
                finished_ms: 2,
                pg_dump_version: Some("15.1".into()),
                entries: 3,
                mtime_ms: None,
            })
            .unwrap()
        };
        write("7/web-modeler.dump", "12345");
        write("7/web-modeler.dump.json", &manifest(5));
        write("8/web-modeler.dump", "12345");
        write("8/web-modeler.dump.json", &manifest(9));
        write("9/web-modeler.dump.partial", "1");
        // A partial file a take holds (locked) is being written.
        write("12/web-modeler.dump.partial", "1");
        let held = std::fs::File::open(root.join("12/web-modeler.dump.partial")).unwrap();
        held.try_lock().unwrap();
        write("10/web-modeler.dump", "1");
        write("11/rdbms.dump", "1");
        write("run-4/web-modeler.dump", "1");
        write("notes/x", "1");
        let listed = c.list().await.unwrap();
        let states: Vec<(u64, ComponentState)> =
            listed.iter().map(|(id, c)| (*id, c.state)).collect();
        assert_eq!(
            states,
            vec![
                (7, ComponentState::Completed),
                (8, ComponentState::Failed),
                // Nobody writes it: missing, with a note, never a failed set.
                (9, ComponentState::Missing),
                (10, ComponentState::Failed),
                (12, ComponentState::InProgress),
            ]
        );
        let seven = &listed[0].1;
        assert_eq!(seven.dump.as_ref().map(|d| d.size_bytes), Some(5));
        assert!(
            listed[1]
                .1
                .failure_reason
                .as_deref()
                .unwrap_or_default()
                .contains("manifest says 9")
        );

        assert!(c.delete(7).await.unwrap());
        assert!(!root.join("7").exists());
        assert!(!c.delete(7).await.unwrap(), "already gone is fine");
        // The other database's file keeps its directory.
        assert!(!c.delete(11).await.unwrap());
        assert!(root.join("11/rdbms.dump").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn adopt_moves_a_run_dump_to_its_id_and_never_over_another() {
        let dir = temp_dir("adopt");
        let c = client(&dir, "postgres://u:p@db/m");
        let root = c.cluster_dir();
        std::fs::create_dir_all(root.join("run-3")).unwrap();
        std::fs::write(root.join("run-3/web-modeler.dump"), "x").unwrap();
        std::fs::write(root.join("run-3/web-modeler.dump.json"), "{}").unwrap();
        c.adopt(3, 12).await.unwrap();
        assert!(root.join("12/web-modeler.dump").exists());
        assert!(root.join("12/web-modeler.dump.json").exists());
        assert!(!root.join("run-3").exists());
        std::fs::create_dir_all(root.join("run-4")).unwrap();
        std::fs::write(root.join("run-4/web-modeler.dump"), "y").unwrap();
        std::fs::write(root.join("run-4/web-modeler.dump.json"), "{}").unwrap();
        let err = c.adopt(4, 12).await.unwrap_err().to_string();
        assert!(err.contains("already holds a dump"), "{err}");
        assert_eq!(
            std::fs::read_to_string(root.join("12/web-modeler.dump")).unwrap(),
            "x"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
