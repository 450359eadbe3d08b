//! Login rate limiting: a sliding window of failed attempts kept in memory, per client IP and
//! per username (known or not, so the limiter does not reveal which names exist).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Too many failures: try again after this long (the HTTP layer sends 429 + `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed logins; try again in {} seconds", .0.as_secs())]
pub struct RetryAfter(pub Duration);

/// Failures allowed per window by default.
pub const DEFAULT_MAX_FAILURES: usize = 5;
/// The default window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Above this many tracked keys, stale ones are swept on each failure.
const SWEEP_ABOVE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(String),
    User(String),
}

/// Counts failed logins per IP and per username over a sliding window.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FAILURES, DEFAULT_WINDOW)
    }
}

fn keys(ip: Option<&str>, username: &str) -> impl Iterator<Item = Key> {
    ip.map(|ip| Key::Ip(ip.to_owned()))
        .into_iter()
        .chain(std::iter::once(Key::User(username.to_lowercase())))
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a login from `ip` for `username` may be tried now.
    pub fn check(&self, ip: Option<&str>, username: &str) -> Result<(), RetryAfter> {
        self.check_at(ip, username, Instant::now())
    }

    pub fn check_at(
        &self,
        ip: Option<&str>,
        username: &str,
        now: Instant,
    ) -> Result<(), RetryAfter> {
        let mut failures = self.lock();
        let mut wait = Duration::ZERO;
        for key in keys(ip, username) {
            if let Some(times) = failures.get_mut(&key) {
                self.expire(times, now);
                if times.len() >= self.max_failures {
                    // Allowed again once enough of the window's failures have aged out.
                    let unblocking = times[times.len() - self.max_failures];
                    wait = wait.max((unblocking + self.window).saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            // Round up so a client that waits exactly this long gets through.
            Err(RetryAfter(Duration::from_secs(wait.as_secs() + 1)))
        }
    }

    /// Counts a failed attempt against the IP and the username.
    pub fn record_failure(&self, ip: Option<&str>, username: &str) {
        self.record_failure_at(ip, username, Instant::now());
    }

    pub fn record_failure_at(&self, ip: Option<&str>, username: &str, now: Instant) {
        let mut failures = self.lock();
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < self.window)
            });
        }
        for key in keys(ip, username) {
            let times = failures.entry(key).or_default();
            self.expire(times, now);
            times.push_back(now);
            // Only the newest `max_failures` matter for the next decision.
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the username's failures (not the IP's).
    pub fn record_success(&self, username: &str) {
        self.lock().remove(&Key::User(username.to_lowercase()));
    }

    fn expire(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) >= self.window)
        {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn blocks_after_five_failures_and_reopens_with_retry_after() {
        let limiter = LoginLimiter::default();
        let start = Instant::now();
        for i in 0..5 {
            let at = start + MINUTE * i;
            assert_eq!(limiter.check_at(Some("10.0.0.1"), "alice", at), Ok(()));
            limiter.record_failure_at(Some("10.0.0.1"), "alice", at);
        }
        let at = start + MINUTE * 4;
        // The first failure (at 0) ages out at 5 minutes: one minute from now.
        assert_eq!(
            limiter.check_at(Some("10.0.0.1"), "alice", at),
            Err(RetryAfter(MINUTE + Duration::from_secs(1)))
        );
        // Per user: another IP is refused too; per IP: another user is refused too.
        assert!(limiter.check_at(Some("10.0.0.2"), "Alice", at).is_err());
        assert!(limiter.check_at(Some("10.0.0.1"), "bob", at).is_err());
        assert_eq!(limiter.check_at(Some("10.0.0.2"), "bob", at), Ok(()));
        let err = limiter.check_at(None, "alice", at).expect_err("blocked");
        assert_eq!(
            err.to_string(),
            "too many failed logins; try again in 61 seconds"
        );
        assert_eq!(
            limiter.check_at(Some("10.0.0.1"), "alice", start + MINUTE * 5),
            Ok(())
        );
    }

    #[test]
    fn success_clears_the_user_but_not_the_ip() {
        let limiter = LoginLimiter::new(2, MINUTE);
        let now = Instant::now();
        limiter.record_failure_at(Some("ip"), "alice", now);
        limiter.record_failure_at(Some("ip"), "alice", now);
        limiter.record_success("alice");
        assert!(limiter.check_at(None, "alice", now).is_ok());
        assert!(limiter.check_at(Some("ip"), "carol", now).is_err());
        for i in 0..=SWEEP_ABOVE {
            limiter.record_failure_at(None, &format!("user{i}"), now);
        }
        // Once the window has passed, the next failure sweeps the stale keys away.
        limiter.record_failure_at(None, "late", now + MINUTE * 2);
        assert_eq!(limiter.lock().len(), 1);
    }
}
