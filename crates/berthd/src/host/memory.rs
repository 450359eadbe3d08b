//! berthd's own memory (issues 13 and 20): glibc's allocator keeps what it once used. Its
//! mmap threshold grows to the largest block ever freed, so after the first argon2 hash
//! (19 MiB) every later one came from an arena, and each arena kept it: each login left
//! ~20 MiB resident, in one of up to 8 arenas per core (the blocking pool's threads come and
//! go). [`tune_allocator`] fixes the threshold (big blocks are mapped, and unmapped on free)
//! and caps the arenas before any thread starts; [`trim_when_idle`] hands the arenas' free
//! pages back to the kernel once the API has been quiet for a while after it was used.
//!
//! Elsewhere than glibc (musl), both are no-ops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Arenas glibc may create: the two runtime workers' worth. Threads beyond that share them;
/// each thread's own cache (tcache) still serves most small allocations without a lock.
pub const ARENA_MAX: i32 = 2;

/// Blocks from this size up are mapped on their own and unmapped when freed. Fixed (glibc
/// would raise it to the largest block freed, up to 32 MiB); setting it also stops glibc
/// raising the trim threshold with it.
pub const MMAP_THRESHOLD: i32 = 1024 * 1024;

/// How long the API must have been quiet (no new connection) before free memory is trimmed.
pub const IDLE: Duration = Duration::from_secs(3);

/// Connections accepted since start; the trimmer compares it between its ticks.
static ACTIVITY: AtomicU64 = AtomicU64::new(0);

/// Caps glibc's malloc arenas and fixes its mmap threshold; returns whether glibc took both
/// settings. Call first thing in `main`, before the runtime (or logging) starts threads.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters, with valid values; it is called
        // before any other thread exists, so no allocation races with the change.
        let arenas = unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX) };
        // SAFETY: as above.
        let mapped = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        arenas == 1 && mapped == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Marks the API as used now (a connection was accepted).
pub fn note_activity() {
    ACTIVITY.fetch_add(1, Ordering::Relaxed);
}

/// Hands free heap pages back to the kernel (`malloc_trim(0)`), blocking: call it off the
/// runtime's workers. Returns whether glibc released anything.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes the arenas' own locks and only returns free pages to the
        // kernel; it touches no memory the program still owns.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Every [`IDLE`], trims once if connections came since the last trim but none since the
/// last tick; the first quiet tick also trims what start-up freed. Runs until `stop`.
pub async fn trim_when_idle(stop: CancellationToken) {
    let mut seen = ACTIVITY.load(Ordering::Relaxed);
    let mut trimmed_at = u64::MAX;
    let mut tick = tokio::time::interval(IDLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = ACTIVITY.load(Ordering::Relaxed);
        if now == seen && now != trimmed_at {
            trimmed_at = now;
            match tokio::task::spawn_blocking(trim).await {
                Ok(released) => tracing::debug!(released, "trimmed the heap after a quiet spell"),
                Err(e) => tracing::warn!(error = %e, "heap trim did not finish"),
            }
        }
        seen = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_callable_any_time() {
        let _ = trim();
        let _ = trim();
    }
}
