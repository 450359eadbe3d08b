//! Login throttling that cannot be used to lock anyone out: failures are counted per
//! (username, client address) and per client address, never per username alone, so guessing
//! from one address slows that address only and the real user still logs in from another.
//! Past a number of free failures each further one doubles the wait, up to a maximum; a key's
//! failures are forgotten once that maximum passes without a new one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{MAX_KEYS, RetryAfter, SWEEP_ABOVE, round_up};

const WHAT: &str = "failed logins";
/// How often a large table of failures is swept at most.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// How failed logins are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures of one username from one address before waits start.
    pub free_failures: u32,
    /// Failures from one address, whatever the usernames, before waits start.
    pub address_free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest wait; also how long after its last failure a key is forgotten.
    pub max_delay: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            address_free_failures: 20,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

impl LoginPolicy {
    /// The wait after the `failures`-th failure of a key allowed `free` of them.
    fn wait_after(&self, failures: u32, free: u32) -> Option<Duration> {
        let over = failures.checked_sub(free.max(1))?;
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        Some(
            self.base_delay
                .checked_mul(factor)
                .unwrap_or(self.max_delay)
                .min(self.max_delay),
        )
    }
}

/// A login attempt in progress, counted as a failure unless it [`LoginLimiter::succeeded`].
#[derive(Debug)]
#[must_use = "an attempt counts as failed unless passed to succeeded()"]
pub struct Attempt {
    ip: String,
    username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// One username from one address.
    Pair(String, String),
    /// One address, any username.
    Address(String),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Counts failed logins per (username, address) and per address.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    policy: LoginPolicy,
    failures: Mutex<HashMap<Key, Failures>>,
    /// When stale keys were last swept (sweeping is O(keys): not on every attempt).
    swept: Mutex<Option<Instant>>,
}

/// A caller without an address (a test, an in-process call) counts as one address.
fn address(ip: Option<&str>) -> String {
    ip.unwrap_or("unknown").to_owned()
}

impl LoginLimiter {
    pub fn new(policy: LoginPolicy) -> Self {
        Self {
            policy,
            failures: Mutex::default(),
            swept: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn free(&self, key: &Key) -> u32 {
        match key {
            Key::Pair(..) => self.policy.free_failures,
            Key::Address(_) => self.policy.address_free_failures,
        }
    }

    /// Starts a login attempt from `ip` for `username`: refused while its address, or this
    /// username from this address, must wait; otherwise counted as a failure at once (so
    /// parallel guesses cannot all slip past the check) until [`LoginLimiter::succeeded`]
    /// takes it back.
    pub fn begin(&self, ip: Option<&str>, username: &str) -> Result<Attempt, RetryAfter> {
        self.begin_at(ip, username, Instant::now())
    }

    pub fn begin_at(
        &self,
        ip: Option<&str>,
        username: &str,
        now: Instant,
    ) -> Result<Attempt, RetryAfter> {
        let ip = address(ip);
        let username = username.to_lowercase();
        let keys = [
            Key::Pair(username.clone(), ip.clone()),
            Key::Address(ip.clone()),
        ];
        let mut failures = self.lock();
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some(seen) = failures.get_mut(key) {
                if now.saturating_duration_since(seen.last) >= self.policy.max_delay {
                    failures.remove(key);
                    continue;
                }
                if let Some(until) = seen.blocked_until {
                    wait = wait.max(until.saturating_duration_since(now));
                }
            }
        }
        if !wait.is_zero() {
            return Err(RetryAfter(round_up(wait), WHAT));
        }
        if failures.len() > SWEEP_ABOVE {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            let due = swept.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY);
            if due || failures.len() > MAX_KEYS {
                self.sweep(&mut failures, now);
                *swept = Some(now);
            }
        }
        for key in keys {
            let free = self.free(&key);
            let seen = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
                blocked_until: None,
            });
            seen.count = seen.count.saturating_add(1);
            seen.last = now;
            seen.blocked_until = self
                .policy
                .wait_after(seen.count, free)
                .map(|wait| now + wait);
        }
        Ok(Attempt { ip, username })
    }

    /// The attempt succeeded: this username's failures from this address are cleared, and the
    /// attempt no longer counts against the address.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut failures = self.lock();
        failures.remove(&Key::Pair(attempt.username, attempt.ip.clone()));
        let key = Key::Address(attempt.ip);
        let free = self.free(&key);
        if let Some(seen) = failures.get_mut(&key) {
            seen.count = seen.count.saturating_sub(1);
            if seen.count < free.max(1) {
                seen.blocked_until = None;
            }
        }
    }

    /// Forgets keys whose last failure is older than the longest wait; past [`MAX_KEYS`],
    /// every key that is not blocking right now.
    fn sweep(&self, failures: &mut HashMap<Key, Failures>, now: Instant) {
        let max = self.policy.max_delay;
        failures.retain(|_, seen| now.saturating_duration_since(seen.last) < max);
        if failures.len() > MAX_KEYS {
            failures.retain(|_, seen| seen.blocked_until.is_some_and(|until| until > now));
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn fail(limiter: &LoginLimiter, ip: &str, user: &str, at: Instant) -> Result<(), RetryAfter> {
        limiter.begin_at(Some(ip), user, at).map(drop)
    }

    #[test]
    fn guessing_slows_the_guessing_address_only() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for _ in 0..5 {
            fail(&limiter, "10.0.0.1", "alice", now).expect("free failures");
        }
        // The guessing address waits, with Retry-After, even for the right password…
        let err = fail(&limiter, "10.0.0.1", "Alice", now).expect_err("blocked");
        assert_eq!(err, RetryAfter(10 * SECOND, "failed logins"));
        assert_eq!(
            err.to_string(),
            "too many failed logins; try again in 10 seconds"
        );
        // …while the real user, from anywhere else, is not locked out.
        let real = limiter
            .begin_at(Some("192.0.2.7"), "alice", now)
            .expect("another address is not throttled");
        limiter.succeeded(real);
        // The guessing address may still log in other users (a shared office address).
        fail(&limiter, "10.0.0.1", "bob", now).expect("other usernames from that address");
    }

    #[test]
    fn waits_grow_then_cap_and_failures_are_forgotten() {
        let limiter = LoginLimiter::default();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..12 {
            match fail(&limiter, "10.0.0.1", "alice", now) {
                Ok(()) => {}
                Err(RetryAfter(wait, _)) => {
                    waits.push(wait.as_secs());
                    now += wait;
                    fail(&limiter, "10.0.0.1", "alice", now).expect("after the wait");
                }
            }
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640]);
        fail(&limiter, "10.0.0.1", "alice", now).expect_err("still blocked");
        let later = now + Duration::from_secs(15 * 60);
        fail(&limiter, "10.0.0.1", "alice", later).expect("capped at the maximum");
        // A quiet maximum-wait forgets everything: free failures again.
        let much_later = later + Duration::from_secs(15 * 60);
        for _ in 0..5 {
            fail(&limiter, "10.0.0.1", "alice", much_later).expect("forgotten");
        }
    }

    #[test]
    fn one_address_guessing_many_names_is_throttled_as_an_address() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for i in 0..20 {
            fail(&limiter, "10.0.0.9", &format!("user{i}"), now).expect("free failures");
        }
        assert!(fail(&limiter, "10.0.0.9", "user99", now).is_err());
        assert!(fail(&limiter, "10.0.0.10", "user99", now).is_ok());
    }

    #[test]
    fn parallel_attempts_are_counted_before_they_finish() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        let started: Vec<_> = (0..10)
            .filter_map(|_| limiter.begin_at(Some("ip"), "alice", now).ok())
            .collect();
        assert_eq!(started.len(), 5);
    }

    #[test]
    fn success_clears_the_pair_and_never_blocks_an_office() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for _ in 0..4 {
            fail(&limiter, "ip", "alice", now).expect("free");
        }
        let attempt = limiter.begin_at(Some("ip"), "alice", now).expect("fifth");
        limiter.succeeded(attempt);
        for _ in 0..4 {
            fail(&limiter, "ip", "alice", now).expect("cleared by the success");
        }
        // Many successful logins from one address never block it.
        for _ in 0..50 {
            let attempt = limiter.begin_at(Some("ip"), "bob", now).expect("fine");
            limiter.succeeded(attempt);
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for i in 0..=SWEEP_ABOVE {
            fail(&limiter, &format!("a{i}"), "x", now).expect("fresh");
        }
        let later = now + Duration::from_secs(16 * 60);
        fail(&limiter, "late", "x", later).expect("fresh");
        assert_eq!(limiter.tracked(), 2);
    }
}
