//! The builtin runtime joins the network namespace the networking layer prepared (root and
//! the probe rootfs needed; skipped with a note otherwise).

mod common;

use berth_types::Limits;
use common::{Guest, bounded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_a_prepared_network_namespace() {
    require_host!();
    bounded(120, async {
        let mut g = Guest::prepare(Limits::default()).await;
        let netns = NetNs::create(&format!("berth-{}", g.name()));
        g.spec.netns = Some(netns.path());
        g.start().await;
        let (code, links) = g.sh("cat /proc/net/dev").await;
        assert_eq!(code, 0);
        assert!(
            links.contains("berthtest0"),
            "the guest's interfaces: {links}"
        );
        let inode =
            std::fs::metadata(netns.path()).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        let (_, inside) = g.sh("readlink /proc/1/ns/net").await;
        assert_eq!(inside, format!("net:[{}]", inode.expect("netns inode")));
    })
    .await;
}

/// A named network namespace with a veth pair in it, deleted on drop.
struct NetNs(String);

impl NetNs {
    fn create(name: &str) -> NetNs {
        let ip = |args: &[&str]| {
            let ok = std::process::Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?} failed");
        };
        ip(&["netns", "add", name]);
        let ns = NetNs(name.to_owned());
        ip(&[
            "-n",
            name,
            "link",
            "add",
            "berthtest0",
            "type",
            "veth",
            "peer",
            "berthtest1",
        ]);
        ns
    }

    fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/run/netns").join(&self.0)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}
