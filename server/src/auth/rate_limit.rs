//! Failed logins per key (a client address, a user name) in a sliding window.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct LoginLimiter {
    max_failures: usize,
    window_ms: i64,
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window_ms: i64) -> Self {
        LoginLimiter {
            max_failures,
            window_ms,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` to wait when `key` has used up its failures in the window.
    pub fn check(&self, key: &str, now_ms: i64) -> Result<(), i64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        times.retain(|t| now_ms - t < self.window_ms);
        if times.len() >= self.max_failures {
            let oldest = times.iter().min().copied().unwrap_or(now_ms);
            return Err(((oldest + self.window_ms - now_ms) / 1000).max(1));
        }
        Ok(())
    }

    pub fn record_failure(&self, key: &str, now_ms: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bound the memory an attacker can make us use: forget stale keys now and then.
        if map.len() > 10_000 {
            let window = self.window_ms;
            map.retain(|_, times| times.iter().any(|t| now_ms - t < window));
        }
        map.entry(key.to_string()).or_default().push(now_ms);
    }

    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_within_the_window_and_lifts_after() {
        let limiter = LoginLimiter::new(3, 60_000);
        for t in [0, 1_000, 2_000] {
            assert!(limiter.check("ip:1.2.3.4", t).is_ok());
            limiter.record_failure("ip:1.2.3.4", t);
        }
        assert_eq!(limiter.check("ip:1.2.3.4", 3_000), Err(57));
        assert!(
            limiter.check("ip:5.6.7.8", 3_000).is_ok(),
            "other keys are unaffected"
        );
        assert!(
            limiter.check("ip:1.2.3.4", 60_001).is_ok(),
            "the first failure left the window"
        );
        limiter.clear("ip:1.2.3.4");
        assert!(limiter.check("ip:1.2.3.4", 3_000).is_ok());
    }
}
