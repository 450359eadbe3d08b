//! Fitting a freshly bootstrapped rootfs for life as a system container: enable networkd and
//! ssh, mask units that cannot work in a container, regenerate SSH host keys per instance,
//! then clean out everything that is per-build or per-host (keys, machine id, logs, caches).

use std::path::Path;

use tracing::debug;

use crate::catalog::Source;
use berth_guestfs::customise;
use berth_guestfs::rootfs::{Rootfs, RootfsError};
use berth_storage::cmd::{self, CmdError};

#[derive(Debug, thiserror::Error)]
pub enum TailorError {
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    #[error("cannot enable units in the image")]
    Enable(#[source] CmdError),
}

/// Units masked (linked to `/dev/null`): hardware, kernel and console bits a system container
/// has no business with. Containers also skip many by `ConditionVirtualization`; masking keeps
/// them quiet if a user installs the package that brings them (udev).
pub const MASKED: &[&str] = &[
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-hwdb-update.service",
    "systemd-modules-load.service",
    "kmod-static-nodes.service",
    "systemd-remount-fs.service",
    "systemd-timesyncd.service",
    "systemd-journald-audit.socket",
    "systemd-firstboot.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",
    "getty@tty2.service",
    "getty@tty3.service",
    "getty@tty4.service",
    "getty@tty5.service",
    "getty@tty6.service",
];

/// The unit that gives each instance its own SSH host keys on first boot.
pub const KEYGEN_UNIT: &str = "berth-ssh-keygen.service";
const KEYGEN: &str = "[Unit]
Description=Generate this instance's SSH host keys
DefaultDependencies=no
After=local-fs.target
Before=ssh.service ssh.socket sshd.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
";

const RESOLV: &str = "# Berth writes this instance's DNS servers here when it is created.\n";

/// Step 3: configure the rootfs for containers.
pub async fn configure(rootfs: &Path, source: &Source) -> Result<(), TailorError> {
    let root = Rootfs::open(rootfs)?;
    let system = Path::new("/etc/systemd/system");
    for unit in MASKED {
        root.symlink(&system.join(unit), Path::new("/dev/null"))?;
    }
    root.write_file(&system.join(KEYGEN_UNIT), KEYGEN.as_bytes(), 0o644)?;
    root.symlink(
        &system.join("multi-user.target.wants").join(KEYGEN_UNIT),
        &system.join(KEYGEN_UNIT),
    )?;
    root.write_file(
        Path::new("/etc/hosts"),
        customise::default_hosts().as_bytes(),
        0o644,
    )?;
    root.write_file(
        Path::new("/etc/hostname"),
        format!("{}\n", source.image.distro_str()).as_bytes(),
        0o644,
    )?;
    let mut lines = source.apt_lines().join("\n");
    lines.push('\n');
    root.write_file(Path::new("/etc/apt/sources.list"), lines.as_bytes(), 0o644)?;

    let chroot = |args: &[&str]| {
        let mut all = vec![rootfs.as_os_str().to_owned(), "systemctl".into()];
        all.extend(args.iter().map(Into::into));
        all
    };
    cmd::run("chroot", chroot(&["enable", "systemd-networkd.service"]))
        .await
        .map_err(TailorError::Enable)?;
    // Not waited for: the host sets the network up before the guest's first unit runs.
    cmd::run(
        "chroot",
        chroot(&["disable", "systemd-networkd-wait-online.service"]),
    )
    .await
    .map_err(TailorError::Enable)?;
    let wants = |target: &str, unit: &str| root.exists(&system.join(target).join(unit));
    if !wants("multi-user.target.wants", "ssh.service")
        && !wants("sockets.target.wants", "ssh.socket")
    {
        cmd::run("chroot", chroot(&["enable", "ssh.service"]))
            .await
            .map_err(TailorError::Enable)?;
    }
    debug!(rootfs = %rootfs.display(), "configured for containers");
    Ok(())
}

/// Step 4: remove what belongs to the build host or must differ per instance.
pub fn clean(rootfs: &Path) -> Result<(), TailorError> {
    let root = Rootfs::open(rootfs)?;
    let remove_matching = |dir: &str, keep: &dyn Fn(&str) -> bool| -> Result<(), TailorError> {
        for name in root.list_dir(Path::new(dir))? {
            let text = name.to_string_lossy();
            if !keep(&text) {
                root.remove_all(&Path::new(dir).join(&name))?;
            }
        }
        Ok(())
    };
    // Host keys are per instance: berth-ssh-keygen.service makes new ones on first boot.
    remove_matching("/etc/ssh", &|n| !n.starts_with("ssh_host_"))?;
    // Backups of the account files made while packages were installed.
    remove_matching("/etc", &|n| {
        !matches!(
            n,
            "passwd-" | "group-" | "shadow-" | "gshadow-" | "subuid-" | "subgid-"
        )
    })?;
    remove_matching("/var/lib/apt/lists", &|n| n == "lock" || n == "partial")?;
    remove_matching("/var/cache/apt", &|n| n == "archives")?;
    remove_matching("/var/cache/apt/archives", &|n| {
        n == "lock" || n == "partial"
    })?;
    remove_matching("/var/cache/debconf", &|n| !n.ends_with("-old"))?;
    remove_matching("/var/log", &|n| {
        !matches!(n, "dpkg.log" | "alternatives.log" | "bootstrap.log" | "apt")
    })?;
    root.clear_dir(Path::new("/var/log/apt"))?;
    root.clear_dir(Path::new("/tmp"))?;
    root.clear_dir(Path::new("/var/tmp"))?;
    root.remove_file(Path::new("/var/lib/dbus/machine-id"))?;
    root.remove_file(Path::new("/var/lib/systemd/random-seed"))?;
    root.write_file(Path::new("/etc/machine-id"), b"", 0o444)?;
    root.write_file(Path::new("/etc/resolv.conf"), RESOLV.as_bytes(), 0o644)?;
    debug!(rootfs = %rootfs.display(), "cleaned");
    Ok(())
}
