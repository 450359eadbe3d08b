//! What an accept loop does when `accept` fails. Out of descriptors or memory (EMFILE,
//! ENFILE, ENOBUFS, ENOMEM), it pauses — growing from 10 ms to 1 s — instead of spinning,
//! and it logs at most once per interval with a count of what it did not log, instead of once
//! per attempt (a flood once wrote a gigabyte of the same warning in 30 seconds).

use std::time::{Duration, Instant};

/// At most one log line per listener this often.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Accept errors of one listener.
#[derive(Debug)]
pub struct AcceptErrors {
    listener: String,
    pause: Duration,
    logged_at: Option<Instant>,
    unlogged: u64,
}

/// What to do after one error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Wait this long before accepting again.
    pub pause: Duration,
    /// Whether this error was logged (else it is counted for the next line).
    pub logged: bool,
}

/// Errors that mean the process or host is out of something: accepting again at once would
/// fail again.
fn exhausted(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl AcceptErrors {
    pub fn new(listener: impl Into<String>) -> Self {
        Self {
            listener: listener.into(),
            pause: Duration::ZERO,
            logged_at: None,
            unlogged: 0,
        }
    }

    /// A connection was accepted: the pause starts over.
    pub fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }

    /// `accept` failed with `err`.
    pub fn failed(&mut self, err: &std::io::Error) -> Decision {
        self.failed_at(err, Instant::now())
    }

    pub fn failed_at(&mut self, err: &std::io::Error, now: Instant) -> Decision {
        let pause = if exhausted(err) {
            self.pause = (self.pause * 2).clamp(FIRST_PAUSE, MAX_PAUSE);
            self.pause
        } else {
            // One connection's trouble (reset before it was accepted, …): go on.
            Duration::ZERO
        };
        let due = self
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        if !due {
            self.unlogged += 1;
            return Decision {
                pause,
                logged: false,
            };
        }
        tracing::warn!(
            listener = %self.listener,
            error = %err,
            repeats = self.unlogged,
            pause_ms = pause.as_millis() as u64,
            "accepting a connection failed (repeats are summarised every {} s)",
            LOG_EVERY.as_secs()
        );
        self.logged_at = Some(now);
        self.unlogged = 0;
        Decision {
            pause,
            logged: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_descriptors_backs_off_and_logs_once_per_interval() {
        let mut errors = AcceptErrors::new("http://127.0.0.1:8440");
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let start = Instant::now();
        let (mut logged, mut waited) = (0, Duration::ZERO);
        // A flood: 100 000 failures over 30 simulated seconds.
        for i in 0..100_000u32 {
            let now = start + Duration::from_micros(u64::from(i) * 300);
            let decision = errors.failed_at(&emfile, now);
            logged += u32::from(decision.logged);
            waited = decision.pause;
        }
        assert_eq!(logged, 3, "one line per 10 s over 30 s");
        assert_eq!(waited, MAX_PAUSE);
        errors.succeeded();
        let decision = errors.failed_at(&emfile, start + Duration::from_secs(60));
        assert_eq!(
            decision,
            Decision {
                pause: FIRST_PAUSE,
                logged: true
            }
        );
        // A connection reset before accept is no reason to wait.
        let reset = std::io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(
            errors
                .failed_at(&reset, start + Duration::from_secs(61))
                .pause,
            Duration::ZERO
        );
    }
}
