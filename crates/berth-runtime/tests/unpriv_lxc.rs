//! An unprivileged LXC guest for real (root, LXC 5, the cached debian/12 image), joining the
//! user and network namespaces berthd would make: its ids are its own range, systemd boots,
//! the host's kernel settings and log stay out of reach, its files keep guest ids on disk,
//! lxcfs shows its limits, and `systemctl reboot` inside comes back in the same range.

mod common;
#[path = "unpriv_tool/mod.rs"]
mod unpriv;

use std::path::PathBuf;

use berth_runtime::lxc::LxcRuntime;
use berth_runtime::{GuestSecurity, Runtime};

/// Removes the guest however the test ends.
struct Removed(PathBuf, berth_types::InstanceName);

impl Drop for Removed {
    fn drop(&mut self) {
        let (lxcpath, name) = (self.0.clone(), self.1.clone());
        let _ = std::thread::spawn(move || {
            let rt = LxcRuntime::new(lxcpath);
            if let Ok(tokio) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                && let Err(e) = tokio.block_on(rt.remove(&name))
            {
                eprintln!("cleanup of {name}: {e}");
            }
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_lxc_guest_boots_in_its_own_range() {
    require_host!();
    if let Err(e) = LxcRuntime::new("/run/berth-test/lxc".into()).check_usable() {
        eprintln!("skipped: {e}");
        return;
    }
    unpriv::check_read_only_proc();
    common::bounded(900, async {
        let name = common::unique_name();
        let work = unpriv::Workdir::new(name.as_str()).await;
        let lxcfs = unpriv::TestLxcfs::start(&work.path().join("lxcfs"));
        assert!(lxcfs.is_some(), "lxcfs did not start");
        let range = unpriv::test_range(1);
        let ns = unpriv::Namespaces::make(range, work.path());
        let security = GuestSecurity {
            idmap: Some(range),
            userns: Some(ns.userns.clone()),
            nesting: false,
            lxcfs: lxcfs.as_ref().map(|l| l.mount.clone()),
        };
        let mut spec = unpriv::spec(&work, &name, security);
        spec.netns = Some(ns.netns.clone());
        let lxcpath = work.path().join("lxc");
        let rt = LxcRuntime::new(lxcpath.clone());
        let _removed = Removed(lxcpath, name.clone());
        let t0 = std::time::Instant::now();
        let started = rt.start(&spec).await;
        if started.is_err() {
            let log = std::fs::read_to_string(spec.state_dir.join("lxc.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!(
                "lxc.log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        started.expect("start");
        eprintln!("lxc: started in {:?}", t0.elapsed());
        unpriv::check_unprivileged(&rt, &spec, "lxc").await;
        // The guest's root owns its network namespace: eth0 could be configured, ports bound.
        let (code, _, err) = unpriv::exec(
            &rt,
            &name,
            "ip addr add 10.99.0.1/32 dev lo && ip addr del 10.99.0.1/32 dev lo",
        )
        .await;
        assert_eq!(
            code, 0,
            "lxc: CAP_NET_ADMIN in its own network namespace: {err}"
        );
        // Without nesting the deny list keeps it from making user namespaces.
        let (code, _, err) = unpriv::exec(&rt, &name, "unshare -U true").await;
        assert_ne!(code, 0, "lxc: unshare -U without nesting");
        eprintln!("lxc: unshare -U: {err}");
        unpriv::check_lxcfs(&rt, &name, "lxc").await;
        let state = unpriv::reboot(&rt, &name, "lxc").await;
        eprintln!("lxc: after reboot {state:?}");
        assert!(
            state == "running" || state == "degraded",
            "after reboot: {state}"
        );
        let (_, map, _) =
            unpriv::exec(&rt, &name, "cat /proc/self/uid_map; ls -ln /etc/shadow").await;
        assert!(map.contains(&range.start().to_string()), "{map}");
        assert!(
            map.contains(" 0 42 "),
            "root-owned files after reboot: {map}"
        );
        unpriv::check_lxcfs(&rt, &name, "lxc after reboot").await;
        unpriv::check_terminal(&rt, &name, range, "lxc").await;
        unpriv::check_live_limit(&rt, &name, "lxc").await;
        unpriv::check_freeze(&rt, &name, "lxc").await;
        rt.stop(&name, std::time::Duration::from_secs(60))
            .await
            .expect("stop");
    })
    .await;
}

/// The same guest where the host's `/proc` is read-only (the CI machines').
#[test]
fn the_same_with_a_read_only_host_proc() {
    require_host!();
    unpriv::rerun_with_read_only_proc("an_unprivileged_lxc_guest_boots_in_its_own_range");
}
