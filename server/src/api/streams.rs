//! How many live event streams a session, and the console as a whole, may hold open. Each stream
//! keeps a connection and, for a run owned by another process, a database poll alive; a script or
//! a page left reconnecting in a loop must not be able to pile them up (review M7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open streams per session and in total.
#[derive(Debug)]
pub struct StreamLimits {
    per_session: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    by_session: HashMap<String, usize>,
    total: usize,
}

/// Held by an open stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    limits: Arc<StreamLimits>,
    session: String,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamRefused {
    #[error("this session already follows {0} live streams; close one first")]
    Session(usize),
    #[error("the console already serves {0} live streams; try again later")]
    Total(usize),
}

impl StreamLimits {
    /// A browser tab follows one run at a time; a few spare for reconnects and several tabs.
    pub const PER_SESSION: usize = 4;
    pub const TOTAL: usize = 256;

    pub fn new(per_session: usize, total: usize) -> Arc<Self> {
        Arc::new(StreamLimits {
            per_session,
            total,
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for `session` (a session's token hash, or the proxy user's name), if one is free.
    pub fn acquire(self: &Arc<Self>, session: &str) -> Result<StreamSlot, StreamRefused> {
        let mut open = self.lock();
        if open.total >= self.total {
            return Err(StreamRefused::Total(self.total));
        }
        let mine = open.by_session.entry(session.to_string()).or_default();
        if *mine >= self.per_session {
            return Err(StreamRefused::Session(self.per_session));
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamSlot {
            limits: self.clone(),
            session: session.to_string(),
        })
    }

    /// Streams open now (for tests and, later, metrics).
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counters stay consistent whatever panicked while holding them.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_session: Self::PER_SESSION,
            total: Self::TOTAL,
            open: Mutex::new(Open::default()),
        }
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_session.get_mut(&self.session) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_session.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gets_its_share_and_a_freed_slot_is_reusable() {
        let limits = StreamLimits::new(2, 10);
        let a = limits.acquire("s1").unwrap();
        let _b = limits.acquire("s1").unwrap();
        assert_eq!(limits.acquire("s1").unwrap_err(), StreamRefused::Session(2));
        // Another session is not held back by the first one.
        let _c = limits.acquire("s2").unwrap();
        drop(a);
        assert!(limits.acquire("s1").is_ok());
    }

    #[test]
    fn the_total_holds_across_sessions() {
        let limits = StreamLimits::new(5, 3);
        let held: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|s| limits.acquire(s).unwrap())
            .collect();
        assert_eq!(limits.acquire("d").unwrap_err(), StreamRefused::Total(3));
        assert_eq!(limits.open(), 3);
        drop(held);
        assert_eq!(limits.open(), 0);
    }
}
