//! No silent deaths: berthd holds a pidfd on each running local guest's init and learns at
//! once when it exits (the kernel's notification, not polling the state). The guest's
//! supervisor then either starts it again (the guest rebooted: the new init is watched) or
//! cleans up and exits; its log says which, and how init ended. A death berthd did not ask
//! for is recorded — `stopped` for a clean exit, `error` for anything else — with the reason
//! (exit status and the console's last lines), published as a lifecycle event, and shown as
//! the instance's `state_reason` until it is started again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use berth_runtime::{Runtime, RuntimeStatus};
use berth_store::InstanceRecord;
use berth_types::events::{Event, Lifecycle, LifecycleAction};
use berth_types::{InstanceName, InstanceState};
use chrono::{DateTime, Utc};
use tokio::io::unix::AsyncFd;

use crate::app::App;
use crate::app::error::error_chain;

/// How long a rebooting guest's supervisor may take to start the new init.
const REBOOT_GRACE: Duration = Duration::from_secs(60);
/// Without a supervisor log to read, a guest seen stopped this long after init exited is gone.
const SETTLE: Duration = Duration::from_secs(2);
/// How often the supervisor's progress is read once init has exited.
const STEP: Duration = Duration::from_millis(100);
/// Console lines kept in a reason.
const CONSOLE_LINES: usize = 5;

/// The init each watched guest runs, and why guests ended by themselves.
#[derive(Default)]
pub struct GuestWatch {
    watched: Mutex<HashMap<InstanceName, i32>>,
    reasons: Mutex<HashMap<InstanceName, String>>,
    app: Mutex<Weak<App>>,
    /// Moves whenever `watched` or `reasons` change: part of the instance list's `ETag`.
    generation: AtomicU64,
    /// When each watched init started, read from /proc once; dropped when a PID is watched
    /// anew (PIDs are reused).
    started: Mutex<HashMap<i32, Option<DateTime<Utc>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the supervisor's log says became of the init started as `pid`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing yet.
    Pending,
    /// The guest asked for a reboot; a new init follows.
    Reboot,
    /// The supervisor exited after init ended so (the exit status as it logged it).
    Ended(String),
}

impl App {
    /// Lets the watchers reach the app (called once the app is shared).
    pub(crate) fn enable_guest_watch(self: &Arc<Self>) {
        *lock(&self.guestwatch.app) = Arc::downgrade(self);
    }

    /// Watches `record`'s init (`pid`, just started or found running); forgets an earlier
    /// reason. Only guests that really run on this host are watched.
    pub(crate) fn watch_guest(&self, record: &InstanceRecord, pid: i32) {
        if pid <= 0 || !self.runs_here(record) {
            return;
        }
        let w = &self.guestwatch;
        lock(&w.reasons).remove(&record.name);
        lock(&w.watched).insert(record.name.clone(), pid);
        lock(&w.started).remove(&pid);
        w.generation.fetch_add(1, Ordering::Relaxed);
        let app = lock(&w.app).clone();
        let name = record.name.clone();
        tokio::spawn(async move { watch(app, name, pid).await });
    }

    /// Watches every guest found running (at daemon start, after recovery).
    pub(crate) async fn watch_running_guests(&self) {
        let Ok(records) = self.store.list_instances() else {
            return;
        };
        for record in records {
            if record.state != InstanceState::Running || !self.runs_here(&record) {
                continue;
            }
            let Ok(runtime) = self.runtime(&record.backend) else {
                continue;
            };
            if let Ok(RuntimeStatus::Running { pid } | RuntimeStatus::Frozen { pid }) =
                runtime.status(&record.name).await
            {
                self.watch_guest(&record, pid);
            }
        }
    }

    /// Stops watching `name`: berthd itself is stopping it.
    pub(crate) fn unwatch_guest(&self, name: &InstanceName) {
        lock(&self.guestwatch.watched).remove(name);
        self.guestwatch.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Every watched guest's init PID (one lock, for the instance list).
    pub(crate) fn watched_inits(&self) -> HashMap<InstanceName, i32> {
        lock(&self.guestwatch.watched).clone()
    }

    /// Every reason a guest stopped by itself (one lock, for the instance list).
    pub(crate) fn state_reasons(&self) -> HashMap<InstanceName, String> {
        lock(&self.guestwatch.reasons).clone()
    }

    /// When watched init `pid` started (read from /proc the first time only).
    pub(crate) fn init_started_at(&self, pid: i32) -> Option<DateTime<Utc>> {
        let mut started = lock(&self.guestwatch.started);
        if let Some(at) = started.get(&pid) {
            return *at;
        }
        let watched = lock(&self.guestwatch.watched).len();
        if started.len() > 2 * watched + 16 {
            started.clear(); // inits long gone
        }
        let at = crate::app::instances::process_started_at(pid);
        started.insert(pid, at);
        at
    }

    /// Moves whenever a guest is watched, unwatched, follows a reboot or dies.
    pub(crate) fn watch_generation(&self) -> u64 {
        self.guestwatch.generation.load(Ordering::Relaxed)
    }

    /// Records why `name` changed by itself when no local watcher saw it (a remote guest
    /// removed outside Berth); `None` forgets it.
    pub(crate) fn set_state_reason(&self, name: &InstanceName, reason: Option<String>) {
        let mut reasons = lock(&self.guestwatch.reasons);
        match reason {
            Some(reason) => reasons.insert(name.clone(), reason),
            None => reasons.remove(name),
        };
    }

    /// Why `name` stopped by itself, if it did since it was last started.
    pub(crate) fn state_reason(&self, name: &InstanceName) -> Option<String> {
        lock(&self.guestwatch.reasons).get(name).cloned()
    }

    /// Records a death berthd did not ask for: the state, the reason, an event.
    async fn guest_died(&self, name: &InstanceName, how: &str) {
        let Ok(Some(record)) = self.store.get_instance(name) else {
            return;
        };
        // Running as far as berthd knew, or already seen stopped by a reader (`observe`).
        let settled = matches!(
            record.state,
            InstanceState::Running | InstanceState::Stopped
        );
        if !settled {
            return; // being created or deleted: that operation reports it
        }
        let state = if clean_exit(how) {
            InstanceState::Stopped
        } else {
            InstanceState::Error
        };
        let mut reason = format!("init exited by itself: {how}");
        let console = console_tail(&self.instance_dir(name).join("runtime/console.log"));
        if !console.is_empty() {
            reason.push_str("; last console lines: ");
            reason.push_str(&console.join(" | "));
        }
        tracing::warn!(instance = %name, state = state.as_str(), %reason, "guest ended by itself");
        if let Err(e) = self.store.set_instance_state(name, state) {
            tracing::error!(instance = %name, error = %error_chain(&e), "cannot save the state");
        }
        lock(&self.guestwatch.reasons).insert(name.clone(), reason.clone());
        self.guestwatch.generation.fetch_add(1, Ordering::Relaxed);
        self.events.publish(Event::lifecycle(
            name.as_str(),
            &record.owner,
            Lifecycle {
                action: LifecycleAction::InstanceStopped,
                actor: crate::app::events::actor(),
                state: Some(state),
                object: None,
                reason: Some(reason),
            },
        ));
    }
}

/// Waits for init `pid` of `name` to exit, then for its supervisor to decide; follows a
/// reboot to the new init; records a death.
async fn watch(app: Weak<App>, name: InstanceName, mut pid: i32) {
    loop {
        if let Err(e) = exited(pid).await {
            tracing::debug!(instance = %name, pid, error = %e, "cannot watch init; reading its state");
        }
        match decide(&app, &name, pid).await {
            Some(Next::Follow(new)) => pid = new,
            Some(Next::Died(how)) => {
                if let Some(app) = app.upgrade() {
                    app.guest_died(&name, &how).await;
                }
                return;
            }
            None => return,
        }
    }
}

/// Returns once process `pid` has exited (at once when it is already gone).
async fn exited(pid: i32) -> std::io::Result<()> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1; no
    // memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(()),
            _ => Err(err),
        };
    }
    let raw = i32::try_from(rc).map_err(std::io::Error::other)?;
    // SAFETY: `raw` is a descriptor pidfd_open just returned, owned by nothing else.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    // A pidfd becomes readable when its process exits.
    // SAFETY: the OwnedFd moves into the AsyncFd, which keeps it open and unchanged until
    // it is dropped; its as_raw_fd is always that descriptor.
    let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)? };
    let _ready = fd.readable().await?;
    Ok(())
}

enum Next {
    Follow(i32),
    Died(String),
}

/// After init `pid` exited: `None` when another watcher or berthd itself has the guest now.
async fn decide(app: &Weak<App>, name: &InstanceName, pid: i32) -> Option<Next> {
    let started = Instant::now();
    let mut stopped_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(STEP).await;
        let app = app.upgrade()?;
        if lock(&app.guestwatch.watched).get(name) != Some(&pid) {
            return None;
        }
        // berthd stopping it unwatches it first (`halt`): then the check above returned.
        let record = app.store.get_instance(name).ok()??;
        let log = app.instance_dir(name).join("runtime/shim.log");
        let verdict = read_verdict(&log, pid);
        if let Verdict::Ended(how) = verdict {
            forget(&app, name, pid);
            return Some(Next::Died(how));
        }
        let status = match app.runtime(&record.backend) {
            Ok(runtime) => runtime.status(name).await.ok(),
            Err(_) => None,
        };
        match status {
            Some(RuntimeStatus::Running { pid: new } | RuntimeStatus::Frozen { pid: new })
                if new != pid =>
            {
                let mut watched = lock(&app.guestwatch.watched);
                if watched.get(name) != Some(&pid) {
                    return None;
                }
                watched.insert(name.clone(), new);
                lock(&app.guestwatch.started).remove(&new);
                app.guestwatch.generation.fetch_add(1, Ordering::Relaxed);
                tracing::info!(instance = %name, pid = new, "guest rebooted; watching its new init");
                return Some(Next::Follow(new));
            }
            Some(RuntimeStatus::Stopped) if verdict != Verdict::Reboot => {
                let since = *stopped_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= SETTLE {
                    forget(&app, name, pid);
                    return Some(Next::Died("init is gone (no exit status logged)".into()));
                }
            }
            _ => stopped_since = None,
        }
        if started.elapsed() > REBOOT_GRACE {
            forget(&app, name, pid);
            return Some(Next::Died(
                "init exited and no new one started within a minute".into(),
            ));
        }
    }
}

fn forget(app: &App, name: &InstanceName, pid: i32) {
    let mut watched = lock(&app.guestwatch.watched);
    if watched.get(name) == Some(&pid) {
        watched.remove(name);
        app.guestwatch.generation.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads the supervisor's log after the line that started init `pid`.
pub(crate) fn read_verdict(log: &Path, pid: i32) -> Verdict {
    let Ok(text) = std::fs::read_to_string(log) else {
        return Verdict::Pending;
    };
    verdict(&text, pid)
}

fn verdict(log: &str, pid: i32) -> Verdict {
    let started = format!("pid={pid}");
    let lines: Vec<&str> = log.lines().collect();
    let Some(start) = lines
        .iter()
        .rposition(|l| l.contains("guest started") && l.split_whitespace().any(|w| w == started))
    else {
        return Verdict::Pending;
    };
    let mut how = None;
    for line in &lines[start + 1..] {
        if line.contains("guest ended") {
            how = Some(
                line.split_once("status=")
                    .map(|(_, s)| s.trim().trim_matches('"').to_owned())
                    .unwrap_or_else(|| "unknown".into()),
            );
        } else if line.contains("guest asked for a reboot") {
            return Verdict::Reboot;
        } else if line.contains("supervisor exits") {
            return Verdict::Ended(how.unwrap_or_else(|| "unknown".into()));
        }
    }
    Verdict::Pending
}

/// An exit status that means the guest powered off cleanly (`Exited(_, 0)`, `exit status: 0`).
/// Whether init's end was a clean power-off: exit status 0, or SIGINT — the signal the kernel
/// kills a pid namespace's init with when it calls `reboot(POWER_OFF)` or `reboot(HALT)` (a
/// reboot is SIGHUP, which the supervisor restarts; a halt by berthd never gets here).
fn clean_exit(how: &str) -> bool {
    how.ends_with(", 0)") || how == "exit status: 0" || how.contains(", SIGINT,")
}

/// The console's last non-empty lines, control characters removed, each cut to 200 chars.
pub(crate) fn console_tail(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let from = bytes.len().saturating_sub(16 * 1024);
    let text = String::from_utf8_lossy(&bytes[from..]);
    let clean: Vec<String> = text
        .lines()
        .map(|l| {
            strip_controls(l)
                .trim()
                .chars()
                .take(200)
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .collect();
    clean[clean.len().saturating_sub(CONSOLE_LINES)..].to_vec()
}

/// Drops ANSI escape sequences (`ESC [ … letter`) and other control characters.
fn strip_controls(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-12-02T08:46:50Z  INFO berth_runtime::local::supervisor: guest started instance=a pid=40
2026-12-02T08:47:50Z  INFO berth_runtime::local::supervisor: guest ended instance=a status=\"Signaled(Pid(40), SIGHUP, false)\"
2026-12-02T08:47:50Z  INFO berth_runtime::local::supervisor: guest asked for a reboot instance=a
2026-12-02T08:47:51Z  INFO berth_runtime::local::supervisor: guest started instance=a pid=55
";

    #[test]
    fn a_power_off_in_the_guest_is_clean_and_a_kill_is_not() {
        assert!(clean_exit("Signaled(Pid(40), SIGINT, false)"));
        assert!(clean_exit("Exited(Pid(40), 0)"));
        assert!(!clean_exit("Signaled(Pid(40), SIGKILL, false)"));
        assert!(!clean_exit("Exited(Pid(40), 1)"));
    }

    #[test]
    fn the_supervisor_log_says_reboot_or_how_init_ended() {
        assert_eq!(verdict(LOG, 40), Verdict::Reboot);
        assert_eq!(verdict(LOG, 55), Verdict::Pending);
        assert_eq!(verdict(LOG, 99), Verdict::Pending);
        let ended = format!(
            "{LOG}x INFO guest ended instance=a status=\"Signaled(Pid(55), SIGKILL, false)\"\n\
             x INFO supervisor exits instance=a\n"
        );
        assert_eq!(
            verdict(&ended, 55),
            Verdict::Ended("Signaled(Pid(55), SIGKILL, false)".into())
        );
        assert!(!clean_exit("Signaled(Pid(55), SIGKILL, false)"));
        assert!(clean_exit("Exited(Pid(55), 0)"));
        assert!(clean_exit("exit status: 0"));
        assert!(!clean_exit("exit status: 1"));
    }

    #[test]
    fn console_lines_lose_escapes() {
        assert_eq!(
            strip_controls("\u{1b}[0;32m  OK  \u{1b}[0m] Started\r"),
            "  OK  ] Started"
        );
    }
}
