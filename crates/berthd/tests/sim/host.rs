//! The admin's host view in `GET /system`: real readings of this machine (uptime, CPU,
//! kernel, load, memory, the pool's file system), and none of it for a user.

use crate::common::{SimDaemon, TestResult};
use axum::http::StatusCode;
use serde_json::Value;

fn meminfo_kib(key: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn first_f64(path: &str) -> Option<f64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test]
async fn system_host_view_is_the_real_host_and_for_admins_only() -> TestResult {
    let d = SimDaemon::start(&[]).await?;
    let (status, info) = d.call("GET", "/api/v1/system", Value::Null).await?;
    assert_eq!(status, StatusCode::OK, "{info}");
    let host = &info["host"];
    assert!(host.is_object(), "an admin gets the host view: {info}");

    let cpus = std::thread::available_parallelism()?.get() as u64;
    assert_eq!(host["cpus"].as_u64(), Some(cpus), "{host}");
    let uname = nix::sys::utsname::uname()?;
    assert_eq!(
        host["kernel"].as_str(),
        Some(uname.release().to_string_lossy().as_ref()),
        "{host}"
    );
    let model = host["cpu_model"].as_str().unwrap_or_default();
    assert!(!model.is_empty(), "{host}");
    let total = meminfo_kib("MemTotal:").ok_or("MemTotal")? * 1024;
    assert_eq!(host["memory_total"].as_u64(), Some(total), "{host}");
    let available = host["memory_available"]
        .as_u64()
        .ok_or("memory_available")?;
    assert!(available > 0 && available <= total, "{host}");
    let uptime = first_f64("/proc/uptime").ok_or("uptime")?;
    let said = host["uptime_seconds"].as_f64().ok_or("uptime_seconds")?;
    assert!(
        said > 0.0 && (uptime - said).abs() < 60.0,
        "{uptime} vs {host}"
    );
    let load = first_f64("/proc/loadavg").ok_or("loadavg")?;
    let one = host["load_average"]["one"]
        .as_f64()
        .ok_or("load_average.one")?;
    assert!(one >= 0.0 && (load - one).abs() < 4.0, "{load} vs {host}");
    for key in ["five", "fifteen"] {
        assert!(host["load_average"][key].as_f64().is_some(), "{host}");
    }
    let pools = host["pools"].as_array().ok_or("pools")?;
    assert_eq!(pools.len(), 1, "{host}");
    let path = pools[0]["path"].as_str().ok_or("path")?;
    assert_eq!(Some(path), info["storage_path"].as_str(), "{info}");
    let stat = nix::sys::statvfs::statvfs(path)?;
    let size = stat.blocks() * stat.fragment_size();
    assert_eq!(pools[0]["size"].as_u64(), Some(size), "{host}");
    let used = pools[0]["used"].as_u64().ok_or("used")?;
    assert!(used > 0 && used <= size, "{host}");

    // A user keeps what they saw before, and gets no host view.
    let alice = d.user("alice-host", "Sails-Far-Northward-31").await?;
    let (status, mine) = d
        .call_as(Some(&alice), "GET", "/api/v1/system", Value::Null)
        .await?;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert!(
        mine.get("host").is_none(),
        "a user got the host view: {mine}"
    );
    assert!(!mine.to_string().contains("load_average"), "{mine}");
    assert_eq!(mine["cpus"].as_u64(), Some(cpus), "{mine}");
    Ok(())
}
