//! Argon2id password hashes in the PHC string format (`$argon2id$v=19$m=...`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("not an Argon2id hash in PHC format (`$argon2id$...`): {0}")]
    BadHash(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks that a configured hash is an Argon2id PHC string.
pub fn validate_hash(hash: &str) -> Result<(), PasswordError> {
    let parsed = PasswordHash::new(hash).map_err(|e| PasswordError::BadHash(e.to_string()))?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(PasswordError::BadHash(format!(
            "algorithm is {}",
            parsed.algorithm
        )));
    }
    Ok(())
}

/// True when `password` matches `hash`. The comparison inside Argon2 is constant-time.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a throw-away password with the same Argon2 parameters as `like` (the first
/// configured user's hash), so that checking an unknown user costs what checking a real one does.
/// Built once at start-up: the first unknown-user login must not pay for it either.
pub fn dummy_hash(like: Option<&str>) -> Result<String, PasswordError> {
    let params = like
        .and_then(|h| PasswordHash::new(h).ok())
        .and_then(|parsed| argon2::Params::try_from(&parsed).ok())
        .unwrap_or_default();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(b"dummy password for timing", &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The most Argon2 verifications this process has run at the same moment, through any
/// [`VerifyGate`]; tests and the login benchmark read it.
pub fn peak_concurrent_verifications() -> usize {
    PEAK.load(Ordering::SeqCst)
}

/// The login was refused unchecked: enough checks are running or waiting already.
#[derive(Debug, thiserror::Error)]
#[error("too many logins are being checked at once")]
pub struct Busy;

/// Admits a few Argon2 verifications at a time and a short queue behind them; anything beyond is
/// refused at once. The checks run on the gate's own threads, one per allowed check: the memory
/// stays bounded (each thread's allocator keeps its ~19 MiB for the next check instead of every
/// pool thread keeping one), and the blocking pool stays free for the database.
pub struct VerifyGate {
    jobs: std::sync::mpsc::Sender<Job>,
    /// Waiting plus running.
    admitted: Arc<AtomicUsize>,
    max_admitted: usize,
    dummy: String,
}

struct Job {
    password: String,
    hash: String,
    answer: tokio::sync::oneshot::Sender<bool>,
    /// Held until the check has run, even if the request that asked is gone, so that the bound
    /// counts work actually queued.
    _admission: Admission,
}

/// Gives the admission back when its check is done or never happens.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl VerifyGate {
    pub fn new(concurrency: usize, queue: usize, dummy: String) -> Self {
        let concurrency = concurrency.max(1);
        let (jobs, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let mut workers = 0;
        for n in 0..concurrency {
            let receiver = receiver.clone();
            // A thread that cannot start leaves fewer workers; with none, every login is refused.
            let started = std::thread::Builder::new()
                .name(format!("password-check-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        // The gate is gone: so is this thread.
                        let Ok(job) = job else { return };
                        let now = ACTIVE.fetch_add(1, Ordering::SeqCst) + 1;
                        PEAK.fetch_max(now, Ordering::SeqCst);
                        let matched = verify(&job.password, &job.hash);
                        ACTIVE.fetch_sub(1, Ordering::SeqCst);
                        let _ = job.answer.send(matched);
                    }
                });
            match started {
                Ok(_) => workers += 1,
                Err(error) => tracing::error!(%error, "cannot start a password-check thread"),
            }
        }
        VerifyGate {
            jobs,
            admitted: Arc::new(AtomicUsize::new(0)),
            max_admitted: if workers == 0 { 0 } else { workers + queue },
            dummy,
        }
    }

    /// Checks `password` against `hash`, or against the dummy hash when the user is unknown (the
    /// answer is then `false` after the same work).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Busy> {
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= self.max_admitted {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let admission = Admission(self.admitted.clone());
        let known = hash.is_some();
        let (answer, matched) = tokio::sync::oneshot::channel();
        let job = Job {
            password,
            hash: hash.unwrap_or_else(|| self.dummy.clone()),
            answer,
            _admission: admission,
        };
        self.jobs.send(job).map_err(|_| Busy)?;
        let matched = matched.await.map_err(|_| Busy)?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        validate_hash(&hash).unwrap();
        assert!(verify("correct horse", &hash));
        assert!(!verify("correct horsE", &hash));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn the_dummy_hash_takes_the_configured_parameters() {
        let like = "$argon2id$v=19$m=8192,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
        let dummy = dummy_hash(Some(like)).unwrap();
        assert!(dummy.contains("m=8192,t=3,p=1"), "{dummy}");
        assert!(dummy_hash(None).unwrap().starts_with("$argon2id$"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_gate_runs_a_few_checks_and_refuses_beyond_its_queue() {
        let hash = hash_password("pw").unwrap();
        let gate = Arc::new(VerifyGate::new(2, 3, dummy_hash(Some(&hash)).unwrap()));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (gate, hash) = (gate.clone(), hash.clone());
                tokio::spawn(async move { gate.verify("pw".into(), Some(hash)).await })
            })
            .collect();
        let mut checked = 0;
        for t in tasks {
            if let Ok(matched) = t.await.unwrap() {
                assert!(matched);
                checked += 1;
            }
        }
        assert!((1..=5).contains(&checked), "{checked} checked");
        // No other test in this binary verifies through a gate.
        assert!(peak_concurrent_verifications() <= 2);
        assert!(
            !gate.verify("pw".into(), None).await.unwrap(),
            "unknown user"
        );
    }

    #[test]
    fn only_argon2id_hashes_are_accepted() {
        assert!(validate_hash("$2b$12$abcdefghijklmnopqrstuv").is_err());
        let argon2i = "$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo";
        assert!(
            validate_hash(argon2i)
                .unwrap_err()
                .to_string()
                .contains("argon2i")
        );
    }
}
