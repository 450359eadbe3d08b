//! Host id ranges on the sim backend: one range per instance, never shared, kept across a
//! daemon restart, released on delete; a pool full of ranges is refused naming the key; a
//! pool that overlaps the host's own ids stops berthd from starting, naming the keys.

use crate::common;

use berth_types::InstanceName;
use common::{SimDaemon, TestResult};
use serde_json::json;

#[tokio::test]
async fn ranges_are_unique_kept_and_released() -> TestResult {
    let two_guests = [("BERTH_SECURITY__IDMAP_SIZE", "131072")];
    let mut d = SimDaemon::start_with_env(&[], &two_guests).await?;
    for name in ["a1", "a2"] {
        d.launch(name).await?;
    }
    // A privileged instance takes no range (and the pool has none left).
    let (status, body) = d
        .call(
            "POST",
            "/api/v1/instances",
            json!({"name": "a3", "image": "debian/12", "privileged": true}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    let name = |n: &str| InstanceName::parse(n).expect("name");
    let a1 = d.app.allocate_idmap(&name("a1"))?;
    let a2 = d.app.allocate_idmap(&name("a2"))?;
    assert_ne!(a1, a2);
    assert_eq!(a1.start(), 0x7000_0000);
    let full = d.app.allocate_idmap(&name("a3")).expect_err("pool of two");
    assert!(full.to_string().contains("security.idmap_size"), "{full}");

    d.restart().await?;
    assert_eq!(
        d.app.idmap_of(&name("a1"))?,
        Some(a1),
        "kept across a restart"
    );
    assert_eq!(
        d.app.allocate_idmap(&name("a2"))?,
        a2,
        "allocation is idempotent"
    );

    let (status, body) = d
        .call("DELETE", "/api/v1/instances/a1", json!({"force": true}))
        .await?;
    assert_eq!(status, 202, "{body}");
    d.wait_success(&body).await?;
    assert_eq!(
        d.app.idmap_of(&name("a1"))?,
        None,
        "released with the instance"
    );
    assert_eq!(
        d.app.allocate_idmap(&name("a3"))?,
        a1,
        "and handed out again"
    );
    Ok(())
}

#[tokio::test]
async fn a_pool_overlapping_host_ids_stops_berthd_naming_the_keys() -> TestResult {
    let etc = tempfile::tempdir()?;
    std::fs::write(etc.path().join("subuid"), "lxd:1879048192:65536\n")?;
    let env = [("BERTH_TESTING__ETC_DIR", etc.path().display().to_string())];
    let refused = SimDaemon::start_with(&[], &env).await;
    let err = refused
        .err()
        .ok_or("berthd started on an overlapping pool")?;
    let text = err.to_string();
    assert!(
        text.contains("security.idmap_base/security.idmap_size"),
        "{text}"
    );
    assert!(text.contains("lxd:1879048192:65536"), "{text}");
    // Moving the pool is the fix.
    let mut moved = env.to_vec();
    moved.push(("BERTH_SECURITY__IDMAP_BASE", "1879179264".into()));
    SimDaemon::start_with(&[], &moved).await?;
    Ok(())
}
