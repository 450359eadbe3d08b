//! A guest's own view of its disk on the default storage driver: `df -B1 /` inside a real guest
//! shows the disk limit as the size and the guest's files as used, again after `berth set
//! --disk` changes it; writing past the limit fails with ENOSPC inside; a change that needs the
//! guest stopped says so, on `limits.disk`, and changes nothing.

#[path = "common/real.rs"]
mod real;

use real::{Error, RealDaemon};

const MIB: u64 = 1 << 20;

/// `(size, used)` bytes of `/` as `df` inside the guest reports them.
fn df(d: &RealDaemon, name: &str) -> Result<(u64, u64), Error> {
    let (code, out) = d.exec(name, &["df", "-B1", "--output=size,used", "/"])?;
    assert_eq!(code, 0, "df failed: {out}");
    let mut numbers = out
        .lines()
        .nth(1)
        .ok_or_else(|| format!("df said {out:?}"))?
        .split_whitespace()
        .map(str::parse::<u64>);
    Ok((
        numbers.next().ok_or("no size")??,
        numbers.next().ok_or("no used")??,
    ))
}

/// Processes outside this test's mount namespace that have `name`'s disk mounted, with their
/// command lines.
fn holders(d: &RealDaemon, name: &str) -> Vec<(u32, String)> {
    let mount_point = format!(" {}/instances/{name} ", d.pool_dir().display());
    let ours = std::fs::read_link("/proc/self/ns/mnt").ok();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let ns = std::fs::read_link(entry.path().join("ns/mnt")).ok();
            let info = std::fs::read_to_string(entry.path().join("mountinfo")).ok()?;
            (ns != ours && info.contains(&mount_point)).then(|| {
                let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                (pid, String::from_utf8_lossy(&cmd).replace('\0', " "))
            })
        })
        .collect()
}

#[test]
fn df_inside_a_guest_shows_its_disk_limit() -> Result<(), Error> {
    let d = RealDaemon::start(&[("BERTH_STORAGE__DRIVER", "volume")])?;
    d.ensure_image()?;
    let system = d.json(&["system"])?;
    assert_eq!(system["storage_driver"], "volume", "{system}");
    let name = d.name("df");
    d.ok(&[
        "launch",
        "debian/12",
        &name,
        "--memory",
        "256MiB",
        "--disk",
        "2GiB",
    ])?;
    let (size, used) = df(&d, &name)?;
    eprintln!(
        "df -h / inside: {}",
        d.exec(&name, &["df", "-h", "/"])?.1.trim()
    );
    assert_eq!(size, 2048 * MIB, "df's size is the disk limit");
    assert!(
        (100 * MIB..600 * MIB).contains(&used),
        "used is the guest's files: {used}"
    );
    let info = d.json(&["info", &name])?;
    assert_eq!(info["limits"]["disk"], 2048 * MIB, "{info}");

    // Past the limit: ENOSPC inside, as DESIGN promises.
    let (code, _) = d.exec(
        &name,
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/root/big bs=1M count=2500 2>/root/dd.err; cat /root/dd.err",
        ],
    )?;
    assert_eq!(code, 0);
    let (_, err) = d.exec(&name, &["cat", "/root/dd.err"])?;
    assert!(err.contains("No space left on device"), "{err}");
    let (code, _) = d.exec(&name, &["rm", "-f", "/root/big", "/root/dd.err"])?;
    assert_eq!(code, 0);

    // Growing a running guest's disk: live where berthd may resize online
    // (CAP_SYS_RESOURCE), else refused on limits.disk with what to do, changing nothing.
    let live = d.berth(&["set", &name, "--disk", "3GiB"])?;
    if live.status.success() {
        eprintln!("grown live (berthd may resize online here)");
        assert_eq!(df(&d, &name)?.0, 3072 * MIB, "grown live");
    } else {
        let stderr = String::from_utf8_lossy(&live.stderr);
        eprintln!("a live grow was refused here: {}", stderr.trim());
        assert!(
            stderr.contains("limits.disk") && stderr.contains("stop the instance"),
            "{stderr}"
        );
        assert_eq!(
            df(&d, &name)?.0,
            2048 * MIB,
            "a refused change changes nothing"
        );
        assert_eq!(d.json(&["info", &name])?["limits"]["disk"], 2048 * MIB);
        d.ok(&["stop", &name])?;
        d.ok(&["set", &name, "--disk", "3GiB"])?;
        d.ok(&["start", &name])?;
        assert_eq!(df(&d, &name)?.0, 3072 * MIB, "grown while stopped");
    }
    assert_eq!(d.json(&["info", &name])?["limits"]["disk"], 3072 * MIB);

    // Shrinking needs the guest stopped, and its disk mounted nowhere else.
    d.ok(&["stop", &name])?;
    let shrink = d.berth(&["set", &name, "--disk", "1536MiB"])?;
    let held_by = holders(&d, &name);
    d.ok(&["start", &name])?;
    if shrink.status.success() {
        assert_eq!(df(&d, &name)?.0, 1536 * MIB, "shrunk");
    } else {
        // A mount namespace some other program on this shared host made while the disk was
        // mounted holds it until it ends; one of this daemon's own would be a bug.
        let stderr = String::from_utf8_lossy(&shrink.stderr);
        assert!(stderr.contains("limits.disk"), "{stderr}");
        eprintln!("shrink refused: {}; held by {held_by:?}", stderr.trim());
        assert!(
            !held_by.is_empty() && held_by.iter().all(|(_, cmd)| !cmd.contains(&d.id)),
            "held by this daemon's own processes, or by nothing: {held_by:?}"
        );
        assert_eq!(
            df(&d, &name)?.0,
            3072 * MIB,
            "a refused change changes nothing"
        );
    }
    let (code, out) = d.exec(&name, &["cat", "/etc/hostname"])?;
    assert_eq!((code, out.trim()), (0, name.as_str()), "files survive");
    d.ok(&["delete", "--force", &name])?;
    assert!(!d.pool_dir().join("instances").join(&name).exists());
    Ok(())
}
