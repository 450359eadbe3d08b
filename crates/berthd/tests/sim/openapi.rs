//! The checked-in OpenAPI description must match the one generated from the code.
//! Regenerate with `BERTH_UPDATE_OPENAPI=1 cargo test -p berthd --test sim openapi`.

use std::path::PathBuf;

#[test]
fn checked_in_openapi_is_current() -> Result<(), Box<dyn std::error::Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/berth.json");
    let generated = berthd::api::openapi::json() + "\n";
    if std::env::var_os("BERTH_UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        std::fs::write(&path, &generated)?;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi/berth.json is stale: run BERTH_UPDATE_OPENAPI=1 cargo test -p berthd --test sim openapi and commit it"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated)?;
    for path in [
        "/api/v1/instances",
        "/api/v1/instances/{name}/exec",
        "/api/v1/operations/{id}/wait",
        "/api/v1/images",
        "/api/v1/system",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the description"
        );
    }
    Ok(())
}

/// Clients (the web UI) validate with the description's patterns and bounds: they must agree
/// with the validators the daemon runs.
#[test]
fn schema_rules_agree_with_the_validators() -> Result<(), Box<dyn std::error::Error>> {
    use berth_types::credentials::{MAX_PASSWORD, MIN_PASSWORD, validate_password};
    use berth_types::limits::{MIN_DISK, MIN_MEMORY, MIN_PROCESSES};

    let doc: serde_json::Value = serde_json::from_str(&berthd::api::openapi::json())?;
    let schemas = &doc["components"]["schemas"];
    let name = &schemas["CreateInstanceRequest"]["properties"]["name"];
    let snapshot = &schemas["CreateSnapshotRequest"]["properties"]["name"];
    assert_eq!(snapshot["pattern"], name["pattern"]);
    assert_eq!(snapshot["maxLength"], name["maxLength"]);
    let pattern = regex::Regex::new(name["pattern"].as_str().ok_or("no name pattern")?)?;
    let max = name["maxLength"].as_u64().ok_or("no maxLength")? as usize;
    let long = "a".repeat(63);
    let too_long = "a".repeat(64);
    for sample in [
        "web1",
        "a",
        "0a",
        "a0",
        "brave-otter-42",
        "1-2",
        "a--b",
        &long,
        &too_long,
        "",
        "-a",
        "a-",
        "-",
        "1234",
        "7",
        "Web1",
        "a_b",
        "foo.bar",
        "../x",
        "a b",
        "é",
    ] {
        let by_schema = pattern.is_match(sample) && sample.chars().count() <= max;
        let by_daemon = berth_types::InstanceName::parse(sample).is_ok();
        assert_eq!(by_schema, by_daemon, "name {sample:?}");
    }
    let password = &schemas["PasswordRequest"]["properties"]["password"];
    assert_eq!(password["minLength"], MIN_PASSWORD);
    assert_eq!(password["maxLength"], MAX_PASSWORD);
    let printable = regex::Regex::new(password["pattern"].as_str().ok_or("no pattern")?)?;
    for sample in [
        "Tide-Turns-At-Nine-41",
        "tab\there!",
        "new\nline1",
        "ünïcødé pass",
    ] {
        assert_eq!(
            printable.is_match(sample),
            validate_password(sample, "password").is_ok(),
            "password {sample:?}"
        );
    }
    let limits = &schemas["Limits"]["properties"];
    assert_eq!(limits["memory"]["minimum"], MIN_MEMORY);
    assert_eq!(limits["disk"]["minimum"], MIN_DISK);
    assert_eq!(limits["processes"]["minimum"], MIN_PROCESSES);
    for (cpu, ok) in [
        (0.01, true),
        (0.009, false),
        (1024.0, true),
        (1024.5, false),
    ] {
        let limits = berth_types::Limits {
            cpu: Some(cpu),
            ..Default::default()
        };
        assert_eq!(limits.validate().is_ok(), ok, "cpu {cpu}");
        let schema = &schemas["Limits"]["properties"]["cpu"];
        let by_schema = schema["minimum"].as_f64().is_some_and(|m| cpu >= m)
            && schema["maximum"].as_f64().is_some_and(|m| cpu <= m);
        assert_eq!(by_schema, ok, "cpu {cpu} by the schema");
    }
    let intervals = &schemas["MetricsSettings"]["properties"]["interval_seconds"]["enum"];
    for seconds in 0..=61u32 {
        let mut settings = berth_types::settings::Settings::default();
        settings.metrics.interval_seconds = seconds;
        let listed = intervals
            .as_array()
            .is_some_and(|l| l.contains(&seconds.into()));
        assert_eq!(settings.validate().is_ok(), listed, "interval {seconds}");
    }
    Ok(())
}
