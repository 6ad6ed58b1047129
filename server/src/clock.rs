//! The one source of "now" for the services: the system clock in production, a clock a test
//! sets and advances elsewhere, or (for the demo and tests) one that runs faster than the wall's.
//! Times are epoch milliseconds, as stored and as in the API.

#[cfg(any(test, feature = "testing"))]
use std::sync::Arc;
#[cfg(any(test, feature = "testing"))]
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// A test's clock: it stands still until set or advanced; its clones share one time.
    #[cfg(any(test, feature = "testing"))]
    Manual(Arc<AtomicI64>),
    /// Time that runs `factor` times as fast as the wall's from `origin_ms` (at `started`), so a
    /// daily schedule can be watched in minutes. Never in a production build: leases and
    /// schedules of a real cluster run on the wall's time.
    #[cfg(any(test, feature = "testing", feature = "demo"))]
    Accelerated {
        origin_ms: i64,
        started: std::time::Instant,
        factor: u32,
    },
}

impl Clock {
    /// A test clock standing at `start_ms`.
    #[cfg(any(test, feature = "testing"))]
    pub fn manual(start_ms: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    /// A clock starting at the wall's now and running `factor` times as fast (at least 1).
    #[cfg(any(test, feature = "testing", feature = "demo"))]
    pub fn accelerated(factor: u32) -> Clock {
        Clock::Accelerated {
            origin_ms: chrono::Utc::now().timestamp_millis(),
            started: std::time::Instant::now(),
            factor: factor.max(1),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp_millis(),
            #[cfg(any(test, feature = "testing"))]
            Clock::Manual(now) => now.load(Ordering::SeqCst),
            #[cfg(any(test, feature = "testing", feature = "demo"))]
            Clock::Accelerated {
                origin_ms,
                started,
                factor,
            } => {
                let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
                origin_ms.saturating_add(elapsed.saturating_mul(i64::from(*factor)))
            }
        }
    }

    /// Moves a test clock to `ms`; the system clock is not ours to set, so it is left alone.
    #[cfg(any(test, feature = "testing"))]
    pub fn set_ms(&self, ms: i64) {
        if let Clock::Manual(now) = self {
            now.store(ms, Ordering::SeqCst);
        }
    }

    /// Moves a test clock forward by `by`.
    #[cfg(any(test, feature = "testing"))]
    pub fn advance(&self, by: std::time::Duration) {
        if let Clock::Manual(now) = self {
            let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            now.fetch_add(by, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_follow() {
        let clock = Clock::manual(1_000);
        let copy = clock.clone();
        assert_eq!(copy.now_ms(), 1_000);
        clock.advance(std::time::Duration::from_secs(2));
        assert_eq!(copy.now_ms(), 3_000);
        copy.set_ms(10);
        assert_eq!(clock.now_ms(), 10);
    }

    #[test]
    fn an_accelerated_clock_runs_its_factor_faster_from_now() {
        let before = chrono::Utc::now().timestamp_millis();
        let clock = Clock::accelerated(1_000);
        let start = clock.now_ms();
        assert!(start >= before && start <= chrono::Utc::now().timestamp_millis() + 1_000);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // 20 ms of the wall's are at least 20 s of this clock's.
        assert!(
            clock.now_ms() - start >= 20_000,
            "{}",
            clock.now_ms() - start
        );
        assert!(matches!(
            Clock::accelerated(0),
            Clock::Accelerated { factor: 1, .. }
        ));
    }

    #[test]
    fn the_system_clock_is_the_wall_clock() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = Clock::System.now_ms();
        assert!(now >= before && now <= chrono::Utc::now().timestamp_millis());
    }
}
