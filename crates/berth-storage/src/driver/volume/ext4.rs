//! The filesystem of a `volume` instance: ext4 in a sparse image file, sized so that `statfs`
//! reports exactly the disk limit. ext4's `statfs` subtracts the filesystem's own metadata
//! (inode tables, bitmaps, journal: its "overhead") from the size, so an image holds
//! `limit + overhead` blocks and a guest's `df` shows the limit as its size and only its files as
//! used. The overhead is computed from the superblock's geometry as the kernel does
//! (`ext4_calculate_overhead`: per group its bitmaps, inode table and superblock backup, plus
//! the journal) — resize2fs clears the stored `s_overhead_clusters` — and the size is settled in
//! a few resize steps.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use tracing::debug;

use crate::cmd::{self, CmdError};
use crate::fsio::{PathIoError, io};

/// ext4 block size used for every volume.
pub const BLOCK: u64 = 4096;
/// Mount options of an instance's volume: no background zeroing of inode tables (the file is
/// sparse, they read as zeros), freed blocks go back to the pool, and a write error stops
/// writes instead of spreading damage.
pub const MOUNT_OPTIONS: &std::ffi::CStr = c"noinit_itable,discard,errors=remount-ro";
/// Resize steps before accepting a size a few blocks off.
const SETTLE_STEPS: u32 = 6;

const FIFREEZE: libc::c_ulong = 0xC004_5877;
const FITHAW: libc::c_ulong = 0xC004_5878;

#[derive(Debug, thiserror::Error)]
pub enum Ext4Error {
    #[error(transparent)]
    Io(#[from] PathIoError),
    #[error("{} is not an ext4 image", path.display())]
    NotExt4 { path: PathBuf },
    #[error("{what} failed on {}", path.display())]
    Tool {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: CmdError,
    },
    #[error("a disk of {asked} bytes is too small: the files in it need at least {needed} bytes")]
    TooSmall { asked: u64, needed: u64 },
    #[error("cannot {action} the filesystem at {}", path.display())]
    Ioctl {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn tool(what: &'static str, path: &Path) -> impl FnOnce(CmdError) -> Ext4Error {
    let path = path.to_owned();
    move |source| Ext4Error::Tool { what, path, source }
}

/// What the superblock says about size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superblock {
    pub blocks: u64,
    /// Metadata blocks `statfs` leaves out of the size, computed from the geometry.
    pub overhead: u64,
    /// The overhead the kernel stored at its last mount (0 after an offline resize).
    pub stored_overhead: u64,
    /// Mounted since the last full check (resize2fs then wants `e2fsck -f` first).
    pub needs_check: bool,
}

impl Superblock {
    /// The size `statfs` reports: what files can use.
    pub fn data_bytes(&self) -> u64 {
        self.blocks.saturating_sub(self.overhead) * BLOCK
    }
}

fn le16(sb: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([sb[at], sb[at + 1]]))
}

fn le32(sb: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([
        sb[at],
        sb[at + 1],
        sb[at + 2],
        sb[at + 3],
    ]))
}

/// Reads the primary superblock of the ext4 image `image`.
pub fn superblock(image: &Path) -> Result<Superblock, Ext4Error> {
    let mut file = std::fs::File::open(image).map_err(io("open", image))?;
    let mut sb = vec![0u8; 2048];
    file.read_exact(&mut sb).map_err(io("read", image))?;
    let sb = &sb[1024..];
    if u16::from_le_bytes([sb[0x38], sb[0x39]]) != 0xEF53 || le32(sb, 0x18) != 2 {
        return Err(Ext4Error::NotExt4 {
            path: image.to_owned(),
        });
    }
    let blocks = le32(sb, 0x04) | (le32(sb, 0x150) << 32);
    let stored_overhead = le32(sb, 0x248);
    Ok(Superblock {
        blocks,
        overhead: overhead(sb, blocks).unwrap_or(stored_overhead),
        stored_overhead,
        needs_check: le32(sb, 0x40) < le32(sb, 0x2C),
    })
}

/// The kernel's overhead for a filesystem laid out as mke2fs and resize2fs do here (sparse
/// superblock backups, a resize inode, the journal inside); `None` for layouts it does not
/// cover (`meta_bg`, `sparse_super2`, a journal without its backup in the superblock).
fn overhead(sb: &[u8], blocks: u64) -> Option<u64> {
    const SPARSE_SUPER2: u64 = 0x200;
    const HAS_JOURNAL: u64 = 0x4;
    const META_BG: u64 = 0x10;
    const BIT64: u64 = 0x80;
    const SPARSE_SUPER: u64 = 0x1;
    let (compat, incompat, ro_compat) = (le32(sb, 0x5C), le32(sb, 0x60), le32(sb, 0x64));
    if compat & SPARSE_SUPER2 != 0 || incompat & META_BG != 0 {
        return None;
    }
    let first_data = le32(sb, 0x14);
    let per_group = le32(sb, 0x20);
    let inode_table = (le32(sb, 0x28) * le16(sb, 0x58)).div_ceil(BLOCK);
    let groups = blocks.checked_sub(first_data)?.div_ceil(per_group.max(1));
    let desc_size = if incompat & BIT64 != 0 {
        le16(sb, 0xFE).max(32)
    } else {
        32
    };
    let descriptors = (groups * desc_size).div_ceil(BLOCK);
    let with_super = (0..groups)
        .filter(|&g| ro_compat & SPARSE_SUPER == 0 || has_super(g))
        .count() as u64;
    let journal = if compat & HAS_JOURNAL != 0 {
        // s_jnl_blocks[15..17]: the journal inode's size, backed up by mke2fs.
        if sb[0xFD] != 1 {
            return None;
        }
        ((le32(sb, 0x148) << 32) | le32(sb, 0x14C)) / BLOCK
    } else {
        0
    };
    Some(
        first_data
            + groups * (inode_table + 2)
            + with_super * (1 + descriptors + le16(sb, 0xCE))
            + journal,
    )
}

/// Whether group `g` holds a superblock backup with sparse_super: 0, 1 and powers of 3, 5, 7.
fn has_super(g: u64) -> bool {
    if g <= 1 {
        return true;
    }
    [3u64, 5, 7].iter().any(|&base| {
        let mut n = base;
        while n < g {
            n *= base;
        }
        n == g
    })
}

/// Makes an empty ext4 filesystem of `blocks` blocks in `image` (created sparse, or resized).
pub async fn mkfs(image: &Path, blocks: u64) -> Result<(), Ext4Error> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(image)
        .map_err(io("create", image))?;
    file.set_len(blocks * BLOCK).map_err(io("size", image))?;
    drop(file);
    let mut args: Vec<std::ffi::OsString> = ["-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0"]
        .iter()
        .map(Into::into)
        .collect();
    // A 64 MiB journal, as for any disk of a few GiB, unless the disk is tiny.
    if blocks * BLOCK >= 1 << 30 {
        args.extend(["-J".into(), "size=64".into()]);
    }
    args.extend([
        "-E".into(),
        "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0".into(),
        image.as_os_str().to_owned(),
        blocks.to_string().into(),
    ]);
    cmd::run("mkfs.ext4", args)
        .await
        .map_err(tool("mkfs.ext4", image))?;
    Ok(())
}

/// A full check, fixing what is safe to fix (`e2fsck -f -p`).
pub async fn fsck(image: &Path) -> Result<(), Ext4Error> {
    cmd::run_accepting(
        "e2fsck",
        ["-f".as_ref(), "-p".as_ref(), image.as_os_str()],
        &[1],
    )
    .await
    .map_err(tool("e2fsck", image))?;
    Ok(())
}

/// Shrinks an unmounted image to the smallest size that holds its files.
pub async fn shrink_to_minimum(image: &Path) -> Result<(), Ext4Error> {
    fsck(image).await?;
    cmd::run("resize2fs", ["-M".as_ref(), image.as_os_str()])
        .await
        .map_err(tool("resize2fs", image))?;
    let sb = superblock(image)?;
    set_file_len(image, sb.blocks)
}

fn set_file_len(image: &Path, blocks: u64) -> Result<(), Ext4Error> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(image)
        .map_err(io("open", image))?;
    file.set_len(blocks * BLOCK).map_err(io("size", image))?;
    Ok(())
}

/// Resizes an unmounted image so that its filesystem's data size is `data_bytes` (rounded down
/// to a block).
pub async fn resize_offline(image: &Path, data_bytes: u64) -> Result<(), Ext4Error> {
    let target = data_bytes / BLOCK;
    let mut sb = superblock(image)?;
    if sb.blocks.saturating_sub(sb.overhead) == target {
        return Ok(());
    }
    if sb.needs_check {
        fsck(image).await?;
    }
    for _ in 0..SETTLE_STEPS {
        let blocks = target + sb.overhead;
        if blocks == sb.blocks {
            break;
        }
        if blocks > sb.blocks {
            set_file_len(image, blocks)?;
        }
        let resized = cmd::run(
            "resize2fs",
            [image.as_os_str(), blocks.to_string().as_ref()],
        )
        .await;
        if let Err(e) = resized {
            return Err(too_small(&e, data_bytes, sb.overhead)
                .unwrap_or_else(|| tool("resize2fs", image)(e)));
        }
        sb = superblock(image)?;
        debug!(image = %image.display(), blocks = sb.blocks, overhead = sb.overhead, "resized");
        if sb.blocks.saturating_sub(sb.overhead) == target {
            break;
        }
    }
    set_file_len(image, sb.blocks)
}

/// resize2fs' "New size smaller than minimum (N)" as [`Ext4Error::TooSmall`].
fn too_small(e: &CmdError, asked: u64, overhead: u64) -> Option<Ext4Error> {
    let CmdError::Failed { stderr, .. } = e else {
        return None;
    };
    let (_, rest) = stderr.split_once("smaller than minimum (")?;
    let min: u64 = rest.split(')').next()?.trim().parse().ok()?;
    Some(Ext4Error::TooSmall {
        asked,
        needed: min.saturating_sub(overhead) * BLOCK,
    })
}

/// Grows the mounted filesystem at `root` (on loop device `device`, backed by `image`) to
/// `data_bytes`. Needs CAP_SYS_RESOURCE (the kernel's online resize); the error says when it
/// is missing, and the caller may resize offline instead.
pub fn grow_online(
    root: &Path,
    device: &Path,
    image: &Path,
    data_bytes: u64,
) -> Result<(), Ext4Error> {
    let target = data_bytes / BLOCK;
    let dir = std::fs::File::open(root).map_err(io("open", root))?;
    for _ in 0..SETTLE_STEPS {
        let (size, _) = statfs_blocks(root)?;
        if size >= target {
            return Ok(());
        }
        let sb = superblock(image)?;
        let blocks = sb.blocks + (target - size);
        set_file_len(image, blocks)?;
        crate::loopdev::refresh_capacity(device).map_err(|e| Ext4Error::Ioctl {
            action: "tell the loop device about",
            path: root.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        rustix::fs::ext4_ioc_resize_fs(&dir, blocks).map_err(|e| Ext4Error::Ioctl {
            action: "grow (online resize)",
            path: root.to_owned(),
            source: e.into(),
        })?;
    }
    Ok(())
}

/// `(size, free)` in blocks as `statfs` reports them for the filesystem at `root`.
pub fn statfs_blocks(root: &Path) -> Result<(u64, u64), Ext4Error> {
    let st = rustix::fs::statfs(root).map_err(|e| io("inspect", root)(e.into()))?;
    let scale = st.f_bsize as u64 / BLOCK;
    Ok((st.f_blocks * scale, st.f_bfree * scale))
}

/// Freezes the filesystem at `root` (its dirty data written, new writes held) so its image can
/// be copied whole. `Ok(false)`: it was frozen already (by someone else, who will thaw it).
pub fn freeze(root: &Path) -> Result<bool, Ext4Error> {
    match fs_ioctl(root, FIFREEZE) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(false),
        Err(source) => Err(Ext4Error::Ioctl {
            action: "freeze",
            path: root.to_owned(),
            source,
        }),
    }
}

/// Thaws a frozen filesystem; one that is not frozen is fine.
pub fn thaw(root: &Path) -> Result<(), Ext4Error> {
    match fs_ioctl(root, FITHAW) {
        Err(e) if e.raw_os_error() != Some(libc::EINVAL) => Err(Ext4Error::Ioctl {
            action: "thaw",
            path: root.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn fs_ioctl(root: &Path, request: libc::c_ulong) -> std::io::Result<()> {
    let dir = std::fs::File::open(root)?;
    // SAFETY: FIFREEZE and FITHAW take an ignored int argument; the descriptor is open.
    let r = unsafe { libc::ioctl(dir.as_raw_fd(), request, 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superblock_backups_sit_in_sparse_groups() {
        let with: Vec<u64> = (0..60).filter(|&g| has_super(g)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }

    #[test]
    fn reads_resize2fs_minimum() {
        let e = CmdError::Failed {
            command: "resize2fs x 100".into(),
            status: std::process::ExitStatus::default(),
            stderr: "resize2fs 1.47.0; resize2fs: New size smaller than minimum (70000)".into(),
        };
        let Some(Ext4Error::TooSmall { asked, needed }) = too_small(&e, 1 << 20, 1000) else {
            panic!("not recognised");
        };
        assert_eq!((asked, needed), (1 << 20, 69_000 * BLOCK));
    }
}
