//! The device allow-list of a guest's cgroup: one [`DeviceRule`] per kind of device, written as
//! v1 `devices.allow` lines, or — cgroup v2 has no such file — compiled into a small eBPF
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the guest's cgroup (libcontainer only does
//! this with its libbpf-based feature, which Berth leaves off).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One rule: which devices (`b`/`c`/any, major, minor; `None` = any) get which access
/// (`r`, `w`, `m` for mknod).
#[derive(Debug, Clone, Copy)]
pub struct DeviceRule {
    pub kind: Option<char>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: &'static str,
}

impl DeviceRule {
    /// A rule for a table of rules (`const`).
    pub const fn new(
        kind: Option<char>,
        major: Option<u32>,
        minor: Option<u32>,
        access: &'static str,
    ) -> DeviceRule {
        DeviceRule {
            kind,
            major,
            minor,
            access,
        }
    }

    /// `c 1:3 rwm` for the v1 `devices.allow` file.
    pub fn v1_text(&self) -> String {
        let num = |n: Option<u32>| n.map_or("*".to_owned(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind.unwrap_or('a'),
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    #[error("cannot open cgroup {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("the kernel refused the device filter: {source} ({log})")]
    Load {
        #[source]
        source: io::Error,
        log: String,
    },
    #[error("cannot attach the device filter: {0}")]
    Attach(#[source] io::Error),
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets the guest's own systemd attach filters below ours; all of them must allow.
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND_K: u8 = 0x57; // dst &= imm
const RSH_K: u8 = 0x77; // dst >>= imm
const MOV_K: u8 = 0xb7; // dst = imm
const MOV_X: u8 = 0xbf; // dst = src
const JNE_K: u8 = 0x55; // if dst != imm goto pc + 1 + off
const EXIT: u8 = 0x95;

/// The program: registers hold the request's type (r2), access (r3), major (r4), minor (r5);
/// each rule is a block that returns 1 (allow) when everything matches, else falls through to
/// the next; the end returns 0 (deny).
fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        let mut checks = Vec::new();
        match rule.kind {
            Some('b') => checks.push((2, 1)),
            Some('c') => checks.push((2, 2)),
            _ => {}
        }
        let bits = rule.access.chars().fold(0, |b, c| {
            b | match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            }
        });
        let mut block = Vec::new();
        for (reg, value) in checks {
            block.push(insn(JNE_K, reg, 0, 0, value));
        }
        block.push(insn(MOV_X, 0, 3, 0, 0));
        block.push(insn(AND_K, 0, 0, 0, !bits));
        block.push(insn(JNE_K, 0, 0, 0, 0));
        if let Some(major) = rule.major {
            block.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        block.push(insn(MOV_K, 0, 0, 0, 1));
        block.push(insn(EXIT, 0, 0, 0, 0));
        // Every conditional jump skips to the end of its block.
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// Loads the filter for `rules` and attaches it to the cgroup2 directory `cgroup`. The
/// attachment lives as long as the cgroup does.
pub fn attach(cgroup: &Path, rules: &[DeviceRule]) -> Result<(), DevicesError> {
    let dir = File::open(cgroup).map_err(|source| DevicesError::Open {
        path: cgroup.display().to_string(),
        source,
    })?;
    let insns = program(rules);
    let fd = match load(&insns, None) {
        Ok(fd) => fd,
        Err(source) => {
            // Load again with the verifier's log, only to explain the failure.
            let mut log = vec![0u8; 1 << 16];
            let _ = load(&insns, Some(&mut log));
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let log = String::from_utf8_lossy(&log[..end])
                .trim()
                .replace('\n', "; ");
            return Err(DevicesError::Load { source, log });
        }
    };
    // SAFETY: the kernel just returned this new descriptor and nothing else owns it.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attach = ProgAttach {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: `attach` is a plain struct on our stack that outlives the call, and both
    // descriptors in it are open.
    let rc = unsafe {
        bpf(
            BPF_PROG_ATTACH,
            &attach as *const ProgAttach as *const libc::c_void,
            size_of::<ProgAttach>(),
        )
    };
    if rc < 0 {
        return Err(DevicesError::Attach(io::Error::last_os_error()));
    }
    Ok(())
}

/// BPF_PROG_LOAD of `insns`, with the verifier's log written to `log` if given.
fn load(insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<libc::c_long> {
    let license = c"Apache-2.0";
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: `attr` points at the instructions, license and log buffer, which all outlive
    // the call; the kernel reads at most `size_of::<ProgLoad>()` bytes of it.
    let fd = unsafe {
        bpf(
            BPF_PROG_LOAD,
            &attr as *const ProgLoad as *const libc::c_void,
            size_of::<ProgLoad>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// # Safety
/// `attr` must point at `size` readable bytes laid out as the kernel expects for `cmd`.
unsafe fn bpf(cmd: libc::c_long, attr: *const libc::c_void, size: usize) -> libc::c_long {
    // SAFETY: guaranteed by the caller.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr, size) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_rules_use_wildcards() {
        assert_eq!(
            DeviceRule::new(Some('c'), Some(136), None, "rwm").v1_text(),
            "c 136:* rwm"
        );
        assert_eq!(DeviceRule::new(None, None, None, "m").v1_text(), "a *:* m");
    }

    #[test]
    fn jumps_land_on_the_next_rule() {
        let rules = [
            DeviceRule {
                kind: Some('c'),
                major: Some(1),
                minor: Some(3),
                access: "rwm",
            },
            DeviceRule {
                kind: None,
                major: None,
                minor: None,
                access: "m",
            },
        ];
        let p = program(&rules);
        // 6 loads, then a 8-insn block, a 5-insn block and the final deny.
        assert_eq!(p.len(), 6 + 8 + 5 + 2);
        assert_eq!((p[6].code, p[6].off), (JNE_K, 7));
        assert_eq!(p[8].imm, !7);
        assert_eq!((p[12].code, p[12].imm), (MOV_K, 1));
        assert_eq!(p.last().map(|i| i.code), Some(EXIT));
    }

    /// Loads the filter into the kernel and checks it allows /dev/null and denies /dev/kmsg
    /// (root, and a cgroup2 mount, needed; skipped otherwise).
    #[test]
    fn kernel_enforces_the_filter() {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.join("cgroup.subtree_control").exists());
        let (Some(root), true) = (root, nix::unistd::geteuid().is_root()) else {
            eprintln!("skipped: needs root and cgroup2");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mknod = |name: &str, minor: &str| {
            let path = dir.path().join(name);
            let ok = std::process::Command::new("mknod")
                .arg(&path)
                .args(["c", "1", minor])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "mknod {name}");
            path.display().to_string()
        };
        let (null, kmsg) = (mknod("null", "3"), mknod("kmsg", "11"));
        let cg = root.join(format!("berth-devtest-{}", std::process::id()));
        std::fs::create_dir(&cg).expect("create cgroup");
        let only_null = [DeviceRule {
            kind: Some('c'),
            major: Some(1),
            minor: Some(3),
            access: "rw",
        }];
        let attached = attach(&cg, &only_null);
        let script = format!(
            "echo $$ > {}/cgroup.procs && : < {null} && echo null-ok && : < {kmsg} && echo kmsg-ok",
            cg.display()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output();
        let _ = std::fs::remove_dir(&cg);
        attached.expect("attach");
        let out = out.expect("run sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "null-ok\n");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not permitted"),
            "{out:?}"
        );
    }
}
