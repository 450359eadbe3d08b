//! A real berthd process for end-to-end tests: its own data dir, runtime dir and socket, the
//! shared test image cache, the builtin runtime. Dropping it deletes every instance, stops the
//! daemon and removes everything it created (pool mount, loop device, directories, its
//! bridge, nftables table and netns).

#![allow(dead_code, reason = "each test file uses a different part")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub type Error = Box<dyn std::error::Error>;

/// Where tests keep built images between runs.
pub fn image_cache() -> PathBuf {
    std::env::var_os("BERTH_TEST_IMAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/cache/berth-test/images".into())
}

pub fn berthd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berthd"))
}

/// The CLI binary, built beside berthd by `cargo test --workspace`.
pub fn berth_bin() -> PathBuf {
    berthd_bin().with_file_name("berth")
}

pub struct RealDaemon {
    pub id: String,
    /// The berthd binary it runs: the tree's by default (the package test runs an installed one).
    pub binary: PathBuf,
    pub net: TestNet,
    pub data_dir: PathBuf,
    pub runtime_dir: PathBuf,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

/// The `[network]` a test daemon runs with.
pub struct TestNet {
    pub bridge: String,
    pub table: String,
    /// Gateway and subnet, `10.150.7.1/24`.
    pub ipv4: String,
    pub ipv6: String,
}

impl TestNet {
    /// The gateway address (the bridge's own).
    pub fn gateway4(&self) -> &str {
        self.ipv4.split('/').next().unwrap_or_default()
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static IMAGE_BUILD: Mutex<()> = Mutex::new(());

impl RealDaemon {
    /// Starts a daemon with `extra_env` (e.g. failpoints) and waits until it answers.
    pub fn start(extra_env: &[(&str, &str)]) -> Result<Self, Error> {
        Self::start_with(berthd_bin(), extra_env)
    }

    /// Starts `binary` (another build of berthd) as [`RealDaemon::start`] does.
    pub fn start_with(binary: PathBuf, extra_env: &[(&str, &str)]) -> Result<Self, Error> {
        if !berth_bin().exists() {
            return Err(format!(
                "the berth CLI is not built at {}: run `cargo build -p berth` first (scripts/test.sh does)",
                berth_bin().display()
            )
            .into());
        }
        let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let id = format!("bt{pid}x{counter}");
        // A bridge, table and subnets of its own, so runs and daemons never collide.
        let net = TestNet {
            bridge: id.clone(),
            table: format!("berth_{id}"),
            ipv4: format!("10.{}.{}.1/24", 150 + counter % 50, pid % 250),
            ipv6: format!("fd42:{:x}:{counter:x}::1/64", pid & 0xffff),
        };
        let data_dir = PathBuf::from("/var/lib/berth-test").join(&id);
        let runtime_dir = PathBuf::from("/run/berth-test").join(&id);
        std::fs::create_dir_all(&data_dir)?;
        std::fs::create_dir_all(&runtime_dir)?;
        let env = vec![
            ("BERTH_DATA_DIR".to_owned(), data_dir.display().to_string()),
            (
                "BERTH_RUNTIME_DIR".to_owned(),
                runtime_dir.display().to_string(),
            ),
            (
                "BERTH_SOCKET".to_owned(),
                runtime_dir.join("berth.sock").display().to_string(),
            ),
            ("BERTH_LISTEN".to_owned(), "[]".to_owned()),
            (
                "BERTH_IMAGES__CACHE_DIR".to_owned(),
                image_cache().display().to_string(),
            ),
            ("BERTH_STORAGE__POOL_SIZE".to_owned(), "20GiB".to_owned()),
            ("BERTH_NETWORK__BRIDGE".to_owned(), net.bridge.clone()),
            ("BERTH_NETWORK__TABLE".to_owned(), net.table.clone()),
            ("BERTH_NETWORK__IPV4".to_owned(), net.ipv4.clone()),
            ("BERTH_NETWORK__IPV6".to_owned(), net.ipv6.clone()),
            // The host's kernel limits stay as the tests found them.
            ("BERTH_HOST__RAISE_LIMITS".to_owned(), "false".to_owned()),
        ];
        let mut daemon = Self {
            id,
            binary,
            net,
            data_dir,
            runtime_dir,
            child: None,
            env,
        };
        daemon.spawn(extra_env)?;
        Ok(daemon)
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("berth.sock")
    }

    /// (Re)starts the berthd process.
    pub fn spawn(&mut self, extra_env: &[(&str, &str)]) -> Result<(), Error> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("berthd.log"))?;
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BERTH_LOG", "info,berthd=debug");
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.envs(extra_env.iter().copied());
        command
            .arg("--config")
            .arg("/dev/null")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.child = Some(command.spawn()?);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self
                .berth(&["system"])
                .map(|o| o.status.success())
                .unwrap_or(false)
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!("berthd exited with {status}; log:\n{}", self.log()).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("berthd did not answer; log:\n{}", self.log()).into())
    }

    /// SIGKILL the daemon, as a crash would.
    pub fn kill9(&mut self) -> Result<(), Error> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits for berthd to exit; how long it took, or an error (and SIGKILL)
    /// when it did not within `within`.
    pub fn terminate(&mut self, within: Duration) -> Result<Duration, Error> {
        let Some(mut child) = self.child.take() else {
            return Err("berthd is not running".into());
        };
        let started = Instant::now();
        Command::new("kill").arg(child.id().to_string()).status()?;
        while started.elapsed() < within {
            if child.try_wait()?.is_some() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("berthd did not exit within {within:?} of SIGTERM").into())
    }

    /// The berthd process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("berthd.log")).unwrap_or_default()
    }

    /// Runs the CLI against this daemon.
    pub fn berth(&self, args: &[&str]) -> Result<Output, Error> {
        Ok(Command::new(berth_bin())
            .arg("--socket")
            .arg(self.socket())
            .arg("--quiet")
            .args(args)
            .stdin(Stdio::null())
            .output()?)
    }

    /// Runs the CLI and fails with its stderr unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String, Error> {
        let out = self.berth(args)?;
        if !out.status.success() {
            return Err(format!(
                "berth {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// `berth … --format json`, parsed.
    pub fn json(&self, args: &[&str]) -> Result<Value, Error> {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        Ok(serde_json::from_str(&self.ok(&all)?)?)
    }

    /// Builds debian/12 into the shared cache once per test process (a no-op when cached).
    pub fn ensure_image(&self) -> Result<(), Error> {
        let _one_at_a_time = IMAGE_BUILD.lock().unwrap_or_else(|p| p.into_inner());
        self.ok(&["image", "build", "debian/12"]).map(|_| ())
    }

    /// The storage pool's directory, whichever driver made it (`volume`, `btrfs`, `dir`).
    pub fn pool_dir(&self) -> PathBuf {
        let storage = self.data_dir.join("storage");
        ["volume", "btrfs", "dir"]
            .iter()
            .map(|d| storage.join(d))
            .find(|p| p.join("instances").is_dir())
            .unwrap_or_else(|| storage.join("volume"))
    }

    /// A unique instance name for this daemon.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.id)
    }

    /// Runs a command in the instance; (exit code, stdout).
    /// Waits until systemd in `name` says `running` or `degraded` (its answer), at most
    /// `within`; the last answer in the error otherwise.
    pub fn wait_booted(&self, name: &str, within: Duration) -> Result<String, Error> {
        let deadline = Instant::now() + within;
        let mut state = String::new();
        while Instant::now() < deadline {
            let (_, out) = self.exec(name, &["systemctl", "is-system-running", "--wait"])?;
            state = out.trim().to_owned();
            if state == "running" || state == "degraded" {
                return Ok(state);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!("{name}: systemd did not finish booting: {state:?}").into())
    }

    pub fn exec(&self, name: &str, command: &[&str]) -> Result<(i32, String), Error> {
        let mut args = vec!["exec", name, "--"];
        args.extend(command);
        let out = self.berth(&args)?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    }
}

/// Host-side traces of an instance: cgroup dirs, mounts mentioning it, its shim.
pub fn host_traces(name: &str) -> Vec<String> {
    let mut traces = Vec::new();
    if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
        for controller in controllers.flatten() {
            let dir = controller.path().join("berth").join(name);
            if dir.exists() {
                traces.push(format!("cgroup {}", dir.display()));
            }
        }
    }
    if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
        for controller in controllers.flatten() {
            let dir = controller.path().join("berth-lxc").join(name);
            if dir.exists() {
                traces.push(format!("lxc monitor cgroup {}", dir.display()));
            }
        }
    }
    if Path::new("/sys/fs/cgroup/berth").join(name).exists() {
        traces.push("cgroup v2 dir".into());
    }
    if Path::new("/run/netns")
        .join(format!("berth-{name}"))
        .exists()
    {
        traces.push("netns".into());
    }
    let veth = berth_net::host_veth_name(name);
    if Path::new("/sys/class/net").join(&veth).exists() {
        traces.push(format!("veth {veth}"));
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    traces.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&format!("/{name}/")) || l.ends_with(&format!("/{name}")))
            .map(|l| format!("mount {l}")),
    );
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for proc in procs.flatten() {
            let cmdline = std::fs::read(proc.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let tool = [" shim ", "lxc-start", "systemd-nspawn", "crun", "runc"]
                .iter()
                .any(|t| text.contains(t));
            if tool && text.contains(name) {
                traces.push(format!(
                    "process {}: {text}",
                    proc.file_name().to_string_lossy()
                ));
            }
        }
    }
    traces
}

impl Drop for RealDaemon {
    fn drop(&mut self) {
        if self.child.is_some()
            && let Ok(list) = self.json(&["list"])
        {
            for name in list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["name"].as_str())
            {
                let _ = self.berth(&["delete", "--force", name]);
            }
        }
        if let Some(mut child) = self.child.take() {
            // A plain SIGTERM through kill(1) so berthd shuts down cleanly.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // berthd leaves its bridge, table and uplink up on purpose (guests outlive it); tests
        // don't.
        if let Ok(pid) = std::fs::read_to_string(self.runtime_dir.join("uplink-wg.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}-wg", self.net.bridge)])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.net.table])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.net.bridge])
            .stderr(Stdio::null())
            .status();
        if let Ok(entries) = std::fs::read_dir("/run/netns") {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.starts_with(&format!("berth-{}-", self.id)) {
                    let _ = Command::new("ip").args(["netns", "del", &file]).status();
                }
            }
        }
        // lxcfs and guests' user namespaces outlive berthd on purpose, too.
        let lxcfs = berth_isolation::lxcfs::Lxcfs::new(self.runtime_dir.join("lxcfs"));
        berth_isolation::lxcfs::supervise::stop(&lxcfs);
        unmount_below(&self.runtime_dir);
        unmount_below(&self.data_dir);
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

/// Unmounts everything under `dir` (deepest first) and detaches loop devices backed by files in it.
pub fn unmount_below(dir: &Path) {
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Command::new("umount").arg("-l").arg(&point).status();
    }
    if let Ok(out) = Command::new("losetup")
        .args(["-n", "-O", "NAME,BACK-FILE", "-l"])
        .output()
    {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut cols = line.split_whitespace();
            if let (Some(dev), Some(file)) = (cols.next(), cols.next())
                && file.starts_with(&prefix)
            {
                let _ = Command::new("losetup").arg("-d").arg(dev).status();
            }
        }
    }
}
