//! Finding the host tools a backend needs, for `check_usable`'s reasons.

use std::path::{Path, PathBuf};

/// Where tools are looked for besides `$PATH` (berthd may run with a short one).
const EXTRA_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The absolute path of the executable `program`, if this host has it.
pub fn find(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .chain(EXTRA_DIRS.iter().copied())
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `find`, or the reason a backend cannot run: `"systemd-nspawn: not installed (apt-get
/// install systemd-container)"`.
pub fn require(program: &str, package: &str) -> Result<PathBuf, String> {
    find(program).ok_or_else(|| format!("{program}: not installed (apt-get install {package})"))
}

/// Root and cgroups with the cpu, memory, pids and freezer controllers, as every local
/// backend needs; the reason otherwise.
pub fn local_host() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root".into());
    }
    let layout = berth_cgroups::Layout::detect().map_err(|e| e.to_string())?;
    for controller in ["cpu", "memory", "pids", "freezer"] {
        layout
            .controller_dir(controller, "probe")
            .map_err(|e| format!("kernel: {e}"))?;
    }
    Ok(())
}

/// Whether the shim berthd runs for every local guest is there; the reason otherwise.
pub fn shim(config: &super::LocalConfig) -> Result<(), String> {
    match config.shim_command.first().map(Path::new) {
        None => Err("no shim command configured".into()),
        Some(p) if p.is_absolute() && !p.exists() => {
            Err(format!("shim {} does not exist", p.display()))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_names_missing_tools() {
        assert!(find("sh").is_some());
        let err = require("no-such-tool-berth", "no-such-package").expect_err("missing");
        assert!(err.contains("no-such-tool-berth: not installed"), "{err}");
    }
}
