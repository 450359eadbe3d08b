//! Which signals ask a guest's init to shut down cleanly. Guests boot their own init —
//! systemd in Berth's images, BusyBox init or OpenRC in an image server's — and each listens
//! for another one. From outside its PID namespace a signal init leaves at its default action
//! is simply dropped, so sending one an init does not use does nothing. systemd blocks
//! SIGRTMIN+3 and reads it from a signalfd (`SigBlk` in `/proc/PID/status` shows it, `SigCgt`
//! does not), and gets only that. BusyBox init (1.31 and later) waits for its signals with
//! `sigtimedwait` instead, so while it waits they show as neither caught nor blocked; any init
//! that neither catches nor blocks SIGRTMIN+3 gets SIGUSR2 (power off, for BusyBox init and
//! openrc-init) and SIGPWR (SysV init's power failure; BusyBox init's halt, dropped once its
//! power-off began). None of them means reboot. A systemd still in early boot hears neither
//! yet: those two are dropped, and the stop's resend (`control::stop`) asks again once it
//! blocks SIGRTMIN+3. This needs no record of what the guest is and holds after berthd
//! restarts.

use super::state::{Proc, status_hears};

/// The signals to send `init` for a clean shutdown (see [`pick`]).
pub fn signals_for(init: Proc) -> Vec<libc::c_int> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", init.pid)).unwrap_or_default();
    pick(&status)
}

/// From init's `/proc/PID/status`: systemd's SIGRTMIN+3 alone when init hears it (catches or
/// blocks it; systemd blocks SIGUSR2 too, for a state dump); else SIGUSR2 and SIGPWR.
pub fn pick(status: &str) -> Vec<libc::c_int> {
    let systemd = libc::SIGRTMIN() + 3;
    if status_hears(status, systemd) {
        vec![systemd]
    } else {
        vec![libc::SIGUSR2, libc::SIGPWR]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A status with `signals` in `key`'s mask.
    fn status(key: &str, signals: &[libc::c_int]) -> String {
        let mask = signals.iter().fold(0u64, |m, s| m | 1 << (s - 1));
        format!("Name:\tinit\n{key}:\t{mask:016x}\n")
    }

    #[test]
    fn systemd_gets_its_own_signal_and_others_power_off() {
        let systemd = libc::SIGRTMIN() + 3;
        // A booted systemd as /proc shows it (measured on a debian/12 guest): SIGRTMIN+3
        // blocked for its signalfd, not caught.
        let booted =
            "SigBlk:\t7fe3c0fe28014a03\nSigIgn:\t0000000080001000\nSigCgt:\t00000000000004ec\n";
        assert_eq!(pick(booted), vec![systemd]);
        assert_eq!(pick(&status("SigCgt", &[systemd])), vec![systemd]);
        // BusyBox init as /proc shows it while it waits in sigtimedwait: SIGTSTP only.
        let busybox = status("SigCgt", &[libc::SIGTSTP]);
        assert_eq!(pick(&busybox), vec![libc::SIGUSR2, libc::SIGPWR]);
        assert_eq!(pick(""), vec![libc::SIGUSR2, libc::SIGPWR]);
        // Never a signal that means reboot or ctrl-alt-del to one of them.
        for signal in pick("") {
            assert!(![libc::SIGTERM, libc::SIGINT, libc::SIGHUP].contains(&signal));
        }
        // This test process is a live one: reading its own status works.
        let me = Proc::of(std::process::id() as i32).expect("this process");
        assert!(!signals_for(me).is_empty());
    }
}
