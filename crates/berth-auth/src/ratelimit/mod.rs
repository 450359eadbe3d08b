//! Throttles, in memory: failed logins per (username, client address) and per client address
//! with growing delays ([`LoginLimiter`]), and expensive calls per user as token buckets
//! ([`CallLimiter`]). Both answer [`RetryAfter`] (429 with `Retry-After` over HTTP).

mod calls;
mod login;

use std::time::Duration;

pub use calls::{CallLimiter, Rate, RateError};
pub use login::{Attempt, LoginLimiter, LoginPolicy};

/// Too many of something: try again after `.0` (the HTTP layer sends 429 + `Retry-After`).
/// `.1` says what there were too many of (`failed logins`, `instance creates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many {what}; try again in {secs} seconds", what = .1, secs = .0.as_secs())]
pub struct RetryAfter(pub Duration, pub &'static str);

/// Above this many tracked keys, stale ones are swept before a new one is added.
const SWEEP_ABOVE: usize = 4096;
/// The most keys a limiter tracks; past it, keys not currently blocking are forgotten, so a
/// caller with many addresses or names cannot grow the daemon's memory without bound.
const MAX_KEYS: usize = 100_000;

/// Rounds a wait up to whole seconds, so a client that waits exactly `Retry-After` gets in.
fn round_up(wait: Duration) -> Duration {
    let whole = Duration::from_secs(wait.as_secs());
    if whole == wait {
        whole.max(Duration::from_secs(1))
    } else {
        whole + Duration::from_secs(1)
    }
}
