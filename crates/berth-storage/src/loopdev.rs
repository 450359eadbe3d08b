//! Loop devices through their ioctls (no `losetup` fork): attach a file to a free device with
//! `LOOP_CONFIGURE` (auto-clearing, optionally read-only and direct-I/O), find the device a file
//! is already attached to, and tell a device its file grew. An auto-clearing device detaches
//! itself when its last user (the mounted filesystem) lets go, so nothing leaks if the daemon
//! dies.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LOOP_SET_CAPACITY: libc::c_ulong = 0x4C07;

const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_FLAGS_DIRECT_IO: u32 = 16;

/// Attempts at grabbing a free device another process may take first.
const ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no free loop device after {ATTEMPTS} attempts (other processes took them)")]
    NoneFree,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LoopError {
    let path = path.to_owned();
    move |source| LoopError::Io {
        action,
        path,
        source,
    }
}

/// `struct loop_info64` (linux/loop.h).
#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

/// `struct loop_config` (linux/loop.h, Linux 5.8).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

impl LoopInfo64 {
    fn zeroed() -> Self {
        Self {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: 0,
            lo_sizelimit: 0,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: 0,
            lo_file_name: [0; 64],
            lo_crypt_name: [0; 64],
            lo_encrypt_key: [0; 32],
            lo_init: [0; 2],
        }
    }
}

/// How to attach a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attach {
    pub read_only: bool,
    /// Bypass the page cache of the file's own filesystem (the filesystem on the device
    /// caches already).
    pub direct_io: bool,
}

/// An attached device, held open: it stays attached at least until this is dropped, and (being
/// auto-clearing) detaches once nothing else holds it either.
#[derive(Debug)]
pub struct LoopDevice {
    pub path: PathBuf,
    _file: File,
}

/// Attaches `file` to a free loop device with 4 KiB sectors.
pub fn attach(file: &Path, how: Attach) -> Result<LoopDevice, LoopError> {
    let backing = OpenOptions::new()
        .read(true)
        .write(!how.read_only)
        .open(file)
        .map_err(io("open", file))?;
    let control = Path::new("/dev/loop-control");
    let ctl = OpenOptions::new()
        .read(true)
        .write(true)
        .open(control)
        .map_err(io("open", control))?;
    for _ in 0..ATTEMPTS {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number.
        let number = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if number < 0 {
            return Err(io("find a free loop device with", control)(
                std::io::Error::last_os_error(),
            ));
        }
        let path = PathBuf::from(format!("/dev/loop{number}"));
        let device = OpenOptions::new()
            .read(true)
            .write(!how.read_only)
            .open(&path)
            .map_err(io("open", &path))?;
        let mut config = LoopConfig {
            fd: backing.as_raw_fd() as u32,
            block_size: 4096,
            info: LoopInfo64::zeroed(),
            reserved: [0; 8],
        };
        config.info.lo_flags = LO_FLAGS_AUTOCLEAR
            | if how.read_only { LO_FLAGS_READ_ONLY } else { 0 }
            | if how.direct_io { LO_FLAGS_DIRECT_IO } else { 0 };
        let name = file.as_os_str().as_encoded_bytes();
        let n = name.len().min(63);
        config.info.lo_file_name[..n].copy_from_slice(&name[..n]);
        // SAFETY: LOOP_CONFIGURE reads one `struct loop_config`, laid out as the kernel's, from
        // a live local; the backing descriptor is open for the call.
        let r = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, &raw const config) };
        if r == 0 {
            return Ok(LoopDevice {
                path,
                _file: device,
            });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EBUSY) {
            return Err(io("attach a loop device to", file)(err));
        }
        // Someone took it between GET_FREE and CONFIGURE: ask again.
    }
    Err(LoopError::NoneFree)
}

/// The loop devices `file` is attached to now (normally none or one).
pub fn attached_to(file: &Path) -> Result<Vec<PathBuf>, LoopError> {
    let meta = std::fs::metadata(file).map_err(io("inspect", file))?;
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Ok(found);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") || !entry.path().join("loop/backing_file").exists() {
            continue;
        }
        let device = PathBuf::from("/dev").join(&name);
        let Ok(handle) = File::open(&device) else {
            continue;
        };
        let mut info = LoopInfo64::zeroed();
        // SAFETY: LOOP_GET_STATUS64 writes one `struct loop_info64` into a live local.
        let r = unsafe { libc::ioctl(handle.as_raw_fd(), LOOP_GET_STATUS64, &raw mut info) };
        if r == 0 && info.lo_inode == meta.ino() && info.lo_device == meta.dev() {
            found.push(device);
        }
    }
    Ok(found)
}

/// Tells `device` that its file changed size.
pub fn refresh_capacity(device: &Path) -> Result<(), LoopError> {
    let handle = File::open(device).map_err(io("open", device))?;
    // SAFETY: LOOP_SET_CAPACITY takes no argument.
    let r = unsafe { libc::ioctl(handle.as_raw_fd(), LOOP_SET_CAPACITY, 0) };
    if r < 0 {
        return Err(io("resize", device)(std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_match_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }
}
