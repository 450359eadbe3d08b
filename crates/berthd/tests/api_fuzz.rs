//! The API fuzzed from its own description: schemathesis (in the venv scripts/setup.sh makes)
//! against a real berthd process on the sim backend, as an ordinary user and as an admin, each
//! with an API token, on every operation except those that would end the fuzzer's own session
//! (those get a run of their own without stateful links), bounded in time. It asserts no server
//! error, no answer off the description (status, content type, headers, body schema; 405 with
//! `Allow` for undeclared methods; 401 without credentials), and berthd alive afterwards.
//!
//! berthd and the fuzzer share a network namespace of their own with only loopback: whatever
//! the fuzzer makes berthd do (bridges, nftables, IPv6 uplinks, alert webhooks) stays in it and
//! goes with it. Run as root (CI is). `BERTH_FUZZ_SECONDS` (per caller, default 45) and
//! `BERTH_FUZZ_SEED` (default 1) tune a run; the failures it found are kept as regression
//! tests in `tests/sim/fuzz_seeds.rs`.

#[path = "common/pytools.rs"]
mod pytools;
#[path = "common/real.rs"]
mod real;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use real::{Error, berthd_bin};

const ADMIN_PASSWORD: &str = "Harbour-Master-77";
const PORT: u16 = 8440;

/// A network namespace with berthd in it; dropping it stops berthd (and a WireGuard uplink
/// helper it may have started) and deletes the namespace and the data.
struct Sandbox {
    netns: String,
    dir: tempfile::TempDir,
    berthd: Option<Child>,
}

impl Sandbox {
    fn start() -> Result<Self, Error> {
        let netns = format!("bfz{}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &netns]))?;
        let sandbox = Self {
            netns,
            dir: tempfile::tempdir()?,
            berthd: None,
        };
        run(Command::new("ip").args(["-n", &sandbox.netns, "link", "set", "lo", "up"]))?;
        Ok(sandbox)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `ip netns exec <netns> <program>`.
    fn exec(&self, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns]).arg(program);
        command
    }

    fn spawn_berthd(&mut self) -> Result<(), Error> {
        let dir = |name: &str| self.path(name).display().to_string();
        let log = std::fs::File::create(self.path("berthd.log"))?;
        let mut command = self.exec(&berthd_bin());
        command
            .arg("--config")
            .arg("/dev/null")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BERTH_LOG", "info")
            .env("BERTH_DATA_DIR", dir("data"))
            .env("BERTH_RUNTIME_DIR", dir("run"))
            .env("BERTH_SOCKET", dir("run/berth.sock"))
            .env("BERTH_LISTEN", format!("[\"127.0.0.1:{PORT}\"]"))
            // The host's kernel limits stay as the tests found them.
            .env("BERTH_HOST__RAISE_LIMITS", "false")
            .env("BERTH_DEFAULT_BACKEND", "sim")
            .env("BERTH_TESTING__SIM_BACKEND", "true")
            .env("BERTH_SECURITY__LXCFS", "false")
            .env("BERTH_STORAGE__DRIVER", "dir")
            .env("BERTH_AUTH__INITIAL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("BERTH_IMAGES__CACHE_DIR", dir("images"))
            // An image build the fuzzer starts fails at once, with nothing fetched.
            .env("BERTH_IMAGES__DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.berthd = Some(command.spawn()?);
        Ok(())
    }

    fn alive(&mut self) -> bool {
        self.berthd
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.path("berthd.log")).unwrap_or_default();
        tail(&text, 8000)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(mut child) = self.berthd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(pid) = std::fs::read_to_string(self.path("run/uplink-wg.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn run(command: &mut Command) -> Result<(), Error> {
    let out = command.output()?;
    if !out.status.success() {
        return Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}

fn tail(text: &str, max: usize) -> String {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_description() -> Result<(), Error> {
    if !nix::unistd::geteuid().is_root() {
        return Err("run as root: the fuzzed berthd gets a network namespace of its own".into());
    }
    let st = pytools::python().with_file_name("st");
    if !st.exists() {
        return Err(format!(
            "{} is missing: run scripts/setup.sh (it installs schemathesis in the test venv)",
            st.display()
        )
        .into());
    }
    let seconds = std::env::var("BERTH_FUZZ_SECONDS").unwrap_or_else(|_| "45".into());
    let seed = std::env::var("BERTH_FUZZ_SEED").unwrap_or_else(|_| "1".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/fuzz_api.py");
    let mut sandbox = Sandbox::start()?;
    sandbox.spawn_berthd()?;
    let started = Instant::now();
    let out = sandbox
        .exec(&pytools::python())
        .arg(&script)
        .arg(format!("http://127.0.0.1:{PORT}"))
        .arg(ADMIN_PASSWORD)
        .arg(sandbox.path("report"))
        .args([&seconds, &seed])
        // schemathesis keeps a cache where it runs: in the sandbox, not the source tree.
        .current_dir(sandbox.dir.path())
        .stdin(Stdio::null())
        .output()?;
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("==>") || l.contains(" generated, "))
        .collect();
    eprintln!(
        "fuzzing took {:.0} s (seed {seed}, {seconds} s per caller):\n{}",
        started.elapsed().as_secs_f64(),
        summary.join("\n")
    );
    let alive = sandbox.alive();
    if !out.status.success() || !alive {
        return Err(format!(
            "the fuzzer failed (berthd alive: {alive}):\n{}\n--- berthd log (tail) ---\n{}",
            tail(&report, 30000),
            sandbox.log()
        )
        .into());
    }
    Ok(())
}
