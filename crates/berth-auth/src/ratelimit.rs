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

/// A login attempt in progress, counted as a failure unless it [`LoginLimiter::succeeded`].
#[derive(Debug)]
#[must_use = "an attempt counts as failed unless passed to succeeded()"]
pub struct Attempt {
    ip: Option<String>,
    username: String,
    at: Instant,
}

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

    /// Starts a login attempt from `ip` for `username`: refused while either has too many
    /// recent failures; otherwise counted as a failure at once (so parallel guesses cannot all
    /// slip past the check) until [`LoginLimiter::succeeded`] takes it back.
    pub fn begin(&self, ip: Option<&str>, username: &str) -> Result<Attempt, RetryAfter> {
        self.begin_at(ip, username, Instant::now())
    }

    pub fn begin_at(
        &self,
        ip: Option<&str>,
        username: &str,
        now: Instant,
    ) -> Result<Attempt, RetryAfter> {
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
        if !wait.is_zero() {
            // Round up so a client that waits exactly this long gets through.
            return Err(RetryAfter(Duration::from_secs(wait.as_secs() + 1)));
        }
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < self.window)
            });
        }
        for key in keys(ip, username) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Only the newest `max_failures` matter for the next decision.
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
        Ok(Attempt {
            ip: ip.map(str::to_owned),
            username: username.to_lowercase(),
            at: now,
        })
    }

    /// The attempt succeeded: it no longer counts against its IP, and the username's failures
    /// are cleared.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut failures = self.lock();
        failures.remove(&Key::User(attempt.username));
        if let Some(ip) = attempt.ip
            && let Some(times) = failures.get_mut(&Key::Ip(ip))
            && let Some(index) = times.iter().position(|at| *at == attempt.at)
        {
            times.remove(index);
        }
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

    fn fail(limiter: &LoginLimiter, ip: Option<&str>, user: &str, at: Instant) -> bool {
        limiter.begin_at(ip, user, at).is_ok()
    }

    #[test]
    fn blocks_after_five_failures_and_reopens_with_retry_after() {
        let limiter = LoginLimiter::default();
        let start = Instant::now();
        for i in 0..5 {
            assert!(fail(
                &limiter,
                Some("10.0.0.1"),
                "alice",
                start + MINUTE * i
            ));
        }
        let at = start + MINUTE * 4;
        // The first failure (at 0) ages out at 5 minutes: one minute from now.
        let err = limiter
            .begin_at(Some("10.0.0.1"), "alice", at)
            .expect_err("blocked");
        assert_eq!(err, RetryAfter(MINUTE + Duration::from_secs(1)));
        assert_eq!(
            err.to_string(),
            "too many failed logins; try again in 61 seconds"
        );
        // Per user: another IP is refused too; per IP: another user is refused too.
        assert!(!fail(&limiter, Some("10.0.0.2"), "Alice", at));
        assert!(!fail(&limiter, Some("10.0.0.1"), "bob", at));
        assert!(!fail(&limiter, None, "alice", at));
        assert!(fail(&limiter, Some("10.0.0.2"), "bob", at));
        assert!(fail(
            &limiter,
            Some("10.0.0.1"),
            "alice",
            start + MINUTE * 5
        ));
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
    fn success_clears_the_user_and_its_own_ip_count() {
        let limiter = LoginLimiter::new(2, MINUTE);
        let now = Instant::now();
        assert!(fail(&limiter, Some("ip"), "alice", now));
        // Many successful logins from one address (an office) never block it.
        for _ in 0..10 {
            let attempt = limiter
                .begin_at(Some("ip"), "bob", now)
                .expect("not blocked");
            limiter.succeeded(attempt);
        }
        assert!(fail(&limiter, Some("ip"), "alice", now));
        assert!(!fail(&limiter, Some("ip"), "carol", now));
        let attempt = limiter.begin_at(Some("other"), "dave", now).expect("fresh");
        limiter.succeeded(attempt);
        for i in 0..=SWEEP_ABOVE {
            assert!(fail(&limiter, None, &format!("user{i}"), now));
        }
        // Once the window has passed, the next attempt sweeps the stale keys away.
        assert!(fail(&limiter, None, "late", now + MINUTE * 2));
        assert_eq!(limiter.lock().len(), 1);
    }
}
