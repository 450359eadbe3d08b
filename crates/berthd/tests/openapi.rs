//! The checked-in OpenAPI description must match the one generated from the code.
//! Regenerate with `BERTH_UPDATE_OPENAPI=1 cargo test -p berthd --test openapi`.

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
        "openapi/berth.json is stale: run BERTH_UPDATE_OPENAPI=1 cargo test -p berthd --test openapi and commit it"
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
