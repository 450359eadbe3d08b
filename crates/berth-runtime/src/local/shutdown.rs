//! Which signals ask a guest's init to shut down cleanly. Guests boot their own init —
//! systemd in Berth's images, BusyBox init or OpenRC in an image server's — and each listens
//! for another one. From outside its PID namespace a signal init leaves at its default action
//! is simply dropped, so sending one an init does not use does nothing. systemd installs a
//! handler for SIGRTMIN+3 (`SigCgt` in `/proc/PID/status` shows it), and gets only that.
//! BusyBox init (1.31 and later) waits for its signals with `sigtimedwait` instead, so while it
//! waits they show as neither caught nor blocked; any init without a SIGRTMIN+3 handler gets
//! SIGUSR2 (power off, for BusyBox init and openrc-init) and SIGPWR (SysV init's power
//! failure; BusyBox init's halt, dropped once its power-off began). None of them means
//! reboot. This needs no record of what the guest is and holds after berthd restarts.

use super::state::Proc;

/// The signals to send `init` for a clean shutdown (see [`pick`]).
pub fn signals_for(init: Proc) -> Vec<libc::c_int> {
    let caught = std::fs::read_to_string(format!("/proc/{}/status", init.pid))
        .ok()
        .and_then(|status| caught_mask(&status));
    pick(caught.unwrap_or(0))
}

/// From the mask of caught signals (bit N-1 = signal N): systemd's SIGRTMIN+3 alone when
/// init catches it (systemd also catches SIGUSR2, for a state dump); else SIGUSR2 and SIGPWR.
pub fn pick(caught: u64) -> Vec<libc::c_int> {
    let systemd = libc::SIGRTMIN() + 3;
    let catches = (1..=64).contains(&systemd) && caught & (1 << (systemd - 1)) != 0;
    if catches {
        vec![systemd]
    } else {
        vec![libc::SIGUSR2, libc::SIGPWR]
    }
}

fn caught_mask(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(signals: &[libc::c_int]) -> u64 {
        signals.iter().fold(0, |m, s| m | 1 << (s - 1))
    }

    #[test]
    fn systemd_gets_its_own_signal_and_others_power_off() {
        let systemd = libc::SIGRTMIN() + 3;
        // systemd catches SIGUSR2 too.
        assert_eq!(
            pick(mask(&[systemd, libc::SIGUSR2, libc::SIGTERM])),
            vec![systemd]
        );
        // BusyBox init as /proc shows it while it waits in sigtimedwait: SIGTSTP only.
        let busybox = mask(&[libc::SIGTSTP]);
        assert_eq!(pick(busybox), vec![libc::SIGUSR2, libc::SIGPWR]);
        assert_eq!(pick(0), vec![libc::SIGUSR2, libc::SIGPWR]);
        // Never a signal that means reboot or ctrl-alt-del to one of them.
        for signal in pick(0) {
            assert!(![libc::SIGTERM, libc::SIGINT, libc::SIGHUP].contains(&signal));
        }
    }

    #[test]
    fn reads_the_caught_mask() {
        let status = "Name:\tinit\nSigIgn:\t0000000080001000\nSigCgt:\t0000000000080000\n";
        assert_eq!(caught_mask(status), Some(0x80000));
        assert_eq!(caught_mask("Name:\tx\n"), None);
        // This test process is a live one: reading its own status works.
        let me = Proc::of(std::process::id() as i32).expect("this process");
        assert!(!signals_for(me).is_empty());
    }
}
