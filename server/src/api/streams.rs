//! How many live event streams a user, and the console as a whole, may hold open. Each stream
//! keeps a connection and, for a run owned by another process, a database poll alive; a script or
//! a page left reconnecting in a loop must not be able to pile them up (review M7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open streams per user and in total. Per user, not per session: logging in again is free, so a
/// per-session bucket would let one viewer hold every slot.
#[derive(Debug)]
pub struct StreamLimits {
    per_user: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    by_user: HashMap<String, usize>,
    total: usize,
}

/// Held by an open stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    limits: Arc<StreamLimits>,
    user: String,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamRefused {
    #[error("you already follow {0} live streams; close one first")]
    User(usize),
    #[error("the console already serves {0} live streams; try again later")]
    Total(usize),
}

impl StreamLimits {
    /// A browser tab follows one run at a time; some spare for reconnects and several tabs.
    pub const PER_USER: usize = 8;
    pub const TOTAL: usize = 256;

    pub fn new(per_user: usize, total: usize) -> Arc<Self> {
        Arc::new(StreamLimits {
            per_user,
            total,
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for `user`, if one is free.
    pub fn acquire(self: &Arc<Self>, user: &str) -> Result<StreamSlot, StreamRefused> {
        let mut open = self.lock();
        if open.total >= self.total {
            return Err(StreamRefused::Total(self.total));
        }
        let mine = open.by_user.entry(user.to_string()).or_default();
        if *mine >= self.per_user {
            return Err(StreamRefused::User(self.per_user));
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamSlot {
            limits: self.clone(),
            user: user.to_string(),
        })
    }

    /// Streams open now.
    #[cfg(test)]
    fn open(&self) -> usize {
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
            per_user: Self::PER_USER,
            total: Self::TOTAL,
            open: Mutex::new(Open::default()),
        }
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_user.get_mut(&self.user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_their_share_and_a_freed_slot_is_reusable() {
        let limits = StreamLimits::new(2, 10);
        let a = limits.acquire("s1").unwrap();
        let _b = limits.acquire("s1").unwrap();
        assert_eq!(limits.acquire("s1").unwrap_err(), StreamRefused::User(2));
        // Another user is not held back by the first one.
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
