//! An unprivileged nspawn guest for real (root, systemd-nspawn, the cached debian/12 image):
//! its ids are its own range (exec lands in its user namespace), systemd boots, the host's
//! kernel settings and log stay out of reach, its files keep guest ids on disk, lxcfs shows
//! its limits, and `systemctl reboot` inside comes back in the same range.

mod common;
#[path = "unpriv_tool/mod.rs"]
mod unpriv;

use berth_runtime::nspawn::NspawnRuntime;
use berth_runtime::{GuestSecurity, Runtime};

/// Removes the guest however the test ends.
struct Removed<'a>(&'a NspawnRuntime, berth_types::InstanceName);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let (config, name) = (self.0.config().clone(), self.1.clone());
        let _ = std::thread::spawn(move || {
            let rt = NspawnRuntime::new(config);
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
async fn an_unprivileged_nspawn_guest_boots_in_its_own_range() {
    require_host!();
    let rt0 = NspawnRuntime::new(common::config(std::path::Path::new("/run/berth-test")));
    if let Err(e) = rt0.check_usable() {
        eprintln!("skipped: {e}");
        return;
    }
    unpriv::check_read_only_proc();
    common::bounded(900, async {
        let name = common::unique_name();
        let work = unpriv::Workdir::new(name.as_str()).await;
        let lxcfs = unpriv::TestLxcfs::start(&work.path().join("lxcfs"));
        assert!(lxcfs.is_some(), "lxcfs did not start");
        let security = GuestSecurity {
            idmap: Some(unpriv::test_range(0)),
            userns: None,
            nesting: false,
            lxcfs: lxcfs.as_ref().map(|l| l.mount.clone()),
        };
        let bridge = unpriv::TestBridge::make(name.as_str());
        bridge.configure_guest(&work.rootfs);
        let mut spec = unpriv::spec(&work, &name, security);
        // berthd's netns: nspawn makes its own, and takes the veth's name and bridge.
        spec.netns = Some(work.path().join("netns-unused"));
        let rt = NspawnRuntime::new(common::config(&work.path().join("runtime")));
        let _removed = Removed(&rt, name.clone());
        let t0 = std::time::Instant::now();
        rt.start(&spec).await.expect("start");
        eprintln!("nspawn: started in {:?}", t0.elapsed());
        unpriv::check_unprivileged(&rt, &spec, "nspawn").await;
        let ping = format!("ping -c1 -W10 {}.1", bridge.subnet);
        let (code, out, err) = unpriv::exec(&rt, &name, &ping).await;
        assert_eq!(code, 0, "nspawn: eth0 reaches the bridge: {out} {err}");
        unpriv::check_lxcfs(&rt, &name, "nspawn").await;
        let state = unpriv::reboot(&rt, &name, "nspawn").await;
        eprintln!("nspawn: after reboot {state:?}");
        assert!(
            state == "running" || state == "degraded",
            "after reboot: {state}"
        );
        let (_, map, _) = unpriv::exec(&rt, &name, "cat /proc/self/uid_map").await;
        assert!(
            map.contains(&unpriv::test_range(0).start().to_string()),
            "{map}"
        );
        let (code, out, err) = unpriv::exec(&rt, &name, &ping).await;
        assert_eq!(code, 0, "nspawn: eth0 re-plugged after reboot: {out} {err}");
        unpriv::check_lxcfs(&rt, &name, "nspawn after reboot").await;
        unpriv::check_terminal(&rt, &name, unpriv::test_range(0), "nspawn").await;
        unpriv::check_live_limit(&rt, &name, "nspawn").await;
        unpriv::check_freeze(&rt, &name, "nspawn").await;
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
    unpriv::rerun_with_read_only_proc("an_unprivileged_nspawn_guest_boots_in_its_own_range");
}
