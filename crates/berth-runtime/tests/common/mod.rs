//! Harness for the builtin runtime's real-container tests: a `Guest` owns a copy of the real
//! debian/12 image (built once into the shared test cache by berth-image) and its runtime state,
//! and removes both when dropped, even on failure.

#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::local::LocalConfig;
use berth_runtime::{ContainerSpec, ExecResult, ExecSpec, Runtime};
use berth_types::{InstanceName, Limits};
use tokio::sync::Semaphore;

/// Where tests keep built images between runs.
pub fn image_cache() -> PathBuf {
    std::env::var_os("BERTH_TEST_IMAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/cache/berth-test/images".into())
}

/// The cached debian/12 root filesystem the tests copy (never booted in place); built on first
/// use and kept between runs.
pub async fn image_rootfs() -> PathBuf {
    static ROOTFS: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    ROOTFS
        .get_or_init(|| async {
            let image = berth_types::ImageRef::parse("debian/12").expect("known image");
            let arch = berth_types::Arch::host().expect("amd64 or arm64 host");
            let cached = berth_image::ensure_built(
                &image_cache(),
                image,
                arch,
                &berth_image::Mirrors::default(),
                |_| {},
            )
            .await
            .expect("building the debian/12 test image");
            cached.rootfs
        })
        .await
        .clone()
}

/// At most two guests boot at once on the 2-core test machine.
static SLOTS: Semaphore = Semaphore::const_new(2);

/// Why these tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    BuiltinRuntime::new(config(Path::new("/run/berth-test")))
        .check_usable()
        .err()
}

/// Returns early from a test (with a note) where real guests cannot run.
#[macro_export]
macro_rules! require_host {
    () => {
        if let Some(reason) = common::skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

pub fn config(state_root: &Path) -> LocalConfig {
    LocalConfig {
        state_root: state_root.to_owned(),
        shim_command: vec![env!("CARGO_BIN_EXE_berth-shim").into()],
    }
}

/// `t-<pid>-<n>`: unique per test process and call.
pub fn unique_name() -> InstanceName {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    InstanceName::parse(&format!("t-{}-{n}", std::process::id())).expect("valid name")
}

/// One test guest: its rootfs copy, state root and runtime.
pub struct Guest {
    pub rt: BuiltinRuntime,
    pub spec: ContainerSpec,
    dir: Option<tempfile::TempDir>,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

impl Guest {
    /// Copies the image's rootfs and names the guest (the image builder's job in berthd).
    pub async fn prepare(limits: Limits) -> Guest {
        let image = image_rootfs().await;
        let slot = SLOTS.acquire().await.expect("semaphore open");
        let name = unique_name();
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
        let state_root = dir.path().join("runtime");
        let spec = ContainerSpec {
            name: name.clone(),
            rootfs,
            hostname: name.to_string(),
            limits,
            state_dir: dir.path().join("bundle"),
            runtime: None,
            netns: None,
            security: Default::default(),
        };
        Guest {
            rt: BuiltinRuntime::new(config(&state_root)),
            spec,
            dir: Some(dir),
            _slot: slot,
        }
    }

    pub fn name(&self) -> &InstanceName {
        &self.spec.name
    }

    pub fn state_root(&self) -> PathBuf {
        self.rt.config().state_root.clone()
    }

    pub async fn start(&self) -> i32 {
        self.rt.start(&self.spec).await.expect("start")
    }

    pub async fn exec(&self, argv: &[&str], stdin: Option<&[u8]>) -> ExecResult {
        let spec = ExecSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: Default::default(),
            cwd: None,
            stdin: stdin.map(<[u8]>::to_vec),
            timeout: Duration::from_secs(60),
            output_cap: 1 << 20,
        };
        self.rt.exec(self.name(), &spec).await.expect("exec")
    }

    /// Runs a shell script inside; returns (exit code, trimmed stdout).
    pub async fn sh(&self, script: &str) -> (i32, String) {
        let r = self.exec(&["sh", "-c", script], None).await;
        let out = String::from_utf8_lossy(&r.stdout).trim().to_owned();
        (r.exit_code, out)
    }

    /// Waits for `systemctl is-system-running --wait` to settle; returns its answer.
    pub async fn wait_booted(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let r = self
                .exec(&["systemctl", "is-system-running", "--wait"], None)
                .await;
            let state = String::from_utf8_lossy(&r.stdout).trim().to_owned();
            // "offline" (or nothing): systemd's bus is not up yet.
            if !matches!(state.as_str(), "offline" | "") || Instant::now() > deadline {
                return state;
            }
            eprintln!(
                "{}: not up yet ({state:?}, exit {}, {:?})",
                self.name(),
                r.exit_code,
                String::from_utf8_lossy(&r.stderr).trim()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The guest's cgroup directories that exist on the host now.
    pub fn host_cgroups(&self) -> Vec<PathBuf> {
        host_cgroups(self.name().as_str())
    }
}

pub fn host_cgroups(name: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("berth").join(name))
        .filter(|p| p.exists())
        .collect();
    let v2 = Path::new("/sys/fs/cgroup/berth").join(name);
    if v2.exists() {
        found.push(v2);
    }
    found
}

impl Drop for Guest {
    fn drop(&mut self) {
        let rt = BuiltinRuntime::new(self.rt.config().clone());
        let name = self.spec.name.clone();
        // Drop may run inside a tokio runtime: remove from a thread with its own.
        let removed = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if let Err(e) = runtime.block_on(rt.remove(&name)) {
                eprintln!("cleanup of {name}: {e}");
            }
        })
        .join();
        if removed.is_err() {
            eprintln!("cleanup of {} panicked", self.spec.name);
        }
        drop(self.dir.take());
    }
}

/// Runs a test body with a hard time limit.
pub async fn bounded<F: std::future::Future<Output = ()>>(secs: u64, body: F) {
    if tokio::time::timeout(Duration::from_secs(secs), body)
        .await
        .is_err()
    {
        panic!("test exceeded {secs} s");
    }
}

/// Reads a cgroup file of the guest from the host, in whichever hierarchy has it.
pub fn host_cgroup_file(name: &str, file: &str) -> Option<String> {
    host_cgroups(name)
        .into_iter()
        .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
        .map(|s| s.trim().to_owned())
}
