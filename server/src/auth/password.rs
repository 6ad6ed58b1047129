//! Argon2id password hashes in the PHC string format (`$argon2id$v=19$m=...`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{self, Output, PasswordHash, PasswordHasher, SaltString};
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

/// True when `password` matches `hash`. The comparison is constant-time. Allocates the Argon2
/// working memory for this one call: repeated checks go through a [`Verifier`] instead.
pub fn verify(password: &str, hash: &str) -> bool {
    Verifier::default().verify(password, hash).unwrap_or(false)
}

/// Checks passwords against PHC hashes in one Argon2 memory buffer that it keeps and reuses
/// (one per gate thread). A fresh ~19 MiB buffer per check is what let the process grow by about
/// that much per login: glibc serves such a buffer from a malloc arena once its dynamic mmap
/// threshold has risen, and a freed one that small allocations have since split is neither
/// reused for the next buffer nor given back to the system.
#[derive(Default)]
pub struct Verifier {
    blocks: Vec<argon2::Block>,
}

impl Verifier {
    /// The Argon2 memory this verifier holds, in bytes (for tests).
    #[cfg(any(test, feature = "testing"))]
    pub fn memory_bytes(&self) -> usize {
        self.blocks.len() * argon2::Block::SIZE
    }

    /// Whether `password` matches `hash` (a PHC string of any Argon2 variant, as
    /// [`argon2::PasswordVerifier::verify_password`] accepts), comparing the derived hash in constant
    /// time. The buffer grows to the largest parameters seen and stays that size: the hashes
    /// come from the configuration, so that is the largest configured user's `m`.
    pub fn verify(&mut self, password: &str, hash: &str) -> Result<bool, PasswordError> {
        let bad = |e: &dyn std::fmt::Display| PasswordError::BadHash(e.to_string());
        let parsed = PasswordHash::new(hash).map_err(|e| bad(&e))?;
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| bad(&e))?;
        let version = parsed
            .version
            .map(argon2::Version::try_from)
            .transpose()
            .map_err(|e| bad(&e))?
            .unwrap_or_default();
        let params = argon2::Params::try_from(&parsed).map_err(|e| bad(&e))?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(PasswordError::BadHash("no salt or no hash".into()));
        };
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes).map_err(|e| bad(&e))?;
        let needed = params.block_count();
        if self.blocks.len() < needed {
            // Give the smaller buffer back before taking the larger one.
            self.blocks = Vec::new();
            self.blocks = vec![argon2::Block::default(); needed];
        }
        let context = Argon2::new(algorithm, version, params);
        let computed = Output::init_with(expected.len(), |out| {
            context
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    salt,
                    out,
                    &mut self.blocks[..needed],
                )
                .map_err(password_hash::Error::from)
        })
        .map_err(|e| bad(&e))?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
    }
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

#[cfg(any(test, feature = "testing"))]
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
#[cfg(any(test, feature = "testing"))]
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The most Argon2 verifications this process has run at the same moment, through any
/// [`VerifyGate`]; tests read it (counted only in builds for tests).
#[cfg(any(test, feature = "testing"))]
pub fn peak_concurrent_verifications() -> usize {
    PEAK.load(Ordering::SeqCst)
}

/// The login was refused unchecked: enough checks are running or waiting already.
#[derive(Debug, thiserror::Error)]
#[error("too many logins are being checked at once")]
pub struct Busy;

/// Admits a few Argon2 verifications at a time and a short queue behind them; anything beyond is
/// refused at once. The checks run on the gate's own threads, one per allowed check, each with its
/// own [`Verifier`]: the Argon2 memory is one buffer per thread, taken at its first check and
/// reused for every later one (about 19 MiB each with the default parameters), and the blocking
/// pool stays free for the database.
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
                    let mut verifier = Verifier::default();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        // The gate is gone: so is this thread.
                        let Ok(job) = job else { return };
                        #[cfg(any(test, feature = "testing"))]
                        PEAK.fetch_max(ACTIVE.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        let matched = match verifier.verify(&job.password, &job.hash) {
                            Ok(matched) => matched,
                            // Configured hashes are validated at start-up; this is not expected.
                            Err(error) => {
                                tracing::error!(%error, "a password hash cannot be checked");
                                false
                            }
                        };
                        #[cfg(any(test, feature = "testing"))]
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

    /// A hash of `password` made by the crate's own hasher with these parameters.
    fn hash_with(password: &str, algorithm: Algorithm, m: u32, t: u32, p: u32) -> String {
        let params = argon2::Params::new(m, t, p, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        Argon2::new(algorithm, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_verifier_reuses_one_buffer_for_every_check() {
        let hash = hash_password("correct horse").unwrap();
        let mut verifier = Verifier::default();
        assert_eq!(verifier.memory_bytes(), 0, "nothing before the first check");
        assert!(verifier.verify("correct horse", &hash).unwrap());
        let kept = verifier.memory_bytes();
        assert_eq!(kept, 19456 * 1024, "m=19456 KiB");
        let buffer = verifier.blocks.as_ptr();
        assert!(!verifier.verify("correct horsE", &hash).unwrap());
        assert!(!verifier.verify("", &hash).unwrap());
        assert!(verifier.verify("correct horse", &hash).unwrap());
        assert_eq!(verifier.memory_bytes(), kept);
        assert_eq!(verifier.blocks.as_ptr(), buffer, "the same allocation");
    }

    #[test]
    fn the_verifier_takes_each_hash_s_own_parameters() {
        let mut verifier = Verifier::default();
        let small = hash_with("pw", Algorithm::Argon2id, 64, 3, 2);
        let large = hash_with("pw", Algorithm::Argon2id, 256, 1, 1);
        assert!(verifier.verify("pw", &small).unwrap());
        assert!(!verifier.verify("pW", &small).unwrap());
        assert_eq!(verifier.memory_bytes(), 64 * 1024);
        // Larger parameters than the buffer: it grows to their size and stays so.
        assert!(verifier.verify("pw", &large).unwrap());
        assert!(!verifier.verify("pw ", &large).unwrap());
        assert_eq!(verifier.memory_bytes(), 256 * 1024);
        // Smaller ones run in the front of the larger buffer, with the same result.
        assert!(verifier.verify("pw", &small).unwrap());
        assert!(!verifier.verify("pW", &small).unwrap());
        assert_eq!(verifier.memory_bytes(), 256 * 1024);
        // Different t and p with the same m give another hash; each verifies only as itself.
        let other = hash_with("pw", Algorithm::Argon2id, 64, 2, 1);
        assert_ne!(other.rsplit('$').next(), small.rsplit('$').next());
        assert!(verifier.verify("pw", &other).unwrap());
        let swapped = format!(
            "{}${}",
            other.rsplit_once('$').unwrap().0,
            small.rsplit('$').next().unwrap()
        );
        assert!(!verifier.verify("pw", &swapped).unwrap());
    }

    #[test]
    fn the_verifier_agrees_with_the_crate_s_own_verification() {
        use argon2::PasswordVerifier;
        let mut verifier = Verifier::default();
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            let hash = hash_with("secret", algorithm, 32, 2, 1);
            let parsed = PasswordHash::new(&hash).unwrap();
            for attempt in ["secret", "Secret", "secret\0", ""] {
                let theirs = Argon2::default()
                    .verify_password(attempt.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(
                    verifier.verify(attempt, &hash).unwrap(),
                    theirs,
                    "{hash} {attempt:?}"
                );
            }
        }
        // A version 0x10 hash and one with a longer output.
        let params = argon2::Params::new(32, 2, 1, Some(64)).unwrap();
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        for version in [argon2::Version::V0x10, argon2::Version::V0x13] {
            let hash = Argon2::new(Algorithm::Argon2id, version, params.clone())
                .hash_password(b"secret", &salt)
                .unwrap()
                .to_string();
            assert!(verifier.verify("secret", &hash).unwrap(), "{hash}");
            assert!(!verifier.verify("secreT", &hash).unwrap(), "{hash}");
        }
    }

    #[test]
    fn a_malformed_hash_is_an_error_not_a_panic() {
        let good = hash_with("pw", Algorithm::Argon2id, 32, 1, 1);
        let (head, output) = good.rsplit_once('$').unwrap();
        let (params_part, salt) = head.rsplit_once('$').unwrap();
        let mut verifier = Verifier::default();
        for bad in [
            String::new(),
            "not a hash".into(),
            "$".into(),
            "$2b$12$abcdefghijklmnopqrstuv".into(),
            "$argon2id$v=19$m=32,t=1,p=1".into(),
            head.to_string(),
            format!("{head}$"),
            format!("{head}$!!notbase64!!"),
            format!("{head}$QUJD"),
            format!("{params_part}$$${output}"),
            format!("{params_part}$c2FsdA${output}"),
            good.replace("v=19", "v=99"),
            good.replace("m=32", "m=1"),
            good.replace("t=1", "t=0"),
            good.replace("p=1", "p=0"),
            good.replace("m=32", "m=abc"),
            good.replace("m=32", "m=32,x=1"),
            good.replace("$argon2id$", "$argon2x$"),
            format!("{params_part}${salt}"),
        ] {
            let result = verifier.verify("pw", &bad);
            assert!(
                matches!(result, Err(PasswordError::BadHash(_))),
                "{bad:?}: {result:?}"
            );
            assert!(!verify("pw", &bad), "{bad:?}");
        }
        // The verifier is still usable afterwards.
        assert!(verifier.verify("pw", &good).unwrap());
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
