//! Backups: a round trip of a tree with every kind of entry, and a corpus of hostile archives
//! (the tar-slip classes behind container-runtime advisories), each of which must be refused
//! without touching anything outside the target directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use berth_storage::backup::{BackupError, BackupManifest, ImportLimits, export, import};

const LIMITS: ImportLimits = ImportLimits {
    max_bytes: 64 << 20,
    max_entries: 10_000,
};

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn manifest() -> BackupManifest {
    BackupManifest {
        format: 1,
        instance: "web1".into(),
        image: "debian/12".into(),
        config: serde_json::json!({"limits": {"memory": 536870912}}),
        created_at: chrono::Utc::now(),
        snapshots: Vec::new(),
    }
}

#[test]
fn a_tree_with_every_kind_of_entry_survives_a_round_trip() -> Result<(), Box<dyn std::error::Error>>
{
    if !root() {
        eprintln!("skipped: needs root (owners, device nodes)");
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    let src = scratch.path().join("src");
    std::fs::create_dir_all(src.join("etc/alternatives"))?;
    std::fs::create_dir_all(src.join("dev"))?;
    std::fs::create_dir(src.join("empty"))?;
    std::fs::write(src.join("etc/hostname"), "web1\n")?;
    std::fs::set_permissions(
        src.join("etc/hostname"),
        std::fs::Permissions::from_mode(0o640),
    )?;
    std::os::unix::fs::chown(src.join("etc/hostname"), Some(1000), Some(100))?;
    let setuid = src.join("passwd-tool");
    std::fs::write(&setuid, "#!/bin/sh\n")?;
    std::fs::set_permissions(&setuid, std::fs::Permissions::from_mode(0o4755))?;
    symlink("/usr/bin/vim.basic", src.join("etc/alternatives/vi"))?;
    std::fs::hard_link(src.join("etc/hostname"), src.join("etc/hostname.hard"))?;
    let long = "a-very-long-directory-name-".repeat(6);
    std::fs::create_dir(src.join(&long))?;
    std::fs::write(
        src.join(&long).join("file with spaces ü"),
        vec![7u8; 300_000],
    )?;
    nix::unistd::mkfifo(
        &src.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )?;
    nix::sys::stat::mknod(
        &src.join("dev/null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )?;
    let sock = std::os::unix::net::UnixListener::bind(src.join("sock"))?;

    let mut archive = Vec::new();
    let snap = scratch.path().join("snap0");
    std::fs::create_dir_all(snap.join("etc"))?;
    std::fs::write(snap.join("etc/hostname"), "before\n")?;
    let mut with_snapshot = manifest();
    with_snapshot.snapshots = vec!["snap0".into()];
    let stats = export(
        &src,
        &[("snap0".into(), snap.clone())],
        &with_snapshot,
        &mut archive,
    )?;
    drop(sock);
    assert_eq!(stats.skipped, 1, "the socket is skipped");
    let dst = scratch.path().join("dst");
    std::fs::create_dir(&dst)?;
    berth_storage::backup::verify(archive.as_slice(), LIMITS)?;
    let snap_dst = scratch.path().join("snap0-back");
    std::fs::create_dir(&snap_dst)?;
    let targets = BTreeMap::from([("snap0".to_owned(), snap_dst.clone())]);
    let back = import(archive.as_slice(), &dst, &targets, LIMITS)?;
    assert_eq!(back.snapshots, ["snap0"]);
    assert_eq!(
        std::fs::read_to_string(snap_dst.join("etc/hostname"))?,
        "before\n"
    );
    assert_eq!(back.instance, "web1");

    assert_eq!(std::fs::read_to_string(dst.join("etc/hostname"))?, "web1\n");
    let meta = std::fs::metadata(dst.join("etc/hostname"))?;
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o640, 1000, 100)
    );
    assert_eq!(meta.nlink(), 2, "the hard link is a link again");
    assert_eq!(
        std::fs::metadata(dst.join("passwd-tool"))?.mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        std::fs::read_link(dst.join("etc/alternatives/vi"))?,
        Path::new("/usr/bin/vim.basic")
    );
    assert_eq!(
        std::fs::read(dst.join(&long).join("file with spaces ü"))?,
        vec![7u8; 300_000]
    );
    assert!(dst.join("empty").is_dir());
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(dst.join("fifo"))?
            .file_type()
            .is_fifo()
    );
    let null = std::fs::symlink_metadata(dst.join("dev/null"))?;
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(!dst.join("sock").exists());
    Ok(())
}

/// One raw tar entry: the name bytes go straight into the header, as an attacker would.
struct Raw<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    link: &'a [u8],
    data: &'a [u8],
    size: Option<u64>,
    device: (u32, u32),
}

fn raw(name: &'static str, kind: tar::EntryType) -> Raw<'static> {
    Raw {
        name: name.as_bytes(),
        kind,
        link: b"",
        data: b"",
        size: None,
        device: (0, 0),
    }
}

fn hostile(entries: &[Raw<'_>], with_manifest: bool) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    if with_manifest {
        let json = serde_json::to_vec(&manifest()).unwrap_or_default();
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        let _ = tar.append_data(&mut header, "backup.json", json.as_slice());
    }
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let old = header.as_old_mut();
        old.name[..entry.name.len()].copy_from_slice(entry.name);
        old.linkname[..entry.link.len()].copy_from_slice(entry.link);
        header.set_entry_type(entry.kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(entry.size.unwrap_or(entry.data.len() as u64));
        let _ = header.set_device_major(entry.device.0);
        let _ = header.set_device_minor(entry.device.1);
        header.set_cksum();
        let _ = tar.append(&header, entry.data);
    }
    let bytes = tar.into_inner().unwrap_or_default();
    zstd::encode_all(bytes.as_slice(), 3).unwrap_or_default()
}

#[test]
fn hostile_archives_are_refused_and_the_host_is_untouched() -> Result<(), Box<dyn std::error::Error>>
{
    if !root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    // The "host": a directory outside the target that no archive may write into.
    let outside = scratch.path().join("outside");
    std::fs::create_dir(&outside)?;
    let escape_dir = outside.display().to_string();
    let link_to_outside = Raw {
        link: escape_dir.as_bytes(),
        ..raw("rootfs/link", tar::EntryType::Symlink)
    };
    let file = |name: &'static str| Raw {
        data: b"pwned",
        ..raw(name, tar::EntryType::Regular)
    };
    let passwd_link = Raw {
        link: b"/etc/passwd",
        ..raw("rootfs/pw", tar::EntryType::Link)
    };
    let up_link = Raw {
        link: b"rootfs/../../outside/x",
        ..raw("rootfs/up", tar::EntryType::Link)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("absolute path", hostile(&[file("/tmp/berth-evil")], true)),
        ("dot-dot", hostile(&[file("../evil")], true)),
        (
            "dot-dot inside rootfs",
            hostile(&[file("rootfs/../../evil")], true),
        ),
        (
            "file through a symlink",
            hostile(&[Raw { ..link_to_outside }, file("rootfs/link/evil")], true),
        ),
        (
            "symlink chain to ..",
            hostile(
                &[
                    Raw {
                        link: b"..",
                        ..raw("rootfs/up1", tar::EntryType::Symlink)
                    },
                    Raw {
                        link: b"up1/..",
                        ..raw("rootfs/up2", tar::EntryType::Symlink)
                    },
                    file("rootfs/up2/outside/evil"),
                ],
                true,
            ),
        ),
        ("hard link to /etc/passwd", hostile(&[passwd_link], true)),
        ("hard link out with ..", hostile(&[up_link], true)),
        (
            "char device outside /dev",
            hostile(
                &[Raw {
                    device: (1, 3),
                    ..raw("rootfs/etc/null", tar::EntryType::Char)
                }],
                true,
            ),
        ),
        (
            "block device outside /dev",
            hostile(
                &[Raw {
                    device: (8, 0),
                    ..raw("rootfs/sda", tar::EntryType::Block)
                }],
                true,
            ),
        ),
        (
            "huge declared size",
            hostile(
                &[Raw {
                    size: Some(1 << 40),
                    ..file("rootfs/big")
                }],
                true,
            ),
        ),
        ("no manifest", hostile(&[file("rootfs/x")], false)),
        ("manifest not first", {
            let mut v = hostile(&[file("rootfs/x")], false);
            v.truncate(v.len());
            v
        }),
        (
            "duplicate: file, then symlink, then a file through it",
            hostile(
                &[
                    file("rootfs/dup"),
                    Raw {
                        link: escape_dir.as_bytes(),
                        ..raw("rootfs/dup", tar::EntryType::Symlink)
                    },
                    file("rootfs/dup/evil"),
                ],
                true,
            ),
        ),
    ];
    for (what, archive) in cases {
        let slug: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let target = scratch.path().join(format!("t-{slug}"));
        std::fs::create_dir(&target)?;
        let checked = berth_storage::backup::verify(archive.as_slice(), LIMITS);
        assert!(checked.is_err(), "{what}: the dry run accepted it");
        let result = import(archive.as_slice(), &target, &BTreeMap::new(), LIMITS);
        assert!(result.is_err(), "{what}: accepted");
        assert_eq!(
            std::fs::read_dir(&outside)?.count(),
            0,
            "{what}: wrote outside the target"
        );
        assert!(
            !Path::new("/tmp/berth-evil").exists() && !scratch.path().join("evil").exists(),
            "{what}"
        );
        eprintln!(
            "{what}: {}",
            berth_storage::error_chain(&result.err().ok_or("no error")?)
        );
    }

    // Too many entries, truncated streams and garbage.
    let many: Vec<Raw<'_>> = (0..20).map(|_| file("rootfs/same")).collect();
    let target = scratch.path().join("many");
    std::fs::create_dir(&target)?;
    let small = ImportLimits {
        max_bytes: 1 << 20,
        max_entries: 10,
    };
    assert!(matches!(
        import(
            hostile(&many, true).as_slice(),
            &target,
            &BTreeMap::new(),
            small
        ),
        Err(BackupError::TooManyEntries(10))
    ));
    let good = hostile(
        &[Raw {
            data: &[1u8; 100_000],
            ..raw("rootfs/data", tar::EntryType::Regular)
        }],
        true,
    );
    for cut in [good.len() / 2, good.len() - 10, 20] {
        let target = scratch.path().join(format!("cut-{cut}"));
        std::fs::create_dir(&target)?;
        assert!(
            import(&good[..cut], &target, &BTreeMap::new(), LIMITS).is_err(),
            "cut at {cut} accepted"
        );
    }
    let target = scratch.path().join("garbage");
    std::fs::create_dir(&target)?;
    assert!(matches!(
        import(
            &b"this is not zstd at all"[..],
            &target,
            &BTreeMap::new(),
            LIMITS
        ),
        Err(BackupError::Corrupt(_))
    ));
    let target = scratch.path().join("badjson");
    std::fs::create_dir(&target)?;
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_cksum();
    tar.append_data(&mut header, "backup.json", &b"{oops"[..])?;
    let bad_json = zstd::encode_all(tar.into_inner()?.as_slice(), 3)?;
    assert!(matches!(
        import(bad_json.as_slice(), &target, &BTreeMap::new(), LIMITS),
        Err(BackupError::Manifest(_))
    ));
    std::io::stderr().flush()?;
    Ok(())
}
