//! Failed logins in a sliding window, per (user name, client address) and per client address.
//! An attempt is reserved before its password is checked, so parallel requests cannot all pass a
//! check made before any of them failed. Refusals are counted per key and window, so that the
//! audit log gets one row for the first and one row with the count of the rest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::LoginSettings;
use super::password::{PasswordError, VerifyGate, dummy_hash};

pub struct LoginLimiter {
    per_user_address: usize,
    per_address: usize,
    window_ms: i64,
    /// Bounds the Argon2 work of logins that got past the limits.
    pub gate: VerifyGate,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: HashMap<String, Vec<i64>>,
    denials: HashMap<String, Denials>,
}

/// Refusals of one key within one window.
struct Denials {
    since_ms: i64,
    last_ms: i64,
    count: u64,
    user: String,
    client: String,
}

/// A login allowed to check its password. Counted as a failure unless [`LoginLimiter::succeeded`]
/// or [`LoginLimiter::release`] takes it back, so an abandoned request still counts.
#[derive(Debug)]
pub struct Reservation {
    address_key: String,
    pair_key: String,
    at_ms: i64,
}

/// A refused login.
#[derive(Debug, PartialEq, Eq)]
pub struct Denied {
    pub retry_after_secs: i64,
    /// The first refusal of this key in its window: write an audit row now. Later ones are
    /// counted and reported by [`LoginLimiter::finished_denials`].
    pub first: bool,
}

/// Refusals after the first one of a key's window, once that window is over.
#[derive(Debug, PartialEq, Eq)]
pub struct DenialSummary {
    pub user: String,
    pub client: String,
    pub count: u64,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// The key of a client address: an IPv6 client owns at least a /64, so that is one client.
pub fn address_key(client: &str) -> String {
    match client.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => format!("addr:{}", v6.to_canonical()),
        Ok(ip) => format!("addr:{ip}"),
        Err(_) => format!("addr:{client}"),
    }
}

impl LoginLimiter {
    /// Builds the dummy hash for unknown users (one Argon2 run) from the first user's parameters.
    pub fn for_config(config: &super::AuthConfig) -> Result<Self, PasswordError> {
        let like = config.users.first().map(|u| u.password_hash.as_str());
        Ok(Self::new(&config.login, dummy_hash(like)?))
    }

    pub fn new(settings: &LoginSettings, dummy_hash: String) -> Self {
        LoginLimiter {
            per_user_address: settings.failures_per_user_address.max(1),
            per_address: settings.failures_per_address.max(1),
            window_ms: settings.window.as_millis() as i64,
            gate: VerifyGate::new(
                settings.verify_concurrency,
                settings.verify_queue,
                dummy_hash,
            ),
            state: Mutex::new(State::default()),
        }
    }

    /// Reserves an attempt for `user` from `client`, or refuses it, in one step.
    pub fn reserve(&self, user: &str, client: &str, now_ms: i64) -> Result<Reservation, Denied> {
        let address_key = address_key(client);
        let pair_key = format!("{address_key}\nuser:{user}");
        let window = self.window_ms;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // Bound the memory an attacker can make us use: forget stale keys now and then.
        if state.failures.len() > 10_000 {
            state
                .failures
                .retain(|_, times| times.iter().any(|t| now_ms - t < window));
        }
        for (key, limit) in [
            (&address_key, self.per_address),
            (&pair_key, self.per_user_address),
        ] {
            let Some(times) = state.failures.get_mut(key) else {
                continue;
            };
            times.retain(|t| now_ms - t < window);
            if times.len() >= limit {
                let oldest = times.iter().min().copied().unwrap_or(now_ms);
                let retry_after_secs = ((oldest + window - now_ms) / 1000).max(1);
                let first = note_denial(&mut state, key, user, client, now_ms, window);
                return Err(Denied {
                    retry_after_secs,
                    first,
                });
            }
        }
        for key in [&address_key, &pair_key] {
            state.failures.entry(key.clone()).or_default().push(now_ms);
        }
        Ok(Reservation {
            address_key,
            pair_key,
            at_ms: now_ms,
        })
    }

    /// The password was not checked (the server was busy): the attempt does not count.
    pub fn release(&self, reservation: Reservation) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for key in [&reservation.address_key, &reservation.pair_key] {
            if let Some(times) = state.failures.get_mut(key)
                && let Some(i) = times.iter().position(|t| *t == reservation.at_ms)
            {
                times.swap_remove(i);
            }
        }
    }

    /// The right password: this user's failures from this address are forgotten; other users'
    /// failures from the address still count.
    pub fn succeeded(&self, reservation: Reservation) {
        let pair_key = reservation.pair_key.clone();
        self.release(reservation);
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failures
            .remove(&pair_key);
    }

    /// Keys whose refusal window is over and that were refused more than once: the count of the
    /// refusals after the first, for one audit row each.
    pub fn finished_denials(&self, now_ms: i64) -> Vec<DenialSummary> {
        let window = self.window_ms;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        state.denials.retain(|_, d| {
            if now_ms - d.since_ms < window {
                return true;
            }
            if let Some(summary) = summary(d) {
                out.push(summary);
            }
            false
        });
        out
    }
}

fn summary(d: &Denials) -> Option<DenialSummary> {
    (d.count > 1).then(|| DenialSummary {
        user: d.user.clone(),
        client: d.client.clone(),
        count: d.count - 1,
        from_ms: d.since_ms,
        to_ms: d.last_ms,
    })
}

/// Counts a refusal of `key`; true when it is the first of its window.
fn note_denial(
    state: &mut State,
    key: &str,
    user: &str,
    client: &str,
    now_ms: i64,
    window: i64,
) -> bool {
    if let Some(d) = state.denials.get_mut(key)
        && now_ms - d.since_ms < window
    {
        d.count += 1;
        d.last_ms = now_ms;
        return false;
    }
    // A window that ended without `finished_denials` running yet is reported there: keep its
    // count under a key of its own so that the new window starts clean.
    if let Some(old) = state.denials.remove(key) {
        state
            .denials
            .insert(format!("{key}\nended:{}", old.since_ms), old);
    }
    state.denials.insert(
        key.to_string(),
        Denials {
            since_ms: now_ms,
            last_ms: now_ms,
            count: 1,
            user: user.chars().take(200).collect(),
            client: client.to_string(),
        },
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter() -> LoginLimiter {
        let settings = LoginSettings {
            failures_per_user_address: 3,
            failures_per_address: 5,
            window: Duration::from_secs(60),
            ..LoginSettings::default()
        };
        LoginLimiter::new(&settings, String::new())
    }

    #[test]
    fn the_limit_holds_within_the_window_and_lifts_after() {
        let limiter = limiter();
        for t in [0, 1_000, 2_000] {
            limiter.reserve("alice", "1.2.3.4", t).unwrap();
        }
        let denied = limiter.reserve("alice", "1.2.3.4", 3_000).unwrap_err();
        assert_eq!(denied.retry_after_secs, 57);
        assert!(denied.first);
        assert!(
            limiter.reserve("alice", "5.6.7.8", 3_000).is_ok(),
            "the same user from another address is unaffected"
        );
        assert!(
            limiter.reserve("alice", "1.2.3.4", 60_001).is_ok(),
            "the first failure left the window"
        );
    }

    #[test]
    fn reservations_are_taken_before_the_check_so_bursts_cannot_pass() {
        let limiter = std::sync::Arc::new(limiter());
        let passed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    let limiter = limiter.clone();
                    s.spawn(move || limiter.reserve("alice", "1.2.3.4", 0).is_ok() as usize)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(passed, 3);
    }

    #[test]
    fn a_success_forgets_the_pair_and_a_release_does_not_count() {
        let limiter = limiter();
        limiter.reserve("alice", "1.2.3.4", 0).unwrap();
        limiter.reserve("alice", "1.2.3.4", 0).unwrap();
        let r = limiter.reserve("alice", "1.2.3.4", 0).unwrap();
        limiter.succeeded(r);
        for _ in 0..2 {
            let r = limiter.reserve("alice", "1.2.3.4", 0).unwrap();
            limiter.release(r);
        }
        limiter.reserve("alice", "1.2.3.4", 0).unwrap();
        // The address still carries the two earlier failures plus this one; two more users' tries
        // fill its allowance of five.
        limiter.reserve("bob", "1.2.3.4", 0).unwrap();
        limiter.reserve("carol", "1.2.3.4", 0).unwrap();
        assert!(limiter.reserve("dave", "1.2.3.4", 0).is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:10.0.0.1"), "addr:10.0.0.1");
    }

    #[test]
    fn refusals_are_counted_once_per_key_and_window() {
        let limiter = limiter();
        for _ in 0..3 {
            limiter.reserve("alice", "1.2.3.4", 0).unwrap();
        }
        let firsts = (0..1_000)
            .filter(|_| limiter.reserve("alice", "1.2.3.4", 10).unwrap_err().first)
            .count();
        assert_eq!(firsts, 1);
        assert!(limiter.finished_denials(30_000).is_empty(), "window open");
        assert_eq!(
            limiter.finished_denials(60_010),
            vec![DenialSummary {
                user: "alice".into(),
                client: "1.2.3.4".into(),
                count: 999,
                from_ms: 10,
                to_ms: 10,
            }]
        );
        assert!(limiter.finished_denials(60_010).is_empty());
    }
}
