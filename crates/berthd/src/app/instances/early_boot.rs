//! A start returns once the guest's init is past its early boot, not as soon as it was
//! exec'd: a guest whose init dies at once fails its start (or launch) with the reason — the
//! exit status its supervisor logged and the console's last lines — instead of being
//! reported running and found dead a moment later.
//!
//! "Past early boot" is read from /proc, without entering the guest: init hears the halt
//! signal (systemd blocks it for its signalfd as its manager starts, so from then on a stop is
//! heard at once) and has started a process of its own (a generator or its first unit).
//! An init that never does either (not systemd) is taken as booted once it is still alive
//! after `boot_wait`. Only guests that run on this host are watched so.

use std::time::{Duration, Instant};

use berth_runtime::local::state::Proc;
use berth_store::InstanceRecord;

use crate::app::App;
use crate::app::error::HostError;
use crate::app::guestwatch::{Verdict, console_tail, read_verdict};

/// How often init is looked at while it boots.
const POLL: Duration = Duration::from_millis(10);
/// How long the supervisor may take to log how init ended, once it has.
const VERDICT_GRACE: Duration = Duration::from_secs(3);

/// What /proc says of init now.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Gone, a zombie, or another process with its pid.
    Gone,
    Booting,
    PastEarlyBoot,
}

/// The start time (clock ticks since boot) of `pid`, `None` when it is gone or a zombie.
fn started_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn look(pid: i32, start: u64) -> Seen {
    if started_ticks(pid) != Some(start) {
        return Seen::Gone;
    }
    // Without CONFIG_PROC_CHILDREN there is no such file: the handler alone tells then.
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map_or(true, |c| !c.trim().is_empty());
    if Proc::hears(pid, libc::SIGRTMIN() + 3) && children {
        Seen::PastEarlyBoot
    } else {
        Seen::Booting
    }
}

impl App {
    /// Waits (at most `boot_wait`) for `record`'s init `pid` to get past its early boot; fails
    /// with the reason when it dies meanwhile. A guest that asked for a reboot already counts
    /// as booted (the watcher follows it to its new init).
    pub(crate) async fn await_early_boot(
        &self,
        record: &InstanceRecord,
        pid: i32,
    ) -> Result<(), HostError> {
        let wait = Duration::from_secs(self.config.boot_wait);
        if wait.is_zero() || pid <= 0 || !self.runs_here(record) {
            return Ok(());
        }
        let began = Instant::now();
        let Some(start) = started_ticks(pid) else {
            return Err(self.died_booting(record, pid).await);
        };
        loop {
            match look(pid, start) {
                Seen::PastEarlyBoot => {
                    tracing::debug!(instance = %record.name, pid, waited = ?began.elapsed(), "init past early boot");
                    return Ok(());
                }
                Seen::Gone => return Err(self.died_booting(record, pid).await),
                Seen::Booting if began.elapsed() >= wait => {
                    let status =
                        std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                    let masks: Vec<&str> =
                        status.lines().filter(|l| l.starts_with("Sig")).collect();
                    tracing::info!(instance = %record.name, pid, ?wait, ?masks,
                        "init alive but showed no sign of booting (not systemd?); taken as running");
                    return Ok(());
                }
                Seen::Booting => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// The error of a start whose init `pid` ended during early boot: how it ended (from the
    /// supervisor's log, waited for briefly) and the console's last lines.
    async fn died_booting(&self, record: &InstanceRecord, pid: i32) -> HostError {
        let runtime_dir = self.instance_dir(&record.name).join("runtime");
        let log = runtime_dir.join("shim.log");
        let began = Instant::now();
        let how = loop {
            match read_verdict(&log, pid) {
                Verdict::Ended(how) => break Some(how),
                Verdict::Reboot => break None,
                Verdict::Pending if began.elapsed() >= VERDICT_GRACE => {
                    break Some("init is gone (no exit status logged)".into());
                }
                Verdict::Pending => tokio::time::sleep(POLL * 5).await,
            }
        };
        let Some(how) = how else {
            tracing::info!(instance = %record.name, pid, "guest rebooted during early boot");
            return HostError::message(
                "booting",
                "the guest rebooted during its early boot; start it again",
            );
        };
        let mut reason = format!("init exited during early boot: {how}");
        let console = console_tail(&runtime_dir.join("console.log"));
        if !console.is_empty() {
            reason.push_str("; last console lines: ");
            reason.push_str(&console.join(" | "));
        }
        reason.push_str(
            "; check the image's /sbin/init (berth console shows the boot when it gets further)",
        );
        tracing::warn!(instance = %record.name, pid, %reason, "start failed");
        HostError::message("booting", reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_runtime::local::state::status_hears;

    #[test]
    fn the_halt_signal_is_heard_when_caught_or_blocked() {
        // SIGRTMIN+3 is 37 with glibc's SIGRTMIN of 34: bit 36.
        let caught = "Name:\tx\nSigBlk:\t0000000000000000\nSigCgt:\t00000010000004ec\n";
        assert!(status_hears(caught, 37));
        assert!(!status_hears(caught, 36));
        // systemd: blocked for its signalfd, no handler.
        let systemd = "Name:\tsystemd\nSigBlk:\t7be3c0fe28014a03\nSigIgn:\t0000000000001000\nSigCgt:\t00000000000000\n";
        assert!(status_hears(systemd, 37));
        assert!(!status_hears(
            "Name:\tsh\nSigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n",
            37
        ));
        assert!(!status_hears("garbage", 37));
        assert!(!status_hears(caught, 0));
    }

    #[test]
    fn this_process_is_seen_and_a_missing_one_is_gone() {
        let me = std::process::id() as i32;
        let start = started_ticks(me).expect("our own stat");
        assert_ne!(look(me, start), Seen::Gone);
        assert_eq!(
            look(me, start + 1),
            Seen::Gone,
            "another process with our pid"
        );
        assert_eq!(started_ticks(i32::MAX), None);
    }
}
