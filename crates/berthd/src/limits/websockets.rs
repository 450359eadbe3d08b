//! How many WebSockets (consoles, event streams) are open at once, in all and per account: each
//! holds a connection, buffers and, for a console, a process in a guest, for as long as the
//! client likes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::app::AppError;

#[derive(Debug, Default)]
struct Open {
    total: u32,
    per_user: HashMap<String, u32>,
}

/// The budget of open WebSockets.
#[derive(Debug, Clone)]
pub struct WebSocketLimiter {
    max: u32,
    max_per_user: u32,
    open: Arc<Mutex<Open>>,
}

/// An open WebSocket's place; dropping it (when the socket ends) gives it back.
#[derive(Debug)]
pub struct WebSocketPermit {
    open: Arc<Mutex<Open>>,
    user: String,
}

impl WebSocketLimiter {
    pub fn new(max: u32, max_per_user: u32) -> Self {
        Self {
            max,
            max_per_user,
            open: Arc::default(),
        }
    }

    /// A place for one more WebSocket of `user`, or 503 (all taken) / 429 (the user's share).
    pub fn admit(&self, user: &str) -> Result<WebSocketPermit, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max {
            return Err(AppError::Unavailable(format!(
                "{} WebSockets are open, the most this berthd holds; try again later",
                self.max
            )));
        }
        let held = open.per_user.entry(user.to_owned()).or_default();
        if *held >= self.max_per_user {
            return Err(AppError::RateLimited(berth_auth::RetryAfter(
                std::time::Duration::from_secs(5),
                "open WebSockets (consoles and event streams) for this account; close one",
            )));
        }
        *held += 1;
        open.total += 1;
        Ok(WebSocketPermit {
            open: self.open.clone(),
            user: user.to_owned(),
        })
    }
}

impl Drop for WebSocketPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(held) = open.per_user.get_mut(&self.user) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_and_total_budgets() {
        let limiter = WebSocketLimiter::new(3, 2);
        let a = limiter.admit("alice").expect("first");
        let _b = limiter.admit("alice").expect("second");
        assert!(matches!(
            limiter.admit("alice"),
            Err(AppError::RateLimited(_))
        ));
        let _c = limiter.admit("bob").expect("bob");
        assert!(matches!(
            limiter.admit("carol"),
            Err(AppError::Unavailable(_))
        ));
        drop(a);
        let _d = limiter.admit("alice").expect("given back");
    }
}
