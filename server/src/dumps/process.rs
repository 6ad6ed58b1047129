//! Running `pg_dump` and `pg_restore`: the password in the child's environment only, the child
//! killed when the timeout passes or the caller stops waiting, and what it printed cleaned of
//! the secret before it goes anywhere.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::DumpError;

/// What a finished child printed.
pub(super) struct Output {
    pub stdout: String,
}

/// Runs `program` with `args`; `password` goes in `PGPASSWORD`, never on the command line. A
/// non-zero exit is an error carrying stderr with every `secrets` replaced.
pub(super) async fn run(
    program: &Path,
    args: &[&std::ffi::OsStr],
    password: Option<&str>,
    timeout: Duration,
    secrets: &[&str],
) -> Result<Output, DumpError> {
    let name = program.display().to_string();
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timeout or a cancelled run drops the future, and with it the child.
        .kill_on_drop(true)
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE");
    // Its own process group: a wrapper (a script, sudo, ssh) and its children are stopped with
    // it.
    #[cfg(unix)]
    command.process_group(0);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let child = command.spawn().map_err(|source| DumpError::Spawn {
        program: name.clone(),
        reason: source.to_string(),
    })?;
    // Kills the whole group when the timeout passes or the caller stops waiting (a cancel drops
    // this future); disarmed once the child exited by itself.
    let group = KillGroupOnDrop(child.id());
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(source)) => {
            return Err(DumpError::Spawn {
                program: name,
                reason: source.to_string(),
            });
        }
        Err(_) => {
            drop(group);
            return Err(DumpError::Timeout {
                program: name,
                secs: timeout.as_secs(),
            });
        }
    };
    group.disarm();
    if !out.status.success() {
        return Err(DumpError::Failed {
            program: name,
            status: out.status.to_string(),
            stderr: redact(&String::from_utf8_lossy(&out.stderr), secrets),
        });
    }
    Ok(Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

/// The child's process group, killed on drop unless disarmed. The group's id is the child's
/// pid, which the kernel does not hand out again while the group has a member.
struct KillGroupOnDrop(Option<u32>);

impl KillGroupOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        // kill(1) with a negative pid signals the group; the project has no `unsafe` for
        // kill(2). Should `kill` be missing, tokio's kill_on_drop still stops the child itself.
        if let Some(pgid) = self.0.take().filter(|p| *p > 0) {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pgid}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The text with every secret replaced and cut to a length a step's detail can show.
pub(super) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut text = text.trim().to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "***");
    }
    const MAX: usize = 600;
    if text.len() > MAX {
        let mut cut = MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_every_secret_and_cuts_long_text() {
        let text = "FATAL: password hunter2 for postgres://u:hunter2@h/db";
        let out = redact(text, &["postgres://u:hunter2@h/db", "hunter2"]);
        assert_eq!(out, "FATAL: password *** for ***");
        assert!(redact(&"é".repeat(1000), &[]).len() <= 604);
    }

    #[tokio::test]
    async fn a_child_past_its_timeout_is_an_error_and_a_failure_carries_stderr() {
        let err = run(
            Path::new("sh"),
            &["-c".as_ref(), "sleep 5".as_ref()],
            None,
            Duration::from_millis(100),
            &[],
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("did not finish within"), "{err}");
        let err = run(
            Path::new("sh"),
            &[
                "-c".as_ref(),
                "echo \"bad $PGPASSWORD\" >&2; exit 3".as_ref(),
            ],
            Some("s3cret"),
            Duration::from_secs(5),
            &["s3cret"],
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("bad ***"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
