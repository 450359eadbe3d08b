//! An instance launched from an image server's image on the builtin backend: the test makes a
//! small real system — the host's static BusyBox as `/sbin/init` with an `/etc/inittab`, no
//! systemd — publishes it as a simplestreams tree on a loopback HTTP server, and has a real
//! berthd fetch it (`berth image build SERVER:ALIAS`), launch it (`berth launch SERVER:ALIAS
//! NAME`), run commands in it, read its hostname and address, refresh the image under it
//! (`[images] refresh_after`), stop it (BusyBox init's own shutdown signal) and delete it,
//! leaving nothing on the host. Root only.

#[path = "common/real.rs"]
mod real;
#[path = "common/streams_support.rs"]
mod streams_support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use real::{Error, RealDaemon};
use streams_support::Product;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A scratch directory removed when dropped, also when the test fails.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        real::unmount_below(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "hostname", "ip", "ls", "mkdir", "mount", "ping", "ps", "readlink",
    "sleep", "sync", "true", "uname",
];

/// `root.tar.xz` of a BusyBox system: `/sbin/init` → BusyBox init with an inittab, applets
/// on `PATH`, root in passwd/shadow, `ifup` (so Berth writes an ifupdown stanza).
fn busybox_rootfs() -> Result<Vec<u8>, Error> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .ok_or("busybox-static is not installed (setup.sh installs it)")?;
    let binary = std::fs::read(busybox)?;
    let inittab: &[u8] = b"::sysinit:/bin/mkdir -p /run /tmp\n\
        ::sysinit:/bin/echo berth-test: booted\n\
        ::shutdown:/bin/echo berth-test: stopping\n\
        ::shutdown:/bin/sync\n";
    let files: Vec<(&str, Option<&[u8]>, u32)> = vec![
        ("bin", None, 0o755),
        ("sbin", None, 0o755),
        ("etc", None, 0o755),
        ("dev", None, 0o755),
        ("proc", None, 0o555),
        ("sys", None, 0o555),
        ("run", None, 0o755),
        ("tmp", None, 0o1777),
        ("root", None, 0o700),
        ("bin/busybox", Some(&binary), 0o755),
        ("etc/inittab", Some(inittab), 0o644),
        (
            "etc/passwd",
            Some(b"root:x:0:0:root:/root:/bin/sh\n"),
            0o644,
        ),
        ("etc/group", Some(b"root:x:0:\n"), 0o644),
        ("etc/shadow", Some(b"root:*:19000:0:99999:7:::\n"), 0o640),
        ("etc/os-release", Some(b"ID=busybox\nVERSION_ID=1\n"), 0o644),
    ];
    let applets: Vec<String> = APPLETS.iter().map(|a| format!("bin/{a}")).collect();
    let mut links: Vec<(&str, &str)> = applets.iter().map(|a| (a.as_str(), "busybox")).collect();
    links.push(("sbin/init", "../bin/busybox"));
    links.push(("sbin/ifup", "/bin/busybox"));
    streams_support::xz(&streams_support::tar(&files, &links)?)
}

#[test]
fn a_busybox_image_from_an_image_server_boots_runs_and_goes() -> Result<(), Error> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let scratch = Scratch(
        PathBuf::from("/var/tmp/berth-test-scratch")
            .join(format!("fetched-{}", uuid::Uuid::new_v4().simple())),
    );
    let (tree, cache) = (scratch.0.join("server"), scratch.0.join("cache"));
    std::fs::create_dir_all(&tree)?;
    std::fs::create_dir_all(&cache)?;
    let product = Product {
        id: "busybox:1:amd64:default",
        aliases: "busybox/1/default,busybox/1",
        os: "BusyBox",
        release: "1",
        dir: "images/busybox/1/amd64/default",
    };
    let arch = berth_types::Arch::host().ok_or("an amd64 or arm64 host")?;
    let id = product.id.replace("amd64", arch.as_str());
    let product = Product { id: &id, ..product };
    streams_support::publish(
        &tree,
        "streams/v1/images.json",
        &product,
        &busybox_rootfs()?,
    )?;
    let runtime = tokio::runtime::Runtime::new()?;
    let server = runtime.block_on(berth_testkit::http::StaticServer::start(&tree));
    let remotes = format!("[{{ name = \"local\", url = \"{}\" }}]", server.url);
    let cache_dir = cache.display().to_string();
    let daemon = RealDaemon::start(&[
        ("BERTH_IMAGES__REMOTES", remotes.as_str()),
        ("BERTH_IMAGES__CACHE_DIR", cache_dir.as_str()),
        ("BERTH_IMAGES__REFRESH_AFTER", "1m"),
    ])?;
    let result = launch_and_check(&daemon);
    if result.is_err() {
        eprintln!("berthd log:\n{}", daemon.log());
    }
    drop(daemon);
    drop(server);
    result
}

fn launch_and_check(daemon: &RealDaemon) -> Result<(), Error> {
    let listed = daemon.json(&["image", "list", "local:"])?;
    assert_eq!(listed[0]["alias"], "busybox/1/default", "{listed}");

    let name = daemon.name("bb");
    daemon.ok(&["image", "build", "local:busybox/1"])?;
    let info = daemon.json(&["image", "info", "local:busybox/1"])?;
    assert_eq!(info["status"], "fetched", "{info}");
    assert!(
        info["origin"]
            .as_str()
            .is_some_and(|o| o.contains("image server local")),
        "{info}"
    );
    assert_eq!(info["sha256"].as_str().map(str::len), Some(64), "{info}");
    assert!(
        info.get("packages").is_none(),
        "no package database: {info}"
    );
    let text = daemon.ok(&["image", "info", "local:busybox/1"])?;
    assert!(
        text.contains("SHA-256:") && text.contains("Origin:"),
        "{text}"
    );

    let started = Instant::now();
    daemon.ok(&["launch", "local:busybox/1", &name])?;
    eprintln!(
        "MEASURE launch of a fetched BusyBox image: {:.2}s",
        started.elapsed().as_secs_f64()
    );
    let info = daemon.json(&["info", &name])?;
    assert_eq!(info["state"], "running", "{info}");
    assert_eq!(info["image"], "local:busybox/1", "{info}");
    assert_eq!(info["privileged"], false, "{info}");

    // What configure did, and said it could not do.
    let ops = daemon.json(&["operation", "list"])?;
    let create = ops
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["kind"] == "instance_create" && o["target"] == name.as_str())
        .ok_or_else(|| format!("no create operation: {ops}"))?;
    let configure = create["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == "configure")
        .ok_or("a configure step")?;
    let message = configure["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("init busybox")
            && message.contains("network set from the host")
            && message.contains("no sshd"),
        "{message}"
    );

    let (code, hostname) = daemon.exec(&name, &["hostname"])?;
    assert_eq!((code, hostname.trim()), (0, name.as_str()));
    let (code, etc_hostname) = daemon.exec(&name, &["cat", "/etc/hostname"])?;
    assert_eq!((code, etc_hostname.trim()), (0, name.as_str()));
    // PID 1 is BusyBox init (which renames its argv to `init`).
    let (code, init) = daemon.exec(&name, &["readlink", "/proc/1/exe"])?;
    assert_eq!((code, init.trim()), (0, "/bin/busybox"));
    let (code, cmdline) = daemon.exec(&name, &["cat", "/proc/1/cmdline"])?;
    assert_eq!(code, 0);
    assert!(cmdline.starts_with("init"), "{cmdline:?}");
    let (code, interfaces) = daemon.exec(&name, &["cat", "/etc/network/interfaces"])?;
    assert_eq!(code, 0);
    assert!(
        interfaces.contains("iface eth0 inet manual"),
        "{interfaces}"
    );
    assert!(!interfaces.contains("dhcp"), "{interfaces}");
    // The host put the address on eth0, and the bridge answers.
    let ipv4 = info["network"]["ipv4"].as_str().ok_or("an IPv4 address")?;
    let (code, addresses) = daemon.exec(&name, &["ip", "-4", "addr", "show", "eth0"])?;
    assert_eq!(code, 0);
    assert!(addresses.contains(&format!("{ipv4}/")), "{addresses}");
    let gateway = daemon.net.gateway4();
    let (code, ping) = daemon.exec(&name, &["ping", "-c", "1", "-W", "3", gateway])?;
    assert_eq!(code, 0, "ping {gateway}: {ping}");

    // `[images] refresh_after = "1m"`: the image is fetched again in the background while
    // the instance made from it runs; the instance runs on with its own copy.
    let fetched_at = |daemon: &RealDaemon| -> Result<String, Error> {
        let info = daemon.json(&["image", "info", "local:busybox/1"])?;
        Ok(info["built_at"].as_str().unwrap_or_default().to_owned())
    };
    let before = fetched_at(daemon)?;
    let waiting = Instant::now();
    while fetched_at(daemon)? == before {
        if waiting.elapsed() > std::time::Duration::from_secs(180) {
            return Err(
                format!("the image was not refreshed within 3 minutes (fetched {before})").into(),
            );
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    eprintln!(
        "refreshed after {:.0}s: fetched {before}, now {}",
        waiting.elapsed().as_secs_f64(),
        fetched_at(daemon)?
    );
    assert_eq!(daemon.json(&["info", &name])?["state"], "running");
    let (code, hostname) = daemon.exec(&name, &["cat", "/etc/hostname"])?;
    assert_eq!((code, hostname.trim()), (0, name.as_str()));
    let ops = daemon.json(&["operation", "list"])?;
    let refresh = ops
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["kind"] == "image_build" && o["owner"] == "berthd")
        .ok_or_else(|| format!("no refresh operation by berthd: {ops}"))?;
    assert_eq!(refresh["target"], "local:busybox/1", "{refresh}");

    // BusyBox init shuts down on its own signal (SIGUSR2), not after the stop's timeout.
    let stopping = Instant::now();
    daemon.ok(&["stop", &name, "--timeout", "60"])?;
    let took = stopping.elapsed();
    eprintln!(
        "MEASURE clean stop of BusyBox init: {:.2}s",
        took.as_secs_f64()
    );
    assert_eq!(daemon.json(&["info", &name])?["state"], "stopped");
    assert!(
        took.as_secs() < 60,
        "the stop waited for its timeout: init ignored the signal"
    );
    // It starts again (network and files rewritten at start), then goes.
    daemon.ok(&["start", &name])?;
    let (code, hostname) = daemon.exec(&name, &["hostname"])?;
    assert_eq!((code, hostname.trim()), (0, name.as_str()));
    daemon.ok(&["delete", "--force", &name])?;
    let traces = real::host_traces(&name);
    assert!(traces.is_empty(), "left on the host: {traces:?}");
    Ok(())
}
