//! Running another architecture's programs: qemu-user (qemu-user-static) behind a binfmt_misc
//! handler registered with the F flag, so the kernel opens the emulator once, at registration,
//! and it works inside a chroot or a guest's mount namespace where no emulator exists. Berth
//! registers the handler when it is missing (from Debian's `/usr/lib/binfmt.d` entry when
//! present), mounting binfmt_misc at `/proc/sys/fs/binfmt_misc` when it is not mounted (as
//! systemd does at boot; a read-only `/proc` still takes a mount on it), else at
//! `/run/berth/binfmt_misc`. The mount stays: since Linux 6.7 unmounting binfmt_misc's last
//! mount drops its handlers. It never changes a handler someone else registered, and says what
//! is wrong when one cannot be used.

use std::path::{Path, PathBuf};

use berth_types::Arch;
use tracing::info;

#[derive(Debug, thiserror::Error)]
pub enum ForeignError {
    #[error("this host's architecture is not amd64 or arm64")]
    UnknownHost,
    #[error(
        "{arch} programs need the emulator {} (apt install qemu-user-static)",
        .path.display()
    )]
    NoEmulator { arch: &'static str, path: PathBuf },
    #[error("binfmt_misc is not available here ({why}); {arch} guests cannot run on this host")]
    NoBinfmt { arch: &'static str, why: String },
    #[error("binfmt_misc is disabled on this host (echo 1 > …/binfmt_misc/status enables it)")]
    Disabled,
    #[error(
        "the binfmt handler {name} is registered without the F flag (or disabled), so {arch} \
         programs cannot run inside guests; re-register it with flags F (update-binfmts or \
         systemd-binfmt with qemu-user-static's entry)"
    )]
    Unfit { name: String, arch: &'static str },
    #[error("cannot register the binfmt handler {name}")]
    Register {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// What emulates one architecture.
struct Emulator {
    arch: Arch,
    /// binfmt_misc handler name, as qemu-user-static's packaging names it.
    name: &'static str,
    /// ELF header magic and mask (e_ident and e_machine) in binfmt_misc's escaped form.
    magic: &'static str,
    mask: &'static str,
}

const EMULATORS: &[Emulator] = &[
    Emulator {
        arch: Arch::Arm64,
        name: "qemu-aarch64",
        magic: r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    },
    Emulator {
        arch: Arch::Amd64,
        name: "qemu-x86_64",
        magic: r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        mask: r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    },
];

/// Whether this host can run `arch` guests: at once for its own architecture; for another
/// through qemu-user, registering the binfmt handler first if it is missing.
pub fn ensure(arch: Arch) -> Result<(), ForeignError> {
    let host = Arch::host().ok_or(ForeignError::UnknownHost)?;
    if host == arch {
        return Ok(());
    }
    let emulator = EMULATORS
        .iter()
        .find(|e| e.arch == arch)
        .ok_or(ForeignError::UnknownHost)?;
    let static_binary = PathBuf::from(format!("/usr/bin/{}-static", emulator.name));
    if !static_binary.exists() {
        return Err(ForeignError::NoEmulator {
            arch: arch.as_str(),
            path: static_binary,
        });
    }
    let view = BinfmtView::open(arch)?;
    check_or_register(&view.dir, emulator, &static_binary)
}

fn check_or_register(dir: &Path, emulator: &Emulator, binary: &Path) -> Result<(), ForeignError> {
    let arch = emulator.arch.as_str();
    if std::fs::read_to_string(dir.join("status")).is_ok_and(|s| s.trim() == "disabled") {
        return Err(ForeignError::Disabled);
    }
    if let Ok(entry) = std::fs::read_to_string(dir.join(emulator.name)) {
        return if fit(&entry) {
            Ok(())
        } else {
            Err(ForeignError::Unfit {
                name: emulator.name.to_owned(),
                arch,
            })
        };
    }
    let line = registration(emulator, binary);
    info!(handler = emulator.name, %line, "registering the binfmt handler");
    std::fs::write(dir.join("register"), &line).map_err(|source| ForeignError::Register {
        name: emulator.name.to_owned(),
        source,
    })
}

/// A handler fit for guests: enabled, with the emulator opened at registration (F).
fn fit(entry: &str) -> bool {
    let enabled = entry.lines().next().is_some_and(|l| l.trim() == "enabled");
    let flags = entry
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .unwrap_or_default();
    enabled && flags.contains('F')
}

/// qemu-user-static's own entry (`/usr/lib/binfmt.d/qemu-aarch64.conf`) when it is there and
/// names an emulator that exists, with F added if missing; else one for the static binary.
fn registration(emulator: &Emulator, binary: &Path) -> String {
    let packaged = Path::new("/usr/lib/binfmt.d").join(format!("{}.conf", emulator.name));
    if let Ok(text) = std::fs::read_to_string(&packaged)
        && let Some(line) = text.lines().find(|l| l.starts_with(':'))
    {
        let fields: Vec<&str> = line.split(':').collect();
        // :name:type:offset:magic:mask:interpreter:flags
        if let [_, name, _, _, _, _, interpreter, flags] = fields.as_slice()
            && *name == emulator.name
            && Path::new(interpreter).exists()
        {
            let mut line = line.to_owned();
            if !flags.contains('F') {
                line.push('F');
            }
            return line;
        }
    }
    format!(
        ":{}:M::{}:{}:{}:F",
        emulator.name,
        emulator.magic,
        emulator.mask,
        binary.display()
    )
}

/// binfmt_misc's files: `/proc/sys/fs/binfmt_misc`, mounted there (or, failing that, at
/// `/run/berth/binfmt_misc`) when it is not mounted anywhere yet; the mount is left in place.
struct BinfmtView {
    dir: PathBuf,
}

impl BinfmtView {
    fn open(arch: Arch) -> Result<Self, ForeignError> {
        let places = [
            PathBuf::from("/proc/sys/fs/binfmt_misc"),
            PathBuf::from("/run/berth/binfmt_misc"),
        ];
        if let Some(dir) = places.iter().find(|d| d.join("register").exists()) {
            return Ok(Self { dir: dir.clone() });
        }
        let mut why = Vec::new();
        for dir in places {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                why.push(format!("{}: {e}", dir.display()));
                continue;
            }
            let flags = nix::mount::MsFlags::MS_NOSUID
                | nix::mount::MsFlags::MS_NODEV
                | nix::mount::MsFlags::MS_NOEXEC;
            match nix::mount::mount(
                Some("binfmt_misc"),
                &dir,
                Some("binfmt_misc"),
                flags,
                None::<&str>,
            ) {
                Ok(()) => {
                    info!(dir = %dir.display(), "mounted binfmt_misc");
                    return Ok(Self { dir });
                }
                Err(e) => why.push(format!("mounting binfmt_misc on {}: {e}", dir.display())),
            }
        }
        Err(ForeignError::NoBinfmt {
            arch: arch.as_str(),
            why: why.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_need_the_f_flag_and_to_be_enabled() {
        let entry = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\n";
        assert!(fit(entry));
        assert!(!fit("enabled\ninterpreter /x\nflags: P\n"));
        assert!(!fit("disabled\ninterpreter /x\nflags: F\n"));
    }

    #[test]
    fn the_fallback_registration_names_the_static_emulator() {
        let line = registration(&EMULATORS[0], Path::new("/nonexistent/qemu-aarch64-static"));
        assert!(line.starts_with(":qemu-aarch64:M::"), "{line}");
        assert!(line.ends_with(":F") || line.ends_with('F'), "{line}");
    }

    #[test]
    fn the_host_architecture_needs_nothing() {
        let host = Arch::host().expect("amd64 or arm64");
        assert!(ensure(host).is_ok());
    }
}
