//! Rate limits on expensive calls (creates, image builds, backups, exec…): one token bucket
//! per (user, class of call). A bucket holds up to `count` calls and refills at `count` per
//! `per`, so a burst of `count` is fine and a steady rate above it is refused with the time
//! until the next call would be allowed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{MAX_KEYS, RetryAfter, round_up};

/// A rate as configured: `"10/min"`, `"4/hour"`, `"2/s"`, `"100/day"`; `"0"` or `""` is
/// unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a rate; write COUNT/UNIT with UNIT s, min, hour or day (\"10/min\"), or 0 for no limit"
)]
pub struct RateError(pub String);

impl Rate {
    /// Parses a configured rate; `None` is unlimited.
    pub fn parse(raw: &str) -> Result<Option<Self>, RateError> {
        let bad = || RateError(raw.to_owned());
        let text = raw.trim();
        if text.is_empty() || text == "0" {
            return Ok(None);
        }
        let (count, unit) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "day" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        Ok((count > 0).then_some(Self { count, per }))
    }

    fn per_second(self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per (user, class).
#[derive(Debug, Default)]
pub struct CallLimiter {
    buckets: Mutex<HashMap<(String, &'static str), Bucket>>,
}

impl CallLimiter {
    /// Takes one call of `class` (`"instance creates"`) for `user` at `rate`; `None` rate is
    /// unlimited.
    pub fn take(
        &self,
        user: &str,
        class: &'static str,
        rate: Option<Rate>,
    ) -> Result<(), RetryAfter> {
        self.take_at(user, class, rate, Instant::now())
    }

    pub fn take_at(
        &self,
        user: &str,
        class: &'static str,
        rate: Option<Rate>,
        now: Instant,
    ) -> Result<(), RetryAfter> {
        let Some(rate) = rate else { return Ok(()) };
        let capacity = f64::from(rate.count);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_KEYS {
            // Full buckets hold no information: forget them.
            buckets.retain(|_, b| b.tokens + refill(rate, b.at, now) < capacity);
        }
        let bucket = buckets.entry((user.to_owned(), class)).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens = (bucket.tokens + refill(rate, bucket.at, now)).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate.per_second());
        Err(RetryAfter(round_up(wait), class))
    }
}

fn refill(rate: Rate, since: Instant, now: Instant) -> f64 {
    now.saturating_duration_since(since).as_secs_f64() * rate.per_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_name_the_format() {
        let ten = Rate::parse("10/min").expect("valid").expect("limited");
        assert_eq!(ten.count, 10);
        assert_eq!(ten.per, Duration::from_secs(60));
        assert_eq!(Rate::parse("0"), Ok(None));
        assert_eq!(Rate::parse(""), Ok(None));
        assert_eq!(
            Rate::parse(" 4 / hour "),
            Ok(Some(Rate {
                count: 4,
                per: Duration::from_secs(3600)
            }))
        );
        for bad in ["ten/min", "10", "10/fortnight", "-1/min", "99999999999/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_then_the_refill_rate_with_retry_after() {
        let limiter = CallLimiter::default();
        let rate = Rate::parse("3/min").expect("valid");
        let now = Instant::now();
        for _ in 0..3 {
            limiter
                .take_at("alice", "instance creates", rate, now)
                .expect("burst");
        }
        let err = limiter
            .take_at("alice", "instance creates", rate, now)
            .expect_err("over the rate");
        assert_eq!(err, RetryAfter(Duration::from_secs(20), "instance creates"));
        assert_eq!(
            err.to_string(),
            "too many instance creates; try again in 20 seconds"
        );
        // Other users and other classes have their own buckets.
        limiter
            .take_at("bob", "instance creates", rate, now)
            .expect("bob");
        limiter
            .take_at("alice", "backups", rate, now)
            .expect("another class");
        let later = now + Duration::from_secs(20);
        limiter
            .take_at("alice", "instance creates", rate, later)
            .expect("refilled one");
        assert!(
            limiter
                .take_at("alice", "instance creates", rate, later)
                .is_err()
        );
        limiter
            .take_at("alice", "instance creates", None, later)
            .expect("unlimited");
    }
}
