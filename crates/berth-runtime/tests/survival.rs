//! A guest outlives the process that started it (berthd killed with -9): the test runs `start`
//! in a child process (this test binary again, as the ignored `starter_process`), kills it and
//! checks the guest still runs and can be controlled by a fresh runtime.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::{ContainerSpec, Runtime, RuntimeStatus};
use berth_types::{InstanceName, Limits};
use common::{Guest, bounded};
use tokio::io::{AsyncBufReadExt, BufReader};

const STARTER_ENV: &str = "BERTH_TEST_STARTER";

/// Run only as the child of the test below: starts the guest described in the environment,
/// reports its pid, then waits to be killed.
#[test]
#[ignore = "helper process of guest_survives_the_death_of_its_starter"]
fn starter_process() {
    let Ok(args) = std::env::var(STARTER_ENV) else {
        return;
    };
    let parts: Vec<&str> = args.split('\n').collect();
    let [name, rootfs, state_root, state_dir] = parts[..] else {
        panic!("bad {STARTER_ENV}");
    };
    let name = InstanceName::parse(name).expect("name");
    let spec = ContainerSpec {
        hostname: name.to_string(),
        name,
        rootfs: rootfs.into(),
        limits: Limits::default(),
        state_dir: state_dir.into(),
        runtime: None,
        netns: None,
        security: Default::default(),
    };
    let rt = BuiltinRuntime::new(common::config(&PathBuf::from(state_root)));
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let pid = runtime.block_on(rt.start(&spec)).expect("start");
    println!("STARTED {pid}");
    std::thread::sleep(Duration::from_secs(600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_survives_the_death_of_its_starter() {
    require_host!();
    bounded(180, async {
        let g = Guest::prepare(Limits::default()).await;
        let env = [
            g.name().to_string(),
            g.spec.rootfs.display().to_string(),
            g.state_root().display().to_string(),
            g.spec.state_dir.display().to_string(),
        ]
        .join("\n");
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("test exe"))
            .args([
                "starter_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(STARTER_ENV, env)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn starter");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut pid = None;
        while let Ok(Some(line)) = lines.next_line().await {
            // libtest may print "test starter_process ... " on the same line.
            if let Some((_, p)) = line.split_once("STARTED ") {
                pid = p.trim().parse::<i32>().ok();
                break;
            }
        }
        let pid = pid.expect("the starter reported no pid");
        child.start_kill().expect("kill -9 the starter");
        child.wait().await.expect("reap the starter");

        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            g.rt.status(g.name()).await.expect("status"),
            RuntimeStatus::Running { pid }
        );
        let state = g.wait_booted(Duration::from_secs(90)).await;
        assert!(matches!(state.as_str(), "running" | "degraded"), "{state}");
        g.rt.stop(g.name(), Duration::from_secs(30))
            .await
            .expect("stop");
        assert_eq!(
            g.rt.status(g.name()).await.expect("status"),
            RuntimeStatus::Stopped
        );
        assert!(g.host_cgroups().is_empty());
    })
    .await;
}
