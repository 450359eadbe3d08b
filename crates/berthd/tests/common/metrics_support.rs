//! What the metrics and alert tests share: a login and a guest's
//! synthetic cgroup and veth counters under the daemon's metrics root.

#![allow(dead_code, reason = "each test file uses a different part")]

use axum::http::StatusCode;
use berth_metrics::cgroup::{CgroupUsage, synthetic};
use berth_metrics::net::{NetCounters, write_synthetic};
use serde_json::json;

use crate::common::SimDaemon;

pub async fn login(
    d: &SimDaemon,
    user: &str,
    pw: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let (status, body) = d
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            json!({"username": user, "password": pw}),
        )
        .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(body["access_token"].as_str().ok_or("token")?.to_owned())
}

/// Writes guest `name`'s synthetic cgroup and veth counters under the daemon's metrics root.
pub fn write_guest(
    root: &std::path::Path,
    name: &str,
    cpu_ms: u64,
    rx: u64,
) -> std::io::Result<()> {
    let layout = berth_cgroups::Layout::V2(root.join("cgroup"));
    synthetic::write(
        &layout,
        name,
        &CgroupUsage {
            cpu_ns: cpu_ms * 1_000_000,
            memory_bytes: 200 << 20,
            memory_cache_bytes: 50 << 20,
            memory_limit_bytes: Some(512 << 20),
            processes: 12,
        },
    )?;
    // The host end transmits what the guest receives.
    let counters = NetCounters {
        tx_bytes: rx,
        ..NetCounters::default()
    };
    write_synthetic(
        &root.join("net"),
        &berth_net::host_veth_name(name),
        &counters,
    )
}
