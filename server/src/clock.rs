//! The one source of "now" for the services: the system clock in production, a clock a test
//! sets and advances elsewhere. Times are epoch milliseconds, as stored and as in the API.

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
}

impl Clock {
    /// A test clock standing at `start_ms`.
    #[cfg(any(test, feature = "testing"))]
    pub fn manual(start_ms: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp_millis(),
            #[cfg(any(test, feature = "testing"))]
            Clock::Manual(now) => now.load(Ordering::SeqCst),
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
    fn the_system_clock_is_the_wall_clock() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = Clock::System.now_ms();
        assert!(now >= before && now <= chrono::Utc::now().timestamp_millis());
    }
}
