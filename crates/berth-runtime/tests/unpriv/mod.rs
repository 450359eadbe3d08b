//! Harness for unprivileged real-guest tests on any local backend: an [`Unpriv`] guest owns a
//! copy of the cached debian/12 image, its own id range, its user and network namespaces
//! bound on files (as berthd makes them), optionally a private lxcfs, and removes all of it
//! when dropped, even on failure.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_isolation::{PrivateProc, UserNamespace, nsfile};
use berth_runtime::local::{Launcher, LocalConfig, LocalRuntime};
use berth_runtime::{ContainerSpec, ExecSpec, GuestSecurity, Runtime};
use berth_types::{IdRange, Limits};
use tokio::sync::Semaphore;

use crate::common;

/// At most two guests boot at once on the 2-core test machine.
static SLOTS: Semaphore = Semaphore::const_new(2);

/// A range of its own per test process and guest, below berthd's default pool
/// (`0x7000_0000`), so a system berthd's guests never share it.
pub fn unique_range() -> IdRange {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 4;
    let slot = (std::process::id() % 1000) * 4 + n;
    IdRange::new(0x6000_0000 + slot * 65_536).expect("aligned range")
}

/// lxcfs run for one test on a mount of its own; stopped and unmounted when dropped.
pub struct TestLxcfs {
    child: Child,
    pub mount: PathBuf,
}

impl TestLxcfs {
    /// `None` when lxcfs is not installed.
    pub fn start(dir: &Path) -> Option<TestLxcfs> {
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).expect("lxcfs mount point");
        let child = Command::new("lxcfs")
            .args(["-f", "--enable-cfs", "--enable-loadavg", "-p"])
            .arg(dir.join("lxcfs.pid"))
            .arg(&mount)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let lxcfs = TestLxcfs { child, mount };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read(lxcfs.mount.join("proc/meminfo")).is_err() {
            assert!(Instant::now() < deadline, "lxcfs did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(lxcfs)
    }
}

impl Drop for TestLxcfs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = rustix::mount::unmount(&self.mount, rustix::mount::UnmountFlags::DETACH);
    }
}

/// The guest's user and network namespaces on files; released when dropped.
struct Namespaces {
    userns: PathBuf,
    netns: PathBuf,
}

impl Namespaces {
    fn make(range: IdRange, dir: &Path) -> Namespaces {
        let proc = PrivateProc::new().expect("private procfs");
        let (userns, netns) = UserNamespace::with_network(range, &proc).expect("namespaces");
        let files = Namespaces {
            userns: dir.join("userns"),
            netns: dir.join("netns"),
        };
        nsfile::bind(userns.fd(), &files.userns).expect("bind userns");
        nsfile::bind(netns.as_fd(), &files.netns).expect("bind netns");
        files
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for f in [&self.userns, &self.netns] {
            if let Err(e) = nsfile::release(f) {
                eprintln!("release {}: {e}", f.display());
            }
        }
    }
}

/// One unprivileged test guest on `L`'s backend.
pub struct Unpriv<L: Launcher> {
    pub rt: LocalRuntime<L>,
    pub spec: ContainerSpec,
    pub range: IdRange,
    // Dropped in this order: the guest, its lxcfs, its namespaces, its files.
    pub lxcfs: Option<TestLxcfs>,
    ns: Option<Namespaces>,
    dir: Option<tempfile::TempDir>,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

impl<L: Launcher> Unpriv<L> {
    /// Copies the image, makes the guest's namespaces (and an lxcfs with `lxcfs`).
    pub async fn prepare(
        runtime: impl FnOnce(LocalConfig) -> LocalRuntime<L>,
        limits: Limits,
        lxcfs: bool,
    ) -> Unpriv<L> {
        let image = common::image_rootfs().await;
        let slot = SLOTS.acquire().await.expect("semaphore open");
        let name = common::unique_name();
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-{name}-"))
            .tempdir_in("/var/tmp")
            .expect("temp dir");
        let rootfs = dir.path().join("rootfs");
        let copy = tokio::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&image)
            .arg(&rootfs)
            .status()
            .await
            .expect("run cp");
        assert!(copy.success(), "copying the rootfs failed");
        std::fs::write(rootfs.join("etc/hostname"), format!("{name}\n")).expect("hostname");
        let range = unique_range();
        let ns = Namespaces::make(range, dir.path());
        let lxcfs = lxcfs
            .then(|| TestLxcfs::start(&dir.path().join("lxcfs")))
            .flatten();
        let spec = ContainerSpec {
            hostname: name.to_string(),
            name,
            rootfs,
            limits,
            state_dir: dir.path().join("bundle"),
            runtime: None,
            netns: Some(ns.netns.clone()),
            security: GuestSecurity {
                idmap: Some(range),
                userns: Some(ns.userns.clone()),
                nesting: false,
                lxcfs: lxcfs.as_ref().map(|l| l.mount.clone()),
            },
        };
        let config = common::config(&dir.path().join("runtime"));
        Unpriv {
            rt: runtime(config),
            spec,
            range,
            lxcfs,
            ns: Some(ns),
            dir: Some(dir),
            _slot: slot,
        }
    }

    pub fn config(&self) -> &LocalConfig {
        self.rt.config()
    }

    pub async fn start(&self) -> i32 {
        self.rt.start(&self.spec).await.expect("start")
    }

    /// Runs a shell script inside; returns (exit code, trimmed stdout + stderr).
    pub async fn sh(&self, script: &str) -> (i32, String) {
        let (code, out, err) = self.run(script).await;
        (code, format!("{out}\n{err}").trim().to_owned())
    }

    /// Runs a shell script inside; returns (exit code, trimmed stdout, trimmed stderr).
    pub async fn run(&self, script: &str) -> (i32, String, String) {
        let spec = ExecSpec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: Default::default(),
            cwd: None,
            stdin: None,
            timeout: Duration::from_secs(60),
            output_cap: 1 << 20,
        };
        let r = self.rt.exec(&self.spec.name, &spec).await.expect("exec");
        let out = String::from_utf8_lossy(&r.stdout).trim().to_owned();
        let err = String::from_utf8_lossy(&r.stderr).trim().to_owned();
        (r.exit_code, out, err)
    }

    /// Waits for `systemctl is-system-running --wait` to settle; returns its answer.
    pub async fn wait_booted(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let (_, state, _) = self.run("systemctl is-system-running --wait").await;
            if !matches!(state.as_str(), "offline" | "") || Instant::now() > deadline {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl<L: Launcher> Drop for Unpriv<L> {
    fn drop(&mut self) {
        let config = self.rt.config().clone();
        let name = self.spec.name.clone();
        // Drop may run inside a tokio runtime: remove from a thread with its own.
        let removed = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            // Any launcher removes a local guest alike (signals, cgroups, state files).
            let rt = berth_runtime::builtin::BuiltinRuntime::new(config);
            if let Err(e) = runtime.block_on(rt.remove(&name)) {
                eprintln!("cleanup of {name}: {e}");
            }
        })
        .join();
        if removed.is_err() {
            eprintln!("cleanup of {} panicked", self.spec.name);
        }
        drop(self.lxcfs.take());
        drop(self.ns.take());
        drop(self.dir.take());
    }
}
